"""The snapshot dialog offers to quiesce through the guest agent and says which was used
(issue 13). Test driver host: tests/data/quiesce_host.xml (its pretend agent freezes two
filesystems)."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Checkbox, Input

from tests.conftest import host_uri
from tests.ui.helpers import ready, select, wait_for
from vmtui.app import VmtuiApp
from vmtui.screens.bulk import BulkSummaryScreen
from vmtui.screens.command import CommandLineScreen
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.snapshots import CreateSnapshotScreen, SnapshotsScreen


def logged(app: VmtuiApp) -> list[str]:
    return [f"{e.text} -> {e.outcome}" for e in app.activity if e.kind == "action"]


async def take(app: VmtuiApp, pilot: Pilot[None], guest: str, *, untick: bool = False) -> Checkbox:
    select(app, guest)
    await pilot.press("S")
    await wait_for(pilot, lambda: isinstance(app.screen, SnapshotsScreen))
    screen = app.screen
    assert isinstance(screen, SnapshotsScreen)
    await wait_for(pilot, lambda: screen.loads == 1)
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, CreateSnapshotScreen))
    box = app.screen.query_one("#quiesce", Checkbox)
    state = Checkbox(value=box.value, disabled=box.disabled)  # as shown, before any change
    app.screen.query_one("#name", Input).value = f"snap-{guest}"
    if untick:
        box.value = False
    await pilot.press("enter")
    await wait_for(pilot, lambda: screen.loads == 2)
    return state


async def test_a_guest_with_an_agent_is_quiesced_and_the_log_says_so() -> None:
    app = VmtuiApp(host_uri("quiesce_host"), interval=3600)
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        shown = await take(app, pilot, "agent")
        assert shown.value and not shown.disabled
        line = next(t for t in logged(app) if "snapshot-create-as agent snap-agent" in t)
        assert "Quiesced through the guest agent: 2 filesystem(s) frozen" in line
        assert any("Quiesced through the guest agent" in n.message for n in app._notifications)


async def test_a_guest_without_an_agent_says_it_was_not_quiesced() -> None:
    app = VmtuiApp(host_uri("quiesce_host"), interval=3600)
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        shown = await take(app, pilot, "plain")
        assert not shown.value and shown.disabled
        line = next(t for t in logged(app) if "snapshot-create-as plain snap-plain" in t)
        assert "Not quiesced: the guest has no guest agent channel" in line


async def test_unticked_the_agent_is_not_asked() -> None:
    app = VmtuiApp(host_uri("quiesce_host"), interval=3600)
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        await take(app, pilot, "agent", untick=True)
        line = next(t for t in logged(app) if "snapshot-create-as agent snap-agent" in t)
        assert "Not quiesced: quiescing was not asked for" in line


async def test_the_snapshot_command_says_which_guests_were_quiesced() -> None:
    app = VmtuiApp(host_uri("quiesce_host"), interval=3600)
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        await pilot.press("colon")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandLineScreen))
        app.screen.query_one("#command", Input).value = ":snapshot agent plain nightly"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, BulkSummaryScreen))
        assert app.last_bulk is not None
        said = {o.name: o.message for o in app.last_bulk.succeeded}
        assert said["agent"].startswith("snapshot nightly taken. Quiesced through the guest agent")
        assert "Not quiesced: the guest has no guest agent channel" in said["plain"]


async def test_a_paused_guest_is_not_offered_a_freeze() -> None:
    app = VmtuiApp(host_uri("quiesce_host"), interval=3600)
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        shown = await take(app, pilot, "napping")
        assert not shown.value and shown.disabled
        line = next(t for t in logged(app) if "snapshot-create-as napping snap-napping" in t)
        assert "Not quiesced: the guest is not running" in line
