"""Throwaway sandboxes on the real daemon (issue 17, section 3).

A tiny guest with a qcow2 data disk in a pool is the base. Sandboxes of it are transient
guests on qcow2 overlays: a marker written raw to /dev/vda inside one is gone after it shuts
down, its overlay files go with it, the base's bytes never change, a second sandbox of the
same base running at the same time never sees the marker, and the poll reads ``sealed``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import libvirt
import pytest

from vmtui.backend import Hypervisor, VmtuiError, sandboxclean
from vmtui.backend.sandbox import create_sandbox

from .tinyguest import READY_MARKER, ConsoleReader
from .waiting import wait_until

MARKER = "VMTUI-SANDBOX-MARKER"


def _sha(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _disk_xml(path: str) -> str:
    disk = ET.Element("disk", type="file", device="disk")
    ET.SubElement(disk, "driver", name="qemu", type="qcow2")
    ET.SubElement(disk, "source", file=path)
    ET.SubElement(disk, "target", dev="vda", bus="virtio")
    return ET.tostring(disk, encoding="unicode")


def _attach(conn: Any, uuid: str) -> ConsoleReader:
    dom = conn.lookupByUUIDString(uuid)
    reader = ConsoleReader.open(dom)
    dom.resume()
    reader.wait_for_line(READY_MARKER, timeout=180)
    return reader


def _head(reader: ConsoleReader) -> str:
    return reader.run(f"dd if=/dev/vda bs={len(MARKER)} count=1 2>/dev/null; echo")


def _remove(conn: Any, uuid: str) -> None:
    with contextlib.suppress(libvirt.libvirtError):
        conn.lookupByUUIDString(uuid).destroy()


@pytest.fixture
def base(libvirt_conn: Any, pool: Any, tiny_domain_factory: Callable[..., str]) -> tuple[str, str]:
    """(base guest name, its data disk's path): a shut-off tiny guest, qcow2 disk in a pool."""
    vol = ET.Element("volume")
    ET.SubElement(vol, "name").text = "base.qcow2"
    ET.SubElement(vol, "capacity", unit="MiB").text = "16"
    ET.SubElement(ET.SubElement(vol, "target"), "format", type="qcow2")
    path = pool.createXML(ET.tostring(vol, encoding="unicode"), 0).path()
    name = tiny_domain_factory("sbx-base", extra_devices_xml=_disk_xml(path))
    return name, path


def test_sandbox_forgets_everything(libvirt_conn: Any, hv: Hypervisor, base: tuple[str, str]):
    name, base_path = base
    before = _sha(base_path)
    made: list[str] = []
    try:
        one = create_sandbox(hv, name, paused=True)
        made.append(one.uuid)
        two = create_sandbox(hv, name, paused=True)  # same base, at the same time
        made.append(two.uuid)
        assert one.name != two.name and set(one.overlays).isdisjoint(two.overlays)
        for path in (*one.overlays, *two.overlays):
            assert os.path.basename(path).startswith(sandboxclean.PREFIX + "")
            assert os.path.exists(path)

        dom = libvirt_conn.lookupByUUIDString(one.uuid)
        assert not dom.isPersistent()
        xml = dom.XMLDesc(0)
        assert "<interface" not in xml and "<channel" not in xml
        guests = {g.uuid: g for g in hv.poll().guests}
        assert guests[one.uuid].isolation == "sealed", guests[one.uuid]
        assert "sandbox" in guests[one.uuid].tags

        with _attach(libvirt_conn, one.uuid) as r1:
            r1.run(f"echo {MARKER} > /dev/vda; sync")
            assert MARKER in _head(r1)
            with _attach(libvirt_conn, two.uuid) as r2:
                assert MARKER not in _head(r2)  # the other sandbox never sees it
            r1.write("poweroff -f\n")
            gone = wait_until(lambda: not _exists(libvirt_conn, one.uuid), 60)
            assert gone, "the sandbox's guest is still there after it powered off"

        # vmtui was running (hv saw the guest): its overlays go when it stops
        assert wait_until(lambda: not any(map(os.path.exists, one.overlays)), 30), one
        assert _sha(base_path) == before, "the base disk was written"

        # the second sandbox ends while this vmtui is closed: the next connect removes its
        # files (another vmtui watching this shared daemon may remove them first: also right)
        fresh_sha = _sha(base_path)
        hv.close()
        libvirt_conn.lookupByUUIDString(two.uuid).destroy()
        assert not _exists(libvirt_conn, two.uuid)
        old = time.time() - 2 * sandboxclean.MIN_AGE  # ended long ago (the connect's age rule)
        for path in two.overlays:
            with contextlib.suppress(FileNotFoundError):
                os.utime(path, (old, old))
        later = Hypervisor(hv.uri)
        later.connect()
        assert wait_until(lambda: not any(map(os.path.exists, two.overlays)), 30)
        assert _sha(base_path) == fresh_sha == before

        # a new sandbox of the same base starts from the base, without the marker
        three = create_sandbox(later, name, paused=True)
        made.append(three.uuid)
        with _attach(libvirt_conn, three.uuid) as r3:
            assert MARKER not in _head(r3)
    finally:
        for uuid in made:
            _remove(libvirt_conn, uuid)
        sandboxclean.sweep(libvirt_conn, min_age=0)
        with contextlib.suppress(NameError):
            later.close()


def _exists(conn: Any, uuid: str) -> bool:
    try:
        conn.lookupByUUIDString(uuid)
    except libvirt.libvirtError:
        return False
    return True


def test_sandbox_refuses_running_base_and_open_network(
    libvirt_conn: Any, hv: Hypervisor, base: tuple[str, str], make_pool: Callable[..., Any]
):
    name, _ = base
    net = ET.Element("network")
    ET.SubElement(net, "name").text = f"vmtui-test-{os.getpid()}-net-ip"
    ET.SubElement(net, "ip", address="192.0.2.1", prefix="24")  # TEST-NET-1: host-only
    network = libvirt_conn.networkDefineXML(ET.tostring(net, encoding="unicode"))
    try:  # defined, never started: its XML is what is checked
        with pytest.raises(VmtuiError, match="isolated network without an IP"):
            create_sandbox(hv, name, network=network.name())
    finally:
        network.undefine()
    dom = libvirt_conn.lookupByName(name)
    dom.create()
    try:
        with pytest.raises(VmtuiError, match="only from a shut-off guest"):
            create_sandbox(hv, name)
    finally:
        dom.destroy()
    assert not [v for p in libvirt_conn.listAllStoragePools(0) for v in _marked(p)]


def _marked(pool: Any) -> list[str]:
    with contextlib.suppress(libvirt.libvirtError):
        return [
            v.name()
            for v in pool.listAllVolumes(0)
            if sandboxclean.owner(v.name())
            and not _exists(pool.connect(), sandboxclean.owner(v.name()))
        ]
    return []


def test_connect_removes_stale_marked_volumes_but_not_young_ones(
    libvirt_conn: Any, libvirtd: str, pool: Any
) -> None:
    """Overlays of a sandbox that ended while no vmtui ran (here: of a guest that no longer
    exists) go at the next connect; one younger than MIN_AGE stays (it may be a sandbox
    another vmtui is creating right now)."""
    import uuid as uuidlib

    def marked(tag: str) -> Any:
        name = sandboxclean.overlay_name(str(uuidlib.uuid4()), tag) + ".qcow2"
        return pool.createXML(
            f"<volume><name>{name}</name><capacity unit='MiB'>1</capacity>"
            "<target><format type='qcow2'/></target></volume>",
            0,
        )

    stale, young = marked("vda").path(), marked("vdb").path()
    old = time.time() - 2 * sandboxclean.MIN_AGE
    os.utime(stale, (old, old))
    plain = pool.createXML(
        "<volume><name>vmtui-sandbox-notes.qcow2</name><capacity unit='MiB'>1</capacity>"
        "<target><format type='qcow2'/></target></volume>",
        0,
    )
    os.utime(plain.path(), (old, old))
    hv = Hypervisor(libvirtd)
    hv.connect()
    try:
        assert wait_until(lambda: not os.path.exists(stale), 30)
    finally:
        hv.close()
    assert os.path.exists(young) and os.path.exists(plain.path())


def test_a_sandbox_on_a_chosen_isolated_network_has_that_one_nic(
    libvirt_conn: Any, hv: Hypervisor, base: tuple[str, str], isolated_network: str
) -> None:
    name, _ = base
    box = create_sandbox(hv, name, network=isolated_network, paused=True)
    try:
        dom = libvirt_conn.lookupByUUIDString(box.uuid)
        root = ET.fromstring(dom.XMLDesc(0))
        nets = [i.find("source").get("network") for i in root.iter("interface")]  # type: ignore[union-attr]
        assert nets == [isolated_network]
        guests = {g.uuid: g for g in hv.poll().guests}
        assert guests[box.uuid].isolation == "guest-only"  # a path to other guests: not sealed
    finally:
        _remove(libvirt_conn, box.uuid)
    assert wait_until(lambda: not any(map(os.path.exists, box.overlays)), 30)
