"""The : command line, driven with Pilot against the test driver."""

from __future__ import annotations

from textual.widgets import Input

from tests.conftest import host_uri
from tests.ui.helpers import guest_named, ready, select, state_of, table, wait_for
from vmtui.app import VmtuiApp
from vmtui.screens.bulk import BulkSummaryScreen
from vmtui.screens.command import CommandLineScreen
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.dashboard import DashboardScreen

SIZE = (100, 30)


def make_app() -> VmtuiApp:
    return VmtuiApp(host_uri("small_host"), interval=0.2)


async def command(pilot: object, app: VmtuiApp, line: str) -> CommandLineScreen:
    await pilot.press("colon")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, CommandLineScreen))  # type: ignore[arg-type]
    screen = app.screen
    assert isinstance(screen, CommandLineScreen)
    screen.query_one("#command", Input).value = line
    await pilot.press("enter")  # type: ignore[attr-defined]
    return screen


async def yes(pilot: object, app: VmtuiApp) -> str:
    """Answer yes to the question a command about several guests asks; return its text."""
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))  # type: ignore[arg-type]
    text = str(app.screen.query_one("#title").render()) + "\n"
    text += str(app.screen.query_one("#body").render())
    await pilot.press("y")  # type: ignore[attr-defined]
    return text


async def test_start_by_glob_and_the_summary() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await command(pilot, app, "start *a")  # alpha (running: fails), beta, gamma (paused)
        asked = await yes(pilot, app)
        assert "3 guests?" in asked and "alpha, beta, gamma." in asked
        await wait_for(pilot, lambda: isinstance(app.screen, BulkSummaryScreen))
        assert app.last_bulk is not None
        failed = {o.name: o.message for o in app.last_bulk.failed}
        assert failed == {
            "alpha": "Guest alpha is already running.",
            "gamma": "Guest gamma is paused; resume it instead of starting it.",
        }
        assert [o.name for o in app.last_bulk.succeeded] == ["beta"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: state_of(app, "beta") == "running")


async def test_query_terms_tags_vcpus_and_snapshot() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await command(pilot, app, "tag state:running +hot")
        await yes(pilot, app)
        await wait_for(pilot, lambda: isinstance(app.screen, BulkSummaryScreen))
        await pilot.press("escape")
        alpha = guest_named(app, "alpha").uuid
        await wait_for(pilot, lambda: table(app).shown_cell(alpha, "tags") == "hot")
        assert guest_named(app, "temp").tags == ("hot",)
        await command(pilot, app, "vcpus beta 3")
        await wait_for(pilot, lambda: guest_named(app, "beta").vcpus == 3)
        assert any(e.text.endswith("setvcpus beta 3 --config") for e in app.activity)
        await command(pilot, app, "snapshot beta nightly")
        await wait_for(
            pilot,
            lambda: app.hv._conn.lookupByName("beta").snapshotListNames() == ["nightly"],
        )
        await command(pilot, app, "pin alpha 0-1")
        await wait_for(
            pilot, lambda: any("vcpupin alpha 1 0-1" in e.text and e.ok for e in app.activity)
        )


async def test_without_a_name_it_acts_on_the_marked_guests() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await command(pilot, app, "mark beta saved")
        assert table(app).marked == {guest_named(app, n).uuid for n in ("beta", "saved")}
        await command(pilot, app, "start")
        await yes(pilot, app)
        await wait_for(pilot, lambda: isinstance(app.screen, BulkSummaryScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: state_of(app, "saved") == "running")
        await command(pilot, app, "unmark")
        assert table(app).marked == set()
        select(app, "gamma")  # nothing marked: the guest under the cursor
        await command(pilot, app, "resume")
        await wait_for(pilot, lambda: state_of(app, "gamma") == "running")


async def test_a_bad_command_says_why_and_stays_open() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = await command(pilot, app, "strat beta")
        await pilot.pause(0.1)
        assert app.screen is screen
        assert screen.error.startswith("Unknown command ':strat'. Did you mean :start?")
        box = screen.query_one("#command", Input)
        box.value = "start nosuch"
        await pilot.press("enter")
        assert screen.error == "There is no guest called 'nosuch'."
        box.value = "vcpus beta many"
        await pilot.press("enter")
        assert "'many' is not a number of vCPUs" in screen.error
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert state_of(app, "beta") == "shut off"


async def test_completion_offers_commands_names_and_tags() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("colon")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandLineScreen))
        box = app.screen.query_one("#command", Input)
        await pilot.press(*"sta")
        await wait_for(pilot, lambda: box._suggestion == "start")
        await pilot.press("right", "space", "b")
        await wait_for(pilot, lambda: box._suggestion == "start beta")
        await pilot.press("right")
        assert box.value == "start beta"


async def test_q_quits() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await command(pilot, app, "q")
        await wait_for(pilot, lambda: not app.is_running)


async def test_up_recalls_the_lines_that_ran() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await command(pilot, app, "pause alpha")
        await wait_for(pilot, lambda: state_of(app, "alpha") == "paused")
        await command(pilot, app, "resume alpha")
        await wait_for(pilot, lambda: state_of(app, "alpha") == "running")
        await pilot.press("colon")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandLineScreen))
        box = app.screen.query_one("#command", Input)
        await pilot.press("up")
        assert box.value == "resume alpha"
        await pilot.press("up", "up")  # stops at the oldest
        assert box.value == "pause alpha"
        await pilot.press("down", "down")
        assert box.value == ""
        await pilot.press("up", "up", "enter")
        await wait_for(pilot, lambda: state_of(app, "alpha") == "paused")


async def test_help_lists_the_commands() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await command(pilot, app, "help")
        await wait_for(pilot, lambda: any(n.title == "Commands" for n in app._notifications))
        text = next(n.message for n in app._notifications if n.title == "Commands")
        assert ":vcpus" in text and ":tag" in text and "tag:db" in text


async def test_a_command_matching_many_guests_asks_first_and_no_does_nothing() -> None:
    # Issue 14, item 7: a typo such as "*" must not shut every guest down unasked.
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        for line in ("shutdown *", "pin * 0", "vcpus state:running 1", "snapshot * x"):
            await command(pilot, app, line)
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            body = str(app.screen.query_one("#body").render())
            assert "alpha" in body and ("temp" in body or "gamma" in body), line
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.pause(0.5)
        assert state_of(app, "alpha") == "running"
        assert guest_named(app, "alpha").vcpus == 2
        assert not [e for e in app.activity if e.kind == "action"]  # nothing ran


async def test_a_command_on_a_guest_the_filter_hides_says_so() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("slash")
        app.screen.query_one("#filter", Input).value = "alpha"
        await wait_for(pilot, lambda: table(app).row_count == 1)
        await pilot.press("enter")
        await command(pilot, app, "start beta")  # one guest, but hidden from view: ask
        asked = await yes(pilot, app)
        assert "1 guest?" in asked and "It is hidden by the current filter." in asked
        await wait_for(pilot, lambda: guest_named(app, "beta").state.is_active)
