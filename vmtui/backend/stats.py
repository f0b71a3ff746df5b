"""Rates from timestamped counter deltas, and bounded history ring buffers.

Pure code (no libvirt): fed by the records of ``virConnectGetAllDomainStats`` (or the per-domain
fallback, which builds the same keys), so it is tested with known numbers.
"""

from __future__ import annotations

import collections
import math
import threading
from array import array
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from vmtui.backend.models import GuestHistory, GuestStats, HostHistory, HostStats, Series

DEFAULT_INTERVAL = 2.0
HISTORY_SECONDS = 600  # at least ten minutes at the default tick


@dataclass(frozen=True, slots=True)
class Counters:
    """Cumulative counters of one guest at one instant (monotonic seconds)."""

    time: float
    cpu_ns: int | None = None
    vcpus: int = 0
    disk_rd_bytes: int | None = None
    disk_wr_bytes: int | None = None
    disk_rd_reqs: int | None = None
    disk_wr_reqs: int | None = None
    net_rx_bytes: int | None = None
    net_tx_bytes: int | None = None
    mem_current_kib: int | None = None
    mem_available_kib: int | None = None
    mem_unused_kib: int | None = None
    mem_usable_kib: int | None = None
    mem_rss_kib: int | None = None


def _sum(record: Mapping[str, Any], prefix: str, count_key: str, suffix: str) -> int | None:
    count = record.get(count_key)
    if count is None:
        return None
    total = 0
    seen = False
    for i in range(int(count)):
        value = record.get(f"{prefix}.{i}.{suffix}")
        if value is not None:
            total += int(value)
            seen = True
    return total if seen or int(count) == 0 else None


def counters_from_record(record: Mapping[str, Any], time: float) -> Counters:
    """Turn one bulk-stats record (keys like ``cpu.time``, ``block.0.rd.bytes``) into counters."""

    if len(record) <= 2:  # only state.* (a shut-off guest, or a driver without stats)
        return Counters(time=time)

    def opt(key: str) -> int | None:
        value = record.get(key)
        return int(value) if value is not None else None

    return Counters(
        time=time,
        cpu_ns=opt("cpu.time"),
        vcpus=int(record.get("vcpu.current") or 0),
        disk_rd_bytes=_sum(record, "block", "block.count", "rd.bytes"),
        disk_wr_bytes=_sum(record, "block", "block.count", "wr.bytes"),
        disk_rd_reqs=_sum(record, "block", "block.count", "rd.reqs"),
        disk_wr_reqs=_sum(record, "block", "block.count", "wr.reqs"),
        net_rx_bytes=_sum(record, "net", "net.count", "rx.bytes"),
        net_tx_bytes=_sum(record, "net", "net.count", "tx.bytes"),
        mem_current_kib=opt("balloon.current"),
        mem_available_kib=opt("balloon.available"),
        mem_unused_kib=opt("balloon.unused"),
        mem_usable_kib=opt("balloon.usable"),
        mem_rss_kib=opt("balloon.rss"),
    )


def _rate(prev: int | None, cur: int | None, dt: float) -> float | None:
    if prev is None or cur is None or dt <= 0 or cur < prev:
        return None  # unknown, or the counter reset (guest restarted)
    return (cur - prev) / dt


def compute_rates(
    uuid: str, prev: Counters | None, cur: Counters, host_cpus: int, vcpus: int
) -> GuestStats:
    """Per-second rates between two samples of the same guest.

    CPU % of the host: CPU time used / (wall time x host CPUs). CPU % per vCPU: the same over the
    guest's own vCPUs, so a guest with one busy vCPU of two shows 50 %.
    """
    if (
        cur.cpu_ns is None
        and cur.mem_current_kib is None
        and cur.disk_rd_bytes is None
        and cur.net_rx_bytes is None
    ):
        return GuestStats(uuid=uuid, time=cur.time)  # nothing measured: nothing to compute
    used: int | None = None
    if cur.mem_available_kib is not None and cur.mem_unused_kib is not None:
        used = max(0, cur.mem_available_kib - cur.mem_unused_kib)
    cpu = cpu_vcpu = dr = dw = dri = dwi = rx = tx = None
    if prev is not None:
        dt = cur.time - prev.time
        cpu_ns_per_s = _rate(prev.cpu_ns, cur.cpu_ns, dt)
        if cpu_ns_per_s is not None:
            cores = cpu_ns_per_s / 1e9
            if host_cpus > 0:
                cpu = min(100.0, 100.0 * cores / host_cpus)
            n = cur.vcpus or vcpus
            if n > 0:
                cpu_vcpu = min(100.0, 100.0 * cores / n)
        dr = _rate(prev.disk_rd_bytes, cur.disk_rd_bytes, dt)
        dw = _rate(prev.disk_wr_bytes, cur.disk_wr_bytes, dt)
        dri = _rate(prev.disk_rd_reqs, cur.disk_rd_reqs, dt)
        dwi = _rate(prev.disk_wr_reqs, cur.disk_wr_reqs, dt)
        rx = _rate(prev.net_rx_bytes, cur.net_rx_bytes, dt)
        tx = _rate(prev.net_tx_bytes, cur.net_tx_bytes, dt)
    return GuestStats(
        uuid=uuid,
        time=cur.time,
        cpu_percent=cpu,
        cpu_percent_per_vcpu=cpu_vcpu,
        mem_current_kib=cur.mem_current_kib,
        mem_used_kib=used,
        mem_available_kib=cur.mem_usable_kib,
        mem_rss_kib=cur.mem_rss_kib,
        disk_read_bps=dr,
        disk_write_bps=dw,
        disk_read_iops=dri,
        disk_write_iops=dwi,
        net_rx_bps=rx,
        net_tx_bps=tx,
    )


def history_length(interval: float, seconds: float = HISTORY_SECONDS) -> int:
    return max(2, int(seconds / max(interval, 0.1)) + 1)


_GUEST_FIELDS = (
    ("cpu", "CPU", "%"),
    ("memory", "Memory", "KiB"),
    ("disk_read", "Disk read", "B/s"),
    ("disk_write", "Disk write", "B/s"),
    ("net_rx", "Net receive", "B/s"),
    ("net_tx", "Net send", "B/s"),
)


NAN = math.nan
# History values are kept as 4-byte floats: 7 significant digits are plenty for a graph, and
# ten minutes of six figures for 10,000 guests take 72 MB instead of 144 MB (issue 12).
HISTORY_TYPECODE = "f"


class _Tick:
    """One tick of every guest's six figures, column by column.

    ``index`` maps a guest's uuid to its position in each column (the same dict object is
    shared by consecutive ticks while the set of guests with figures does not change); a
    guest missing from it had no figures that tick. ``columns`` is ``None`` when no guest had
    any figure (a shut-off host, or a driver that reports none)."""

    __slots__ = ("columns", "index", "number")

    def __init__(
        self, number: int, index: dict[str, int], columns: tuple[array[float], ...] | None
    ) -> None:
        self.number = number
        self.index = index
        self.columns = columns


def _columns(stats: Iterable[GuestStats]) -> tuple[tuple[str, ...], tuple[array[float], ...]]:
    """The guests with at least one figure this tick, and their six columns.

    A guest whose figures are all unknown (a shut-off guest, the first sample of a new one)
    takes no room: it reads as ``None`` exactly as a guest missing from the tick does, and a
    host with many stopped guests keeps ten minutes of nothing for none of them (issue 12)."""
    uuids: list[str] = []
    cpu: list[float] = []
    mem: list[float] = []
    rd: list[float] = []
    wr: list[float] = []
    rx: list[float] = []
    tx: list[float] = []
    for s in stats:
        c = s.cpu_percent_per_vcpu
        m = s.mem_used_kib if s.mem_used_kib is not None else s.mem_current_kib
        r, w = s.disk_read_bps, s.disk_write_bps
        i, o = s.net_rx_bps, s.net_tx_bps
        if c is None and m is None and r is None and w is None and i is None and o is None:
            continue
        uuids.append(s.uuid)
        cpu.append(NAN if c is None else c)
        mem.append(NAN if m is None else float(m))
        rd.append(NAN if r is None else r)
        wr.append(NAN if w is None else w)
        rx.append(NAN if i is None else i)
        tx.append(NAN if o is None else o)
    columns = tuple(array(HISTORY_TYPECODE, col) for col in (cpu, mem, rd, wr, rx, tx))
    return tuple(uuids), columns


class StatsHistory:
    """Bounded per-guest and host histories; safe to read from any thread (a short lock).

    Stored a tick at a time, one ``array('f')`` per figure holding every guest with a figure
    that tick (4 bytes a value, NaN standing for ``None``; a guest without any figure has no
    place): appending a tick is six array builds, not six appends per guest, so it stays
    cheap at thousands of guests (the poll tick's budget). Reading one guest's history walks
    the ticks (hundreds) once."""

    def __init__(self, interval: float = DEFAULT_INTERVAL) -> None:
        self.interval = interval
        self._len = history_length(interval)
        self._lock = threading.Lock()
        self._ticks: collections.deque[_Tick] = collections.deque(maxlen=self._len)
        self._count = 0  # ticks added so far
        self._since: dict[str, int] = {}  # guest -> the first tick it has been kept since
        self._last_uuids: tuple[str, ...] = ()
        self._last_index: dict[str, int] = {}
        self._host_cpu: collections.deque[float | None] = collections.deque(maxlen=self._len)
        self._host_mem: collections.deque[float | None] = collections.deque(maxlen=self._len)

    def add(
        self, stats: Iterable[GuestStats], host: HostStats | None, keep: AbstractSet[str]
    ) -> None:
        """Append one tick. Guests in ``keep`` without figures get none (``None``) this tick;
        guests not in ``keep`` (gone from the host) are forgotten."""
        uuids, made = _columns(stats)
        if uuids == self._last_uuids:
            index = self._last_index
        else:
            index = {uuid: i for i, uuid in enumerate(uuids)}
            self._last_uuids, self._last_index = uuids, index
        columns = made if uuids else None
        with self._lock:
            number = self._count
            self._count += 1
            since = self._since
            for gone in since.keys() - keep:
                del since[gone]
            for new in keep - since.keys():
                since[new] = number
            for uuid in index.keys() - since.keys():
                since[uuid] = number  # figures for a guest the caller did not list
            self._ticks.append(_Tick(number, index, columns))
            if host is not None:
                self._host_cpu.append(host.cpu_percent)
                mem_pct = None
                if host.mem_used_kib is not None and host.mem_total_kib:
                    mem_pct = 100.0 * host.mem_used_kib / host.mem_total_kib
                self._host_mem.append(mem_pct)

    def _series(self, uuid: str) -> list[tuple[float | None, ...]]:
        """The six series of one guest, oldest first (call with the lock held)."""
        first = self._since.get(uuid)
        out: list[list[float | None]] = [[] for _ in _GUEST_FIELDS]
        if first is None:
            return [()] * len(_GUEST_FIELDS)
        for tick in self._ticks:
            if tick.number < first:
                continue
            i = tick.index.get(uuid)
            if i is None or tick.columns is None:
                for series in out:
                    series.append(None)
                continue
            for series, column in zip(out, tick.columns, strict=True):
                v = column[i]
                series.append(None if v != v else v)  # NaN is not equal to itself
        return [tuple(series) for series in out]

    def guest(self, uuid: str) -> GuestHistory:
        with self._lock:
            copies = self._series(uuid)
        made = {
            name: Series(name=label, values=values, unit=unit)
            for (name, label, unit), values in zip(_GUEST_FIELDS, copies, strict=True)
        }
        return GuestHistory(uuid=uuid, interval=self.interval, **made)

    def host(self) -> HostHistory:
        with self._lock:
            cpu, mem = tuple(self._host_cpu), tuple(self._host_mem)
        return HostHistory(
            interval=self.interval,
            cpu=Series("Host CPU", cpu, "%"),
            memory=Series("Host memory", mem, "%"),
        )
