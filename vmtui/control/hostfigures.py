"""An hour of each host's figures for its charts (issue 16): CPU and memory in use as a
percentage, disk and network in bytes per second, one sample per answered poll.

The backend keeps ten minutes of a host's CPU and memory only (``HostHistory``); the charts
want disk and network too, and a window up to an hour. A session has a handful of hosts, so
an hour each costs little (about 1,800 samples of six figures at the 2 s tick: ~100 KB as
arrays of doubles); the per-guest histories are what the memory budget watches, and those
stay at ten minutes except for the watched guest (control/longhistory.py).
"""

from __future__ import annotations

import math
from array import array

from vmtui.backend import HostStats

KEEP_SECONDS = 3600.0
# (figure, title, kind as widgets/chart.py draws it)
FIGURES = (
    ("cpu", "CPU", "percent"),
    ("memory", "Memory in use", "percent"),
    ("disk_read", "Disk read", "rate"),
    ("disk_write", "Disk write", "rate"),
    ("net_rx", "Net receive", "rate"),
    ("net_tx", "Net send", "rate"),
)


def _figures(stats: HostStats | None) -> tuple[float | None, ...]:
    if stats is None:
        return (None,) * len(FIGURES)
    memory = (
        100.0 * stats.mem_used_kib / stats.mem_total_kib
        if stats.mem_used_kib is not None and stats.mem_total_kib
        else None
    )
    return (
        stats.cpu_percent,
        memory,
        stats.disk_read_bps,
        stats.disk_write_bps,
        stats.net_rx_bps,
        stats.net_tx_bps,
    )


class HostFigures:
    """Up to ``keep_seconds`` of one host's figures, oldest first (a ring of doubles per
    figure, NaN where a figure was not reported)."""

    def __init__(self, keep_seconds: float = KEEP_SECONDS) -> None:
        self.keep_seconds = keep_seconds
        self.interval = 0.0
        self.size = 0
        self._rings: list[array[float]] = []
        self._next = 0  # where the next sample goes once the rings are full
        self._count = 0

    def add(self, stats: HostStats | None, interval: float) -> None:
        """One answered poll's figures (``interval``: seconds between two polls)."""
        if interval != self.interval:  # a new tick: the old samples would lie on the axis
            self.interval = interval
            self.size = max(2, int(self.keep_seconds / max(interval, 0.001)) + 1)
            self._rings = [array("d") for _ in FIGURES]
            self._next = self._count = 0
        full = self._count == self.size
        for ring, value in zip(self._rings, _figures(stats), strict=True):
            v = math.nan if value is None else float(value)
            if full:
                ring[self._next] = v  # over the oldest
            else:
                ring.append(v)
        if full:
            self._next = (self._next + 1) % self.size  # the oldest is the one after
        else:
            self._count += 1

    def __len__(self) -> int:
        return self._count

    def values(self, figure: str) -> tuple[float | None, ...]:
        """One figure's samples, oldest first (``None`` where it was not reported)."""
        index = next(i for i, (name, _t, _k) in enumerate(FIGURES) if name == figure)
        if not self._rings:
            return ()
        ring = self._rings[index]
        ordered = list(ring[self._next :]) + list(ring[: self._next])
        return tuple(None if math.isnan(v) else v for v in ordered)
