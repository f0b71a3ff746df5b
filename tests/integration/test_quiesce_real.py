"""Quiesced snapshots and a reboot through the guest agent, on the real daemon (issue 13).

One agent guest boots for the module with a qcow2 disk that holds an ext4 filesystem (made on
the host); the guest mounts it on /mnt, so its agent has a real filesystem to freeze. The
tests run in order: a quiesced snapshot (the filesystem is seen frozen while libvirt takes the
snapshot, and thawed after), a revert to it (the guest comes back thawed), then a reboot
through the agent (the guest comes back, its console and its agent answer again).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libvirt
import libvirt_qemu
import pytest
from textual.widgets import Checkbox, Input

from vmtui.app import VmtuiApp
from vmtui.backend import Hypervisor
from vmtui.backend import agent as agent_calls
from vmtui.backend.errors import VmtuiError
from vmtui.backend.snapshots import create_snapshot, revert_snapshot
from vmtui.screens.snapshots import CreateSnapshotScreen, SnapshotsScreen

from .conftest import _new_qemu_dir, _remove_domain, unique_domain_name
from .helpers import AppWatch, assert_exited_cleanly, guest_table, select_guest, shown_row, wait_for
from .tinyguest import READY_MARKER, ConsoleReader, TinyGuest, start_with_console, tiny_domain_xml

BOOT = 120.0
HOSTNAME = "vmtui-quiesce"


@dataclass
class QuietGuest:
    hv: Hypervisor
    uuid: str
    dom: Any
    console: ConsoleReader


def fsfreeze_status(dom: Any) -> str:
    """What the guest's agent itself says: "frozen" or "thawed" (guest-fsfreeze-status)."""
    answer = libvirt_qemu.qemuAgentCommand(dom, '{"execute":"guest-fsfreeze-status"}', 30, 0)
    return str(json.loads(answer)["return"])


def ext4_qcow2(directory: Path) -> Path:
    raw = directory / "fs.raw"
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", str(raw), "32M"], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "vmtuiq", str(raw)], check=True)
    image = directory / "fs.qcow2"
    subprocess.run(
        ["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(image)],
        check=True,
    )
    raw.unlink()
    image.chmod(0o666)
    return image


def wait_agent(hv: Hypervisor, uuid: str, timeout: float) -> agent_calls.AgentInfo:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return agent_calls.guest_info(hv, uuid)
        except VmtuiError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


@pytest.fixture(scope="module")
def quiet_guest(libvirtd: str, tiny_guest_files: TinyGuest) -> Iterator[QuietGuest]:
    if shutil.which("mkfs.ext4") is None:
        pytest.fail("mkfs.ext4 (e2fsprogs) is needed on the host", pytrace=False)
    conn = libvirt.open(libvirtd)
    directory = _new_qemu_dir()
    dom: Any = None
    console: ConsoleReader | None = None
    hv = Hypervisor(libvirtd)
    try:
        image = ext4_qcow2(directory)
        disk = (
            "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
            f"<source file='{image}'/><target dev='vda' bus='virtio'/></disk>"
        )
        xml = tiny_domain_xml(
            unique_domain_name("quiesce"),
            tiny_guest_files,
            agent=True,
            extra_devices_xml=disk,
            extra_cmdline=f"vmtui.hostname={HOSTNAME}",
        )
        dom = conn.defineXML(xml)
        hv.connect()
        console = start_with_console(dom)
        console.wait_for_line("vmtui-tiny: guest agent started", BOOT)
        console.wait_for_line(READY_MARKER, BOOT)
        out = console.run("mount -t ext4 /dev/vda /mnt && echo MOUNTED-OK", timeout=60)
        assert "MOUNTED-OK" in out, out
        uuid = dom.UUIDString()
        assert wait_agent(hv, uuid, BOOT).hostname == HOSTNAME
        yield QuietGuest(hv, uuid, dom, console)
    finally:
        hv.close()
        if console is not None:
            console.close()
        if dom is not None:
            _remove_domain(dom)
        shutil.rmtree(directory, ignore_errors=True)
        with contextlib.suppress(libvirt.libvirtError):
            conn.close()


class WatchedDomain:
    """The real virDomain, except that taking a snapshot first asks the guest's agent whether
    its filesystems are frozen at that moment."""

    def __init__(self, dom: Any) -> None:
        self._dom = dom
        self.status_at_snapshot: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dom, name)

    def snapshotCreateXML(self, xml: str, flags: int) -> Any:
        self.status_at_snapshot.append(fsfreeze_status(self._dom))
        return self._dom.snapshotCreateXML(xml, flags)


def test_a_snapshot_freezes_the_guest_filesystem_and_thaws_it(
    quiet_guest: QuietGuest, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = quiet_guest
    assert fsfreeze_status(g.dom) == "thawed"
    watched = WatchedDomain(g.dom)
    real_lookup = g.hv.lookup_guest

    def lookup(uuid: str, *, writable: bool = False) -> tuple[Any, Any, str]:
        conn, dom, name = real_lookup(uuid, writable=writable)
        return conn, (watched if uuid == g.uuid else dom), name

    monkeypatch.setattr(g.hv, "lookup_guest", lookup)
    snap = create_snapshot(g.hv, g.uuid, "quiesced")
    monkeypatch.undo()

    assert snap.has_memory and snap.state == "running"
    assert snap.quiesce is not None and snap.quiesce.frozen is not None
    assert snap.quiesce.frozen >= 1, snap.quiesce  # /mnt (ext4 on vda) at least
    assert snap.quiesce.thaw_problem == ""
    assert watched.status_at_snapshot == ["frozen"]  # while libvirt took it
    assert fsfreeze_status(g.dom) == "thawed"  # and after
    # the filesystem takes writes again (guest-exec itself is refused while frozen)
    write = agent_calls.run_command(g.hv, g.uuid, "echo w > /mnt/after")
    assert write.exit_code == 0, write
    check = agent_calls.run_command(g.hv, g.uuid, "cat /mnt/after")
    assert check.stdout == b"w\n"


async def test_the_snapshot_dialog_quiesces_and_says_so(
    libvirtd: str, quiet_guest: QuietGuest
) -> None:
    """In the app: S, n, enter. The quiesce box is on (the live XML says the agent is
    connected), and the activity log's line says the filesystem was frozen and thawed."""
    g = quiet_guest
    app = VmtuiApp(libvirtd, interval=0.5)
    watch = AppWatch()
    async with app.run_test(size=(140, 40), message_hook=watch) as pilot:
        await wait_for(pilot, lambda: shown_row(app, g.uuid) is not None, 60, what="row")
        await wait_for(
            pilot,
            lambda: guest_table(app).shown_cell(g.uuid, "agent") == "on",
            60,
            what="Agt on",
        )
        select_guest(app, g.uuid)
        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(app.screen, SnapshotsScreen), 30, what="S")
        screen = app.screen
        assert isinstance(screen, SnapshotsScreen)
        await wait_for(pilot, lambda: screen.loads >= 1, 30, what="tree")
        await pilot.press("n")
        await wait_for(
            pilot, lambda: isinstance(app.screen, CreateSnapshotScreen), 30, what="dialog"
        )
        box = app.screen.query_one("#quiesce", Checkbox)
        assert box.value and not box.disabled
        app.screen.query_one("#name", Input).value = "from-the-app"
        await pilot.press("enter")

        def line() -> str:
            return next(
                (
                    f"{e.text} -> {e.outcome}"
                    for e in app.activity
                    if e.kind == "action" and "snapshot-create-as" in e.text
                ),
                "",
            )

        await wait_for(pilot, lambda: bool(line()), 120, what="the snapshot's log line")
        assert "Quiesced through the guest agent" in line() and "thawed after" in line()
    assert_exited_cleanly(app, watch)
    assert fsfreeze_status(g.dom) == "thawed"


def test_a_revert_to_the_quiesced_snapshot_comes_back_thawed(quiet_guest: QuietGuest) -> None:
    """The snapshot's memory holds the guest as it was, frozen: the revert thaws it."""
    g = quiet_guest
    state = revert_snapshot(g.hv, g.uuid, "quiesced")
    assert state.is_active
    assert fsfreeze_status(g.dom) == "thawed"
    result = agent_calls.run_command(g.hv, g.uuid, "echo back > /mnt/reverted; cat /mnt/reverted")
    assert result.stdout == b"back\n", result


def test_reboot_through_the_agent_and_the_guest_comes_back(quiet_guest: QuietGuest) -> None:
    g = quiet_guest
    if g.console.eof:  # the revert may have ended the console stream
        g.console.close()
        g.console = ConsoleReader.open(g.dom, force=True)
    before = agent_calls.run_command(g.hv, g.uuid, "cat /proc/sys/kernel/random/boot_id")
    assert before.exit_code == 0 and len(before.stdout.strip()) == 36, before
    agent_calls.reboot(g.hv, g.uuid, "agent")
    g.console.read_until(r"vmtui-tiny: shutdown .*-r", 60)
    g.console.wait_for_line("vmtui-tiny: guest agent started", BOOT)
    g.console.wait_for_line(READY_MARKER, BOOT)
    assert g.dom.isActive()
    assert "console-answers" in g.console.run("echo console-answers", timeout=60)
    assert wait_agent(g.hv, g.uuid, BOOT).hostname == HOSTNAME
    after = agent_calls.run_command(g.hv, g.uuid, "cat /proc/sys/kernel/random/boot_id")
    assert after.exit_code == 0 and after.stdout != before.stdout  # a new boot
