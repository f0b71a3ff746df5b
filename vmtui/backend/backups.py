"""Full and incremental backups of a running guest (``virDomainBackupBegin``, push mode, with
checkpoints), the list of a guest's backups, and restoring one into a new guest.

Never imports Textual; every call blocks (run it in a worker, or from ``vmtui backup``).

Layout: ``DIR/<guest>/<YYYYmmdd-HHMMSS>-<full|incremental>/`` holds one qcow2 image per disk
(``vda.qcow2``) and ``vmtui-backup.json`` (the guest's definition, the checkpoint, the backup it
builds on, and whether it finished). While a backup is written the directory also holds
``INCOMPLETE``; it goes only when QEMU reported success. A backup with that marker, or whose
manifest does not say it finished, or one built on such a backup, is shown as half-written and
is never offered for restore.

An incremental backup holds the clusters written since the checkpoint of the backup before it;
its images name that backup's images as their backing files, so a restore reads the chain.
Disks must be qcow2 (checkpoints are persistent bitmaps in the image; compat 1.1 needed).
Backups and restores need vmtui on the host itself: the files are written there.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libvirt

from vmtui.backend.devices import InvalidInput
from vmtui.backend.errors import ActionFailed
from vmtui.backend.hypervisor import Hypervisor
from vmtui.backend.models import GuestState, sanitise_fields

DEFAULT_DIR = "/var/lib/libvirt/vmtui-backups"  # QEMU (libvirt-qemu) can reach it
MANIFEST = "vmtui-backup.json"
INCOMPLETE = "INCOMPLETE"
FULL = "full"
INCREMENTAL = "incremental"
CHECKPOINT_PREFIX = "vmtui-"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]+")


@dataclass(frozen=True)
class BackupInfo:
    """One backup on disk, as its manifest and markers say."""

    path: str  # the backup's own directory
    guest: str
    uuid: str
    kind: str  # full or incremental
    checkpoint: str  # "" when the guest's disks could not hold one
    parent: str  # the directory name of the backup this one builds on ("" for a full one)
    started: float
    finished: float  # 0 when it never finished
    disks: tuple[str, ...]  # vda, vdb …
    size: int  # bytes the files take
    problem: str  # "" when restorable; else why not (a sentence)

    def __post_init__(self) -> None:
        sanitise_fields(self, "guest", "problem")

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    @property
    def restorable(self) -> bool:
        return not self.problem


@dataclass(frozen=True)
class Progress:
    processed: int
    total: int

    @property
    def fraction(self) -> float:
        return self.processed / self.total if self.total else 0.0


def guest_folder(base: str | Path, guest: str) -> Path:
    """Where a guest's backups live under ``base``: a name safe as one path component."""
    safe = _UNSAFE.sub("_", guest).strip("._") or "guest"
    return Path(base) / safe


# ----------------------------------------------------------------------- reading
def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _size_of(folder: Path) -> int:
    total = 0
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            with contextlib.suppress(OSError):
                total += entry.stat().st_blocks * 512
    return total


def _one(folder: Path) -> BackupInfo:
    data = _read_manifest(folder) or {}
    problem = ""
    disks = tuple(str(d.get("target", "")) for d in data.get("disks", []) if isinstance(d, dict))
    if not data:
        problem = f"Backup {folder.name} has no readable {MANIFEST}: it is half-written."
    elif (folder / INCOMPLETE).exists() or not data.get("complete"):
        why = data.get("problem") or "it never finished"
        problem = f"Backup {folder.name} is half-written ({why}); it cannot be restored."
    else:
        missing = [t for t in disks if not (folder / f"{t}.qcow2").is_file()]
        if missing:
            problem = f"Backup {folder.name} lacks the image of {', '.join(missing)}."
    return BackupInfo(
        path=str(folder),
        guest=str(data.get("guest", "")),
        uuid=str(data.get("uuid", "")),
        kind=str(data.get("kind", "?")),
        checkpoint=str(data.get("checkpoint", "")),
        parent=str(data.get("parent", "")),
        started=float(data.get("started", 0) or 0),
        finished=float(data.get("finished", 0) or 0),
        disks=disks,
        size=_size_of(folder),
        problem=problem,
    )


def list_backups(base: str | Path, guest: str) -> tuple[BackupInfo, ...]:
    """The backups of ``guest`` under ``base``, oldest first; an incremental one whose chain
    is broken (a base missing or half-written) is not restorable either."""
    folder = guest_folder(base, guest)
    if not folder.is_dir():
        return ()
    found = {p.name: _one(p) for p in sorted(folder.iterdir()) if p.is_dir()}
    out: list[BackupInfo] = []
    for name in sorted(found, key=lambda n: (found[n].started, n)):
        info = found[name]
        if not info.problem and info.kind == INCREMENTAL:
            seen: set[str] = set()
            parent = found.get(info.parent)
            while parent is not None and parent.name not in seen:
                seen.add(parent.name)
                if parent.problem:
                    break
                if parent.kind == FULL:
                    break
                parent = found.get(parent.parent)
            if parent is None or parent.problem:
                info = BackupInfo(
                    **{
                        **info.__dict__,
                        "problem": f"Backup {name} builds on {info.parent}, which is missing or "
                        "half-written; it cannot be restored.",
                    }
                )
        out.append(info)
    return tuple(out)


# ----------------------------------------------------------------------- backing up
def _need_local(hv: Hypervisor, what: str) -> None:
    if not hv.is_local:
        raise ActionFailed(
            f"{what} needs vmtui on the host itself ({hv.uri} is remote): the files are "
            "written there. Run vmtui (or `vmtui backup`) on that host."
        )


def _backup_disks(root: ET.Element) -> list[tuple[str, str, str]]:
    """(target, path, format) of every writable disk with an image."""
    out = []
    for disk in root.findall("./devices/disk"):
        if disk.get("device", "disk") != "disk" or disk.find("readonly") is not None:
            continue
        src, tgt, drv = disk.find("source"), disk.find("target"), disk.find("driver")
        if src is None or tgt is None:
            continue
        path = src.get("file") or src.get("dev") or ""
        fmt = drv.get("type", "") if drv is not None else ""
        out.append((tgt.get("dev", ""), path, fmt))
    return out


def _writable_folder(folder: Path, guest: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o755)  # QEMU (another user) opens the images it writes there
        probe = folder / f".vmtui-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ActionFailed(
            f"Cannot write the backup of guest {guest} into {folder}: "
            f"{err.strerror or err}. Nothing was backed up."
        ) from None


def _write_manifest(folder: Path, data: dict[str, Any]) -> None:
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, folder / MANIFEST)


def backup_xml(disks: list[tuple[str, str, str]], folder: Path, incremental: str) -> str:
    root = ET.Element("domainbackup", mode="push")
    if incremental:
        ET.SubElement(root, "incremental").text = incremental
    el = ET.SubElement(root, "disks")
    for target, _path, _fmt in disks:
        d = ET.SubElement(el, "disk", name=target, backup="yes", type="file")
        ET.SubElement(d, "driver", type="qcow2")
        ET.SubElement(d, "target", file=str(folder / f"{target}.qcow2"))
    return ET.tostring(root, encoding="unicode")


def checkpoint_xml(name: str, disks: list[tuple[str, str, str]]) -> str:
    root = ET.Element("domaincheckpoint")
    ET.SubElement(root, "name").text = name
    el = ET.SubElement(root, "disks")
    for target, _path, _fmt in disks:
        ET.SubElement(el, "disk", name=target, checkpoint="bitmap")
    return ET.tostring(root, encoding="unicode")


def _latest_base(dom: Any, folder: Path) -> BackupInfo | None:
    """The newest restorable backup whose checkpoint the guest still has."""
    for info in reversed(list_backups(folder.parent, folder.name)):
        if not info.restorable or not info.checkpoint:
            continue
        try:
            dom.checkpointLookupByName(info.checkpoint, 0)
        except libvirt.libvirtError:
            continue
        return info
    return None


def _drop_checkpoint(dom: Any, name: str) -> None:
    with contextlib.suppress(libvirt.libvirtError):
        dom.checkpointLookupByName(name, 0).delete(0)


def run_backup(
    hv: Hypervisor,
    uuid: str,
    base: str | Path,
    *,
    incremental: bool = False,
    progress: Callable[[Progress], object] | None = None,
    cancel: threading.Event | None = None,
    poll: float = 0.2,
) -> BackupInfo:
    """Back up the running guest into ``base`` (blocking until QEMU is done).

    ``progress`` is called with the bytes done so far; setting ``cancel`` aborts the job.
    Whatever goes wrong, the folder is left marked half-written (never restorable), the
    checkpoint made for it is removed, and the error is a sentence."""
    _need_local(hv, "A backup")
    _conn, dom, guest = hv.lookup_guest(uuid, writable=True)
    try:
        state = GuestState.from_libvirt(dom.state()[0])
        root = ET.fromstring(dom.XMLDesc(0))
        inactive = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, "back up", guest) from None
    if not state.is_active:
        raise ActionFailed(
            f"Guest {guest} is not running: QEMU makes the backup, so the guest must run. "
            "Start it, or copy its disk images while it is off."
        )
    disks = _backup_disks(root)
    if not disks:
        raise ActionFailed(f"Guest {guest} has no writable disk to back up.")
    not_qcow2 = [t for t, _p, f in disks if f != "qcow2"]
    if not_qcow2:
        raise ActionFailed(
            f"Guest {guest} cannot be backed up by vmtui: its disk {not_qcow2[0]} is not qcow2, "
            "and backups keep checkpoints (bitmaps) inside qcow2 images (compat 1.1)."
        )
    gfolder = guest_folder(base, guest)
    _writable_folder(gfolder, guest)
    parent: BackupInfo | None = None
    if incremental:
        parent = _latest_base(dom, gfolder)
        if parent is None:
            raise ActionFailed(
                f"Guest {guest} has no finished backup in {gfolder} whose checkpoint it still "
                "has, so there is nothing to build an incremental backup on; make a full "
                "backup first."
            )
    kind = INCREMENTAL if incremental else FULL
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = gfolder / f"{stamp}-{kind}"
    try:
        taken = {c.getName() for c in dom.listAllCheckpoints(0)}
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, "read the checkpoints of", guest) from None
    checkpoint = f"{CHECKPOINT_PREFIX}{stamp}-{kind}"
    n = 1
    while folder.exists() or checkpoint in taken:
        n += 1
        folder = gfolder / f"{stamp}-{n}-{kind}"
        checkpoint = f"{CHECKPOINT_PREFIX}{stamp}-{n}-{kind}"
    started = time.time()
    manifest: dict[str, Any] = {
        "guest": guest,
        "uuid": uuid,
        "kind": kind,
        "checkpoint": checkpoint,
        "parent": parent.name if parent else "",
        "started": started,
        "finished": 0,
        "complete": False,
        "problem": "",
        "disks": [{"target": t, "source": p, "format": f} for t, p, f in disks],
        "domain_xml": inactive,
    }
    try:
        folder.mkdir()
        os.chmod(folder, 0o755)
        (folder / INCOMPLETE).write_text("vmtui is writing this backup\n")
        _write_manifest(folder, manifest)
    except OSError as err:
        raise ActionFailed(
            f"Cannot write the backup of guest {guest} into {folder}: {err.strerror or err}. "
            "Nothing was backed up."
        ) from None

    begun = False  # the checkpoint is ours to remove only once backupBegin made it

    def fail(problem: str) -> ActionFailed:
        if begun:
            _drop_checkpoint(dom, checkpoint)
        manifest["problem"] = problem
        with contextlib.suppress(OSError):
            _write_manifest(folder, manifest)
        return ActionFailed(
            f"The {kind} backup of guest {guest} {problem}. Its half-written files in {folder} "
            "are marked as such and will not be offered for restore."
        )

    try:
        dom.backupBegin(
            backup_xml(disks, folder, parent.checkpoint if parent else ""),
            checkpoint_xml(checkpoint, disks),
            0,
        )
        begun = True
    except libvirt.libvirtError as err:
        raise fail(f"could not start ({err.get_error_message() or err})") from None
    cancelled = False
    try:
        while True:
            stats = dom.jobStats(0)
            if stats.get("type", libvirt.VIR_DOMAIN_JOB_NONE) == libvirt.VIR_DOMAIN_JOB_NONE:
                break
            if progress is not None:
                progress(
                    Progress(int(stats.get("disk_processed", 0)), int(stats.get("disk_total", 0)))
                )
            if cancel is not None and cancel.is_set() and not cancelled:
                cancelled = True
                with contextlib.suppress(libvirt.libvirtError):
                    dom.abortJob()
            time.sleep(poll)
        done = dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
    except libvirt.libvirtError as err:
        raise fail(f"failed ({err.get_error_message() or err})") from None
    except KeyboardInterrupt:
        with contextlib.suppress(libvirt.libvirtError):
            dom.abortJob()
        fail("was interrupted")
        raise
    if cancelled:
        raise fail("was cancelled")
    if not done.get("success", done.get("type") == libvirt.VIR_DOMAIN_JOB_COMPLETED):
        raise fail(f"failed ({done.get('errmsg') or 'QEMU reported an error'})")
    if progress is not None:
        total = int(done.get("disk_total", 0))
        progress(Progress(int(done.get("disk_processed", total)), total))
    if parent is not None:  # the new images read what they lack from the backup before
        for target, _p, _f in disks:
            try:
                subprocess.run(
                    [
                        "qemu-img",
                        "rebase",
                        "-u",
                        "-f",
                        "qcow2",
                        "-F",
                        "qcow2",
                        "-b",
                        f"../{parent.name}/{target}.qcow2",
                        str(folder / f"{target}.qcow2"),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                )
            except (OSError, subprocess.CalledProcessError) as err:
                detail = getattr(err, "stderr", "") or str(err)
                raise fail(f"could not be linked to {parent.name} ({detail.strip()})") from None
    manifest.update(complete=True, finished=time.time())
    try:
        _write_manifest(folder, manifest)
        (folder / INCOMPLETE).unlink()
    except OSError as err:
        raise fail(f"could not be marked finished ({err.strerror or err})") from None
    return _one(folder)


def backup_words(guest: str, folder: str, incremental: bool) -> tuple[str, ...]:
    """What the activity log shows (virsh's closest command)."""
    return ("backup-begin", guest, f"# into {folder}" + (" (incremental)" if incremental else ""))


# ----------------------------------------------------------------------- restoring
def restored_xml(xml: str, name: str, images: dict[str, str]) -> str:
    """The backed-up definition as a new guest: new name, no UUID, no MAC addresses, no
    NVRAM path (libvirt makes a fresh one), each backed-up disk on its restored image."""
    root = ET.fromstring(xml)
    name_el = root.find("name")
    if name_el is None:
        name_el = ET.SubElement(root, "name")
    name_el.text = name
    for tag in ("uuid", "title"):
        for el in root.findall(tag):
            root.remove(el)
    for iface in root.findall("./devices/interface"):
        for mac in iface.findall("mac"):
            iface.remove(mac)
    os_el = root.find("os")
    if os_el is not None:
        for nv in os_el.findall("nvram"):
            os_el.remove(nv)
    for disk in root.findall("./devices/disk"):
        tgt = disk.find("target")
        dev = tgt.get("dev", "") if tgt is not None else ""
        if dev not in images:
            continue
        disk.set("type", "file")
        for el in disk.findall("source") + disk.findall("backingStore"):
            disk.remove(el)
        src = ET.Element("source", file=images[dev])
        disk.insert(1 if disk.find("driver") is not None else 0, src)
        drv = disk.find("driver")
        if drv is None:
            drv = ET.Element("driver", name="qemu")
            disk.insert(0, drv)
        drv.set("type", "qcow2")
    return ET.tostring(root, encoding="unicode")


def restore_backup(hv: Hypervisor, backup: str | Path, name: str, into: str | Path) -> str:
    """Make a new guest ``name`` from the backup folder ``backup``, its disks as standalone
    qcow2 images in ``into``; returns the new guest's UUID. Nothing is left behind when it
    fails (no image, no definition)."""
    _need_local(hv, "A restore")
    folder = Path(backup)
    infos = {b.name: b for b in list_backups(folder.parent.parent, folder.parent.name)}
    info = infos.get(folder.name)
    if info is None:
        raise InvalidInput(f"There is no backup in {folder}.")
    if not info.restorable:
        raise ActionFailed(info.problem)
    name = name.strip()
    if not name or "/" in name:
        raise InvalidInput("Give the new guest a name (no '/').")
    conn = hv.writable_conn()
    with contextlib.suppress(libvirt.libvirtError):
        conn.lookupByName(name)
        raise InvalidInput(f"There is already a guest called {name}; pick another name.")
    data = _read_manifest(folder) or {}
    target_dir = Path(into)
    made: list[Path] = []
    images: dict[str, str] = {}
    try:
        try:
            target_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ActionFailed(
                f"Cannot create {target_dir} for the restored disks: {err.strerror or err}. "
                "Nothing was restored."
            ) from None
        for target in info.disks:
            final = target_dir / f"{_UNSAFE.sub('_', name)}-{target}.qcow2"
            if final.exists():
                raise ActionFailed(f"{final} already exists; nothing was restored.")
            partial = final.with_name(final.name + ".partial")
            made.append(partial)
            proc = subprocess.run(
                [
                    "qemu-img",
                    "convert",
                    "-f",
                    "qcow2",
                    "-O",
                    "qcow2",
                    "-o",
                    "compat=1.1",
                    str(folder / f"{target}.qcow2"),
                    str(partial),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                detail = proc.stderr.strip().splitlines()[-1:] or ["qemu-img failed"]
                raise ActionFailed(
                    f"Could not restore disk {target} of backup {info.name} into {target_dir}: "
                    f"{detail[0]}. Nothing was restored."
                )
            os.chmod(partial, 0o644)
            os.replace(partial, final)
            made[-1] = final
            images[target] = str(final)
        xml = restored_xml(str(data.get("domain_xml", "")), name, images)
        try:
            dom = conn.defineXML(xml)
        except libvirt.libvirtError as err:
            raise hv.wrap_failure(
                err, f"Could not define the restored guest {name}; nothing was restored"
            ) from None
        return str(dom.UUIDString())
    except BaseException:
        for path in made:
            with contextlib.suppress(OSError):
                path.unlink()
        raise


def remove_backup(info: BackupInfo) -> None:
    """Delete a backup folder (the caller confirmed; later incrementals become unrestorable)."""
    shutil.rmtree(info.path)
