"""Host devices a guest can be given (issue 17, section 1; backend only): PCI and USB devices
and mediated device types from the node device API, which guest holds each (every guest's
XML, live and inactive), and attaching / detaching one with the refusals that keep two guests
from one device or one IOMMU group.

A device given to a guest is a path to the host's hardware: the isolation verdict counts every
``<hostdev>`` as ``host-shared`` (verdict.py; ``tests/unit/test_hostdevices.py`` checks it).
"""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import libvirt

from vmtui.backend.errors import ActionFailed, libvirt_message

if TYPE_CHECKING:
    from vmtui.backend.hypervisor import Hypervisor


@dataclass(frozen=True)
class PciDevice:
    name: str  # libvirt's node device name: pci_0000_00_02_0
    address: str  # 0000:00:02.0
    vendor: str  # "Red Hat, Inc. (0x1af4)"
    product: str
    klass: str  # 0x018000
    driver: str  # the bound kernel driver ("" : none)
    iommu_group: int | None
    group_members: tuple[str, ...]  # the other addresses in its IOMMU group
    holders: tuple[str, ...]  # guests whose XML (live or inactive) has it

    @property
    def ready(self) -> bool:
        """Passthrough can work: the device is in an IOMMU group (managed hostdevs rebind it
        to vfio-pci at start)."""
        return self.iommu_group is not None

    @property
    def why_not_ready(self) -> str:
        return "" if self.ready else "no IOMMU group: the host has no IOMMU (or it is off)"


@dataclass(frozen=True)
class UsbDevice:
    name: str
    bus: int
    device: int
    vendor_id: str  # 0x1d6b
    product_id: str
    vendor: str
    product: str
    holders: tuple[str, ...]


@dataclass(frozen=True)
class MdevType:
    parent: str  # the parent device's node name
    type_id: str  # nvidia-63
    name: str
    api: str
    available: int


@dataclass(frozen=True)
class HostDevices:
    pci: tuple[PciDevice, ...]
    usb: tuple[UsbDevice, ...]
    mdev_types: tuple[MdevType, ...]


def _int(text: str | None, base: int = 0) -> int:
    try:
        return int(text or "0", base)
    except ValueError:
        return 0


def pci_address(domain: int, bus: int, slot: int, function: int) -> str:
    return f"{domain:04x}:{bus:02x}:{slot:02x}.{function:x}"


def _named(elem: ET.Element | None) -> str:
    if elem is None:
        return ""
    ident = elem.get("id", "")
    text = (elem.text or "").strip()
    return f"{text} ({ident})" if text else ident


def _held(xmls: Iterable[tuple[str, str]]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """PCI address -> guests, USB key -> guests (``vid:pid`` and ``bus:device``)."""
    pci: dict[str, set[str]] = {}
    usb: dict[str, set[str]] = {}
    for name, xml in xmls:
        try:
            root = ET.fromstring(xml)
        except ET.ParseError:
            continue
        for hd in root.iter("hostdev"):
            src = hd.find("source")
            if src is None:
                continue
            kind = hd.get("type")
            addr = src.find("address")
            if kind == "pci" and addr is not None:
                key = pci_address(
                    _int(addr.get("domain")),
                    _int(addr.get("bus")),
                    _int(addr.get("slot")),
                    _int(addr.get("function")),
                )
                pci.setdefault(key, set()).add(name)
            elif kind == "usb":
                vendor, product = src.find("vendor"), src.find("product")
                if vendor is not None and product is not None:
                    key = f"{vendor.get('id', '').lower()}:{product.get('id', '').lower()}"
                    usb.setdefault(key, set()).add(name)
                if addr is not None:
                    usb.setdefault(
                        f"{_int(addr.get('bus'))}:{_int(addr.get('device'))}", set()
                    ).add(name)
    return pci, usb


def _guest_xmls(conn: Any) -> list[tuple[str, str]]:
    out = []
    for dom in conn.listAllDomains(0):
        with contextlib.suppress(libvirt.libvirtError):
            name = dom.name()
            out.append((name, dom.XMLDesc(0)))
            if dom.isActive() and dom.isPersistent():
                out.append((name, dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)))
    return out


def list_host_devices(hv: Hypervisor) -> HostDevices:
    """Every PCI and USB device of the host, with who holds it, and mediated device types."""
    conn = hv.readable_conn()
    try:
        devices = conn.listAllDevices(0)
        held_pci, held_usb = _held(_guest_xmls(conn))
    except libvirt.libvirtError as err:
        raise ActionFailed(f"Could not list the host's devices: {libvirt_message(err)}.") from None
    pci: list[PciDevice] = []
    usb: list[UsbDevice] = []
    mdev: list[MdevType] = []
    groups: dict[int, list[str]] = {}
    raw_pci: list[tuple[Any, ...]] = []
    for dev in devices:
        try:
            root = ET.fromstring(dev.XMLDesc(0))
        except (libvirt.libvirtError, ET.ParseError):
            continue
        name = root.findtext("name") or ""
        driver = root.findtext("driver/name") or ""
        for cap in root.findall("capability"):
            kind = cap.get("type")
            if kind == "pci":
                address = pci_address(
                    _int(cap.findtext("domain")),
                    _int(cap.findtext("bus")),
                    _int(cap.findtext("slot")),
                    _int(cap.findtext("function")),
                )
                group_el = cap.find("iommuGroup")
                group = _int(group_el.get("number"), 10) if group_el is not None else None
                members = []
                for a in group_el.findall("address") if group_el is not None else []:
                    members.append(
                        pci_address(
                            _int(a.get("domain")),
                            _int(a.get("bus")),
                            _int(a.get("slot")),
                            _int(a.get("function")),
                        )
                    )
                if group is not None:
                    groups.setdefault(group, []).extend(members or [address])
                raw_pci.append((name, address, cap, driver, group, members))
                for m in cap.iter("type"):
                    if m.get("id") and cap.find("capability[@type='mdev_types']") is not None:
                        mdev.append(
                            MdevType(
                                name,
                                m.get("id", ""),
                                m.findtext("name") or "",
                                m.findtext("deviceAPI") or "",
                                _int(m.findtext("availableInstances"), 10),
                            )
                        )
            elif kind == "usb_device":
                bus, devnum = _int(cap.findtext("bus"), 10), _int(cap.findtext("device"), 10)
                vendor, product = cap.find("vendor"), cap.find("product")
                vid = (vendor.get("id", "") if vendor is not None else "").lower()
                pid = (product.get("id", "") if product is not None else "").lower()
                holders = held_usb.get(f"{vid}:{pid}", set()) | held_usb.get(
                    f"{bus}:{devnum}", set()
                )
                usb.append(
                    UsbDevice(
                        name,
                        bus,
                        devnum,
                        vid,
                        pid,
                        _named(vendor),
                        _named(product),
                        tuple(sorted(holders)),
                    )
                )
    for name, address, cap, driver, group, members in raw_pci:
        others = (
            tuple(sorted(set(members or groups.get(group, [])) - {address}))
            if group is not None
            else ()
        )
        pci.append(
            PciDevice(
                name,
                address,
                _named(cap.find("vendor")),
                _named(cap.find("product")),
                cap.findtext("class") or "",
                driver,
                group,
                others,
                tuple(sorted(held_pci.get(address, set()))),
            )
        )
    pci.sort(key=lambda d: d.address)
    usb.sort(key=lambda d: (d.bus, d.device))
    return HostDevices(tuple(pci), tuple(usb), tuple(mdev))


def hostdev_xml(device: PciDevice | UsbDevice) -> str:
    """The ``<hostdev managed='yes'>`` element that gives a guest this device."""
    if isinstance(device, PciDevice):
        el = ET.Element("hostdev", mode="subsystem", type="pci", managed="yes")
        dom_s, bus, rest = device.address.split(":")
        slot, func = rest.split(".")
        ET.SubElement(
            ET.SubElement(el, "source"),
            "address",
            domain=f"0x{dom_s}",
            bus=f"0x{bus}",
            slot=f"0x{slot}",
            function=f"0x{func}",
        )
    else:
        el = ET.Element("hostdev", mode="subsystem", type="usb", managed="yes")
        src = ET.SubElement(el, "source")
        ET.SubElement(src, "vendor", id=device.vendor_id)
        ET.SubElement(src, "product", id=device.product_id)
        ET.SubElement(src, "address", bus=str(device.bus), device=str(device.device))
    return ET.tostring(el, encoding="unicode")


def _find(devices: HostDevices, name: str) -> PciDevice | UsbDevice:
    for p in devices.pci:
        if name in (p.name, p.address):
            return p
    for u in devices.usb:
        if name == u.name:
            return u
    raise ActionFailed(f"There is no host device {name}.")


def attach_problem(devices: HostDevices, device: PciDevice | UsbDevice, guest: str) -> str:
    """Why ``guest`` may not have ``device`` (a sentence), or ""."""
    others = [h for h in device.holders if h != guest]
    what = f"PCI device {device.address}" if isinstance(device, PciDevice) else "USB device"
    if others:
        return f"{what} is held by guest {others[0]}: detach it there first."
    if isinstance(device, PciDevice):
        by_addr = {d.address: d for d in devices.pci}
        for member in device.group_members:
            peer = by_addr.get(member)
            for holder in peer.holders if peer is not None else ():
                if holder != guest:
                    return (
                        f"{what} shares IOMMU group {device.iommu_group} with {member}, which "
                        f"guest {holder} holds: a group cannot be split across guests."
                    )
    return ""


def _flags(live: bool, config: bool) -> int:
    flags = 0
    if live:
        flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
    if config:
        flags |= libvirt.VIR_DOMAIN_AFFECT_CONFIG
    return flags or libvirt.VIR_DOMAIN_AFFECT_CURRENT


def attach_host_device(
    hv: Hypervisor, uuid: str, device_name: str, *, live: bool = False, config: bool = True
) -> str:
    """Give the guest this host device (managed), now and/or at next boot; refused with a
    sentence naming the guest that holds it or its IOMMU group. Returns the hostdev XML."""
    _, dom, name = hv.lookup_guest(uuid, writable=True)
    devices = list_host_devices(hv)
    device = _find(devices, device_name)
    problem = attach_problem(devices, device, name)
    if problem:
        raise ActionFailed(problem)
    xml = hostdev_xml(device)
    try:
        dom.attachDeviceFlags(xml, _flags(live, config))
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, "attach a host device to", name) from None
    finally:
        hv.touch(uuid)
    return xml


def detach_host_device(
    hv: Hypervisor, uuid: str, device_name: str, *, live: bool = False, config: bool = True
) -> None:
    """Take the host device away from the guest (now and/or from its definition)."""
    _, dom, name = hv.lookup_guest(uuid, writable=True)
    device = _find(list_host_devices(hv), device_name)
    if name not in device.holders:
        raise ActionFailed(f"Guest {name} does not have {device_name}.")
    try:
        dom.detachDeviceFlags(hostdev_xml(device), _flags(live, config))
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, "detach a host device from", name) from None
    finally:
        hv.touch(uuid)
