"""The storage screen (V) on the test driver: pools and volumes with their guests, create a
volume through the form, refuse deleting a used one (naming the guests), delete an unused one
after confirming. Every change is logged with its virsh words."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Static

from tests.conftest import host_uri
from tests.ui.helpers import ready, text_of, wait_for
from vmtui.app import VmtuiApp
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.storage import CreateVolumeScreen, StorageScreen


def _volume_names(screen: StorageScreen) -> list[str]:
    return [v.name for v in screen.volumes]


def _cells(screen: StorageScreen, table_id: str, row: int) -> list[str]:
    table: DataTable[object] = screen.query_one(table_id, DataTable)
    return [str(cell) for cell in table.get_row_at(row)]


def _select(screen: StorageScreen, name: str) -> None:
    table: DataTable[object] = screen.query_one("#volumes", DataTable)
    table.move_cursor(row=_volume_names(screen).index(name), animate=False)


async def _open(pilot, app: VmtuiApp) -> StorageScreen:  # type: ignore[no-untyped-def]
    await ready(pilot)
    await pilot.press("V")
    await wait_for(
        pilot, lambda: isinstance(app.screen, StorageScreen) and len(app.screen.volumes) == 4
    )
    screen = app.screen
    assert isinstance(screen, StorageScreen)
    return screen


async def test_pools_and_volumes_are_listed_with_their_guests() -> None:
    app = VmtuiApp(host_uri("small_host"), interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(pilot, app)
        assert _cells(screen, "#pools", 0) == ["pool", "running", "dir", "100G", "22G", "78G", "no"]
        assert _volume_names(screen) == ["alpha.qcow2", "beta.qcow2", "install.iso", "shared.img"]
        assert _cells(screen, "#volumes", 3)[:5] == ["shared.img", "raw", "1.0G", "1.0G",
                                                     "alpha, beta"]  # fmt: skip
        _select(screen, "beta.qcow2")
        await pilot.pause()
        detail = text_of(screen.query_one("#st-detail", Static))
        assert detail == "/pool/beta.qcow2 · qcow2 · used by beta"


async def test_create_refuse_and_delete_volumes() -> None:
    uri = host_uri("small_host")
    app = VmtuiApp(uri, interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(pilot, app)
        # Create: a bad size is explained inside the form, then a good one goes through.
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CreateVolumeScreen))
        form = app.screen
        form.query_one("#vol-name", Input).value = "scratch.qcow2"
        form.query_one("#vol-size", Input).value = "lots"
        form.query_one("#vol-size", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert "is not a size" in text_of(form.query_one("#vol-error", Static))
        form.query_one("#vol-size", Input).value = "3G"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "scratch.qcow2" in _volume_names(screen))
        made = next(v for v in screen.volumes if v.name == "scratch.qcow2")
        assert (made.format, made.capacity, made.used_by) == ("qcow2", 3 * 1024**3, ())

        # A used volume: refused at once, with the guests' names; nothing asked, nothing logged.
        _select(screen, "shared.img")
        await pilot.press("D")
        await pilot.pause()
        assert isinstance(app.screen, StorageScreen)
        shown = [n.message for n in app._notifications]
        assert any("used by guests alpha, beta" in m for m in shown), shown

        # An unused one: asked first, then deleted.
        _select(screen, "scratch.qcow2")
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "/pool/scratch.qcow2" in text_of(app.screen.query_one("#body", Static))
        await pilot.press("y")
        await wait_for(pilot, lambda: "scratch.qcow2" not in _volume_names(screen))
        lines = [e.text for e in app.activity if e.kind == "action"]
        assert lines == [
            f"virsh -c {uri} vol-create-as pool scratch.qcow2 {3 * 1024**3}B --format qcow2",
            f"virsh -c {uri} vol-delete scratch.qcow2 --pool pool",
        ]


async def test_read_only_hides_the_changes() -> None:
    app = VmtuiApp(host_uri("small_host"), interval=0.2, readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(pilot, app)
        await pilot.press("c")
        await pilot.pause()
        assert app.screen is screen  # no form: creating is hidden on a read-only connection
        assert screen.check_action("delete", ()) is False


async def test_storage_opens_on_the_selected_guests_host_and_h_cycles_hosts() -> None:
    from tests.ui.helpers import select
    from vmtui.demo import DEMO_URI

    app = VmtuiApp([host_uri("small_host"), DEMO_URI], interval=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.guests) >= 18)
        select(app, "web1")  # a guest of the demo host
        await pilot.press("V")
        await wait_for(
            pilot, lambda: isinstance(app.screen, StorageScreen) and bool(app.screen.pools)
        )
        screen = app.screen
        assert isinstance(screen, StorageScreen)
        assert screen.uri == DEMO_URI and [p.name for p in screen.pools] == ["default"]
        assert text_of(screen.query_one("#st-title", Static)) == "Storage on demo-host"
        await pilot.press("h")
        await wait_for(pilot, lambda: [p.name for p in screen.pools] == ["pool"])
        assert screen.uri == host_uri("small_host")
        await wait_for(pilot, lambda: len(screen.volumes) == 4)
