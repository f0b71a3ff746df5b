"""Storage pools and volumes of one host: list, refresh, create and delete volumes.

A volume's users are the guests (defined or running, on the same host) that use it in any
way, decided by identity in ``backend/diskusers.py``: as a disk (by path, any spelling of it,
or ``pool/volume``), as the backing file of another disk, as a kernel, initrd, DTB, firmware
or NVRAM file. Deleting a used volume is refused with their names before libvirt is asked, and
so is deleting one when vmtui cannot be sure. Volume XML is built with ElementTree.
"""

from __future__ import annotations

import contextlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import libvirt

from vmtui.backend import diskusers, shown
from vmtui.backend.devices import InvalidInput
from vmtui.backend.errors import ActionFailed, NotConnected, VmtuiError, libvirt_message
from vmtui.backend.hypervisor import Hypervisor
from vmtui.backend.models import sanitise_fields, sanitise_tuple
from vmtui.core import format as fmt
from vmtui.core import units

VOLUME_FORMATS = ("qcow2", "raw")
MIN_VOLUME_BYTES = 1024 * 1024
_VOLNAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,254}$")

_POOL_STATES = {
    0: "inactive",
    1: "building",
    2: "running",
    3: "degraded",
    4: "inaccessible",
}


@dataclass(frozen=True)
class PoolInfo:
    name: str
    uuid: str
    state: str  # running, inactive, building, degraded, inaccessible
    kind: str  # dir, logical, netfs, ...
    capacity: int  # bytes
    allocation: int
    available: int
    autostart: bool
    persistent: bool
    path: str  # target path ("" when the pool has none)

    def __post_init__(self) -> None:  # names from libvirt: shown, never terminal bytes
        sanitise_fields(self, "name", "kind")

    @property
    def active(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class VolumeInfo:
    name: str
    pool: str
    path: str
    format: str  # qcow2, raw, iso..., "" when unknown
    capacity: int  # bytes
    allocation: int
    used_by: tuple[str, ...]  # guests of this host that use it (diskusers: by identity)
    uses: tuple[str, ...] = ()  # how: "beta (backing file of vda)", "alpha (kernel)"

    def __post_init__(self) -> None:  # names from libvirt: shown (the path stays: an identity)
        sanitise_fields(self, "name", "pool", "format")
        sanitise_tuple(self, "used_by", "uses")


@dataclass(frozen=True)
class VolumeSpec:
    """A volume to create: ``capacity`` in bytes; qcow2 or raw, allocated on demand."""

    name: str
    format: str
    capacity: int

    def virsh(self, pool: str) -> tuple[str, ...]:
        return ("vol-create-as", pool, self.name, f"{self.capacity}B", "--format", self.format)


# ----------------------------------------------------------------------------- input
def parse_size_bytes(text: str) -> int:
    """``10G``, ``512M``, ``1.5T``; a bare number is GiB. Raises InvalidInput."""
    try:
        return int(units.parse_size(text, "G"))
    except units.SizeError:
        raise InvalidInput(
            f"Size {text.strip()!r} is not a size; write it like 10G or 512M."
        ) from None


def volume_spec(name: str, format: str, size: str) -> VolumeSpec:
    """Check what the user typed for a new volume; raises InvalidInput with a sentence."""
    clean = name.strip()
    if not clean:
        raise InvalidInput("Give the new volume a name, like data.qcow2.")
    if "/" in clean or "\x00" in clean:
        raise InvalidInput(f"The volume name {clean!r} must not contain '/'.")
    if not _VOLNAME.match(clean):
        raise InvalidInput(
            f"The volume name {clean!r} may hold letters, digits, '_', '.', '+' and '-', and "
            "must not start with '.' or '-'."
        )
    if format not in VOLUME_FORMATS:
        raise InvalidInput(f"Unknown volume format {format!r}; use qcow2 or raw.")
    capacity = parse_size_bytes(size)
    if capacity < MIN_VOLUME_BYTES:
        raise InvalidInput(f"A volume must be at least 1M, not {fmt.size(capacity)}.")
    return VolumeSpec(clean, format, capacity)


def volume_xml(spec: VolumeSpec) -> str:
    vol = ET.Element("volume")
    ET.SubElement(vol, "name").text = spec.name
    ET.SubElement(vol, "capacity", unit="bytes").text = str(spec.capacity)
    ET.SubElement(vol, "allocation", unit="bytes").text = "0"
    target = ET.SubElement(vol, "target")
    ET.SubElement(target, "format", type=spec.format)
    return ET.tostring(vol, encoding="unicode")


# ----------------------------------------------------------------------------- reading
def _pool_error(hv: Hypervisor, err: libvirt.libvirtError, what: str) -> VmtuiError:
    """A libvirt error as a sentence; a lost connection is marked lost (via wrap_error)."""
    reason = libvirt_message(err)
    if isinstance(hv.wrap_error(err, what, ""), NotConnected):
        return NotConnected(f"Could not {what}: the connection to {hv.uri} was lost ({reason}).")
    return ActionFailed(f"Could not {what}: {reason}.")


@contextlib.contextmanager
def _pool_call(hv: Hypervisor, what: str) -> Iterator[None]:
    """libvirt errors inside become the sentence "Could not <what>: …" (_pool_error)."""
    try:
        yield
    except libvirt.libvirtError as err:
        raise _pool_error(hv, err, what) from None


def _pool(hv: Hypervisor, name: str, *, writable: bool = False) -> tuple[Any, Any]:
    """The connection and the pool called ``name`` on it (ActionFailed when there is none)."""
    conn = hv.writable_conn() if writable else hv.readable_conn()
    try:
        # by the name vmtui shows: an escaped one finds its pool too (backend/shown.py)
        pools = lambda: conn.listAllStoragePools(0)  # noqa: E731
        return conn, shown.lookup(conn.storagePoolLookupByName, pools, lambda p: p.name(), name)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL:
            raise ActionFailed(f"There is no storage pool {name} on {hv.uri}.") from None
        raise _pool_error(hv, err, f"find storage pool {name}") from None


def _pool_info(pool: Any) -> PoolInfo:
    state, capacity, allocation, available = pool.info()
    root = ET.fromstring(pool.XMLDesc(0))
    return PoolInfo(
        name=pool.name(),
        uuid=pool.UUIDString(),
        state=_POOL_STATES.get(int(state), "unknown"),
        kind=root.get("type", ""),
        capacity=int(capacity),
        allocation=int(allocation),
        available=int(available),
        autostart=bool(pool.autostart()),
        persistent=bool(pool.isPersistent()),
        path=root.findtext("target/path", ""),
    )


def list_pools(hv: Hypervisor) -> tuple[PoolInfo, ...]:
    """Every storage pool of the host, active or not, by name (blocking)."""
    conn = hv.readable_conn()
    with _pool_call(hv, f"list the storage pools of {hv.uri}"):
        pools = [_pool_info(p) for p in conn.listAllStoragePools(0)]
    return tuple(sorted(pools, key=lambda p: p.name))


def disk_users(hv: Hypervisor) -> diskusers.Usage:
    """Who uses which file of this host (definitions and live XML of every guest)."""
    return diskusers.scan(hv.readable_conn(), diskusers.access_for(hv.is_local, hv.driver))


def _volume_info(pool_name: str, vol: Any, users: diskusers.Usage) -> VolumeInfo:
    _kind, capacity, allocation = vol.info()
    root = ET.fromstring(vol.XMLDesc(0))
    path = vol.path()
    name = vol.name()
    uses = users.users(path, extra=frozenset({("poolvol", f"{pool_name}/{name}")}))
    fmt_el = root.find("target/format")
    return VolumeInfo(
        name=name,
        pool=pool_name,
        path=path,
        format=fmt_el.get("type", "") if fmt_el is not None else "",
        capacity=int(capacity),
        allocation=int(allocation),
        used_by=diskusers.names(uses),
        uses=tuple(u.describe() for u in uses),
    )


def list_volumes(hv: Hypervisor, pool_name: str) -> tuple[VolumeInfo, ...]:
    """The volumes of an active pool with the guests using each (blocking)."""
    _conn, pool = _pool(hv, pool_name)
    with _pool_call(hv, f"list the volumes of pool {pool_name}"):
        if not pool.isActive():
            return ()
        users = disk_users(hv)
        vols = [_volume_info(pool_name, v, users) for v in pool.listAllVolumes(0)]
    return tuple(sorted(vols, key=lambda v: v.name))


# ----------------------------------------------------------------------------- changing
def refresh_pool(hv: Hypervisor, pool_name: str) -> None:
    """Re-read the pool's contents from disk (files added or removed by hand)."""
    _conn, pool = _pool(hv, pool_name, writable=True)
    with _pool_call(hv, f"refresh storage pool {pool_name}"):
        if not pool.isActive():
            raise ActionFailed(f"Storage pool {pool_name} is not active, so it cannot refresh.")
        pool.refresh(0)


def create_volume(hv: Hypervisor, pool_name: str, spec: VolumeSpec) -> VolumeInfo:
    """Create a (validated) volume in an active pool; refuses a name already taken."""
    _conn, pool = _pool(hv, pool_name, writable=True)
    with _pool_call(hv, f"create volume {spec.name} in pool {pool_name}"):
        if not pool.isActive():
            raise ActionFailed(f"Storage pool {pool_name} is not active; start it first.")
        if spec.name in pool.listVolumes():
            raise ActionFailed(
                f"Storage pool {pool_name} already has a volume {spec.name}; nothing was created."
            )
        vol = pool.createXML(volume_xml(spec), 0)
        return _volume_info(pool_name, vol, disk_users(hv))


def delete_volume(hv: Hypervisor, pool_name: str, volume: str) -> None:
    """Delete a volume, unless a guest of this host uses it (refused, naming the guests)."""
    _conn, pool = _pool(hv, pool_name, writable=True)
    try:
        vol = shown.lookup(
            pool.storageVolLookupByName, lambda: pool.listAllVolumes(0), lambda v: v.name(), volume
        )
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
            raise ActionFailed(f"Pool {pool_name} has no volume {volume}.") from None
        raise _pool_error(hv, err, f"find volume {volume} in pool {pool_name}") from None
    with _pool_call(hv, f"delete volume {volume} of pool {pool_name}"):
        users = disk_users(hv)
        info = _volume_info(pool_name, vol, users)
        if info.used_by:
            guests = ", ".join(info.used_by)
            which = "guest" if len(info.used_by) == 1 else "guests"
            raise ActionFailed(
                f"Volume {volume} is used by {which} {guests}; nothing was deleted. It is used "
                f"as: {', '.join(info.uses)}; remove that use from the guest first."
            )
        doubt = diskusers.doubt_text(users.doubts_about(info.path))
        if doubt:
            raise ActionFailed(
                f"vmtui cannot be sure no guest uses volume {volume} ({doubt}); nothing was "
                "deleted."
            )
        vol.delete(0)
