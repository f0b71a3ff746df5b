"""Boot and firmware (M) and the managed save (Z) on the test driver: the boot order is set
from the screen, a saved guest shows as "saved" in the table."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from textual.widgets import DataTable

from tests.conftest import host_uri
from tests.ui.helpers import guest_named, ready, select, state_of, text_of, wait_for
from vmtui.app import VmtuiApp
from vmtui.control.services import services
from vmtui.screens.machine import MachineScreen


async def test_boot_order_from_the_screen() -> None:
    app = VmtuiApp(host_uri("snap_host"), interval=0.2)
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        select(app, "db")
        await pilot.press("M")
        await wait_for(pilot, lambda: isinstance(app.screen, MachineScreen))
        screen = app.screen
        assert isinstance(screen, MachineScreen)
        await wait_for(pilot, lambda: screen.loads == 1)
        assert "Firmware BIOS" in text_of(screen.query_one("#machine-detail"))
        table = screen.query_one("#boot-table", DataTable)
        assert table.row_count >= 2
        table.move_cursor(row=table.get_row_index("vdb"))
        await pilot.press("space")  # vdb into the boot order
        await wait_for(pilot, lambda: screen.loads == 2)
        assert screen.data is not None
        assert (screen.data.devices[0].key, screen.data.devices[0].order) == ("vdb", 1)
        uuid = guest_named(app, "db").uuid
        hv = services(screen).hypervisor_for(uuid)
        xml = hv.readable_conn().lookupByUUIDString(uuid).XMLDesc(2)
        disk = next(
            d
            for d in ET.fromstring(xml).findall("devices/disk")
            if d.find("target").get("dev") == "vdb"
        )  # type: ignore[union-attr]
        assert disk.find("boot").get("order") == "1"  # type: ignore[union-attr]


async def test_managed_save_shows_saved_in_the_table() -> None:
    app = VmtuiApp(host_uri("snap_host"), interval=0.2)
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        select(app, "web")
        assert state_of(app, "web") == "running"
        await pilot.press("Z")
        await wait_for(pilot, lambda: state_of(app, "web") == "saved")
