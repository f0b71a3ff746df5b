"""Plain frozen dataclasses: everything the UI learns about a host crosses the seam as these."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from vmtui.core.safetext import safe_text


def _plain(text: str) -> bool:
    return text.isascii() and text.isprintable()


def sanitise_fields(obj: Any, *names: str, multiline: bool = False) -> None:
    """Replace the named str fields of a frozen dataclass with their safe_text form (a field
    from libvirt, a guest or a config file is shown as it is, never as terminal bytes).
    Called from ``__post_init__``: the one place each model's text enters (issue 14 #4)."""
    for name in names:
        value = getattr(obj, name)
        if value and not _plain(value):
            object.__setattr__(obj, name, safe_text(value, multiline=multiline))


def sanitise_tuple(obj: Any, *names: str) -> None:
    """The same for fields holding a tuple of str (tags, guest names)."""
    for name in names:
        values = getattr(obj, name)
        if values and not all(_plain(v) for v in values):
            object.__setattr__(obj, name, tuple(safe_text(v) for v in values))


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


@dataclass(frozen=True, slots=True)
class DiskInfo:
    target: str  # vda, sdb ...
    device: str  # disk, cdrom, floppy, lun
    source: str  # path, "pool/volume", network name, or "" when empty (a CD drive)
    source_type: str  # file, block, volume, network, dir
    bus: str
    format: str  # qcow2, raw, "" when unknown
    readonly: bool
    shareable: bool
    chain: tuple[str, ...] = ()  # backing files, nearest first (from a running guest's XML)

    @property
    def removable_path(self) -> str | None:
        """A host path this disk's data lives in, if there is one a delete could remove."""
        if self.source_type in ("file", "block") and self.source and self.device != "cdrom":
            return self.source
        return None


@dataclass(frozen=True, slots=True)
class NicInfo:
    mac: str
    kind: str  # network, bridge, direct, user, ethernet ...
    source: str  # network name, bridge name or host device
    model: str
    target: str  # host-side tap device when running


@dataclass(frozen=True, slots=True)
class GraphicsInfo:
    kind: str  # vnc, spice ...
    listen: str
    port: int | None


@dataclass(frozen=True, slots=True)
class SharedFolder:
    driver: str  # virtiofs, 9p (path), ...
    source: str  # host directory
    tag: str  # mount tag inside the guest
    readonly: bool


@dataclass(frozen=True, slots=True)
class HostDevice:
    """A host device passed through to the guest (<hostdev>): USB, PCI, SCSI ..."""

    kind: str  # usb, pci, scsi, mdev ...
    address: str  # "046d:c52b" (USB vendor:product), "0000:03:00.0" (PCI), ...


@dataclass(frozen=True, slots=True)
class NicAddresses:
    """One network interface and its addresses, as a source reported them (addresses.py)."""

    name: str  # the guest's name for it (eth0) from the agent; the host's (vnet3) otherwise
    mac: str
    addresses: tuple[str, ...]  # "192.0.2.10/24", "fe80::1/64"

    def __post_init__(self) -> None:
        sanitise_fields(self, "name", "mac")  # the guest agent's words: guest data
        sanitise_tuple(self, "addresses")


@dataclass(frozen=True, slots=True)
class GuestAddresses:
    """A guest's IP addresses and where they came from (agent, lease, arp), or why none."""

    source: str  # "agent", "lease", "arp"; "" when no source knew any
    nics: tuple[NicAddresses, ...] = ()
    why_none: str = ""  # a sentence when there are none (no agent, no lease …)

    @property
    def all(self) -> tuple[str, ...]:
        """Every address without its prefix length, in the order reported."""
        return tuple(a.split("/")[0] for nic in self.nics for a in nic.addresses)

    @property
    def first(self) -> str:
        """The first IPv4 address, else the first IPv6 one, else ""."""
        every = self.all
        return next((a for a in every if ":" not in a), every[0] if every else "")


@dataclass(frozen=True, slots=True)
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
    # False until the guest's XML has been read: only the listing and the bulk stats are
    # known (name, state, vCPUs and memory when the driver reports them, flags); every
    # XML-derived field above holds its default and the UI shows it as loading, not as none
    loaded: bool = True
    # False while the guest's QEMU does not answer the stats call (stopped, wedged): its
    # state is the last known one and it has no live figures
    answering: bool = True
    agent_state: str = ""  # the agent channel: "connected", "disconnected", "" (none / unknown)
    addresses: GuestAddresses | None = None  # None: not read yet (backend/addresses.py)
    # libvirt's raw state reason, for the poll's cheap "nothing changed" check
    reason_code: int = field(default=0, compare=False, repr=False)

    def __post_init__(self) -> None:
        # The boundary for a guest's text (issue 14 #4): whatever builds a GuestInfo (the poll,
        # the delete plan, dataclasses.replace), its name, title, description and tags hold no
        # control, bidi or zero-width character (core/safetext.py; idempotent, cheap on ASCII)
        sanitise_fields(self, "name", "title", "reason")
        sanitise_fields(self, "description", multiline=True)
        sanitise_tuple(self, "tags")

    @property
    def is_active(self) -> bool:
        return self.state.is_active

    @property
    def agent_connected(self) -> bool:
        return self.agent_state == "connected"

    @property
    def ip(self) -> str:
        """The address the table shows: first IPv4, else IPv6, else ""."""
        return self.addresses.first if self.addresses is not None else ""


@dataclass(frozen=True, slots=True)
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

    def __post_init__(self) -> None:
        sanitise_fields(self, "hostname", "hypervisor", "cpu_model")  # what the host says of itself


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
    # Guests whose XML is still being read (their XML-derived fields are loading): a query
    # on tags or the isolation verdict is incomplete while this is not empty
    loading: frozenset[str] = frozenset()
    # Running guests whose QEMU did not answer this tick's stats call in time (a stopped or
    # wedged process): their figures are not live; the other guests' are
    not_answering: frozenset[str] = frozenset()

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

    def __post_init__(self) -> None:
        sanitise_fields(self, "name", "event", "detail")  # the guest's name, shown in the log
