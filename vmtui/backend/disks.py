"""A guest's disks: list them with their backing chains, add, detach, resize; CD-ROM media.

Never imports Textual; every call blocks (run it in a worker).

* :func:`list_disks` reads the live XML of a running guest (libvirt fills in each disk's
  ``<backingStore>`` chain there) or the definition of a stopped one (the chain is then read
  through :mod:`vmtui.backend.diskusers`, from the image headers or the pool's volumes).
* :func:`attach_disk` adds a new volume in a pool, an existing volume or a file, live and/or to
  the definition (next boot). A file another guest (or this one) already uses is refused, named
  through :func:`vmtui.backend.diskusers.scan`: two guests writing one image corrupt it.
* :func:`resize_disk` grows a running guest's disk with ``blockResize`` and a stopped guest's
  through its storage volume. Shrinking needs ``confirm_shrink`` (the caller shows
  :attr:`ResizePlan.warning`, which names the data lost) and never goes below the data the
  image holds.
* :func:`insert_media` / :func:`eject_media` change a CD-ROM drive's ISO.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import libvirt

from vmtui.backend import diskusers
from vmtui.backend.devices import InvalidInput
from vmtui.backend.errors import ActionFailed
from vmtui.backend.hypervisor import Hypervisor
from vmtui.backend.models import GuestState, sanitise_fields, sanitise_tuple
from vmtui.backend.paths import disk_source
from vmtui.backend.storage import parse_size_bytes
from vmtui.core.format import size as fmt_bytes

BUSES = ("virtio", "scsi", "sata", "ide", "usb")
CACHES = ("default", "none", "writeback", "writethrough", "directsync", "unsafe")
FORMATS = ("qcow2", "raw")
SOURCES = ("new", "volume", "file", "cdrom")  # cdrom: an empty CD-ROM drive
HOTPLUG_BUSES = ("virtio", "scsi", "usb")  # QEMU cannot hot-plug IDE or SATA disks
_PREFIX = {"virtio": "vd", "scsi": "sd", "sata": "sd", "usb": "sd", "ide": "hd"}
_VOLUME_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$")


@dataclass(frozen=True)
class GuestDisk:
    """One disk or CD-ROM drive of a guest, with the images below it (its backing chain)."""

    target: str  # vda, sdb, hdc
    device: str  # disk, cdrom, floppy, lun
    bus: str
    source: str  # the file, "pool/volume", ... ("" for an empty CD-ROM drive)
    format: str
    cache: str  # "" when libvirt's default
    readonly: bool
    chain: tuple[str, ...]  # backing files, nearest first ("…" ends a chain vmtui cannot read)
    capacity: int  # bytes the guest sees (0 when unknown)
    allocation: int  # bytes the image holds on the host (0 when unknown)

    def __post_init__(self) -> None:  # from libvirt / image headers: shown, never markup
        sanitise_fields(self, "target", "device", "bus", "format", "cache")
        sanitise_tuple(self, "chain")

    @property
    def is_cdrom(self) -> bool:
        return self.device == "cdrom"


@dataclass(frozen=True)
class GuestDisks:
    """A guest's disks and what can be done with them."""

    guest: str
    uuid: str
    state: GuestState
    persistent: bool
    machine: str
    disks: tuple[GuestDisk, ...]

    def __post_init__(self) -> None:
        sanitise_fields(self, "guest", "machine")

    def get(self, target: str) -> GuestDisk | None:
        return next((d for d in self.disks if d.target == target), None)

    def bus_choices(self, *, device: str = "disk", live: bool = False) -> tuple[str, ...]:
        """The buses that fit this guest (first: the one to suggest)."""
        return bus_choices(self.machine, device=device, live=live)


@dataclass(frozen=True)
class DiskSpec:
    """What to attach. ``source``: "new" (a volume ``volume`` of ``size`` in ``pool``),
    "volume" (existing ``pool``/``volume``) or "file" (``path``)."""

    source: str
    pool: str = ""
    volume: str = ""
    size: str = ""
    format: str = "qcow2"
    path: str = ""
    bus: str = ""  # "" = the first of bus_choices
    cache: str = "default"
    target: str = ""  # "" = the next free name for the bus
    device: str = "disk"  # or "cdrom"
    readonly: bool = False
    live: bool = True  # to the running guest (ignored when it is not running)
    config: bool = True  # to the definition (next boot)


@dataclass(frozen=True)
class ResizePlan:
    """What a resize will do; ``warning`` names the data lost when it shrinks."""

    guest: str
    target: str
    path: str
    current: int
    new: int
    used: int
    live: bool

    @property
    def shrink(self) -> bool:
        return self.new < self.current

    @property
    def warning(self) -> str:
        if not self.shrink:
            return ""
        lost = self.current - self.new
        return (
            f"Shrinking disk {self.target} of guest {self.guest} from {fmt_bytes(self.current)} "
            f"to {fmt_bytes(self.new)} cuts off its last {fmt_bytes(lost)}: whatever the guest "
            f"keeps past {fmt_bytes(self.new)} (files, the end of a partition, a backup GPT "
            "header) is lost for good. Shrink the file system and partition inside the guest "
            "first."
        )


# ----------------------------------------------------------------------- reading
def bus_choices(machine: str, *, device: str = "disk", live: bool = False) -> tuple[str, ...]:
    """Buses for a new disk (or CD-ROM) of a guest with this machine type; ``live`` leaves
    out the ones QEMU cannot hot-plug."""
    q35 = "q35" in machine
    if device == "cdrom":  # virtio-blk has no removable media
        buses = ["scsi", "sata"] if q35 else ["scsi", "ide", "sata"]
    else:
        buses = ["virtio", "scsi", "sata"] + ([] if q35 else ["ide"]) + ["usb"]
    if live:
        buses = [b for b in buses if b in HOTPLUG_BUSES]
    return tuple(buses)


def _target(disk: ET.Element) -> str:
    el = disk.find("target")
    return el.get("dev", "") if el is not None else ""


def _chain_from_xml(disk: ET.Element) -> tuple[str, ...] | None:
    """The backing chain libvirt wrote into a live XML (None when it wrote none)."""
    store = disk.find("backingStore")
    if store is None:
        return None
    out: list[str] = []
    while store is not None and len(out) < diskusers.MAX_CHAIN:
        src = store.find("source")
        if src is None:
            break
        out.append(src.get("file") or src.get("dev") or src.get("name") or "?")
        store = store.find("backingStore")
    return tuple(out)


def _chain_from_images(ident: diskusers.Identities, path: str, fmt: str) -> tuple[str, ...]:
    out: list[str] = []
    while path and len(out) < diskusers.MAX_CHAIN:
        back, doubt = ident.backing_of(path, fmt)
        if doubt:
            out.append("…")
            break
        if not back:
            break
        out.append(back)
        path, fmt = back, ""  # the backing image's format: read from its own header
    return tuple(out)


def _disk_info(dom: Any, disk: ET.Element, ident: diskusers.Identities, live: bool) -> GuestDisk:
    target = _target(disk)
    driver = disk.find("driver")
    fmt = driver.get("type", "") if driver is not None else ""
    cache = driver.get("cache", "") if driver is not None else ""
    tgt = disk.find("target")
    source = disk_source(disk)
    chain = _chain_from_xml(disk)
    if chain is None:
        path = _file_of(disk)
        chain = _chain_from_images(ident, path, fmt) if path else ()
    capacity = allocation = 0
    if source:
        try:
            capacity, allocation, _physical = dom.blockInfo(target if live else source, 0)
        except libvirt.libvirtError:
            vol = ident.volume(_file_of(disk)) if _file_of(disk) else None
            if vol is not None:
                with contextlib.suppress(libvirt.libvirtError):
                    _kind, capacity, allocation = vol.info()
    return GuestDisk(
        target=target,
        device=disk.get("device", "disk"),
        bus=tgt.get("bus", "") if tgt is not None else "",
        source=source,
        format=fmt,
        cache=cache,
        readonly=disk.find("readonly") is not None,
        chain=chain,
        capacity=int(capacity),
        allocation=int(allocation),
    )


def _file_of(disk: ET.Element) -> str:
    src = disk.find("source")
    if src is None or disk.get("type", "file") not in ("file", "block"):
        return ""
    return src.get("file") or src.get("dev") or ""


def _state(dom: Any) -> GuestState:
    return GuestState.from_libvirt(dom.state()[0])


def list_disks(hv: Hypervisor, uuid: str) -> GuestDisks:
    """The guest's disks and CD-ROM drives, each with its backing chain and size."""
    conn, dom, name = hv.lookup_guest(uuid)
    try:
        state = _state(dom)
        live = state.is_active
        root = ET.fromstring(dom.XMLDesc(0))
        persistent = bool(dom.isPersistent())
        ident = diskusers.Identities(conn, diskusers.access_for(hv.is_local, hv.driver))
        disks = tuple(_disk_info(dom, d, ident, live) for d in root.findall("./devices/disk"))
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, "read the disks of", name) from None
    type_el = root.find("os/type")
    machine = type_el.get("machine", "") if type_el is not None else ""
    return GuestDisks(name, uuid, state, persistent, machine, disks)


# ----------------------------------------------------------------------- adding
def _flags(dom: Any, live: bool, config: bool, guest: str) -> int:
    active = bool(dom.isActive())
    persistent = bool(dom.isPersistent())
    flags = 0
    if live and active:
        flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
    if config and persistent:
        flags |= libvirt.VIR_DOMAIN_AFFECT_CONFIG
    if not flags:
        if not active:
            raise InvalidInput(
                f"Guest {guest} is not running, so only its definition (next boot) can change; "
                "tick that."
            )
        raise InvalidInput(
            f"Choose whether to change the running guest {guest}, its next boot, or both."
        )
    return flags


def _used_targets(dom: Any) -> set[str]:
    used: set[str] = set()
    for flags in (0, libvirt.VIR_DOMAIN_XML_INACTIVE):
        root = ET.fromstring(dom.XMLDesc(flags))
        used |= {_target(d) for d in root.findall("./devices/disk")}
    return used


def next_target(bus: str, used: set[str]) -> str:
    """``vdb`` after ``vda``; ``sdaa`` after ``sdz`` (libvirt's naming)."""
    prefix = _PREFIX.get(bus, "sd")
    for i in range(26 * 27):
        suffix = ""
        n = i
        while True:
            suffix = chr(ord("a") + n % 26) + suffix
            n = n // 26 - 1
            if n < 0:
                break
        if prefix + suffix not in used:
            return prefix + suffix
    raise ActionFailed(f"No free {bus} disk name is left.")


def _image_format(path: str) -> str:
    """qcow2 or raw, from the file's header (local host)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return "raw"
    return "qcow2" if head == b"QFI\xfb" else "raw"


def _check_not_in_use(hv: Hypervisor, conn: Any, path: str, guest: str) -> None:
    usage = diskusers.scan(conn, diskusers.access_for(hv.is_local, hv.driver))
    uses = usage.users(path)
    if uses:
        who = ", ".join(u.describe() for u in uses)
        raise ActionFailed(
            f"{path} is already in use by {who}; nothing was attached to guest {guest}. Two "
            "guests (or two drives) writing one image corrupt it: detach it there first, or "
            "attach a copy."
        )


def _vol_format(vol: Any) -> str:
    root = ET.fromstring(vol.XMLDesc(0))
    el = root.find("target/format")
    return el.get("type", "raw") if el is not None else "raw"


def _pool_named(hv: Hypervisor, conn: Any, pool: str) -> Any:
    try:
        p = conn.storagePoolLookupByName(pool)
        if not p.isActive():
            raise ActionFailed(f"Storage pool {pool} is not active; start it first.")
        return p
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL:
            raise InvalidInput(f"There is no storage pool called {pool}.") from None
        raise hv.wrap_failure(err, f"Could not open storage pool {pool}") from None


def _new_volume_xml(name: str, size: int, fmt: str) -> str:
    root = ET.Element("volume")
    ET.SubElement(root, "name").text = name
    ET.SubElement(root, "capacity", unit="bytes").text = str(size)
    target = ET.SubElement(root, "target")
    ET.SubElement(target, "format", type=fmt)
    if fmt == "qcow2":
        ET.SubElement(target, "compat").text = "1.1"  # needed for checkpoints (backups)
    return ET.tostring(root, encoding="unicode")


def disk_element(path: str, fmt: str, target: str, spec: DiskSpec) -> ET.Element:
    """The ``<disk>`` of a file-backed disk or CD-ROM (an empty drive when ``path`` is "")."""
    disk = ET.Element("disk", type="file", device=spec.device)
    driver = ET.SubElement(disk, "driver", name="qemu", type=fmt)
    if spec.cache and spec.cache != "default":
        driver.set("cache", spec.cache)
    if path:
        ET.SubElement(disk, "source", file=path)
    ET.SubElement(disk, "target", dev=target, bus=spec.bus)
    if spec.readonly or spec.device == "cdrom":
        ET.SubElement(disk, "readonly")
    return disk


def _validate(spec: DiskSpec) -> None:
    if spec.source not in SOURCES:
        raise InvalidInput(
            f"A disk comes from a new volume, a volume or a file, not {spec.source}."
        )
    if spec.bus and spec.bus not in BUSES:
        raise InvalidInput(f"Unknown disk bus {spec.bus}; pick one of {', '.join(BUSES)}.")
    if spec.cache not in CACHES:
        raise InvalidInput(f"Unknown cache mode {spec.cache}; pick one of {', '.join(CACHES)}.")
    if spec.format not in FORMATS:
        raise InvalidInput(f"A new volume is qcow2 or raw, not {spec.format}.")
    if spec.target and not re.fullmatch(r"(vd|sd|hd|xvd)[a-z]{1,3}", spec.target):
        raise InvalidInput(f"{spec.target} is not a disk name such as vdb or sdc.")


def attach_disk(hv: Hypervisor, uuid: str, spec: DiskSpec) -> GuestDisk:
    """Attach a disk as ``spec`` says; returns it as listed afterwards.

    Refused before anything changes: a bus that cannot be hot-plugged into a running guest,
    a file that does not exist or that a guest already uses, a taken target name. A volume
    made for it is deleted again when libvirt refuses the disk."""
    if spec.source == "cdrom":
        spec = DiskSpec(**{**spec.__dict__, "device": "cdrom", "readonly": True})
    _validate(spec)
    conn, dom, guest = hv.lookup_guest(uuid, writable=True)
    try:
        flags = _flags(dom, spec.live, spec.config, guest)
        root = ET.fromstring(dom.XMLDesc(0))
        type_el = root.find("os/type")
        machine = type_el.get("machine", "") if type_el is not None else ""
        live = bool(flags & libvirt.VIR_DOMAIN_AFFECT_LIVE)
        choices = bus_choices(machine, device=spec.device, live=live)
        bus = spec.bus or choices[0]
        if bus not in choices:
            when = "into the running guest" if live else f"to guest {guest}"
            raise InvalidInput(
                f"A {spec.device} on the {bus} bus cannot be added {when}; use "
                f"{' or '.join(choices)}" + (", or add it for the next boot only." if live else ".")
            )
        spec = DiskSpec(**{**spec.__dict__, "bus": bus})
        used = _used_targets(dom)
        target = spec.target or next_target(bus, used)
        if target in used:
            raise InvalidInput(f"Guest {guest} already has a disk {target}.")
        made = None
        if spec.source == "cdrom":
            path, fmt = "", "raw"
        elif spec.source == "file":
            path = spec.path.strip()
            if not path.startswith("/"):
                raise InvalidInput("Give the disk image's full path (starting with /).")
            fmt = _file_format(hv, conn, path)
        elif spec.source == "volume":
            pool = _pool_named(hv, conn, spec.pool)
            try:
                vol = pool.storageVolLookupByName(spec.volume)
            except libvirt.libvirtError:
                raise InvalidInput(
                    f"Storage pool {spec.pool} has no volume called {spec.volume}."
                ) from None
            path, fmt = vol.path(), _vol_format(vol)
        else:
            if not _VOLUME_NAME.match(spec.volume):
                raise InvalidInput(
                    "The new volume's name must be 1-128 letters, digits or _ . + -, starting "
                    "with a letter, digit or _."
                )
            size = parse_size_bytes(spec.size)
            if size <= 0:
                raise InvalidInput("Give the new disk a size above zero, such as 10G.")
            pool = _pool_named(hv, conn, spec.pool)
            if spec.volume in pool.listVolumes():
                raise InvalidInput(f"Storage pool {spec.pool} already has a volume {spec.volume}.")
            path = ""
            fmt = spec.format
        if path:
            _check_not_in_use(hv, conn, path, guest)
        if spec.source == "new":
            made = pool.createXML(_new_volume_xml(spec.volume, size, fmt), 0)
            path = made.path()
        xml = ET.tostring(disk_element(path, fmt, target, spec), encoding="unicode")
        try:
            dom.attachDeviceFlags(xml, flags)
        except libvirt.libvirtError:
            if made is not None:
                with contextlib.suppress(libvirt.libvirtError):
                    made.delete(0)
            raise
    except libvirt.libvirtError as err:
        raise hv.wrap_failure(
            err, f"Could not add a disk to guest {guest}", "change", guest
        ) from None
    finally:
        hv.touch(uuid)
    found = list_disks(hv, uuid).get(target)
    if found is None:  # added to the next boot only, guest running: describe what was added
        return GuestDisk(target, spec.device, bus, path, fmt, spec.cache, spec.readonly, (), 0, 0)
    return found


def _file_format(hv: Hypervisor, conn: Any, path: str) -> str:
    """The format of an existing image; InvalidInput when there is no such file."""
    try:
        vol = conn.storageVolLookupByPath(path)
    except libvirt.libvirtError:
        vol = None
    if vol is not None:
        return _vol_format(vol)
    if hv.is_local:
        if not os.path.isfile(path) and not os.path.exists(path):
            raise InvalidInput(f"There is no file {path} on this host.")
        return _image_format(path)
    raise InvalidInput(
        f"{path} is not a volume of any storage pool on {hv.uri}, so vmtui cannot check it "
        "exists; put it in a pool (or refresh the pool that holds it)."
    )


# ----------------------------------------------------------------------- detaching
def _disk_in(root: ET.Element, target: str) -> ET.Element | None:
    return next((d for d in root.findall("./devices/disk") if _target(d) == target), None)


def detach_disk(
    hv: Hypervisor,
    uuid: str,
    target: str,
    *,
    live: bool = True,
    config: bool = True,
    wait: float = 10.0,
) -> bool:
    """Detach disk ``target`` (its image stays). Returns False when the running guest had not
    released it within ``wait`` seconds (QEMU removes it once the guest agrees)."""
    _conn, dom, guest = hv.lookup_guest(uuid, writable=True)
    try:
        flags = _flags(dom, live, config, guest)
        found = False
        for f, which in (
            (libvirt.VIR_DOMAIN_AFFECT_LIVE, 0),
            (libvirt.VIR_DOMAIN_AFFECT_CONFIG, libvirt.VIR_DOMAIN_XML_INACTIVE),
        ):
            if not flags & f:
                continue
            disk = _disk_in(ET.fromstring(dom.XMLDesc(which)), target)
            if disk is None:
                continue
            found = True
            dom.detachDeviceFlags(ET.tostring(disk, encoding="unicode"), f)
        if not found:
            raise ActionFailed(f"Guest {guest} has no disk {target}.")
        if not flags & libvirt.VIR_DOMAIN_AFFECT_LIVE:
            return True
        deadline = time.monotonic() + wait
        while _disk_in(ET.fromstring(dom.XMLDesc(0)), target) is not None:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True
    except libvirt.libvirtError as err:
        raise hv.wrap_failure(err, f"Could not detach disk {target} of guest {guest}") from None
    finally:
        hv.touch(uuid)


# ----------------------------------------------------------------------- resizing
def resize_plan(hv: Hypervisor, uuid: str, target: str, size: str | int) -> ResizePlan:
    """What resizing disk ``target`` to ``size`` (bytes, or text such as "2G") would do.

    Refuses (InvalidInput / ActionFailed) what cannot be done at all: a CD-ROM, no change,
    a size below the data the image holds, shrinking a running guest's disk."""
    new = size if isinstance(size, int) else parse_size_bytes(size)
    disks = list_disks(hv, uuid)
    disk = disks.get(target)
    if disk is None:
        raise ActionFailed(f"Guest {disks.guest} has no disk {target}.")
    if disk.is_cdrom or not disk.source:
        raise InvalidInput(
            f"{target} of guest {disks.guest} is a CD-ROM drive; its size is the ISO's."
        )
    if disk.readonly:
        raise InvalidInput(f"Disk {target} of guest {disks.guest} is read-only.")
    if new <= 0:
        raise InvalidInput("Give a size above zero, such as 20G.")
    if new == disk.capacity:
        raise InvalidInput(f"Disk {target} is already {fmt_bytes(new)}.")
    live = disks.state.is_active
    if new < disk.capacity:
        if new < disk.allocation:
            raise InvalidInput(
                f"Disk {target} of guest {disks.guest} holds {fmt_bytes(disk.allocation)} of "
                f"data, so it cannot shrink to {fmt_bytes(new)}: that would cut through data "
                "the guest wrote. Nothing was changed."
            )
        if live:
            raise InvalidInput(
                f"Guest {disks.guest} is running: a disk can only grow while it runs. Shut it "
                "down to shrink the disk."
            )
    return ResizePlan(disks.guest, target, disk.source, disk.capacity, new, disk.allocation, live)


def resize_disk(
    hv: Hypervisor, uuid: str, target: str, size: str | int, *, confirm_shrink: bool = False
) -> ResizePlan:
    """Resize disk ``target``: live with blockResize while the guest runs, else through its
    storage volume. Shrinking needs ``confirm_shrink`` (after showing the plan's warning)."""
    plan = resize_plan(hv, uuid, target, size)
    if plan.shrink and not confirm_shrink:
        raise InvalidInput(plan.warning + " Confirm to shrink.")
    conn, dom, guest = hv.lookup_guest(uuid, writable=True)
    try:
        if plan.live:
            dom.blockResize(target, plan.new, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
        else:
            disk = _disk_in(ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)), target)
            path = _file_of(disk) if disk is not None else ""
            try:
                vol = conn.storageVolLookupByPath(path)
            except libvirt.libvirtError:
                raise ActionFailed(
                    f"Disk {target} of guest {guest} ({plan.path}) is not a volume of a storage "
                    "pool, so vmtui cannot resize it while the guest is off; start the guest "
                    "to grow it live, or add its directory as a storage pool."
                ) from None
            vol.resize(plan.new, libvirt.VIR_STORAGE_VOL_RESIZE_SHRINK if plan.shrink else 0)
    except libvirt.libvirtError as err:
        raise hv.wrap_failure(err, f"Could not resize disk {target} of guest {guest}") from None
    finally:
        hv.touch(uuid)
    return plan


# ----------------------------------------------------------------------- CD-ROM
def _cdrom(root: ET.Element, target: str, guest: str) -> ET.Element:
    drives = [d for d in root.findall("./devices/disk") if d.get("device") == "cdrom"]
    if target:
        drives = [d for d in drives if _target(d) == target]
    if not drives:
        what = f"a CD-ROM drive {target}" if target else "a CD-ROM drive"
        raise ActionFailed(f"Guest {guest} has no {what}; add one first (bus scsi or sata).")
    return drives[0]


def _media_flags(dom: Any) -> int:
    flags = 0
    if dom.isActive():
        flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
    if dom.isPersistent():
        flags |= libvirt.VIR_DOMAIN_AFFECT_CONFIG
    return flags


def insert_media(hv: Hypervisor, uuid: str, iso: str, target: str = "") -> str:
    """Put the ISO at ``iso`` into CD-ROM drive ``target`` (the first one when ""); returns
    the drive's name."""
    conn, dom, guest = hv.lookup_guest(uuid, writable=True)
    iso = iso.strip()
    if not iso.startswith("/"):
        raise InvalidInput("Give the ISO image's full path (starting with /).")
    try:
        conn.storageVolLookupByPath(iso)
    except libvirt.libvirtError:
        if not hv.is_local:
            raise InvalidInput(
                f"{iso} is not a volume of any storage pool on {hv.uri}; put it in a pool first."
            ) from None
        if not os.path.isfile(iso):
            raise InvalidInput(
                f"There is no file {iso} on this host; nothing was inserted."
            ) from None
    try:
        drive = copy.deepcopy(_cdrom(ET.fromstring(dom.XMLDesc(0)), target, guest))
        for src in drive.findall("source"):
            drive.remove(src)
        source = ET.Element("source", file=iso)
        drive.insert(1 if drive.find("driver") is not None else 0, source)
        drive.set("type", "file")
        driver = drive.find("driver")
        if driver is not None:
            driver.set("type", "raw")
        dom.updateDeviceFlags(ET.tostring(drive, encoding="unicode"), _media_flags(dom))
        return _target(drive)
    except libvirt.libvirtError as err:
        raise hv.wrap_failure(err, f"Could not insert {iso} into guest {guest}") from None
    finally:
        hv.touch(uuid)


def eject_media(hv: Hypervisor, uuid: str, target: str = "") -> str:
    """Empty CD-ROM drive ``target`` (the first one when ""), even when the guest locked it."""
    _conn, dom, guest = hv.lookup_guest(uuid, writable=True)
    try:
        drive = copy.deepcopy(_cdrom(ET.fromstring(dom.XMLDesc(0)), target, guest))
        for src in drive.findall("source"):
            drive.remove(src)
        for store in drive.findall("backingStore"):
            drive.remove(store)
        flags = _media_flags(dom) | libvirt.VIR_DOMAIN_DEVICE_MODIFY_FORCE
        dom.updateDeviceFlags(ET.tostring(drive, encoding="unicode"), flags)
        return _target(drive)
    except libvirt.libvirtError as err:
        raise hv.wrap_failure(err, f"Could not eject the CD-ROM of guest {guest}") from None
    finally:
        hv.touch(uuid)
