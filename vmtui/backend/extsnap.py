"""External snapshots: each disk gets a new qcow2 overlay (the old image freezes as the
snapshot), optionally with the memory in a file; revert to one; merge an overlay back into
the image below it (block commit) with progress. Never imports Textual; every call blocks.

They work where internal snapshots do not: UEFI guests (pflash firmware), raw base images.
When the guest agent answers, the file systems are frozen for a consistent (quiesced) copy.

Revert: libvirt 9.0 cannot revert external snapshots itself, so vmtui does it the way its
documentation describes by hand: the guest is stopped, each disk gets a fresh overlay on the
image the snapshot froze, and a snapshot with memory is resumed from its memory file with that
disk. The overlays written since the snapshot are left on the host (named in the result).
Local hosts only (vmtui runs ``qemu-img`` there).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import libvirt

from vmtui.backend.devices import InvalidInput
from vmtui.backend.errors import ActionFailed
from vmtui.backend.hypervisor import Hypervisor
from vmtui.backend.models import GuestState
from vmtui.backend.snapshots import validate_snapshot_name

AGENT_PORT = "org.qemu.guest_agent.0"


@dataclass(frozen=True)
class ExternalSnapshot:
    name: str
    memory_file: str  # "" for a disk-only snapshot
    overlays: tuple[tuple[str, str], ...]  # (disk target, overlay file made for it)
    quiesced: bool


@dataclass(frozen=True)
class Reverted:
    state: GuestState
    new_overlays: tuple[str, ...]
    left_behind: tuple[str, ...]  # the overlays written after the snapshot (kept)


def _disks(root: ET.Element) -> list[tuple[str, str, str]]:
    """(target, file, format) of each writable file-backed disk."""
    out = []
    for disk in root.findall("devices/disk"):
        if disk.get("device", "disk") != "disk" or disk.find("readonly") is not None:
            continue
        src, tgt, drv = disk.find("source"), disk.find("target"), disk.find("driver")
        if src is None or tgt is None or not src.get("file"):
            continue
        out.append(
            (
                tgt.get("dev", ""),
                src.get("file", ""),
                drv.get("type", "raw") if drv is not None else "raw",
            )
        )
    return out


def _agent_connected(root: ET.Element) -> bool:
    for ch in root.findall("devices/channel"):
        tgt = ch.find("target")
        if tgt is not None and tgt.get("name") == AGENT_PORT:
            return tgt.get("state") == "connected"
    return False


def _overlay_path(base: str, snap: str) -> str:
    stem = os.path.splitext(base)[0]
    path = f"{stem}.{snap.replace(' ', '_')}.qcow2"
    n = 1
    while os.path.exists(path):
        n += 1
        path = f"{stem}.{snap.replace(' ', '_')}-{n}.qcow2"
    return path


def snapshot_xml(
    name: str, description: str, overlays: list[tuple[str, str]], memory_file: str
) -> str:
    root = ET.Element("domainsnapshot")
    ET.SubElement(root, "name").text = name
    if description.strip():
        ET.SubElement(root, "description").text = description.strip()
    if memory_file:
        ET.SubElement(root, "memory", snapshot="external", file=memory_file)
    else:
        ET.SubElement(root, "memory", snapshot="no")
    disks = ET.SubElement(root, "disks")
    for target, overlay in overlays:
        d = ET.SubElement(disks, "disk", name=target, snapshot="external", type="file")
        ET.SubElement(d, "driver", type="qcow2")
        ET.SubElement(d, "source", file=overlay)
    return ET.tostring(root, encoding="unicode")


def create_external(
    hv: Hypervisor, uuid: str, name: str, *, memory: bool = False, description: str = ""
) -> ExternalSnapshot:
    """Take an external snapshot: disk-only, or (running guest) with its memory. Quiesced
    through the guest agent when it answers; without it the disks are crash-consistent."""
    if not hv.is_local:
        raise ActionFailed("External snapshots need vmtui on the host itself (it names files).")
    _conn, dom, guest = hv.lookup_guest(uuid, writable=True)
    try:
        existing = dom.snapshotListNames(0)
        state = GuestState.from_libvirt(dom.state()[0])
        root = ET.fromstring(dom.XMLDesc(0))
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, "snapshot", guest) from None
    name = validate_snapshot_name(name, existing)
    if memory and not state.is_active:
        raise InvalidInput(f"Guest {guest} is not running, so there is no memory to keep.")
    disks = _disks(root)
    if not disks:
        raise ActionFailed(f"Guest {guest} has no file-backed disk to snapshot.")
    overlays = [(t, _overlay_path(f, name)) for t, f, _fmt in disks]
    memory_file = ""
    if memory:
        memory_file = os.path.join(os.path.dirname(disks[0][1]), f"{guest}.{name}.mem")
        if os.path.exists(memory_file):
            raise ActionFailed(f"{memory_file} already exists; pick another snapshot name.")
    flags = libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC
    if not memory:
        flags |= libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY
    quiesce = state.is_active and _agent_connected(root)
    xml = snapshot_xml(name, description, overlays, memory_file)
    try:
        try:
            dom.snapshotCreateXML(
                xml, flags | (libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE if quiesce else 0)
            )
        except libvirt.libvirtError:
            if not quiesce:
                raise
            quiesce = False  # the agent could not freeze: take it crash-consistent
            dom.snapshotCreateXML(xml, flags)
    except libvirt.libvirtError as err:
        raise hv.wrap_failure(err, f"Could not take snapshot {name} of guest {guest}") from None
    finally:
        hv.touch(uuid)
    return ExternalSnapshot(name, memory_file, tuple(overlays), quiesce)


def revert_external(hv: Hypervisor, uuid: str, name: str) -> Reverted:
    """Go back to external snapshot ``name`` (the caller confirmed that what the guest did
    since is dropped: a running guest is stopped). With memory the guest resumes from it."""
    if not hv.is_local:
        raise ActionFailed("Reverting an external snapshot needs vmtui on the host itself.")
    conn, dom, guest = hv.lookup_guest(uuid, writable=True)
    try:
        snap = dom.snapshotLookupByName(name, 0)
        sroot = ET.fromstring(snap.getXMLDesc(0))
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT:
            raise ActionFailed(f"Guest {guest} has no snapshot called {name}.") from None
        raise hv.wrap_error(err, "read snapshots of", guest) from None
    mem = sroot.find("memory")
    memory_file = (
        mem.get("file", "") if mem is not None and mem.get("snapshot") == "external" else ""
    )
    frozen_dom = sroot.find("domain")
    if frozen_dom is None:
        raise ActionFailed(f"Snapshot {name} of guest {guest} does not say what its disks were.")
    frozen = {t: (f, fmt) for t, f, fmt in _disks(frozen_dom)}
    snap_disks = [
        d.get("name", "") for d in sroot.findall("disks/disk") if d.get("snapshot") == "external"
    ]
    if not snap_disks:
        raise ActionFailed(f"Snapshot {name} of guest {guest} is not an external snapshot.")
    try:
        if dom.isActive():
            dom.destroy()
        root = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    except libvirt.libvirtError as err:
        raise hv.wrap_failure(err, f"Could not stop guest {guest} to revert it") from None
    made: list[str] = []
    left: list[str] = []
    try:
        for disk in root.findall("devices/disk"):
            tgt, src = disk.find("target"), disk.find("source")
            dev = tgt.get("dev", "") if tgt is not None else ""
            if dev not in snap_disks or dev not in frozen or src is None:
                continue
            base, fmt = frozen[dev]
            left.append(src.get("file", ""))
            new = _overlay_path(base, f"{name}-revert")
            subprocess.run(
                [
                    "qemu-img",
                    "create",
                    "-q",
                    "-f",
                    "qcow2",
                    "-o",
                    "compat=1.1",
                    "-b",
                    base,
                    "-F",
                    fmt,
                    new,
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            os.chmod(new, 0o644)
            made.append(new)
            src.set("file", new)
            drv = disk.find("driver")
            if drv is not None:
                drv.set("type", "qcow2")
            for bs in disk.findall("backingStore"):
                disk.remove(bs)
        xml = ET.tostring(root, encoding="unicode")
        conn.defineXML(xml)
        if memory_file:
            conn.restoreFlags(memory_file, xml, libvirt.VIR_DOMAIN_SAVE_RUNNING)
        state = GuestState.from_libvirt(dom.state()[0])
    except subprocess.CalledProcessError as err:
        for path in made:
            with contextlib.suppress(OSError):
                os.unlink(path)
        raise ActionFailed(
            f"Could not revert guest {guest} to {name}: qemu-img said {err.stderr.strip()}."
        ) from None
    except libvirt.libvirtError as err:
        raise hv.wrap_failure(err, f"Could not revert guest {guest} to snapshot {name}") from None
    finally:
        hv.touch(uuid)
    return Reverted(state, tuple(made), tuple(p for p in left if p))


def block_commit(
    hv: Hypervisor,
    uuid: str,
    target: str,
    *,
    progress: Callable[[int, int], object] | None = None,
    cancel: threading.Event | None = None,
    poll: float = 0.2,
) -> str:
    """Merge disk ``target``'s top overlay into the image below it while the guest runs
    (active block commit), then switch the disk to that image; returns its path. Snapshots
    whose overlay this was lose their metadata (their point in time is merged away)."""
    _conn, dom, guest = hv.lookup_guest(uuid, writable=True)
    try:
        if not dom.isActive():
            raise ActionFailed(
                f"Guest {guest} is not running: merging a snapshot's overlay is done live by "
                "QEMU. Start the guest first."
            )
        root = ET.fromstring(dom.XMLDesc(0))
        disk = next(
            (
                d
                for d in root.findall("devices/disk")
                if (t := d.find("target")) is not None and t.get("dev") == target
            ),
            None,
        )
        if disk is None:
            raise ActionFailed(f"Guest {guest} has no disk {target}.")
        src = disk.find("source")
        top = src.get("file", "") if src is not None else ""
        back = disk.find("backingStore/source")
        if back is None:
            raise ActionFailed(
                f"Disk {target} of guest {guest} has no image below it to merge into."
            )
        base = back.get("file", "")
        flags = libvirt.VIR_DOMAIN_BLOCK_COMMIT_ACTIVE | libvirt.VIR_DOMAIN_BLOCK_COMMIT_SHALLOW
        dom.blockCommit(target, None, None, 0, flags)
        while True:
            info = dom.blockJobInfo(target, 0)
            if not info:
                raise ActionFailed(f"The merge of {target} of guest {guest} stopped by itself.")
            cur, end = int(info.get("cur", 0)), int(info.get("end", 0))
            if progress is not None:
                progress(cur, end)
            if cancel is not None and cancel.is_set():
                dom.blockJobAbort(target, 0)
                raise ActionFailed(
                    f"The merge of {target} was cancelled; guest {guest} still uses {top}."
                )
            if end and cur == end:
                break
            time.sleep(poll)
        _pivot(dom, target, poll)
        deadline = time.monotonic() + 30
        while dom.blockJobInfo(target, 0) and time.monotonic() < deadline:
            time.sleep(poll)
        for snap in dom.listAllSnapshots(0):
            sroot = ET.fromstring(snap.getXMLDesc(0))
            if any(s.get("file") == top for s in sroot.findall("disks/disk/source")):
                snap.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY)
    except libvirt.libvirtError as err:
        raise hv.wrap_failure(err, f"Could not merge disk {target} of guest {guest}") from None
    finally:
        hv.touch(uuid)
    return base


def _pivot(dom: Any, target: str, poll: float, wait: float = 60.0) -> None:
    """Switch the disk to the merged image once QEMU says the job is ready (all data copied
    is not enough: the job must have reported ready)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            dom.blockJobAbort(target, libvirt.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
            return
        except libvirt.libvirtError as err:
            if "not ready" not in str(err) or time.monotonic() > deadline:
                raise
        time.sleep(poll)
