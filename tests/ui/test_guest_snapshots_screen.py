"""The snapshots screen (S) on the test driver: the tree, create, revert, delete, refusals."""

from __future__ import annotations

from textual.widgets import Checkbox, Input, Tree

from tests.conftest import host_uri
from tests.ui.helpers import ready, select, text_of, wait_for
from vmtui.app import VmtuiApp
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.snapshots import CreateSnapshotScreen, SnapshotsScreen


def actions(app: VmtuiApp) -> list[str]:
    return [e.text for e in app.activity if e.kind == "action" and e.ok]


def tree_labels(screen: SnapshotsScreen) -> list[str]:
    tree = screen.query_one("#snap-tree", Tree)
    out = []
    todo = list(tree.root.children)
    while todo:
        node = todo.pop(0)
        out.append(str(node.label))
        todo = list(node.children) + todo
    return out


async def test_take_revert_and_delete_snapshots_through_the_screen() -> None:
    uri = host_uri("snap_host")
    app = VmtuiApp(uri, interval=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        select(app, "db")
        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(app.screen, SnapshotsScreen))
        screen = app.screen
        assert isinstance(screen, SnapshotsScreen)
        await wait_for(pilot, lambda: screen.loads == 1)
        assert "has no snapshots" in text_of(screen.query_one("#snap-detail"))

        for name in ("base", "later"):
            loads = screen.loads
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, CreateSnapshotScreen))
            app.screen.query_one("#name", Input).value = name
            app.screen.query_one("#description", Input).value = f"about {name}"
            await pilot.press("enter")
            await wait_for(pilot, lambda loads=loads: screen.loads > loads)
        labels = tree_labels(screen)
        assert labels[0].startswith("base") and labels[1].startswith("later")
        assert "current" in labels[1] and "current" not in labels[0]
        assert f"virsh -c {uri} snapshot-create-as db base --description 'about base'" in actions(
            app
        )

        # Revert to base: the confirmation says what is lost.
        await pilot.press("up")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = text_of(app.screen.query_one("#body"))
        assert "snapshot base" in body and "is lost" in body
        await pilot.press("y")
        await wait_for(pilot, lambda: f"virsh -c {uri} snapshot-revert db base" in actions(app))
        await wait_for(pilot, lambda: "current" in tree_labels(screen)[0])

        # Delete the subtree from base: both go.
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "later" in text_of(app.screen.query_one("#body"))
        await pilot.press("y")
        await wait_for(
            pilot, lambda: f"virsh -c {uri} snapshot-delete db base --children" in actions(app)
        )
        await wait_for(pilot, lambda: tree_labels(screen) == [])


async def test_invalid_names_are_refused_in_the_dialog() -> None:
    app = VmtuiApp(host_uri("snap_host"), interval=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        select(app, "db")
        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(app.screen, SnapshotsScreen))
        screen = app.screen
        assert isinstance(screen, SnapshotsScreen)
        await wait_for(pilot, lambda: screen.loads == 1)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, CreateSnapshotScreen))
        app.screen.query_one("#name", Input).value = "a/b"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, CreateSnapshotScreen)
        assert "must be 1-64" in text_of(app.screen.query_one("#error"))


async def test_a_raw_disk_guest_is_refused_with_the_reason() -> None:
    app = VmtuiApp(host_uri("snap_host"), interval=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        select(app, "rawguest")
        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(app.screen, SnapshotsScreen))
        screen = app.screen
        assert isinstance(screen, SnapshotsScreen)
        await wait_for(pilot, lambda: screen.loads == 1)
        assert "is raw" in text_of(screen.query_one("#snap-detail"))
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, SnapshotsScreen)  # no dialog: refused at once
        assert any("qcow2" in n.message for n in app._notifications)
        assert actions(app) == []


async def test_the_screen_follows_the_guest_state() -> None:
    app = VmtuiApp(host_uri("snap_host"), interval=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        select(app, "db")
        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(app.screen, SnapshotsScreen))
        screen = app.screen
        assert isinstance(screen, SnapshotsScreen)
        await wait_for(pilot, lambda: screen.data is not None)
        assert screen.data is not None and not screen.data.state.is_active
        app.guest_action("start", "aaaaaaaa-0000-0000-0000-000000000002", "db")
        # The next poll shows it running; the tree is read again, so a new snapshot offers
        # to keep the memory state.
        await wait_for(pilot, lambda: screen.data is not None and screen.data.state.is_active)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, CreateSnapshotScreen))
        memory = app.screen.query_one("#memory", Checkbox)
        assert memory.value and not memory.disabled
