"""The data layer: libvirt and psutil in, frozen dataclasses out. Never imports Textual."""

from vmtui.backend.console import ConsoleSession
from vmtui.backend.delete import DeletePlan, DeleteResult, DiskPlan
from vmtui.backend.devices import (
    InvalidInput,
    NicSpec,
    RiskyPath,
    SharedFolderSpec,
    filesystem_element,
    interface_element,
    resolve_share_path,
)
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
from vmtui.backend.hypervisor import Hypervisor
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
    "InvalidInput",
    "NicSpec",
    "NoConsole",
    "NoDaemon",
    "NotConnected",
    "ReadOnlyConnection",
    "RiskyPath",
    "Series",
    "SharedFolderSpec",
    "Snapshot",
    "VmtuiError",
    "filesystem_element",
    "interface_element",
    "resolve_share_path",
]
