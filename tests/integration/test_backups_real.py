"""Backups on the real daemon: a full then an incremental backup of a running guest, each
restored into a new guest that boots and holds the markers written before that backup and not
the one written after; a read-only or full directory gives a sentence, leaves a half-written
backup marked and never restorable, and restores nothing."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest

from tests.conftest import connected_hypervisor
from vmtui.backend import ActionFailed, Hypervisor
from vmtui.backend.backups import (
    FULL,
    INCOMPLETE,
    INCREMENTAL,
    Progress,
    list_backups,
    restore_backup,
    run_backup,
)

from .conftest import ROOT, _new_qemu_dir, _remove_domain, unique_domain_name
from .tinyguest import READY_MARKER, ConsoleReader, TinyGuest, start_with_console, tiny_domain_xml

SECTORS = {"A": 100, "B": 200, "C": 300}


def disk_xml(path: Path) -> str:
    return (
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        f"<source file='{path}'/><target dev='vda' bus='virtio'/></disk>"
    )


def write_marker(console: ConsoleReader, letter: str) -> None:
    out = console.run(
        f"echo VMTUI-MARK-{letter} | dd of=/dev/vda bs=512 seek={SECTORS[letter]} "
        "conv=notrunc,fsync 2>&1; sync",
        timeout=60,
    )
    assert "records out" in out, out


def markers(console: ConsoleReader) -> set[str]:
    found = set()
    for letter, sector in SECTORS.items():
        out = console.run(
            f"dd if=/dev/vda bs=512 skip={sector} count=1 2>/dev/null | head -c 12", timeout=90
        )
        if f"VMTUI-MARK-{letter}" in out:
            found.add(letter)
    return found


class Rig:
    def __init__(self, conn: Any, guest: TinyGuest) -> None:
        self.conn = conn
        self.guest = guest
        self.dir = _new_qemu_dir()
        self.disk = self.dir / "disk.qcow2"
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-o", "compat=1.1", str(self.disk), "32M"],
            check=True,
        )
        self.disk.chmod(0o644)
        self.name = unique_domain_name("backup")
        self.dom = conn.defineXML(
            tiny_domain_xml(self.name, guest, extra_devices_xml=disk_xml(self.disk))
        )
        self.uuid = self.dom.UUIDString()
        self.console = start_with_console(self.dom)
        self.console.wait_for_line(READY_MARKER, timeout=180)
        self.others: list[str] = []
        self.mounts: list[Path] = []

    def close(self) -> None:
        self.console.close()
        for name in [self.name, *self.others]:
            with contextlib.suppress(libvirt.libvirtError):
                _remove_domain(self.conn.lookupByName(name))
        with contextlib.suppress(libvirt.libvirtError):
            dom = self.conn.lookupByName(self.name)
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA)
        for m in self.mounts:
            subprocess.run(["umount", "-l", str(m)], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def rig(libvirt_conn: Any, tiny_guest_files: TinyGuest) -> Iterator[Rig]:
    r = Rig(libvirt_conn, tiny_guest_files)
    yield r
    r.close()


@pytest.fixture(scope="module")
def mhv(libvirtd: str) -> Iterator[Hypervisor]:
    yield from connected_hypervisor(libvirtd)


def boot_markers(rig: Rig, uuid: str) -> set[str]:
    dom = rig.conn.lookupByUUIDString(uuid)
    console = start_with_console(dom)
    try:
        console.wait_for_line(READY_MARKER, timeout=180)
        return markers(console)
    finally:
        console.close()
        with contextlib.suppress(libvirt.libvirtError):
            dom.destroy()


def tmpfs(rig: Rig, name: str, options: str) -> Path:
    path = rig.dir / name
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True)
    rig.mounts.append(path)
    return path


def test_full_then_incremental_restore_into_guests_with_the_right_markers(
    mhv: Hypervisor, rig: Rig
) -> None:
    store = rig.dir / "backups"
    seen: list[Progress] = []
    out = rig.console.run(  # 2 MiB of data for the full backup to copy
        "dd if=/dev/urandom of=/dev/vda bs=1M count=2 seek=4 conv=fsync 2>&1", timeout=120
    )
    assert "records out" in out
    write_marker(rig.console, "A")
    full = run_backup(mhv, rig.uuid, store, progress=seen.append)
    assert full.kind == FULL and full.restorable and full.disks == ("vda",)
    assert seen and seen[-1].processed == seen[-1].total > 0
    write_marker(rig.console, "B")
    inc = run_backup(mhv, rig.uuid, store, incremental=True)
    assert inc.kind == INCREMENTAL and inc.restorable and inc.parent == full.name
    write_marker(rig.console, "C")
    assert markers(rig.console) == {"A", "B", "C"}
    assert [b.name for b in list_backups(store, rig.name)] == [full.name, inc.name]
    # the incremental holds only what changed: much smaller than the full copy
    assert inc.size < full.size - 1024 * 1024

    restored = rig.dir / "restored"
    names = [unique_domain_name("restfull"), unique_domain_name("restinc")]
    rig.others += names
    uuid_full = restore_backup(mhv, full.path, names[0], restored)
    uuid_inc = restore_backup(mhv, inc.path, names[1], restored)
    assert boot_markers(rig, uuid_full) == {"A"}
    assert boot_markers(rig, uuid_inc) == {"A", "B"}
    # restored images stand alone (no backing file into the backup folder)
    info = subprocess.run(
        ["qemu-img", "info", "-U", str(restored / f"{names[1]}-vda.qcow2")],
        capture_output=True,
        text=True,
    ).stdout
    assert "backing file" not in info


def test_unwritable_directory_is_a_sentence_and_nothing_is_made(mhv: Hypervisor, rig: Rig) -> None:
    ro = tmpfs(rig, "ro", "ro,mode=0755,size=4M")
    checkpoints = [c.getName() for c in rig.dom.listAllCheckpoints(0)]
    with pytest.raises(ActionFailed) as err:
        run_backup(mhv, rig.uuid, ro)
    text = str(err.value)
    assert f"Cannot write the backup of guest {rig.name}" in text and "Nothing was" in text
    assert "\n" not in text and "Traceback" not in text
    assert list(ro.iterdir()) == []
    assert [c.getName() for c in rig.dom.listAllCheckpoints(0)] == checkpoints


def test_full_directory_leaves_a_marked_half_backup_never_restorable(
    mhv: Hypervisor, rig: Rig
) -> None:
    # 6 MiB of data in the guest's disk; the directory holds 1 MiB
    out = rig.console.run(
        "dd if=/dev/urandom of=/dev/vda bs=1M count=6 seek=8 conv=fsync 2>&1", timeout=120
    )
    assert "records out" in out
    small = tmpfs(rig, "small", "mode=0755,size=1M")
    checkpoints = sorted([c.getName() for c in rig.dom.listAllCheckpoints(0)])
    with pytest.raises(ActionFailed) as err:
        run_backup(mhv, rig.uuid, small)
    assert "half-written" in str(err.value) and "not be offered for restore" in str(err.value)
    backups = list_backups(small, rig.name)
    assert len(backups) == 1 and not backups[0].restorable
    assert "half-written" in backups[0].problem
    assert (Path(backups[0].path) / INCOMPLETE).exists()
    assert (
        sorted([c.getName() for c in rig.dom.listAllCheckpoints(0)]) == checkpoints
    )  # its checkpoint is gone
    target = rig.dir / "never"
    name = unique_domain_name("never")
    rig.others.append(name)
    with pytest.raises(ActionFailed, match="half-written"):
        restore_backup(mhv, backups[0].path, name, target)
    with pytest.raises(libvirt.libvirtError):
        rig.conn.lookupByName(name)
    assert not target.exists() or list(target.iterdir()) == []


def test_cli_backup_exit_codes_and_one_line_errors(rig: Rig, libvirtd: str) -> None:
    store = rig.dir / "cli"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vmtui", "backup", "-c", libvirtd, *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=300,
        )

    ok = cli(rig.name, str(store))
    assert ok.returncode == 0, ok.stderr
    inc = cli(rig.name, str(store), "--incremental")
    assert inc.returncode == 0, inc.stderr
    kinds = [b.kind for b in list_backups(store, rig.name)]
    assert kinds == [FULL, INCREMENTAL]
    missing = cli("vmtui-no-such-guest", str(store))
    assert missing.returncode == 1
    assert len(missing.stderr.strip().splitlines()) == 1 and "Traceback" not in missing.stderr
    assert "vmtui-no-such-guest" in missing.stderr


def test_cancelled_backup_is_marked_and_its_checkpoint_removed(
    mhv: Hypervisor,
    libvirt_conn: Any,
    tiny_domain_factory: Any,
    qemu_dir: Path,
) -> None:
    disk = qemu_dir / "big.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-o", "compat=1.1", str(disk), "256M"],
        check=True,
    )
    subprocess.run(  # 200 MiB of data: a backup that takes a while
        ["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 200M", str(disk)],
        check=True,
        capture_output=True,
    )
    disk.chmod(0o644)
    name = tiny_domain_factory("bcancel", extra_devices_xml=disk_xml(disk))
    dom = libvirt_conn.lookupByName(name)
    console = start_with_console(dom)
    try:
        console.wait_for_line(READY_MARKER, timeout=180)
        cancel = threading.Event()
        store = qemu_dir / "backups"
        with pytest.raises(ActionFailed, match="was cancelled"):
            run_backup(
                mhv, dom.UUIDString(), store, progress=lambda _p: cancel.set(), cancel=cancel
            )
        (half,) = list_backups(store, name)
        assert not half.restorable and "cancelled" in half.problem
        assert dom.listAllCheckpoints(0) == []
        assert dom.jobStats(0).get("type") == libvirt.VIR_DOMAIN_JOB_NONE
    finally:
        console.close()
