"""Mediated devices: create and remove (backend/mdev.py) against a fake connection.

This host has no mdev-capable hardware and libvirt's test driver cannot create mediated
devices, so what is checked here is the XML vmtui sends, the calls it makes and its
refusals; it is not proven against real hardware."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import libvirt
import pytest

from vmtui.backend.errors import ActionFailed
from vmtui.backend.mdev import create_mdev, mdev_xml, remove_mdev

PARENT = "pci_0000_01_00_0"
UUID = "4b20d080-1b54-4048-85b3-a6a62d165c01"


def _parent_xml(available: int) -> str:
    return f"""<device><name>{PARENT}</name><capability type='pci'>
      <domain>0</domain><bus>1</bus><slot>0</slot><function>0</function>
      <product id='0x1bb3'>GP104GL [Tesla P4]</product><vendor id='0x10de'>NVIDIA</vendor>
      <capability type='mdev_types'><type id='nvidia-63'><name>GRID P4-1Q</name>
      <deviceAPI>vfio-pci</deviceAPI><availableInstances>{available}</availableInstances>
      </type></capability></capability></device>"""


MDEV_XML = f"""<device><name>mdev_{UUID.replace("-", "_")}</name><parent>{PARENT}</parent>
  <capability type='mdev'><type id='nvidia-63'/><uuid>{UUID}</uuid></capability></device>"""


class FakeDev:
    def __init__(self, xml: str, *, active: bool = True, persistent: bool = False) -> None:
        self.xml = xml
        self.active = active
        self.persistent = persistent
        self.calls: list[str] = []
        self.fail_create = False

    def XMLDesc(self, flags: int) -> str:
        return self.xml

    def name(self) -> str:
        return ET.fromstring(self.xml).findtext("name") or "mdev_new"

    def isActive(self) -> bool:
        return self.active

    def isPersistent(self) -> bool:
        return self.persistent

    def create(self, flags: int) -> None:
        self.calls.append("create")
        if self.fail_create:
            raise libvirt.libvirtError("no such type")

    def destroy(self) -> None:
        self.calls.append("destroy")

    def undefine(self, flags: int) -> None:
        self.calls.append("undefine")


class FakeDom:
    def __init__(self, name: str, xml: str) -> None:
        self._name, self._xml = name, xml

    def name(self) -> str:
        return self._name

    def XMLDesc(self, flags: int) -> str:
        return self._xml

    def isActive(self) -> bool:
        return False

    def isPersistent(self) -> bool:
        return True


class FakeConn:
    def __init__(self, available: int = 2, guests: tuple[FakeDom, ...] = ()) -> None:
        self.devices = [FakeDev(_parent_xml(available))]
        self.guests = list(guests)
        self.sent: list[tuple[str, str]] = []
        self.defined: FakeDev | None = None
        self.fail_create = False

    def listAllDevices(self, flags: int) -> list[FakeDev]:
        return self.devices

    def listAllDomains(self, flags: int) -> list[FakeDom]:
        return self.guests

    def nodeDeviceCreateXML(self, xml: str, flags: int) -> FakeDev:
        self.sent.append(("create", xml))
        return FakeDev("<device><name>mdev_made</name></device>")

    def nodeDeviceDefineXML(self, xml: str, flags: int) -> FakeDev:
        self.sent.append(("define", xml))
        self.defined = FakeDev("<device><name>mdev_defined</name></device>")
        self.defined.fail_create = self.fail_create
        return self.defined

    def nodeDeviceLookupByName(self, name: str) -> FakeDev:
        for d in self.devices:
            if d.name() == name:
                return d
        raise libvirt.libvirtError("no device")


class FakeHv:
    uri = "qemu:///fake"

    def __init__(self, conn: FakeConn) -> None:
        self.conn = conn

    def readable_conn(self) -> Any:
        return self.conn

    def writable_conn(self) -> Any:
        return self.conn


def test_the_xml_sent_names_parent_type_and_uuid() -> None:
    root = ET.fromstring(mdev_xml(PARENT, "nvidia-63", UUID))
    assert root.findtext("parent") == PARENT
    cap = root.find("capability")
    assert cap is not None and cap.get("type") == "mdev"
    assert cap.find("type").get("id") == "nvidia-63"  # type: ignore[union-attr]
    assert cap.findtext("uuid") == UUID


def test_create_transient_uses_create_xml() -> None:
    conn = FakeConn()
    name = create_mdev(FakeHv(conn), PARENT, "nvidia-63", uuid=UUID)  # type: ignore[arg-type]
    assert name == "mdev_made"
    assert conn.sent == [("create", mdev_xml(PARENT, "nvidia-63", UUID))]


def test_create_persistent_defines_then_starts_and_undoes_a_failed_start() -> None:
    conn = FakeConn()
    assert create_mdev(FakeHv(conn), PARENT, "nvidia-63", persistent=True) == "mdev_defined"  # type: ignore[arg-type]
    assert conn.sent[0][0] == "define" and conn.defined is not None
    assert conn.defined.calls == ["create"]
    conn = FakeConn()
    conn.fail_create = True
    with pytest.raises(ActionFailed, match="definition was removed"):
        create_mdev(FakeHv(conn), PARENT, "nvidia-63", persistent=True)  # type: ignore[arg-type]
    assert conn.defined is not None and conn.defined.calls == ["create", "undefine"]


@pytest.mark.parametrize(
    ("parent", "type_id", "available", "said"),
    [
        ("pci_0000_09_00_0", "nvidia-63", 2, "offers no mediated device types"),
        (PARENT, "nvidia-99", 2, "has no mediated device type nvidia-99; it offers nvidia-63"),
        (PARENT, "nvidia-63", 0, "no free instance of nvidia-63"),
        (PARENT, "../x y", 2, "not a mediated device type name"),
    ],
)
def test_create_refusals_are_sentences_and_send_nothing(
    parent: str, type_id: str, available: int, said: str
) -> None:
    conn = FakeConn(available)
    with pytest.raises(ActionFailed, match=said):
        create_mdev(FakeHv(conn), parent, type_id)  # type: ignore[arg-type]
    assert conn.sent == []


def test_remove_destroys_and_undefines() -> None:
    conn = FakeConn()
    dev = FakeDev(MDEV_XML, active=True, persistent=True)
    conn.devices.append(dev)
    remove_mdev(FakeHv(conn), dev.name())  # type: ignore[arg-type]
    assert dev.calls == ["destroy", "undefine"]


def test_remove_refusals() -> None:
    held = FakeDom(
        "vgpu-guest",
        f"<domain><devices><hostdev mode='subsystem' type='mdev' model='vfio-pci'><source>"
        f"<address uuid='{UUID}'/></source></hostdev></devices></domain>",
    )
    conn = FakeConn(guests=(held,))
    dev = FakeDev(MDEV_XML)
    conn.devices.append(dev)
    with pytest.raises(ActionFailed, match="Guest vgpu-guest uses mediated device"):
        remove_mdev(FakeHv(conn), dev.name())  # type: ignore[arg-type]
    assert dev.calls == []
    with pytest.raises(ActionFailed, match="is not a mediated device"):
        remove_mdev(FakeHv(conn), PARENT)  # type: ignore[arg-type]
    with pytest.raises(ActionFailed, match="There is no device nope"):
        remove_mdev(FakeHv(conn), "nope")  # type: ignore[arg-type]


def test_list_mdevs_reads_the_mediated_devices() -> None:
    from vmtui.backend.mdev import list_mdevs

    conn = FakeConn()
    conn.devices.append(FakeDev(MDEV_XML))
    hv: Any = FakeHv(conn)
    assert list_mdevs(hv) == [(f"mdev_{UUID.replace('-', '_')}", PARENT, "nvidia-63", UUID)]
