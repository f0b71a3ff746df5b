"""Disks on the real daemon, proven from inside a booted tiny guest through its console:
a disk added live shows in /sys/block, a grown disk's new size is seen, a detached one goes,
an ISO made with pycdlib is inserted (readable in the guest) and ejected; bad input refused."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pycdlib
import pytest
from rich.console import Console

from tests.conftest import connected_hypervisor
from vmtui.backend import ActionFailed, Hypervisor
from vmtui.backend.devices import InvalidInput
from vmtui.backend.disks import (
    DiskSpec,
    attach_disk,
    detach_disk,
    eject_media,
    insert_media,
    list_disks,
    resize_disk,
    resize_plan,
)
from vmtui.screens.guest import overview

from .conftest import _new_qemu_dir, _remove_domain, _remove_pool, unique_domain_name
from .tinyguest import READY_MARKER, ConsoleReader, TinyGuest, start_with_console, tiny_domain_xml
from .waiting import wait_until

MIB = 1024 * 1024


def qemu_img(*args: str) -> None:
    subprocess.run(["qemu-img", *args], check=True, capture_output=True)


def make_iso(path: Path, text: str) -> None:
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=1, vol_ident="VMTUITEST")
    data = text.encode()
    iso.add_fp(io.BytesIO(data), len(data), "/HELLO.TXT;1")
    iso.write(str(path))
    iso.close()
    path.chmod(0o644)


class Rig:
    """One booted guest (vda: qcow2 overlay on a base image; an empty scsi CD-ROM) and a pool."""

    def __init__(self, conn: Any, guest: TinyGuest) -> None:
        self.dir = _new_qemu_dir()
        self.base = self.dir / "base.qcow2"
        self.top = self.dir / "top.qcow2"
        qemu_img("create", "-f", "qcow2", "-o", "compat=1.1", str(self.base), "32M")
        qemu_img("create", "-f", "qcow2", "-b", str(self.base), "-F", "qcow2", str(self.top))
        for p in (self.base, self.top):
            p.chmod(0o644)
        devices = (
            "<controller type='scsi' model='virtio-scsi'/>"
            "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
            f"<source file='{self.top}'/><target dev='vda' bus='virtio'/></disk>"
            "<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>"
            "<target dev='sda' bus='scsi'/><readonly/></disk>"
        )
        self.name = unique_domain_name("disks")
        self.dom = conn.defineXML(tiny_domain_xml(self.name, guest, extra_devices_xml=devices))
        self.uuid = self.dom.UUIDString()
        pool_el = ET.Element("pool", type="dir")
        ET.SubElement(pool_el, "name").text = unique_domain_name("pool-disks")
        self.pool_dir = _new_qemu_dir()
        ET.SubElement(ET.SubElement(pool_el, "target"), "path").text = str(self.pool_dir)
        self.pool = conn.storagePoolDefineXML(ET.tostring(pool_el, encoding="unicode"), 0)
        self.pool.create(0)
        self.pool_name = self.pool.name()
        self.console: ConsoleReader = start_with_console(self.dom)
        self.console.wait_for_line(READY_MARKER, timeout=180)

    def run(self, command: str) -> str:
        return self.console.run(command, timeout=60)

    def close(self) -> None:
        self.console.close()
        _remove_domain(self.dom)
        _remove_pool(self.pool)
        shutil.rmtree(self.pool_dir, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def rig(libvirt_conn: Any, tiny_guest_files: TinyGuest) -> Iterator[Rig]:
    r = Rig(libvirt_conn, tiny_guest_files)
    yield r
    r.close()


@pytest.fixture(scope="module")
def mhv(libvirtd: str) -> Iterator[Hypervisor]:
    yield from connected_hypervisor(libvirtd)


def sectors(rig: Rig, dev: str) -> int:
    out = rig.run(f"cat /sys/block/{dev}/size 2>/dev/null || echo none")
    m = re.search(r"^(\d+|none)$", out, re.M)
    assert m, out
    return -1 if m.group(1) == "none" else int(m.group(1))


def test_backing_chain_is_listed(mhv: Hypervisor, rig: Rig) -> None:
    disks = list_disks(mhv, rig.uuid)
    vda = disks.get("vda")
    assert vda is not None and vda.source == str(rig.top) and vda.format == "qcow2"
    assert vda.chain == (str(rig.base),)
    assert vda.capacity == 32 * MIB
    cd = disks.get("sda")
    assert cd is not None and cd.is_cdrom and cd.source == ""

    # the guest screen's overview shows the chain too (from the running guest's XML)
    guest = next(g for g in mhv.poll().guests if g.uuid == rig.uuid)
    assert guest.disks[0].chain == (str(rig.base),)
    console = Console(width=300, record=True)
    console.print(overview(guest, None))
    assert f"{rig.top} ← {rig.base}" in console.export_text()


def test_disk_added_live_appears_in_the_guest_then_grows_then_goes(
    mhv: Hypervisor, rig: Rig
) -> None:
    assert sectors(rig, "vdb") == -1
    added = attach_disk(
        mhv,
        rig.uuid,
        DiskSpec(source="new", pool=rig.pool_name, volume="data.qcow2", size="64M"),
    )
    assert added.target == "vdb" and added.bus == "virtio" and added.capacity == 64 * MIB
    for flags in (0, libvirt.VIR_DOMAIN_XML_INACTIVE):  # live and at next boot
        assert "data.qcow2" in rig.dom.XMLDesc(flags)
    assert wait_until(lambda: sectors(rig, "vdb") == 64 * MIB // 512, 30), rig.run("ls /sys/block")
    # the new volume is qcow2 1.1 (checkpoints for backups need it)
    info = subprocess.run(
        ["qemu-img", "info", "-U", str(rig.pool_dir / "data.qcow2")], capture_output=True, text=True
    ).stdout
    assert "compat: 1.1" in info

    # grow live: the guest sees the new size
    plan = resize_disk(mhv, rig.uuid, "vdb", "96M")
    assert plan.live and not plan.shrink
    assert wait_until(lambda: sectors(rig, "vdb") == 96 * MIB // 512, 30)
    # shrinking a running guest's disk is refused, nothing changes
    with pytest.raises(InvalidInput, match="can only grow while it runs"):
        resize_plan(mhv, rig.uuid, "vdb", "80M")
    assert sectors(rig, "vdb") == 96 * MIB // 512

    # detach from the running guest and the definition
    assert detach_disk(mhv, rig.uuid, "vdb", wait=30)
    assert wait_until(lambda: sectors(rig, "vdb") == -1, 30)
    for flags in (0, libvirt.VIR_DOMAIN_XML_INACTIVE):
        assert "data.qcow2" not in rig.dom.XMLDesc(flags)
    assert (rig.pool_dir / "data.qcow2").exists()  # the image stays


def test_iso_is_inserted_read_in_the_guest_and_ejected(mhv: Hypervisor, rig: Rig) -> None:
    iso = rig.dir / "hello.iso"
    make_iso(iso, "VMTUI-ISO-CONTENT\n")
    assert insert_media(mhv, rig.uuid, str(iso)) == "sda"
    assert str(iso) in rig.dom.XMLDesc(0)
    assert str(iso) in rig.dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    out = rig.run(
        "mkdir -p /mnt/cd; for i in 1 2 3 4 5 6 7 8 9 10; do "
        "mount -t iso9660 -o ro /dev/sr0 /mnt/cd 2>/dev/null && break; sleep 1; done; "
        "cat /mnt/cd/hello.txt /mnt/cd/HELLO.TXT 2>/dev/null; umount /mnt/cd"
    )
    assert "VMTUI-ISO-CONTENT" in out
    assert eject_media(mhv, rig.uuid) == "sda"
    assert str(iso) not in rig.dom.XMLDesc(0)
    assert str(iso) not in rig.dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    cd = list_disks(mhv, rig.uuid).get("sda")
    assert cd is not None and cd.source == ""
    gone = rig.run(
        "dd if=/dev/sr0 of=/dev/null bs=2048 count=1 2>/dev/null && echo READ || echo NOMEDIUM"
    )
    assert "NOMEDIUM" in gone


def test_iso_that_does_not_exist_is_refused(mhv: Hypervisor, rig: Rig) -> None:
    before = rig.dom.XMLDesc(0)
    missing = rig.dir / "no-such.iso"
    with pytest.raises(InvalidInput, match=re.escape(f"There is no file {missing}")):
        insert_media(mhv, rig.uuid, str(missing))
    assert rig.dom.XMLDesc(0) == before


def test_disk_already_attached_elsewhere_is_refused(
    mhv: Hypervisor, rig: Rig, libvirt_conn: Any, tiny_guest_files: TinyGuest
) -> None:
    shared = rig.dir / "shared.qcow2"
    qemu_img("create", "-f", "qcow2", str(shared), "16M")
    shared.chmod(0o644)
    other = unique_domain_name("disks-other")
    devices = (
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        f"<source file='{rig.dir}//./shared.qcow2'/><target dev='vda' bus='virtio'/></disk>"
    )
    dom = libvirt_conn.defineXML(
        tiny_domain_xml(other, tiny_guest_files, extra_devices_xml=devices)
    )
    try:
        with pytest.raises(ActionFailed) as err:
            attach_disk(mhv, rig.uuid, DiskSpec(source="file", path=str(shared)))
        assert other in str(err.value) and "disk vda" in str(err.value)
        assert str(shared) not in rig.dom.XMLDesc(0)
        # and the guest's own disk cannot be attached a second time either
        with pytest.raises(ActionFailed, match=re.escape(rig.name)):
            attach_disk(mhv, rig.uuid, DiskSpec(source="file", path=str(rig.top)))
    finally:
        _remove_domain(dom)


def test_offline_resize_through_the_volume_and_shrink_rules(
    mhv: Hypervisor, rig: Rig, libvirt_conn: Any, tiny_guest_files: TinyGuest
) -> None:
    vol_path = rig.pool_dir / "off.raw"
    rig.pool.createXML(
        "<volume><name>off.raw</name><capacity unit='M'>32</capacity>"
        "<allocation unit='M'>0</allocation><target><format type='raw'/></target></volume>",
        0,
    )
    subprocess.run(  # 8 MiB of data at the start
        ["qemu-io", "-f", "raw", "-c", "write -P 0x61 0 8M", str(vol_path)],
        check=True,
        capture_output=True,
    )
    other = unique_domain_name("disks-off")
    devices = (
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
        f"<source file='{vol_path}'/><target dev='vda' bus='virtio'/></disk>"
    )
    dom = libvirt_conn.defineXML(
        tiny_domain_xml(other, tiny_guest_files, extra_devices_xml=devices)
    )
    uuid = dom.UUIDString()
    try:
        with contextlib.suppress(libvirt.libvirtError):
            rig.pool.refresh(0)
        # below the data it holds: refused, nothing changes
        with pytest.raises(InvalidInput, match=r"holds .* of data"):
            resize_plan(mhv, uuid, "vda", "4M")
        # grow offline through the volume
        resize_disk(mhv, uuid, "vda", "48M")
        assert vol_path.stat().st_size == 48 * MIB
        # shrink: only with the confirmation, whose sentence names what is lost
        plan = resize_plan(mhv, uuid, "vda", "40M")
        assert plan.shrink and "last 8.0M" in plan.warning and "lost" in plan.warning
        with pytest.raises(InvalidInput, match="Confirm to shrink"):
            resize_disk(mhv, uuid, "vda", "40M")
        assert vol_path.stat().st_size == 48 * MIB
        resize_disk(mhv, uuid, "vda", "40M", confirm_shrink=True)
        assert vol_path.stat().st_size == 40 * MIB
    finally:
        _remove_domain(dom)


def test_empty_cdrom_drive_added_for_next_boot(mhv: Hypervisor, rig: Rig) -> None:
    added = attach_disk(mhv, rig.uuid, DiskSpec(source="cdrom", live=False, bus="scsi"))
    assert added.is_cdrom and added.target == "sdb" and added.source == ""
    inactive = ET.fromstring(rig.dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    drives = [d for d in inactive.findall("devices/disk") if d.get("device") == "cdrom"]
    assert [d.find("target").get("dev") for d in drives] == ["sda", "sdb"]  # type: ignore[union-attr]
    assert detach_disk(mhv, rig.uuid, "sdb", live=False)
    assert "dev='sdb'" not in rig.dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    # virtio takes no CD-ROM: refused with the buses that would
    with pytest.raises(InvalidInput, match="scsi"):
        attach_disk(mhv, rig.uuid, DiskSpec(source="cdrom", live=False, bus="virtio"))
