"""What a new guest should be (GuestSpec), its checks, its domain XML and its virt-install line.

Pure: no libvirt call here. ``validate()`` checks what can be checked without the host (plus
the names the caller says are taken); ``vmtui.backend.create`` checks the rest against the
host and makes the guest. XML is built with ElementTree, so any text in a name, title or
description is escaped, never interpreted.
"""

from __future__ import annotations

import re
import shlex
import xml.etree.ElementTree as ET
from collections.abc import Collection
from dataclasses import dataclass, field, replace

from vmtui.backend.devices import (
    InvalidInput,
    NicSpec,
    SharedFolderSpec,
    ensure_shared_memory,
    filesystem_element,
    interface_element,
)
from vmtui.core import units
from vmtui.core.names import guest_name_problem

DOMAIN_TYPES = ("kvm", "qemu")
CPU_MODES = ("host-model", "host-passthrough", "custom")
FIRMWARES = ("bios", "uefi")
INSTALL_KINDS = ("iso", "import", "cloud", "kernel", "pxe")
INSTALL_LABELS = {
    "iso": "Install from an ISO image (CD-ROM)",
    "import": "Import an existing disk image",
    "cloud": "Cloud image with cloud-init",
    "kernel": "Direct kernel boot (kernel, initrd, command line)",
    "pxe": "Network boot (PXE)",
}
DISK_KINDS = ("new", "volume", "path")
DISK_FORMATS = ("qcow2", "raw")
DISK_BUSES = ("virtio", "sata", "scsi")
GRAPHICS = ("none", "vnc", "spice")

MAX_NAME_BYTES = 200  # libvirt keeps /etc/libvirt/qemu/<name>.xml: file names stop at 255
_CPU_MODEL = re.compile(r"^[A-Za-z0-9_.+-]{1,64}$")
_POOL_NAME = re.compile(r"^[^/\x00-\x1f\x7f]{1,128}$")
_VOLUME_NAME = re.compile(r"^[^/\x00-\x1f\x7f]{1,200}$")
# Characters XML 1.0 cannot carry at all (libvirt would refuse the document).
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class DiskSpec:
    """A disk: a new volume in a pool (``kind="new"``), an existing volume, or a host path.

    For a new volume, ``volume`` may be empty: the guest's name gives one."""

    kind: str = "new"
    pool: str = ""
    volume: str = ""
    path: str = ""
    size_gib: float = 10.0
    fmt: str = "qcow2"
    bus: str = "virtio"

    def validate(self, index: int = 0) -> DiskSpec:
        which = f"Disk {index + 1}"
        if self.kind not in DISK_KINDS:
            raise InvalidInput(f"{which}: unknown kind {self.kind!r}; use new, volume or path.")
        if self.bus not in DISK_BUSES:
            raise InvalidInput(f"{which}: unknown bus {self.bus!r}; use virtio, sata or scsi.")
        if self.kind in ("new", "volume"):
            if not _POOL_NAME.match(self.pool):
                raise InvalidInput(f"{which}: choose the storage pool.")
            if self.kind == "volume" and not self.volume:
                raise InvalidInput(f"{which}: choose the volume in pool {self.pool}.")
            if self.volume and not _VOLUME_NAME.match(self.volume):
                raise InvalidInput(
                    f"{which}: the volume name {self.volume!r} may not contain '/' or control "
                    "characters."
                )
        if self.fmt not in (*DISK_FORMATS, "") or (self.kind == "new" and not self.fmt):
            raise InvalidInput(f"{which}: unknown format {self.fmt!r}; use qcow2 or raw.")
        if self.kind == "new" and not 0 < self.size_gib <= 1024 * 1024:
            raise InvalidInput(f"{which}: the size must be more than 0 and at most 1 PiB.")
        if self.kind == "path":
            _check_host_path(self.path, f"{which}: the image path")
        return self

    @property
    def size_bytes(self) -> int:
        return int(self.size_gib * units.GIB)


@dataclass(frozen=True)
class CloudInitSpec:
    """What the NoCloud seed tells the guest: host name, a user, password and/or SSH key, or a
    whole user-data file of the user's own (then the other user fields are not used)."""

    hostname: str = ""
    user: str = ""
    password: str = ""
    ssh_key: str = ""
    user_data: str = ""  # a whole user-data document; wins over the fields above

    def validate(self) -> CloudInitSpec:
        if self.hostname and not re.match(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,62})$", self.hostname):
            raise InvalidInput(
                f"The host name {self.hostname!r} must be letters, digits and '-' (at most 63)."
            )
        if self.user and not re.match(r"^[a-z_][a-z0-9_-]{0,31}$", self.user):
            raise InvalidInput(
                f"The user name {self.user!r} must start with a lower-case letter and hold "
                "only a-z, 0-9, '_' or '-'."
            )
        if self.ssh_key and not re.match(
            r"^(ssh-|ecdsa-|sk-)[A-Za-z0-9@.-]+ [A-Za-z0-9+/=]+( .*)?$", self.ssh_key.strip()
        ):
            raise InvalidInput("The SSH key is not a public key line like 'ssh-ed25519 AAAA…'.")
        if "\n" in self.ssh_key.strip():
            raise InvalidInput("Give one SSH public key on one line.")
        if not self.user_data and (self.password or self.ssh_key) and not self.user:
            raise InvalidInput("Give the user name the password or SSH key is for.")
        if self.user_data and not self.user_data.lstrip().startswith(("#cloud-config", "#!")):
            raise InvalidInput(
                "The user-data file must start with '#cloud-config' (or '#!' for a script)."
            )
        return self


@dataclass(frozen=True)
class InstallSpec:
    """How the guest gets its operating system."""

    kind: str = "iso"
    media_path: str = ""  # iso: an ISO on the host
    media_pool: str = ""  # iso: ...or a volume in a pool
    media_volume: str = ""
    kernel: str = ""
    initrd: str = ""
    cmdline: str = ""
    cloud: CloudInitSpec = field(default_factory=CloudInitSpec)
    seed_pool: str = ""  # cloud: the pool the seed ISO goes into

    def validate(self) -> InstallSpec:
        if self.kind not in INSTALL_KINDS:
            raise InvalidInput(f"Unknown install source {self.kind!r}.")
        if self.kind == "iso":
            if self.media_pool or self.media_volume:
                if not _POOL_NAME.match(self.media_pool) or not self.media_volume:
                    raise InvalidInput("Choose both the pool and the ISO volume in it.")
            else:
                _check_host_path(self.media_path, "The ISO path")
        if self.kind == "kernel":
            _check_host_path(self.kernel, "The kernel path")
            if self.initrd:
                _check_host_path(self.initrd, "The initrd path")
            if _XML_BAD.search(self.cmdline) or "\n" in self.cmdline:
                raise InvalidInput("The kernel command line must be one line of text.")
        if self.kind == "cloud":
            if not _POOL_NAME.match(self.seed_pool):
                raise InvalidInput("Choose the pool the cloud-init seed ISO goes into.")
            self.cloud.validate()
        return self


@dataclass(frozen=True)
class GuestSpec:
    """Everything the creation wizard asks. Memory in MiB; 0 for a maximum means "the same"."""

    name: str
    title: str = ""
    description: str = ""
    memory_mib: int = 1024
    max_memory_mib: int = 0
    vcpus: int = 1
    max_vcpus: int = 0
    cpu_mode: str = "host-model"
    cpu_model: str = ""  # with cpu_mode "custom"
    domain_type: str = "kvm"
    firmware: str = "bios"
    loader: str = ""  # UEFI: a firmware path; empty lets libvirt pick (firmware autoselection)
    arch: str = "x86_64"
    install: InstallSpec = field(default_factory=InstallSpec)
    disks: tuple[DiskSpec, ...] = ()
    nics: tuple[NicSpec, ...] = ()
    shares: tuple[SharedFolderSpec, ...] = ()
    graphics: str = "none"
    listen: str = "127.0.0.1"
    start: bool = True

    # ------------------------------------------------------------------ derived
    @property
    def max_memory(self) -> int:
        return self.max_memory_mib or self.memory_mib

    @property
    def max_cpus(self) -> int:
        return self.max_vcpus or self.vcpus

    @property
    def file_stem(self) -> str:
        """The name made safe for volume file names."""
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.name).strip("-.")
        return stem[:60] or "guest"

    def volume_name(self, index: int) -> str:
        """The name of disk ``index``'s volume (a given one, or one made from the guest's)."""
        disk = self.disks[index]
        if disk.volume:
            return disk.volume
        suffix = "" if index == 0 else f"-{index}"
        ext = "qcow2" if disk.fmt == "qcow2" else "img"
        return f"{self.file_stem}{suffix}.{ext}"

    @property
    def seed_volume(self) -> str:
        return f"{self.file_stem}-cidata.iso"

    # ------------------------------------------------------------------ checks
    def validate(
        self, taken_names: Collection[str] = (), *, allow_risky: bool = False
    ) -> GuestSpec:
        """A copy with shared-folder paths resolved, or InvalidInput (RiskyPath for a shared
        folder the user must confirm) saying what is wrong in one sentence."""
        check_name(self.name, taken_names)
        check_title(self.title)
        if _XML_BAD.search(self.description):
            raise InvalidInput("The description contains control characters; remove them.")
        if not 16 <= self.memory_mib <= 16 * 1024 * 1024:
            raise InvalidInput("Memory must be between 16 MiB and 16 TiB.")
        if self.max_memory_mib and self.max_memory_mib < self.memory_mib:
            raise InvalidInput(
                f"The maximum memory ({self.max_memory_mib} MiB) is below the memory "
                f"({self.memory_mib} MiB)."
            )
        if not 1 <= self.vcpus <= 4096:
            raise InvalidInput("The number of vCPUs must be between 1 and 4096.")
        if self.max_vcpus and not self.vcpus <= self.max_vcpus <= 4096:
            raise InvalidInput(
                f"The maximum vCPUs ({self.max_vcpus}) must be at least the vCPUs ({self.vcpus})."
            )
        if self.cpu_mode not in CPU_MODES:
            raise InvalidInput(
                f"Unknown CPU mode {self.cpu_mode!r}; use host-model, host-passthrough "
                "or a named model."
            )
        if self.cpu_mode == "custom" and not _CPU_MODEL.match(self.cpu_model):
            raise InvalidInput(f"{self.cpu_model!r} is not a CPU model name like Skylake-Client.")
        if self.domain_type not in DOMAIN_TYPES:
            raise InvalidInput(f"Unknown domain type {self.domain_type!r}; use kvm or qemu.")
        if self.firmware not in FIRMWARES:
            raise InvalidInput(f"Unknown firmware {self.firmware!r}; use bios or uefi.")
        if self.loader:
            _check_host_path(self.loader, "The UEFI firmware path")
        if self.graphics not in GRAPHICS:
            raise InvalidInput(f"Unknown graphics {self.graphics!r}; use none, vnc or spice.")
        if not re.match(r"^[0-9A-Fa-f.:]{2,45}$", self.listen):
            raise InvalidInput(f"{self.listen!r} is not an IP address to listen on.")
        install = self.install.validate()
        disks = tuple(d.validate(i) for i, d in enumerate(self.disks))
        if install.kind in ("import", "cloud") and not disks:
            raise InvalidInput("Importing needs the existing disk image: add it on the Disks step.")
        if install.kind in ("import", "cloud") and disks[0].kind == "new":
            raise InvalidInput(
                "The first disk must be the existing image to boot (a volume or a path), "
                "not a new empty volume."
            )
        nics = tuple(n.validate() for n in self.nics)
        if install.kind == "pxe" and not any(n.kind != "none" for n in nics):
            raise InvalidInput("Network boot needs a network card: add one on the Network step.")
        shares = tuple(s.validate(allow_risky=allow_risky) for s in self.shares)
        tags = [s.tag for s in shares]
        if len(set(tags)) != len(tags):
            raise InvalidInput("Two shared folders use the same mount tag.")
        vols = [(d.pool, self.volume_name(i)) for i, d in enumerate(disks) if d.kind == "new"]
        if len(set(vols)) != len(vols):
            raise InvalidInput("Two new disks would get the same volume name in one pool.")
        return replace(self, install=install, disks=disks, nics=nics, shares=shares)

    def problem(self, taken_names: Collection[str] = ()) -> str | None:
        """The sentence ``validate`` would raise (RiskyPath included), or None."""
        try:
            self.validate(taken_names)
        except InvalidInput as err:
            return err.message
        return None


def check_name(name: str, taken: Collection[str] = ()) -> None:
    """A new guest's name: the one rule (core/names.py), not used on the host yet."""
    problem = guest_name_problem(name, taken)
    if problem is not None:
        raise InvalidInput(problem)


def check_title(title: str) -> None:
    if "\n" in title or "\r" in title:
        raise InvalidInput("The title must be one line; use the description for more.")
    if _XML_BAD.search(title):
        raise InvalidInput("The title contains control characters; remove them.")


def _check_host_path(path: str, what: str) -> None:
    if not path:
        raise InvalidInput(f"{what} is empty.")
    if not path.startswith("/"):
        raise InvalidInput(f"{what} {path} is relative; give a full path from /.")
    if _XML_BAD.search(path) or "\n" in path:
        raise InvalidInput(f"{what} contains control characters.")


# ---------------------------------------------------------------------- XML


def _disk_targets(spec: GuestSpec) -> list[str]:
    """Target device names: vda, vdb... on virtio; sda, sdb... shared by sata/scsi/cdroms."""
    counters = {"vd": 0, "sd": 0}
    out = []
    buses = [d.bus for d in spec.disks] + ["sata"] * _cdrom_count(spec)
    for bus in buses:
        prefix = "vd" if bus == "virtio" else "sd"
        out.append(prefix + _letters(counters[prefix]))
        counters[prefix] += 1
    return out


def _letters(n: int) -> str:
    s = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(ord("a") + r) + s
    return s


def _cdrom_count(spec: GuestSpec) -> int:
    return 1 if spec.install.kind in ("iso", "cloud") else 0


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def _description_text(text: str) -> str:
    # An XML parser turns CR and CRLF into LF: store what will be read back.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def build_domain_xml(spec: GuestSpec) -> str:
    """The domain XML for a (validated) spec."""
    dom = ET.Element("domain", {"type": spec.domain_type})
    _sub(dom, "name", spec.name)
    if spec.title:
        _sub(dom, "title", spec.title)
    if spec.description:
        _sub(dom, "description", _description_text(spec.description))
    _sub(dom, "memory", str(spec.max_memory), unit="MiB")
    _sub(dom, "currentMemory", str(spec.memory_mib), unit="MiB")
    vcpu = _sub(dom, "vcpu", str(spec.max_cpus), placement="static")
    if spec.max_cpus != spec.vcpus:
        vcpu.set("current", str(spec.vcpus))

    os_el = _sub(dom, "os")
    if spec.firmware == "uefi" and not spec.loader:
        os_el.set("firmware", "efi")
    _sub(os_el, "type", "hvm", arch=spec.arch)
    if spec.firmware == "uefi" and spec.loader:
        _sub(os_el, "loader", spec.loader, readonly="yes", type="pflash")
    install = spec.install
    if install.kind == "kernel":
        _sub(os_el, "kernel", install.kernel)
        if install.initrd:
            _sub(os_el, "initrd", install.initrd)
        if install.cmdline:
            _sub(os_el, "cmdline", install.cmdline)
    boots = {
        "iso": ["cdrom", "hd"],
        "pxe": ["network", "hd"],
        "import": ["hd"],
        "cloud": ["hd"],
        "kernel": ["hd"],
    }[install.kind]
    for dev in boots:
        _sub(os_el, "boot", dev=dev)

    features = _sub(dom, "features")
    _sub(features, "acpi")
    _sub(features, "apic")
    cpu = _sub(dom, "cpu", mode=spec.cpu_mode)
    if spec.cpu_mode == "host-passthrough":
        cpu.set("check", "none")
    if spec.cpu_mode == "custom":
        cpu.set("match", "exact")
        _sub(cpu, "model", spec.cpu_model, fallback="allow")
    _sub(dom, "clock", offset="utc")
    _sub(dom, "on_poweroff", "destroy")
    _sub(dom, "on_reboot", "restart")
    _sub(dom, "on_crash", "destroy")

    devices = _sub(dom, "devices")
    targets = iter(_disk_targets(spec))
    if any(d.bus == "scsi" for d in spec.disks):
        _sub(devices, "controller", type="scsi", model="virtio-scsi")
    for i, disk in enumerate(spec.disks):
        fmt = disk.fmt or ("qcow2" if _looks_qcow2(disk) else "raw")
        el = _disk_element(disk.kind, "disk", disk.pool, spec.volume_name(i), disk.path)
        _sub(el, "driver", name="qemu", type=fmt)
        _move_driver_first(el)
        _sub(el, "target", dev=next(targets), bus=disk.bus)
        devices.append(el)
    if install.kind == "iso":
        if install.media_pool:
            el = _disk_element("volume", "cdrom", install.media_pool, install.media_volume, "")
        else:
            el = _disk_element("path", "cdrom", "", "", install.media_path)
        _sub(el, "target", dev=next(targets), bus="sata")
        _sub(el, "readonly")
        devices.append(el)
    if install.kind == "cloud":
        el = _disk_element("volume", "cdrom", install.seed_pool, spec.seed_volume, "")
        _sub(el, "target", dev=next(targets), bus="sata")
        _sub(el, "readonly")
        devices.append(el)
    for nic in spec.nics:
        iface = interface_element(nic)
        if iface is not None:
            devices.append(iface)
    for share in spec.shares:
        devices.append(filesystem_element(share))
    serial = _sub(devices, "serial", type="pty")
    _sub(serial, "target", port="0")
    console = _sub(devices, "console", type="pty")
    _sub(console, "target", type="serial", port="0")
    if spec.graphics != "none":
        _sub(devices, "graphics", type=spec.graphics, autoport="yes", listen=spec.listen)
        video = _sub(devices, "video")
        _sub(video, "model", type="vga")
    _sub(devices, "memballoon", model="virtio")
    if any(s.needs_shared_memory for s in spec.shares):
        ensure_shared_memory(dom)
        # libvirt wants <memoryBacking> before <os>; move it after the vCPUs.
        backing = dom.find("memoryBacking")
        assert backing is not None
        dom.remove(backing)
        dom.insert(list(dom).index(vcpu) + 1, backing)
    ET.indent(dom)
    return ET.tostring(dom, encoding="unicode")


def _looks_qcow2(disk: DiskSpec) -> bool:
    name = disk.path if disk.kind == "path" else disk.volume
    return name.lower().endswith((".qcow2", ".qcow"))


def _disk_element(kind: str, device: str, pool: str, volume: str, path: str) -> ET.Element:
    if kind in ("new", "volume"):
        el = ET.Element("disk", {"type": "volume", "device": device})
        _sub(el, "source", pool=pool, volume=volume)
    else:
        el = ET.Element("disk", {"type": "file", "device": device})
        _sub(el, "source", file=path)
    return el


def _move_driver_first(el: ET.Element) -> None:
    driver = el.find("driver")
    if driver is not None:
        el.remove(driver)
        el.insert(0, driver)


# ---------------------------------------------------------------------- virt-install


def _opt(value: str) -> str:
    """A value inside virt-install's comma-separated options (commas are doubled)."""
    return value.replace(",", ",,")


def volume_commands(spec: GuestSpec, uri: str = "") -> list[list[str]]:
    """``virsh vol-create-as`` for each new volume (virt-install cannot name them)."""
    out = []
    for i, disk in enumerate(spec.disks):
        if disk.kind != "new":
            continue
        words = ["virsh"] + (["-c", uri] if uri else [])
        words += ["vol-create-as", disk.pool, spec.volume_name(i), f"{disk.size_bytes}B"]
        out.append([*words, "--format", disk.fmt])
    return out


def virt_install_command(spec: GuestSpec, uri: str = "") -> list[str]:
    """The virt-install command that makes the same guest (volumes already created, see
    ``volume_commands``; the cloud-init seed already uploaded)."""
    cmd = ["virt-install"]
    if uri:
        cmd += ["--connect", uri]
    cmd += ["--name", spec.name]
    meta = []
    if spec.title:
        meta.append(f"title={_opt(spec.title)}")
    if spec.description:
        meta.append(f"description={_opt(_description_text(spec.description))}")
    if meta:
        cmd += ["--metadata", ",".join(meta)]
    cmd += ["--virt-type", spec.domain_type, "--arch", spec.arch]
    memory = f"memory={spec.max_memory}"
    if spec.max_memory != spec.memory_mib:
        memory += f",currentMemory={spec.memory_mib}"
    cmd += ["--memory", memory]
    vcpus = str(spec.vcpus)
    if spec.max_cpus != spec.vcpus:
        vcpus += f",maxvcpus={spec.max_cpus}"
    cmd += ["--vcpus", vcpus]
    cmd += ["--cpu", spec.cpu_model if spec.cpu_mode == "custom" else spec.cpu_mode]
    boot = []
    if spec.firmware == "uefi":
        boot.append(f"loader={_opt(spec.loader)},loader.readonly=yes" if spec.loader else "uefi")
    install = spec.install
    if install.kind == "kernel":
        boot.append(f"kernel={_opt(install.kernel)}")
        if install.initrd:
            boot.append(f"initrd={_opt(install.initrd)}")
        if install.cmdline:
            boot.append(f"kernel_args={_opt(install.cmdline)}")
    if boot:
        cmd += ["--boot", ",".join(boot)]
    for i, disk in enumerate(spec.disks):
        if disk.kind == "path":
            src = f"path={_opt(disk.path)}"
        else:
            src = f"vol={_opt(disk.pool)}/{_opt(spec.volume_name(i))}"
        cmd += ["--disk", f"{src},bus={disk.bus}"]
    if install.kind == "iso":
        if install.media_pool:
            vol = f"vol={_opt(install.media_pool)}/{_opt(install.media_volume)}"
            cmd += ["--disk", f"{vol},device=cdrom,bus=sata"]
        else:
            cmd += ["--cdrom", install.media_path]
    elif install.kind == "cloud":
        vol = f"vol={_opt(install.seed_pool)}/{_opt(spec.seed_volume)}"
        cmd += ["--disk", f"{vol},device=cdrom,bus=sata", "--import"]
    elif install.kind == "pxe":
        cmd += ["--pxe"]
    elif install.kind in ("import", "kernel"):
        cmd += ["--import"] if install.kind == "import" else ["--install", "no_install=yes"]
    nics = [n for n in spec.nics if n.kind != "none"]
    for nic in nics:
        if nic.kind == "network":
            net = f"network={_opt(nic.source)}"
        elif nic.kind == "bridge":
            net = f"bridge={_opt(nic.source)}"
        elif nic.kind == "direct":
            net = f"type=direct,source={_opt(nic.source)},source_mode={nic.direct_mode}"
        else:
            net = "user"
        net += f",model={nic.model}"
        if nic.mac:
            net += f",mac={nic.mac.lower()}"
        cmd += ["--network", net]
    if not nics:
        cmd += ["--network", "none"]
    for share in spec.shares:
        fs = f"source={_opt(share.source)},target={share.tag}"
        fs += ",driver.type=" + ("virtiofs" if share.driver == "virtiofs" else "path")
        if share.readonly:
            fs += ",readonly=yes"
        cmd += ["--filesystem", fs]
    if any(s.needs_shared_memory for s in spec.shares):
        cmd += ["--memorybacking", "source.type=memfd,access.mode=shared"]
    if spec.graphics == "none":
        cmd += ["--graphics", "none"]
    else:
        cmd += ["--graphics", f"{spec.graphics},listen={spec.listen}"]
    cmd += ["--serial", "pty", "--console", "pty,target_type=serial", "--noautoconsole"]
    if not spec.start:
        cmd += ["--print-xml"]
    return cmd


def command_line(spec: GuestSpec, uri: str = "") -> str:
    """The whole shell line: volume creation, then virt-install (piped into ``virsh define``
    when the guest is not to be started)."""
    parts = [shlex.join(words) for words in volume_commands(spec, uri)]
    line = shlex.join(virt_install_command(spec, uri))
    if not spec.start:
        define = ["virsh"] + (["-c", uri] if uri else []) + ["define", "/dev/stdin"]
        line += " | " + shlex.join(define)
    parts.append(line)
    return " && ".join(parts)


# ---------------------------------------------------------------------- typed sizes
def parse_mib(text: str, what: str, default_unit: str = "m") -> float:
    """A size the user typed ("512", "512M", "2G", "1.5 GiB", "0.5T") in MiB; the unit is
    ``default_unit`` when none is given. InvalidInput says what is wrong."""
    try:
        return units.parse_size(text.replace(" ", ""), default_unit or "m") / units.MIB
    except units.SizeError:
        if not text.strip():
            raise InvalidInput(f"{what}: give a size, like 512M or 2G.") from None
        raise InvalidInput(f"{what}: {text.strip()} is not a size like 512M or 2G.") from None
