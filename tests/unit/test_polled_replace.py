"""Poll results collapse per host only: a queued result of one host never replaces another's
(the replaced host would wait for its lost result forever, showing "has not answered")."""

from __future__ import annotations

from vmtui.backend import HostHistory, Series, Snapshot
from vmtui.control.messages import Polled


def _polled(uri: str, t: float) -> Polled:
    history = HostHistory(2.0, Series("cpu", ()), Series("memory", ()))
    return Polled(Snapshot(uri=uri, time=t, guests=()), {}, history)


def test_a_newer_result_of_the_same_host_replaces_the_older() -> None:
    assert _polled("test:///a", 2).can_replace(_polled("test:///a", 1))


def test_a_result_of_another_host_is_kept() -> None:
    assert not _polled("test:///b", 2).can_replace(_polled("test:///a", 1))
