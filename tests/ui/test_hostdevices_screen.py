"""U on a guest: the host's devices with who holds each; attaching a device another guest
holds (or whose IOMMU group it would split) is refused with a sentence naming that guest."""

from __future__ import annotations

from textual.widgets import DataTable

from tests.conftest import host_uri
from tests.ui.helpers import ready, select, wait_for
from vmtui.app import VmtuiApp
from vmtui.screens.hostdevices import HostDevicesScreen


async def test_devices_listed_and_a_split_group_refused() -> None:
    app = VmtuiApp(host_uri("hostdev_host"), interval=0.2)
    notes: list[str] = []
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await ready(pilot)
        original = app.notify

        def spy(message: str, *args: object, **kwargs: object) -> None:
            notes.append(str(message))
            original(message, *args, **kwargs)  # type: ignore[arg-type]

        app.notify = spy  # type: ignore[method-assign]
        select(app, "other")
        await pilot.press("U")
        await wait_for(pilot, lambda: isinstance(app.screen, HostDevicesScreen))
        table = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 5)
        rows = {str(table.get_row_at(i)[0]): table.get_row_at(i) for i in range(table.row_count)}
        assert rows["PCI 0000:01:00.0"][-1] == "gpu-guest"
        assert rows["PCI 0000:01:00.0"][3] == "7 +01:00.1"
        assert rows["USB 001:003"][-1] == "usb-guest"
        assert "mdev i915-GVTg_V5_4" in rows
        table.move_cursor(row=list(rows).index("PCI 0000:01:00.1"))
        await pilot.press("a")
        await wait_for(pilot, lambda: any("IOMMU group 7" in n for n in notes))
        assert any("gpu-guest" in n for n in notes)


async def test_host_view_opens_the_devices_of_the_host_without_attach() -> None:
    """f then U: the selected host's devices, with no guest: attach and detach are hidden."""
    from vmtui.screens.hostlist import HostListScreen

    app = VmtuiApp(host_uri("hostdev_host"), interval=0.2)
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, HostListScreen))
        await pilot.press("U")
        await wait_for(pilot, lambda: isinstance(app.screen, HostDevicesScreen))
        screen = app.screen
        assert isinstance(screen, HostDevicesScreen)
        assert screen.uuid == ""
        assert "Host devices of" in str(screen.query_one("#hd-title").render())
        table = screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 5)
        held = {str(table.get_row_at(i)[0]): table.get_row_at(i)[-1] for i in range(5)}
        assert held["PCI 0000:01:00.0"] == "gpu-guest"
        keys = {k for k, b in screen.active_bindings.items() if b.enabled}
        assert "a" not in keys and "x" not in keys and "R" in keys
        await pilot.press("a")  # hidden: does nothing, no error
        await pilot.pause(0.1)
        assert app.screen is screen


async def test_create_on_a_mediated_device_type_says_why_it_failed() -> None:
    """c on an mdev type row asks the backend (backend/mdev.py); the test driver cannot make
    mediated devices, so the answer is a sentence, and the list is unchanged."""
    app = VmtuiApp(host_uri("hostdev_host"), interval=0.2)
    notes: list[str] = []
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await ready(pilot)
        original = app.notify

        def spy(message: str, *args: object, **kwargs: object) -> None:
            notes.append(str(message))
            original(message, *args, **kwargs)  # type: ignore[arg-type]

        app.notify = spy  # type: ignore[method-assign]
        select(app, "other")
        await pilot.press("U")
        await wait_for(pilot, lambda: isinstance(app.screen, HostDevicesScreen))
        table = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 5)
        firsts = [str(table.get_row_at(i)[0]) for i in range(5)]
        await pilot.press("c")  # not on an mdev type row: told what to select
        await wait_for(pilot, lambda: any("mediated device type" in n for n in notes))
        table.move_cursor(row=firsts.index("mdev i915-GVTg_V5_4"))
        await pilot.press("c")
        await wait_for(pilot, lambda: any("Could not create a i915-GVTg_V5_4" in n for n in notes))
        assert table.row_count == 5
