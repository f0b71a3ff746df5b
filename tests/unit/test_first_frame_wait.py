"""A host's first poll hands its rows to the screen, then waits until they are drawn before
it reads every guest's XML (issue 12: rows on screen first; the reads' threads slowed that
first frame by half at 5,000 guests). The wait is bounded, and later polls never wait."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from vmtui.backend import HostHistory, Series, Snapshot
from vmtui.control import polling
from vmtui.control.messages import Polled
from vmtui.control.polling import Poller


class FakeApp:
    def __init__(self) -> None:
        self.posted: list[Any] = []
        self.got = threading.Event()

    def post_message(self, message: Any) -> bool:
        self.posted.append(message)
        self.got.set()
        return True


class FakeHypervisor:
    """A poll that hands over one partial snapshot, then 'reads the XML'."""

    uri = "test:///fake"

    def __init__(self) -> None:
        self.read_at_progress_return = threading.Event()

    def poll(self, progress: Callable[[Snapshot], object] | None = None) -> Snapshot:
        snap = Snapshot(uri=self.uri, time=0.0, guests=())
        if progress is not None:
            progress(snap)
        self.read_at_progress_return.set()  # the XML reads would start here
        return snap

    def host_history(self) -> HostHistory:
        return HostHistory(2.0, Series("cpu", ()), Series("memory", ()))

    def guest_history(self, uuid: str) -> Any:
        raise AssertionError("no guest is watched")


def run_poll(first: bool) -> tuple[FakeApp, FakeHypervisor, threading.Thread]:
    app = FakeApp()
    hv = FakeHypervisor()
    poller = Poller(app, {}, 2.0, lambda: 0.0, frozenset)  # type: ignore[arg-type]
    worker = threading.Thread(target=poller._poll, args=(hv, frozenset(), first), daemon=True)
    worker.start()
    return app, hv, worker


def test_the_first_poll_reads_xml_only_after_its_rows_are_drawn() -> None:
    app, hv, worker = run_poll(first=True)
    assert app.got.wait(5)
    partial = app.posted[0]
    assert isinstance(partial, Polled) and partial.partial and partial.shown is not None
    # the app has not drawn the rows yet: the reads do not start
    assert not hv.read_at_progress_return.wait(0.2)
    partial.shown.set()  # the app, after the frame that shows the rows
    assert hv.read_at_progress_return.wait(5)
    worker.join(5)
    assert isinstance(app.posted[-1], Polled) and not app.posted[-1].partial


def test_the_wait_is_bounded_when_the_frame_never_comes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(polling, "FIRST_FRAME_WAIT", 0.05)
    _app, hv, worker = run_poll(first=True)
    assert hv.read_at_progress_return.wait(5)
    worker.join(5)
    assert not worker.is_alive()


def test_later_polls_never_wait_for_a_frame() -> None:
    app, hv, worker = run_poll(first=False)
    assert hv.read_at_progress_return.wait(5)
    worker.join(5)
    assert all(getattr(m, "shown", None) is None for m in app.posted)
