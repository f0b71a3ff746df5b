"""How a guest boots: boot order and menu, firmware (BIOS / UEFI / UEFI with secure boot,
from the host's domain capabilities), an emulated TPM 2.0 (swtpm), discarding a managed save
(saving is ``Hypervisor.managed_save``, a catalogue power action).

Never imports Textual; every call blocks. Boot order, firmware and TPM change the guest's
definition, so they apply at its next boot (QEMU cannot change them in a running guest).

Firmware uses libvirt's automatic selection (``<os firmware='efi'>`` plus ``<firmware>``
features): libvirt picks the loader and NVRAM template from the firmware descriptors QEMU
ships (``/usr/share/qemu/firmware``), so vmtui never guesses paths.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import libvirt

from vmtui.backend.devices import InvalidInput
from vmtui.backend.errors import ActionFailed
from vmtui.backend.hypervisor import Hypervisor
from vmtui.backend.models import GuestState, sanitise_fields, sanitise_tuple

BIOS = "bios"
UEFI = "uefi"
UEFI_SECURE = "uefi-secure"
FIRMWARES = (BIOS, UEFI, UEFI_SECURE)
FIRMWARE_WORDS = {BIOS: "BIOS", UEFI: "UEFI", UEFI_SECURE: "UEFI with secure boot"}


@dataclass(frozen=True)
class BootDevice:
    """A disk or NIC the guest can boot from."""

    key: str  # disk target (vda) or NIC MAC address
    kind: str  # disk, cdrom, network
    label: str
    order: int  # 0 = not in the boot order

    def __post_init__(self) -> None:
        sanitise_fields(self, "label")


@dataclass(frozen=True)
class MachineSettings:
    """What the guest's definition says about how it boots, and what the host offers."""

    guest: str
    uuid: str
    state: GuestState
    machine: str
    firmware: str  # bios, uefi, uefi-secure
    boot_menu: bool
    devices: tuple[BootDevice, ...]  # in boot order first, then the rest
    direct_kernel: bool  # <kernel> in <os>: boot order does not apply
    tpm: str  # "" or "2.0 tpm-crb (emulator)"
    firmware_choices: tuple[str, ...]  # what the host can do for this guest
    tpm_possible: bool
    has_managed_save: bool

    def __post_init__(self) -> None:
        sanitise_fields(self, "guest", "machine", "tpm")
        sanitise_tuple(self, "firmware_choices")


# ----------------------------------------------------------------------- managed save
def discard_managed_save(hv: Hypervisor, uuid: str) -> None:
    """Forget the saved state: the next start boots afresh (what it was doing is lost)."""
    _conn, dom, guest = hv.lookup_guest(uuid, writable=True)
    try:
        if not dom.hasManagedSaveImage(0):
            raise ActionFailed(f"Guest {guest} has no saved state.")
        dom.managedSaveRemove(0)
    except libvirt.libvirtError as err:
        raise hv.wrap_failure(err, f"Could not discard the saved state of {guest}") from None
    finally:
        hv.touch(uuid)


# ----------------------------------------------------------------------- reading
def _firmware_of(root: ET.Element) -> str:
    os_el = root.find("os")
    if os_el is None:
        return BIOS
    loader = os_el.find("loader")
    efi = os_el.get("firmware") == "efi" or (loader is not None and loader.get("type") == "pflash")
    if not efi:
        return BIOS
    for feat in os_el.findall("firmware/feature"):
        if feat.get("name") == "secure-boot" and feat.get("enabled") == "yes":
            return UEFI_SECURE
    if loader is not None and loader.get("secure") == "yes":
        return UEFI_SECURE
    return UEFI


def _caps(conn: Any, root: ET.Element) -> ET.Element | None:
    type_el = root.find("os/type")
    arch = type_el.get("arch") if type_el is not None else None
    machine = type_el.get("machine") if type_el is not None else None
    emulator = root.findtext("devices/emulator") or None
    try:
        xml = conn.getDomainCapabilities(emulator, arch, machine, root.get("type"), 0)
    except libvirt.libvirtError:
        return None
    return ET.fromstring(xml)


def firmware_choices(caps: ET.Element | None, machine: str) -> tuple[str, ...]:
    """BIOS always; UEFI when the host has EFI firmware; secure boot when a secure loader
    exists and the machine type is q35 (secure boot needs SMM, which i440fx lacks)."""
    if caps is None:
        return (BIOS,)
    out = [BIOS]
    values = {v.text for v in caps.findall("os/enum[@name='firmware']/value")}
    loaders = caps.findall("os/loader/value")
    if "efi" in values or loaders:
        out.append(UEFI)
        secure = {v.text for v in caps.findall("os/loader/enum[@name='secure']/value")}
        if "yes" in secure and "q35" in machine:
            out.append(UEFI_SECURE)
    return tuple(out)


def _tpm_possible(caps: ET.Element | None) -> bool:
    if caps is None:
        return False
    tpm = caps.find("devices/tpm")
    if tpm is None or tpm.get("supported") != "yes":
        return False
    return "emulator" in {v.text for v in tpm.findall("enum[@name='backendModel']/value")}


def _tpm_words(root: ET.Element) -> str:
    tpm = root.find("devices/tpm")
    if tpm is None:
        return ""
    backend = tpm.find("backend")
    version = backend.get("version", "") if backend is not None else ""
    kind = backend.get("type", "") if backend is not None else ""
    return f"{version or '?'} {tpm.get('model', '')} ({kind})".strip()


def _boot_devices(root: ET.Element) -> list[BootDevice]:
    out: list[BootDevice] = []
    for disk in root.findall("devices/disk"):
        tgt = disk.find("target")
        dev = tgt.get("dev", "") if tgt is not None else ""
        src = disk.find("source")
        where = (src.get("file") or src.get("dev") or "") if src is not None else ""
        boot = disk.find("boot")
        order = int(boot.get("order", "0")) if boot is not None else 0
        kind = disk.get("device", "disk")
        out.append(BootDevice(dev, kind, f"{dev} {kind} {where}".strip(), order))
    for nic in root.findall("devices/interface"):
        mac_el = nic.find("mac")
        mac = mac_el.get("address", "") if mac_el is not None else ""
        if not mac:
            continue
        boot = nic.find("boot")
        order = int(boot.get("order", "0")) if boot is not None else 0
        out.append(BootDevice(mac, "network", f"network {mac}", order))
    out.sort(key=lambda d: (d.order == 0, d.order))
    return out


def _inactive(hv: Hypervisor, uuid: str) -> tuple[Any, Any, str, ET.Element]:
    conn, dom, guest = hv.lookup_guest(uuid, writable=True)
    try:
        if not dom.isPersistent():
            raise ActionFailed(f"Guest {guest} is transient: it has no definition to change.")
        root = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, "read", guest) from None
    return conn, dom, guest, root


def read_settings(hv: Hypervisor, uuid: str) -> MachineSettings:
    """The guest's boot settings (from its definition: what the next boot uses)."""
    conn, dom, guest = hv.lookup_guest(uuid)
    try:
        root = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        state = GuestState.from_libvirt(dom.state()[0])
        saved = bool(dom.hasManagedSaveImage(0)) if dom.isPersistent() else False
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, "read the boot settings of", guest) from None
    type_el = root.find("os/type")
    machine = type_el.get("machine", "") if type_el is not None else ""
    caps = _caps(conn, root)
    menu = root.find("os/bootmenu")
    return MachineSettings(
        guest=guest,
        uuid=uuid,
        state=state,
        machine=machine,
        firmware=_firmware_of(root),
        boot_menu=menu is not None and menu.get("enable") == "yes",
        devices=tuple(_boot_devices(root)),
        direct_kernel=root.find("os/kernel") is not None,
        tpm=_tpm_words(root),
        firmware_choices=firmware_choices(caps, machine),
        tpm_possible=_tpm_possible(caps),
        has_managed_save=saved,
    )


def _define(hv: Hypervisor, conn: Any, root: ET.Element, guest: str, what: str) -> None:
    try:
        conn.defineXML(ET.tostring(root, encoding="unicode"))
    except libvirt.libvirtError as err:
        raise hv.wrap_failure(err, f"Could not change the {what} of guest {guest}") from None


# ----------------------------------------------------------------------- changing
def set_boot_order(hv: Hypervisor, uuid: str, order: list[str], menu: bool) -> None:
    """Boot from these devices (disk targets or NIC MACs) in this order, from the next boot;
    ``menu`` shows the firmware's boot menu."""
    conn, _dom, guest, root = _inactive(hv, uuid)
    known = {d.key for d in _boot_devices(root)}
    unknown = [k for k in order if k not in known]
    if unknown:
        raise InvalidInput(f"Guest {guest} has no disk or NIC {unknown[0]}.")
    if len(set(order)) != len(order):
        raise InvalidInput("Each device can appear once in the boot order.")
    os_el = root.find("os")
    if os_el is None:
        os_el = ET.SubElement(root, "os")
    for b in os_el.findall("boot"):  # per-device order and <os><boot> cannot be mixed
        os_el.remove(b)
    for el in root.findall("devices/disk") + root.findall("devices/interface"):
        for b in el.findall("boot"):
            el.remove(b)
    for i, key in enumerate(order, start=1):
        for disk in root.findall("devices/disk"):
            tgt = disk.find("target")
            if tgt is not None and tgt.get("dev") == key:
                ET.SubElement(disk, "boot", order=str(i))
        for nic in root.findall("devices/interface"):
            mac = nic.find("mac")
            if mac is not None and mac.get("address") == key:
                ET.SubElement(nic, "boot", order=str(i))
    for m in os_el.findall("bootmenu"):
        os_el.remove(m)
    if menu:
        ET.SubElement(os_el, "bootmenu", enable="yes", timeout="3000")
    _define(hv, conn, root, guest, "boot order")
    hv.touch(uuid)


def set_firmware(hv: Hypervisor, uuid: str, firmware: str) -> None:
    """BIOS, UEFI or UEFI with secure boot from the next boot (the guest must be off: its
    NVRAM is made afresh). Refused when the host or the machine type cannot do it."""
    if firmware not in FIRMWARES:
        raise InvalidInput(f"Firmware is one of {', '.join(FIRMWARES)}, not {firmware}.")
    conn, dom, guest, root = _inactive(hv, uuid)
    try:
        if dom.isActive():
            raise ActionFailed(f"Guest {guest} is running: shut it down to change its firmware.")
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, "read", guest) from None
    type_el = root.find("os/type")
    machine = type_el.get("machine", "") if type_el is not None else ""
    choices = firmware_choices(_caps(conn, root), machine)
    if firmware not in choices:
        why = (
            "secure boot needs the q35 machine type (with SMM)"
            if firmware == UEFI_SECURE and UEFI in choices
            else "the host has no such firmware for this guest (Debian: apt install ovmf)"
        )
        raise ActionFailed(f"Guest {guest} cannot boot with {FIRMWARE_WORDS[firmware]}: {why}.")
    os_el = root.find("os")
    assert os_el is not None  # _inactive's guest has an <os>
    for tag in ("loader", "nvram", "firmware"):
        for el in os_el.findall(tag):
            os_el.remove(el)
    if firmware == BIOS:
        os_el.attrib.pop("firmware", None)
    else:
        os_el.set("firmware", "efi")
        fw = ET.Element("firmware")
        secure = "yes" if firmware == UEFI_SECURE else "no"
        ET.SubElement(fw, "feature", enabled=secure, name="enrolled-keys")
        ET.SubElement(fw, "feature", enabled=secure, name="secure-boot")
        index = list(os_el).index(type_el) + 1 if type_el is not None else 0
        os_el.insert(index, fw)
        if firmware == UEFI_SECURE:
            features = root.find("features")
            if features is None:
                features = ET.SubElement(root, "features")
            if features.find("smm") is None:
                ET.SubElement(features, "smm", state="on")
    _define(hv, conn, root, guest, "firmware")
    hv.touch(uuid)


def add_tpm(hv: Hypervisor, uuid: str) -> None:
    """An emulated TPM 2.0 (swtpm keeps its state per guest) from the next boot."""
    conn, _dom, guest, root = _inactive(hv, uuid)
    if root.find("devices/tpm") is not None:
        raise ActionFailed(f"Guest {guest} already has a TPM.")
    if not _tpm_possible(_caps(conn, root)):
        raise ActionFailed(
            f"This host cannot give guest {guest} an emulated TPM: install swtpm "
            "(Debian: apt install swtpm swtpm-tools) and restart libvirtd."
        )
    type_el = root.find("os/type")
    machine = type_el.get("machine", "") if type_el is not None else ""
    devices = root.find("devices")
    if devices is None:
        devices = ET.SubElement(root, "devices")
    tpm = ET.SubElement(devices, "tpm", model="tpm-crb" if "q35" in machine else "tpm-tis")
    ET.SubElement(tpm, "backend", type="emulator", version="2.0")
    _define(hv, conn, root, guest, "TPM")
    hv.touch(uuid)


def remove_tpm(hv: Hypervisor, uuid: str) -> None:
    """Take the TPM out from the next boot (swtpm's state, with any keys sealed in it, is
    removed by libvirt when the guest is deleted, not now)."""
    conn, _dom, guest, root = _inactive(hv, uuid)
    devices = root.find("devices")
    tpms = devices.findall("tpm") if devices is not None else []
    if devices is None or not tpms:
        raise ActionFailed(f"Guest {guest} has no TPM.")
    for tpm in tpms:
        devices.remove(tpm)
    _define(hv, conn, root, guest, "TPM")
    hv.touch(uuid)
