"""The dashboard, driven with Pilot against libvirt's test driver."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.conftest import host_uri
from tests.ui.helpers import (
    click,
    guest_named,
    ready,
    row,
    select,
    state_of,
    table,
    text_of,
    wait_for,
)
from vmtui.app import VmtuiApp
from vmtui.demo import DEMO_URI
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.dashboard import DashboardScreen
from vmtui.screens.delete import DeleteScreen
from vmtui.screens.guest import GuestScreen
from vmtui.screens.help import HelpScreen
from vmtui.screens.nodaemon import NoDaemonScreen
from vmtui.widgets.status_line import StatusLine

SIZE = (80, 24)


def make_app(**kwargs: object) -> VmtuiApp:
    return VmtuiApp(host_uri("small_host"), interval=0.2, **kwargs)  # type: ignore[arg-type]


async def test_lists_every_guest_in_name_order_with_its_state() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        names = [guest.name for guest in sorted(app.snapshot.guests, key=lambda g: g.name)]  # type: ignore[union-attr]
        assert [table(app).shown_text(u)[0] for u in table(app).shown_uuids] == names  # type: ignore[index]
        assert state_of(app, "alpha") == "running"
        assert state_of(app, "beta") == "shut off"
        assert state_of(app, "gamma") == "paused"
        assert row(app, "alpha")[2] == "2"  # vCPUs
        assert row(app, "alpha")[4] == "1.0G"  # memory
        assert "Connected to test:///…/small_host.xml" in app.screen.query_one(StatusLine).plain


async def test_start_pause_resume_shutdown_from_the_keyboard() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select(app, "beta")
        await pilot.press("s")
        await wait_for(pilot, lambda: state_of(app, "beta") == "running")
        await pilot.press("p")
        await wait_for(pilot, lambda: state_of(app, "beta") == "paused")
        await pilot.press("u")
        await wait_for(pilot, lambda: state_of(app, "beta") == "running")
        await pilot.press("d")
        await wait_for(pilot, lambda: state_of(app, "beta") == "shut off")


async def test_an_impossible_action_is_a_sentence_not_a_traceback() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select(app, "alpha")
        await pilot.press("s")
        await wait_for(
            pilot,
            lambda: any(n.message == "Guest alpha is already running." for n in app._notifications),
        )
        assert app.is_running


async def test_force_off_asks_first_and_names_what_is_lost() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select(app, "alpha")
        await pilot.press("F")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = text_of(app.screen.query_one("#body"))
        assert "not written to its disks" in body
        await pilot.press("n")  # cancel: nothing happens
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.pause(0.5)
        assert state_of(app, "alpha") == "running"
        await pilot.press("F")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: state_of(app, "alpha") == "shut off")


async def test_delete_keeps_disks_unless_ticked_and_never_offers_a_shared_disk() -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        select(app, "beta")
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, DeleteScreen))
        modal = app.screen
        assert isinstance(modal, DeleteScreen)
        body = text_of(modal.query_one("#body"))
        assert "Its disks stay unless you tick them" in body
        boxes = {b.id: b for b in modal.query("Checkbox")}
        assert not boxes["disk-0"].disabled  # /pool/beta.qcow2
        assert boxes["disk-1"].disabled  # /pool/shared.img, also used by alpha
        assert "also used by alpha" in str(boxes["disk-1"].label)
        boxes["disk-0"].value = True
        boxes["disk-1"].value = True  # even if forced on, a shared disk is never removed
        assert modal.chosen_disks() == ["/pool/beta.qcow2"]
        await click(pilot, "#yes")
        await wait_for(pilot, lambda: all(g.name != "beta" for g in app.snapshot.guests))  # type: ignore[union-attr]
        await wait_for(
            pilot, lambda: any("Deleted guest beta" in n.message for n in app._notifications)
        )
        assert table(app).row_count == 4


async def test_cancelled_delete_changes_nothing() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select(app, "beta")
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, DeleteScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.pause(0.5)
        assert any(g.name == "beta" for g in app.snapshot.guests)  # type: ignore[union-attr]


async def test_filter_by_name_and_clear_with_escape() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("/", "a", "l")
        await wait_for(pilot, lambda: table(app).row_count == 1)
        assert table(app).shown_text(guest_named(app, "alpha").uuid) is not None
        await pilot.press("escape")
        await wait_for(pilot, lambda: table(app).row_count == 5)
        assert table(app).has_focus


async def test_cursor_stays_on_its_guest_while_rows_change() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select(app, "gamma")
        # another tool defines a guest that sorts before gamma
        root = ET.Element("domain", type="test")
        ET.SubElement(root, "name").text = "aaa-new"
        ET.SubElement(root, "memory").text = "65536"
        ET.SubElement(ET.SubElement(root, "os"), "type").text = "hvm"
        app.hv._conn.defineXML(ET.tostring(root, encoding="unicode"))
        await wait_for(pilot, lambda: table(app).row_count == 6)
        assert table(app).selected_uuid == guest_named(app, "gamma").uuid


async def test_an_idle_tick_redraws_no_cell() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        polls = app.polls
        await wait_for(pilot, lambda: app.polls >= polls + 1)
        before = table(app).cell_updates
        await wait_for(pilot, lambda: app.polls >= polls + 3)
        assert table(app).cell_updates == before


async def test_enter_opens_the_guest_screen_with_its_hardware() -> None:
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        select(app, "alpha")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, GuestScreen))
        body = text_of(app.screen.query_one("#overview-body"))
        for text in (
            "/pool/alpha.qcow2",
            "52:54:00:aa:00:01",
            "isolated",
            "/srv/share",
            "virtiofs",
            "read-write",
            "vnc on 127.0.0.1:5901",
        ):
            assert text in body, text
        await pilot.press("g")  # graphs fill in as polls arrive
        await wait_for(
            pilot,
            lambda: (
                "alpha" in str(app.histories.keys())
                or guest_named(app, "alpha").uuid in app.histories
            ),
        )
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_actions_work_from_the_guest_screen() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select(app, "beta")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, GuestScreen))
        await pilot.press("s")
        await wait_for(pilot, lambda: guest_named(app, "beta").state.label == "running")


async def test_help_lists_every_action_key() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        described = {what for _, what in app.screen.keys}  # type: ignore[attr-defined]
        for what in (
            "Start",
            "Shut down",
            "Reboot",
            "Force off",
            "Pause",
            "Resume",
            "Autostart",
            "Delete",
            "Filter",
            "Quit",
        ):
            assert what in described, what
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_read_only_hides_and_refuses_actions() -> None:
    app = make_app(readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select(app, "beta")
        await pilot.press("s")
        await pilot.pause(0.5)
        assert state_of(app, "beta") == "shut off"
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        described = {what for _, what in app.screen.keys}  # type: ignore[attr-defined]
        assert "Start" not in described and "Delete" not in described
        assert "Filter" in described
        assert "read-only" in app.status()[1]


async def test_command_palette_offers_actions_on_the_selected_guest() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select(app, "beta")
        await pilot.press("ctrl+p")
        await pilot.press(*"start beta")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: state_of(app, "beta") == "running")


async def test_markup_in_names_shows_as_typed() -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        root = ET.Element("domain", type="test")
        ET.SubElement(root, "name").text = "[red]x"
        ET.SubElement(root, "title").text = "[b]bold?[/b] <&>"
        ET.SubElement(root, "memory").text = "65536"
        ET.SubElement(ET.SubElement(root, "os"), "type").text = "hvm"
        app.hv._conn.defineXML(ET.tostring(root, encoding="unicode"))
        await wait_for(pilot, lambda: table(app).row_count == 6)
        odd = guest_named(app, "[red]x")
        cell = table(app).get_cell(odd.uuid, "name")
        assert cell.plain == "[red]x"
        select(app, "[red]x")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, GuestScreen))
        title = text_of(app.screen.query_one("#guest-title"))
        assert "[red]x" in title and "[b]bold?[/b] <&>" in title


async def test_no_daemon_says_so_and_offers_the_demo_host(tmp_path: object) -> None:
    app = VmtuiApp(f"qemu:///system?socket={tmp_path}/none.sock", interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, NoDaemonScreen) and bool(app.screen.query("#body")),
        )
        text = text_of(app.screen.query_one("#body"))
        assert "No libvirt daemon answers" in text and "libvirtd -d" in text
        await pilot.press("m")
        await ready(pilot)
        assert app.hv.uri == DEMO_URI
        assert len(app.snapshot.guests) == 13  # type: ignore[union-attr]


async def test_lost_connection_is_shown_with_a_retry_countdown(tmp_path: object) -> None:
    app = VmtuiApp(f"qemu:///system?socket={tmp_path}/none.sock", interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, NoDaemonScreen))
        await pilot.press("escape")  # keep waiting for the daemon
        await wait_for(pilot, lambda: app.status()[0] == "✖")
        _, text, _ = app.status()
        assert "No libvirt daemon answers" in text and "Retrying" in text


def test_no_color_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert make_app().no_color


async def test_j_and_k_move_the_cursor_like_the_arrows() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        shown = table(app).shown_uuids
        await pilot.press("j", "j")
        assert table(app).selected_uuid == shown[2]
        await pilot.press("k")
        assert table(app).selected_uuid == shown[1]


async def test_objects_alive_after_the_first_poll_are_kept_from_the_collector_until_exit() -> None:
    import gc

    assert gc.get_freeze_count() == 0
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: gc.get_freeze_count() > 0)  # no full-collection stalls
    assert gc.get_freeze_count() == 0  # a finished app leaves nothing frozen (tests, embedding)


async def test_the_collectors_young_pass_is_rarer_while_the_app_runs_and_restored_after() -> None:
    """A tick's records live for the tick and die by reference counting: at Python's default
    (a young pass every 700 allocations) the collector's passes cost a third of a 10,000-guest
    tick (benchmarks/README.md). The app raises that while it runs and puts it back after."""
    import gc

    from vmtui.app import GC_YOUNG_THRESHOLD

    before = gc.get_threshold()
    assert before[0] < GC_YOUNG_THRESHOLD
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:])
    assert gc.get_threshold() == before
