"""Device specs shared by guest creation and the isolation view: NICs and shared folders.

Both create a guest's links to its host or network, so both are checked the same way here:
host paths for shared folders are resolved (symlinks, ``..``) and must be existing
directories; paths under the deny list are refused unless the caller says the user accepted
the risk. XML elements are built with ElementTree, never string formatting.
"""

from __future__ import annotations

import os
import re
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from vmtui.backend.errors import VmtuiError


class InvalidInput(VmtuiError):
    """What the user typed cannot be used; the message says what is wrong."""


def checked_name(
    name: str,
    pattern: re.Pattern[str],
    rule: str,
    taken: Collection[str],
    *,
    what: str,
    label: str,
    owner: str,
) -> str:
    """The name of a new ``what`` (a clone, a snapshot), stripped. InvalidInput when it is
    empty, breaks ``pattern`` ("The {label} 'x' must be {rule}") or is already an ``owner``'s."""
    text = name.strip()
    if not text:
        raise InvalidInput(f"Give the {what} a name.")
    if not pattern.match(text):
        raise InvalidInput(f"The {label} {text!r} must be {rule}")
    if text in taken:
        raise InvalidInput(f"There is already a {owner} called {text}.")
    return text


class RiskyPath(InvalidInput):
    """A shared-folder path the user must confirm (it exposes a sensitive host directory).

    ``path`` is the resolved path; pass ``allow_risky=True`` after the user confirmed."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


# Exactly "/" is refused; for the others, the directory itself and everything below it.
DENIED_ROOT = Path("/")
DENIED_TREES: dict[Path, str] = {
    Path("/etc"): "the host's configuration, including passwords and keys",
    Path("/root"): "root's home directory, including its SSH keys",
    Path("/boot"): "the host's kernels and boot loader",
    Path("/proc"): "the host's processes and kernel settings",
    Path("/sys"): "the host's kernel and devices",
    Path("/dev"): "the host's devices",
    Path("/var/lib/libvirt"): "libvirt's own state, including other guests' disks",
    Path("/etc/libvirt"): "libvirt's configuration",
    Path("/run/libvirt"): "libvirt's sockets",
    Path("/var/run/libvirt"): "libvirt's sockets",
    Path("/var/log/libvirt"): "libvirt's logs",
    Path("/var/cache/libvirt"): "libvirt's cache",
    Path("/usr"): "the host's programs and libraries",
    Path("/bin"): "the host's programs",
    Path("/sbin"): "the host's programs",
    Path("/lib"): "the host's libraries",
    Path("/lib64"): "the host's libraries",
}
# Refused as they are (what lies below them may be shared): they hold every user's files.
DENIED_EXACT: dict[Path, str] = {
    Path("/home"): "every user's home directory, including their SSH keys",
    Path("/var"): "the host's variable data, including libvirt's state and other guests' disks",
    Path("/run"): "the host's runtime state and sockets, including libvirt's",
    Path("/var/run"): "the host's runtime state and sockets, including libvirt's",
    Path("/mnt"): "every file system mounted on the host",
    Path("/media"): "every removable medium mounted on the host",
}

SHARE_DRIVERS = ("virtiofs", "9p")
NIC_KINDS = ("network", "bridge", "direct", "user", "none")
NIC_MODELS = ("virtio", "e1000e", "e1000", "rtl8139")
DIRECT_MODES = ("bridge", "vepa", "private", "passthrough")
VIRTIOFSD = "/usr/lib/qemu/virtiofsd"

_TAG = re.compile(r"^[A-Za-z0-9_.-]{1,31}$")
_IFNAME = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")
_NETNAME = re.compile(r"^[^/\x00-\x1f]{1,64}$")
_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


# Directories whose every user has secrets in it: sharing one of them (or a parent) shares
# the users' keys. Checked in the shared directory and one level below it (/home/*/.ssh).
SECRET_DIRS = (".ssh", ".gnupg")
_SECRET_SCAN_LIMIT = 2000  # entries looked at one level below (a huge /home stays fast)


def path_risk(path: Path) -> str | None:
    """Why sharing this (resolved) host directory is risky, or None: it lies in a denied
    tree, a denied tree lies below it (/var holds /var/lib/libvirt), or users' keys do
    (/home holds /home/*/.ssh)."""
    if path == DENIED_ROOT:
        return "the whole host file system"
    if path in DENIED_EXACT:
        return DENIED_EXACT[path]
    for tree, why in DENIED_TREES.items():
        if path == tree or tree in path.parents:
            return why
    for tree, why in DENIED_TREES.items():
        if path in tree.parents:
            return f"{tree}, which lies below it: {why}"
    secrets = _secrets_below(path)
    if secrets is not None:
        return f"{secrets}, which lies below it: a user's private keys"
    return None


def _secrets_below(path: Path) -> Path | None:
    """A users' secrets directory in ``path`` or one level below, if there is one."""
    try:
        for name in SECRET_DIRS:
            if (path / name).is_dir():
                return path / name
        with os.scandir(path) as entries:
            for n, entry in enumerate(entries):
                if n >= _SECRET_SCAN_LIMIT:
                    break
                if not entry.is_dir(follow_symlinks=False):
                    continue
                for name in SECRET_DIRS:
                    if os.path.isdir(os.path.join(entry.path, name)):
                        return Path(entry.path) / name
    except OSError:
        return None
    return None


def check_share_host(uri: str) -> None:
    """Shared-folder paths are resolved and checked on the machine vmtui runs on; on a remote
    host (a URI naming a host, as Hypervisor.is_local reads it) that check would look at the
    wrong file system, so sharing is refused there (InvalidInput). The isolation view, the
    new-guest wizard and create_guest all ask this first."""
    if urllib.parse.urlsplit(uri).hostname:
        raise InvalidInput(
            f"Shared folders can be added only on the machine vmtui runs on: the host path "
            f"cannot be checked on {uri} from here. Run vmtui on that host."
        )


class MissingFolder(InvalidInput):
    """A shared-folder path that does not exist yet (``path``: resolved); it can be made
    with ``make_share_folder`` once the user agreed."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


def make_share_folder(path: Path) -> Path:
    """Create a directory to share (and its missing parents); InvalidInput with a sentence."""
    try:
        path.mkdir(mode=0o755, parents=True, exist_ok=True)
    except OSError as err:
        raise InvalidInput(f"Could not create {path}: {err.strerror or err}.") from None
    return path


def resolve_share_path(raw: str, *, allow_risky: bool = False) -> Path:
    """The real directory behind ``raw`` (symlinks and ``..`` resolved).

    Raises InvalidInput when it is empty, relative, missing or not a directory, and
    RiskyPath when it lies under the deny list and ``allow_risky`` is False."""
    text = raw.strip()
    if not text:
        raise InvalidInput("Give the host directory to share.")
    if "\x00" in text:
        raise InvalidInput("The host path contains a NUL character.")
    given = Path(os.path.expanduser(text))
    if not given.is_absolute():
        raise InvalidInput(f"The host path {text} is relative; give a full path from /.")
    resolved = given.resolve(strict=False)
    if not resolved.exists():
        raise MissingFolder(f"The host directory {resolved} does not exist.", resolved)
    if not resolved.is_dir():
        raise InvalidInput(f"{resolved} is not a directory; only directories can be shared.")
    why = path_risk(resolved)
    if why is not None and not allow_risky:
        shown = f"{text} (really {resolved})" if str(resolved) != text else str(resolved)
        raise RiskyPath(f"Sharing {shown} gives the guest access to {why}.", resolved)
    return resolved


@dataclass(frozen=True)
class SharedFolderSpec:
    """A host directory shown to the guest under ``tag`` (``mount -t 9p TAG /mnt``).

    Read-only by default. Measured: libvirt 9.0 refuses read-only virtiofs ("virtiofs does
    not yet support read-only mode"), so the default driver is 9p; a read-only virtiofs spec
    passes ``validate`` (newer libvirt accepts it) and the define step reports libvirt's
    refusal."""

    source: str
    tag: str
    driver: str = "9p"  # or "virtiofs"
    readonly: bool = True

    def validate(self, *, allow_risky: bool = False) -> SharedFolderSpec:
        """A copy with the source resolved; raises InvalidInput / RiskyPath."""
        if self.driver not in SHARE_DRIVERS:
            raise InvalidInput(f"Unknown shared-folder type {self.driver!r}; use virtiofs or 9p.")
        if not _TAG.match(self.tag):
            raise InvalidInput(
                f"The mount tag {self.tag!r} must be 1-31 letters, digits, '_', '.' or '-'."
            )
        path = resolve_share_path(self.source, allow_risky=allow_risky)
        return SharedFolderSpec(str(path), self.tag, self.driver, self.readonly)

    @property
    def needs_shared_memory(self) -> bool:
        """virtiofs needs the guest's memory shared with virtiofsd (memfd backing)."""
        return self.driver == "virtiofs"


def filesystem_element(spec: SharedFolderSpec) -> ET.Element:
    """The <filesystem> element for a (validated) shared folder."""
    fs = ET.Element("filesystem", {"type": "mount", "accessmode": "passthrough"})
    ET.SubElement(fs, "driver", {"type": "virtiofs" if spec.driver == "virtiofs" else "path"})
    if spec.driver == "virtiofs" and os.path.exists(VIRTIOFSD):
        ET.SubElement(fs, "binary", {"path": VIRTIOFSD})
    ET.SubElement(fs, "source", {"dir": spec.source})
    ET.SubElement(fs, "target", {"dir": spec.tag})
    if spec.readonly:
        ET.SubElement(fs, "readonly")
    return fs


def ensure_shared_memory(domain: ET.Element) -> bool:
    """Give a <domain> the memfd/shared memory backing virtiofs needs; True if it changed."""
    backing = domain.find("memoryBacking")
    changed = False
    if backing is None:
        backing = ET.SubElement(domain, "memoryBacking")
        changed = True
    source = backing.find("source")
    if source is None and backing.find("hugepages") is None:
        ET.SubElement(backing, "source", {"type": "memfd"})
        changed = True
    access = backing.find("access")
    if access is None:
        ET.SubElement(backing, "access", {"mode": "shared"})
        changed = True
    elif access.get("mode") != "shared":
        access.set("mode", "shared")
        changed = True
    return changed


@dataclass(frozen=True)
class NicSpec:
    """A network card: ``kind`` network (libvirt network), bridge (host bridge), direct
    (macvtap on a host device), user (SLIRP) or none; ``source`` names the network,
    bridge or host device."""

    kind: str = "network"
    source: str = ""
    model: str = "virtio"
    mac: str = ""  # empty: libvirt picks one
    direct_mode: str = "bridge"

    def validate(self) -> NicSpec:
        if self.kind not in NIC_KINDS:
            raise InvalidInput(f"Unknown network type {self.kind!r}.")
        if self.model not in NIC_MODELS:
            raise InvalidInput(
                f"Unknown NIC model {self.model!r}; use one of {', '.join(NIC_MODELS)}."
            )
        if self.mac and not _MAC.match(self.mac):
            raise InvalidInput(f"{self.mac!r} is not a MAC address like 52:54:00:12:34:56.")
        if self.kind == "network" and not _NETNAME.match(self.source):
            raise InvalidInput("Choose the libvirt network to attach to.")
        if self.kind in ("bridge", "direct") and not _IFNAME.match(self.source):
            what = "bridge" if self.kind == "bridge" else "host network device"
            raise InvalidInput(f"{self.source!r} is not a valid {what} name.")
        if self.kind == "direct" and self.direct_mode not in DIRECT_MODES:
            raise InvalidInput(f"Unknown macvtap mode {self.direct_mode!r}.")
        return self


def interface_element(spec: NicSpec) -> ET.Element | None:
    """The <interface> element for a (validated) NIC; None for kind "none"."""
    if spec.kind == "none":
        return None
    iface = ET.Element("interface", {"type": spec.kind})
    if spec.mac:
        ET.SubElement(iface, "mac", {"address": spec.mac.lower()})
    if spec.kind == "network":
        ET.SubElement(iface, "source", {"network": spec.source})
    elif spec.kind == "bridge":
        ET.SubElement(iface, "source", {"bridge": spec.source})
    elif spec.kind == "direct":
        ET.SubElement(iface, "source", {"dev": spec.source, "mode": spec.direct_mode})
    ET.SubElement(iface, "model", {"type": spec.model})
    return iface
