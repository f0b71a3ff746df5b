"""The delete dialog says why a disk is kept (who uses it, and how) and what happens to the
NVRAM file (issue 14, item 1), on tests/data/disk_users_host.xml."""

from __future__ import annotations

from textual.widgets import Checkbox

from tests.conftest import host_uri
from tests.ui.helpers import ready, select, text_of, wait_for
from vmtui.app import VmtuiApp
from vmtui.screens.delete import DeleteScreen

SIZE = (120, 40)


async def _open(app: VmtuiApp, pilot: object, name: str) -> DeleteScreen:
    select(app, name)
    await pilot.press("D")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, DeleteScreen))  # type: ignore[arg-type]
    assert isinstance(app.screen, DeleteScreen)
    return app.screen


async def test_the_dialog_says_who_keeps_each_disk_and_that_the_nvram_goes() -> None:
    app = VmtuiApp(host_uri("disk_users_host"), interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        modal = await _open(app, pilot, "victim")
        body = text_of(modal.query_one("#body"))
        assert "its NVRAM file /pool/victim_VARS.fd" in body and "go too" in body
        boxes = [b for b in modal.query(Checkbox)]
        labels = {str(b.label).split(":")[0]: (str(b.label), b.disabled) for b in boxes}
        assert labels["vda"] == (
            "vda: /pool/vol-disk.img (kept: also used by volguest (disk vda))",
            True,
        )
        assert "backing file of vda" in labels["vdc"][0] and labels["vdc"][1]
        assert labels["vdd"] == ("vdd: /pool/free.img", False)
        for box in boxes:
            box.value = True
        assert modal.chosen_disks() == ["/pool/free.img", "/pool/own.img"]
        await pilot.press("escape")


async def test_the_dialog_says_a_shared_nvram_file_stays() -> None:
    app = VmtuiApp(host_uri("disk_users_host"), interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        modal = await _open(app, pilot, "sharer")
        body = text_of(modal.query_one("#body"))
        assert "Its NVRAM file /pool/shared_VARS.fd stays: also used by sharer2 (NVRAM)." in body
        assert "go too" not in body
