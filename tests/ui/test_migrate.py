"""The migrate dialog (m), against two test-driver hosts: libvirt's test driver moves a shut-off
guest's definition (offline) but cannot migrate a running guest, which proves the failure path."""

from __future__ import annotations

from textual.widgets import Button, Checkbox, Input

from tests.conftest import host_uri
from tests.ui.helpers import row, select, table, text_of, wait_for
from vmtui.app import VmtuiApp
from vmtui.demo import DEMO_URI
from vmtui.screens.guest import GuestScreen
from vmtui.screens.migrate import MigrateScreen

SIZE = (100, 40)
BETA = "22222222-2222-2222-2222-222222222222"


async def _two_hosts(pilot: object, app: VmtuiApp) -> None:
    await wait_for(
        pilot,  # type: ignore[arg-type]
        lambda: app.snapshot is not None and len(app.snapshot.guests) >= 18,
    )


def _outcome(screen: MigrateScreen) -> str:
    return text_of(screen.query_one("#outcome"))


async def test_m_moves_a_shut_off_guest_to_the_other_host_and_logs_virsh_migrate() -> None:
    small = host_uri("small_host")
    app = VmtuiApp([small, DEMO_URI], interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await _two_hosts(pilot, app)
        select(app, "beta")  # shut off, on small_host
        assert "small_host" in row(app, "beta")
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MigrateScreen))
        screen = app.screen
        assert isinstance(screen, MigrateScreen)
        assert screen.targets == [DEMO_URI]  # the other connected host only
        assert screen.query_one("#live", Checkbox).disabled  # shut off: offline
        await pilot.click("#start")
        await wait_for(pilot, lambda: screen.succeeded is not None)

        assert screen.succeeded, _outcome(screen)
        assert "is now defined on" in _outcome(screen) and "demo-host.xml" in _outcome(screen)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, MigrateScreen))
        await wait_for(
            pilot, lambda: app.uri_of("22222222-2222-2222-2222-222222222222") == DEMO_URI
        )
        assert "demo-host" in row(app, "beta")
        logged = [e for e in app.activity if e.kind == "action"]
        assert [e.text for e in logged] == [
            f"virsh -c {small} migrate --offline --persistent --undefinesource beta {DEMO_URI}"
        ]
        assert logged[0].ok


async def test_a_failed_live_migration_says_the_guest_still_runs_on_its_host() -> None:
    small = host_uri("small_host")
    app = VmtuiApp([small, DEMO_URI], interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await _two_hosts(pilot, app)
        select(app, "alpha")  # running
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MigrateScreen))
        screen = app.screen
        assert isinstance(screen, MigrateScreen)
        assert screen.query_one("#live", Checkbox).value
        screen.query_one("#bandwidth", Input).value = "50"
        await pilot.click("#start")
        await wait_for(pilot, lambda: screen.succeeded is not None, timeout=20)

        assert screen.succeeded is False
        text = _outcome(screen)
        assert text.startswith("Could not migrate guest alpha: ")
        assert text.endswith(f"It is still running on {small}.")
        assert app.uri_of("11111111-1111-1111-1111-111111111111") == small
        (entry,) = [e for e in app.activity if e.kind == "action"]
        assert not entry.ok
        assert entry.text.startswith(f"virsh -c {small} migrate --live --persistent ")
        assert "--bandwidth 50 alpha" in entry.text


async def test_bad_options_are_refused_in_the_dialog_and_nothing_starts() -> None:
    app = VmtuiApp([host_uri("small_host"), DEMO_URI], interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await _two_hosts(pilot, app)
        select(app, "alpha")
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MigrateScreen))
        screen = app.screen
        assert isinstance(screen, MigrateScreen)
        screen.query_one("#persistent", Checkbox).value = False  # + undefine source: refused
        await pilot.click("#start")
        await pilot.pause()
        assert not screen.running and screen.succeeded is None
        assert "transient on the target would lose it" in _outcome(screen)
        assert screen.query_one("#start", Button).display
        assert not [e for e in app.activity if e.kind == "action"]


async def test_m_with_a_single_host_says_to_connect_another() -> None:
    app = VmtuiApp(host_uri("small_host"), interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: table(app).row_count > 0)
        select(app, "alpha")
        await pilot.press("m")
        await pilot.pause()
        assert not isinstance(app.screen, MigrateScreen)
        assert any("Only one host is connected" in str(n.message) for n in app._notifications)


async def test_m_is_not_offered_read_only() -> None:
    app = VmtuiApp([host_uri("small_host"), DEMO_URI], interval=0.2, readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        await _two_hosts(pilot, app)
        select(app, "alpha")
        await pilot.press("m")
        await pilot.pause()
        assert not isinstance(app.screen, MigrateScreen)
        assert app.screen.check_action("migrate", ()) is False


async def test_m_on_the_guest_screen_keeps_it_open_on_the_guest_at_its_new_host() -> None:
    small = host_uri("small_host")
    app = VmtuiApp([small, DEMO_URI], interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await _two_hosts(pilot, app)
        select(app, "beta")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, GuestScreen))
        guest_screen = app.screen
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MigrateScreen))
        screen = app.screen
        assert isinstance(screen, MigrateScreen)
        await pilot.click("#start")  # the button is on screen at 80x24
        await wait_for(pilot, lambda: screen.succeeded is not None)
        assert screen.succeeded, screen.outcome
        await pilot.pause(1.0)  # several polls of both hosts, in whatever order
        assert app.screen is screen  # the dialog stays until closed
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is guest_screen)
        await wait_for(pilot, lambda: app.uri_of(BETA) == DEMO_URI)
        guest = guest_screen.current_guest()
        assert guest is not None and guest.host == DEMO_URI
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, GuestScreen))
    assert app._exception is None


async def test_a_bad_migration_address_is_refused_the_placeholder_shows_the_derived_one() -> None:
    app = VmtuiApp([host_uri("small_host"), DEMO_URI], interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await _two_hosts(pilot, app)
        select(app, "alpha")
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MigrateScreen))
        screen = app.screen
        assert isinstance(screen, MigrateScreen)
        stream = screen.query_one("#stream", Input)
        assert stream.placeholder == "tcp://127.0.0.1"  # both test hosts are local
        stream.value = "hv2:49152"
        await pilot.click("#start")
        await pilot.pause()
        assert not screen.running
        assert "is not of the form tcp://HOST[:PORT]" in _outcome(screen)


def test_progress_figures_fit_two_short_lines() -> None:
    from vmtui.backend.migrate import MigrationProgress
    from vmtui.screens.migrate import describe_progress

    moving = MigrationProgress(
        elapsed=6.03,
        data_total=134750208,
        data_processed=37824391,
        data_remaining=73781248,
        memory_dirty_rate=12,
        memory_bps=74140442,
        downtime_ms=300,
        iteration=1,
    )
    assert describe_progress(moving) == (
        "36M of 129M sent · 70M left · 71M/s\n"
        "6.0s · dirtying 12 pages/s · expected pause 300 ms · pass 1"
    )
    assert all(len(line) <= 70 for line in describe_progress(moving).splitlines())
    assert describe_progress(MigrationProgress(1.26, phase="preparing")) == (
        "Preparing the target… 1.3s"
    )
    done = MigrationProgress(4.9, data_total=134750208, downtime_ms=185, phase="done")
    assert describe_progress(done) == "Done: 129M sent in 4.9s · paused 185 ms"


async def test_a_guest_with_saved_state_is_warned_about_and_not_undefined_by_default() -> None:
    # Issue 14, item 8: "saved" has a managed-save image; an offline move cannot take it along.
    small = host_uri("small_host")
    app = VmtuiApp([small, DEMO_URI], interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await _two_hosts(pilot, app)
        select(app, "saved")
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MigrateScreen))
        screen = app.screen
        assert isinstance(screen, MigrateScreen)
        assert "saved memory state or snapshots here" in text_of(screen.query_one("#body"))
        undefine = screen.query_one("#undefine", Checkbox)
        assert not undefine.value
        undefine.value = True  # the user insists: refused, and nothing changes
        await pilot.click("#start")
        await wait_for(pilot, lambda: screen.succeeded is not None)
        assert not screen.succeeded
        assert "Nothing was changed" in _outcome(screen)
        assert app.uri_of("44444444-4444-4444-4444-444444444444") == small
