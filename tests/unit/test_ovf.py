"""OVA / OVF import: the mapping, the "not mapped" list and bad input (backend/ovf.py)."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from vmtui.backend.archive import ArchiveError
from vmtui.backend.ovf import (
    _check_sums,
    _Package,
    _stopper,
    guest_xml,
    is_ovf_file,
    map_ovf,
    parse_mf,
)

FIXTURE = Path(__file__).parent.parent / "data" / "ovf" / "vbox-tiny.ovf"


def test_virtualbox_ovf_maps_cpus_memory_disks_firmware() -> None:
    g = map_ovf(FIXTURE.read_bytes())
    assert g.name == "tinyvbox"
    assert g.vcpus == 2
    assert g.memory_kib == 256 * 1024
    assert g.firmware == "bios"
    assert [(d.file, d.capacity) for d in g.disks] == [("tiny-disk1.vmdk", 64 << 20)]
    assert g.cdroms == 1
    assert g.nics == ("e1000",)


def test_what_was_not_mapped_is_listed() -> None:
    left = map_ovf(FIXTURE.read_bytes()).not_mapped
    assert any("sound" in x and "not mapped" in x for x in left)
    assert any("ideController0" in x and "SATA" in x for x in left)
    assert any("sataController0" in x for x in left)


def _with_vmware_efi(text: str, how: str) -> str:
    extra = {
        "vmw": '<vmw:Config xmlns:vmw="http://www.vmware.com/schema/ovf" ovf:required="false" '
        'vmw:key="firmware" vmw:value="efi"/>',
        "other": "<vssd:VirtualSystemOtherConfigurationData>firmware=efi"
        "</vssd:VirtualSystemOtherConfigurationData>",
    }[how]
    return text.replace("</VirtualHardwareSection>", extra + "</VirtualHardwareSection>")


@pytest.mark.parametrize("how", ["vmw", "other"])
def test_efi_firmware_from_vmware_config(how: str) -> None:
    assert map_ovf(_with_vmware_efi(FIXTURE.read_text(), how)).firmware == "efi"


def test_efi_firmware_from_virtualbox_machine() -> None:
    text = FIXTURE.read_text().replace('<Firmware type="BIOS"/>', '<Firmware type="EFI"/>')
    assert map_ovf(text).firmware == "efi"


def test_memory_in_byte_power_units() -> None:
    text = (
        FIXTURE.read_text()
        .replace("<rasd:AllocationUnits>MegaBytes", "<rasd:AllocationUnits>byte * 2^30")
        .replace("<rasd:VirtualQuantity>256</rasd:VirtualQuantity>", "<rasd:VirtualQuantity>2<")
    )
    text = text.replace(
        "<rasd:VirtualQuantity>2<", "<rasd:VirtualQuantity>2</rasd:VirtualQuantity>"
    )
    assert map_ovf(text).memory_kib == 2 * 1024 * 1024


def test_guest_xml_has_no_nic_without_a_network() -> None:
    g = map_ovf(FIXTURE.read_bytes())
    root = ET.fromstring(guest_xml(g, "x", [("/p/x.qcow2", "qcow2")], domain_type="qemu"))
    assert root.findall("devices/interface") == []
    assert root.find("os").get("firmware") is None  # type: ignore[union-attr]
    assert root.findtext("vcpu") == "2"
    disk = root.find("devices/disk[@device='disk']")
    assert disk is not None and disk.find("source").get("file") == "/p/x.qcow2"  # type: ignore[union-attr]
    with_net = ET.fromstring(guest_xml(g, "x", [], domain_type="qemu", network="iso"))
    nics = with_net.findall("devices/interface")
    assert [n.find("source").get("network") for n in nics] == ["iso"]  # type: ignore[union-attr]
    efi = map_ovf(_with_vmware_efi(FIXTURE.read_text(), "vmw"))
    assert ET.fromstring(guest_xml(efi, "x", [])).find("os").get("firmware") == "efi"  # type: ignore[union-attr]


def test_not_an_ovf_is_refused() -> None:
    with pytest.raises(ArchiveError, match="not an OVF"):
        map_ovf("<domain/>")
    with pytest.raises(ArchiveError, match="not valid XML"):
        map_ovf("<Envelope")


def test_parse_mf_reads_sha1_and_sha256() -> None:
    text = "SHA1(a.ovf)= " + "ab" * 20 + "\nSHA256 (b.vmdk) = " + "CD" * 32 + "\n"
    assert parse_mf(text) == [("sha1", "a.ovf", "ab" * 20), ("sha256", "b.vmdk", "cd" * 32)]
    with pytest.raises(ArchiveError, match="cannot read"):
        parse_mf("MD5(a)= 00\n")


def _ova(tmp: Path, members: dict[str, bytes]) -> Path:
    path = tmp / "x.ova"
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_dotdot_member_is_refused(tmp_path: Path) -> None:
    ovf = FIXTURE.read_bytes()
    path = _ova(tmp_path, {"x.ovf": ovf, "../evil.vmdk": b"x"})
    assert is_ovf_file(str(path))
    with pytest.raises(ArchiveError, match="outside"):
        _Package(str(path))
    path = _ova(tmp_path, {"x.ovf": ovf, "/abs.vmdk": b"x"})
    with pytest.raises(ArchiveError, match="outside"):
        _Package(str(path))


def test_ovf_naming_a_file_outside_is_refused(tmp_path: Path) -> None:
    ovf = FIXTURE.read_bytes().replace(b'href="tiny-disk1.vmdk"', b'href="../etc/passwd"')
    pkg = _Package(str(_ova(tmp_path, {"x.ovf": ovf})))
    with pytest.raises(ArchiveError, match="outside"):
        pkg.open(map_ovf(ovf).disks[0].file)


def test_wrong_mf_checksum_is_refused(tmp_path: Path) -> None:
    ovf = FIXTURE.read_bytes()
    disk = b"not really a vmdk"
    good = hashlib.sha256(disk).hexdigest()
    mf = f"SHA1(x.ovf)= {hashlib.sha1(ovf).hexdigest()}\nSHA256(tiny-disk1.vmdk)= {good}\n"
    pkg = _Package(
        str(_ova(tmp_path, {"x.ovf": ovf, "x.mf": mf.encode(), "tiny-disk1.vmdk": disk}))
    )
    assert _check_sums(pkg, _stopper(None)) == []
    bad = mf.replace(good, "0" * 64).encode()
    pkg = _Package(str(_ova(tmp_path, {"x.ovf": ovf, "x.mf": bad, "tiny-disk1.vmdk": disk})))
    with pytest.raises(ArchiveError, match="SHA256 checksum"):
        _check_sums(pkg, _stopper(None))


def test_bare_ovf_is_recognised(tmp_path: Path) -> None:
    shutil.copy(FIXTURE, tmp_path / "tiny.ovf")
    assert is_ovf_file(str(tmp_path / "tiny.ovf"))
    pkg = _Package(str(tmp_path / "tiny.ovf"))
    assert not pkg.is_ova and pkg.manifest_name() is None
    (tmp_path / "plain.tar").write_bytes(b"")
    assert not is_ovf_file(str(tmp_path / "plain.tar"))


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")
def test_tiny_vmdk_converts(tmp_path: Path) -> None:
    from vmtui.backend.ovf import _convert

    src = tmp_path / "d.vmdk"
    subprocess.run(
        ["qemu-img", "create", "-f", "vmdk", str(src), "8M"], check=True, capture_output=True
    )
    assert _convert(str(src), str(tmp_path / "d.qcow2"), _stopper(None)) == 8 << 20
    assert (tmp_path / "d.qcow2").read_bytes()[:4] == b"QFI\xfb"
