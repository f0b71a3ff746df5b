"""Import an OVA / OVF from VirtualBox or VMware (issue 17, section 2, last point).

An ``.ova`` is a tar holding the ``.ovf`` (XML), usually an ``.mf`` (SHA1 or SHA256 of every
file) and the disks (VMDK). A bare ``.ovf`` names its files beside it. ``import_ovf``:

1. checks every member name (never ``..``, never absolute, plain files only; nothing is ever
   extracted by its own name) and every checksum the ``.mf`` lists, before anything is made;
2. maps the OVF (:func:`map_ovf`, pure): CPUs, memory, disks (on SATA), CD/DVD drives (empty),
   NICs (only when the user names a network: by default the guest gets no NIC) and firmware
   (EFI or BIOS, from ``vmw:Config firmware``, ``VirtualSystemOtherConfigurationData`` or
   VirtualBox's ``<Firmware type=EFI>``); everything else is listed as not mapped;
3. converts each VMDK with ``qemu-img convert -O qcow2`` into a private temporary folder on
   this machine, checks the pool's free space, creates the volumes and uploads the qcow2
   images with virStorageVolUpload (so a remote ``qemu+ssh`` host works the same), defines.

A failed or cancelled import removes what it made: no volume, no definition, no temporary
file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import libvirt

from vmtui.backend.archive import (
    ArchiveCancelled,
    ArchiveError,
    ImportResult,
    Progress,
    _size,
    _target_pool,
)
from vmtui.backend.errors import libvirt_message
from vmtui.core.names import guest_name_problem

if TYPE_CHECKING:
    from vmtui.backend.hypervisor import Hypervisor

OVF_NS = "http://schemas.dmtf.org/ovf/envelope/1"
RASD_NS = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
VSSD_NS = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
VMW_NS = "http://www.vmware.com/schema/ovf"
VBOX_NS = "http://www.virtualbox.org/ovf/machine"
_O = "{" + OVF_NS + "}"
_R = "{" + RASD_NS + "}"
_CHUNK = 1024 * 1024
_NIC_MODELS = {
    "e1000": "e1000",
    "e1000e": "e1000e",
    "pcnet32": "pcnet",
    "pcnetfast": "pcnet",
    "virtio": "virtio",
    "vmxnet3": "vmxnet3",
    "rtl8139": "rtl8139",
}
_SHOWN_TYPES = {
    1: "other device",
    5: "IDE controller",
    6: "SCSI controller",
    14: "floppy drive",
    20: "storage controller",
    21: "other storage device",
    23: "USB controller",
    24: "graphics card",
    35: "sound card",
}


@dataclass(frozen=True)
class OvfDisk:
    file: str  # the href of its file (a member of the OVA or a file beside the OVF)
    capacity: int  # bytes (virtual size the OVF states; qemu-img's figure wins)
    label: str  # e.g. "Hard disk 1"


@dataclass(frozen=True)
class OvfGuest:
    """What :func:`map_ovf` made of an OVF: enough to define a guest, and what it left out."""

    name: str
    vcpus: int
    memory_kib: int
    firmware: str  # "efi" or "bios"
    disks: tuple[OvfDisk, ...]
    cdroms: int
    nics: tuple[str, ...]  # libvirt NIC models, one per OVF NIC
    not_mapped: tuple[str, ...] = field(default=())


def _units(text: str | None) -> int:
    """Bytes in one unit of an OVF allocation unit ("byte * 2^20", "MegaBytes", ...)."""
    t = (text or "byte").replace(" ", "").lower()
    m = re.fullmatch(r"byte(?:\*2\^(\d+))?", t)
    if m:
        return 1 << int(m.group(1) or 0)
    for word, shift in (("kilo", 10), ("mega", 20), ("giga", 30), ("tera", 40)):
        if t.startswith(word) or t == word[0] + "b":
            return 1 << shift
    raise ArchiveError(f"The OVF uses an allocation unit vmtui does not know: {text!r}.")


def _rasd(item: ET.Element, key: str) -> str:
    return (item.findtext(_R + key) or "").strip()


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ArchiveError(f"The OVF's {what} is not a number: {text!r}.") from None


def _firmware(system: ET.Element) -> str:
    for el in system.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "Config":  # VMware: <vmw:Config vmw:key="firmware" vmw:value="efi"/>
            attrs = {k.rsplit("}", 1)[-1]: v for k, v in el.attrib.items()}
            if attrs.get("key") == "firmware":
                return "efi" if attrs.get("value", "").lower() == "efi" else "bios"
        elif tag == "VirtualSystemOtherConfigurationData":
            text = " ".join(el.itertext()).lower()
            if "firmware" in text or "firmware" in str(el.attrib).lower():
                return "efi" if "efi" in text or "efi" in str(el.attrib).lower() else "bios"
        elif tag == "Firmware" and el.get("type"):  # VirtualBox's vbox:Machine/Hardware
            return "efi" if el.get("type", "").upper().startswith("EFI") else "bios"
    return "bios"


def map_ovf(xml: str | bytes) -> OvfGuest:
    """Map an OVF descriptor to a guest (pure: no libvirt, no files)."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as err:
        raise ArchiveError(f"The OVF descriptor is not valid XML ({err}).") from None
    if root.tag != _O + "Envelope":
        raise ArchiveError("The file is not an OVF descriptor (no ovf:Envelope).")
    files = {f.get(_O + "id", ""): f.get(_O + "href", "") for f in root.iter(_O + "File")}
    disks_by_id: dict[str, OvfDisk] = {}
    for d in root.iter(_O + "Disk"):
        ref = d.get(_O + "fileRef", "")
        cap = _int(d.get(_O + "capacity", "0"), "disk capacity")
        cap *= _units(d.get(_O + "capacityAllocationUnits"))
        if ref not in files:
            raise ArchiveError(f"The OVF's disk {d.get(_O + 'diskId')} names no file.")
        disks_by_id[d.get(_O + "diskId", "")] = OvfDisk(files[ref], cap, "")
    systems = list(root.iter(_O + "VirtualSystem"))
    if len(systems) != 1:
        raise ArchiveError(
            f"The OVF holds {len(systems)} virtual systems; vmtui imports exactly one."
        )
    system = systems[0]
    name = (system.findtext(_O + "Name") or system.get(_O + "id") or "").strip()
    vcpus, memory, cdroms = 1, 0, 0
    disks: list[OvfDisk] = []
    nics: list[str] = []
    left: list[str] = []
    for item in system.iter():
        if item.tag.rsplit("}", 1)[-1] not in ("Item", "StorageItem", "EthernetPortItem"):
            continue
        kind = _int(_rasd(item, "ResourceType") or "0", "resource type")
        label = _rasd(item, "ElementName") or _rasd(item, "Caption") or f"item {kind}"
        if kind == 3:
            vcpus = max(1, _int(_rasd(item, "VirtualQuantity") or "1", "CPU count"))
        elif kind == 4:
            qty = _int(_rasd(item, "VirtualQuantity") or "0", "memory size")
            memory = qty * _units(_rasd(item, "AllocationUnits") or "byte * 2^20") // 1024
        elif kind == 17:
            host = _rasd(item, "HostResource")
            disk_id = host.rsplit("/", 1)[-1]
            if disk_id not in disks_by_id:
                raise ArchiveError(f"The OVF's {label} points at no disk ({host!r}).")
            found = disks_by_id[disk_id]
            disks.append(OvfDisk(found.file, found.capacity, label))
        elif kind in (15, 16):
            cdroms += 1
            if _rasd(item, "HostResource"):
                left.append(f"{label}: its medium ({_rasd(item, 'HostResource')}) is not carried")
        elif kind == 10:
            sub = _rasd(item, "ResourceSubType").lower()
            model = _NIC_MODELS.get(sub, "e1000")
            if sub and sub not in _NIC_MODELS:
                left.append(f"{label}: NIC model {sub} is unknown, e1000 is used")
            nics.append(model)
        elif kind in (5, 6, 20):
            sub = _rasd(item, "ResourceSubType") or _SHOWN_TYPES[kind]
            left.append(f"{label} ({sub}): its disks are put on SATA")
        else:
            what = _SHOWN_TYPES.get(kind, f"resource type {kind}")
            left.append(f"{label} ({what}) is not mapped")
    if memory <= 0:
        raise ArchiveError("The OVF gives the guest no memory size.")
    if not disks:
        left.append("the OVF has no hard disk")
    return OvfGuest(
        name=name,
        vcpus=vcpus,
        memory_kib=memory,
        firmware=_firmware(system),
        disks=tuple(disks),
        cdroms=cdroms,
        nics=tuple(nics),
        not_mapped=tuple(left),
    )


def guest_xml(
    g: OvfGuest,
    name: str,
    volumes: list[tuple[str, str]],  # (path, format) per disk, in order
    *,
    domain_type: str = "kvm",
    network: str = "",
) -> str:
    """The domain XML for a mapped OVF guest."""
    dom = ET.Element("domain", type=domain_type)
    ET.SubElement(dom, "name").text = name
    ET.SubElement(dom, "memory", unit="KiB").text = str(g.memory_kib)
    ET.SubElement(dom, "vcpu").text = str(g.vcpus)
    os_el = ET.SubElement(dom, "os")
    if g.firmware == "efi":
        os_el.set("firmware", "efi")
    ET.SubElement(os_el, "type", arch="x86_64", machine="q35").text = "hvm"
    features = ET.SubElement(dom, "features")
    ET.SubElement(features, "acpi")
    ET.SubElement(features, "apic")
    devices = ET.SubElement(dom, "devices")
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    for path, fmt in volumes:
        disk = ET.SubElement(devices, "disk", type="file", device="disk")
        ET.SubElement(disk, "driver", name="qemu", type=fmt)
        ET.SubElement(disk, "source", file=path)
        ET.SubElement(disk, "target", dev="sd" + next(letters), bus="sata")
    for _ in range(g.cdroms):
        cd = ET.SubElement(devices, "disk", type="file", device="cdrom")
        ET.SubElement(cd, "driver", name="qemu", type="raw")
        ET.SubElement(cd, "target", dev="sd" + next(letters), bus="sata")
        ET.SubElement(cd, "readonly")
    if network:
        for model in g.nics:
            nic = ET.SubElement(devices, "interface", type="network")
            ET.SubElement(nic, "source", network=network)
            ET.SubElement(nic, "model", type=model)
    ET.SubElement(devices, "serial", type="pty")
    ET.SubElement(devices, "console", type="pty")
    graphics = ET.SubElement(devices, "graphics", type="vnc", autoport="yes")
    ET.SubElement(graphics, "listen", type="address", address="127.0.0.1")
    ET.SubElement(ET.SubElement(devices, "video"), "model", type="vga")
    return ET.tostring(dom, encoding="unicode")


# ------------------------------------------------------------------ reading the package
def is_ovf_file(path: str) -> bool:
    """An OVA (a tar with an ``.ovf`` member) or a bare OVF descriptor."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    if b"Envelope" in head and OVF_NS.encode() in head:
        return True
    try:
        with tarfile.open(path, "r:") as tar:
            return any(n.lower().endswith(".ovf") for n in tar.getnames())
    except (tarfile.TarError, OSError, EOFError):
        return False


def _check_name(name: str, path: str) -> None:
    if (
        not name
        or name.startswith("/")
        or ".." in name.replace("\\", "/").split("/")
        or "\\" in name
        or "\0" in name
    ):
        raise ArchiveError(
            f"{path} names a file {name!r}, which points outside it: refused, nothing was created."
        )


class _Package:
    """An OVA (tar) or a folder with an OVF: open a named file, checked by name."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.tar: tarfile.TarFile | None = None
        self.members: dict[str, tarfile.TarInfo] = {}
        if is_ova := not _looks_like_xml(path):
            try:
                self.tar = tarfile.open(path, "r:")  # noqa: SIM115 - closed by close()
                infos = self.tar.getmembers()
            except FileNotFoundError:
                raise ArchiveError(f"There is no file {path}.") from None
            except (tarfile.TarError, OSError, EOFError) as err:
                raise ArchiveError(f"{path} is not an OVA or OVF ({err}).") from None
            size = os.path.getsize(path)
            for info in infos:
                _check_name(info.name, path)
                if not info.isfile():
                    raise ArchiveError(f"{path} holds {info.name!r}, not a plain file: refused.")
                if info.offset_data + info.size > size:
                    raise ArchiveError(f"{path} is cut short: {info.name} ends past its end.")
                self.members[info.name] = info
            ovfs = [n for n in self.members if n.lower().endswith(".ovf")]
            if len(ovfs) != 1:
                raise ArchiveError(f"{path} holds {len(ovfs)} .ovf files; an OVA holds one.")
            self.ovf_name = ovfs[0]
        else:
            self.ovf_name = os.path.basename(path)
        self.is_ova = is_ova

    def open(self, name: str) -> IO[bytes]:
        _check_name(name, self.path)
        if self.tar is not None:
            info = self.members.get(name)
            if info is None:
                raise ArchiveError(f"{self.path} lacks {name}, which its OVF names.")
            f = self.tar.extractfile(info)
            assert f is not None
            return f
        full = os.path.join(os.path.dirname(os.path.abspath(self.path)), name)
        try:
            return open(full, "rb")
        except OSError as err:
            raise ArchiveError(f"Could not read {name} beside the OVF ({err.strerror}).") from None

    def manifest_name(self) -> str | None:
        stem = self.ovf_name[: -len(".ovf")]
        if self.tar is not None:
            for n in self.members:
                if n.lower().endswith(".mf"):
                    return n
            return None
        folder = os.path.dirname(os.path.abspath(self.path))
        return stem + ".mf" if os.path.exists(os.path.join(folder, stem + ".mf")) else None

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()


def _looks_like_xml(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(512).lstrip()
    except FileNotFoundError:
        raise ArchiveError(f"There is no file {path}.") from None
    except OSError as err:
        raise ArchiveError(f"Could not read {path} ({err.strerror}).") from None
    return head.startswith(b"<")


_MF_LINE = re.compile(r"^(SHA1|SHA256|SHA512)\s*\((.+)\)\s*=\s*([0-9a-fA-F]+)\s*$")


def parse_mf(text: str) -> list[tuple[str, str, str]]:
    """``(algorithm, file, hex digest)`` per line of an ``.mf``."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        m = _MF_LINE.match(line.strip())
        if not m:
            raise ArchiveError(f"The OVA's manifest (.mf) has a line vmtui cannot read: {line!r}.")
        out.append((m.group(1).lower(), m.group(2).strip(), m.group(3).lower()))
    return out


def _check_sums(pkg: _Package, stop: Any) -> list[str]:
    """Check every checksum the .mf lists; what was not checked, as notes."""
    mf = pkg.manifest_name()
    if mf is None:
        return ["the OVA has no manifest (.mf): its files were not checked"]
    with pkg.open(mf) as f:
        entries = parse_mf(f.read(1 << 20).decode("utf-8", "replace"))
    for algo, name, want in entries:
        h = hashlib.new(algo)
        with pkg.open(name) as f:
            while chunk := f.read(_CHUNK):
                stop()
                h.update(chunk)
        if h.hexdigest() != want:
            raise ArchiveError(
                f"{name} does not match its {algo.upper()} checksum in {mf} (damaged or "
                "changed): refused, nothing was created."
            )
    return []


def _stopper(cancel: threading.Event | None) -> Any:
    def stop() -> None:
        if cancel is not None and cancel.is_set():
            raise ArchiveCancelled("The import was cancelled; nothing was left behind.")

    return stop


def _convert(src: str, dst: str, stop: Any) -> int:
    """``qemu-img convert -O qcow2``; the image's virtual size in bytes."""
    try:
        info = subprocess.run(
            ["qemu-img", "info", "--output=json", "-f", "vmdk", src],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except FileNotFoundError:
        raise ArchiveError("qemu-img is not installed; it converts the OVA's disks.") from None
    if info.returncode != 0:
        raise ArchiveError(
            f"A disk in the OVA is not a VMDK qemu-img can read: {info.stderr.strip()}."
        )
    size = int(json.loads(info.stdout)["virtual-size"])
    proc = subprocess.Popen(
        ["qemu-img", "convert", "-f", "vmdk", "-O", "qcow2", src, dst],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    while True:
        try:
            _, err = proc.communicate(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            try:
                stop()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
    if proc.returncode != 0:
        raise ArchiveError(f"qemu-img could not convert a disk: {err.strip()}.")
    return size


def _upload_file(conn: Any, vol: Any, path: str, stop: Any, progress: Any) -> None:
    stream = conn.newStream(0)
    try:
        vol.upload(stream, 0, 0, 0)
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                stop()
                view = memoryview(chunk)
                while view:
                    sent = stream.send(view.tobytes())
                    if sent < 0:
                        raise ArchiveError("The upload stream refused data.")
                    view = view[sent:]
                progress(len(chunk))
        stream.finish()
    except BaseException:
        with contextlib.suppress(libvirt.libvirtError):
            stream.abort()
        raise


def _domain_type(conn: Any) -> str:
    try:
        conn.getDomainCapabilities(None, "x86_64", None, "kvm", 0)
        return "kvm"
    except libvirt.libvirtError:
        return "qemu"


def import_ovf(
    hv: Hypervisor,
    path: str,
    *,
    pool: str = "default",
    name: str = "",
    network: str = "",
    domain_type: str = "",
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> ImportResult:
    """Import the OVA or OVF at ``path`` as a new guest (see the module's text).

    The result's ``warnings`` are what was not mapped."""
    stop = _stopper(cancel)
    conn = hv.writable_conn()
    pkg = _Package(path)
    made: list[Any] = []
    defined: Any = None
    work = tempfile.mkdtemp(prefix="vmtui-ovf-")
    try:
        with pkg.open(pkg.ovf_name) as f:
            guest = map_ovf(f.read(16 << 20))
        notes = list(guest.not_mapped)
        new_name = name or guest.name
        taken: set[str] = set()
        with contextlib.suppress(libvirt.libvirtError):
            taken = {d.name() for d in conn.listAllDomains(0)}
        problem = guest_name_problem(new_name, taken)
        if problem:
            raise ArchiveError(problem + " Give another with --name.")
        if guest.nics and not network:
            notes.append(
                f"{len(guest.nics)} NIC(s) left out: the guest has no network unless you "
                "name one (--network)"
            )
        if network:
            try:
                conn.networkLookupByName(network)
            except libvirt.libvirtError:
                raise ArchiveError(f"There is no network {network} here.") from None
        notes += _check_sums(pkg, stop)
        target = _target_pool(conn, pool)
        with contextlib.suppress(libvirt.libvirtError):
            target.refresh(0)
        existing = set(target.listVolumes())
        # convert every disk first (nothing made in the pool yet)
        images: list[tuple[str, int, str]] = []  # (qcow2 file, virtual size, volume name)
        for i, disk in enumerate(guest.disks):
            stop()
            src = os.path.join(work, f"disk{i}.vmdk")
            if pkg.is_ova:
                with pkg.open(disk.file) as f, open(src, "wb") as out:
                    while chunk := f.read(_CHUNK):
                        stop()
                        out.write(chunk)
            else:
                _check_name(disk.file, path)
                src = os.path.join(os.path.dirname(os.path.abspath(path)), disk.file)
            dst = os.path.join(work, f"disk{i}.qcow2")
            size = _convert(src, dst, stop)
            if pkg.is_ova:
                os.unlink(src)
            vol_name = f"{new_name}-disk{i + 1}.qcow2"
            if vol_name in existing:
                raise ArchiveError(f"Pool {pool} already has a volume {vol_name}.")
            images.append((dst, size, vol_name))
        needed = sum(os.path.getsize(p) for p, _, _ in images)
        available = int(target.info()[3])
        if needed > available:
            raise ArchiveError(
                f"Pool {pool} has {_size(available)} free; the guest's disks need "
                f"{_size(needed)}. Nothing was created."
            )
        done = [0]

        def step(n: int) -> None:
            done[0] += n
            if progress is not None:
                progress(done[0], max(needed, 1))

        paths: list[tuple[str, str]] = []
        for image, size, vol_name in images:
            vol_xml = (
                f"<volume><name>{vol_name}</name><capacity unit='bytes'>{size}</capacity>"
                "<allocation unit='bytes'>0</allocation>"
                "<target><format type='qcow2'/></target></volume>"
            )
            vol = target.createXML(vol_xml, 0)
            made.append(vol)
            _upload_file(conn, vol, image, stop, step)
            paths.append((vol.path(), "qcow2"))
        stop()
        xml = guest_xml(
            guest,
            new_name,
            paths,
            domain_type=domain_type or _domain_type(conn),
            network=network,
        )
        defined = conn.defineXML(xml)
        uuid = defined.UUIDString()
    except libvirt.libvirtError as err:
        _undo(made, defined)
        raise ArchiveError(
            f"Could not import {os.path.basename(path)}: {libvirt_message(err)}. Nothing was "
            "left behind."
        ) from None
    except (tarfile.TarError, EOFError) as err:
        _undo(made, defined)
        raise ArchiveError(f"{path} could not be read ({err}); nothing was left behind.") from None
    except OSError as err:
        _undo(made, defined)
        raise ArchiveError(
            f"{path} could not be imported ({err.strerror or err}); nothing was left behind."
        ) from None
    except BaseException:
        _undo(made, defined)
        raise
    finally:
        pkg.close()
        shutil.rmtree(work, ignore_errors=True)
    hv.touch(uuid)
    return ImportResult(uuid, new_name, tuple(p for p, _ in paths), tuple(notes))


def _undo(volumes: list[Any], defined: Any) -> None:
    if defined is not None:
        with contextlib.suppress(libvirt.libvirtError):
            defined.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
    for vol in volumes:
        with contextlib.suppress(libvirt.libvirtError):
            vol.delete(0)
