"""The data layer: libvirt and psutil in, frozen dataclasses out. Never imports Textual."""

from vmtui.backend.console import ConsoleSession
from vmtui.backend.errors import (
    ActionFailed,
    ConnectionFailed,
    ConsoleBusy,
    GuestNotFound,
    NoConsole,
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
from vmtui.backend.terminal import Emulator

__all__ = [
    "ActionFailed",
    "ConnState",
    "ConnectionEvent",
    "ConnectionFailed",
    "ConsoleBusy",
    "ConsoleSession",
    "DeletePlan",
    "DeleteResult",
    "DiskPlan",
    "Emulator",
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
    "NoConsole",
    "NoDaemon",
    "NotConnected",
    "ReadOnlyConnection",
    "Series",
    "Snapshot",
    "VmtuiError",
]
