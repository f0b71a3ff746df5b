"""Create and remove a mediated device (vGPU slice and the like) of a type a parent device
offers (issue 17, section 1): ``create_mdev`` and ``remove_mdev``.

Create: ``virNodeDeviceCreateXML`` (transient: gone at host reboot), or with ``persistent``
``virNodeDeviceDefineXML`` and then ``create`` (undefined again when the start fails). Remove:
``destroy`` when active, ``undefine`` when defined. Refusals are sentences: an unknown parent
or type, no free instance, a device that is not mediated, one a guest holds (by its UUID in
the guest's ``<hostdev type='mdev'>``, live or inactive XML).

NOT proven against real hardware: the host vmtui is built on has no mdev-capable device and
libvirt's test driver cannot create one, so this is tested with a fake connection only
(tests/unit/test_mdev.py: the XML sent, the calls, the refusals).
"""

from __future__ import annotations

import contextlib
import re
import uuid as uuidlib
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

import libvirt

from vmtui.backend.errors import ActionFailed, libvirt_message
from vmtui.backend.hostdevices import _guest_xmls, list_host_devices

if TYPE_CHECKING:
    from vmtui.backend.hypervisor import Hypervisor

_TYPE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def mdev_xml(parent: str, type_id: str, uuid: str) -> str:
    """The node device XML for a new mediated device of ``type_id`` on ``parent``."""
    dev = ET.Element("device")
    ET.SubElement(dev, "parent").text = parent
    cap = ET.SubElement(dev, "capability", type="mdev")
    ET.SubElement(cap, "type", id=type_id)
    ET.SubElement(cap, "uuid").text = uuid
    return ET.tostring(dev, encoding="unicode")


def mdev_holders(xmls: list[tuple[str, str]], uuid: str) -> list[str]:
    """The guests whose XML has ``<hostdev type='mdev'>`` with this UUID."""
    out: set[str] = set()
    for name, xml in xmls:
        try:
            root = ET.fromstring(xml)
        except ET.ParseError:
            continue
        for hd in root.iter("hostdev"):
            addr = hd.find("source/address")
            if (
                hd.get("type") == "mdev"
                and addr is not None
                and (addr.get("uuid") or "").lower() == uuid.lower()
            ):
                out.add(name)
    return sorted(out)


def create_mdev(
    hv: Hypervisor, parent: str, type_id: str, *, persistent: bool = False, uuid: str = ""
) -> str:
    """Make one mediated device of ``type_id`` on ``parent``; its node device name."""
    if not _TYPE_ID.match(type_id):
        raise ActionFailed(f"{type_id!r} is not a mediated device type name.")
    conn = hv.writable_conn()
    types = [t for t in list_host_devices(hv).mdev_types if t.parent == parent]
    if not types:
        raise ActionFailed(f"Device {parent} offers no mediated device types on {hv.uri}.")
    found = next((t for t in types if t.type_id == type_id), None)
    if found is None:
        offered = ", ".join(t.type_id for t in types)
        raise ActionFailed(
            f"Device {parent} has no mediated device type {type_id}; it offers {offered}."
        )
    if found.available <= 0:
        raise ActionFailed(
            f"Device {parent} has no free instance of {type_id} ({found.name or type_id}): "
            "remove one of its mediated devices first."
        )
    xml = mdev_xml(parent, type_id, uuid or str(uuidlib.uuid4()))
    try:
        if not persistent:
            return str(conn.nodeDeviceCreateXML(xml, 0).name())
        dev = conn.nodeDeviceDefineXML(xml, 0)
    except libvirt.libvirtError as err:
        raise ActionFailed(
            f"Could not create a {type_id} mediated device on {parent}: {libvirt_message(err)}."
        ) from None
    try:
        dev.create(0)
    except libvirt.libvirtError as err:
        with contextlib.suppress(libvirt.libvirtError):
            dev.undefine(0)
        raise ActionFailed(
            f"Could not start the {type_id} mediated device on {parent}: "
            f"{libvirt_message(err)}. Its definition was removed."
        ) from None
    return str(dev.name())


def remove_mdev(hv: Hypervisor, name: str) -> None:
    """Stop (destroy) and forget (undefine) the mediated device ``name``."""
    conn = hv.writable_conn()
    try:
        dev = conn.nodeDeviceLookupByName(name)
        root = ET.fromstring(dev.XMLDesc(0))
    except libvirt.libvirtError:
        raise ActionFailed(f"There is no device {name} on {hv.uri}.") from None
    cap = root.find("capability[@type='mdev']")
    if cap is None:
        raise ActionFailed(f"{name} is not a mediated device; vmtui removes only those.")
    uuid = cap.findtext("uuid") or ""
    if uuid:
        holders = mdev_holders(_guest_xmls(conn), uuid)
        if holders:
            raise ActionFailed(
                f"Guest {', '.join(holders)} uses mediated device {name}: detach it there first."
            )
    try:
        active = bool(dev.isActive()) if hasattr(dev, "isActive") else True
        persistent = bool(dev.isPersistent()) if hasattr(dev, "isPersistent") else False
        if active:
            dev.destroy()
        if persistent:
            dev.undefine(0)
    except libvirt.libvirtError as err:
        raise ActionFailed(
            f"Could not remove mediated device {name}: {libvirt_message(err)}."
        ) from None


def list_mdevs(hv: Hypervisor) -> list[tuple[str, str, str, str]]:
    """The host's mediated devices: ``(node device name, parent, type id, uuid)``."""
    conn = hv.readable_conn()
    out = []
    try:
        devices = conn.listAllDevices(0)
    except libvirt.libvirtError as err:
        raise ActionFailed(f"Could not list the host's devices: {libvirt_message(err)}.") from None
    for dev in devices:
        try:
            root = ET.fromstring(dev.XMLDesc(0))
        except (libvirt.libvirtError, ET.ParseError):
            continue
        cap = root.find("capability[@type='mdev']")
        if cap is not None:
            type_el = cap.find("type")
            out.append(
                (
                    root.findtext("name") or "",
                    root.findtext("parent") or "",
                    type_el.get("id", "") if type_el is not None else "",
                    cap.findtext("uuid") or "",
                )
            )
    return sorted(out)
