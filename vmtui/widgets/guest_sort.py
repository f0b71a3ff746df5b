"""The guest table's order: by any column, either way, ties by name, no figure last.

Sorting is by what a column shows, rounded as it is shown: two idle guests whose CPU both
reads "0.1" tie (and keep their name order) instead of swapping places each tick as their
unrounded figures cross. A guest without a figure in the sorted column (a shut-off guest's
dashes, no tags, a verdict not known yet) goes after every guest with one, in either
direction: reversing a sort by CPU shows the idlest running guests first, not the stopped
ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import chain, compress, repeat
from operator import attrgetter, is_, is_not
from typing import Any

from vmtui.backend import GuestInfo, GuestState, GuestStats

# Every column the table can sort by, with the words the footer and `?` use for it, in the
# order `o` walks them (the table's own column order).
SORT_NAMES: dict[str, str] = {
    "name": "name",
    "host": "host",
    "state": "state",
    "vcpus": "vCPUs",
    "cpu": "CPU %",
    "mem": "memory",
    "disk": "disk I/O",
    "net": "network I/O",
    "auto": "autostart",
    "iso": "isolation",
    "tags": "tags",
}
# Figures sort biggest first when first chosen (which guest is eating the host?), words A-Z.
DESCENDING_FIRST = frozenset({"vcpus", "cpu", "mem", "disk", "net", "auto"})
# Only a running guest has these: the others have no figure and sort last.
LIVE = frozenset({"cpu", "mem", "disk", "net"})

STATE_RANK = {
    GuestState.RUNNING: 0,
    GuestState.BLOCKED: 1,
    GuestState.PAUSED: 2,
    GuestState.PMSUSPENDED: 3,
    GuestState.SHUTDOWN: 4,
    GuestState.CRASHED: 5,
    GuestState.SHUTOFF: 6,
    GuestState.NOSTATE: 7,
}
# The isolation verdicts from the most exposed to the most isolated (ascending order).
ISOLATION_RANK = {
    verdict: rank
    for rank, verdict in enumerate(
        (
            "host-shared",
            "listening",
            "LAN-bridged",
            "unknown",
            "routed",
            "remote",
            "NAT",
            "host-only",
            "guest-only",
            "isolated",
            "sealed",
        )
    )
}

Key = Callable[[GuestInfo], object]


def shown(value: float) -> float:
    """A size or rate rounded to two significant digits, about as the table shows it."""
    return 0.0 if value < 1 else float(f"{value:.2g}")


# (a set lookup: 5,000 calls of the is_active property cost a millisecond a tick)
ACTIVE = frozenset(state for state in GuestState if state.is_active)
INACTIVE = frozenset(GuestState) - ACTIVE
_UUID = attrgetter("uuid")
_STATE = attrgetter("state")


def _cpu(stats: Mapping[str, GuestStats]) -> Key:
    get = stats.get

    def key(g: GuestInfo) -> object:
        st = get(g.uuid)
        if st is None or g.state not in ACTIVE:
            return None
        p = st.cpu_percent
        if p is None:
            return None
        # tenths of a percent, as "12.3" shows it (int(): a third of round()'s time)
        return 1000 if p >= 99.95 else int(p * 10 + 0.5)

    return key


def _mem(stats: Mapping[str, GuestStats]) -> Key:
    def key(g: GuestInfo) -> object:
        if g.state not in ACTIVE:
            return None
        st = stats.get(g.uuid)
        if st is not None and st.mem_used_kib is not None:
            return shown(st.mem_used_kib)
        current = st.mem_current_kib if st is not None and st.mem_current_kib else None
        return shown(current or g.memory_kib or 0)

    return key


def _pair(stats: Mapping[str, GuestStats], first: str, second: str) -> Key:
    def key(g: GuestInfo) -> object:
        st = stats.get(g.uuid)
        if st is None or g.state not in ACTIVE:
            return None
        a, b = getattr(st, first), getattr(st, second)
        if a is None and b is None:
            return None
        return shown((a or 0.0) + (b or 0.0))

    return key


# Tags, autostart and the verdict come from a guest's XML: not known (sorted last, like
# "none") until it has been read (GuestInfo.loaded).
def _tags(g: GuestInfo) -> object:
    tags = g.tags
    return " ".join(tags).lower() if tags and g.loaded else None


def _autostart(g: GuestInfo) -> object:
    return (1 if g.autostart else 0) if g.loaded else None


def _isolation(g: GuestInfo) -> object:
    # a verdict named later than ISOLATION_RANK: after the known ones, before "not known"
    return (
        ISOLATION_RANK.get(g.isolation, len(ISOLATION_RANK)) if g.isolation and g.loaded else None
    )


def _vcpus(g: GuestInfo) -> object:
    return g.vcpus if g.vcpus or g.loaded else None


def sort_key(
    column: str,
    stats: Mapping[str, GuestStats],
    labels: Mapping[str, str],
    fallback: Callable[[GuestInfo], str] | None = None,
) -> Key:
    """What a guest's row is sorted by in ``column`` (None: no figure, sorted last)."""
    if column == "name":
        return lambda g: (g.name.lower(), g.name)
    if column == "host":
        return lambda g: labels.get(g.host, g.host).lower()
    if column == "state":
        return lambda g: STATE_RANK.get(g.state, len(STATE_RANK))
    if column == "vcpus":
        return _vcpus
    if column == "cpu":
        return _cpu(stats)
    if column == "mem":
        return _mem(stats)
    if column == "disk":
        return _pair(stats, "disk_read_bps", "disk_write_bps")
    if column == "net":
        return _pair(stats, "net_rx_bps", "net_tx_bps")
    if column == "auto":
        return _autostart
    if column == "iso":
        return _isolation
    if column == "tags":
        return _tags
    if fallback is not None:  # a column added later: by its shown text, empty last
        return lambda g: fallback(g).lower() or None
    return lambda g: None


def order(
    by_name: Sequence[GuestInfo],
    column: str,
    descending: bool,
    stats: Mapping[str, GuestStats],
    labels: Mapping[str, str],
    fallback: Callable[[GuestInfo], str] | None = None,
) -> list[GuestInfo]:
    """``by_name`` (the guests in name order) sorted by ``column``; equal values keep their
    name order in either direction and guests without a value come last."""
    if column == "name":
        return list(reversed(by_name)) if descending else list(by_name)
    values: list[Any]  # comparable among themselves (one column's keys), or None
    if column == "cpu":  # the usual sort, every tick: C loops mostly, no call per guest
        values = _cpu_values(by_name, stats)
    else:
        values = list(map(sort_key(column, stats, labels, fallback), by_name))
    # the places of the guests with a value, sorted by it: sort() is stable in both
    # directions, so ties stay in name order; then the guests without one
    present = list(compress(range(len(values)), map(is_not, values, repeat(None))))
    present.sort(key=values.__getitem__, reverse=descending)
    missing = compress(range(len(values)), map(is_, values, repeat(None)))
    return list(map(by_name.__getitem__, chain(present, missing)))


def _cpu_values(by_name: Sequence[GuestInfo], stats: Mapping[str, GuestStats]) -> list[Any]:
    """Each guest's CPU % in tenths, as "12.3" shows it (None: no figure, not running)."""
    tenths: dict[str, int] = {}
    for uuid, st in stats.items():
        p = st.cpu_percent
        if p is not None:  # int(): a third of round()'s time
            tenths[uuid] = 1000 if p >= 99.95 else int(p * 10 + 0.5)
    values: list[Any] = list(map(tenths.get, map(_UUID, by_name)))
    # a guest that does not run has no figure, whatever its last stats held
    for i in compress(range(len(values)), map(INACTIVE.__contains__, map(_STATE, by_name))):
        values[i] = None
    return values


def depends_on_stats(column: str) -> bool:
    """The order by this column can change with every tick's figures."""
    return column in LIVE or column not in SORT_NAMES
