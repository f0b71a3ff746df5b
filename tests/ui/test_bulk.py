"""Marks, bulk actions and tags on the dashboard, driven with Pilot against the test driver."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from textual.widgets import Input

from tests.conftest import host_uri
from tests.ui.helpers import guest_named, ready, select, state_of, table, text_of, wait_for
from vmtui.app import VmtuiApp
from vmtui.backend.tagxml import NS
from vmtui.screens.bulk import BulkSummaryScreen, PromptScreen
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.dashboard import DashboardScreen

SIZE = (100, 30)


def make_app() -> VmtuiApp:
    return VmtuiApp(host_uri("small_host"), interval=0.2)


async def mark(pilot: object, app: VmtuiApp, *names: str) -> None:
    for name in names:
        select(app, name)
        await pilot.press("space")  # type: ignore[attr-defined]
    assert {guest_named(app, n).uuid for n in names} <= table(app).marked


def summary_text(app: VmtuiApp) -> str:
    assert isinstance(app.screen, BulkSummaryScreen)
    return text_of(app.screen.query_one("#body"))


def xml_tags(app: VmtuiApp, name: str) -> list[str]:
    root = ET.fromstring(app.hv._conn.lookupByName(name).XMLDesc(0))
    return [t.text or "" for t in root.iterfind(f"metadata/{{{NS}}}tags/{{{NS}}}tag")]


async def test_space_marks_rows_and_esc_unmarks_them() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select(app, "beta")
        await pilot.press("space")
        beta = guest_named(app, "beta").uuid
        assert table(app).marked == {beta}
        # the cursor moved on, and the marked row's name is drawn with a mark
        assert table(app).selected_uuid == guest_named(app, "gamma").uuid
        assert str(table(app).get_cell(beta, "name")).startswith("▸")
        assert table(app).shown_cell(beta, "name") == "beta"  # the name itself is unchanged
        assert table(app).ordered_columns[0].label.plain == "Name ▸1"  # how many are marked
        select(app, "beta")
        await pilot.press("space")
        assert table(app).marked == set()
        assert table(app).ordered_columns[0].label.plain == "Name"
        await mark(pilot, app, "beta", "gamma")
        # marks outlive a filter that hides them (the header still counts them)
        await pilot.press("slash")
        app.screen.query_one("#filter", Input).value = "alpha"
        await wait_for(pilot, lambda: table(app).row_count == 1)
        assert table(app).ordered_columns[0].label.plain == "Name ▸2"
        await pilot.press("escape")  # clears the filter
        await wait_for(pilot, lambda: table(app).row_count == 5)
        assert str(table(app).get_cell(beta, "name")).startswith("▸")
        await pilot.press("escape")  # no filter now: drops the marks
        assert table(app).marked == set()
        assert not str(table(app).get_cell(beta, "name")).startswith("▸")


async def test_bulk_start_goes_on_past_a_failure_and_names_it() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await mark(pilot, app, "alpha", "beta", "saved")  # alpha is already running
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "alpha, beta, saved." in text_of(app.screen.query_one("#body"))
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, BulkSummaryScreen))
        text = summary_text(app)
        assert "Failed (1):" in text
        assert "✗ alpha: Guest alpha is already running." in text
        assert "✓ beta: started" in text
        assert "✓ saved: started" in text
        assert app.last_bulk is not None
        assert [o.name for o in app.last_bulk.failed] == ["alpha"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: state_of(app, "beta") == "running")
        await wait_for(pilot, lambda: state_of(app, "saved") == "running")
        # every guest's attempt is in the activity log, with its virsh equivalent
        lines = [(e.text, e.ok) for e in app.activity if e.kind == "action"]
        for name, ok in (("alpha", False), ("beta", True), ("saved", True)):
            assert any(t.endswith(f"start {name}") and good == ok for t, good in lines), lines


async def test_bulk_force_off_asks_first_naming_every_guest() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await mark(pilot, app, "alpha", "gamma")
        await pilot.press("F")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = text_of(app.screen.query_one("#body"))
        assert "alpha, gamma" in body and "pulling the plug" in body
        await pilot.press("n")  # no: nothing happens
        await pilot.pause(0.5)
        assert state_of(app, "alpha") == "running"
        await pilot.press("F")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, BulkSummaryScreen))
        assert "2 of 2 succeeded" in str(app.screen.query_one("#title").render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: state_of(app, "alpha") == "shut off")
        await wait_for(pilot, lambda: state_of(app, "gamma") == "shut off")


async def test_bulk_delete_keeps_disks_and_asks() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await mark(pilot, app, "beta", "saved")
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Every disk stays" in text_of(app.screen.query_one("#body"))
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, BulkSummaryScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: table(app).row_count == 3)
        pool = app.hv._conn.storagePoolLookupByName("pool")
        assert "beta.qcow2" in pool.listVolumes()
        assert table(app).marked == set()


async def test_tags_set_in_the_ui_show_in_the_column_and_in_the_domain_xml() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert "tags" not in table(app).column_keys  # no guest has tags: no column
        select(app, "beta")
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"db web", "enter")
        beta = guest_named(app, "beta").uuid
        await wait_for(pilot, lambda: table(app).shown_cell(beta, "tags") == "db web")
        assert xml_tags(app, "beta") == ["db", "web"]
        # on the marked set, +tag adds and -tag removes, guest by guest
        await mark(pilot, app, "beta", "gamma")
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"+ci -web", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, BulkSummaryScreen))
        await pilot.press("escape")
        gamma = guest_named(app, "gamma").uuid
        await wait_for(pilot, lambda: table(app).shown_cell(gamma, "tags") == "ci")
        await wait_for(pilot, lambda: table(app).shown_cell(beta, "tags") == "db ci")
        assert xml_tags(app, "beta") == ["db", "ci"]
        assert xml_tags(app, "gamma") == ["ci"]
        # and the / query finds them by tag
        await pilot.press("/")
        app.screen.query_one("#filter", Input).value = "tag:ci"
        await wait_for(pilot, lambda: table(app).row_count == 2)


async def test_a_bad_tag_is_refused_with_a_sentence() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select(app, "beta")
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"ok b<a>d", "enter")
        # said in the dialog, under the field; what was typed stays (issue 16)
        prompt = app.screen
        assert isinstance(prompt, PromptScreen)
        assert "has a character tags cannot have" in str(prompt.query_one("#prompt-error").render())
        assert prompt.query_one("#prompt", Input).value == "ok b<a>d"
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)
        assert xml_tags(app, "beta") == []


async def test_autostart_on_the_marked_set_turns_it_on_for_all_then_off() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await mark(pilot, app, "beta", "saved")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, BulkSummaryScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: all(guest_named(app, n).autostart for n in ("beta", "saved")))
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, BulkSummaryScreen))
        await pilot.press("escape")
        await wait_for(
            pilot, lambda: not any(guest_named(app, n).autostart for n in ("beta", "saved"))
        )
        assert not guest_named(app, "alpha").autostart  # unmarked: untouched


async def test_t_on_the_guest_screen_tags_that_guest() -> None:
    from vmtui.screens.guest import GuestScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select(app, "gamma")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, GuestScreen))
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"+paused", "enter")
        await wait_for(pilot, lambda: guest_named(app, "gamma").tags == ("paused",))
        assert xml_tags(app, "gamma") == ["paused"]


async def test_read_only_hides_tags_and_refuses_changing_commands() -> None:
    from vmtui.screens.command import CommandLineScreen

    app = VmtuiApp(host_uri("small_host"), interval=0.2, readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select(app, "beta")
        await pilot.press("t")
        await pilot.pause(0.2)
        assert isinstance(app.screen, DashboardScreen)  # no tag prompt
        await pilot.press("colon")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandLineScreen))
        screen = app.screen
        assert isinstance(screen, CommandLineScreen)
        screen.query_one("#command", Input).value = "start beta"
        await pilot.press("enter")
        assert "read-only" in screen.error


async def test_a_bulk_action_asks_and_names_the_marks_the_filter_hides() -> None:
    # Issue 14, item 7: marks hidden by a filter still receive actions; the question says so.
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await mark(pilot, app, "beta", "saved")
        await pilot.press("slash")
        app.screen.query_one("#filter", Input).value = "beta"
        await wait_for(pilot, lambda: table(app).row_count == 1)
        await pilot.press("enter")
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        title = str(app.screen.query_one("#title").render())
        body = text_of(app.screen.query_one("#body"))
        assert "2 guests?" in title
        assert "beta, saved." in body
        assert "1 of them is hidden by the current filter: saved." in body
        await pilot.press("n")
        await pilot.pause(0.5)
        assert not guest_named(app, "beta").state.is_active
        assert not guest_named(app, "saved").state.is_active


async def test_the_tag_prompt_names_the_marks_the_filter_hides() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await mark(pilot, app, "beta", "saved")
        await pilot.press("slash")
        app.screen.query_one("#filter", Input).value = "beta"
        await wait_for(pilot, lambda: table(app).row_count == 1)
        await pilot.press("enter")
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        body = text_of(app.screen.query_one("#body"))
        assert "1 of them is hidden by the current filter: saved." in body
        await pilot.press("escape")
