"""Rates come from timestamped deltas of cumulative counters."""

from __future__ import annotations

import pytest

from vmtui.backend.models import GuestStats, HostStats
from vmtui.backend.stats import (
    Counters,
    StatsHistory,
    compute_rates,
    counters_from_record,
    history_length,
)


def record(cpu_ns: int, rd: int = 0, wr: int = 0, rx: int = 0, tx: int = 0) -> dict[str, int]:
    return {
        "state.state": 1,
        "cpu.time": cpu_ns,
        "vcpu.current": 2,
        "balloon.current": 1048576,
        "balloon.available": 1000000,
        "balloon.unused": 400000,
        "block.count": 2,
        "block.0.rd.bytes": rd,
        "block.0.wr.bytes": wr,
        "block.0.rd.reqs": rd // 4096,
        "block.0.wr.reqs": wr // 4096,
        "block.1.rd.bytes": rd,
        "block.1.wr.bytes": 0,
        "net.count": 1,
        "net.0.rx.bytes": rx,
        "net.0.tx.bytes": tx,
    }


def test_cpu_percent_of_host_and_of_vcpus_from_known_deltas() -> None:
    prev = counters_from_record(record(cpu_ns=10_000_000_000), time=100.0)
    # one full core for 2 seconds = 2e9 ns of CPU time
    cur = counters_from_record(record(cpu_ns=12_000_000_000), time=102.0)
    stats = compute_rates("u", prev, cur, host_cpus=4, vcpus=2)
    assert stats.cpu_percent == pytest.approx(25.0)  # one core of four
    assert stats.cpu_percent_per_vcpu == pytest.approx(50.0)  # one vCPU of two


def test_disk_and_network_rates_sum_all_devices() -> None:
    prev = counters_from_record(record(0, rd=0, wr=0, rx=0, tx=0), time=0.0)
    cur = counters_from_record(record(0, rd=4096 * 100, wr=4096 * 50, rx=1000, tx=500), time=2.0)
    stats = compute_rates("u", prev, cur, host_cpus=4, vcpus=2)
    assert stats.disk_read_bps == pytest.approx(2 * 4096 * 100 / 2)  # two disks read the same
    assert stats.disk_write_bps == pytest.approx(4096 * 50 / 2)
    assert stats.disk_read_iops == pytest.approx(100 / 2)
    assert stats.disk_write_iops == pytest.approx(50 / 2)
    assert stats.net_rx_bps == pytest.approx(500)
    assert stats.net_tx_bps == pytest.approx(250)


def test_memory_used_is_what_the_balloon_driver_reports() -> None:
    cur = counters_from_record(record(0), time=0.0)
    stats = compute_rates("u", None, cur, host_cpus=4, vcpus=2)
    assert stats.mem_current_kib == 1048576
    assert stats.mem_used_kib == 600000


def test_first_sample_has_no_rates() -> None:
    stats = compute_rates("u", None, counters_from_record(record(5), 1.0), 4, 2)
    assert stats.cpu_percent is None and stats.disk_read_bps is None and stats.net_rx_bps is None


def test_counter_reset_after_guest_restart_gives_unknown_not_negative() -> None:
    prev = counters_from_record(record(50_000_000_000, rd=10_000), time=0.0)
    cur = counters_from_record(record(1_000_000, rd=0), time=2.0)
    stats = compute_rates("u", prev, cur, 4, 2)
    assert stats.cpu_percent is None
    assert stats.disk_read_bps is None


def test_only_state_records_give_unknown_figures() -> None:
    """libvirt's test driver returns only state.* in bulk stats."""
    cur = counters_from_record({"state.state": 1, "state.reason": 1}, time=2.0)
    prev = Counters(time=0.0)
    stats = compute_rates("u", prev, cur, 4, 1)
    assert stats.cpu_percent is None and stats.mem_current_kib is None


def test_cpu_percent_is_capped_at_100() -> None:
    prev = Counters(time=0.0, cpu_ns=0, vcpus=1)
    cur = Counters(time=1.0, cpu_ns=3_000_000_000, vcpus=1)
    stats = compute_rates("u", prev, cur, host_cpus=2, vcpus=1)
    assert stats.cpu_percent == 100.0 and stats.cpu_percent_per_vcpu == 100.0


def test_history_holds_ten_minutes_at_the_default_tick_and_is_bounded() -> None:
    assert history_length(2.0) >= 300
    hist = StatsHistory(interval=2.0)
    n = history_length(2.0)
    for i in range(n + 50):
        hist.add(
            [GuestStats(uuid="a", time=i, cpu_percent_per_vcpu=float(i))],
            HostStats(time=i, cpu_percent=1.0),
            keep={"a"},
        )
    values = hist.guest("a").cpu.values
    assert len(values) == n
    assert values[-1] == float(n + 49)  # newest last
    assert len(hist.host().cpu.values) == n


def test_history_forgets_guests_that_are_gone() -> None:
    hist = StatsHistory(interval=2.0)
    hist.add([GuestStats(uuid="a", time=0, cpu_percent_per_vcpu=1.0)], None, keep={"a"})
    hist.add([], None, keep=set())
    assert hist.guest("a").cpu.values == ()


def test_history_keeps_four_bytes_a_value() -> None:
    """Ten minutes of six figures for 10,000 guests: 72 MB as 4-byte floats, not 144 MB
    (issue 12's memory target); a graph needs no more than 7 significant digits."""
    hist = StatsHistory(interval=2.0)
    hist.add([GuestStats(uuid="a", time=0.0, cpu_percent_per_vcpu=12.3)], None, keep={"a"})
    column = hist._ticks[0].columns
    assert column is not None and column[0].itemsize == 4
    (value,) = hist.guest("a").cpu.values
    assert value is not None and abs(value - 12.3) < 1e-5
