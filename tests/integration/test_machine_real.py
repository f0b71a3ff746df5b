"""Boot settings on the real daemon: a UEFI + TPM 2.0 guest is defined and starts (the guest
sees EFI and tpm0); managed save then start brings back a shell variable; boot order and
the boot menu land in the definition; bad firmware choices are refused with a sentence."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import libvirt
import pytest

from vmtui.backend import ActionFailed, Hypervisor
from vmtui.backend.machine import (
    BIOS,
    UEFI,
    UEFI_SECURE,
    add_tpm,
    read_settings,
    remove_tpm,
    set_boot_order,
    set_firmware,
)
from vmtui.widgets.guest_table import state_word

from .tinyguest import READY_MARKER, ConsoleReader, start_with_console


def test_uefi_tpm_guest_defines_and_starts(
    hv: Hypervisor, libvirt_conn: Any, tiny_domain_factory: Callable[..., str]
) -> None:
    name = tiny_domain_factory("uefi", memory_mib=512)  # OVMF under TCG hangs at 128 MiB
    dom = libvirt_conn.lookupByName(name)
    uuid = dom.UUIDString()
    before = read_settings(hv, uuid)
    assert before.firmware == BIOS and before.tpm == ""
    assert UEFI in before.firmware_choices and before.tpm_possible
    assert UEFI_SECURE not in before.firmware_choices  # machine 'pc': no SMM, no secure boot
    with pytest.raises(ActionFailed, match="secure boot needs the q35 machine type"):
        set_firmware(hv, uuid, UEFI_SECURE)

    set_firmware(hv, uuid, UEFI)
    add_tpm(hv, uuid)
    after = read_settings(hv, uuid)
    assert after.firmware == UEFI and after.tpm.startswith("2.0 tpm-tis")
    with pytest.raises(ActionFailed, match="already has a TPM"):
        add_tpm(hv, uuid)

    reader = start_with_console(dom)
    try:
        reader.wait_for_line(READY_MARKER, timeout=300)
        live = ET.fromstring(dom.XMLDesc(0))
        assert (live.findtext("os/loader") or "").endswith(".fd")  # libvirt picked OVMF
        assert live.findtext("os/nvram")
        out = reader.run("[ -d /sys/firmware/efi ] && echo EFI-YES; ls /sys/class/tpm/", timeout=60)
        assert "EFI-YES" in out and "tpm0" in out
    finally:
        reader.close()
        dom.destroy()

    remove_tpm(hv, uuid)
    set_firmware(hv, uuid, BIOS)
    back = read_settings(hv, uuid)
    assert back.firmware == BIOS and back.tpm == ""


def test_managed_save_then_start_brings_back_a_shell_variable(
    hv: Hypervisor, libvirt_conn: Any, tiny_domain_factory: Callable[..., str]
) -> None:
    name = tiny_domain_factory("msave")
    dom = libvirt_conn.lookupByName(name)
    uuid = dom.UUIDString()
    reader: ConsoleReader = start_with_console(dom)
    try:
        reader.wait_for_line(READY_MARKER, timeout=180)
        assert "ok" in reader.run("VMTUI_KEEP=kept-$((40+2)); echo ok", timeout=60)
        hv.managed_save(uuid)
        assert not dom.isActive() and dom.hasManagedSaveImage(0)
        guest = next(g for g in hv.poll().guests if g.uuid == uuid)
        assert guest.has_managed_save
        assert state_word(guest) == "saved"
        reader.close()
        hv.start(uuid)  # restores the saved state
        assert not dom.hasManagedSaveImage(0)
        reader = ConsoleReader.open(dom, force=True)
        out = reader.run('echo "v=$VMTUI_KEEP"', timeout=60)
        assert "v=kept-42" in out
    finally:
        reader.close()
    dom.destroy()
    with pytest.raises(ActionFailed, match="not running"):
        hv.managed_save(uuid)  # nothing to save


def test_boot_order_and_menu_in_the_definition(
    hv: Hypervisor, libvirt_conn: Any, tiny_domain_factory: Callable[..., str]
) -> None:
    disks = "".join(
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
        f"<source file='/var/tmp/vmtui-nonexistent-{d}.img'/><target dev='{d}' bus='virtio'/>"
        "</disk>"
        for d in ("vda", "vdb")
    )
    name = tiny_domain_factory("boot", extra_devices_xml=disks)
    dom = libvirt_conn.lookupByName(name)
    uuid = dom.UUIDString()
    set_boot_order(hv, uuid, ["vdb", "vda"], menu=True)
    root = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    orders = {
        d.find("target").get("dev"): d.find("boot").get("order")  # type: ignore[union-attr]
        for d in root.findall("devices/disk")
    }
    assert orders == {"vda": "2", "vdb": "1"}
    assert root.find("os/bootmenu").get("enable") == "yes"  # type: ignore[union-attr]
    settings = read_settings(hv, uuid)
    assert [d.key for d in settings.devices] == ["vdb", "vda"] and settings.boot_menu
    set_boot_order(hv, uuid, ["vda"], menu=False)
    settings = read_settings(hv, uuid)
    assert [(d.key, d.order) for d in settings.devices] == [("vda", 1), ("vdb", 0)]
    assert not settings.boot_menu
    with pytest.raises(Exception, match="has no disk or NIC sdz"):
        set_boot_order(hv, uuid, ["sdz"], menu=False)


def boot_sector(text: str) -> bytes:
    """512 bytes a BIOS boots: write ``text`` to the first serial port, then halt."""
    msg = text.encode() + b"\r\n\x00"
    code = bytes.fromhex("FC 31C0 8ED8 BAF803") + b"\xbe" + (0x7C00 + 22).to_bytes(2, "little")
    code += bytes.fromhex("AC 08C0 7403 EE EBF8 F4 EBFD")
    assert len(code) == 22
    sector = code + msg
    return sector + b"\x00" * (510 - len(sector)) + b"\x55\xaa"


def test_boot_order_changes_which_disk_boots(
    hv: Hypervisor,
    libvirt_conn: Any,
    tiny_domain_factory: Callable[..., str],
    qemu_dir: Path,
) -> None:
    devices = ""
    for dev, letter in (("vda", "A"), ("vdb", "B")):
        image = qemu_dir / f"{dev}.img"
        image.write_bytes(boot_sector(f"VMTUI-BOOTED-{letter}") + b"\x00" * (1024 * 1024 - 512))
        image.chmod(0o644)
        devices += (
            "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
            f"<source file='{image}'/><target dev='{dev}' bus='virtio'/></disk>"
        )
    name = tiny_domain_factory("bootorder", extra_devices_xml=devices)
    dom = libvirt_conn.lookupByName(name)
    root = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    os_el = root.find("os")
    assert os_el is not None
    for tag in ("kernel", "initrd", "cmdline"):  # boot from the disks, not a kernel file
        for el in os_el.findall(tag):
            os_el.remove(el)
    libvirt_conn.defineXML(ET.tostring(root, encoding="unicode"))
    uuid = dom.UUIDString()

    for order, expected, other in ((["vdb", "vda"], "B", "A"), (["vda", "vdb"], "A", "B")):
        set_boot_order(hv, uuid, order, menu=False)
        assert not read_settings(hv, uuid).direct_kernel
        reader = start_with_console(dom)
        try:
            reader.read_until(f"VMTUI-BOOTED-{expected}", timeout=120)
            assert f"VMTUI-BOOTED-{other}" not in reader.text
        finally:
            reader.close()
            dom.destroy()
