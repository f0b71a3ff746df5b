"""The data layer: libvirt and psutil in, frozen dataclasses out. Never imports Textual."""

from vmtui.backend.errors import (
    ActionFailed,
    ConnectionFailed,
    GuestNotFound,
    NoDaemon,
    NotConnected,
    ReadOnlyConnection,
    VmtuiError,
)
from vmtui.backend.hypervisor import DeletePlan, DeleteResult, DiskPlan, Hypervisor
from vmtui.backend.models import (
    ConnectionEvent,
    ConnState,
    GuestEvent,
    GuestHistory,
    GuestInfo,
    GuestState,
    GuestStats,
    HostHistory,
    HostInfo,
    HostStats,
    Series,
    Snapshot,
)

__all__ = [
    "ActionFailed",
    "ConnState",
    "ConnectionEvent",
    "ConnectionFailed",
    "DeletePlan",
    "DeleteResult",
    "DiskPlan",
    "GuestEvent",
    "GuestHistory",
    "GuestInfo",
    "GuestNotFound",
    "GuestState",
    "GuestStats",
    "HostHistory",
    "HostInfo",
    "HostStats",
    "Hypervisor",
    "NoDaemon",
    "NotConnected",
    "ReadOnlyConnection",
    "Series",
    "Snapshot",
    "VmtuiError",
]
