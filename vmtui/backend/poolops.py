"""Storage changes beyond create/delete (backend/storage.py): resize a volume, create a
directory pool. Never imports Textual; every call blocks."""

from __future__ import annotations

import contextlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import libvirt

from vmtui.backend import diskusers
from vmtui.backend.devices import InvalidInput
from vmtui.backend.errors import ActionFailed
from vmtui.backend.hypervisor import Hypervisor
from vmtui.backend.storage import disk_users, parse_size_bytes
from vmtui.core.format import size as fmt_size

_POOL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$")


@dataclass(frozen=True)
class VolumeResize:
    pool: str
    volume: str
    current: int
    new: int
    used: int

    @property
    def shrink(self) -> bool:
        return self.new < self.current

    @property
    def warning(self) -> str:
        if not self.shrink:
            return ""
        return (
            f"Shrinking volume {self.volume} from {fmt_size(self.current)} to "
            f"{fmt_size(self.new)} cuts off its last {fmt_size(self.current - self.new)}: "
            "whatever is kept there (files, the end of a partition) is lost for good."
        )


def _volume(hv: Hypervisor, pool: str, volume: str) -> tuple[Any, Any]:
    conn = hv.writable_conn()
    try:
        p = conn.storagePoolLookupByName(pool)
        return p, p.storageVolLookupByName(volume)
    except libvirt.libvirtError:
        raise ActionFailed(f"Pool {pool} has no volume {volume}.") from None


def resize_plan(hv: Hypervisor, pool: str, volume: str, size: str) -> VolumeResize:
    """What resizing would do; refuses below the data the volume holds, no change, and a
    volume a running guest uses (grow that one from the guest's disks screen, live)."""
    new = parse_size_bytes(size)
    _p, vol = _volume(hv, pool, volume)
    try:
        _kind, capacity, allocation = vol.info()
        path = vol.path()
    except libvirt.libvirtError as err:
        raise hv.wrap_failure(err, f"Could not read volume {volume}") from None
    if new <= 0 or new == capacity:
        raise InvalidInput(f"Volume {volume} is {fmt_size(capacity)}; give another size.")
    if new < allocation:
        raise InvalidInput(
            f"Volume {volume} holds {fmt_size(allocation)} of data, so it cannot shrink to "
            f"{fmt_size(new)}. Nothing was changed."
        )
    users = disk_users(hv).users(path, extra=frozenset({("poolvol", f"{pool}/{volume}")}))
    running = [u for u in users if _running(hv, u.uuid)]
    if running:
        raise ActionFailed(
            f"Volume {volume} is a disk of running guest {running[0].guest}: grow it from that "
            "guest's disks screen (b), which tells the guest, or shut the guest down first."
        )
    return VolumeResize(pool, volume, int(capacity), new, int(allocation))


def _running(hv: Hypervisor, uuid: str) -> bool:
    try:
        return bool(hv.readable_conn().lookupByUUIDString(uuid).isActive())
    except libvirt.libvirtError:
        return False


def resize_volume(
    hv: Hypervisor, pool: str, volume: str, size: str, *, confirm_shrink: bool = False
) -> VolumeResize:
    plan = resize_plan(hv, pool, volume, size)
    if plan.shrink and not confirm_shrink:
        raise InvalidInput(plan.warning + " Confirm to shrink.")
    _p, vol = _volume(hv, pool, volume)
    try:
        vol.resize(plan.new, libvirt.VIR_STORAGE_VOL_RESIZE_SHRINK if plan.shrink else 0)
    except libvirt.libvirtError as err:
        raise hv.wrap_failure(err, f"Could not resize volume {volume}") from None
    return plan


def create_dir_pool(hv: Hypervisor, name: str, path: str, *, autostart: bool = True) -> None:
    """Define, build (make the directory) and start a directory pool."""
    name = name.strip()
    if not _POOL_NAME.match(name):
        raise InvalidInput(
            "A pool name is 1-64 letters, digits or _ . + -, starting with a letter, digit or _."
        )
    if not path.startswith("/"):
        raise InvalidInput("Give the pool's directory as a full path (starting with /).")
    conn = hv.writable_conn()
    try:
        if name in conn.listStoragePools() + conn.listDefinedStoragePools():
            raise InvalidInput(f"There is already a storage pool called {name}.")
    except libvirt.libvirtError as err:
        raise hv.wrap_failure(err, "Could not list the storage pools") from None
    root = ET.Element("pool", type="dir")
    ET.SubElement(root, "name").text = name
    ET.SubElement(ET.SubElement(root, "target"), "path").text = diskusers.clean_path(path)
    pool = None
    try:
        pool = conn.storagePoolDefineXML(ET.tostring(root, encoding="unicode"), 0)
        pool.build(0)
        pool.create(0)
        pool.setAutostart(1 if autostart else 0)
    except libvirt.libvirtError as err:
        if pool is not None:
            with contextlib.suppress(libvirt.libvirtError):
                pool.undefine()
        raise hv.wrap_failure(err, f"Could not create storage pool {name}") from None
