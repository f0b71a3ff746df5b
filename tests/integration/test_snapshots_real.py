"""Snapshots on the real daemon: a revert really restores disks (and memory), raw is refused."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vmtui.backend import ActionFailed, Hypervisor
from vmtui.backend.snapshots import (
    create_snapshot,
    delete_snapshot,
    list_snapshots,
    revert_snapshot,
)

from .tinyguest import READY_MARKER, ConsoleReader, start_with_console

URI = "qemu:///system"


def make_image(directory: Path, name: str, fmt: str, size: str = "16M") -> Path:
    path = directory / name
    subprocess.run(["qemu-img", "create", "-q", "-f", fmt, str(path), size], check=True)
    path.chmod(0o644)
    return path


def disk_xml(path: Path, fmt: str, dev: str = "vda") -> str:
    return (
        f"<disk type='file' device='disk'><driver name='qemu' type='{fmt}'/>"
        f"<source file='{path}'/><target dev='{dev}' bus='virtio'/></disk>"
    )


def holds_pattern(image: Path, byte: int) -> bool:
    """True when the first 64 KiB of the qcow2 image are all ``byte`` (read on the host)."""
    out = subprocess.run(
        ["qemu-io", "-r", "-f", "qcow2", "-c", f"read -P {byte:#x} 0 64k", str(image)],
        capture_output=True,
        text=True,
        check=False,
    )
    return "Pattern verification failed" not in out.stdout + out.stderr and out.returncode == 0


def test_revert_of_a_shut_off_snapshot_undoes_disk_writes(
    hv: Hypervisor,
    libvirt_conn: Any,
    tiny_domain_factory: Callable[..., str],
    qemu_dir: Path,
) -> None:
    image = make_image(qemu_dir, "disk.qcow2", "qcow2")
    name = tiny_domain_factory("snap", extra_devices_xml=disk_xml(image, "qcow2"))
    uuid = libvirt_conn.lookupByName(name).UUIDString()

    snap = create_snapshot(hv, uuid, "clean", "empty disk")
    assert not snap.has_memory and snap.state == "shutoff"
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 64k", str(image)],
        check=True,
        capture_output=True,
    )
    assert holds_pattern(image, 0x5A)

    revert_snapshot(hv, uuid, "clean")
    assert not holds_pattern(image, 0x5A)
    assert holds_pattern(image, 0x00)
    tree = list_snapshots(hv, uuid)
    assert [s.name for s in tree.snapshots] == ["clean"] and tree.snapshots[0].current

    delete_snapshot(hv, uuid, "clean")
    assert list_snapshots(hv, uuid).snapshots == ()
    info = subprocess.run(
        ["qemu-img", "snapshot", "-l", "-U", str(image)], capture_output=True, text=True
    )
    assert "clean" not in info.stdout  # gone from the image too, not only libvirt's metadata


def test_revert_of_a_running_snapshot_restores_memory(
    hv: Hypervisor,
    libvirt_conn: Any,
    tiny_domain_factory: Callable[..., str],
    qemu_dir: Path,
) -> None:
    image = make_image(qemu_dir, "disk.qcow2", "qcow2")
    name = tiny_domain_factory("snapmem", extra_devices_xml=disk_xml(image, "qcow2"))
    dom = libvirt_conn.lookupByName(name)
    reader: ConsoleReader = start_with_console(dom)
    try:
        reader.wait_for_line(READY_MARKER, timeout=120)
        assert "ok" in reader.run("echo ok", timeout=60)
        snap = create_snapshot(hv, dom.UUIDString(), "live")
        assert snap.has_memory and snap.state == "running"
        # tmpfs lives in the guest's memory: only a memory revert can undo this.
        assert "marked" in reader.run("echo marked > /tmp/m; cat /tmp/m", timeout=60)
        state = revert_snapshot(hv, dom.UUIDString(), "live")
        assert state.is_active
        if reader.eof:  # the console stream may not survive the revert: attach again
            reader.close()
            reader = ConsoleReader.open(dom, force=True)
        out = reader.run("cat /tmp/m 2>/dev/null || echo NO-MARKER", timeout=60)
        assert "NO-MARKER" in out and "marked" not in out
    finally:
        reader.close()


def test_raw_disks_are_refused_with_the_reason(
    hv: Hypervisor,
    libvirt_conn: Any,
    tiny_domain_factory: Callable[..., str],
    qemu_dir: Path,
) -> None:
    image = make_image(qemu_dir, "disk.img", "raw")
    name = tiny_domain_factory("snapraw", extra_devices_xml=disk_xml(image, "raw"))
    dom = libvirt_conn.lookupByName(name)
    with pytest.raises(ActionFailed) as err:
        create_snapshot(hv, dom.UUIDString(), "nope")
    assert f"its disk vda ({image}) is raw" in str(err.value)
    assert "qcow2" in str(err.value) and "--disk-only" in str(err.value)
    assert dom.snapshotNum(0) == 0
