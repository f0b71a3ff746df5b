"""Plain frozen dataclasses: everything the UI learns about a host crosses the seam as these."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import cached_property


class GuestState(enum.IntEnum):
    """libvirt's ``virDomainState`` values, with labels a person reads."""

    NOSTATE = 0
    RUNNING = 1
    BLOCKED = 2
    PAUSED = 3
    SHUTDOWN = 4  # shutting down
    SHUTOFF = 5
    CRASHED = 6
    PMSUSPENDED = 7

    @property
    def label(self) -> str:
        return _STATE_LABELS[self]

    @property
    def is_active(self) -> bool:
        """The guest has a running QEMU process (it uses host resources)."""
        return self not in (GuestState.SHUTOFF, GuestState.CRASHED, GuestState.NOSTATE)

    @classmethod
    def from_libvirt(cls, value: int) -> GuestState:
        try:
            return cls(value)
        except ValueError:
            return cls.NOSTATE


_STATE_LABELS = {
    GuestState.NOSTATE: "unknown",
    GuestState.RUNNING: "running",
    GuestState.BLOCKED: "blocked",
    GuestState.PAUSED: "paused",
    GuestState.SHUTDOWN: "stopping",
    GuestState.SHUTOFF: "shut off",
    GuestState.CRASHED: "crashed",
    GuestState.PMSUSPENDED: "suspended",
}


class ConnState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    LOST = "lost"
    CLOSED = "closed"


@dataclass(frozen=True)
class DiskInfo:
    target: str  # vda, sdb ...
    device: str  # disk, cdrom, floppy, lun
    source: str  # path, "pool/volume", network name, or "" when empty (a CD drive)
    source_type: str  # file, block, volume, network, dir
    bus: str
    format: str  # qcow2, raw, "" when unknown
    readonly: bool
    shareable: bool

    @property
    def removable_path(self) -> str | None:
        """A host path this disk's data lives in, if there is one a delete could remove."""
        if self.source_type in ("file", "block") and self.source and self.device != "cdrom":
            return self.source
        return None


@dataclass(frozen=True)
class NicInfo:
    mac: str
    kind: str  # network, bridge, direct, user, ethernet ...
    source: str  # network name, bridge name or host device
    model: str
    target: str  # host-side tap device when running


@dataclass(frozen=True)
class GraphicsInfo:
    kind: str  # vnc, spice ...
    listen: str
    port: int | None


@dataclass(frozen=True)
class SharedFolder:
    driver: str  # virtiofs, 9p (path), ...
    source: str  # host directory
    tag: str  # mount tag inside the guest
    readonly: bool


@dataclass(frozen=True)
class HostDevice:
    """A host device passed through to the guest (<hostdev>): USB, PCI, SCSI ..."""

    kind: str  # usb, pci, scsi, mdev ...
    address: str  # "046d:c52b" (USB vendor:product), "0000:03:00.0" (PCI), ...


@dataclass(frozen=True)
class GuestInfo:
    """What a guest is: identity, state and configuration (from its XML and flags)."""

    uuid: str
    name: str
    state: GuestState
    reason: str = ""
    title: str = ""
    description: str = ""
    vcpus: int = 0
    max_vcpus: int = 0
    memory_kib: int = 0
    max_memory_kib: int = 0
    autostart: bool = False
    persistent: bool = True
    has_managed_save: bool = False
    has_snapshots: bool = False
    domain_type: str = ""  # kvm, qemu, test ...
    arch: str = ""
    machine: str = ""
    os_type: str = ""
    emulator: str = ""
    kernel: str = ""
    disks: tuple[DiskInfo, ...] = ()
    nics: tuple[NicInfo, ...] = ()
    graphics: tuple[GraphicsInfo, ...] = ()
    shared_folders: tuple[SharedFolder, ...] = ()
    has_console: bool = False
    host: str = ""  # the connection URI this guest lives on
    hostdevs: tuple[HostDevice, ...] = ()
    has_agent: bool = False  # a qemu-guest-agent channel
    isolation: str = ""  # verdict word (backend/verdict.py): isolated, NAT, host-shared ...
    tags: tuple[str, ...] = ()  # vmtui's tags, from the guest's own <metadata> (tagxml.py)
    # libvirt's raw state reason, for the poll's cheap "nothing changed" check
    reason_code: int = field(default=0, compare=False, repr=False)

    @property
    def is_active(self) -> bool:
        return self.state.is_active


@dataclass(frozen=True)
class GuestStats:
    """Rates over the last tick. ``None`` means "not known yet" (first sample, or not reported)."""

    uuid: str
    time: float
    cpu_percent: float | None = None  # of the whole host (all host CPUs = 100)
    cpu_percent_per_vcpu: float | None = None  # of the guest's own vCPUs (all busy = 100)
    mem_current_kib: int | None = None  # balloon.current: what the guest is given now
    mem_used_kib: int | None = None  # what the guest says it uses (balloon driver), if it does
    mem_available_kib: int | None = None
    mem_rss_kib: int | None = None  # host memory the QEMU process really holds
    disk_read_bps: float | None = None
    disk_write_bps: float | None = None
    disk_read_iops: float | None = None
    disk_write_iops: float | None = None
    net_rx_bps: float | None = None
    net_tx_bps: float | None = None


@dataclass(frozen=True)
class HostInfo:
    """What a host is (from libvirt's node info); read once per connection."""

    uri: str
    hostname: str
    hypervisor: str  # QEMU, TEST ...
    libvirt_version: str
    cpu_model: str
    cpus: int
    mhz: int
    memory_kib: int
    numa_nodes: int
    local: bool  # the host is the machine vmtui runs on


@dataclass(frozen=True)
class HostStats:
    """Host load (psutil on the local machine, libvirt's node stats remotely) and commitment."""

    time: float
    cpu_percent: float | None = None
    per_core: tuple[float, ...] = ()
    mem_total_kib: int = 0
    mem_used_kib: int | None = None
    mem_available_kib: int | None = None
    load: tuple[float, float, float] | None = None
    disk_read_bps: float | None = None
    disk_write_bps: float | None = None
    net_rx_bps: float | None = None
    net_tx_bps: float | None = None
    host_cpus: int = 0
    committed_vcpus: int = 0  # vCPUs of running guests
    committed_mem_kib: int = 0  # current memory of running guests
    guests_running: int = 0
    guests_total: int = 0

    @property
    def vcpu_overcommit(self) -> float | None:
        return self.committed_vcpus / self.host_cpus if self.host_cpus else None

    @property
    def mem_overcommit(self) -> float | None:
        return self.committed_mem_kib / self.mem_total_kib if self.mem_total_kib else None


@dataclass(frozen=True)
class Snapshot:
    """One poll of a host: every guest, its stats for this tick, and the host's figures."""

    uri: str
    time: float
    guests: tuple[GuestInfo, ...]
    stats: dict[str, GuestStats] = field(default_factory=dict)
    host: HostStats | None = None
    poll_seconds: float = 0.0  # how long the poll took end to end
    stats_seconds: float = 0.0  # how long the bulk stats call alone took

    # Derived once per snapshot (a snapshot never changes): asked several times per poll by
    # the host panel, the status line and the merging of several hosts' snapshots.
    @cached_property
    def running(self) -> int:
        """How many guests are active (running or paused)."""
        return sum(1 for g in self.guests if g.is_active)

    @cached_property
    def uuids(self) -> frozenset[str]:
        return frozenset(g.uuid for g in self.guests)


@dataclass(frozen=True)
class Series:
    """A bounded history of one figure, oldest first (``None`` where unknown)."""

    name: str
    values: tuple[float | None, ...]
    unit: str = ""


@dataclass(frozen=True)
class GuestHistory:
    uuid: str
    interval: float
    cpu: Series
    memory: Series
    disk_read: Series
    disk_write: Series
    net_rx: Series
    net_tx: Series


@dataclass(frozen=True)
class HostHistory:
    interval: float
    cpu: Series
    memory: Series


@dataclass(frozen=True)
class ConnectionEvent:
    """Something happened to a connection (lost, reconnected) — reported from libvirt's thread."""

    uri: str
    state: ConnState
    reason: str = ""


@dataclass(frozen=True)
class GuestEvent:
    """A libvirt lifecycle event for one guest (ours or another tool's)."""

    uri: str
    uuid: str
    name: str
    event: str  # started, stopped, suspended ...
    detail: str = ""
