"""``vmtui stats``: the dashboard's per-guest figures, printed every interval (like
``virt-top -b``) as CSV, JSON lines or Prometheus text exposition. No Textual here.

The figures are the dashboard's own: ``Hypervisor.poll()`` gives ``GuestStats`` whose rates come
from the deltas between two polls (``backend/stats.py``), so the first sample is printed after
a priming poll and one interval.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TextIO

from vmtui.backend import GuestInfo, GuestState, GuestStats, Hypervisor, Snapshot

FORMATS = ("csv", "json", "prometheus")
ACTIVE_LABELS = frozenset(state.label for state in GuestState if state.is_active)


@dataclass(frozen=True)
class GuestSample:
    """One guest at one sample: what a dashboard row shows, as numbers (None: not known)."""

    host: str  # connection URI
    guest: str
    uuid: str
    state: str
    cpu_percent: float | None  # of the whole host, as the dashboard's CPU% column
    vcpus: int
    mem_used_kib: int | None  # what the guest reports using (balloon driver), if it does
    mem_total_kib: int  # what it is given now
    disk_read_bps: float | None
    disk_write_bps: float | None
    net_rx_bps: float | None
    net_tx_bps: float | None
    ip: str = ""  # the table's IP column: first IPv4, else IPv6
    addresses: tuple[str, ...] = ()  # every address (with prefix length), NIC by NIC
    address_source: str = ""  # agent, lease, arp ("" when none is known)


def guest_sample(guest: GuestInfo, stats: GuestStats | None) -> GuestSample:
    active = guest.state.is_active
    live = stats if active else None
    total = stats.mem_current_kib if stats and stats.mem_current_kib else guest.memory_kib
    return GuestSample(
        host=guest.host,
        guest=guest.name,
        uuid=guest.uuid,
        state=guest.state.label,
        cpu_percent=live.cpu_percent if live else None,
        vcpus=guest.vcpus,
        mem_used_kib=live.mem_used_kib if live else None,
        mem_total_kib=total,
        disk_read_bps=live.disk_read_bps if live else None,
        disk_write_bps=live.disk_write_bps if live else None,
        net_rx_bps=live.net_rx_bps if live else None,
        net_tx_bps=live.net_tx_bps if live else None,
        ip=guest.ip,
        addresses=tuple(
            a for nic in (guest.addresses.nics if guest.addresses else ()) for a in nic.addresses
        ),
        address_source=guest.addresses.source if guest.addresses else "",
    )


def samples(snapshots: Iterable[Snapshot]) -> list[GuestSample]:
    """Every guest of these snapshots, host by host (in order), by name."""
    out: list[GuestSample] = []
    for snap in snapshots:
        guests = sorted(snap.guests, key=lambda g: (g.name.lower(), g.uuid))
        out += [guest_sample(g, snap.stats.get(g.uuid)) for g in guests]
    return out


# ---------------------------------------------------------------- formats
CSV_FIELDS = ("time", *GuestSample.__dataclass_fields__)


def _number(value: float | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _csv_value(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, tuple | list):
        return " ".join(str(v) for v in value)  # addresses: one cell, space-separated
    return _number(value)  # type: ignore[arg-type]


def format_csv(at: datetime, rows: Sequence[GuestSample], header: bool) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(CSV_FIELDS)
    stamp = at.isoformat(timespec="seconds")
    for row in rows:
        values = asdict(row)
        writer.writerow(
            [stamp, *(_csv_value(v) for v in values.values())]
        )
    return out.getvalue()


def format_json(at: datetime, rows: Sequence[GuestSample]) -> str:
    """One JSON object per sample, on one line (JSON lines)."""
    record = {"time": at.isoformat(timespec="seconds"), "guests": [asdict(r) for r in rows]}
    return json.dumps(record, ensure_ascii=False) + "\n"


# (metric, help, type, value of a sample)
_PROMETHEUS: tuple[tuple[str, str, Callable[[GuestSample], float | int | None]], ...] = (
    (
        "vmtui_guest_running",
        "1 when the guest is active (running, paused...), 0 when it is shut off.",
        lambda s: 1 if s.state in ACTIVE_LABELS else 0,
    ),
    (
        "vmtui_guest_cpu_percent",
        "CPU used by the guest, in percent of all host CPUs.",
        lambda s: s.cpu_percent,
    ),
    ("vmtui_guest_vcpus", "Virtual CPUs of the guest.", lambda s: s.vcpus),
    (
        "vmtui_guest_memory_used_bytes",
        "Memory the guest reports using (balloon driver).",
        lambda s: None if s.mem_used_kib is None else s.mem_used_kib * 1024,
    ),
    (
        "vmtui_guest_memory_total_bytes",
        "Memory the guest is given now.",
        lambda s: s.mem_total_kib * 1024,
    ),
    (
        "vmtui_guest_disk_read_bytes_per_second",
        "Disk bytes read per second.",
        lambda s: s.disk_read_bps,
    ),
    (
        "vmtui_guest_disk_write_bytes_per_second",
        "Disk bytes written per second.",
        lambda s: s.disk_write_bps,
    ),
    (
        "vmtui_guest_net_rx_bytes_per_second",
        "Network bytes received per second.",
        lambda s: s.net_rx_bps,
    ),
    (
        "vmtui_guest_net_tx_bytes_per_second",
        "Network bytes sent per second.",
        lambda s: s.net_tx_bps,
    ),
)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_prometheus(at: datetime, rows: Sequence[GuestSample]) -> str:
    """Text exposition format: one whole exposition per sample (so ``--count 1`` is a scrape),
    separated by a blank line. Unknown figures are left out, not written as 0."""
    lines: list[str] = []
    for metric, help_text, value_of in _PROMETHEUS:
        lines.append(f"# HELP {metric} {help_text}")
        lines.append(f"# TYPE {metric} gauge")
        for row in rows:
            value = value_of(row)
            if value is None:
                continue
            labels = f'host="{_label(row.host)}",guest="{_label(row.guest)}"'
            lines.append(f"{metric}{{{labels}}} {_number(value)}")
    return "\n".join(lines) + "\n\n"


# ---------------------------------------------------------------- the loop
def run(
    uris: Sequence[str],
    *,
    interval: float,
    count: int | None,
    fmt: str,
    out: TextIO,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    hypervisors: Sequence[Hypervisor] | None = None,
) -> None:
    """Poll every host, then print a sample every ``interval`` seconds, ``count`` times (for
    ever when None), on a steady beat (the polls' own time does not add up). Raises
    ``VmtuiError`` (a sentence) when a host cannot be read."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    hvs = (
        list(hypervisors)
        if hypervisors is not None
        else [Hypervisor(uri, readonly=True, interval=interval) for uri in uris]
    )
    try:
        next_at = clock()
        for hv in hvs:
            hv.poll()  # rates need a previous sample
        for hv in hvs:
            hv.addresses.wait(15)  # the first round of addresses, read in the background
        printed = 0
        while count is None or printed < count:
            next_at += interval
            sleep(max(0.0, next_at - clock()))
            snapshots = [hv.poll() for hv in hvs]
            at = now()
            rows = samples(snapshots)
            if fmt == "csv":
                text = format_csv(at, rows, header=printed == 0)
            elif fmt == "json":
                text = format_json(at, rows)
            else:
                text = format_prometheus(at, rows)
            out.write(text)
            out.flush()
            printed += 1
    finally:
        for hv in hvs:
            hv.close()
