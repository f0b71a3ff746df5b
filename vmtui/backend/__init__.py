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
# Feature modules: append "from vmtui.backend.x import (A as A, ...)" blocks below; the
# "as" form re-exports a name without editing __all__ (fewer merge conflicts).
from vmtui.backend.devices import (
    InvalidInput as InvalidInput,
)
from vmtui.backend.devices import (
    NicSpec as NicSpec,
)
from vmtui.backend.devices import (
    RiskyPath as RiskyPath,
)
from vmtui.backend.devices import (
    SharedFolderSpec as SharedFolderSpec,
)
from vmtui.backend.devices import (
    filesystem_element as filesystem_element,
)
from vmtui.backend.devices import (
    interface_element as interface_element,
)
from vmtui.backend.devices import (
    resolve_share_path as resolve_share_path,
)
