"""The first frame before every XML is read, and round trips that do not grow with the guests
(issue 12): calls are counted on a wrapped libvirt connection (test driver)."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest

from benchmarks.testhost import host_uri, write_host_xml
from tests.unit.test_hypervisor import ALPHA, BETA
from vmtui.backend import ActionFailed, Hypervisor, Snapshot
from vmtui.backend.lanes import Lanes
from vmtui.control.hosts import HostLink
from vmtui.core.loading import incomplete_note, needs_details

# calls that cost one round trip per guest when made for every guest
PER_GUEST = {"XMLDesc", "info", "state", "controlInfo", "isActive", "autostart"}
# what a virDomain / virConnect object answers from its own fields: no call to the daemon
LOCAL = {"UUIDString", "UUID", "name", "connect"}


class Counting:
    """A libvirt object whose every method call is counted by name (and still made);
    domains it hands out (bulk stats, listings) are wrapped too."""

    def __init__(self, real: Any, calls: Counter[str], lock: threading.Lock) -> None:
        self._real = real
        self._calls = calls
        self._lock = lock

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if name not in LOCAL:
                with self._lock:
                    self._calls[name] += 1
            result = attr(*args, **kwargs)
            if name == "getAllDomainStats":
                return [(self._wrap(dom), rec) for dom, rec in result]
            if name == "listAllDomains":
                return [self._wrap(dom) for dom in result]
            return result

        return call

    def _wrap(self, dom: Any) -> Counting:
        return Counting(dom, self._calls, self._lock)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Every libvirt connection opened in the test is wrapped; the calls' counts by name."""
    calls: Counter[str] = Counter()
    lock = threading.Lock()
    real_open = libvirt.open

    def opening(uri: str) -> Any:
        return Counting(real_open(uri), calls, lock)

    monkeypatch.setattr(libvirt, "open", opening)
    yield calls


def big_host(tmp_path: Path, n: int) -> str:
    path = tmp_path / f"host{n}.xml"
    write_host_xml(path, n)
    return host_uri(path)


def first_frame_calls(uri: str, calls: Counter[str]) -> tuple[Counter[str], Snapshot, Snapshot]:
    """The calls made until the first snapshot is handed over (the first frame), that
    snapshot, and the poll's complete one."""
    hv = Hypervisor(uri)
    seen: list[tuple[Counter[str], Snapshot]] = []
    try:
        final = hv.poll(lambda snap: seen.append((Counter(calls), snap)))
    finally:
        hv.close()
    assert seen, "no snapshot was handed over before the XML reads"
    return seen[0][0], seen[0][1], final


def test_the_first_snapshot_comes_from_the_listing_before_any_xml_is_read(
    small_host: str, counted: Counter[str]
) -> None:
    before, first, final = first_frame_calls(small_host, counted)
    assert before["XMLDesc"] == 0
    assert before["getAllDomainStats"] == 1
    by_name = {g.name: g for g in first.guests}
    assert set(by_name) == {"alpha", "beta", "gamma", "saved", "temp"}
    assert not any(g.loaded for g in first.guests)
    assert first.loading == {g.uuid for g in first.guests}
    assert by_name["alpha"].state.label == "running" and by_name["beta"].state.label == "shut off"
    assert by_name["saved"].has_managed_save and not by_name["temp"].persistent  # listings
    # then every XML once, and the complete snapshot
    assert counted["XMLDesc"] == 5
    assert all(g.loaded for g in final.guests) and not final.loading
    alpha = next(g for g in final.guests if g.uuid == ALPHA)
    assert alpha.title == "runs" and alpha.vcpus == 2 and alpha.isolation


def test_the_calls_before_the_first_frame_do_not_grow_with_the_guests(
    tmp_path: Path, counted: Counter[str]
) -> None:
    few, _, _ = first_frame_calls(big_host(tmp_path, 5), counted)
    counted.clear()
    many, first, final = first_frame_calls(big_host(tmp_path, 80), counted)
    assert len(first.guests) == 80 and len(final.guests) == 80
    assert few == many, f"5 guests: {dict(few)}; 80 guests: {dict(many)}"
    assert not PER_GUEST & set(many), dict(many)


def test_an_idle_tick_makes_a_few_calls_whatever_the_number_of_guests(
    tmp_path: Path, counted: Counter[str]
) -> None:
    hv = Hypervisor(big_host(tmp_path, 80))
    try:
        hv.poll()
        hv.poll()
        for _ in range(6):
            counted.clear()
            hv.poll()
            assert counted["getAllDomainStats"] == 1
            assert counted["XMLDesc"] <= 1  # the round robin's safety net
            assert counted["listAllDomains"] <= 1  # one flag listing now and then
            assert counted.total() <= 3, dict(counted)
    finally:
        hv.close()


def test_xml_reads_on_a_remote_connection_are_in_flight_together(
    tmp_path: Path, counted: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each XML read waits until a second one is in flight too: read one after the other
    (one round trip each over a slow link), the barrier would break and the poll fail."""
    hv = Hypervisor(big_host(tmp_path, 12))
    hv._lanes = Lanes(4)  # as for a remote URI (test:/// runs its calls inline)
    together = threading.Barrier(2, timeout=10)
    real = hv._read_info

    def paired(*args: Any) -> Any:
        together.wait()
        return real(*args)

    monkeypatch.setattr(hv, "_read_info", paired)
    try:
        snap = hv.poll()
        assert len(snap.guests) == 12 and all(g.loaded for g in snap.guests)
        assert counted["XMLDesc"] == 12
    finally:
        hv.close()


def test_a_guest_whose_xml_read_failed_is_read_on_the_next_tick(
    hv: Hypervisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = hv._read_info
    failed: list[str] = []

    def once(uuid: str, *args: Any) -> Any:
        if uuid == BETA and not failed:
            failed.append(uuid)
            raise libvirt.libvirtError("the daemon hiccuped")
        return real(uuid, *args)

    monkeypatch.setattr(hv, "_read_info", once)
    with pytest.raises(ActionFailed, match="Could not read guests"):
        hv.poll()
    snap = hv.poll()
    beta = next(g for g in snap.guests if g.uuid == BETA)
    assert beta.loaded and beta.name == "beta" and not snap.loading


def test_partial_snapshots_keep_coming_while_many_xml_reads_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vmtui.backend import hypervisor as hypervisor_module

    monkeypatch.setattr(hypervisor_module, "PROGRESS_EVERY", 0.0)  # every read, here
    hv = Hypervisor(big_host(tmp_path, 20))
    seen: list[Snapshot] = []
    try:
        final = hv.poll(seen.append)
    finally:
        hv.close()
    loaded = [sum(g.loaded for g in snap.guests) for snap in seen]
    assert loaded[0] == 0 and loaded == sorted(loaded) and len(seen) > 2
    assert [len(s.loading) for s in seen] == [20 - k for k in loaded]
    assert sum(g.loaded for g in final.guests) == 20


# --------------------------------------------------------------------------- lanes
def test_lanes_hand_back_each_result_or_error() -> None:
    for width in (1, 3):
        lanes = Lanes(width)

        def half(n: int) -> float:
            if n == 3:
                raise ValueError("three")
            return n / 2

        out = dict(lanes.map_unordered(half, range(6)))
        lanes.close()
        assert {k: v for k, v in out.items() if k != 3} == {0: 0, 1: 0.5, 2: 1, 4: 2, 5: 2.5}
        assert isinstance(out[3], ValueError)
        assert Lanes(width).submit(lambda: 7).result(timeout=5) == 7


def run_in_lane(lanes: Lanes, fn: Callable[[], Any]) -> Any:
    return lanes.submit(fn).result(timeout=5)


def test_lane_threads_are_daemons_so_a_hung_call_never_blocks_exit() -> None:
    lanes = Lanes(2)
    assert run_in_lane(lanes, lambda: threading.current_thread().daemon) is True
    lanes.close()


# --------------------------------------------------------------------------- queries
@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("tag:db", True),
        ("state:running tag:web", True),
        ("name:x, iso:shared", True),
        ("!tag:db", True),
        ("name:tagged", False),
        ("state:running", False),
        ("", False),
    ],
)
def test_queries_on_xml_derived_terms_are_known(text: str, wanted: bool) -> None:
    assert needs_details(text) is wanted


def test_a_query_on_tags_says_it_is_incomplete_while_guests_are_read() -> None:
    assert incomplete_note("tag:db", 0) == ""
    assert incomplete_note("name:web", 40) == ""
    assert incomplete_note("tag:db", 1_200) == "incomplete: still reading 1,200 guests' details"


def test_the_status_line_says_what_the_poll_has_not_finished(small_host: str) -> None:
    hv = Hypervisor(small_host)
    try:
        link = HostLink(hv)
        snaps: list[Snapshot] = []
        final = hv.poll(snaps.append)
        link.answered(snaps[0], {}, hv.host_history())
        assert "reading 5 guests' details" in link.status(0.0, 2.0, False)[1]
        silent = dataclasses.replace(final, not_answering=frozenset({ALPHA}))
        link.answered(silent, {}, hv.host_history())
        sentence = link.status(0.0, 2.0, False)[1]
        assert "1 guest not answering" in sentence and "reading" not in sentence
    finally:
        hv.close()
