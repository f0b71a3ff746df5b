"""What one poll tick does when little or nothing changed: the work that decides whether the
dashboard keeps up with thousands of guests (benchmarks/ measures the time; these tests pin the
behaviour: which libvirt calls an idle tick makes, and that changes are still seen)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import libvirt
import pytest

from tests.unit.test_hypervisor import ALPHA, BETA, TEMP, guest
from vmtui.backend import ActionFailed, GuestEvent, GuestState, GuestStats, Hypervisor
from vmtui.backend import hypervisor as hypervisor_module
from vmtui.backend.hypervisor import (
    FLAG_EVERY,
    REFRESH_ROUND_WITH_EVENTS,
    REFRESH_WITH_EVENTS,
)
from vmtui.backend.stats import StatsHistory


def count_calls(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[tuple[Any, ...]]:
    """Record every call of ``owner.name`` (still calling through)."""
    calls: list[tuple[Any, ...]] = []
    real: Callable[..., Any] = getattr(owner, name)

    def counting(*args: Any) -> Any:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(owner, name, counting)
    return calls


def test_idle_ticks_reread_one_guests_xml_per_round_robin_turn(
    hv: Hypervisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    hv.poll()
    parsed = count_calls(monkeypatch, hypervisor_module.domxml, "parse_domain")
    guests = len(hv.known_guests())
    every = REFRESH_ROUND_WITH_EVENTS // guests  # a small host: one guest every few ticks
    for _ in range(2 * every):
        hv.poll()
    assert len(parsed) == 2 * REFRESH_WITH_EVENTS  # the safety net, not every guest


def test_an_idle_tick_makes_at_most_one_flag_listing(
    hv: Hypervisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    hv.poll()
    listed = count_calls(monkeypatch, hv.readable_conn(), "listAllDomains")
    for _ in range(2 * FLAG_EVERY):
        hv.poll()
    assert len(listed) == 2  # one of the four listings every FLAG_EVERY ticks


def test_unchanged_guests_keep_the_same_info_objects(hv: Hypervisor) -> None:
    first = hv.poll().guests
    second = hv.poll().guests
    assert [g.uuid for g in first] == [g.uuid for g in second]
    assert all(a is b for a, b in zip(first, second, strict=True))


def test_a_change_made_through_this_connection_shows_on_the_next_poll(hv: Hypervisor) -> None:
    hv.poll()
    conn = hv.writable_conn()  # feature modules change guests through this
    conn.lookupByUUIDString(BETA).setAutostart(1)
    assert guest(hv, BETA).autostart


def test_a_flag_changed_elsewhere_without_an_event_shows_within_a_rotation(
    hv: Hypervisor,
) -> None:
    hv.poll()
    # Another client's change: no touch(), no writable_conn(), and autostart raises no event.
    hv.readable_conn().lookupByUUIDString(BETA).setAutostart(1)
    polls = [guest(hv, BETA).autostart for _ in range(4 * FLAG_EVERY)]
    assert polls[-1], "autostart set elsewhere never showed"
    assert not all(polls), "the flag listings were re-read every tick"


def test_an_event_makes_the_next_poll_read_the_flags(small_host: str) -> None:
    defined = threading.Event()

    def sink(event: object) -> None:
        if isinstance(event, GuestEvent) and event.event == "defined":
            defined.set()

    hv = Hypervisor(small_host, on_event=sink)
    hv.connect()
    try:
        assert not guest(hv, TEMP).persistent
        conn = hv.readable_conn()  # as another client would: only the event tells the poll
        dom = conn.lookupByUUIDString(TEMP)
        conn.defineXML(dom.XMLDesc(0))
        assert defined.wait(5), "no defined event within 5 s"
        assert guest(hv, TEMP).persistent
    finally:
        hv.close()


def test_vcpu_hotplug_by_another_client_is_seen_from_the_bulk_stats(
    hv: Hypervisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = guest(hv, ALPHA)
    assert before.vcpus == 2
    # The test driver's bulk stats carry no vcpu.current; a real daemon's do. Add it.
    real = hv._bulk_stats

    def with_vcpus(conn: Any) -> Any:
        records, seconds = real(conn)
        for dom, record in records.values():
            if record.get("state.state") == libvirt.VIR_DOMAIN_RUNNING:
                record["vcpu.current"] = dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE)
        return records, seconds

    monkeypatch.setattr(hv, "_bulk_stats", with_vcpus)
    hv.poll()
    hv.readable_conn().lookupByUUIDString(ALPHA).setVcpusFlags(1, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    assert guest(hv, ALPHA).vcpus == 1


def test_guests_without_figures_have_no_stats_but_keep_a_history(hv: Hypervisor) -> None:
    snap = hv.poll()
    snap = hv.poll()
    assert snap.stats == {}  # the test driver reports only the state of each guest
    assert hv.guest_history(ALPHA).cpu.values == (None, None)


def test_history_keeps_each_guests_own_figures_tick_by_tick() -> None:
    hist = StatsHistory(interval=1.0)
    for tick in range(3):
        stats = [GuestStats(uuid="a", time=tick, cpu_percent_per_vcpu=10.0 + tick)]
        if tick != 1:  # b has no figures in the middle tick
            stats.append(GuestStats(uuid="b", time=tick, net_rx_bps=100.0 * tick))
        hist.add(stats, None, keep={"a", "b"})
    assert hist.guest("a").cpu.values == (10.0, 11.0, 12.0)
    assert hist.guest("a").net_rx.values == (None, None, None)
    assert hist.guest("b").net_rx.values == (0.0, None, 200.0)


def test_a_guest_that_leaves_and_comes_back_starts_a_new_history() -> None:
    hist = StatsHistory(interval=1.0)
    hist.add([GuestStats(uuid="a", time=0, cpu_percent_per_vcpu=50.0)], None, keep={"a"})
    hist.add([], None, keep=set())  # migrated away
    hist.add([GuestStats(uuid="a", time=2, cpu_percent_per_vcpu=5.0)], None, keep={"a"})
    assert hist.guest("a").cpu.values == (5.0,)


def test_a_tick_that_fails_half_way_loses_no_change(
    small_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = threading.Event()

    def sink(event: object) -> None:
        if isinstance(event, GuestEvent) and event.uuid == BETA and event.event == "started":
            started.set()

    hv = Hypervisor(small_host, on_event=sink)
    hv.connect()
    try:
        assert guest(hv, BETA).state is GuestState.SHUTOFF
        hv.readable_conn().lookupByUUIDString(BETA).create()  # another client starts it
        assert started.wait(5), "no started event within 5 s"
        real = hv._read_info

        def failing(*args: Any) -> Any:
            raise libvirt.libvirtError("the daemon hiccuped")

        monkeypatch.setattr(hv, "_read_info", failing)
        with pytest.raises(ActionFailed, match="Could not read guests"):
            hv.poll()
        monkeypatch.setattr(hv, "_read_info", real)
        assert guest(hv, BETA).state is GuestState.RUNNING
    finally:
        hv.close()
