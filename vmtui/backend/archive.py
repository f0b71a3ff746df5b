"""Guests that travel as a file: ``export_guest`` and ``import_guest`` (issue 17, section 2).

The archive is a plain tar (GNU format, readable by ``tar tvf``)::

    disks/<target>.<format>.vsp   every carried disk, streamed out of its pool with
                                  virStorageVolDownload (sparse stream), in its own format
    domain.xml                    the inactive domain XML
    manifest.json                 last: sizes, sha256 of every member, source host's CPU
                                  model, the guest's machine type, arch, domain type

A disk member (``.vsp``, "vmtui sparse") is a run of records, each a kind byte and an 8-byte
big-endian length: ``D`` then that many bytes of data, ``H`` a hole of that many zero bytes,
``E`` (length 0) the end. Holes stay holes on both sides (``VIR_STORAGE_VOL_DOWNLOAD /
UPLOAD_SPARSE_STREAM``), and a qcow2 disk stays a qcow2 file. Members are written straight
into the tar: a placeholder header, the data, then the real header written back over the
placeholder (one 512-byte GNU header holds any size), so nothing is staged twice.

Export writes to a hidden temporary file next to ``FILE`` and renames it at the end: a failed
or cancelled export leaves no file. Import first makes every check that does not need the
disks' data — member names (never ``..`` or absolute: nothing is ever extracted by name
anyway), the manifest, the domain XML's sha256, free space in the pool, the target's domain
capabilities (machine type, arch, domain type, CPU model), the name and the volumes not
taken — then reads the archive once: each disk member streams into its new volume
(virStorageVolUpload) and is hashed on the way; the stream is finished only if the sha256
matches, and a mismatch aborts it and deletes every volume made so far. Only when every disk
matched are the disk paths rewritten, a new UUID and MACs given (unless ``keep_ids``) and the
guest defined. A failed, damaged or cancelled import deletes what it made: no volume, no
definition.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import re
import struct
import tarfile
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import libvirt

from vmtui.backend.errors import VmtuiError, libvirt_message
from vmtui.backend.models import GuestState
from vmtui.core.names import guest_name_problem

if TYPE_CHECKING:
    from vmtui.backend.hypervisor import Hypervisor

FORMAT = "vmtui-export"
VERSION = 1
MANIFEST = "manifest.json"
DOMAIN = "domain.xml"
_MEMBER = re.compile(r"^disks/[A-Za-z0-9_][A-Za-z0-9_.+-]{0,60}\.vsp$")
_FORMATS = frozenset({"raw", "qcow2", "qed", "vmdk", "vdi", "vpc", "vhdx"})
_REC = struct.Struct(">cQ")
_CHUNK = 1024 * 1024
_RECV = 256 * 1024  # libvirt's stream packet
_READ = 4 * 1024 * 1024  # import reads the archive in pieces this large
_SEND = _RECV  # and sends data in messages of libvirt's packet size
Progress = Callable[[int, int], object]  # (bytes done, bytes in all)


class ArchiveError(VmtuiError):
    """The archive cannot be imported (or written); nothing was created."""


class ArchiveCancelled(VmtuiError):
    """The user stopped it; what it had made is removed."""


@dataclass(frozen=True)
class DiskEntry:
    target: str  # vda
    member: str  # disks/vda.qcow2.vsp
    format: str  # qcow2
    capacity: int  # the volume's virtual size, bytes
    data: int  # bytes of data (holes left out): what the target must hold
    size: int  # the member's size in the archive
    sha256: str


@dataclass(frozen=True)
class Manifest:
    name: str
    uuid: str
    source: str  # the source host's name
    cpu_model: str  # the source host's CPU model
    cpu_mode: str  # the guest's <cpu mode=…> ("" : none given)
    guest_cpu_model: str  # the guest's <cpu><model> ("" : none)
    machine: str
    arch: str
    domain_type: str
    domain_sha256: str
    disks: tuple[DiskEntry, ...]
    not_carried: tuple[str, ...] = ()

    def to_json(self) -> str:
        body = {"format": FORMAT, "version": VERSION, **self.__dict__}
        body["disks"] = [d.__dict__ for d in self.disks]
        body["not_carried"] = list(self.not_carried)
        return json.dumps(body, indent=2) + "\n"


@dataclass(frozen=True)
class ExportResult:
    path: str
    manifest: Manifest
    bytes: int  # the archive's size


@dataclass(frozen=True)
class ImportResult:
    uuid: str
    name: str
    volumes: tuple[str, ...]  # the new volumes' paths
    warnings: tuple[str, ...] = field(default=())


class _Stop:
    """Cancel and progress in one place (checked between chunks)."""

    def __init__(self, cancel: threading.Event | None, progress: Progress | None, total: int):
        self.cancel = cancel
        self.progress = progress
        self.total = total
        self.done = 0
        self._last = 0.0

    def step(self, n: int) -> None:
        self.done += n
        if self.cancel is not None and self.cancel.is_set():
            raise ArchiveCancelled("Cancelled; nothing was left behind.")
        now = time.monotonic()
        if self.progress is not None and (now - self._last > 0.2 or self.done >= self.total):
            self._last = now
            self.progress(self.done, self.total)


# ------------------------------------------------------------------ export
def _host_cpu_model(conn: Any) -> str:
    with contextlib.suppress(libvirt.libvirtError, ET.ParseError):
        return ET.fromstring(conn.getCapabilities()).findtext("host/cpu/model") or ""
    return ""


def _carried_disks(root: ET.Element) -> tuple[list[ET.Element], list[str]]:
    """The disks the archive carries (writable images and block devices) and, in words,
    what it leaves out (CD-ROMs, read-only disks, kernels ...)."""
    carried: list[ET.Element] = []
    left: list[str] = []
    devices = root.find("devices")
    for disk in devices.findall("disk") if devices is not None else []:
        target = disk.find("target")
        dev = target.get("dev", "?") if target is not None else "?"
        src = disk.find("source")
        if src is None:
            continue
        readonly = disk.find("readonly") is not None or disk.get("device") in ("cdrom", "floppy")
        if readonly:
            left.append(f"read-only disk {dev} ({src.get('file') or src.get('dev') or '?'})")
            continue
        if disk.get("type", "file") not in ("file", "block", "volume"):
            raise ArchiveError(
                f"Disk {dev} is a {disk.get('type')} disk: only images and block devices in "
                "a storage pool can be exported."
            )
        carried.append(disk)
    for tag in ("kernel", "initrd", "dtb"):
        path = root.findtext(f"os/{tag}")
        if path:
            left.append(f"{tag} {path} (a host file: it must exist on the target)")
    return carried, left


def _disk_volume(conn: Any, disk: ET.Element) -> Any:
    src = disk.find("source")
    assert src is not None
    try:
        if disk.get("type") == "volume":
            pool = conn.storagePoolLookupByName(src.get("pool", ""))
            return pool.storageVolLookupByName(src.get("volume", ""))
        return conn.storageVolLookupByPath(src.get("file") or src.get("dev") or "")
    except libvirt.libvirtError:
        path = src.get("file") or src.get("dev") or src.get("volume") or "?"
        raise ArchiveError(
            f"Disk {path} is not in a storage pool: the export reads disks through the "
            "storage API; put its directory in a pool."
        ) from None


def _tar_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = int(time.time())
    buf = info.tobuf(tarfile.GNU_FORMAT)
    assert len(buf) == tarfile.BLOCKSIZE, name  # short names, base-256 sizes: one block
    return buf


def _write_all(out: IO[bytes], data: bytes) -> None:
    """An unbuffered file may take less than asked: write until all of it is out."""
    view = memoryview(data)
    while view:
        n = out.write(view)
        view = view[n if n is not None else len(view) :]


def _pad(out: IO[bytes], size: int) -> None:
    rest = -size % tarfile.BLOCKSIZE
    if rest:
        _write_all(out, b"\0" * rest)


def _add_bytes(out: IO[bytes], name: str, data: bytes) -> None:
    _write_all(out, _tar_header(name, len(data)))
    _write_all(out, data)
    _pad(out, len(data))


class _Member:
    """A tar member written as it streams: sha256 and size kept on the way. Hashing runs
    inline: a hashing thread fed through a queue measured slower here (GIL hand-offs per
    256 KiB piece; benchmarks/README.md, "Export / import")."""

    def __init__(self, out: IO[bytes], name: str) -> None:
        self.out = out
        self.name = name
        self.start = out.tell()
        _write_all(out, b"\0" * tarfile.BLOCKSIZE)  # the header, written again at the end
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        _write_all(self.out, data)
        self.sha.update(data)
        self.size += len(data)

    def digest(self) -> str:
        return self.sha.hexdigest()

    def close(self) -> None:
        end = self.out.tell()
        self.out.seek(self.start)
        _write_all(self.out, _tar_header(self.name, self.size))
        self.out.seek(end)
        _pad(self.out, self.size)


def _download(conn: Any, vol: Any, member: _Member, stop: _Stop) -> int:
    """Stream the volume into ``member`` as records; returns the data bytes."""
    stream = conn.newStream(0)
    data = 0
    try:
        vol.download(stream, 0, 0, libvirt.VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM)
        while True:
            # libvirt's packets hold 256 KiB; asking for more only costs a larger buffer
            got = stream.recvFlags(_RECV, libvirt.VIR_STREAM_RECV_STOP_AT_HOLE)
            if got == -3:  # a hole
                member.write(_REC.pack(b"H", stream.recvHole(0)))
                stop.step(0)
                continue
            if isinstance(got, int):
                raise ArchiveError("The disk's stream could not be read (non-blocking).")
            if not got:
                break
            member.write(_REC.pack(b"D", len(got)))
            member.write(got)
            data += len(got)
            stop.step(len(got))
        member.write(_REC.pack(b"E", 0))
        stream.finish()
    except BaseException:
        with contextlib.suppress(libvirt.libvirtError):
            stream.abort()
        raise
    return data


def export_guest(
    hv: Hypervisor,
    guest: str,
    path: str,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> ExportResult:
    """Write guest ``guest`` (name or UUID; shut off) to the archive ``path`` (local)."""
    conn = hv.readable_conn()
    dom = _lookup_guest(hv, conn, guest)
    name = dom.name()
    state = GuestState.from_libvirt(dom.state()[0])
    if state is not GuestState.SHUTOFF:
        raise ArchiveError(
            f"Guest {name} is {state.label}: shut it down first (its disks must not change "
            "while they are copied)."
        )
    if os.path.exists(path):
        raise ArchiveError(f"{path} already exists; choose another file name.")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ArchiveError(f"The folder {folder} does not exist.")
    try:
        xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, "read", name) from None
    root = ET.fromstring(xml)
    carried, left = _carried_disks(root)
    vols = [(d, _disk_volume(conn, d)) for d in carried]
    try:
        total = sum(int(v.info()[2]) for _, v in vols)  # allocation: about what is read
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, "read the disks of", name) from None
    stop = _Stop(cancel, progress, total)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".part", dir=folder)
    entries: list[DiskEntry] = []
    try:
        # unbuffered: each 256 KiB piece goes to the kernel as it is, without another copy
        with os.fdopen(fd, "wb", buffering=0) as out:
            for disk, vol in vols:
                target = disk.find("target")
                dev = target.get("dev", "disk") if target is not None else "disk"
                driver = disk.find("driver")
                fmt = driver.get("type", "raw") if driver is not None else "raw"
                member = _Member(out, f"disks/{dev}.{fmt}.vsp")
                try:
                    data = _download(conn, vol, member, stop)
                except libvirt.libvirtError as err:
                    raise ArchiveError(
                        f"Could not read disk {dev} of {name}: {libvirt_message(err)}."
                    ) from None
                member.close()
                capacity = int(vol.info()[1])
                entries.append(
                    DiskEntry(dev, member.name, fmt, capacity, data, member.size, member.digest())
                )
            xml_bytes = xml.encode()
            _add_bytes(out, DOMAIN, xml_bytes)
            cpu = root.find("cpu")
            os_type = root.find("os/type")
            manifest = Manifest(
                name=name,
                uuid=dom.UUIDString(),
                source=hv.host_info.hostname if hv.host_info else "",
                cpu_model=_host_cpu_model(conn),
                cpu_mode=cpu.get("mode", "custom") if cpu is not None else "",
                guest_cpu_model=(cpu.findtext("model") or "") if cpu is not None else "",
                machine=os_type.get("machine", "") if os_type is not None else "",
                arch=os_type.get("arch", "") if os_type is not None else "",
                domain_type=root.get("type", ""),
                domain_sha256=hashlib.sha256(xml_bytes).hexdigest(),
                disks=tuple(entries),
                not_carried=tuple(left),
            )
            _add_bytes(out, MANIFEST, manifest.to_json().encode())
            _write_all(out, b"\0" * (2 * tarfile.BLOCKSIZE))  # end of archive
            out.flush()
            size = out.tell()
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return ExportResult(path, manifest, size)


def _lookup_guest(hv: Hypervisor, conn: Any, guest: str) -> Any:
    dom = hv.find_domain(conn, guest)
    if dom is None:
        raise ArchiveError(f"There is no guest {guest} on {hv.uri}.")
    return dom


# ------------------------------------------------------------------ reading an archive
def _open_tar(path: str) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:")
    except FileNotFoundError:
        raise ArchiveError(f"There is no file {path}.") from None
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ArchiveError(f"{path} is not a vmtui export archive ({err}).") from None


def _members(tar: tarfile.TarFile, path: str) -> dict[str, tarfile.TarInfo]:
    out: dict[str, tarfile.TarInfo] = {}
    size = os.path.getsize(path)
    try:
        infos = tar.getmembers()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ArchiveError(f"{path} is damaged or cut short ({err}).") from None
    for info in infos:
        name = info.name
        if name.startswith("/") or ".." in name.split("/") or "\\" in name:
            raise ArchiveError(
                f"{path} holds a member named {name!r}, which points outside the archive: "
                "it is refused, and nothing was created."
            )
        if not info.isfile():
            raise ArchiveError(f"{path} holds {name!r}, which is not a plain file: refused.")
        if info.offset_data + info.size > size:
            raise ArchiveError(f"{path} is cut short: {name} ends past the end of the file.")
        out[name] = info
    return out


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key, "")
    if not isinstance(value, str):
        raise ArchiveError(f"The archive's manifest has a bad {key}.")
    return value


def read_manifest(path: str) -> Manifest:
    """The archive's manifest, checked for shape (not yet against the data)."""
    with _open_tar(path) as tar:
        members = _members(tar, path)
        return _manifest(tar, members, path)


def _manifest(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], path: str) -> Manifest:
    info = members.get(MANIFEST)
    if info is None or DOMAIN not in members or info.size > 1 << 20:
        raise ArchiveError(f"{path} is not a vmtui export archive (no manifest).")
    fobj = tar.extractfile(info)
    assert fobj is not None
    try:
        body = json.loads(fobj.read())
    except (ValueError, UnicodeDecodeError, tarfile.TarError, OSError):
        raise ArchiveError(f"The manifest in {path} is damaged.") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ArchiveError(f"{path} is not a vmtui export archive.")
    if body.get("version") != VERSION:
        raise ArchiveError(f"{path} was written by another vmtui (format {body.get('version')}).")
    disks = []
    raw_disks = body.get("disks")
    if not isinstance(raw_disks, list):
        raise ArchiveError(f"The manifest in {path} is damaged.")
    for d in raw_disks:
        try:
            entry = DiskEntry(
                str(d["target"]),
                str(d["member"]),
                str(d["format"]),
                int(d["capacity"]),
                int(d["data"]),
                int(d["size"]),
                str(d["sha256"]),
            )
        except (KeyError, TypeError, ValueError):
            raise ArchiveError(f"The manifest in {path} is damaged.") from None
        if (
            not _MEMBER.match(entry.member)
            or entry.format not in _FORMATS
            or not re.match(r"^[a-z]{2,4}[a-z0-9]{0,4}$", entry.target)
            or min(entry.capacity, entry.data, entry.size) < 0
        ):
            raise ArchiveError(f"The manifest in {path} names a disk it may not: {entry.member!r}.")
        if entry.member not in members or members[entry.member].size != entry.size:
            raise ArchiveError(f"{path} is missing disk {entry.target} or it is cut short.")
        disks.append(entry)
    left = body.get("not_carried", [])
    return Manifest(
        name=_text(body, "name"),
        uuid=_text(body, "uuid"),
        source=_text(body, "source"),
        cpu_model=_text(body, "cpu_model"),
        cpu_mode=_text(body, "cpu_mode"),
        guest_cpu_model=_text(body, "guest_cpu_model"),
        machine=_text(body, "machine"),
        arch=_text(body, "arch"),
        domain_type=_text(body, "domain_type"),
        domain_sha256=_text(body, "domain_sha256"),
        disks=tuple(disks),
        not_carried=tuple(str(x) for x in left) if isinstance(left, list) else (),
    )


def _read_chunks(tar: tarfile.TarFile, info: tarfile.TarInfo) -> Iterator[bytes]:
    """A member's bytes, read straight from the archive file (a plain tar: the member is one
    contiguous run at ``offset_data``), in large pieces."""
    fobj = tar.fileobj
    assert fobj is not None
    fobj.seek(info.offset_data)
    left = info.size
    while left > 0:
        chunk = fobj.read(min(_CHUNK * 4, left))
        if not chunk:
            raise ArchiveError(f"The archive is cut short in {info.name}.")
        left -= len(chunk)
        yield chunk


class _MemberStream:
    """One ``.vsp`` member read once, straight from the archive file (a plain tar: the member
    is one contiguous run at ``offset_data``), parsed into records and hashed.

    A reader thread reads each record (data in pieces of libvirt's packet size, each read
    straight into the bytes that are sent: no other copy), hands it over through a bounded
    queue and then hashes it, while the caller uploads: reading, hashing and virStreamSend
    all let go of the GIL, so they overlap (benchmarks/README.md, "Export / import").
    Records that do not add up (a length past the member's end, an unknown kind) end the
    records with ``_DAMAGED``; the rest of the member is still hashed, for the verdict."""

    _AHEAD = 16  # pieces read ahead of the upload (at most 4 MiB)

    def __init__(self, tar: tarfile.TarFile, info: tarfile.TarInfo) -> None:
        assert tar.fileobj is not None
        self.f = tar.fileobj
        self.f.seek(info.offset_data)
        self.name = info.name
        self.size = info.size
        self.sha = hashlib.sha256()
        self._stop = threading.Event()
        self._ready: queue.Queue[_Item] = queue.Queue(self._AHEAD)
        self._reader = threading.Thread(target=self._read, name="vmtui-import-read", daemon=True)
        self._reader.start()

    def _take(self, n: int) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise ArchiveError(f"The archive is cut short in {self.name}.")
        return data

    def _read(self) -> None:
        left = self.size
        try:
            while not self._stop.is_set():
                if left < _REC.size:
                    self._ready.put(_DAMAGED)
                    break
                head = self._take(_REC.size)
                left -= len(head)
                self.sha.update(head)
                kind, length = _REC.unpack(head)
                if kind == b"E":
                    self._ready.put(_END)
                    break
                if kind == b"H":
                    self._ready.put(length)
                    continue
                if kind != b"D" or length > left:
                    self._ready.put(_DAMAGED)
                    break
                left -= length
                while length > 0 and not self._stop.is_set():
                    piece = self._take(min(length, _SEND))
                    length -= len(piece)
                    self._ready.put(piece)
                    self.sha.update(piece)
            while left > 0 and not self._stop.is_set():  # whatever follows: hashed too
                piece = self._take(min(left, _READ))
                left -= len(piece)
                self.sha.update(piece)
        except BaseException as err:  # handed to the caller, raised there
            self._ready.put(err)

    def records(self) -> Iterator[bytes | int]:
        """Data (bytes) and holes (their length), in order; raises ``_Damaged``."""
        while True:
            got = self._ready.get()
            if got is _END:
                return
            if got is _DAMAGED:
                raise _Damaged
            if isinstance(got, BaseException):
                raise got
            assert isinstance(got, (bytes, int))
            yield got

    def digest(self) -> str:
        """The member's sha256 (what is left of it is read first)."""
        self.close(stop=False)
        return self.sha.hexdigest()

    def close(self, *, stop: bool = True) -> None:
        """Wait for the reader (told to stop first, unless ``stop`` is False)."""
        if stop:
            self._stop.set()
        while self._reader.is_alive():
            with contextlib.suppress(queue.Empty):
                self._ready.get(timeout=0.05)  # room for its puts
        self._reader.join()


_END = object()
_DAMAGED = object()
_Item = bytes | int | BaseException | object


class _Damaged(Exception):
    """A disk member's records do not add up (its checksum will say why)."""


# ------------------------------------------------------------------ import
def _capability_problems(conn: Any, m: Manifest) -> tuple[list[str], list[str]]:
    """What will not work on the target (refusals) and what may differ (warnings)."""
    problems: list[str] = []
    warnings: list[str] = []
    try:
        caps = conn.getDomainCapabilities(
            None, m.arch or None, m.machine or None, m.domain_type or None, 0
        )
    except libvirt.libvirtError as err:
        what = f"a {m.domain_type} guest of arch {m.arch} with machine type {m.machine}"
        problems.append(f"this host cannot run {what} ({libvirt_message(err)})")
        return problems, warnings
    root = ET.fromstring(caps)
    if m.cpu_mode == "custom" and m.guest_cpu_model:
        models = {
            e.text: e.get("usable", "unknown")
            for e in root.findall("cpu/mode[@name='custom']/model")
        }
        if models.get(m.guest_cpu_model) is None:
            problems.append(f"CPU model {m.guest_cpu_model} is unknown here")
        elif models[m.guest_cpu_model] == "no":
            problems.append(f"this host's CPU cannot run CPU model {m.guest_cpu_model}")
    elif m.cpu_mode in ("host-model", "host-passthrough") and m.cpu_model:
        warnings.append(
            f"the guest's CPU ({m.cpu_mode}) was a {m.cpu_model}; here it is this host's"
        )
    return problems, warnings


def _rewrite(xml: str, name: str, disks: dict[str, tuple[str, str]], keep_ids: bool) -> str:
    root = ET.fromstring(xml)
    name_el = root.find("name")
    if name_el is None:
        name_el = ET.SubElement(root, "name")
    name_el.text = name
    if not keep_ids:
        for old in root.findall("uuid"):
            root.remove(old)
    nvram = root.find("os/nvram")
    os_el = root.find("os")
    if nvram is not None and os_el is not None:
        os_el.remove(nvram)  # libvirt makes a fresh one (from the firmware's template)
    devices = root.find("devices")
    for elem in list(devices) if devices is not None else []:
        if elem.tag == "interface" and not keep_ids:
            for mac in elem.findall("mac"):
                elem.remove(mac)  # libvirt gives a new one
        if elem.tag != "disk":
            continue
        target = elem.find("target")
        dev = target.get("dev", "") if target is not None else ""
        if dev in disks:
            path, fmt = disks[dev]
            elem.set("type", "file")
            for child in list(elem):
                if child.tag in ("source", "backingStore"):
                    elem.remove(child)
            driver = elem.find("driver")
            if driver is None:
                driver = ET.Element("driver", name="qemu")
                elem.insert(0, driver)
            driver.set("type", fmt)
            elem.insert(1, ET.Element("source", file=path))
        elif elem.get("device") in ("cdrom", "floppy"):
            for child in elem.findall("source"):
                elem.remove(child)  # the source host's ISO: an empty drive here
    return ET.tostring(root, encoding="unicode")


def _volume_xml(name: str, d: DiskEntry) -> str:
    vol = ET.Element("volume")
    ET.SubElement(vol, "name").text = name
    ET.SubElement(vol, "capacity", unit="bytes").text = str(d.capacity)
    ET.SubElement(vol, "allocation", unit="bytes").text = "0"
    ET.SubElement(ET.SubElement(vol, "target"), "format", type=d.format)
    return ET.tostring(vol, encoding="unicode")


def _mismatch(d: DiskEntry) -> ArchiveError:
    return ArchiveError(
        f"Disk {d.target} in the archive does not match its checksum (damaged or changed): "
        "refused, nothing was created."
    )


def _send_records(stream: Any, member: _MemberStream, stop: _Stop) -> None:
    for item in member.records():
        if isinstance(item, int):
            stream.sendHole(item, 0)
            stop.step(0)
            continue
        stop.step(len(item))
        piece = item
        while piece:  # a blocking stream takes it all; a short count is not lost
            sent = stream.send(piece)
            if sent < 0:
                raise ArchiveError("The upload stream refused data.")
            piece = piece[sent:]


def _upload(conn: Any, vol: Any, member: _MemberStream, d: DiskEntry, stop: _Stop) -> None:
    """Send one ``.vsp`` member's records into the volume (holes as holes), hashing the
    member on the way; the stream is finished only when its sha256 matches the manifest, and
    aborted otherwise (the caller deletes the volume)."""
    stream = conn.newStream(0)
    try:
        try:
            vol.upload(stream, 0, 0, libvirt.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM)
            _send_records(stream, member, stop)
        except _Damaged:
            if member.digest() != d.sha256:
                raise _mismatch(d) from None
            raise ArchiveError(f"Disk {d.target} in the archive is damaged.") from None
        except libvirt.libvirtError:
            # libvirt refusing what damaged records said (a hole past any size ...)? The
            # checksum tells, and a damaged archive is named as such; otherwise the error
            # is libvirt's own (a full pool, a driver without uploads ...)
            if member.digest() != d.sha256:
                raise _mismatch(d) from None
            raise
        if member.digest() != d.sha256:
            raise _mismatch(d)
        stream.finish()
    except BaseException:
        with contextlib.suppress(libvirt.libvirtError):
            stream.abort()
        raise
    finally:
        member.close()


@dataclass(frozen=True)
class ImportPlan:
    """What an import will do, after every check passed (nothing made yet)."""

    manifest: Manifest
    name: str
    pool: str
    volumes: tuple[tuple[DiskEntry, str], ...]  # each disk and its new volume's name
    warnings: tuple[str, ...]


def _target_pool(conn: Any, pool: str) -> Any:
    try:
        found = conn.storagePoolLookupByName(pool)
    except libvirt.libvirtError as err:
        raise ArchiveError(
            f"There is no storage pool {pool} here ({libvirt_message(err)})."
        ) from None
    if not found.isActive():
        raise ArchiveError(f"Storage pool {pool} is not running; start it first.")
    return found


def plan_import(
    hv: Hypervisor,
    path: str,
    *,
    pool: str = "default",
    name: str = "",
    keep_ids: bool = False,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> ImportPlan:
    """Every check an import makes before it creates anything: tar structure, member names,
    the manifest and the domain XML's checksum, the name, free space, the target's domain
    capabilities. The disks' checksums are checked as they upload (:func:`import_guest`).
    ``progress`` and ``cancel`` are kept for callers; nothing here takes long."""
    conn = hv.writable_conn()
    with _open_tar(path) as tar:
        members = _members(tar, path)
        m = _manifest(tar, members, path)
        try:
            sha = hashlib.sha256()
            for chunk in _read_chunks(tar, members[DOMAIN]):
                sha.update(chunk)
        except (tarfile.TarError, OSError, EOFError) as err:
            raise ArchiveError(f"{path} is damaged or cut short ({err}).") from None
        if sha.hexdigest() != m.domain_sha256:
            raise ArchiveError("The archive's domain XML does not match its checksum: refused.")
    new_name = name or m.name
    taken: set[str] = set()
    # one lookup, not listAllDomains: that waits on every guest's lock (up to 1 s here when
    # other guests were busy; benchmarks/README.md, "Export / import")
    with contextlib.suppress(libvirt.libvirtError):
        taken = {conn.lookupByName(new_name).name()}
    problem = guest_name_problem(new_name, taken)
    if problem:
        raise ArchiveError(problem + (" Give another with --name." if new_name in taken else ""))
    if keep_ids and m.uuid:
        with contextlib.suppress(libvirt.libvirtError):
            other = conn.lookupByUUIDString(m.uuid)
            raise ArchiveError(
                f"Guest {other.name()} here already has UUID {m.uuid}; import without "
                "--keep-ids to give the copy a new one."
            )
    target = _target_pool(conn, pool)
    with contextlib.suppress(libvirt.libvirtError):
        target.refresh(0)
    try:
        available = int(target.info()[3])
        existing = set(target.listVolumes())
    except libvirt.libvirtError as err:
        raise ArchiveError(f"Could not read pool {pool}: {libvirt_message(err)}.") from None
    needed = sum(d.data for d in m.disks)
    if needed > available:
        raise ArchiveError(
            f"Pool {pool} has {_size(available)} free; the guest's disks need {_size(needed)}. "
            "Nothing was created."
        )
    volumes = []
    for d in m.disks:
        vol_name = f"{new_name}-{d.target}.{d.format}"
        if vol_name in existing:
            raise ArchiveError(f"Pool {pool} already has a volume {vol_name}; nothing was created.")
        volumes.append((d, vol_name))
    problems, warnings = _capability_problems(conn, m)
    if problems:
        raise ArchiveError(
            f"{new_name} would not run on {hv.uri}: "
            + "; ".join(problems)
            + ". Nothing was created."
        )
    return ImportPlan(m, new_name, pool, tuple(volumes), (*warnings, *m.not_carried))


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def import_guest(
    hv: Hypervisor,
    path: str,
    *,
    pool: str = "default",
    name: str = "",
    keep_ids: bool = False,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> ImportResult:
    """Check the archive (:func:`plan_import`), then upload its disks into ``pool``, each
    checked against its sha256 as it streams (one read of the archive), and define the guest
    once every disk matched. A mismatch aborts the upload and deletes the volumes made so
    far: nothing is defined. ``progress(done, total)`` counts the disks' data bytes."""
    plan = plan_import(hv, path, pool=pool, name=name, keep_ids=keep_ids, cancel=cancel)
    m = plan.manifest
    total = sum(d.data for d in m.disks)  # what the steps count: data, not holes or headers
    stop = _Stop(cancel, progress, total)
    conn = hv.writable_conn()
    target = _target_pool(conn, pool)
    made: list[Any] = []
    defined: Any = None
    try:
        with _open_tar(path) as tar:
            members = _members(tar, path)
            new_paths: dict[str, tuple[str, str]] = {}
            for d, vol_name in plan.volumes:
                vol = target.createXML(_volume_xml(vol_name, d), 0)
                made.append(vol)
                _upload(conn, vol, _MemberStream(tar, members[d.member]), d, stop)
                new_paths[d.target] = (vol.path(), d.format)
            stop.step(0)  # a cancel after the last piece still comes before the definition
            xml_file = tar.extractfile(members[DOMAIN])
            assert xml_file is not None
            xml = xml_file.read().decode()
        if hashlib.sha256(xml.encode()).hexdigest() != m.domain_sha256:
            raise ArchiveError("The archive changed while it was imported; nothing was kept.")
        defined = conn.defineXML(_rewrite(xml, plan.name, new_paths, keep_ids))
        uuid = defined.UUIDString()
    except libvirt.libvirtError as err:
        _undo(made, defined)
        raise ArchiveError(
            f"Could not import {plan.name}: {libvirt_message(err)}. Nothing was left behind."
        ) from None
    except (tarfile.TarError, OSError, EOFError) as err:
        _undo(made, defined)
        raise ArchiveError(f"{path} could not be read ({err}); nothing was left behind.") from None
    except BaseException:
        _undo(made, defined)
        raise
    hv.touch(uuid)
    if progress is not None:
        progress(total, total)
    return ImportResult(uuid, plan.name, tuple(p for p, _ in new_paths.values()), plan.warnings)


def _undo(volumes: list[Any], defined: Any) -> None:
    if defined is not None:
        with contextlib.suppress(libvirt.libvirtError):
            defined.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
    for vol in volumes:
        with contextlib.suppress(libvirt.libvirtError):
            vol.delete(0)
