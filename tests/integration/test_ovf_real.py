"""Import an OVA (VirtualBox-style OVF fixture + a tiny VMDK made by qemu-img) into a pool on
the real daemon (issue 17, section 2, OVA/OVF): the guest defines with the mapped CPUs, memory
and a qcow2 disk, no NIC by default, one on an isolated network when named; a wrong .mf
checksum or a cancel midway leaves no volume and no definition."""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import libvirt
import pytest

from vmtui.backend import Hypervisor
from vmtui.backend.archive import ArchiveCancelled, ArchiveError
from vmtui.backend.ovf import import_ovf

FIXTURE = Path(__file__).parent.parent / "data" / "ovf" / "vbox-tiny.ovf"


def _make_ova(tmp: Path, *, bad_sum: bool = False) -> Path:
    vmdk = tmp / "tiny-disk1.vmdk"
    subprocess.run(
        ["qemu-img", "create", "-f", "vmdk", "-o", "subformat=streamOptimized", str(vmdk), "64M"],
        check=True,
        capture_output=True,
    )
    ovf = FIXTURE.read_bytes()
    disk = vmdk.read_bytes()
    disk_sum = "0" * 64 if bad_sum else hashlib.sha256(disk).hexdigest()
    mf = f"SHA256(tiny.ovf)= {hashlib.sha256(ovf).hexdigest()}\n"
    mf += f"SHA256(tiny-disk1.vmdk)= {disk_sum}\n"
    path = tmp / "tiny.ova"
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in (("tiny.ovf", ovf), ("tiny.mf", mf.encode()), ("tiny-disk1.vmdk", disk)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _nothing_left(conn: Any, pool: Any, name: str) -> None:
    with pytest.raises(libvirt.libvirtError):
        conn.lookupByName(name)
    pool.refresh(0)
    assert pool.listVolumes() == []


def test_ova_imports_and_defines(
    hv: Hypervisor,
    libvirt_conn: Any,
    pool: Any,
    tmp_path: Path,
    guest_names: Callable[[str], str],
) -> None:
    name = guest_names("ova")
    result = import_ovf(
        hv, str(_make_ova(tmp_path)), pool=pool.name(), name=name, domain_type="qemu"
    )
    assert result.name == name
    dom = libvirt_conn.lookupByName(name)
    root = ET.fromstring(dom.XMLDesc(0))
    assert root.findtext("vcpu") == "2"
    assert int(root.findtext("memory") or 0) == 256 * 1024
    assert root.findall("devices/interface") == []  # no NIC unless a network is named
    disk = root.find("devices/disk[@device='disk']")
    assert disk is not None
    source = disk.find("source")
    assert source is not None and source.get("file") == result.volumes[0]
    vol = libvirt_conn.storageVolLookupByPath(result.volumes[0])
    assert ET.fromstring(vol.XMLDesc(0)).find("target/format").get("type") == "qcow2"  # type: ignore[union-attr]
    assert vol.info()[1] == 64 << 20
    assert any("NIC" in w for w in result.warnings)
    assert any("sound" in w for w in result.warnings)


def test_ova_nic_on_a_named_isolated_network(
    hv: Hypervisor,
    libvirt_conn: Any,
    pool: Any,
    tmp_path: Path,
    guest_names: Callable[[str], str],
    isolated_network: str,
) -> None:
    name = guest_names("ovanet")
    import_ovf(
        hv,
        str(_make_ova(tmp_path)),
        pool=pool.name(),
        name=name,
        network=isolated_network,
        domain_type="qemu",
    )
    root = ET.fromstring(libvirt_conn.lookupByName(name).XMLDesc(0))
    nics = root.findall("devices/interface")
    assert len(nics) == 1
    assert nics[0].find("source").get("network") == isolated_network  # type: ignore[union-attr]
    assert nics[0].find("model").get("type") == "e1000"  # type: ignore[union-attr]


def test_wrong_mf_checksum_creates_nothing(
    hv: Hypervisor,
    libvirt_conn: Any,
    pool: Any,
    tmp_path: Path,
    guest_names: Callable[[str], str],
) -> None:
    name = guest_names("ovabad")
    with pytest.raises(ArchiveError, match="checksum"):
        import_ovf(hv, str(_make_ova(tmp_path, bad_sum=True)), pool=pool.name(), name=name)
    _nothing_left(libvirt_conn, pool, name)


def test_cancel_during_upload_leaves_nothing(
    hv: Hypervisor,
    libvirt_conn: Any,
    pool: Any,
    tmp_path: Path,
    guest_names: Callable[[str], str],
) -> None:
    name = guest_names("ovacancel")
    cancel = threading.Event()
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        cancel.set()  # the volume exists now: the cancel must remove it

    with pytest.raises(ArchiveCancelled):
        import_ovf(
            hv,
            str(_make_ova(tmp_path)),
            pool=pool.name(),
            name=name,
            domain_type="qemu",
            progress=progress,
            cancel=cancel,
        )
    assert seen
    _nothing_left(libvirt_conn, pool, name)


def test_vmtui_import_dispatches_an_ova_by_content(
    libvirtd: str,
    libvirt_conn: Any,
    pool: Any,
    tmp_path: Path,
    guest_names: Callable[[str], str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from vmtui.cli import main

    name = guest_names("ovacli")
    ova = _make_ova(tmp_path)
    renamed = tmp_path / "appliance.bin"  # not by its suffix: by what it holds
    ova.rename(renamed)
    code = main(["import", str(renamed), "-c", libvirtd, "--pool", pool.name(), "--name", name])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "from the OVF" in out and "not mapped" in out
    assert libvirt_conn.lookupByName(name).name() == name


def test_bare_ovf_with_its_files_beside_it_imports(
    hv: Hypervisor,
    libvirt_conn: Any,
    pool: Any,
    tmp_path: Path,
    guest_names: Callable[[str], str],
) -> None:
    ova = _make_ova(tmp_path)
    folder = tmp_path / "unpacked"
    folder.mkdir()
    with tarfile.open(ova) as tar:
        for member in tar.getmembers():
            fobj = tar.extractfile(member)
            assert fobj is not None
            (folder / member.name).write_bytes(fobj.read())
    name = guest_names("ovf")
    result = import_ovf(
        hv, str(folder / "tiny.ovf"), pool=pool.name(), name=name, domain_type="qemu"
    )
    assert libvirt_conn.lookupByName(name).name() == name
    assert libvirt_conn.storageVolLookupByPath(result.volumes[0]).info()[1] == 64 << 20
    # the .mf beside it is checked too
    (folder / "tiny-disk1.vmdk").write_bytes(b"changed")
    with pytest.raises(ArchiveError, match="checksum"):
        import_ovf(hv, str(folder / "tiny.ovf"), pool=pool.name(), name=name + "b")
