"""How much history the charts get (issue 16), in numbers: at the 2 s poll interval the
watched guest keeps an hour (1801 samples, both ends), every other guest stays at the
backend's ten minutes (301), and each host keeps an hour of its six figures in a bounded
ring (control/hostfigures.py)."""

from __future__ import annotations

from vmtui.backend import HostStats
from vmtui.backend.models import GuestStats
from vmtui.backend.stats import StatsHistory, history_length
from vmtui.control.hostfigures import FIGURES, HostFigures
from vmtui.control.longhistory import LongHistory

TICK = 2.0
HOUR_OF_TICKS = 1800


def test_the_watched_guest_keeps_an_hour_and_the_others_ten_minutes() -> None:
    backend = StatsHistory(TICK)
    long = LongHistory()
    guests = ("watched", "other")
    watched = frozenset({"watched"})
    for tick in range(HOUR_OF_TICKS + 200):  # more than an hour of polls
        rows = [GuestStats(u, float(tick), cpu_percent_per_vcpu=float(tick)) for u in guests]
        backend.add(rows, None, set(guests))
        # what a poll ships: the watched guests' histories only (control/polling.py)
        long.polled([backend.guest(u) for u in watched], watched)
    ten_minutes = history_length(TICK)
    assert ten_minutes == 301
    assert len(backend.guest("other").cpu.values) == ten_minutes  # unwatched: ten minutes
    assert long.get("other") is None  # and nothing longer is kept for it
    kept = long.get("watched")
    assert kept is not None and kept.interval == TICK
    assert len(kept.cpu.values) == HOUR_OF_TICKS + 1  # an hour at the poll interval
    assert kept.cpu.values[-1] == HOUR_OF_TICKS + 199  # the newest poll's figure
    assert kept.cpu.values[0] == 199  # an hour before it, not more
    long.polled([], frozenset())  # the guest screen closed: the hour is given back
    assert long.get("watched") is None


def stats(i: int, cpu: float | None = None) -> HostStats:
    return HostStats(
        time=float(i),
        cpu_percent=float(i) if cpu is None else cpu,
        mem_total_kib=1000,
        mem_used_kib=250,
        disk_read_bps=None,
        net_rx_bps=float(2 * i),
    )


def test_a_host_keeps_an_hour_of_its_figures_in_a_bounded_ring() -> None:
    figures = HostFigures()
    for i in range(HOUR_OF_TICKS + 500):
        figures.add(stats(i), TICK)
    assert len(figures) == figures.size == HOUR_OF_TICKS + 1
    cpu = figures.values("cpu")
    assert len(cpu) == HOUR_OF_TICKS + 1
    assert cpu[-1] == HOUR_OF_TICKS + 499 and cpu[0] == 499  # oldest first, an hour back
    assert list(cpu) == sorted(cpu)  # in order across the ring's wrap
    assert set(figures.values("memory")) == {25.0}  # in use, in per cent
    assert set(figures.values("disk_read")) == {None}  # not reported stays unknown
    assert figures.values("net_rx")[-1] == 2.0 * (HOUR_OF_TICKS + 499)
    assert {name for name, _title, _kind in FIGURES} == {
        "cpu",
        "memory",
        "disk_read",
        "disk_write",
        "net_rx",
        "net_tx",
    }


def test_a_host_with_no_figures_and_a_new_interval_start_afresh() -> None:
    figures = HostFigures()
    assert figures.values("cpu") == () and len(figures) == 0
    figures.add(None, TICK)  # a poll without host figures: a gap, not a zero
    figures.add(stats(1), TICK)
    assert figures.values("cpu") == (None, 1.0)
    figures.add(stats(2), 5.0)  # another interval: old samples would sit wrong on the axis
    assert figures.values("cpu") == (2.0,) and figures.interval == 5.0
    assert figures.size == 721  # an hour at 5 s
