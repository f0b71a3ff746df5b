"""Small per-guest calls the bulk actions and the ``:`` command line need beyond the
Hypervisor's own (start, shutdown, ... delete): a snapshot by name, the vCPU count, vCPU pinning.

(The snapshots screen has its own, fuller module; this one only creates.) Each function acts on
one guest and raises a VmtuiError with a sentence; the caller runs many and reports each.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import libvirt

from vmtui.backend.errors import ActionFailed
from vmtui.backend.quiesce import Quiesce, quiesced

if TYPE_CHECKING:
    from vmtui.backend.hypervisor import Hypervisor

MAX_SNAPSHOT_NAME = 64


def check_snapshot_name(name: str) -> str:
    """A snapshot name fit for libvirt (and for a file name), or ActionFailed saying why."""
    if not name.strip():
        raise ActionFailed("A snapshot needs a name.")
    if len(name) > MAX_SNAPSHOT_NAME:
        raise ActionFailed(f"A snapshot name can be at most {MAX_SNAPSHOT_NAME} characters.")
    if "/" in name or name.startswith(".") or any(c.isspace() or ord(c) < 32 for c in name):
        raise ActionFailed(
            f"Snapshot name '{name}' cannot contain '/', spaces or control characters, "
            "nor start with '.'."
        )
    return name


def snapshot_xml(name: str, description: str = "") -> str:
    root = ET.Element("domainsnapshot")
    ET.SubElement(root, "name").text = name
    if description:
        ET.SubElement(root, "description").text = description
    return ET.tostring(root, encoding="unicode")


def create_snapshot(hv: Hypervisor, uuid: str, name: str, description: str = "") -> str:
    """Take a snapshot called ``name`` of the guest (libvirt's default kind). Returns the name."""
    return take_snapshot(hv, uuid, name, description)[0]


def take_snapshot(
    hv: Hypervisor, uuid: str, name: str, description: str = ""
) -> tuple[str, Quiesce]:
    """create_snapshot, with a running guest's filesystems frozen through its agent when it
    has one (backend/quiesce.py); the name and how it was quiesced."""
    check_snapshot_name(name)
    _, dom, guest = hv.lookup_guest(uuid, writable=True)
    try:
        running = dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
        xml = dom.XMLDesc(0)
        snap, how = quiesced(
            dom,
            guest,
            lambda: dom.snapshotCreateXML(snapshot_xml(name, description), 0),
            domain_xml=xml,
            running=running,
        )
        return str(snap.getName()), how
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, f"snapshot ({name})", guest) from None
    finally:
        hv.touch(uuid)


def _live_config(dom: Any) -> tuple[int, list[str]]:
    """AFFECT flags for "the running guest and its definition", as far as each exists."""
    flags, words = 0, []
    if dom.isActive():
        flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
        words.append("--live")
    if dom.isPersistent():
        flags |= libvirt.VIR_DOMAIN_AFFECT_CONFIG
        words.append("--config")
    return flags, words


def set_vcpus(hv: Hypervisor, uuid: str, count: int) -> int:
    """Give the guest ``count`` vCPUs, live (when running) and in its definition.

    A running guest can only go up to its maximum; a shut-off one has its maximum raised."""
    if count < 1:
        raise ActionFailed("A guest needs at least 1 vCPU.")
    _, dom, name = hv.lookup_guest(uuid, writable=True)
    try:
        flags, _ = _live_config(dom)
        if not dom.isActive():
            maximum = dom.vcpusFlags(
                libvirt.VIR_DOMAIN_AFFECT_CONFIG | libvirt.VIR_DOMAIN_VCPU_MAXIMUM
            )
            if count > maximum:
                dom.setVcpusFlags(
                    count, libvirt.VIR_DOMAIN_AFFECT_CONFIG | libvirt.VIR_DOMAIN_VCPU_MAXIMUM
                )
        else:
            maximum = dom.maxVcpus()
            if count > maximum:
                raise ActionFailed(
                    f"Guest {name} is running and can have at most {maximum} vCPUs now; "
                    "shut it down to raise its maximum."
                )
        dom.setVcpusFlags(count, flags)
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, f"set the vCPUs ({count}) of", name) from None
    finally:
        hv.touch(uuid)
    return count


def vcpus_words(name: str, count: int, active: bool, persistent: bool) -> list[str]:
    words = ["setvcpus", name, str(count)]
    if active:
        words.append("--live")
    if persistent:
        words.append("--config")
    return words


def host_cpus(hv: Hypervisor) -> int:
    """How many CPUs libvirt counts on the guest's host (the length of a pinning map)."""
    conn = hv.readable_conn()
    try:
        return int(conn.getCPUMap()[0])
    except libvirt.libvirtError:
        return int(conn.getInfo()[2])


def pin_vcpus(hv: Hypervisor, uuid: str, cpus: Iterable[int]) -> int:
    """Pin every vCPU of the guest to these host CPUs (live and in its definition, as far as
    each exists). Returns how many vCPUs were pinned."""
    wanted = sorted(set(cpus))
    if not wanted:
        raise ActionFailed("Name at least one host CPU to pin to.")
    _, dom, name = hv.lookup_guest(uuid, writable=True)
    try:
        total = host_cpus(hv)
        missing = [c for c in wanted if c >= total]
        if missing:
            raise ActionFailed(
                f"The host of {name} has {total} CPUs (0-{total - 1}); "
                f"CPU {missing[0]} does not exist."
            )
        cpumap = tuple(i in wanted for i in range(total))
        flags, _ = _live_config(dom)
        count = dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE if dom.isActive() else 0)
        for vcpu in range(count):
            try:
                dom.pinVcpuFlags(vcpu, cpumap, flags)
            except libvirt.libvirtError as err:
                if err.get_error_code() != libvirt.VIR_ERR_INVALID_ARG or flags == 0:
                    raise
                flags = 0  # a driver without LIVE/CONFIG here (the test driver): "current"
                dom.pinVcpuFlags(vcpu, cpumap, flags)
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, "pin the vCPUs of", name) from None
    finally:
        hv.touch(uuid)
    return int(count)
