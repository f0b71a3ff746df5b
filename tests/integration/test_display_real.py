"""The guest's screen in the terminal (libvirt screenshot) and keys sent to its keyboard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import libvirt

from vmtui.app import VmtuiApp
from vmtui.backend.keys import KEY_LEFTALT, KEY_SYSRQ, char_keys
from vmtui.screens.display import DisplayScreen
from vmtui.widgets.guest_table import GuestTable
from vmtui.widgets.screen_view import ScreenView, is_blank

from .helpers import wait_for
from .tinyguest import ConsoleReader


async def test_screen_view_shows_the_vga_text_screen_and_keys_reach_the_guest(
    libvirt_conn: Any, tiny_domain_factory: Callable[..., str]
) -> None:
    name = tiny_domain_factory("vga", vga=True)
    dom = libvirt_conn.lookupByName(name)
    dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
    serial = ConsoleReader.open(dom)  # to see what the kernel says about our keys
    dom.resume()
    try:
        serial.read_until("tiny#", timeout=90)
        app = VmtuiApp("qemu:///system", interval=1)
        async with app.run_test(size=(100, 40)) as pilot:
            await wait_for(
                pilot,
                lambda: (
                    app.snapshot is not None
                    and any(g.name == name and g.loaded for g in app.snapshot.guests)
                ),
                what="guest listed with its details (its display)",
            )
            assert app.snapshot is not None
            uuid = next(g.uuid for g in app.snapshot.guests if g.name == name)
            table = app.screen.query_one(GuestTable)
            table.move_cursor(row=table.get_row_index(uuid), animate=False)
            await pilot.press("v")
            await wait_for(pilot, lambda: isinstance(app.screen, DisplayScreen), what="screen")
            screen = app.screen
            assert isinstance(screen, DisplayScreen)
            view = screen.query_one(ScreenView)
            await wait_for(
                pilot, lambda: screen.frames >= 2 and bool(view.image), what="two frames"
            )
            assert not is_blank(view.image), "the guest's screen is one flat colour"
            colours = {seg.style for row in view._rows for seg in row if seg.style}
            assert len(colours) > 1  # drawn: text on a background, not one block
            # Alt+SysRq+H: the kernel answers on its console, proving the keys arrived.
            screen.send((KEY_LEFTALT, KEY_SYSRQ, *char_keys("h")), "sysrq-h")  # type: ignore[misc]
            await wait_for(
                pilot,
                lambda: "sysrq" in serial.text.lower(),
                timeout=30,
                what="the kernel's SysRq answer on the serial console",
            )
            await pilot.press("ctrl+right_square_bracket")
            await wait_for(pilot, lambda: not isinstance(app.screen, DisplayScreen), what="back")
    finally:
        serial.close()
