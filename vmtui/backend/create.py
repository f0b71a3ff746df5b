"""Making a guest from a GuestSpec: what the host offers (``host_choices``), and
``create_guest``, which checks, creates volumes, uploads the cloud-init seed, defines and
optionally starts the guest. If any step fails, everything this call made is removed again
(the guest's definition, its new volumes, its seed ISO) and the error says which step failed.
Nothing that existed before is ever touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid as uuidlib
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import libvirt

from vmtui.backend import cloudinit
from vmtui.backend.devices import InvalidInput, check_share_host
from vmtui.backend.errors import ActionFailed, VmtuiError, libvirt_message
from vmtui.backend.hypervisor import Hypervisor
from vmtui.backend.models import sanitise_fields, sanitise_tuple
from vmtui.backend.spec import DiskSpec, GuestSpec, InstallSpec, build_domain_xml
from vmtui.backend.storage import VolumeSpec, volume_xml

Progress = Callable[[str], None]


@dataclass(frozen=True)
class PoolChoice:
    name: str
    active: bool
    path: str  # the pool's target directory ("" when it has none)
    volumes: tuple[str, ...]

    def __post_init__(self) -> None:  # names from libvirt: shown, never terminal bytes
        sanitise_fields(self, "name", "path")
        sanitise_tuple(self, "volumes")


MAX_VCPUS_DEFAULT = 16  # a new guest's default maximum vCPUs: the host's CPUs, at most this


@dataclass(frozen=True)
class HostChoices:
    """What the wizard offers on one host (read once when it opens)."""

    uri: str
    kvm: bool  # /dev/kvm usable for this arch, as libvirt's capabilities say
    uefi_loaders: tuple[str, ...]  # OVMF builds libvirt knows (domain capabilities)
    pools: tuple[PoolChoice, ...]
    networks: tuple[str, ...]
    taken_names: frozenset[str]
    arch: str = "x86_64"
    # CPU modes libvirt says work, per domain type (empty when the driver cannot tell)
    cpu_modes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    host_cpus: int = 0  # the host's CPU count (0: unknown)
    kvm_reason: str = ""  # why KVM is (not) usable, said next to the domain type

    def __post_init__(self) -> None:  # what the wizard lists: shown, never terminal bytes
        sanitise_tuple(self, "networks", "uefi_loaders")

    @property
    def default_max_vcpus(self) -> int:
        """The maximum vCPUs a new guest gets unless told: the host's CPUs, capped, so
        vCPUs can be added while it runs (0: unknown, the same as its vCPUs)."""
        return min(self.host_cpus, MAX_VCPUS_DEFAULT)

    def cpu_mode_usable(self, domain_type: str, mode: str) -> bool:
        known = dict(self.cpu_modes).get(domain_type)
        return known is None or mode in known

    @property
    def default_domain_type(self) -> str:
        return "kvm" if self.kvm else "qemu"

    @property
    def uefi(self) -> bool:
        return bool(self.uefi_loaders)


def host_choices(hv: Hypervisor, arch: str = "x86_64") -> HostChoices:
    """Read the host's KVM support, UEFI firmware, pools (with volumes), networks and the
    names in use."""
    conn = hv.readable_conn()
    try:
        caps = ET.fromstring(conn.getCapabilities())
        kvm = any(
            d.get("type") == "kvm"
            for guest in caps.findall("guest")
            if (guest.find("arch") is not None and guest.find("arch").get("name") == arch)  # type: ignore[union-attr]
            for d in guest.iter("domain")
        )
        kvm_reason = (
            "libvirt offers it for " + arch
            if kvm
            else f"libvirt offers no KVM for {arch} here (no /dev/kvm, or not allowed)"
        )
        loaders: list[str] = []
        cpu_modes: list[tuple[str, tuple[str, ...]]] = []
        for virt in ("kvm", "qemu") if kvm else ("qemu",):
            try:
                domcaps = ET.fromstring(conn.getDomainCapabilities(None, arch, None, virt, 0))
            except libvirt.libvirtError:
                if virt == "kvm":
                    kvm = False  # listed, but libvirt cannot use it
                    kvm_reason = "libvirt lists KVM but cannot describe it (broken?)"
                continue
            modes = tuple(
                m.get("name", "")
                for m in domcaps.findall("cpu/mode")
                if m.get("supported") == "yes"
            )
            cpu_modes.append((virt, modes))
            for value in domcaps.findall("os/loader/value"):
                if value.text and value.text not in loaders:
                    loaders.append(value.text)
        pools = []
        for pool in conn.listAllStoragePools(0):
            active = bool(pool.isActive())
            path = ET.fromstring(pool.XMLDesc(0)).findtext("target/path") or ""
            vols: tuple[str, ...] = ()
            if active:
                with contextlib.suppress(libvirt.libvirtError):
                    vols = tuple(sorted(v.name() for v in pool.listAllVolumes(0)))
            pools.append(PoolChoice(pool.name(), active, path, vols))
        networks = tuple(sorted(n.name() for n in conn.listAllNetworks(0)))
        names = frozenset(d.name() for d in conn.listAllDomains(0))
        host_cpus = int(conn.getInfo()[2])
    except libvirt.libvirtError as err:
        raise ActionFailed(
            f"Could not read what {hv.uri} offers for a new guest: {libvirt_message(err)}."
        ) from None
    return HostChoices(
        uri=hv.uri,
        kvm=kvm,
        uefi_loaders=tuple(loaders),
        pools=tuple(sorted(pools, key=lambda p: p.name)),
        networks=networks,
        taken_names=names,
        arch=arch,
        cpu_modes=tuple(cpu_modes),
        host_cpus=host_cpus,
        kvm_reason=kvm_reason,
    )


@dataclass
class _Made:
    """What this create made so far, newest last (undone in reverse)."""

    volumes: list[tuple[str, Any]] = field(default_factory=list)  # (label, virStorageVol)
    files: list[str] = field(default_factory=list)  # image files made at a host path
    domain: Any = None


@dataclass(frozen=True)
class CreateResult:
    name: str
    uuid: str
    started: bool
    volumes: tuple[str, ...]  # paths of the volumes made for it (disks and seed ISO)


class CreateFailed(ActionFailed):
    """A create step failed; ``step`` names it, and what the create had made is gone again."""

    def __init__(self, message: str, step: str) -> None:
        super().__init__(message)
        self.step = step


def create_guest(
    hv: Hypervisor,
    spec: GuestSpec,
    progress: Progress | None = None,
    *,
    allow_risky: bool = False,
) -> CreateResult:
    """Make the guest ``spec`` describes. Raises InvalidInput (nothing made) or CreateFailed
    (which step, why, and that what was made is removed again)."""
    say = progress or (lambda _s: None)
    conn = hv.writable_conn()
    made = _Made()
    step = "check the settings"
    try:
        say("Checking the settings…")
        try:
            taken = {d.name() for d in conn.listAllDomains(0)}
        except libvirt.libvirtError as err:
            raise hv.wrap_error(err, "create", spec.name) from None
        if spec.shares:  # checked here, on a remote host the wrong file system
            check_share_host(hv.uri)
        spec = spec.validate(taken, allow_risky=allow_risky)
        spec = _check_on_host(hv, conn, spec)

        for disk in images_to_make(hv, spec):
            step = f"create the image file {disk.path}"
            say(f"Creating {disk.path} ({disk.fmt}, {disk.size_gib:g} GiB)…")
            make_image_file(disk)
            made.files.append(disk.path)

        for i, disk in enumerate(spec.disks):
            if disk.kind != "new":
                continue
            volume = spec.volume_name(i)
            step = f"create volume {volume} in pool {disk.pool}"
            say(f"Creating volume {volume} ({disk.size_gib:g} GiB) in pool {disk.pool}…")
            made.volumes.append((volume, _create_volume(conn, disk.pool, volume, disk)))

        if spec.install.kind == "cloud":
            step = f"upload the cloud-init seed {spec.seed_volume}"
            say(f"Writing the cloud-init seed {spec.seed_volume}…")
            files = cloudinit.seed_files(
                spec.install.cloud, f"iid-{uuidlib.uuid4()}", spec.install.cloud.hostname
            )
            data = cloudinit.build_seed_iso(files)
            vol = cloudinit.upload_volume(conn, spec.install.seed_pool, spec.seed_volume, data)
            made.volumes.append((spec.seed_volume, vol))

        step = "define the guest"
        say(f"Defining guest {spec.name}…")
        made.domain = conn.defineXML(build_domain_xml(spec))
        uuid = made.domain.UUIDString()
        hv.touch(uuid)

        if spec.start:
            step = "start the guest"
            say(f"Starting guest {spec.name}…")
            made.domain.create()
    except InvalidInput:
        _undo(made)  # nothing is made before the checks pass; kept for safety
        raise
    except (libvirt.libvirtError, VmtuiError) as err:
        why = (
            libvirt_message(err)
            if isinstance(err, libvirt.libvirtError)
            else err.message.rstrip(".")
        )
        undone = _undo(made)
        raise CreateFailed(
            f"Could not create guest {spec.name}: the step '{step}' failed: {why}. {undone}",
            step,
        ) from None
    return CreateResult(
        name=spec.name,
        uuid=uuid,
        started=spec.start,
        volumes=tuple(_path(v) for _, v in made.volumes),
    )


def _check_on_host(hv: Hypervisor, conn: Any, spec: GuestSpec) -> GuestSpec:
    """What only the host can say: pools exist and run, volumes exist (or not yet), files
    exist (local hosts). Existing volumes without a format get theirs from libvirt."""
    disks = list(spec.disks)
    to_make = images_to_make(hv, spec)
    for i, disk in enumerate(disks):
        if disk.kind == "path":
            if disk in to_make:  # made at create: its folder must exist
                folder = os.path.dirname(disk.path) or "/"
                if not os.path.isdir(folder):
                    raise InvalidInput(
                        f"The folder {folder} for the new disk image does not exist."
                    )
                if not disk.fmt:
                    raise InvalidInput(
                        f"{disk.path} does not exist yet: choose qcow2 or raw to create it."
                    )
                continue
            _check_file(hv, disk.path, f"The disk image {disk.path}")
            continue
        pool = _pool(conn, disk.pool)
        volume = spec.volume_name(i)
        existing = _volume(pool, volume)
        if disk.kind == "new" and existing is not None:
            raise InvalidInput(
                f"Pool {disk.pool} already has a volume called {volume}; choose another name."
            )
        if disk.kind == "volume":
            if existing is None:
                raise InvalidInput(f"Pool {disk.pool} has no volume called {volume}.")
            if not disk.fmt:
                fmt = ET.fromstring(existing.XMLDesc(0)).find("target/format")
                found = fmt.get("type") if fmt is not None else None
                disks[i] = replace(disk, fmt=found if found in ("qcow2", "raw") else "raw")
    install = spec.install
    pool_iso = install.kind == "iso" and install.media_pool
    if pool_iso and _volume(_pool(conn, install.media_pool), install.media_volume) is None:
        raise InvalidInput(
            f"Pool {install.media_pool} has no volume called {install.media_volume}."
        )
    problem = install_file_problem(hv, install)
    if problem is not None:
        raise InvalidInput(problem[1])
    if install.kind == "cloud" and _volume(_pool(conn, install.seed_pool), spec.seed_volume):
        raise InvalidInput(
            f"Pool {install.seed_pool} already has a volume called {spec.seed_volume}."
        )
    for nic in spec.nics:
        if nic.kind == "network":
            try:
                conn.networkLookupByName(nic.source)
            except libvirt.libvirtError:
                raise InvalidInput(f"There is no network called {nic.source}.") from None
    uefi_unknown = spec.firmware == "uefi" and not spec.loader and hv.driver == "qemu"
    if uefi_unknown and not host_choices(hv, spec.arch).uefi:
        raise InvalidInput(
            "This host has no UEFI firmware (OVMF) that libvirt knows of; install the "
            "ovmf package or choose BIOS."
        )
    return replace(spec, disks=tuple(disks))


def install_file_problem(hv: Hypervisor, install: InstallSpec) -> tuple[str, str] | None:
    """The first file of the install source that does not exist on a local host, as (the
    InstallSpec field: "media_path", "kernel" or "initrd"; a sentence); None when all do
    (or the host is remote: libvirt checks those at start). Blocking: call it in a worker,
    so the wizard says so at the install step rather than at Create."""
    if install.kind == "iso" and not install.media_pool:
        wanted = [("media_path", install.media_path, "The ISO")]
    elif install.kind == "kernel":
        wanted = [("kernel", install.kernel, "The kernel")]
        if install.initrd:
            wanted.append(("initrd", install.initrd, "The initrd"))
    else:
        return None
    for name, path, what in wanted:
        try:
            _check_file(hv, path, f"{what} {path}")
        except InvalidInput as err:
            return name, err.message
    return None


def _check_file(hv: Hypervisor, path: str, what: str) -> None:
    """On a local host, the file must exist (remote files are checked by libvirt at start)."""
    if hv.is_local and hv.driver != "test" and not os.path.isfile(path):
        raise InvalidInput(f"{what} does not exist or is not a file.")


def _pool(conn: Any, name: str) -> Any:
    try:
        pool = conn.storagePoolLookupByName(name)
    except libvirt.libvirtError:
        raise InvalidInput(f"There is no storage pool called {name}.") from None
    if not pool.isActive():
        raise InvalidInput(f"Storage pool {name} is not running; start it first.")
    return pool


def _volume(pool: Any, name: str) -> Any:
    try:
        return pool.storageVolLookupByName(name)
    except libvirt.libvirtError:
        return None


def _create_volume(conn: Any, pool_name: str, volume: str, disk: DiskSpec) -> Any:
    pool = _pool(conn, pool_name)
    # the same sparse volume the storage view makes (allocated on demand)
    return pool.createXML(volume_xml(VolumeSpec(volume, disk.fmt, disk.size_bytes)), 0)


def _path(vol: Any) -> str:
    try:
        return str(vol.path())
    except libvirt.libvirtError:
        return str(vol.name())


def images_to_make(hv: Hypervisor, spec: GuestSpec) -> list[DiskSpec]:
    """The host-path disks whose file does not exist yet: create makes them (size and format
    from the disk). Only on a local host, where vmtui can see the file system."""
    if not hv.is_local or hv.driver == "test":
        return []
    return [d for d in spec.disks if d.kind == "path" and not os.path.lexists(d.path)]


def make_image_file(disk: DiskSpec) -> None:
    """Create a sparse image at ``disk.path``: raw by truncating a new file, qcow2 with
    qemu-img. Never overwrites (InvalidInput when it cannot be made)."""
    path, size = disk.path, disk.size_bytes
    if disk.fmt == "raw":
        try:
            with open(path, "xb") as image:
                image.truncate(size)
        except OSError as err:
            raise InvalidInput(f"Could not create {path}: {err.strerror or err}.") from None
        return
    qemu_img = shutil.which("qemu-img")
    if qemu_img is None:
        raise InvalidInput(
            f"Creating the qcow2 image {path} needs qemu-img, which is not installed; choose "
            "raw, or a new volume in a pool."
        )
    done = subprocess.run(
        [qemu_img, "create", "-q", "-f", "qcow2", "--", path, str(size)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if done.returncode != 0:
        why = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "qemu-img failed"
        raise InvalidInput(f"Could not create {path}: {why}.")


def default_pool_path(uri: str) -> str:
    """Where the usual first pool lives (as virt-manager makes it on first use)."""
    if uri.rstrip("/").endswith("/session"):
        return os.path.expanduser("~/.local/share/libvirt/images")
    return "/var/lib/libvirt/images"


def create_default_pool(hv: Hypervisor) -> str:
    """Make (or start) the storage pool 'default': a directory pool at the usual place,
    built, started and set to start with the host. Returns a sentence saying what was done."""
    conn = hv.writable_conn()
    path = default_pool_path(hv.uri)
    try:
        try:
            pool = conn.storagePoolLookupByName("default")
            made = False
        except libvirt.libvirtError:
            root = ET.Element("pool", {"type": "dir"})
            ET.SubElement(root, "name").text = "default"
            ET.SubElement(ET.SubElement(root, "target"), "path").text = path
            pool = conn.storagePoolDefineXML(ET.tostring(root, encoding="unicode"), 0)
            made = True
            try:
                pool.build(0)
            except libvirt.libvirtError:
                with contextlib.suppress(libvirt.libvirtError):
                    pool.undefine()
                raise
        if not pool.isActive():
            pool.create(0)
        with contextlib.suppress(libvirt.libvirtError):
            pool.setAutostart(1)
        where = ET.fromstring(pool.XMLDesc(0)).findtext("target/path") or path
    except libvirt.libvirtError as err:
        raise ActionFailed(
            f"Could not make the storage pool 'default' at {path}: {libvirt_message(err)}."
        ) from None
    verb = "Created" if made else "Started"
    return f"{verb} the storage pool 'default' ({where}); it starts with the host."


def _undo(made: _Made) -> str:
    """Remove what this create made (definition first, then volumes, newest first); a
    sentence saying what was removed and what could not be."""
    removed: list[str] = []
    failed: list[str] = []
    if made.domain is not None:
        try:
            if made.domain.isActive():
                made.domain.destroy()
            try:
                made.domain.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
            except libvirt.libvirtError:
                made.domain.undefine()
            removed.append("its definition")
        except libvirt.libvirtError as err:
            failed.append(f"its definition ({libvirt_message(err)})")
    for label, vol in reversed(made.volumes):
        try:
            vol.delete(0)
            removed.append(f"volume {label}")
        except libvirt.libvirtError as err:
            failed.append(f"volume {label} ({libvirt_message(err)})")
    for path in reversed(made.files):
        try:
            os.unlink(path)
            removed.append(f"image file {path}")
        except OSError as err:
            failed.append(f"image file {path} ({err.strerror or err})")
    made.files.clear()
    made.volumes.clear()
    made.domain = None
    if not removed and not failed:
        return "Nothing was left behind."
    out = f"Removed what this create had made: {', '.join(removed)}." if removed else ""
    if failed:
        out += f" Could not remove {', '.join(failed)}; remove it by hand."
    return out.strip()
