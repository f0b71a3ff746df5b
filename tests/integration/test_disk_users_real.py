"""Who uses a disk, by identity, on the real daemon (issue 14, items 1 and 16).

One scene, built once for the module: a dir pool holding "victim"'s disks, and three other
guests reaching them by roads only the real thing has: a symlink from another directory, a
qcow2 overlay made with ``qemu-img create -b`` outside the pool (only its header names the
backing file), and a disk hot-plugged into a running guest's live XML only (the guest is
started paused: QEMU runs, nothing boots, nothing burns CPU). The test driver versions of the
same checks are in tests/unit/test_disk_users.py.
"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libvirt
import pytest

from vmtui.backend import ActionFailed, Hypervisor
from vmtui.backend.storage import delete_volume, list_volumes

from .conftest import _new_qemu_dir, _remove_domain, _remove_pool, unique_domain_name
from .tinyguest import TinyGuest, tiny_domain_xml

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")


def _disk(path: Path | str, dev: str, fmt: str = "raw") -> str:
    disk = ET.Element("disk", type="file", device="disk")
    ET.SubElement(disk, "driver", name="qemu", type=fmt)
    ET.SubElement(disk, "source", file=str(path))
    ET.SubElement(disk, "target", dev=dev, bus="virtio")
    return ET.tostring(disk, encoding="unicode")


@dataclass
class Scene:
    pool: Any
    pool_dir: Path
    outside: Path
    victim: str  # uuid
    chain: str  # names of the other guests
    linker: str
    runner: str


@pytest.fixture(scope="module")
def scene(libvirt_conn: Any, tiny_guest_files: TinyGuest) -> Iterator[Scene]:
    pool_dir, outside = _new_qemu_dir(), _new_qemu_dir()
    el = ET.Element("pool", type="dir")
    ET.SubElement(el, "name").text = unique_domain_name("pool-users")
    ET.SubElement(ET.SubElement(el, "target"), "path").text = str(pool_dir)
    pool = libvirt_conn.storagePoolDefineXML(ET.tostring(el, encoding="unicode"), 0)
    doms: list[Any] = []
    try:
        pool.create(0)
        img = ["qemu-img", "create", "-q"]
        subprocess.run([*img, "-f", "qcow2", str(pool_dir / "base.qcow2"), "1M"], check=True)
        overlay = outside / "overlay.qcow2"
        base = str(pool_dir / "base.qcow2")
        subprocess.run([*img, "-f", "qcow2", "-F", "qcow2", "-b", base, str(overlay)], check=True)
        for name in ("target.img", "hot.img", "free.img"):
            subprocess.run([*img, "-f", "raw", str(pool_dir / name), "1M"], check=True)
        (outside / "link.img").symlink_to(pool_dir / "target.img")
        pool.refresh(0)

        def define(tag: str, devices: str) -> Any:
            name = unique_domain_name(tag)
            xml = tiny_domain_xml(name, tiny_guest_files, extra_devices_xml=devices)
            doms.append(libvirt_conn.defineXML(xml))
            return doms[-1]

        victim = define(
            "victim",
            _disk(pool_dir / "base.qcow2", "vda", "qcow2")
            + _disk(pool_dir / "target.img", "vdb")
            + _disk(pool_dir / "hot.img", "vdc")
            + _disk(pool_dir / "free.img", "vdd"),
        )
        chain = define("chain", _disk(overlay, "vda", "qcow2"))
        linker = define("linker", _disk(outside / "link.img", "vda"))
        runner = define("runner", "")
        runner.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
        runner.attachDeviceFlags(_disk(pool_dir / "hot.img", "vdb"), libvirt.VIR_DOMAIN_AFFECT_LIVE)
        assert "hot.img" not in runner.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        yield Scene(
            pool,
            pool_dir,
            outside,
            victim.UUIDString(),
            chain.name(),
            linker.name(),
            runner.name(),
        )
    finally:
        for dom in doms:
            _remove_domain(dom)
        _remove_pool(pool)
        for path in (pool_dir, outside):
            shutil.rmtree(path, ignore_errors=True)


def test_delete_plan_sees_symlinks_backing_chains_and_hot_plugged_disks(
    hv: Hypervisor, scene: Scene
) -> None:
    disks = {d.target: d for d in hv.delete_plan(scene.victim).disks}
    assert disks["vda"].uses == (f"{scene.chain} (backing file of vda)",)
    assert disks["vdb"].uses == (f"{scene.linker} (disk vda)",)
    assert disks["vdc"].uses == (f"{scene.runner} (disk vdb)",)
    assert [t for t, d in disks.items() if d.removable] == ["vdd"]


def test_storage_keeps_a_backing_file_and_a_hot_plugged_volume(
    hv: Hypervisor, scene: Scene
) -> None:
    vols = {v.name: v for v in list_volumes(hv, scene.pool.name())}
    assert scene.chain in vols["base.qcow2"].used_by
    assert scene.linker in vols["target.img"].used_by
    assert scene.runner in vols["hot.img"].used_by
    for name in ("base.qcow2", "target.img", "hot.img"):
        with pytest.raises(ActionFailed, match="nothing was deleted"):
            delete_volume(hv, scene.pool.name(), name)
        assert (scene.pool_dir / name).exists()


def test_delete_refuses_shared_disks_then_removes_only_the_free_one(
    hv: Hypervisor, scene: Scene
) -> None:
    for name in ("base.qcow2", "target.img", "hot.img"):
        with pytest.raises(ActionFailed, match="also used by"):
            hv.delete(scene.victim, [str(scene.pool_dir / name)])
        assert (scene.pool_dir / name).exists()
    result = hv.delete(scene.victim, [str(scene.pool_dir / "free.img")])
    assert result.removed == (str(scene.pool_dir / "free.img"),) and result.failed == ()
    assert not (scene.pool_dir / "free.img").exists()
    assert all((scene.pool_dir / n).exists() for n in ("base.qcow2", "target.img", "hot.img"))


def _uefi_xml(name: str, nvram: Path) -> str:
    dom = ET.Element("domain", type="qemu")
    ET.SubElement(dom, "name").text = name
    ET.SubElement(dom, "memory", unit="MiB").text = "64"
    os_el = ET.SubElement(dom, "os")
    ET.SubElement(os_el, "type", arch="x86_64", machine="q35").text = "hvm"
    loader = ET.SubElement(os_el, "loader", readonly="yes", type="pflash")
    loader.text = "/usr/share/OVMF/OVMF_CODE_4M.fd"
    ET.SubElement(os_el, "nvram").text = str(nvram)
    ET.SubElement(ET.SubElement(dom, "features"), "acpi")
    return ET.tostring(dom, encoding="unicode")


@pytest.mark.skipif(
    not Path("/usr/share/OVMF/OVMF_CODE_4M.fd").exists(), reason="needs OVMF firmware"
)
def test_a_shared_nvram_file_is_kept_and_an_own_one_goes(
    hv: Hypervisor, libvirt_conn: Any, qemu_dir: Path
) -> None:
    nvram = qemu_dir / "shared_VARS.fd"
    nvram.write_bytes(b"\0" * 4096)
    first, second = unique_domain_name("nv1"), unique_domain_name("nv2")
    doms = [libvirt_conn.defineXML(_uefi_xml(n, nvram)) for n in (first, second)]
    try:
        plan = hv.delete_plan(doms[0].UUIDString())
        assert plan.nvram == str(nvram)
        assert plan.nvram_kept == f"also used by {second} (NVRAM)"
        hv.delete(doms[0].UUIDString())
        assert nvram.exists()  # the other guest still needs it
        plan = hv.delete_plan(doms[1].UUIDString())
        assert plan.nvram_kept == ""
        hv.delete(doms[1].UUIDString())
        assert not nvram.exists()  # its own now: it goes, as the dialog said
    finally:
        for dom in doms:
            _remove_domain(dom)
