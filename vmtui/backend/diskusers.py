"""Who uses which file or volume on one host, compared by identity, not by spelling.

A guest uses a file through many roads: a disk's ``<source file|dev>``, a ``type='volume'``
disk (pool + volume), a path spelt another way (``//``, ``..``, a symlink, a hard link), the
backing chain of an overlay (``qemu-img create -b``), a qcow2 data file, a block-copy target,
or its ``<os>`` files: kernel, initrd, DTB, firmware and NVRAM. Both the inactive definition
and, for a running guest, the live XML count (a hot-plugged disk is only in the latter).

:func:`scan` reads every guest of a connection once and indexes each file it uses under every
key that names the file:

* the path as written and cleaned (``//`` and ``.`` collapsed, ``..`` taken lexically);
* the storage volume it is (its libvirt key, its pool and name, its path; and the size and
  nanosecond timestamps libvirt read through the volume, which a symlink or a hard link
  inside a pool shares with its target);
* on a local host, ``realpath`` and the file's device and inode (a block device's number).

Two files are the same when they share a key; more keys only ever find more users, so a
wrong guess errs towards keeping a file. What cannot be known is a :class:`Doubt` (a guest
whose definition cannot be read, a file vmtui may not look at, a path outside every pool on
a remote host, an image format whose backing file vmtui cannot read): callers refuse to
remove anything while there is one, and say why.

Backing chains come from the XML (``<backingStore>``, present in a running guest's live XML),
from the volume's XML (libvirt reads the image header as the daemon's user), and on a local
host from the image header itself (qcow2, QED). Used by ``backend/delete.py`` (which disks a
guest delete may remove) and ``backend/storage.py`` (which volumes the storage screen may
delete). Blocking; no Textual.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import libvirt

from vmtui.core.safetext import safe_text

Key = tuple[str, str]

LOCAL = "local"  # vmtui can look at the host's files itself
REMOTE = "remote"  # only through libvirt
NO_FILES = "none"  # libvirt's test driver: the paths name no file anywhere

MAX_CHAIN = 32  # backing files followed per disk (a loop ends here too)
_SLASHES = re.compile(r"/{2,}")
_DIR_LIKE_POOLS = ("dir", "fs", "netfs", "logical")


def access_for(is_local: bool, driver: str) -> str:
    """How vmtui can learn about a host's files: LOCAL, REMOTE or NO_FILES (test driver)."""
    if driver == "test":
        return NO_FILES
    return LOCAL if is_local else REMOTE


@dataclass(frozen=True)
class Use:
    """One guest's use of a file: ``role`` is "disk vda", "backing file of vda", "NVRAM"..."""

    guest: str
    uuid: str
    role: str

    def describe(self) -> str:
        return f"{self.guest} ({self.role})"


@dataclass(frozen=True)
class Doubt:
    """Something vmtui could not learn, so it cannot promise a file is unused."""

    guest: str  # "" when the doubt is about the file itself
    uuid: str
    reason: str  # a clause: "cannot read the definition of guest x (…)"


def clean_path(path: str) -> str:
    """``//a/./b/`` -> ``/a/b``: the spelling QEMU opens (``..`` is resolved lexically)."""
    if not path.startswith("/"):
        return path
    return posixpath.normpath(_SLASHES.sub("/", path))


class Identities:
    """Every key a path is known by on one connection (cached for one scan)."""

    def __init__(self, conn: Any, access: str) -> None:
        self.conn = conn
        self.access = access
        self._keys: dict[str, tuple[frozenset[Key], str]] = {}
        self._vols: dict[str, Any] = {}
        self._vol_xml: dict[str, ET.Element | None] = {}

    # ------------------------------------------------------------ volumes
    def volume(self, path: str) -> Any:
        """The storage volume at this path (as written, cleaned or resolved), or None."""
        if path in self._vols:
            return self._vols[path]
        found = None
        tries = [path, clean_path(path)]
        if self.access == LOCAL and path.startswith("/"):
            tries.append(os.path.realpath(path))
        for candidate in dict.fromkeys(tries):
            try:
                found = self.conn.storageVolLookupByPath(candidate)
                break
            except libvirt.libvirtError:
                continue
        self._vols[path] = found
        return found

    def volume_xml(self, path: str, vol: Any) -> ET.Element | None:
        if path not in self._vol_xml:
            try:
                self._vol_xml[path] = ET.fromstring(vol.XMLDesc(0))
            except (libvirt.libvirtError, ET.ParseError):
                self._vol_xml[path] = None
        return self._vol_xml[path]

    def pool_volume_path(self, pool_name: str, vol_name: str) -> tuple[str, str]:
        """The path of ``pool/volume`` (a ``type='volume'`` disk), or ("", why not)."""
        try:
            pool = self.conn.storagePoolLookupByName(pool_name)
        except libvirt.libvirtError:
            return "", ""  # no such pool: the disk names no file at all
        try:
            if pool.isActive():
                return str(pool.storageVolLookupByName(vol_name).path()), ""
            root = ET.fromstring(pool.XMLDesc(0))
        except libvirt.libvirtError:
            return "", ""  # no such volume: it names nothing that could be removed
        except ET.ParseError:
            return "", f"cannot read storage pool {pool_name}"
        base = root.findtext("target/path", "")
        if root.get("type", "") in _DIR_LIKE_POOLS and base:
            return posixpath.join(base, vol_name), ""
        return "", f"storage pool {pool_name} is not running"

    # ------------------------------------------------------------ keys
    def keys(self, path: str) -> tuple[frozenset[Key], str]:
        """The keys ``path`` is known by, and why vmtui cannot be sure it knows them all ("")."""
        if path in self._keys:
            return self._keys[path]
        keys: set[Key] = {("path", path), ("path", clean_path(path))}
        doubt = ""
        vol = self.volume(path)
        if vol is not None:
            keys |= self._volume_keys(path, vol)
        if self.access == LOCAL and path.startswith("/"):
            keys.add(("path", os.path.realpath(path)))
            try:
                st = os.stat(path)
            except FileNotFoundError:
                pass  # no file: nothing there to share
            except OSError as err:
                doubt = f"cannot look at {path} ({err.strerror or err})"
            else:
                keys.add(("inode", f"{st.st_dev}:{st.st_ino}"))
                if stat.S_ISBLK(st.st_mode):
                    keys.add(("rdev", str(st.st_rdev)))
        elif self.access == REMOTE and vol is None and path.startswith("/"):
            doubt = (
                f"{path} is not in a storage pool, and vmtui cannot look at that host's files "
                "to tell which file it is"
            )
        result = (frozenset(keys), doubt)
        self._keys[path] = result
        return result

    def _volume_keys(self, path: str, vol: Any) -> set[Key]:
        keys: set[Key] = set()
        try:
            keys.add(("vol", str(vol.key())))
            keys.add(("path", clean_path(str(vol.path()))))
            keys.add(("poolvol", f"{vol.storagePoolLookupByVolume().name()}/{vol.name()}"))
        except libvirt.libvirtError:
            pass
        root = self.volume_xml(path, vol)
        if root is not None:
            stamps = root.find("target/timestamps")
            if stamps is not None:
                mtime, ctime = stamps.findtext("mtime", ""), stamps.findtext("ctime", "")
                if mtime and ctime and "." in ctime:  # nanoseconds: a fingerprint
                    size = root.findtext("capacity", "")
                    keys.add(("stamp", f"{mtime}/{ctime}/{size}"))
        return keys

    # ------------------------------------------------------------ backing chains
    def backing_of(self, path: str, fmt: str) -> tuple[str | None, str]:
        """The backing file of the image at ``path`` (None: it has none), and a doubt."""
        if fmt == "raw":
            return None, ""
        if self.access == LOCAL and path.startswith("/"):
            found, why = _local_backing(path)
            if not why:
                return found, ""
        else:
            why = ""
        vol = self.volume(path)
        if vol is not None:
            root = self.volume_xml(path, vol)
            if root is not None:
                back = root.findtext("backingStore/path", "")
                return (_join_backing(path, back) if back else None), ""
        if self.access == NO_FILES:
            return None, ""
        if self.access == REMOTE:
            return None, (
                f"{path} is not in a storage pool, so vmtui cannot read which file it is based on"
            )
        return None, why


def _join_backing(overlay: str, backing: str) -> str:
    if backing.startswith("/") or ":" in backing.split("/", 1)[0]:
        return backing  # absolute, or a protocol (nbd:…, json:…)
    return posixpath.join(posixpath.dirname(overlay), backing)


def _local_backing(path: str) -> tuple[str | None, str]:
    """Read an image header: (backing file or None, why it could not be read or "")."""
    try:
        mode = os.stat(path).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISBLK(mode)):
            return None, ""  # a FIFO would block the open; a directory holds no image
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] == b"QFI\xfb" and len(head) >= 20:
                offset, size = struct.unpack(">QI", head[8:20])
            elif head[:4] == b"QED\x00" and len(head) >= 64:
                (features,) = struct.unpack("<Q", head[16:24])
                offset, size = struct.unpack("<II", head[56:64])
                if not features & 1:
                    offset = 0
            elif head[:4] in (b"KDMV", b"COWD", b"QFI\xfa") or head.startswith(b"# Disk Desc"):
                return None, f"vmtui cannot read which file the image {path} is based on"
            else:
                return None, ""  # raw, ISO, or a format without backing files
            if not offset or not size or size > 4096:
                return None, ""
            f.seek(offset)
            name = f.read(size).decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        return None, ""
    except OSError as err:
        return None, f"cannot read {path} ({err.strerror or err})"
    if name.startswith("json:"):
        return None, f"the image {path} names its backing file in a form vmtui cannot read"
    return _join_backing(path, name), ""


class Usage:
    """Every file the guests of one host use, by key (see :func:`scan`)."""

    def __init__(self, ident: Identities) -> None:
        self.ident = ident
        self._uses: dict[Key, set[Use]] = {}
        self.doubts: list[Doubt] = []

    def add(self, path: str, use: Use, *, boot_file: bool = False) -> None:
        """Index ``path`` as used by ``use``. A read-only boot file (kernel, initrd, DTB,
        firmware) outside every pool of a remote host is compared by path only: doubting it
        would refuse every delete on a host with a UEFI guest, for the unlikely case of a
        symlink from /usr/share into a pool."""
        keys, doubt = self.ident.keys(path)
        for key in keys:
            self._uses.setdefault(key, set()).add(use)
        if doubt and not (boot_file and self.ident.access == REMOTE):
            self.doubt(use, doubt)

    def add_key(self, key: Key, use: Use) -> None:
        self._uses.setdefault(key, set()).add(use)

    def doubt(self, use: Use, reason: str) -> None:
        self.doubts.append(Doubt(use.guest, use.uuid, f"guest {use.guest}: {reason}"))

    def users(
        self, path: str, *, exclude: str = "", extra: frozenset[Key] = frozenset()
    ) -> tuple[Use, ...]:
        """Who uses the file at ``path`` (any spelling of it), leaving out guest ``exclude``."""
        keys, _doubt = self.ident.keys(path)
        found: set[Use] = set()
        for key in keys | extra:
            found |= self._uses.get(key, set())
        return tuple(sorted((u for u in found if u.uuid != exclude), key=_use_order))

    def doubts_about(self, path: str, *, exclude: str = "") -> tuple[Doubt, ...]:
        """Why vmtui cannot promise that no guest but ``exclude`` uses ``path``."""
        _keys, doubt = self.ident.keys(path)
        out = [d for d in self.doubts if d.uuid != exclude]
        if doubt:
            out.insert(0, Doubt("", "", doubt))
        return tuple(dict.fromkeys(out))


def _use_order(use: Use) -> tuple[str, str, str]:
    return (use.guest.lower(), use.guest, use.role)


def names(uses: tuple[Use, ...]) -> tuple[str, ...]:
    """The guests among these uses, sorted, each once."""
    return tuple(sorted({u.guest for u in uses}, key=lambda n: (n.lower(), n)))


def doubt_text(doubts: tuple[Doubt, ...]) -> str:
    """The first reasons, as one clause ("" when there is none)."""
    if not doubts:
        return ""
    text = "; ".join(d.reason for d in doubts[:2])
    if len(doubts) > 2:
        text += f" (and {len(doubts) - 2} more)"
    return text


def scan(conn: Any, access: str) -> Usage:
    """Read every guest of ``conn`` (definition and live XML) into a :class:`Usage`."""
    usage = Usage(Identities(conn, access))
    for dom in conn.listAllDomains(0):
        try:  # the name is shown ("used by …"): escaped once here (core.safetext)
            name, uuid = safe_text(dom.name()), dom.UUIDString()
        except libvirt.libvirtError:
            continue  # it went away meanwhile
        xmls = []
        try:
            if dom.isPersistent():
                xmls.append(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
            if dom.isActive():
                xmls.append(dom.XMLDesc(0))
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                continue
            usage.doubt(
                Use(name, uuid, ""), f"cannot read its definition ({err.get_error_message()})"
            )
            continue
        for xml in xmls:
            try:
                root = ET.fromstring(xml)
            except ET.ParseError:
                usage.doubt(Use(name, uuid, ""), "its definition is not XML vmtui can read")
                continue
            _read_domain(usage, root, name, uuid)
    return usage


_OS_FILES = (
    ("kernel", "kernel"),
    ("initrd", "initrd"),
    ("dtb", "DTB"),
    ("loader", "firmware"),
)


def nvram_path(root: ET.Element) -> str:
    """The NVRAM file of a domain (``<nvram>path</nvram>`` or its ``<source file=…>``)."""
    nvram = root.find("os/nvram")
    if nvram is None:
        return ""
    src = nvram.find("source")
    if src is not None:
        return src.get("file") or src.get("dev") or ""
    return (nvram.text or "").strip()


def _read_domain(usage: Usage, root: ET.Element, name: str, uuid: str) -> None:
    for tag, role in _OS_FILES:
        path = (root.findtext(f"os/{tag}") or "").strip()
        if path:
            usage.add(path, Use(name, uuid, role), boot_file=True)
    nvram = nvram_path(root)
    if nvram:
        usage.add(nvram, Use(name, uuid, "NVRAM"))
    for disk in root.iterfind("devices/disk"):
        target = disk.find("target")
        dev = target.get("dev", "?") if target is not None else "?"
        _read_disk(usage, disk, name, uuid, dev)


def _source(usage: Usage, elem: ET.Element, use: Use) -> str:
    """Index the source of a disk (or backingStore, mirror) element; return its path."""
    kind = elem.get("type", "file")
    src = elem.find("source")
    if elem.tag == "mirror" and src is None and elem.get("file"):
        path = elem.get("file", "")
        usage.add(path, use)
        return path
    if src is None:
        return ""
    if kind == "volume":
        pool, vol = src.get("pool", ""), src.get("volume", "")
        if not (pool or vol):
            return ""
        usage.add_key(("poolvol", f"{pool}/{vol}"), use)
        path, why = usage.ident.pool_volume_path(pool, vol)
        if why:
            usage.doubt(use, f"{use.role} is volume {vol} of pool {pool}, and {why}")
        if path:
            usage.add(path, use)
        return path
    if kind == "network":
        ident = src.get("name", "")
        if ident:
            usage.add_key(("path", ident), use)
            usage.add_key(("path", f"{src.get('protocol', '')}:{ident}"), use)
        return ""
    path = src.get("file") or src.get("dev") or ""
    if path:
        usage.add(path, use)
    data = src.find("dataStore")
    if data is not None:
        _source(usage, data, Use(use.guest, use.uuid, f"data file of {use.role}"))
    return path


def _read_disk(usage: Usage, disk: ET.Element, name: str, uuid: str, dev: str) -> None:
    top = Use(name, uuid, f"disk {dev}")
    backing = Use(name, uuid, f"backing file of {dev}")
    path = _source(usage, disk, top)
    mirror = disk.find("mirror")
    if mirror is not None:
        _source(usage, mirror, Use(name, uuid, f"copy target of {dev}"))
    # The chain the XML spells out (a running guest's live XML has all of it).
    last_path, last_fmt = path, _format(disk)
    chain = disk.find("backingStore")
    steps = 0
    while chain is not None and chain.find("source") is not None and steps < MAX_CHAIN:
        last_path = _source(usage, chain, backing)
        last_fmt = _format(chain)
        chain = chain.find("backingStore")
        steps += 1
    if chain is not None and chain.find("source") is None:
        return  # an empty <backingStore/> ends a chain libvirt knows in full
    # Then what the images (or their volumes) say.
    seen = {last_path}
    fmt = last_fmt
    while last_path and steps < MAX_CHAIN:
        nxt, why = usage.ident.backing_of(last_path, fmt)
        if why:
            usage.doubt(backing, why)
        if not nxt or nxt in seen:
            return
        usage.add(nxt, backing)
        seen.add(nxt)
        last_path, fmt = nxt, ""
        steps += 1


def _format(elem: ET.Element) -> str:
    drv = elem.find("driver")
    if drv is not None and drv.get("type"):
        return drv.get("type", "")
    fmt = elem.find("format")
    return fmt.get("type", "") if fmt is not None else ""
