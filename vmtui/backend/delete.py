"""Deleting a guest: what it would touch (its disks, and who else uses them), then the delete.

The guest is forced off and undefined (managed save, snapshot metadata and NVRAM with it);
then only the disk paths the user ticked are removed, never one another guest uses. The
connection comes from the caller (``Hypervisor.delete_plan`` / ``Hypervisor.delete``) through
the small :class:`Host` protocol, so this module does not import the hypervisor.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import libvirt

from vmtui.backend import domxml
from vmtui.backend.errors import ActionFailed, VmtuiError, libvirt_message
from vmtui.backend.models import GuestInfo, GuestState


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
    used_by: tuple[str, ...]  # other guests that use the same path

    @property
    def removable(self) -> bool:
        return not self.used_by


@dataclass(frozen=True)
class DeletePlan:
    guest: GuestInfo
    disks: tuple[DiskPlan, ...]
    snapshots: int
    managed_save: bool


@dataclass(frozen=True)
class DeleteResult:
    name: str
    removed: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]  # (path, reason)


def delete_plan(host: Host, uuid: str) -> DeletePlan:
    """What deleting this guest would touch: its disks (and who else uses them)."""
    conn = host.readable_conn()
    dom = host.lookup_domain(conn, uuid)
    try:
        state = GuestState.from_libvirt(dom.state()[0])
        cfg = domxml.parse_domain(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        snapshots = dom.snapshotNum(0)
        managed = bool(dom.hasManagedSaveImage(0))
        others = _disk_users(conn, exclude=uuid)
    except libvirt.libvirtError as err:
        raise host.wrap_error(err, "inspect", dom.name()) from None
    guest = host.known_guest(uuid) or GuestInfo(uuid=uuid, name=cfg.name, state=state)
    guest = dataclasses.replace(guest, state=state, disks=cfg.disks, name=cfg.name)
    disks = []
    for disk in cfg.disks:
        path = disk.removable_path
        if path is None:
            continue
        disks.append(
            DiskPlan(
                target=disk.target,
                path=path,
                in_pool=_volume_for(conn, path) is not None,
                used_by=tuple(sorted(others.get(path, ()))),
            )
        )
    return DeletePlan(guest=guest, disks=tuple(disks), snapshots=snapshots, managed_save=managed)


def _disk_users(conn: Any, exclude: str) -> dict[str, set[str]]:
    """Path -> names of the other guests whose definitions use it."""
    users: dict[str, set[str]] = {}
    for dom in conn.listAllDomains(0):
        if dom.UUIDString() == exclude:
            continue
        try:
            cfg = domxml.parse_domain(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        except libvirt.libvirtError:
            continue
        for disk in cfg.disks:
            if disk.source:
                users.setdefault(disk.source, set()).add(cfg.name)
    return users


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
                f"The disk {path} is also used by {', '.join(disk.used_by)}; nothing was deleted."
            )
    dom = host.lookup_domain(conn, uuid)
    try:
        persistent = dom.isPersistent()  # a transient guest vanishes when destroyed
        if dom.isActive():
            dom.destroy()
        if persistent:
            _undefine(dom)
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


def _undefine(dom: Any) -> None:
    full = (
        libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
        | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
        | getattr(libvirt, "VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA", 0)
        | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
    )
    for flags in (
        full,
        full & ~libvirt.VIR_DOMAIN_UNDEFINE_NVRAM,
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
