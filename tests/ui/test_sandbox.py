"""Sandboxes on the dashboard (issue 17): ``sealed`` in the Iso column, and X on a shut-off
guest starting one (test driver)."""

from __future__ import annotations

from tests.conftest import host_uri
from tests.ui.helpers import ready, select, table, wait_for
from vmtui.app import VmtuiApp
from vmtui.screens.confirm import ConfirmScreen


async def test_sealed_shows_only_for_a_sandbox_without_paths() -> None:
    app = VmtuiApp(host_uri("sandbox_host"), interval=0.2)
    async with app.run_test(size=(100, 24)) as pilot:
        await ready(pilot)
        t = table(app)
        assert app.snapshot is not None
        guests = {g.name: g for g in app.snapshot.guests}
        await wait_for(
            pilot, lambda: all(t.shown_cell(g.uuid, "iso") != "…" for g in guests.values())
        )
        shown = {name: t.shown_cell(g.uuid, "iso") for name, g in guests.items()}
        assert shown["sealed-box"] == "sld"
        assert shown["box-with-nic"] != "sld"  # tagged, but a NIC is a path
        assert shown["plain-nonic"] == "iso"  # no path, but not a sandbox
        assert guests["sealed-box"].isolation == "sealed"


async def test_x_starts_a_sealed_sandbox_of_the_selected_guest() -> None:
    app = VmtuiApp(host_uri("sandbox_host"), interval=0.2)
    async with app.run_test(size=(100, 24)) as pilot:
        await ready(pilot)
        select(app, "base")
        await pilot.press("X")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")

        def made() -> bool:
            snap = app.snapshot
            return snap is not None and any(g.name == "base-sandbox" for g in snap.guests)

        await wait_for(pilot, made)
        assert app.snapshot is not None
        box = next(g for g in app.snapshot.guests if g.name == "base-sandbox")
        assert not box.persistent and "sandbox" in box.tags
        await wait_for(pilot, lambda: table(app).shown_cell(box.uuid, "iso") == "sld")
        hv = app.hypervisor_for(box.uuid)
        xml = hv.readable_conn().lookupByUUIDString(box.uuid).XMLDesc(0)
        assert "<interface" not in xml and "<filesystem" not in xml
        assert f"vmtui-sandbox-{box.uuid}-vda.qcow2" in xml


async def test_colon_sandbox_of_a_disk_image_and_of_a_named_guest() -> None:
    from textual.widgets import Input

    from vmtui.screens.command import CommandLineScreen

    app = VmtuiApp(host_uri("sandbox_host"), interval=0.2)
    async with app.run_test(size=(100, 24)) as pilot:
        await ready(pilot)

        async def line(text: str) -> None:
            await pilot.press("colon")
            await wait_for(pilot, lambda: isinstance(app.screen, CommandLineScreen))
            app.screen.query_one("#command", Input).value = text
            await pilot.press("enter")

        def named(name: str) -> bool:
            return app.snapshot is not None and any(g.name == name for g in app.snapshot.guests)

        await line("sandbox /pool/base.qcow2 imgbox")  # an image: no question, no guest
        await wait_for(pilot, lambda: named("imgbox"))
        await line("sandbox base basebox")  # a guest: asks first, naming it
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: named("basebox"))
        assert app.snapshot is not None
        boxes = [g for g in app.snapshot.guests if g.name in ("imgbox", "basebox")]
        assert all("sandbox" in g.tags and not g.persistent for g in boxes)
