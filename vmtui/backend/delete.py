"""Deleting a guest: what it would touch (its disks, and who else uses them), then the delete.

The guest is forced off and undefined (managed save, snapshot metadata and NVRAM with it);
then only the disk paths the user ticked are removed, never one another guest uses. Who
uses a file is decided by identity (``backend/diskusers.py``: volumes, ``realpath``, inodes,
backing chains, live and inactive XML of every guest); when vmtui cannot be sure, the disk is
kept and the plan says why. The NVRAM file goes with the definition unless another guest uses
it too (or vmtui cannot tell): then it stays, and the plan says so either way. The connection
comes from the caller (``Hypervisor.delete_plan`` / ``Hypervisor.delete``) through the small
:class:`Host` protocol, so this module does not import the hypervisor.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import libvirt

from vmtui.backend import diskusers, domxml
from vmtui.backend.errors import ActionFailed, VmtuiError, libvirt_message
from vmtui.backend.models import DiskInfo, GuestInfo, GuestState


class Host(Protocol):
    """What a delete needs of one connection (``Hypervisor`` has it all)."""

    uri: str

    @property
    def is_local(self) -> bool: ...

    @property
    def driver(self) -> str: ...

    def readable_conn(self) -> Any: ...

    def writable_conn(self) -> Any: ...

    def lookup_domain(self, conn: Any, uuid: str) -> Any: ...

    def wrap_error(self, err: libvirt.libvirtError, verb: str, name: str) -> VmtuiError: ...

    def touch(self, uuid: str) -> None: ...

    def known_guest(self, uuid: str) -> GuestInfo | None: ...


@dataclass(frozen=True)
class DiskPlan:
    """A disk a delete could remove, with what the user must know before ticking it."""

    target: str
    path: str
    in_pool: bool
    used_by: tuple[str, ...]  # other guests that use the same file (by identity)
    uses: tuple[str, ...] = ()  # how: "beta (backing file of vda)", ...
    doubt: str = ""  # why vmtui cannot be sure no other guest uses it ("" when it can)

    @property
    def removable(self) -> bool:
        return not self.used_by and not self.doubt

    @property
    def why_kept(self) -> str:
        """Why this disk cannot be ticked ("" when it can)."""
        if self.uses:
            return f"also used by {', '.join(self.uses)}"
        if self.used_by:
            return f"also used by {', '.join(self.used_by)}"
        if self.doubt:
            return f"vmtui cannot be sure no other guest uses it: {self.doubt}"
        return ""


@dataclass(frozen=True)
class DeletePlan:
    guest: GuestInfo
    disks: tuple[DiskPlan, ...]
    snapshots: int
    managed_save: bool
    nvram: str = ""  # the guest's NVRAM file ("" when it has none)
    nvram_kept: str = ""  # why the NVRAM file stays ("" when it goes with the definition)


@dataclass(frozen=True)
class DeleteResult:
    name: str
    removed: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]  # (path, reason)


def delete_plan(host: Host, uuid: str) -> DeletePlan:
    """What deleting this guest would touch: its disks (and who else uses them, by identity),
    its NVRAM file, saved state and snapshot metadata."""
    conn = host.readable_conn()
    dom = host.lookup_domain(conn, uuid)
    try:
        state = GuestState.from_libvirt(dom.state()[0])
        xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        cfg = domxml.parse_domain(xml)
        snapshots = dom.snapshotNum(0)
        managed = bool(dom.hasManagedSaveImage(0))
        usage = diskusers.scan(conn, diskusers.access_for(host.is_local, host.driver))
    except libvirt.libvirtError as err:
        raise host.wrap_error(err, "inspect", dom.name()) from None
    guest = host.known_guest(uuid) or GuestInfo(uuid=uuid, name=cfg.name, state=state)
    guest = dataclasses.replace(guest, state=state, disks=cfg.disks, name=cfg.name)
    disks = []
    for disk in cfg.disks:
        path = _disk_path(usage, disk)
        if not path:
            continue
        uses = usage.users(path, exclude=uuid)
        disks.append(
            DiskPlan(
                target=disk.target,
                path=path,
                in_pool=usage.ident.volume(path) is not None,
                used_by=diskusers.names(uses),
                uses=tuple(u.describe() for u in uses),
                doubt=diskusers.doubt_text(usage.doubts_about(path, exclude=uuid)),
            )
        )
    nvram = diskusers.nvram_path(ET.fromstring(xml))
    return DeletePlan(
        guest=guest,
        disks=tuple(disks),
        snapshots=snapshots,
        managed_save=managed,
        nvram=nvram,
        nvram_kept=_why_nvram_stays(usage, nvram, uuid) if nvram else "",
    )


def _disk_path(usage: diskusers.Usage, disk: DiskInfo) -> str:
    """The file a delete could remove for this disk: its path, or its volume's path."""
    if disk.removable_path:
        return disk.removable_path
    if disk.source_type == "volume" and disk.device != "cdrom" and "/" in disk.source:
        pool, vol = disk.source.split("/", 1)
        return usage.ident.pool_volume_path(pool, vol)[0]
    return ""


def _why_nvram_stays(usage: diskusers.Usage, nvram: str, uuid: str) -> str:
    uses = usage.users(nvram, exclude=uuid)
    if uses:
        return f"also used by {', '.join(u.describe() for u in uses)}"
    doubt = diskusers.doubt_text(usage.doubts_about(nvram, exclude=uuid))
    if doubt:
        return f"vmtui cannot be sure no other guest uses it: {doubt}"
    return ""


def _volume_for(conn: Any, path: str) -> Any:
    try:
        return conn.storageVolLookupByPath(path)
    except libvirt.libvirtError:
        return None


def delete_guest(host: Host, uuid: str, remove_disks: Sequence[str] = ()) -> DeleteResult:
    """Delete a guest: force it off, undefine it (managed save, snapshot metadata and NVRAM
    with it) and then remove only the disk paths given. Disks used by another guest are
    refused before anything is touched."""
    conn = host.writable_conn()
    plan = delete_plan(host, uuid)
    name = plan.guest.name
    by_path = {d.path: d for d in plan.disks}
    for path in remove_disks:
        disk = by_path.get(path)
        if disk is None:
            raise ActionFailed(f"{path} is not a disk of guest {name}; nothing was deleted.")
        if disk.used_by:
            raise ActionFailed(
                f"The disk {path} is also used by {', '.join(disk.used_by)}; nothing was "
                f"deleted. Used as: {', '.join(disk.uses or disk.used_by)}."
            )
        if not disk.removable:
            raise ActionFailed(f"The disk {path} is kept: {disk.why_kept}; nothing was deleted.")
    dom = host.lookup_domain(conn, uuid)
    try:
        persistent = dom.isPersistent()  # a transient guest vanishes when destroyed
        if dom.isActive():
            dom.destroy()
        if persistent:
            _undefine(dom, keep_nvram=bool(plan.nvram_kept))
    except libvirt.libvirtError as err:
        raise host.wrap_error(err, "delete", name) from None
    finally:
        host.touch(uuid)
    removed: list[str] = []
    failed: list[tuple[str, str]] = []
    for path in remove_disks:
        try:
            _remove_disk(host, conn, path, by_path[path].in_pool)
            removed.append(path)
        except VmtuiError as err:
            failed.append((path, err.message))
    return DeleteResult(name=name, removed=tuple(removed), failed=tuple(failed))


def _undefine(dom: Any, *, keep_nvram: bool = False) -> None:
    """Undefine with everything that belongs only to this guest; an NVRAM file another guest
    uses is kept (KEEP_NVRAM; without either flag QEMU refuses, which keeps it too)."""
    nvram = libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
    if keep_nvram:
        nvram = getattr(libvirt, "VIR_DOMAIN_UNDEFINE_KEEP_NVRAM", 0)
    full = (
        libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
        | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
        | getattr(libvirt, "VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA", 0)
        | nvram
    )
    for flags in (
        full,
        full & ~nvram,
        libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
    ):
        try:
            dom.undefineFlags(flags)
            return
        except libvirt.libvirtError as err:
            if err.get_error_code() not in (
                libvirt.VIR_ERR_INVALID_ARG,
                libvirt.VIR_ERR_NO_SUPPORT,
            ):
                raise
    dom.undefine()


def _remove_disk(host: Host, conn: Any, path: str, in_pool: bool) -> None:
    vol = _volume_for(conn, path) if in_pool else None
    if vol is not None:
        try:
            vol.delete(0)
            return
        except libvirt.libvirtError as err:
            raise ActionFailed(f"Could not delete volume {path}: {libvirt_message(err)}.") from None
    if not host.is_local or host.driver == "test":
        raise ActionFailed(
            f"{path} is not in a storage pool of {host.uri}, so vmtui cannot remove it; "
            "remove it on the host by hand."
        )
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise ActionFailed(f"{path} no longer exists.") from None
    if not stat.S_ISREG(st.st_mode):
        raise ActionFailed(f"{path} is not a regular file; vmtui removes only image files.")
    try:
        os.unlink(path)
    except OSError as err:
        raise ActionFailed(f"Could not remove {path}: {err.strerror}.") from None
