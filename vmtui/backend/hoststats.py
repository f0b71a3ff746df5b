"""Host load figures: psutil for the machine vmtui runs on, libvirt node stats for remote hosts."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, Protocol

import psutil

from vmtui.backend.models import HostStats


class HostSampler(Protocol):
    def sample(self) -> HostStats: ...


class PsutilSampler:
    """CPU per core, memory, load, disk and network I/O of this machine, with rates from deltas."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._prev: tuple[float, Any, Any] | None = None
        psutil.cpu_percent(percpu=True)  # prime: the first call measures since now

    def sample(self) -> HostStats:
        now = self._clock()
        per_core = tuple(float(x) for x in psutil.cpu_percent(percpu=True))
        mem = psutil.virtual_memory()
        try:
            disk = psutil.disk_io_counters()
        except (OSError, RuntimeError):
            disk = None
        try:
            net = psutil.net_io_counters()
        except (OSError, RuntimeError):
            net = None
        dr = dw = rx = tx = None
        if self._prev is not None:
            t0, disk0, net0 = self._prev
            dt = now - t0
            if dt > 0:
                if disk is not None and disk0 is not None:
                    dr = max(0.0, (disk.read_bytes - disk0.read_bytes) / dt)
                    dw = max(0.0, (disk.write_bytes - disk0.write_bytes) / dt)
                if net is not None and net0 is not None:
                    rx = max(0.0, (net.bytes_recv - net0.bytes_recv) / dt)
                    tx = max(0.0, (net.bytes_sent - net0.bytes_sent) / dt)
        self._prev = (now, disk, net)
        try:
            load: tuple[float, float, float] | None = os.getloadavg()
        except OSError:
            load = None
        return HostStats(
            time=now,
            cpu_percent=sum(per_core) / len(per_core) if per_core else None,
            per_core=per_core,
            mem_total_kib=mem.total // 1024,
            mem_used_kib=(mem.total - mem.available) // 1024,
            mem_available_kib=mem.available // 1024,
            load=load,
            disk_read_bps=dr,
            disk_write_bps=dw,
            net_rx_bps=rx,
            net_tx_bps=tx,
            host_cpus=len(per_core),
        )


class NodeStatsSampler:
    """A remote host's CPU and memory from ``virNodeGetCPUStats``/``virNodeGetMemoryStats``.

    ``get_cpu`` and ``get_mem`` are the bound libvirt calls (kept abstract so this module does
    not import libvirt); either may raise when the driver lacks them, then the figure is None.
    """

    def __init__(
        self,
        get_cpu: Callable[[], dict[str, int]],
        get_mem: Callable[[], dict[str, int]],
        host_cpus: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._get_cpu = get_cpu
        self._get_mem = get_mem
        self._cpus = host_cpus
        self._clock = clock
        self._prev: tuple[int, int] | None = None
        self._cpu_ok = True
        self._mem_ok = True

    def sample(self) -> HostStats:
        now = self._clock()
        cpu = None
        if self._cpu_ok:
            try:
                c = self._get_cpu()
                busy = sum(int(c.get(k, 0)) for k in ("kernel", "user"))
                total = busy + int(c.get("idle", 0)) + int(c.get("iowait", 0))
                if self._prev is not None and total > self._prev[1]:
                    cpu = 100.0 * (busy - self._prev[0]) / (total - self._prev[1])
                self._prev = (busy, total)
            except Exception:  # the driver has no node CPU stats
                self._cpu_ok = False
        total_kib = used = avail = None
        if self._mem_ok:
            try:
                m = self._get_mem()
                total_kib = int(m.get("total", 0))
                free = int(m.get("free", 0)) + int(m.get("buffers", 0)) + int(m.get("cached", 0))
                avail = free
                used = max(0, total_kib - free)
            except Exception:
                self._mem_ok = False
        return HostStats(
            time=now,
            cpu_percent=cpu,
            mem_total_kib=total_kib or 0,
            mem_used_kib=used,
            mem_available_kib=avail,
            host_cpus=self._cpus,
        )
