"""Reading domain XML into dataclasses (``xml.etree.ElementTree``, never string slicing)."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from vmtui.backend import paths
from vmtui.backend.models import DiskInfo, GraphicsInfo, HostDevice, NicInfo, SharedFolder
from vmtui.backend.paths import HostPath
from vmtui.backend.tagxml import tags_from_domain
from vmtui.core import units


@dataclass(frozen=True)
class DomainConfig:
    """The parts of a domain's XML the dashboard and guest screen show."""

    name: str
    uuid: str
    title: str
    description: str
    domain_type: str
    vcpus: int
    max_vcpus: int
    memory_kib: int
    max_memory_kib: int
    arch: str
    machine: str
    os_type: str
    emulator: str
    kernel: str
    disks: tuple[DiskInfo, ...]
    nics: tuple[NicInfo, ...]
    graphics: tuple[GraphicsInfo, ...]
    shared_folders: tuple[SharedFolder, ...]
    has_console: bool
    hostdevs: tuple[HostDevice, ...] = ()
    has_agent: bool = False
    agent_state: str = ""  # the live agent channel's state attribute
    tags: tuple[str, ...] = ()  # vmtui's tags (backend/tagxml.py)
    # every path but the NICs' links (backend/paths.py): chardevs, disks, folders, devices ...
    paths: tuple[HostPath, ...] = ()


def _word(text: str) -> str:
    """One shared copy of a value many guests repeat (a bus, a format, an arch, a network's
    name ...): the poll keeps every guest's parsed config, and at thousands of guests one
    string per guest per field adds up (issue 12: ~15 parser strings a guest). Interned
    strings are freed with their last user (CPython), so a guest's odd value does not stay."""
    return sys.intern(text) if len(text) <= 64 else text


def _kib(elem: ET.Element | None) -> int:
    if elem is None or not (elem.text or "").strip():
        return 0
    try:
        number = int(elem.text.strip())  # type: ignore[union-attr]
    except ValueError:
        return 0
    return units.xml_kib(number, elem.get("unit"))


def _int(text: str | None, default: int = 0) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _find(root: ET.Element, path: str) -> ET.Element | None:
    """``root.find("a/b")`` without ElementPath: a plain tag is searched in C, a path with
    "/" goes through Python's ElementPath (a third of parse_domain's time at first poll)."""
    elem: ET.Element | None = root
    for part in path.split("/"):
        elem = elem.find(part) if elem is not None else None
    return elem


def _text(root: ET.Element, path: str) -> str:
    elem = _find(root, path)
    return (elem.text or "") if elem is not None else ""


def _disk(elem: ET.Element) -> DiskInfo:
    source_type = elem.get("type", "file")
    target = elem.find("target")
    driver = elem.find("driver")
    return DiskInfo(
        target=_word(target.get("dev", "")) if target is not None else "",
        device=_word(elem.get("device", "disk")),
        source=paths.disk_source(elem),
        source_type=_word(source_type),
        bus=_word(target.get("bus", "")) if target is not None else "",
        format=_word(driver.get("type", "")) if driver is not None else "",
        readonly=elem.find("readonly") is not None,
        shareable=elem.find("shareable") is not None,
        chain=_backing_chain(elem),
    )


def _backing_chain(elem: ET.Element) -> tuple[str, ...]:
    """The images below a disk, nearest first, as libvirt wrote them (``<backingStore>``)."""
    out: list[str] = []
    store = elem.find("backingStore")
    while store is not None and len(out) < 32:
        src = store.find("source")
        if src is None:
            break
        out.append(src.get("file") or src.get("dev") or src.get("name") or "?")
        store = store.find("backingStore")
    return tuple(out)


def _nic_source(kind: str, src: ET.Element | None, elem: ET.Element) -> str:
    """Where a NIC leads, as the user would name it: a network, bridge or host device, a
    vhost-user socket, a socket NIC's address:port, a passed-through card's PCI address."""
    if kind == "ethernet":
        target = elem.find("target")
        return target.get("dev", "") if target is not None else ""
    if src is None:
        return ""
    if kind == "vhostuser":
        return src.get("path", "")
    if kind in ("udp", "mcast", "server", "client"):
        host, port = src.get("address", ""), src.get("port", "")
        return f"{host}:{port}" if port else host
    if kind == "hostdev":
        return paths.hostdev_address(elem)
    return src.get("network") or src.get("bridge") or src.get("dev") or src.get("name") or ""


def _nic(elem: ET.Element) -> NicInfo:
    kind = elem.get("type", "")
    src = elem.find("source")
    source = _nic_source(kind, src, elem)
    mac = elem.find("mac")
    model = elem.find("model")
    target = elem.find("target")
    return NicInfo(
        mac=mac.get("address", "") if mac is not None else "",
        kind=_word(kind),
        source=_word(source),
        model=_word(model.get("type", "")) if model is not None else "",
        target=target.get("dev", "") if target is not None else "",
    )


def _graphics(elem: ET.Element) -> GraphicsInfo:
    port = _int(elem.get("port"), -1)
    listen = paths.graphics_listen(elem)
    return GraphicsInfo(
        kind=_word(elem.get("type", "")), listen=_word(listen), port=port if port > 0 else None
    )


def _filesystem(elem: ET.Element, domain_type: str) -> SharedFolder:
    target = elem.find("target")
    return SharedFolder(
        driver=paths.folder_driver(elem, domain_type),
        source=paths.folder_source(elem),
        tag=target.get("dir", "") if target is not None else "",
        readonly=elem.find("readonly") is not None,
    )


def _hostdev(elem: ET.Element) -> HostDevice:
    return HostDevice(kind=elem.get("type", "") or elem.tag, address=paths.hostdev_address(elem))


def _is_agent(elem: ET.Element) -> bool:
    target = elem.find("target")
    return target is not None and target.get("name", "") == "org.qemu.guest_agent.0"


def _agent_state(devs: list[ET.Element]) -> str:
    """The live XML's agent channel state ("connected", "disconnected"), "" when unknown."""
    for d in devs:
        if d.tag == "channel" and _is_agent(d):
            target = d.find("target")
            return target.get("state", "") if target is not None else ""
    return ""


def parse_domain(xml: str) -> DomainConfig:
    """Parse a domain's XML (as ``virDomainGetXMLDesc`` returns it)."""
    root = ET.fromstring(xml)
    vcpu = root.find("vcpu")
    max_vcpus = _int(vcpu.text.strip() if vcpu is not None and vcpu.text else None, 0)
    vcpus = _int(vcpu.get("current"), max_vcpus) if vcpu is not None else 0
    max_mem = _kib(root.find("memory"))
    cur_mem = _kib(root.find("currentMemory")) or max_mem
    os_type = _find(root, "os/type")
    devices = root.find("devices")
    devs: list[ET.Element] = list(devices) if devices is not None else []
    return DomainConfig(
        name=_text(root, "name"),
        uuid=_text(root, "uuid"),
        title=_text(root, "title"),
        description=_text(root, "description"),
        domain_type=_word(root.get("type", "")),
        vcpus=vcpus,
        max_vcpus=max_vcpus,
        memory_kib=cur_mem,
        max_memory_kib=max_mem,
        arch=_word(os_type.get("arch", "")) if os_type is not None else "",
        machine=_word(os_type.get("machine", "")) if os_type is not None else "",
        os_type=_word(os_type.text or "") if os_type is not None else "",
        emulator=_word(_text(root, "devices/emulator")),
        kernel=_text(root, "os/kernel"),
        disks=tuple(_disk(d) for d in devs if d.tag == "disk"),
        nics=tuple(_nic(d) for d in devs if d.tag == "interface"),
        graphics=tuple(_graphics(d) for d in devs if d.tag == "graphics"),
        shared_folders=tuple(
            _filesystem(d, root.get("type", "")) for d in devs if d.tag == "filesystem"
        ),
        has_console=any(d.tag in ("console", "serial") for d in devs),
        hostdevs=tuple(_hostdev(d) for d in devs if d.tag == "hostdev"),
        has_agent=any(_is_agent(d) for d in devs if d.tag == "channel"),
        agent_state=_word(_agent_state(devs)),
        tags=tuple(map(_word, tags_from_domain(root))),
        paths=paths.device_paths(root),
    )
