"""Reading domain XML into dataclasses (``xml.etree.ElementTree``, never string slicing)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from vmtui.backend.models import DiskInfo, GraphicsInfo, HostDevice, NicInfo, SharedFolder
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
    tags: tuple[str, ...] = ()  # vmtui's tags (backend/tagxml.py)


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
    src = elem.find("source")
    source = ""
    if src is not None:
        if source_type == "volume":
            pool, vol = src.get("pool", ""), src.get("volume", "")
            source = f"{pool}/{vol}" if pool or vol else ""
        elif source_type == "network":
            source = f"{src.get('protocol', '')}:{src.get('name', '')}".strip(":")
        else:
            source = src.get("file") or src.get("dev") or src.get("dir") or src.get("name") or ""
    target = elem.find("target")
    driver = elem.find("driver")
    return DiskInfo(
        target=target.get("dev", "") if target is not None else "",
        device=elem.get("device", "disk"),
        source=source,
        source_type=source_type,
        bus=target.get("bus", "") if target is not None else "",
        format=driver.get("type", "") if driver is not None else "",
        readonly=elem.find("readonly") is not None,
        shareable=elem.find("shareable") is not None,
    )


def _nic(elem: ET.Element) -> NicInfo:
    kind = elem.get("type", "")
    src = elem.find("source")
    source = ""
    if src is not None:
        source = src.get("network") or src.get("bridge") or src.get("dev") or ""
    mac = elem.find("mac")
    model = elem.find("model")
    target = elem.find("target")
    return NicInfo(
        mac=mac.get("address", "") if mac is not None else "",
        kind=kind,
        source=source,
        model=model.get("type", "") if model is not None else "",
        target=target.get("dev", "") if target is not None else "",
    )


def _graphics(elem: ET.Element) -> GraphicsInfo:
    listen = elem.get("listen", "")
    if not listen:
        lst = elem.find("listen")
        if lst is not None:
            listen = lst.get("address", "") or lst.get("socket", "") or lst.get("type", "")
    port = _int(elem.get("port"), -1)
    return GraphicsInfo(kind=elem.get("type", ""), listen=listen, port=port if port > 0 else None)


def _filesystem(elem: ET.Element) -> SharedFolder:
    driver = elem.find("driver")
    src = elem.find("source")
    target = elem.find("target")
    return SharedFolder(
        driver=(driver.get("type", "") if driver is not None else "") or "9p",
        source=(src.get("dir") or src.get("file") or src.get("name") or "")
        if src is not None
        else "",
        tag=target.get("dir", "") if target is not None else "",
        readonly=elem.find("readonly") is not None,
    )


def _hostdev(elem: ET.Element) -> HostDevice:
    kind = elem.get("type", "") or elem.tag
    src = elem.find("source")
    address = ""
    if src is not None:
        vendor, product = src.find("vendor"), src.find("product")
        addr = src.find("address")
        if vendor is not None or product is not None:
            ids = (x.get("id", "") if x is not None else "" for x in (vendor, product))
            address = ":".join(i.removeprefix("0x") for i in ids)
        elif addr is not None and addr.get("domain") is not None:
            dom, bus = addr.get("domain", "0"), addr.get("bus", "0")
            slot, fn = addr.get("slot", "0"), addr.get("function", "0")
            try:
                address = f"{int(dom, 0):04x}:{int(bus, 0):02x}:{int(slot, 0):02x}.{int(fn, 0):x}"
            except ValueError:
                address = f"{dom}:{bus}:{slot}.{fn}"
        elif addr is not None:
            address = ":".join(f"{k}={v}" for k, v in sorted(addr.attrib.items()))
        else:
            adapter = src.find("adapter")
            address = adapter.get("name", "") if adapter is not None else ""
    return HostDevice(kind=kind, address=address)


def _is_agent(elem: ET.Element) -> bool:
    target = elem.find("target")
    return target is not None and target.get("name", "") == "org.qemu.guest_agent.0"


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
        domain_type=root.get("type", ""),
        vcpus=vcpus,
        max_vcpus=max_vcpus,
        memory_kib=cur_mem,
        max_memory_kib=max_mem,
        arch=os_type.get("arch", "") if os_type is not None else "",
        machine=os_type.get("machine", "") if os_type is not None else "",
        os_type=(os_type.text or "") if os_type is not None else "",
        emulator=_text(root, "devices/emulator"),
        kernel=_text(root, "os/kernel"),
        disks=tuple(_disk(d) for d in devs if d.tag == "disk"),
        nics=tuple(_nic(d) for d in devs if d.tag == "interface"),
        graphics=tuple(_graphics(d) for d in devs if d.tag == "graphics"),
        shared_folders=tuple(_filesystem(d) for d in devs if d.tag == "filesystem"),
        has_console=any(d.tag in ("console", "serial") for d in devs),
        hostdevs=tuple(_hostdev(d) for d in devs if d.tag == "hostdev"),
        has_agent=any(_is_agent(d) for d in devs if d.tag == "channel"),
        tags=tags_from_domain(root),
    )
