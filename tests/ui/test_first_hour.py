"""Issue 16, a first-time user's hour at 80x24: quitting asks before work is lost, keys typed
in one burst land in the fields that had the focus, errors stay in the dialog."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, TextArea

from tests.conftest import host_uri
from tests.ui.helpers import click, guest_named, ready, select, table, text_of, wait_for
from tests.ui.test_create import open_wizard
from tests.ui.test_xmledit_screen import open_editor
from vmtui.app import VmtuiApp
from vmtui.backend import GuestState, Hypervisor
from vmtui.backend import create as backend_create
from vmtui.backend.devices import InvalidInput
from vmtui.control.followup import Followups
from vmtui.screens.base import GuestCommands
from vmtui.screens.clone import CloneScreen
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.create import CreateScreen
from vmtui.screens.delete import DeleteScreen
from vmtui.screens.guest import GuestScreen
from vmtui.screens.isolation import AddFolderScreen, IsolationScreen
from vmtui.screens.snapshots import CreateSnapshotScreen, SnapshotsScreen
from vmtui.screens.xmledit import XmlEditScreen
from vmtui.widgets.chart import Chart

SIZE = (80, 24)


def small_app() -> VmtuiApp:
    return VmtuiApp(host_uri("small_host"), interval=0.2)


async def burst(pilot: Pilot[None], keys: list[str]) -> None:
    """Send keys as one burst (a paste, typing over SSH): every event is queued before the
    first one is handled, unlike ``pilot.press``, which waits for the app after each key."""
    app = pilot.app
    driver = app._driver
    assert driver is not None
    for key in keys:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        driver.send_message(event)
    await pilot.pause(0.1)
    await pilot.pause()


def question(app: VmtuiApp) -> str:
    screen = app.screen
    assert isinstance(screen, ConfirmScreen), type(screen)
    return text_of(screen.query_one("#body"))


# ---------------------------------------------------------------- 1. quitting asks
async def test_q_on_wizard_step_two_asks_and_names_the_wizard() -> None:
    app = small_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        screen.query_one("#name", Input).value = "web"
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen.step == 1)
        screen.query_one("#install-kind", Select).focus()
        await pilot.press("q")
        await pilot.pause()
        assert app.is_running
        assert "new-guest wizard, at step 2 of 7" in question(app)
        await pilot.press("n")  # stay
        await pilot.pause()
        assert app.screen is screen and app.is_running
        await pilot.press("ctrl+q")  # the same question
        await pilot.pause()
        assert "new-guest wizard" in question(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running)


async def test_ctrl_q_in_the_xml_editor_without_edits_quits_at_once() -> None:
    app = VmtuiApp(host_uri("snap_host"), interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_editor(app, pilot, "db")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running)  # nothing to lose: no question


async def test_ctrl_q_in_the_xml_editor_after_typing_asks() -> None:
    app = VmtuiApp(host_uri("snap_host"), interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        editor_screen = await open_editor(app, pilot, "db")
        editor = editor_screen.query_one("#xml", TextArea)
        editor.focus()
        await pilot.press("x", "y")
        assert editor_screen.modified
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert app.is_running
        assert "unsaved changes to the XML of guest db" in question(app)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, XmlEditScreen) and app.is_running


async def test_q_asks_while_a_migration_or_clone_runs() -> None:
    app = small_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        token = app.operations.begin("the migration of web1 to other")
        await pilot.press("q")
        await pilot.pause()
        assert app.is_running
        assert "the migration of web1 to other" in question(app)
        await pilot.press("n")
        await pilot.pause()
        app.operations.end(token)
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)


async def test_a_dialog_with_edits_asks_before_quitting() -> None:
    app = VmtuiApp(host_uri("snap_host"), interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select(app, "db")
        await pilot.press("S")  # snapshots
        await wait_for(pilot, lambda: isinstance(app.screen, SnapshotsScreen))
        await pilot.press("n")  # the new-snapshot dialog
        await wait_for(pilot, lambda: isinstance(app.screen, CreateSnapshotScreen))
        dialog = app.screen
        await pilot.pause(0.1)
        assert dialog.unsaved_work() is None  # nothing typed yet
        dialog.query_one(Input).focus()
        await pilot.press("z")
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert app.is_running
        assert "what you typed in “New snapshot of db”" in question(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running)


# ---------------------------------------------------------------- 2. burst typing
async def test_a_burst_after_tab_lands_in_the_field_that_had_the_focus() -> None:
    app = small_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        assert isinstance(screen, CreateScreen)
        await burst(pilot, [*"abc", "tab", *"def", "tab", *"ghi"])
        values = [screen.query_one(f"#{w}", Input).value for w in ("name", "title", "description")]
        assert values == ["abc", "def", "ghi"]
        await burst(pilot, ["shift+tab", *"XY"])  # Title's text is selected on focus
        assert screen.query_one("#title", Input).value == "XY"


# ---------------------------------------------------------------- 3. errors stay in the dialog
async def test_share_dialog_says_a_missing_folder_under_the_field_and_offers_to_create_it(
    tmp_path: Path,
) -> None:
    app = VmtuiApp(host_uri("isolation_host"), interval=0.2)
    wanted = tmp_path / "new" / "share"
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select(app, "nonic-guest")
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, IsolationScreen))
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, AddFolderScreen))
        dialog = app.screen
        dialog.query_one("#path", Input).value = str(wanted)
        dialog.query_one("#tag", Input).value = "bad tag!"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "mount tag" in text_of(dialog.query_one("#error")))
        assert app.screen is dialog  # still open, with what was typed
        assert dialog.query_one("#tag", Input).value == "bad tag!"
        fields = list(dialog.query_one("#error").parent.children)  # type: ignore[union-attr]
        error_at = fields.index(dialog.query_one("#error"))
        assert fields[error_at - 1] is dialog.query_one("#tag")  # right under its field
        assert app.focused is dialog.query_one("#tag", Input)
        dialog.query_one("#tag", Input).value = "data"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert f"Create {wanted}?" in str(app.screen.query_one("#title").render())
        assert "does not exist" in text_of(dialog.query_one("#error"))
        await pilot.press("y")
        await wait_for(pilot, lambda: wanted.is_dir())
        # then the share goes on: the question whether to share it with the guest
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert str(wanted) in text_of(app.screen.query_one("#body"))


async def test_a_missing_kernel_is_refused_at_the_install_step_next_to_its_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # libvirt's test driver has no files; check this machine's, as for a local qemu host.
    def check_here(_hv: object, path: str, what: str) -> None:
        if not Path(path).is_file():
            raise InvalidInput(f"{what} does not exist or is not a file.")

    monkeypatch.setattr(backend_create, "_check_file", check_here)
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(b"k")
    app = small_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        screen.query_one("#name", Input).value = "web"
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen.step == 1)
        screen.query_one("#install-kind", Select).value = "kernel"
        await pilot.pause()
        screen.query_one("#kernel", Input).value = str(kernel)
        screen.query_one("#initrd", Input).value = str(tmp_path / "no-initrd")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: "does not exist" in screen.error_text)
        assert f"The initrd {tmp_path / 'no-initrd'}" in screen.error_text
        assert screen.step == 1  # still at the install step, the paths kept
        assert app.focused is screen.query_one("#initrd", Input)
        assert screen.query_one("#kernel", Input).value == str(kernel)
        screen.query_one("#initrd", Input).value = ""
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen.step == 2)


async def test_an_error_at_review_leaves_the_create_button_on_screen_at_80x24() -> None:
    app = small_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        screen.query_one("#name", Input).value = "web"
        screen.query_one("#install-kind", Select).value = "kernel"
        screen.query_one("#kernel", Input).value = "/boot/vmlinuz"  # not checked on test://
        for step in range(1, 7):
            await pilot.press("ctrl+n")
            await wait_for(pilot, lambda: screen.step == step, timeout=5)  # noqa: B023
        await wait_for(pilot, lambda: screen.spec is not None)
        # 6: the maximum vCPUs default to the host's CPUs, so vCPUs can be added live
        assert screen.spec is not None and screen.choices is not None
        assert screen.spec.vcpus == 1 < screen.spec.max_vcpus == screen.choices.host_cpus
        xml = text_of(screen.query_one("#review-xml"))
        assert re.search(rf'<vcpu [^>]*current="1"[^>]*>{screen.spec.max_vcpus}</vcpu>', xml)
        screen._create_failed(
            "Could not create guest web: the step 'define' failed: " + "a long reason " * 12
        )
        await pilot.pause()
        button = screen.query_one("#create")
        region = button.region
        assert region.height > 0 and region.bottom <= SIZE[1]
        assert app.screen.get_widget_at(region.x + 1, region.y)[0] is button


# ---------------------------------------------------------------- 4. KVM and its reason
async def test_the_domain_type_and_why_are_visible_at_80x24() -> None:
    app = small_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        await pilot.pause()
        for wid in ("#domain-type", "#host-facts"):
            region = screen.query_one(wid).region
            assert region.height > 0 and region.bottom <= SIZE[1] - 1, (wid, region)
        assert "KVM on this host" in text_of(screen.query_one("#host-facts"))


# ---------------------------------------------------------------- 9. shutdown ignored
async def test_a_shutdown_the_guest_ignores_is_followed_by_an_offer_to_force_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Hypervisor, "shutdown", lambda _self, _uuid: None)  # ignores ACPI
    app = small_app()
    app.followups = Followups(shutdown_grace=0.5)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.snapshot is not None
        running = next(
            g for g in app.snapshot.guests if g.state is GuestState.RUNNING and g.persistent
        )
        select(app, running.name)
        await pilot.press("d")
        await wait_for(  # pushed, and composed: the offer arrives from a timer, not a key
            pilot,
            lambda: isinstance(app.screen, ConfirmScreen) and bool(app.screen.query("#no")),
            timeout=30,
        )
        assert f"Guest {running.name} has not stopped" in str(
            app.screen.query_one("#title").render()
        )
        assert "asked to shut down" in question(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: guest_named(app, running.name).state is GuestState.SHUTOFF)


# ---------------------------------------------------------------- 5. a host without a pool
async def test_a_host_without_a_pool_is_offered_the_usual_default_pool() -> None:
    app = VmtuiApp(host_uri("isolation_host"), interval=0.2)  # a test host with no pool
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        screen.query_one("#name", Input).value = "web"
        screen.query_one("#install-kind", Select).value = "pxe"
        for step in (1, 2):
            await pilot.press("ctrl+n")
            await wait_for(pilot, lambda: screen.step == step, timeout=5)  # noqa: B023
        assert "no running storage pool" in text_of(screen.query_one("#disk-pool-volumes"))
        await click(pilot, "#add-disk")  # a new volume needs a pool: says how to get one
        assert "Make pool 'default'" in screen.error_text and not screen.disks
        await click(pilot, "#make-pool")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "/var/lib/libvirt/images" in question(app)
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: (
                screen.choices is not None and [p.name for p in screen.choices.pools] == ["default"]
            ),
        )
        assert not screen.query_one("#make-pool").display
        assert screen.query_one("#disk-pool", Select).value == "default"
        await click(pilot, "#add-disk")
        assert screen.disks and screen.disks[0].pool == "default"


# ---------------------------------------------------------------- 7. live vs next boot
async def test_a_9p_share_on_a_running_guest_is_next_boot_in_all_four_places(
    tmp_path: Path,
) -> None:
    app = VmtuiApp(host_uri("isolation_host"), interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        guest = guest_named(app, "isolated-guest")
        assert guest.state is GuestState.RUNNING and guest.persistent
        select(app, "isolated-guest")
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, IsolationScreen))
        view = app.screen
        assert isinstance(view, IsolationScreen)
        await wait_for(pilot, lambda: view.report is not None)
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, AddFolderScreen))
        app.screen.query_one("#path", Input).value = str(tmp_path)
        app.screen.query_one("#tag", Input).value = "data"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        said = question(app)  # 1. the question
        assert "applies at the next boot (QEMU cannot add or remove a 9p folder" in said
        await pilot.press("y")
        await wait_for(pilot, lambda: "Saved for the next boot" in view.last_message)
        assert "refused" not in view.last_message  # 2. the result: no live attempt refused
        assert "QEMU cannot add or remove a 9p folder" in view.last_message
        entry = [e for e in app.activity if e.kind == "action"][-1]  # 3. the activity log
        assert "attach-device isolated-guest data-fs.xml --config" in entry.text
        assert "--live" not in entry.text
        await wait_for(pilot, lambda: any(k.startswith("fs:") for k in view.rows))
        key = next(k for k in view.rows if k.startswith("fs:"))
        paths = view.query_one(DataTable)
        paths.move_cursor(row=paths.get_row_index(key))
        await pilot.pause()
        await pilot.press("x")  # 4. the remove question
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        removing = question(app)  # the running guest never got it: next boot, not "now"
        assert (
            "It applies at the next boot (the running guest does not have this folder)" in removing
        )
        assert "applies now" not in removing


# ---------------------------------------------------------------- 11. one rule for names
async def test_the_wizard_and_clone_refuse_a_name_with_the_same_sentence() -> None:
    app = VmtuiApp(host_uri("snap_host"), interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select(app, "db")
        await pilot.press("K")
        await wait_for(pilot, lambda: isinstance(app.screen, CloneScreen))
        clone = app.screen
        assert isinstance(clone, CloneScreen)
        clone.query_one("#name", Input).value = "web one"
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(clone.error))
        said_by_clone = clone.error
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, CloneScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, CreateScreen))
        wizard = app.screen
        assert isinstance(wizard, CreateScreen)
        wizard.query_one("#name", Input).value = "web one"
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: bool(wizard.error_text))
        assert wizard.error_text == said_by_clone
        assert said_by_clone == (
            "The guest name 'web one' cannot be used: a guest name is 1 to 64 letters, digits "
            "and _ . + -, starting with a letter, a digit or _."
        )


# ---------------------------------------------------------------- 14. the palette
async def test_the_palette_offers_every_action_of_a_shut_off_guest() -> None:
    app = small_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        off = next(g for g in app.snapshot.guests if not g.state.is_active)  # type: ignore[union-attr]
        select(app, off.name)
        await pilot.pause()
        titles = [t for t, _h, _c in GuestCommands(app.screen)._commands()]
        for wanted in ("Start", "Clone", "Snapshots", "Edit XML", "Isolation", "Tags", "Delete"):
            assert f"{wanted} {off.name}" in titles, (wanted, titles)
        assert f"Shut down {off.name}" not in titles  # not in its state
        assert len(titles) >= 10  # it listed five


# ---------------------------------------------------------------- 12. focus and keys
async def test_tab_never_stops_on_a_wizard_step_with_nothing_highlighted() -> None:
    app = small_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_wizard(pilot)
        seen = []
        for _ in range(16):
            await pilot.press("tab")
            seen.append(app.focused)
        assert all(not isinstance(w, VerticalScroll) for w in seen), seen


async def test_clone_has_a_key_for_clone() -> None:
    app = VmtuiApp(host_uri("snap_host"), interval=0.2)
    async with app.run_test(size=(100, 34)) as pilot:
        await ready(pilot)
        select(app, "db")
        await pilot.press("K")
        await wait_for(pilot, lambda: isinstance(app.screen, CloneScreen))
        clone = app.screen
        assert isinstance(clone, CloneScreen)
        clone.query_one("#name", Input).value = "db-two"
        await pilot.press("ctrl+s")  # first: review (a plan is needed)
        await wait_for(pilot, lambda: clone.plan is not None)
        await pilot.press("ctrl+s")  # then: clone
        await wait_for(pilot, lambda: guest_names(app) >= {"db-two"}, timeout=20)


def guest_names(app: VmtuiApp) -> set[str]:
    return {g.name for g in app.snapshot.guests} if app.snapshot else set()


async def test_single_delete_takes_y_as_bulk_delete_does() -> None:
    app = small_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select(app, "beta")
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, DeleteScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: "beta" not in guest_names(app))


# ---------------------------------------------------------------- 8. repeated keys absorbed
async def test_a_double_s_starts_once_and_says_it_quietly() -> None:
    app = small_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select(app, "beta")
        await pilot.press("s", "s")
        await wait_for(pilot, lambda: guest_named(app, "beta").state is GuestState.RUNNING)
        await pilot.pause(0.3)
        starts = [e for e in app.activity if e.kind == "action" and " start beta" in e.text]
        assert len(starts) == 1 and starts[0].ok
        notes = [n.message for n in app._notifications]
        assert "Still asking guest beta to start…" in notes
        assert not any(n.severity == "error" for n in app._notifications)


async def test_the_cursor_follows_the_guest_just_created() -> None:
    app = small_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        screen.query_one("#name", Input).value = "zz-new"  # sorts last: not where it was
        screen.query_one("#install-kind", Select).value = "kernel"
        screen.query_one("#kernel", Input).value = "/boot/vmlinuz"
        for step in range(1, 7):
            await pilot.press("ctrl+n")
            await wait_for(pilot, lambda: screen.step == step, timeout=5)  # noqa: B023
        await wait_for(pilot, lambda: screen.spec is not None)
        await pilot.press("ctrl+n")  # create
        await wait_for(pilot, lambda: "zz-new" in guest_names(app))
        await wait_for(pilot, lambda: table(app).selected_uuid == guest_named(app, "zz-new").uuid)


# ---------------------------------------------------------------- charts
async def test_the_guest_screen_draws_charts_with_a_time_axis_units_and_the_value_now() -> None:
    app = small_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        select(app, "alpha")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, GuestScreen))
        await pilot.press("g")
        screen = app.screen
        cpu = screen.query_one("#g-cpu", Chart)
        await wait_for(pilot, lambda: " now, peak " in cpu.caption)
        await pilot.pause(0.2)
        drawn = cpu.render()
        text = drawn.plain if isinstance(drawn, Text) else str(drawn)
        assert "seconds ago" in text and " now, peak " in text  # a few seconds watched so far
        assert cpu.caption.startswith("CPU (of its vCPUs): ")
        await pilot.press("z")  # a longer window
        assert screen.window == 1800.0
        await wait_for(pilot, lambda: app.long_history(guest_named(app, "alpha").uuid) is not None)


async def test_a_chart_has_a_time_axis_a_value_axis_in_its_unit_and_the_value_now() -> None:
    class Charts(App[None]):
        def compose(self) -> ComposeResult:
            yield Chart("CPU (of its vCPUs)", "percent", id="cpu")
            yield Chart("Net receive", "rate", id="rx")

    app = Charts()
    async with app.run_test(size=SIZE) as pilot:
        cpu, rx = app.query_one("#cpu", Chart), app.query_one("#rx", Chart)
        cpu.show([10, 20, None, 50, 95, 100, 40], 60.0)  # six minutes, one sample unknown
        rx.show([0, 1024, 4096, 100_000, 5000], 2.0)  # eight seconds
        await pilot.pause()
        drawn = cpu.render()
        assert isinstance(drawn, Text)
        assert cpu.caption == "CPU (of its vCPUs): 40.0% now, peak 100% over 6m00s"
        assert "minutes ago" in drawn.plain and "100%" in drawn.plain and "0.0%" in drawn.plain
        assert "-6.0" in drawn.plain  # the oldest sample, six minutes ago
        fast = rx.render()
        assert isinstance(fast, Text)
        assert "seconds ago" in fast.plain and "K/s" in fast.plain
        assert rx.caption.startswith("Net receive: 4.9K/s now, peak 98K/s")


async def test_a_burst_in_the_share_dialog_lands_in_path_then_tag() -> None:
    app = VmtuiApp(host_uri("isolation_host"), interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select(app, "nonic-guest")
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, IsolationScreen))
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, AddFolderScreen))
        dialog = app.screen
        await burst(pilot, [*"/srv/a", "tab", *"data"])
        assert dialog.query_one("#path", Input).value == "/srv/a"
        assert dialog.query_one("#tag", Input).value == "data"


async def test_the_wizard_counts_any_typed_field_as_unsaved_work() -> None:
    app = small_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(pilot)
        assert screen.unsaved_work() is None  # nothing typed: q quits at once
        screen.query_one("#memory", Input).value = "4G"  # not the name: still work
        assert "new-guest wizard, at step 1 of 7" in (screen.unsaved_work() or "")
