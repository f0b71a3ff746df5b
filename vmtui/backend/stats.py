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
from dataclasses import dataclass
from typing import Any

from vmtui.backend.models import GuestHistory, GuestStats, HostHistory, HostStats, Series

DEFAULT_INTERVAL = 2.0
HISTORY_SECONDS = 600  # at least ten minutes at the default tick


@dataclass(frozen=True)
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


class _Ring:
    """A bounded series of floats in one ``array('d')``: 8 bytes a value (a deque of floats
    costs 32), NaN standing for ``None``. At 1,000 guests, ten minutes of six series is
    about 15 MB instead of 60."""

    __slots__ = ("_data", "_maxlen", "_next")

    def __init__(self, maxlen: int) -> None:
        self._data = array("d")
        self._maxlen = maxlen
        self._next = 0  # once full: the oldest value, overwritten next

    def append(self, value: float | None) -> None:
        v = math.nan if value is None else value
        if len(self._data) < self._maxlen:
            self._data.append(v)
        else:
            self._data[self._next] = v
            self._next = (self._next + 1) % self._maxlen

    def values(self) -> tuple[float | None, ...]:
        data, start = self._data, self._next
        ordered = data[start:] + data[:start] if start else data
        return tuple(None if math.isnan(v) else v for v in ordered)


class StatsHistory:
    """Bounded per-guest and host histories; safe to read from any thread (a short lock)."""

    def __init__(self, interval: float = DEFAULT_INTERVAL) -> None:
        self.interval = interval
        self._len = history_length(interval)
        self._lock = threading.Lock()
        self._guests: dict[str, dict[str, _Ring]] = {}
        self._host_cpu: collections.deque[float | None] = collections.deque(maxlen=self._len)
        self._host_mem: collections.deque[float | None] = collections.deque(maxlen=self._len)

    def _new_guest(self) -> dict[str, _Ring]:
        return {name: _Ring(self._len) for name, _, _ in _GUEST_FIELDS}

    def add(self, stats: Iterable[GuestStats], host: HostStats | None, keep: set[str]) -> None:
        """Append one tick; guests not in ``keep`` (gone from the host) are forgotten."""
        with self._lock:
            for uuid in list(self._guests):
                if uuid not in keep:
                    del self._guests[uuid]
            for s in stats:
                series = self._guests.get(s.uuid)
                if series is None:
                    series = self._guests[s.uuid] = self._new_guest()
                mem = s.mem_used_kib if s.mem_used_kib is not None else s.mem_current_kib
                series["cpu"].append(s.cpu_percent_per_vcpu)
                series["memory"].append(float(mem) if mem is not None else None)
                series["disk_read"].append(s.disk_read_bps)
                series["disk_write"].append(s.disk_write_bps)
                series["net_rx"].append(s.net_rx_bps)
                series["net_tx"].append(s.net_tx_bps)
            if host is not None:
                self._host_cpu.append(host.cpu_percent)
                mem_pct = None
                if host.mem_used_kib is not None and host.mem_total_kib:
                    mem_pct = 100.0 * host.mem_used_kib / host.mem_total_kib
                self._host_mem.append(mem_pct)

    def guest(self, uuid: str) -> GuestHistory:
        with self._lock:
            series = self._guests.get(uuid) or self._new_guest()
            copies = {name: series[name].values() for name, _, _ in _GUEST_FIELDS}
        made = {
            name: Series(name=label, values=copies[name], unit=unit)
            for name, label, unit in _GUEST_FIELDS
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
