"""A guest as the `/` query and the `:` line see it: ``core.query.Subject`` built from the
backend's models (core stays free of them)."""

from __future__ import annotations

from vmtui.backend import GuestInfo, GuestStats
from vmtui.core.query import Subject


def subject_of(guest: GuestInfo, stats: GuestStats | None, host_label: str = "") -> Subject:
    """A guest (and its last stats) as a query sees it."""
    active = guest.state.is_active
    mem = stats.mem_current_kib if stats and stats.mem_current_kib else guest.memory_kib
    return Subject(
        uuid=guest.uuid,
        name=guest.name,
        state=guest.state.label,
        active=active,
        tags=guest.tags,
        host=host_label,
        uri=guest.host,
        cpu=stats.cpu_percent if stats and active else None,
        mem_kib=mem,
        vcpus=guest.vcpus,
        autostart=guest.autostart,
        addresses=guest.addresses.all if guest.addresses is not None else (),
    )
