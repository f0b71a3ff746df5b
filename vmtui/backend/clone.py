"""Clone a guest that is shut off or paused. Never imports Textual.

``plan_clone`` reads the guest and says, before anything is made, what the clone gets: a
new name, a new UUID, a new MAC per NIC, and a full copy of each writable disk (through the
storage API, ``virStorageVolCreateXMLFrom``) into the disk's own pool or a chosen one.
What is carried over as it is — read-only disks and CD-ROMs, shared folders, direct-kernel
paths (kernel, initrd, DTB) — is listed so the user sees it before cloning.

``clone_guest`` copies disk by disk (reporting the target volume's allocation while a copy
runs), may be cancelled between disks, and removes every volume it made when it is
cancelled or anything fails: a failed clone leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import uuid as uuidlib
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import libvirt

from vmtui.backend import paths
from vmtui.backend.devices import InvalidInput
from vmtui.backend.errors import ActionFailed, VmtuiError, libvirt_message
from vmtui.backend.hypervisor import Hypervisor
from vmtui.backend.models import GuestState
from vmtui.core.names import guest_name_problem

POLL_SECONDS = 0.5
# A guest in these states does not write to its disks while they are copied.
_STILL = (GuestState.SHUTOFF, GuestState.PAUSED)


class CloneCancelled(VmtuiError):
    """The user stopped the clone; what it had made is removed."""


@dataclass(frozen=True)
class CloneDisk:
    """A disk the clone gets its own full copy of."""

    target: str  # vda
    source: str  # the original's path
    fmt: str  # qcow2, raw ...
    pool: str  # the pool the copy goes into
    volume: str  # the copy's volume name
    capacity: int  # bytes
    allocation: int  # bytes the original uses (what the copy has to write, about)
    compat: str = ""  # the original's qcow2 compat level (the copy keeps it)


@dataclass(frozen=True)
class PoolSpace:
    """Room in one target pool: bytes the copies need (their originals' allocation) and
    bytes free (the pool's ``available``) when the plan was made."""

    pool: str
    needed: int
    available: int


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


@dataclass(frozen=True)
class ClonePlan:
    source_uuid: str
    source_name: str
    state: GuestState
    new_name: str
    disks: tuple[CloneDisk, ...]
    kept_disks: tuple[str, ...]  # "sda: /path (read-only)" shared with the original
    shared_folders: tuple[str, ...]  # host directories, shared as they are
    boot_files: tuple[str, ...]  # "kernel: /path", carried over as they are
    nics: int  # each gets a new MAC
    # what the copy shares with the original or would clash on (shared_resources)
    shared: tuple[str, ...] = ()
    genid: bool = False  # the original has a VM generation ID: the clone gets a new one
    space: tuple[PoolSpace, ...] = ()  # each target pool: what the copies need, what is free

    def review(self) -> list[str]:
        """Lines for the user to read before cloning."""
        out = [f"New guest {self.new_name}, with a new UUID."]
        for d in self.disks:
            out.append(f"Copy {d.target}: {d.source} → {d.pool}/{d.volume} ({d.fmt}).")
        if self.nics:
            out.append(f"{self.nics} network card(s), each with a new MAC address.")
        for line in self.kept_disks:
            out.append(f"Shared with {self.source_name}, not copied: {line}.")
        for path in self.shared_folders:
            out.append(f"Shared folder carried over as it is: {path}.")
        for line in self.boot_files:
            out.append(f"Direct-kernel boot file carried over as it is: {line}.")
        for line in self.shared:
            out.append(f"Shared with {self.source_name}: {line}.")
        if self.genid:
            out.append("A new VM generation ID (genid), as virt-clone gives.")
        for room in self.space:
            out.append(
                f"Pool {room.pool}: the copies need about {_size(room.needed)}; "
                f"{_size(room.available)} free."
            )
        out.append("Snapshots are not copied.")
        if self.state is GuestState.PAUSED:
            out.append(
                "The guest is paused: QEMU may keep its disks locked, and then the copy is "
                "refused; a shut-off guest can always be cloned."
            )
        return out


@dataclass(frozen=True)
class CloneProgress:
    disk: int  # 1-based index of the disk being copied
    disks: int
    target: str
    copied: int  # bytes allocated in the copy so far
    total: int  # bytes allocated in the original

    @property
    def fraction(self) -> float:
        if not self.disks:
            return 1.0
        inside = min(1.0, self.copied / self.total) if self.total else 0.0
        return min(1.0, (self.disk - 1 + inside) / self.disks)


def clone_words(plan: ClonePlan, uri: str = "") -> tuple[str, ...]:
    """The virt-clone command that does about the same (virsh has no clone)."""
    words = ["virt-clone"] + (["--connect", uri] if uri else [])
    words += ["--original", plan.source_name, "--name", plan.new_name, "--auto-clone"]
    return tuple(words)


def suggest_name(name: str, taken: set[str]) -> str:
    base = f"{name}-clone"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}{n}", n + 1
    return candidate


def validate_clone_name(name: str, taken: set[str]) -> str:
    """The clone's name, stripped: the one rule for guest names (core/names.py)."""
    text = name.strip()
    problem = guest_name_problem(text, taken)
    if problem is not None:
        raise InvalidInput(problem)
    return text


def _copy_name(volume: str, old: str, new: str, target: str, taken: set[str]) -> str:
    if old and old in volume:
        candidate = volume.replace(old, new, 1)
    else:
        stem, ext = os.path.splitext(volume)
        candidate = f"{new}-{target}{ext}"
    stem, ext = os.path.splitext(candidate)
    n = 2
    while candidate in taken or candidate == volume:
        candidate, n = f"{stem}-{n}{ext}", n + 1
    return candidate


def _disk_target(disk: ET.Element) -> str:
    target = disk.find("target")
    return target.get("dev", "?") if target is not None else "?"


def _disk_path(disk: ET.Element) -> str:
    source = disk.find("source")
    if source is None:
        return ""
    return source.get("file") or source.get("dev") or ""


def _copied(disk: ET.Element) -> bool:
    """Does the clone get its own copy of this disk (writable, not shared, has a source)?"""
    if disk.get("device", "disk") in ("cdrom", "floppy"):
        return False
    if disk.find("readonly") is not None or disk.find("shareable") is not None:
        return False
    return disk.find("source") is not None


def _read_source(
    hv: Hypervisor, conn: Any, dom: Any, name: str, *, secure: bool = False
) -> tuple[GuestState, str, set[str]]:
    """What planning and cloning both read first: the original's state, its definition
    (with secrets when ``secure``) and the guest names in use."""
    flags = libvirt.VIR_DOMAIN_XML_INACTIVE
    if secure:
        flags |= libvirt.VIR_DOMAIN_XML_SECURE
    try:
        state = GuestState.from_libvirt(dom.state()[0])
        xml = dom.XMLDesc(flags)
        taken = {d.name() for d in conn.listAllDomains(0)}
    except libvirt.libvirtError as err:
        raise hv.wrap_failure(err, f"Could not read guest {name}") from None
    return state, xml, taken


def plan_clone(hv: Hypervisor, uuid: str, new_name: str, target_pool: str = "") -> ClonePlan:
    """Check everything and say what the clone will be; changes nothing.

    ``target_pool`` "" puts each copy in its original's pool."""
    conn, dom, name = hv.lookup_guest(uuid)
    state, xml, taken = _read_source(hv, conn, dom, name)
    if state not in _STILL:
        raise ActionFailed(
            f"Guest {name} is {state.label}: shut it down or pause it first, so its disks "
            "do not change while they are copied."
        )
    new_name = validate_clone_name(new_name, taken)
    root = ET.fromstring(xml)
    pool_objs: dict[str, Any] = {}

    def pool(pname: str) -> Any:
        if pname not in pool_objs:
            try:
                obj = conn.storagePoolLookupByName(pname)
                active = obj.isActive()
            except libvirt.libvirtError as err:
                raise hv.wrap_failure(err, f"Could not use storage pool {pname}") from None
            if not active:
                raise ActionFailed(f"Storage pool {pname} is not active; start it first.")
            pool_objs[pname] = obj
        return pool_objs[pname]

    if target_pool:
        pool(target_pool)
    disks: list[CloneDisk] = []
    kept: list[str] = []
    planned: dict[str, set[str]] = {}
    for disk in root.findall("./devices/disk"):
        target, path = _disk_target(disk), _disk_path(disk)
        if not _copied(disk):
            if path:
                why = "shareable" if disk.find("shareable") is not None else "read-only"
                if disk.get("device") in ("cdrom", "floppy"):
                    why = disk.get("device", "")
                kept.append(f"{target}: {path} ({why})")
            continue
        if disk.get("type") not in ("file", "block", "volume"):
            raise ActionFailed(
                f"Disk {target} of guest {name} is a {disk.get('type')} disk; vmtui copies "
                "only file, block and pool-volume disks."
            )
        try:
            if disk.get("type") == "volume":
                src = disk.find("source")
                assert src is not None
                vol = pool(src.get("pool", "")).storageVolLookupByName(src.get("volume", ""))
            else:
                vol = conn.storageVolLookupByPath(path)
            src_pool = vol.storagePoolLookupByVolume().name()
            _type, capacity, allocation = vol.info()
            vol_xml = ET.fromstring(vol.XMLDesc(0))
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
                raise ActionFailed(
                    f"Disk {target} of guest {name} ({path}) is not in a storage pool, and "
                    "vmtui copies disks through libvirt's storage API. Add its directory as "
                    "a storage pool, then clone again."
                ) from None
            raise hv.wrap_failure(err, f"Could not read disk {target} of guest {name}") from None
        dest = target_pool or src_pool
        if dest not in planned:
            try:
                planned[dest] = set(pool(dest).listVolumes())
            except libvirt.libvirtError as err:
                raise hv.wrap_failure(err, f"Could not list the volumes of pool {dest}") from None
        volname = _copy_name(vol.name(), name, new_name, target, planned[dest])
        planned[dest].add(volname)
        driver = disk.find("driver")
        fmt_el = vol_xml.find("./target/format")
        fmt = (driver.get("type") if driver is not None else None) or (
            fmt_el.get("type") if fmt_el is not None else None
        )
        compat = (vol_xml.findtext("./target/compat") or "").strip()
        disks.append(
            CloneDisk(
                target,
                vol.path(),
                fmt or "raw",
                dest,
                volname,
                int(capacity),
                int(allocation),
                compat,
            )
        )
    shares = tuple(
        src.get("dir") or src.get("file") or src.get("socket") or "?"
        for src in root.findall("./devices/filesystem/source")
    )
    boot = tuple(
        f"{tag}: {(root.findtext(f'os/{tag}') or '').strip()}"
        for tag in ("kernel", "initrd", "dtb")
        if (root.findtext(f"os/{tag}") or "").strip()
    )
    nics = len(root.findall("./devices/interface"))
    space = _check_space(hv, disks, pool)
    return ClonePlan(
        uuid,
        name,
        state,
        new_name,
        tuple(disks),
        tuple(kept),
        shares,
        boot,
        nics,
        shared=shared_resources(root),
        genid=root.find("genid") is not None,
        space=space,
    )


def _check_space(
    hv: Hypervisor, disks: Iterable[CloneDisk], pool: Callable[[str], Any]
) -> tuple[PoolSpace, ...]:
    """Each target pool must have room for its copies (ActionFailed when one has not)."""
    needed: dict[str, int] = {}
    for d in disks:
        needed[d.pool] = needed.get(d.pool, 0) + max(d.allocation, 0)
    out: list[PoolSpace] = []
    for pname, want in needed.items():
        obj = pool(pname)
        try:
            with contextlib.suppress(libvirt.libvirtError):
                obj.refresh(0)  # a directory pool's figures are as of its last refresh
            available = int(obj.info()[3])
        except libvirt.libvirtError as err:
            raise hv.wrap_failure(err, f"Could not read the free space of pool {pname}") from None
        if want > available:
            raise ActionFailed(
                f"Pool {pname} has {_size(available)} free and the copies need about "
                f"{_size(want)}: free some space or clone into another pool. Nothing was made."
            )
        out.append(PoolSpace(pname, want, available))
    return tuple(out)


_CHARDEVS = ("serial", "parallel", "console", "channel", "redirdev", "smartcard")
_AUTO_TAPS = ("vnet", "vif", "macvtap", "macvlan", "testnet")


def shared_resources(root: ET.Element) -> tuple[str, ...]:
    """What a copy of the domain ``root`` shares with the original, or would clash on while
    both run: fixed display ports, host devices, custom NIC target names, shared memory,
    fixed vsock CIDs, files and sockets of character devices, fixed listening ports."""
    out: list[str] = []
    devices = root.find("devices")
    has_serial = devices is not None and devices.find("serial") is not None
    for elem in devices if devices is not None else ():
        tag = elem.tag
        if tag == "graphics":
            kind = elem.get("type", "")
            if elem.get("autoport") == "yes":
                continue
            for attr in ("port", "tlsPort", "websocket"):
                port = elem.get(attr, "")
                if port.isdigit() and int(port) > 0:
                    out.append(f"{kind} display on fixed {attr} {port} (the two would clash)")
        elif tag == "hostdev":
            where = paths.hostdev_address(elem) or "?"
            out.append(
                f"host {elem.get('type', '')} device {where} (one guest at a time can use it)"
            )
        elif tag == "interface":
            target = elem.find("target")
            dev = target.get("dev", "") if target is not None else ""
            if dev and not dev.startswith(_AUTO_TAPS):
                out.append(f"NIC host device name {dev} (two running guests cannot both have it)")
        elif tag == "shmem":
            out.append(f"shared memory '{elem.get('name', '')}' (both guests map the same)")
        elif tag == "vsock":
            cid = elem.find("cid")
            if cid is not None and cid.get("auto", "yes") == "no" and cid.get("address"):
                out.append(f"vsock CID {cid.get('address')} (two running guests cannot share it)")
        elif tag in _CHARDEVS and not paths.is_serial_alias(elem, has_serial):
            out.extend(_chardev_share(elem))
    return tuple(out)


def _chardev_share(elem: ET.Element) -> list[str]:
    ctype = elem.get("type", "")
    src = elem.find("source")
    if src is None:
        return []
    what = f"{elem.tag} ({ctype})"
    path = src.get("path", "")
    if ctype in ("file", "pipe") and path:
        return [f"{what} writes to {path}"]
    if ctype == "unix" and path:
        return [f"{what} socket {path}"]
    if ctype == "dev" and path:
        return [f"{what} host device {path} (one guest at a time)"]
    if ctype in ("tcp", "udp") and src.get("mode", "connect") == "bind" and src.get("service"):
        return [f"{what} listening port {src.get('service')} (the two would clash)"]
    return []


def _random_mac(taken: set[str]) -> str:
    while True:
        mac = "52:54:00:" + ":".join(f"{random.randint(0, 255):02x}" for _ in range(3))
        if mac not in taken:
            taken.add(mac)
            return mac


def _macs_in_use(conn: Any) -> set[str]:
    out: set[str] = set()
    for dom in conn.listAllDomains(0):
        try:
            root = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        except libvirt.libvirtError:
            continue
        out |= {m.get("address", "").lower() for m in root.findall("./devices/interface/mac")}
    return out


def clone_xml(
    source_xml: str,
    plan: ClonePlan,
    new_uuid: str,
    taken_macs: set[str],
    paths: dict[str, str],
) -> str:
    """The clone's domain XML: new name, UUID, MACs and disk paths (``paths``: target ->
    the copy's path); the rest as it was."""
    root = ET.fromstring(source_xml)
    name_el = root.find("name")
    if name_el is None:
        name_el = ET.SubElement(root, "name")
    name_el.text = plan.new_name
    uuid_el = root.find("uuid")
    if uuid_el is None:
        uuid_el = ET.SubElement(root, "uuid")
    uuid_el.text = new_uuid
    for entry in root.findall("./sysinfo/system/entry"):
        if entry.get("name") == "uuid":
            entry.text = new_uuid
    nvram = root.find("./os/nvram")
    if nvram is not None:  # the original's firmware variables file is its own
        nvram.text = None  # libvirt makes a fresh one from the template
        nvram.attrib.pop("type", None)
        for child in list(nvram):
            nvram.remove(child)
    for mac in root.findall("./devices/interface/mac"):
        mac.set("address", _random_mac(taken_macs))
    genid = root.find("genid")
    if genid is not None:  # a copy is a new generation: libvirt makes a new ID for <genid/>
        genid.text = None
    copies = {d.target: d for d in plan.disks}
    for disk in root.findall("./devices/disk"):
        copy = copies.get(_disk_target(disk))
        if copy is None or not _copied(disk):
            continue
        source = disk.find("source")
        assert source is not None
        if disk.get("type") == "volume":
            source.set("pool", copy.pool)
            source.set("volume", copy.volume)
        else:
            source.set("dev" if disk.get("type") == "block" else "file", paths[copy.target])
        driver = disk.find("driver")
        if driver is not None:
            driver.set("type", copy.fmt)
        for child in list(disk):
            if child.tag == "backingStore":
                disk.remove(child)
    return ET.tostring(root, encoding="unicode")


def _volume_xml(copy: CloneDisk) -> str:
    vol = ET.Element("volume")
    ET.SubElement(vol, "name").text = copy.volume
    ET.SubElement(vol, "capacity", {"unit": "bytes"}).text = str(copy.capacity)
    target = ET.SubElement(vol, "target")
    ET.SubElement(target, "format", {"type": copy.fmt})
    if copy.fmt == "qcow2":  # else libvirt writes the old 0.10 format
        ET.SubElement(target, "compat").text = copy.compat or "1.1"
    return ET.tostring(vol, encoding="unicode")


def _copy_disk(
    hv: Hypervisor,
    conn: Any,
    copy: CloneDisk,
    index: int,
    total: int,
    progress: Callable[[CloneProgress], None],
    made: list[Any],
) -> None:
    """Copy one disk in a helper thread while this one reports the copy's allocation."""
    try:
        dest = conn.storagePoolLookupByName(copy.pool)
        src = conn.storageVolLookupByPath(copy.source)
    except libvirt.libvirtError as err:
        raise hv.wrap_failure(err, f"Could not start copying disk {copy.target}") from None
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["vol"] = dest.createXMLFrom(_volume_xml(copy), src, 0)
        except libvirt.libvirtError as err:
            result["error"] = err

    thread = threading.Thread(target=run, name=f"clone-{copy.volume}", daemon=True)
    thread.start()
    progress(CloneProgress(index, total, copy.target, 0, copy.allocation))
    while thread.is_alive():
        thread.join(POLL_SECONDS)
        if not thread.is_alive():
            break
        try:
            allocation = dest.storageVolLookupByName(copy.volume).info()[2]
        except libvirt.libvirtError:
            continue  # not created yet
        progress(CloneProgress(index, total, copy.target, int(allocation), copy.allocation))
    if "error" in result:
        copy_error = result["error"]
        reason = libvirt_message(copy_error)
        if "Failed to get shared" in reason or "Is another process using the image" in reason:
            raise ActionFailed(
                f"Could not copy disk {copy.target}: QEMU keeps {copy.source} locked while "
                "the guest is paused, so it cannot be copied now. Shut the guest down and "
                "clone again."
            )
        raise hv.wrap_failure(copy_error, f"Could not copy disk {copy.target}")
    made.append(result["vol"])
    progress(CloneProgress(index, total, copy.target, copy.allocation, copy.allocation))


def _remove(made: list[Any]) -> list[str]:
    """Delete the volumes a clone made; returns the paths that could not be deleted."""
    left = []
    for vol in reversed(made):
        try:
            path = vol.path()
        except libvirt.libvirtError:
            path = "?"
        try:
            vol.delete(0)
        except libvirt.libvirtError:
            left.append(path)
    return left


def clone_guest(
    hv: Hypervisor,
    plan: ClonePlan,
    progress: Callable[[CloneProgress], None] | None = None,
    cancelled: threading.Event | None = None,
) -> str:
    """Make the clone described by ``plan``; returns its UUID.

    Stops before the next disk when ``cancelled`` is set (raising CloneCancelled). On
    cancel or failure every volume made so far is deleted and no guest is defined."""
    report = progress or (lambda _p: None)
    stop = cancelled or threading.Event()
    conn = hv.writable_conn()
    dom = hv.lookup_domain(conn, plan.source_uuid)
    # with secrets: the clone's definition keeps them (a VNC password, say)
    state, source_xml, taken = _read_source(hv, conn, dom, plan.source_name, secure=True)
    if state not in _STILL:
        raise ActionFailed(
            f"Guest {plan.source_name} is {state.label} now: shut it down or pause it first."
        )
    validate_clone_name(plan.new_name, taken)

    def pool(pname: str) -> Any:
        try:
            return conn.storagePoolLookupByName(pname)
        except libvirt.libvirtError as err:
            raise hv.wrap_failure(err, f"Could not use storage pool {pname}") from None

    _check_space(hv, plan.disks, pool)  # again: the pool may have filled since the review
    made: list[Any] = []
    try:
        for i, copy in enumerate(plan.disks, 1):
            if stop.is_set():
                raise CloneCancelled(_cancel_sentence(plan, i - 1))
            _copy_disk(hv, conn, copy, i, len(plan.disks), report, made)
        if stop.is_set():
            raise CloneCancelled(_cancel_sentence(plan, len(plan.disks)))
        new_uuid = str(uuidlib.uuid4())
        paths = {copy.target: vol.path() for copy, vol in zip(plan.disks, made, strict=True)}
        xml = clone_xml(source_xml, plan, new_uuid, _macs_in_use(conn), paths)
        flag = getattr(libvirt, "VIR_DOMAIN_DEFINE_VALIDATE", 0)
        try:
            conn.defineXMLFlags(xml, flag)
        except libvirt.libvirtError as err:
            raise hv.wrap_failure(err, f"Could not define the clone {plan.new_name}") from None
    except BaseException as err:
        left = _remove(made)
        if left and isinstance(err, VmtuiError):
            raise type(err)(
                f"{err.message} These copies could not be removed: {', '.join(left)}."
            ) from None
        raise
    return new_uuid


def _cancel_sentence(plan: ClonePlan, copied: int) -> str:
    made = f"the {copied} disk copy(ies) it had made were deleted" if copied else "nothing was made"
    return f"Cloning {plan.source_name} was cancelled; {made}."


def pool_names(hv: Hypervisor) -> tuple[str, ...]:
    """The active storage pools a clone's disks can go to (sorted)."""
    conn = hv.readable_conn()
    try:
        pools = conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE)
        return tuple(sorted(p.name() for p in pools))
    except libvirt.libvirtError as err:
        raise hv.wrap_failure(err, f"Could not list the storage pools of {hv.uri}") from None
