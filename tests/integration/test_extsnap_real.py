"""External snapshots on the real daemon, proven inside the guest: after a revert, what was
written after the snapshot is gone; a snapshot with memory resumes the shell as it was; a
block commit merges the overlay back with progress and the guest keeps every write."""

from __future__ import annotations

import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import libvirt

from vmtui.backend import Hypervisor
from vmtui.backend.disks import list_disks
from vmtui.backend.extsnap import block_commit, create_external, revert_external

from .test_backups_real import disk_xml, markers, write_marker
from .tinyguest import READY_MARKER, ConsoleReader, start_with_console


def boot(dom: Any) -> ConsoleReader:
    reader = start_with_console(dom)
    reader.wait_for_line(READY_MARKER, timeout=180)
    return reader


def test_disk_only_revert_then_memory_revert_then_commit(
    hv: Hypervisor,
    libvirt_conn: Any,
    tiny_domain_factory: Callable[..., str],
    qemu_dir: Path,
) -> None:
    disk = qemu_dir / "disk.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-o", "compat=1.1", str(disk), "32M"],
        check=True,
    )
    disk.chmod(0o644)
    name = tiny_domain_factory("extsnap", extra_devices_xml=disk_xml(disk))
    dom = libvirt_conn.lookupByName(name)
    uuid = dom.UUIDString()
    reader = boot(dom)
    try:
        # disk-only: A before, B after; the revert drops B
        write_marker(reader, "A")
        snap = create_external(hv, uuid, "s1")
        assert not snap.memory_file and snap.overlays[0][0] == "vda"
        assert not snap.quiesced  # no guest agent: crash-consistent
        assert list_disks(hv, uuid).get("vda").chain == (str(disk),)  # type: ignore[union-attr]
        write_marker(reader, "B")
        done = revert_external(hv, uuid, "s1")
        assert not done.state.is_active and snap.overlays[0][1] in done.left_behind
        reader.close()
        reader = boot(dom)
        assert markers(reader) == {"A"}

        # with memory: a shell variable and the disk come back as they were
        assert "ok" in reader.run("VMTUI_MEM=before; echo ok", timeout=60)
        msnap = create_external(hv, uuid, "m1", memory=True)
        assert msnap.memory_file and Path(msnap.memory_file).exists()
        reader.run("VMTUI_MEM=after", timeout=60)
        write_marker(reader, "C")
        done = revert_external(hv, uuid, "m1")
        assert done.state.is_active
        reader.close()
        reader = ConsoleReader.open(dom, force=True)
        assert "v=before" in reader.run('echo "v=$VMTUI_MEM"', timeout=60)
        assert markers(reader) == {"A"}

        # block commit: the top overlay merged down, every write kept
        write_marker(reader, "B")
        top = list_disks(hv, uuid).get("vda")
        assert top is not None and top.chain
        seen: list[tuple[int, int]] = []
        base = block_commit(hv, uuid, "vda", progress=lambda c, e: seen.append((c, e)))
        assert base == top.chain[0]
        after = list_disks(hv, uuid).get("vda")
        assert after is not None and after.source == base
        assert seen and seen[-1][0] == seen[-1][1] > 0
        inactive = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        assert inactive.find("devices/disk/source").get("file") == base  # type: ignore[union-attr]
        assert markers(reader) == {"A", "B"}
    finally:
        reader.close()


def test_quiesced_through_the_agent_when_it_answers(
    hv: Hypervisor,
    libvirt_conn: Any,
    tiny_domain_factory: Callable[..., str],
    qemu_dir: Path,
) -> None:
    disk = qemu_dir / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    disk.chmod(0o644)
    name = tiny_domain_factory("extq", agent=True, extra_devices_xml=disk_xml(disk))
    dom = libvirt_conn.lookupByName(name)
    reader = boot(dom)
    try:
        for _ in range(100):  # the agent's channel says "connected" once qemu-ga listens
            if "state='connected'" in dom.XMLDesc(0):
                break
            time.sleep(0.2)
        assert "state='connected'" in dom.XMLDesc(0)
        snap = create_external(hv, dom.UUIDString(), "q1")
        assert snap.quiesced
    finally:
        reader.close()
