"""Throwaway sandboxes: a transient copy-on-write guest of a shut-off guest or a disk image.

``create_sandbox(hv, base)`` starts (``virDomainCreateXML``: transient, gone when it stops) a
guest whose every writable disk is a qcow2 overlay on the base's disk, made through the
storage API (``virStorageVolCreateXML`` with a ``<backingStore>``) in the base disk's pool or
the one chosen. The base is only ever read: QEMU opens a backing file read-only, and the
base must be shut off. Several sandboxes of one base may run at once (each has its overlays).

What the sandbox is given, from the base's XML (:func:`sandbox_xml`, pure):

- no NIC, or one on an isolated network without ``<ip>`` when the user picks one (checked);
- no shared folders, host devices, USB redirection, smartcards, shared memory, vsock, TPM,
  NVDIMMs, evdev/passthrough input, parallel ports, no channels at all (no guest agent, no
  clipboard or file transfer: spicevmc / qemu-vdagent), no rng reading a socket;
- serial ports and consoles as ``pty`` only (the console works, nothing else is opened);
- VNC / SPICE on a local unix socket only (``<listen type='socket'/>``); other displays go;
- the tag ``sandbox`` in vmtui's metadata: with no path left, its verdict reads ``sealed``
  (:func:`vmtui.backend.verdict.is_sealed`);
- UEFI: its own NVRAM, copied by libvirt from the base's (``template``) into the overlays'
  pool under the same marker.

Cleanup (:mod:`vmtui.backend.sandboxclean`): the overlays' volume names carry the marker
``vmtui-sandbox-<uuid>-``; they are deleted when vmtui sees the guest stop, and at the next
connect for sandboxes that ended while vmtui was away.
"""

from __future__ import annotations

import contextlib
import os
import uuid as uuidlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import libvirt

from vmtui.backend import sandboxclean
from vmtui.backend.errors import ActionFailed, libvirt_message
from vmtui.backend.models import GuestState
from vmtui.backend.tagxml import NS, tags_from_domain
from vmtui.backend.verdict import network_mode
from vmtui.core.names import guest_name_problem

if TYPE_CHECKING:
    from vmtui.backend.hypervisor import Hypervisor

TAG = "sandbox"
# Devices a sandbox never gets (each is a path to the host, or a channel out of the guest).
_DROPPED = frozenset(
    {
        "interface",
        "filesystem",
        "hostdev",
        "redirdev",
        "redirfilter",
        "smartcard",
        "shmem",
        "vsock",
        "tpm",
        "memory",
        "channel",
        "parallel",
        "watchdog",
    }
)
_LOCAL_GRAPHICS = ("vnc", "spice")


@dataclass(frozen=True)
class Overlay:
    """One disk of the sandbox: an overlay volume on the base's disk."""

    target: str  # vda
    base: str  # the base's path (the backing file)
    base_format: str  # qcow2, raw ...
    capacity: int  # bytes (the base's virtual size)
    path: str = ""  # the overlay's path, once made


@dataclass(frozen=True)
class Sandbox:
    """A started sandbox."""

    uuid: str
    name: str
    base: str  # the base guest's name, or the image's path
    overlays: tuple[str, ...]  # the overlay volumes' paths
    pool: str


def sandbox_name(base: str, taken: set[str]) -> str:
    """``<base>-sandbox``, then ``-sandbox2`` ... the first not in ``taken``."""
    stem = os.path.basename(base).rsplit(".", 1)[0] if "/" in base else base
    name = f"{stem}-sandbox"
    n = 2
    while name in taken:
        name = f"{stem}-sandbox{n}"
        n += 1
    return name


def _set_tags(root: ET.Element) -> None:
    """Add ``sandbox`` to vmtui's tags in the domain's metadata (keeping the others)."""
    tags = [t for t in tags_from_domain(root) if t != TAG] + [TAG]
    metadata = root.find("metadata")
    if metadata is None:
        metadata = ET.SubElement(root, "metadata")
    for old in list(metadata):
        if old.tag in (f"{{{NS}}}tags", "tags"):
            metadata.remove(old)
    elem = ET.SubElement(metadata, f"{{{NS}}}tags")
    for tag in tags:
        ET.SubElement(elem, f"{{{NS}}}tag").text = tag


def _local_graphics(elem: ET.Element) -> None:
    for attr in ("listen", "port", "autoport", "tlsPort", "websocket", "passwd", "socket"):
        elem.attrib.pop(attr, None)
    for child in list(elem):
        if child.tag == "listen":
            elem.remove(child)
    ET.SubElement(elem, "listen", type="socket")


def _pty(elem: ET.Element) -> None:
    elem.set("type", "pty")
    for child in list(elem):
        if child.tag in ("source", "protocol", "log", "reconnect"):
            elem.remove(child)


def writable_disks(root: ET.Element) -> list[tuple[str, str, str, str]]:
    """(target, source type, source path, format) of each writable disk of a domain: what
    gets an overlay. Raises ActionFailed for a disk a sandbox cannot put an overlay on."""
    out = []
    devices = root.find("devices")
    for disk in devices.findall("disk") if devices is not None else []:
        target = disk.find("target")
        dev = target.get("dev", "?") if target is not None else "?"
        if disk.find("readonly") is not None or disk.get("device") in ("cdrom", "floppy"):
            continue
        stype = disk.get("type", "file")
        src = disk.find("source")
        if disk.get("device", "disk") == "lun" or stype not in ("file", "block", "volume"):
            raise ActionFailed(
                f"Disk {dev} is a {stype if stype != 'file' else 'passthrough'} disk: a "
                "sandbox can only put an overlay on an image or a block device."
            )
        if src is None:
            continue
        path = src.get("file") or src.get("dev") or ""
        if stype == "volume":
            path = f"{src.get('pool', '')}/{src.get('volume', '')}"
        driver = disk.find("driver")
        fmt = driver.get("type", "raw") if driver is not None else "raw"
        out.append((dev, stype, path, fmt))
    return out


def sandbox_xml(
    base_xml: str,
    name: str,
    uuid: str,
    overlays: dict[str, str],
    *,
    network: str = "",
    nvram: str = "",
) -> str:
    """The transient sandbox's domain XML from its base's (pure). ``overlays`` maps each
    writable disk's target to its overlay's path; ``network`` an isolated network for one
    NIC ("" : none); ``nvram`` the sandbox's own NVRAM path (for a UEFI base)."""
    ET.register_namespace("vmtui", NS)
    root = ET.fromstring(base_xml)
    for tag in ("uuid", "name", "title", "genid"):
        for old in root.findall(tag):
            root.remove(old)
    ET.SubElement(root, "name").text = name
    ET.SubElement(root, "uuid").text = uuid
    root.attrib.pop("id", None)
    _set_tags(root)
    os_el = root.find("os")
    old_nvram = os_el.find("nvram") if os_el is not None else None
    if os_el is not None and old_nvram is not None:
        template = old_nvram.get("template", "") or (old_nvram.text or "").strip()
        old_nvram.attrib.clear()
        if template:
            old_nvram.set("template", template)
        old_nvram.text = nvram or None
        if not nvram:
            os_el.remove(old_nvram)
    devices = root.find("devices")
    if devices is None:
        devices = ET.SubElement(root, "devices")
    for elem in list(devices):
        tag = elem.tag
        if tag in _DROPPED:
            devices.remove(elem)
        elif tag == "graphics":
            if elem.get("type") in _LOCAL_GRAPHICS:
                _local_graphics(elem)
            else:
                devices.remove(elem)
        elif tag in ("serial", "console"):
            _pty(elem)
        elif tag == "input" and elem.get("type") in ("passthrough", "evdev"):
            devices.remove(elem)
        elif tag == "rng":
            backend = elem.find("backend")
            if backend is not None and backend.get("model") != "random":
                devices.remove(elem)
        elif tag == "disk":
            _overlay_disk(elem, overlays)
    if network:
        nic = ET.SubElement(devices, "interface", type="network")
        ET.SubElement(nic, "source", network=network)
        ET.SubElement(nic, "model", type="virtio")
    return ET.tostring(root, encoding="unicode")


def _overlay_disk(elem: ET.Element, overlays: dict[str, str]) -> None:
    target = elem.find("target")
    dev = target.get("dev", "") if target is not None else ""
    if dev not in overlays:
        return  # read-only, CD-ROM, empty: left as it is (QEMU opens it read-only)
    elem.set("type", "file")
    for child in list(elem):
        if child.tag in ("source", "backingStore", "shareable", "transient"):
            elem.remove(child)
    driver = elem.find("driver")
    if driver is None:
        driver = ET.Element("driver", name="qemu")
        elem.insert(0, driver)
    driver.set("type", "qcow2")
    src = ET.Element("source", file=overlays[dev])
    elem.insert(1, src)


def image_base_xml(conn: Any, image: str, fmt: str, name: str) -> str:
    """A plain domain XML for a disk image alone (1 GiB, 1 vCPU, virtio disk, serial
    console, a VNC display): the base a sandbox of an image is made from."""
    caps = conn.getCapabilities()
    dtype = "kvm" if "type='kvm'" in caps or 'type="kvm"' in caps else "qemu"
    dom = ET.Element("domain", type=dtype)
    ET.SubElement(dom, "name").text = name
    ET.SubElement(dom, "memory", unit="MiB").text = "1024"
    ET.SubElement(dom, "vcpu").text = "1"
    os_el = ET.SubElement(dom, "os")
    ET.SubElement(os_el, "type", arch="x86_64").text = "hvm"
    ET.SubElement(os_el, "boot", dev="hd")
    features = ET.SubElement(dom, "features")
    ET.SubElement(features, "acpi")
    ET.SubElement(features, "apic")
    devices = ET.SubElement(dom, "devices")
    disk = ET.SubElement(devices, "disk", type="file", device="disk")
    ET.SubElement(disk, "driver", name="qemu", type=fmt)
    ET.SubElement(disk, "source", file=image)
    ET.SubElement(disk, "target", dev="vda", bus="virtio")
    serial = ET.SubElement(devices, "serial", type="pty")
    ET.SubElement(serial, "target", port="0")
    console = ET.SubElement(devices, "console", type="pty")
    ET.SubElement(console, "target", type="serial", port="0")
    ET.SubElement(devices, "graphics", type="vnc")
    ET.SubElement(ET.SubElement(devices, "video"), "model", type="vga")
    return ET.tostring(dom, encoding="unicode")


def overlay_xml(name: str, ov: Overlay) -> str:
    """The storage volume XML of one overlay (qcow2 backed by the base, never written)."""
    vol = ET.Element("volume")
    ET.SubElement(vol, "name").text = name
    ET.SubElement(vol, "capacity", unit="bytes").text = str(ov.capacity)
    target = ET.SubElement(vol, "target")
    ET.SubElement(target, "format", type="qcow2")
    backing = ET.SubElement(vol, "backingStore")
    ET.SubElement(backing, "path").text = ov.base
    ET.SubElement(backing, "format", type=ov.base_format)
    return ET.tostring(vol, encoding="unicode")


def _base_volume(conn: Any, stype: str, path: str) -> Any:
    try:
        if stype == "volume":
            pool_name, _, vol_name = path.partition("/")
            return conn.storagePoolLookupByName(pool_name).storageVolLookupByName(vol_name)
        return conn.storageVolLookupByPath(path)
    except libvirt.libvirtError:
        raise ActionFailed(
            f"The base disk {path} is not in a storage pool: put its directory in one (the "
            "sandbox's overlay is made through the storage API)."
        ) from None


def _check_network(conn: Any, network: str) -> None:
    try:
        mode = network_mode(conn.networkLookupByName(network).XMLDesc(0))
    except libvirt.libvirtError as err:
        raise ActionFailed(f"Could not read network {network}: {libvirt_message(err)}.") from None
    if mode != "isolated":
        raise ActionFailed(
            f"Network {network} is {mode}: a sandbox may only join an isolated network "
            "without an IP address (guests on it reach only each other)."
        )


def _find_base(hv: Hypervisor, conn: Any, base: str) -> tuple[str, str]:
    """(base XML, shown name) for a guest's name or UUID, or a disk image's path."""
    known = {g.name: g.uuid for g in hv.known_guests()}
    uuid = known.get(base, base)
    dom = None
    with contextlib.suppress(libvirt.libvirtError):
        dom = conn.lookupByUUIDString(uuid)
    if dom is None:
        with contextlib.suppress(libvirt.libvirtError):
            dom = conn.lookupByName(base)
    if dom is not None:
        name = dom.name()
        state = GuestState.from_libvirt(dom.state()[0])
        if state is not GuestState.SHUTOFF:
            raise ActionFailed(
                f"Guest {name} is {state.label}: a sandbox is made only from a shut-off guest "
                "(its disks must not change under the overlays)."
            )
        return dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), name
    if base.startswith("/"):
        vol = _base_volume(conn, "file", base)
        fmt = ET.fromstring(vol.XMLDesc(0)).find("target/format")
        image_fmt = fmt.get("type", "raw") if fmt is not None else "raw"
        stem = os.path.basename(base).rsplit(".", 1)[0] or "image"
        return image_base_xml(conn, base, image_fmt, stem), base
    raise ActionFailed(f"There is no guest or disk image {base} on {hv.uri}.")


def create_sandbox(
    hv: Hypervisor,
    base: str,
    name: str = "",
    *,
    pool: str = "",
    network: str = "",
    paused: bool = False,
) -> Sandbox:
    """Start a sandbox of ``base`` (a shut-off guest's name or UUID, or an image's path in a
    pool). Overlays go into ``pool`` ("" : the pool of the base's first disk). A failure
    removes every overlay made."""
    conn = hv.writable_conn()
    base_xml, shown = _find_base(hv, conn, base)
    taken = {g.name for g in hv.known_guests()}
    with contextlib.suppress(libvirt.libvirtError):
        taken |= {d.name() for d in conn.listAllDomains(0)}
    name = name or sandbox_name(shown, taken)
    problem = guest_name_problem(name, taken)
    if problem:
        raise ActionFailed(problem)
    if network:
        _check_network(conn, network)
    uuid = str(uuidlib.uuid4())
    disks = writable_disks(ET.fromstring(base_xml))
    planned: list[tuple[Overlay, Any]] = []
    for dev, stype, path, fmt in disks:
        vol = _base_volume(conn, stype, path)
        try:
            capacity = int(vol.info()[1])
            base_path = vol.path()
            vol_pool = vol.storagePoolLookupByVolume()
        except libvirt.libvirtError as err:
            raise ActionFailed(
                f"Could not read the base disk {path}: {libvirt_message(err)}."
            ) from None
        planned.append((Overlay(dev, base_path, fmt, capacity), vol_pool))
    target_pool: Any = None
    if pool:
        try:
            target_pool = conn.storagePoolLookupByName(pool)
        except libvirt.libvirtError as err:
            raise ActionFailed(f"Could not find pool {pool}: {libvirt_message(err)}.") from None
    elif planned:
        target_pool = planned[0][1]
    else:
        raise ActionFailed(f"{shown} has no writable disk: there is nothing to sandbox.")
    pool_name = target_pool.name()
    made: list[Any] = []
    try:
        overlays: dict[str, str] = {}
        for ov, _ in planned:
            vol = target_pool.createXML(
                overlay_xml(sandboxclean.overlay_name(uuid, ov.target) + ".qcow2", ov), 0
            )
            made.append(vol)
            overlays[ov.target] = vol.path()
        nvram = ""
        if "<nvram" in base_xml:
            pool_dir = os.path.dirname(next(iter(overlays.values())))
            nvram = os.path.join(pool_dir, sandboxclean.overlay_name(uuid, "nvram") + ".fd")
        xml = sandbox_xml(base_xml, name, uuid, overlays, network=network, nvram=nvram)
        conn.createXML(xml, libvirt.VIR_DOMAIN_START_PAUSED if paused else 0)
    except libvirt.libvirtError as err:
        for vol in made:
            with contextlib.suppress(libvirt.libvirtError):
                vol.delete(0)
        raise ActionFailed(
            f"Could not start a sandbox of {shown}: {libvirt_message(err)}."
        ) from None
    except BaseException:
        for vol in made:
            with contextlib.suppress(libvirt.libvirtError):
                vol.delete(0)
        raise
    hv.touch(uuid)
    return Sandbox(uuid, name, shown, tuple(overlays.values()), pool_name)


def clean_sandboxes(hv: Hypervisor, only: str = "", min_age: float | None = None) -> list[str]:
    """Delete the overlays of sandboxes whose guest is gone (see :mod:`sandboxclean`)."""
    conn = hv.writable_conn()
    age = sandboxclean.MIN_AGE if min_age is None else min_age
    return sandboxclean.sweep(conn, only=only, min_age=age)


def virsh_words(base: str, name: str) -> list[str]:
    """What the activity log shows for a sandbox (no single virsh command does it)."""
    return ["create", f"<sandbox of {base}>", "--name", name]
