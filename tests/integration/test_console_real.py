"""The serial console through the app, on a real guest: typing, detaching, busy, hostile output."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import libvirt

from vmtui.app import VmtuiApp
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.console import ConsoleScreen
from vmtui.screens.dashboard import DashboardScreen
from vmtui.widgets.guest_table import GuestTable

from .helpers import AppWatch, wait_for
from .tinyguest import ConsoleReader

URI = "qemu:///system"
SIZE = (100, 30)


async def _select(pilot: Any, app: VmtuiApp, name: str) -> str:
    await wait_for(
        pilot,
        lambda: app.snapshot is not None and any(g.name == name for g in app.snapshot.guests),
        what=f"{name} listed",
    )
    assert app.snapshot is not None
    uuid = next(g.uuid for g in app.snapshot.guests if g.name == name)
    table = app.screen.query_one(GuestTable)
    table.move_cursor(row=table.get_row_index(uuid), animate=False)
    return uuid


async def _type(pilot: Any, text: str) -> None:
    for ch in text:
        await pilot.press("enter" if ch == "\n" else ch)


def _console(app: VmtuiApp, uuid: str) -> Any:
    return app.consoles[uuid]


async def _wait_running(pilot: Any, app: VmtuiApp, uuid: str) -> None:
    await wait_for(
        pilot,
        lambda: (
            app.snapshot is not None
            and any(g.uuid == uuid and g.is_active for g in app.snapshot.guests)
        ),
        what="running",
    )


async def _until_prompt(pilot: Any, emu: Any, seen_before: int = 0) -> None:
    """Press enter until the shell shows more prompts than ``seen_before`` (it may be booting)."""
    for _ in range(60):
        await pilot.press("enter")
        await pilot.pause(0.5)
        if emu.all_text().count("tiny#") > seen_before:
            return
    raise AssertionError(f"no shell prompt; the console shows: {emu.text()!r}")


async def _open_console(pilot: Any, app: VmtuiApp, uuid: str) -> None:
    await pilot.press("c")
    await wait_for(pilot, lambda: isinstance(app.screen, ConsoleScreen), what="console screen")
    await wait_for(pilot, lambda: _console(app, uuid).connected, what="console connected")


async def test_type_into_the_console_see_42_detach_and_reattach(
    libvirt_conn: Any, tiny_domain: str
) -> None:
    dom = libvirt_conn.lookupByName(tiny_domain)
    dom.create()
    app = VmtuiApp(URI, interval=0.5)
    async with app.run_test(size=SIZE) as pilot:
        uuid = await _select(pilot, app, tiny_domain)
        await _wait_running(pilot, app, uuid)
        await _open_console(pilot, app, uuid)
        emu = _console(app, uuid).emulator
        await _until_prompt(pilot, emu)
        await _type(pilot, "echo $((6*7))\n")
        await wait_for(
            pilot,
            lambda: "\n42" in "\n" + emu.text().replace("\n42\n", "\n42\n"),
            what="42 on screen",
            timeout=30,
        )
        lines = [line.strip() for line in emu.text().splitlines()]
        assert "42" in lines
        # What the user sees is what the widget draws: the row with 42 is on screen.
        await pilot.press("ctrl+right_square_bracket")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen), what="detached")
        assert _console(app, uuid).connected  # detaching keeps the session
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConsoleScreen), what="reattached")
        assert "42" in [line.strip() for line in emu.all_text().splitlines()]
        screen = app.screen
        assert isinstance(screen, ConsoleScreen)
        # Keys that Textual binds elsewhere go to the guest here (q, ctrl+p, ctrl+c).
        await pilot.press("q")
        await pilot.pause(0.3)
        assert app.is_running and isinstance(app.screen, ConsoleScreen)
        await pilot.press("ctrl+c")  # clears the 'q' on the shell's line
        await pilot.press("ctrl+right_square_bracket")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen), what="detached")


async def test_console_held_by_another_client_asks_before_taking_over(
    libvirt_conn: Any, tiny_domain: str
) -> None:
    dom = libvirt_conn.lookupByName(tiny_domain)
    dom.create()
    other = ConsoleReader.open(dom)
    try:
        app = VmtuiApp(URI, interval=0.5)
        async with app.run_test(size=SIZE) as pilot:
            uuid = await _select(pilot, app, tiny_domain)
            await _wait_running(pilot, app, uuid)
            await pilot.press("c")
            await wait_for(
                pilot, lambda: isinstance(app.screen, ConfirmScreen), what="take-over question"
            )
            assert "holds the console" in str(app.screen.query_one("#body").render())
            assert not _console(app, uuid).connected  # nothing taken silently
            await pilot.press("y")
            await wait_for(pilot, lambda: _console(app, uuid).connected, what="taken over")
            await wait_for(
                pilot, lambda: other.eof, what="the other client was disconnected", timeout=20
            )
    finally:
        other.close()


async def test_guest_without_console_device_gets_a_sentence(
    libvirt_conn: Any, tiny_domain_factory: Callable[..., str], tiny_guest_files: Any
) -> None:
    name = tiny_domain_factory("nocons")
    dom = libvirt_conn.lookupByName(name)
    root = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    devices = root.find("devices")
    assert devices is not None
    for el in list(devices):
        if el.tag in ("serial", "console"):
            devices.remove(el)
    libvirt_conn.defineXML(ET.tostring(root, encoding="unicode"))
    dom = libvirt_conn.lookupByName(name)
    dom.create()
    app = VmtuiApp(URI, interval=0.5)
    watch = AppWatch()
    async with app.run_test(size=SIZE, message_hook=watch) as pilot:
        uuid = await _select(pilot, app, name)
        await _wait_running(pilot, app, uuid)
        await pilot.press("c")
        await wait_for(
            pilot,
            lambda: any("no serial console device" in m for m in watch.errors()),
            what="no-console sentence",
        )
        assert app.is_running
    watch.assert_no_worker_errors()


async def test_console_reconnects_by_itself_when_the_guest_runs_again(
    libvirt_conn: Any, tiny_domain: str
) -> None:
    dom = libvirt_conn.lookupByName(tiny_domain)
    dom.create()
    app = VmtuiApp(URI, interval=0.5)
    async with app.run_test(size=SIZE) as pilot:
        uuid = await _select(pilot, app, tiny_domain)
        await _wait_running(pilot, app, uuid)
        await _open_console(pilot, app, uuid)
        console = _console(app, uuid)
        await _until_prompt(pilot, console.emulator)
        await _type(pilot, "echo before-$((40+2))\n")
        await wait_for(
            pilot, lambda: "before-42" in console.emulator.all_text(), what="first answer"
        )
        first = console.session
        dom.destroy()  # the guest goes away under the open console ...
        await wait_for(
            pilot,
            lambda: "reconnects when the guest runs" in console.status,
            what="the console says the guest stopped",
        )
        dom.create()  # ... and comes back: the console re-attaches by itself
        await wait_for(
            pilot,
            lambda: console.connected and console.session is not first,
            what="console re-attached",
            timeout=60,
        )
        assert "before-42" in console.emulator.all_text()  # the old screen is kept
        # the new boot's shell answers with a fresh prompt
        await _until_prompt(pilot, console.emulator, console.emulator.all_text().count("tiny#"))
        await _type(pilot, "echo after-$((40+2))\n")
        await wait_for(
            pilot,
            lambda: "after-42" in console.emulator.all_text(),
            what="answer after the restart",
            timeout=60,
        )
