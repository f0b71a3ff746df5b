"""The disks screen (b) on the test driver: the disks listed, the add form's choices, a
missing ISO refused with a sentence."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Select

from tests.conftest import host_uri
from tests.ui.helpers import ready, select, text_of, wait_for
from vmtui.app import VmtuiApp
from vmtui.screens.disks import AddDiskScreen, DisksScreen, OneFieldScreen


async def test_disks_screen_lists_disks_and_offers_fitting_buses() -> None:
    app = VmtuiApp(host_uri("snap_host"), interval=0.2)
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        select(app, "db")
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, DisksScreen))
        screen = app.screen
        assert isinstance(screen, DisksScreen)
        await wait_for(pilot, lambda: screen.loads == 1)
        table = screen.query_one("#disk-table", DataTable)
        assert table.row_count == 2
        assert "/images/db.qcow2" in text_of(screen.query_one("#disk-detail"))

        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, AddDiskScreen))
        form = app.screen
        buses = [str(v) for _label, v in form.query_one("#bus", Select)._options]
        assert buses[0] == "virtio"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)

        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, OneFieldScreen))
        app.screen.query_one("#field", Input).value = "/nonexistent/vmtui-none.iso"
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: any(
                "There is no file /nonexistent/vmtui-none.iso" in str(n.message)
                for n in app._notifications
            ),
        )
