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
