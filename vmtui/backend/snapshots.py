"""Guest snapshots: list them as a tree, create, revert, delete. Never imports Textual.

Only internal snapshots (the qcow2 format keeps them inside the disk image) are made here.
Before calling libvirt, the guest's XML is checked: every writable disk must be qcow2,
otherwise the refusal says which disk and what would work instead. A running guest's
snapshot includes its memory (libvirt/QEMU cannot take an internal disk-only snapshot of a
running guest); a shut-off guest's never does.
"""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import libvirt

from vmtui.backend import paths
from vmtui.backend.devices import InvalidInput, checked_name
from vmtui.backend.errors import ActionFailed
from vmtui.backend.hypervisor import Hypervisor
from vmtui.backend.models import GuestState, sanitise_fields
from vmtui.backend.quiesce import Quiesce, quiesced, thaw_after_revert
from vmtui.backend.shown import lookup as lookup_shown

# Letters, digits and a few separators; no "/" (libvirt keeps snapshot metadata in files
# named after the snapshot) and no leading "-" (it would read as an option to virsh).
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9 _.:+@-]{0,63}$")


@dataclass(frozen=True)
class GuestSnapshot:
    """One snapshot of a guest, as libvirt describes it."""

    name: str
    parent: str | None
    created: int  # seconds since the epoch
    state: str  # the guest's state when it was taken: running, shutoff, paused, ...
    description: str
    current: bool
    has_memory: bool
    children: int
    # how create_snapshot treated the guest's filesystems (backend/quiesce.py); None elsewhere
    quiesce: Quiesce | None = dataclasses.field(default=None, compare=False)
    external: bool = False  # overlays / a memory file outside the image (backend/extsnap.py)

    def __post_init__(self) -> None:  # a snapshot's name and words: shown, never terminal bytes
        sanitise_fields(self, "name", "parent", "state")
        sanitise_fields(self, "description", multiline=True)


@dataclass(frozen=True)
class SnapshotTree:
    """A guest's snapshots (parents before children) and whether a new one can be taken."""

    guest: str
    uuid: str
    state: GuestState
    snapshots: tuple[GuestSnapshot, ...]
    blocker: str  # empty when a snapshot can be taken; else why not (a sentence)

    def __post_init__(self) -> None:
        sanitise_fields(self, "guest", "blocker")

    @property
    def current(self) -> GuestSnapshot | None:
        return next((s for s in self.snapshots if s.current), None)

    def children_of(self, name: str | None) -> list[GuestSnapshot]:
        return [s for s in self.snapshots if s.parent == name]

    def descendants(self, name: str) -> list[GuestSnapshot]:
        out: list[GuestSnapshot] = []
        todo = [name]
        while todo:
            kids = self.children_of(todo.pop())
            out += kids
            todo += [k.name for k in kids]
        return out

    def get(self, name: str) -> GuestSnapshot | None:
        return next((s for s in self.snapshots if s.name == name), None)


def snapshot_blocker(domain_xml: str) -> str:
    """Why an internal snapshot of this guest cannot be taken ("" when it can).

    Every writable disk (not a CD-ROM/floppy, not read-only, not excluded with
    ``snapshot='no'``) must be a qcow2 image."""
    root = ET.fromstring(domain_xml)
    name = root.findtext("name") or "?"
    writable = 0
    for disk in root.findall("./devices/disk"):
        if disk.get("device", "disk") in ("cdrom", "floppy"):
            continue
        if disk.find("readonly") is not None or disk.get("snapshot") == "no":
            continue
        writable += 1
        target = disk.find("target")
        dev = target.get("dev", "?") if target is not None else "?"
        where = paths.disk_source(disk)  # the real source: network disks keep their host
        shown = f"{dev} ({where})" if where else dev
        driver = disk.find("driver")
        fmt = driver.get("type", "") if driver is not None else ""
        if fmt != "qcow2":
            # no format in the XML is not "raw": vmtui cannot tell what the image is
            is_what = f"is {fmt}" if fmt else "has no format in its definition"
            return (
                f"Guest {name} cannot take a snapshot: its disk {shown} {is_what}, and internal "
                "snapshots need every writable disk in qcow2 format. A qcow2 copy of the disk "
                f"would hold snapshots (qemu-img convert -O qcow2), or an external disk-only "
                f"snapshot would work (virsh snapshot-create-as {name} NAME --disk-only): "
                "press E for one."
            )
    if not writable:  # said before n, not as libvirt's error after it
        return (
            f"Guest {name} has no disk, so there is nothing to snapshot: internal snapshots "
            "are kept in a qcow2 disk. Add one first (e, the XML editor)."
        )
    return ""


def validate_snapshot_name(name: str, existing: tuple[str, ...] | list[str] = ()) -> str:
    """The name, stripped; raises InvalidInput with the rule when it cannot be used."""
    rule = "1-64 letters, digits, spaces or _ . : + @ -, and start with a letter, digit or _."
    return checked_name(
        name, _NAME, rule, existing, what="snapshot", label="snapshot name", owner="snapshot"
    )


def _name_or_none(get: Callable[[], Any]) -> str | None:
    """The name of the snapshot ``get`` returns; None when libvirt answers that there is no
    such snapshot (a root has no parent, a guest may have no current snapshot)."""
    try:
        return str(get().getName())
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT:
            raise
        return None


def _snapshot_named(dom: Any, name: str) -> Any:
    """The guest's snapshot by the name vmtui shows (an escaped name too: backend/shown.py)."""
    return lookup_shown(
        lambda n: dom.snapshotLookupByName(n, 0),
        lambda: dom.listAllSnapshots(0),
        lambda s: s.getName(),
        name,
    )


def _snapshot_info(snap: Any, current: str | None) -> GuestSnapshot:
    root = ET.fromstring(snap.getXMLDesc(0))
    memory = root.find("memory")
    parent = _name_or_none(lambda: snap.getParent(0))
    try:
        created = int(root.findtext("creationTime") or 0)
    except ValueError:
        created = 0
    has_memory = memory is not None and memory.get("snapshot") not in (None, "no")
    state = root.findtext("state") or "?"
    if memory is None:  # older libvirt: a snapshot of a running guest has its memory
        has_memory = state in ("running", "paused")
    return GuestSnapshot(
        name=snap.getName(),
        parent=parent,
        created=created,
        state=state,
        description=root.findtext("description") or "",
        current=snap.getName() == current,
        has_memory=has_memory,
        children=snap.numChildren(0),
        external=(memory is not None and memory.get("snapshot") == "external")
        or any(d.get("snapshot") == "external" for d in root.findall("disks/disk")),
    )


def _ordered(snaps: list[GuestSnapshot]) -> tuple[GuestSnapshot, ...]:
    """Parents before children; siblings by creation time."""
    by_parent: dict[str | None, list[GuestSnapshot]] = {}
    names = {s.name for s in snaps}
    for s in snaps:
        key = s.parent if s.parent in names else None
        by_parent.setdefault(key, []).append(s)
    out: list[GuestSnapshot] = []
    todo: list[str | None] = [None]
    while todo:
        kids = sorted(by_parent.get(todo.pop(0), []), key=lambda s: (s.created, s.name))
        out += kids
        todo += [k.name for k in kids]
    return tuple(out)


def list_snapshots(hv: Hypervisor, uuid: str) -> SnapshotTree:
    """The guest's snapshots and whether a new one can be taken (blocking)."""
    _, dom, name = hv.lookup_guest(uuid)
    try:
        state = GuestState.from_libvirt(dom.state()[0])
        xml = dom.XMLDesc(0)
        current = _name_or_none(lambda: dom.snapshotCurrent(0))
        snaps = [_snapshot_info(s, current) for s in dom.listAllSnapshots(0)]
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, "read the snapshots of", name) from None
    return SnapshotTree(name, uuid, state, _ordered(snaps), snapshot_blocker(xml))


def snapshot_xml(name: str, description: str, memory: bool) -> str:
    root = ET.Element("domainsnapshot")
    ET.SubElement(root, "name").text = name
    if description.strip():
        ET.SubElement(root, "description").text = description.strip()
    ET.SubElement(root, "memory", {"snapshot": "internal" if memory else "no"})
    return ET.tostring(root, encoding="unicode")


def create_words(guest: str, name: str, description: str) -> tuple[str, ...]:
    """The virsh command that does what create_snapshot does."""
    words = ["snapshot-create-as", guest, name]
    if description.strip():
        words += ["--description", description.strip()]
    return tuple(words)


def create_snapshot(
    hv: Hypervisor,
    uuid: str,
    name: str,
    description: str = "",
    memory: bool | None = None,
    quiesce: bool | None = None,
) -> GuestSnapshot:
    """Take an internal snapshot. ``memory`` None means: with memory when the guest runs.
    ``quiesce`` (backend/quiesce.py): None freezes a running guest's filesystems through its
    agent when it has one, True insists, False never; the result's ``quiesce`` says which.

    Raises InvalidInput (bad or taken name, or memory asked of a guest that is off) and
    ActionFailed (disk formats refuse, or libvirt refused) before anything changes."""
    _, dom, guest = hv.lookup_guest(uuid, writable=True)
    try:
        existing = dom.snapshotListNames(0)
        state = GuestState.from_libvirt(dom.state()[0])
        xml = dom.XMLDesc(0)
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, "snapshot", guest) from None
    name = validate_snapshot_name(name, existing)
    blocker = snapshot_blocker(xml)
    if blocker:
        raise ActionFailed(blocker)
    if memory is None:
        memory = state.is_active
    if memory and not state.is_active:
        raise InvalidInput(
            f"Guest {guest} is not running, so there is no memory state to keep; "
            "its snapshot holds its disks only."
        )
    if not memory and state.is_active:
        raise InvalidInput(
            f"Guest {guest} is {state.label}: an internal snapshot of a running guest must "
            "include its memory state. Keep memory ticked, or shut the guest down first."
        )
    try:
        # a running guest's filesystems frozen through its agent meanwhile (quiesce.py)
        snap, how = quiesced(
            dom,
            guest,
            lambda: dom.snapshotCreateXML(snapshot_xml(name, description, memory), 0),
            domain_xml=xml,
            running=state is GuestState.RUNNING,
            want=quiesce,
        )
        info = dataclasses.replace(_snapshot_info(snap, snap.getName()), quiesce=how)
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, f"take snapshot {name} of", guest) from None
    finally:
        hv.touch(uuid)
    return info


def revert_snapshot(hv: Hypervisor, uuid: str, name: str) -> GuestState:
    """Return the guest to snapshot ``name``; returns the guest's state afterwards.

    What the guest did since (disk writes, and its memory when it runs) is lost."""
    _, dom, guest = hv.lookup_guest(uuid, writable=True)
    try:
        snap = _snapshot_named(dom, name)
        dom.revertToSnapshot(snap, 0)
        thaw_after_revert(dom)  # a quiesced snapshot's memory holds frozen filesystems
        return GuestState.from_libvirt(dom.state()[0])
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT:
            raise ActionFailed(f"Guest {guest} has no snapshot called {name} any more.") from None
        raise hv.wrap_failure(err, f"Could not revert guest {guest} to snapshot {name}") from None
    finally:
        hv.touch(uuid)


def delete_snapshot(hv: Hypervisor, uuid: str, name: str, children: bool = False) -> None:
    """Delete snapshot ``name`` (and, with ``children``, every snapshot below it).

    The guest's current state is not touched; without ``children`` the snapshot's
    children are re-attached to its parent."""
    _, dom, guest = hv.lookup_guest(uuid, writable=True)
    flags = libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN if children else 0
    try:
        snap = _snapshot_named(dom, name)
        snap.delete(flags)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT:
            raise ActionFailed(f"Guest {guest} has no snapshot called {name} any more.") from None
        raise hv.wrap_error(err, f"delete snapshot {name} of", guest) from None
    finally:
        hv.touch(uuid)
