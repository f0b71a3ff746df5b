"""Several hosts in one dashboard: each polled on its own, none able to hold up another."""

from __future__ import annotations

import threading

from textual.pilot import Pilot

from vmtui.app import VmtuiApp
from vmtui.backend import ConnectionFailed, Hypervisor, NotConnected, Snapshot
from vmtui.demo import DEMO_URI
from vmtui.screens.dashboard import DashboardScreen
from vmtui.screens.hostlist import HOST_COLUMNS, HostListScreen
from vmtui.widgets.guest_table import GuestTable
from vmtui.widgets.host_panel import HostPanel
from vmtui.widgets.status_line import StatusLine

from .helpers import guest_named, state_of, table, wait_for


def cell(app: VmtuiApp, name: str, column: str) -> str | None:
    return table(app).shown_cell(guest_named(app, name).uuid, column)


async def both_hosts_listed(pilot: Pilot[None], app: VmtuiApp) -> None:
    """Wait until the guests of both hosts are in the table (small host 5, demo host 13)."""
    await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.guests) >= 18)


def fail_polls(app: VmtuiApp, uri: str, error: Exception) -> Hypervisor:
    """Make every poll of this host fail with ``error`` (``del hv.poll`` undoes it)."""
    hv = app.hosts[uri].hv

    def fail(progress: object = None) -> Snapshot:
        raise error

    hv.poll = fail  # type: ignore[method-assign]
    return hv


async def test_guests_of_every_host_with_a_host_column(small_host: str) -> None:
    app = VmtuiApp([small_host, DEMO_URI])
    async with app.run_test(size=(120, 40)) as pilot:
        await both_hosts_listed(pilot, app)
        assert cell(app, "alpha", "host") == "small_host"
        assert cell(app, "web1", "host") == "demo-host"
        panel = app.screen.query_one(HostPanel)
        lines = panel._text.plain.splitlines()
        assert len(lines) == 2
        assert lines[0].startswith("● small_host") and "guests" in lines[0]
        assert lines[1].startswith("● demo-host")
        assert "Connected to 2 hosts" in app.status()[1]


async def test_h_narrows_the_table_to_one_host_then_back(small_host: str) -> None:
    app = VmtuiApp([small_host, DEMO_URI])
    async with app.run_test(size=(120, 40)) as pilot:
        await both_hosts_listed(pilot, app)
        everyone = table(app).row_count
        await pilot.press("h")
        await wait_for(pilot, lambda: table(app).row_count == 5)
        assert all(app.hypervisor_for(uuid).uri == small_host for uuid in table(app).shown_uuids)
        await pilot.press("h")
        await wait_for(pilot, lambda: table(app).row_count == everyone - 5)
        await pilot.press("h")
        await wait_for(pilot, lambda: table(app).row_count == everyone)


async def test_actions_go_to_the_guests_own_host(small_host: str) -> None:
    app = VmtuiApp([DEMO_URI, small_host])
    async with app.run_test(size=(120, 40)) as pilot:
        await both_hosts_listed(pilot, app)
        assert app.hypervisor_for(guest_named(app, "gamma").uuid).uri == small_host
        assert state_of(app, "gamma") == "paused"
        app.guest_action("resume", guest_named(app, "gamma").uuid, "gamma")
        await wait_for(pilot, lambda: state_of(app, "gamma") == "running")


async def test_a_lost_host_shows_stale_guests_while_the_other_keeps_updating(
    small_host: str,
) -> None:
    app = VmtuiApp([small_host, DEMO_URI], interval=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await both_hosts_listed(pilot, app)
        lost = fail_polls(app, small_host, NotConnected("The connection to the host was lost."))
        await wait_for(pilot, lambda: state_of(app, "alpha") == "running?")
        symbol, text, _ = app.status()
        assert symbol == "✖" and "1/2 hosts connected" in text
        assert "lost (guests stale)" in app.screen.query_one(HostPanel)._text.plain or (
            "(stale)" in app.screen.query_one(HostPanel)._text.plain
        )
        demo_polls = app.hosts[DEMO_URI].snapshot
        await wait_for(pilot, lambda: app.hosts[DEMO_URI].snapshot is not demo_polls)
        del lost.poll  # the host answers again
        await wait_for(pilot, lambda: state_of(app, "alpha") == "running", timeout=15)


async def test_a_long_lost_reason_keeps_the_countdown_on_an_80_column_line(
    small_host: str,
) -> None:
    app = VmtuiApp([small_host, DEMO_URI], interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await both_hosts_listed(pilot, app)
        reason = "Cannot recv data: Connection reset by peer"  # as libvirt said it in CI
        fail_polls(app, small_host, ConnectionFailed(f"Lost the connection to X: {reason}."))
        line = app.screen.query_one(StatusLine)
        await wait_for(pilot, lambda: line.plain.startswith("✖ Lost"))
        assert len(line.plain) <= line.content_size.width
        assert "… Retrying " in line.plain and line.plain.endswith("· 1/2 hosts connected")
        assert "Connection reset by peer" in str(line.tooltip)  # the whole sentence on hover


async def test_a_hung_host_never_delays_the_others(small_host: str) -> None:
    app = VmtuiApp([small_host, DEMO_URI], interval=0.2)
    release = threading.Event()
    async with app.run_test(size=(120, 40)) as pilot:
        await both_hosts_listed(pilot, app)
        hung = app.hosts[small_host].hv
        real_poll = hung.poll

        def hang(progress: object = None) -> Snapshot:
            release.wait(30)
            return real_poll()

        hung.poll = hang  # type: ignore[method-assign]
        try:
            seen = []
            for _ in range(5):  # the demo host goes on polling, tick after tick
                before = app.hosts[DEMO_URI].snapshot
                await wait_for(pilot, lambda b=before: app.hosts[DEMO_URI].snapshot is not b)
                seen.append(app.hosts[DEMO_URI].snapshot)
            assert len({id(s) for s in seen}) == 5
            await wait_for(pilot, lambda: app.status()[0] == "⌛", timeout=5)
            assert "has not answered" in app.status()[1]
            # Its guests show their last known state, marked stale; the others' are live.
            await wait_for(pilot, lambda: state_of(app, "alpha") == "running?", timeout=5)
            assert state_of(app, "web1") == "running"
            await pilot.press("j")  # the UI answers keys meanwhile
        finally:
            release.set()
        await wait_for(pilot, lambda: state_of(app, "alpha") == "running")


async def test_hosts_can_be_added_and_removed_in_a_session(small_host: str) -> None:
    app = VmtuiApp(small_host)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.guests) == 5)
        assert "host" not in table(app).column_keys
        app.connect_host(DEMO_URI)
        await both_hosts_listed(pilot, app)
        assert "host" in app.screen.query_one(GuestTable).column_keys
        app.disconnect_host(small_host)
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.guests) == 13)
        assert app.uri == DEMO_URI
        assert "host" not in table(app).column_keys


def test_a_pending_poll_answer_is_replaced_only_by_the_same_hosts_next_one() -> None:
    # Textual drops a queued message that a newer one can replace. If host A's answer were
    # replaced by host B's, host A's loop (re-armed on its answer) would stop for good.
    from typing import Any, cast

    from vmtui.control.messages import Polled

    def polled(uri: str) -> Polled:
        return Polled(Snapshot(uri=uri, time=0.0, guests=()), {}, cast(Any, None))

    assert polled("test:///a").can_replace(polled("test:///a"))
    assert not polled("test:///b").can_replace(polled("test:///a"))


# ------------------------------------------------------------ the host view (f)
async def open_host_view(pilot: Pilot[None], app: VmtuiApp) -> HostListScreen:
    await pilot.press("f")
    await wait_for(pilot, lambda: isinstance(app.screen, HostListScreen))
    screen = app.screen
    assert isinstance(screen, HostListScreen)
    return screen


def host_row(screen: HostListScreen, label: str) -> dict[str, str]:
    row = next(r for r in screen.rows if r.label == label)
    return dict(zip([key for key, _, _ in HOST_COLUMNS], row.texts(), strict=True))


async def test_the_host_view_has_a_row_per_host_sorts_and_enter_narrows_the_table(
    small_host: str,
) -> None:
    app = VmtuiApp([small_host, DEMO_URI], interval=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await both_hosts_listed(pilot, app)
        screen = await open_host_view(pilot, app)
        small = host_row(screen, "small_host")
        assert small["state"] == "● up"
        assert small["guests"] == "3/5"  # alpha, gamma (paused) and temp are active
        assert small["vcpus"].startswith("4/")  # alpha 2 + gamma 1 + temp 1
        assert small["polled"].endswith("s ago")
        assert host_row(screen, "demo-host")["guests"].endswith("/13")
        assert [r.label for r in screen.rows] == ["demo-host", "small_host"]  # by host
        await pilot.press("o", "o")  # by running guests, most first
        assert screen.sort_column == "guests" and screen.rows[0].label == "demo-host"
        await pilot.press("O")
        assert screen.rows[0].label == "small_host"
        # the cursor stayed on its host (demo-host, second now): up, and enter shows the
        # guests of small_host only
        assert screen.table.cursor_row == 1
        await pilot.press("up", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await wait_for(pilot, lambda: table(app).row_count == 5)
        assert all(app.hypervisor_for(u).uri == small_host for u in table(app).shown_uuids)
        await open_host_view(pilot, app)
        await pilot.press("a")  # every host again
        await wait_for(pilot, lambda: table(app).row_count == 18)


async def test_the_host_view_stays_live_with_one_host_lost_and_says_so(small_host: str) -> None:
    app = VmtuiApp([small_host, DEMO_URI], interval=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await both_hosts_listed(pilot, app)
        screen = await open_host_view(pilot, app)
        fail_polls(app, small_host, NotConnected("The connection to the host was lost."))
        await wait_for(pilot, lambda: host_row(screen, "small_host")["state"] == "✖ lost")
        assert host_row(screen, "small_host")["guests"] == "3/5"  # its last known figures
        await pilot.press("o")  # by state: the lost host last
        assert [r.label for r in screen.rows] == ["demo-host", "small_host"]
        for _ in range(3):  # the other host's row goes on answering, poll after poll
            before = app.hosts[DEMO_URI].snapshot
            await wait_for(pilot, lambda b=before: app.hosts[DEMO_URI].snapshot is not b)
            await pilot.pause()
            assert host_row(screen, "demo-host")["state"] == "● up"
            assert host_row(screen, "demo-host")["polled"] in ("0s ago", "1s ago")
        screen.table.move_cursor(row=1, animate=False)
        await pilot.pause()
        detail = screen.query_one("#hosts-detail")
        assert "lost" in str(detail.render()) and "Retrying" in str(detail.render())


async def test_the_host_view_says_which_host_hangs_while_the_other_updates(
    small_host: str,
) -> None:
    app = VmtuiApp([small_host, DEMO_URI], interval=0.2)
    release = threading.Event()
    async with app.run_test(size=(120, 40)) as pilot:
        await both_hosts_listed(pilot, app)
        screen = await open_host_view(pilot, app)
        hung = app.hosts[small_host].hv
        real_poll = hung.poll

        def hang(*args: object, **kwargs: object) -> Snapshot:
            release.wait(30)
            return real_poll(*args, **kwargs)  # type: ignore[arg-type]

        hung.poll = hang  # type: ignore[method-assign]
        try:
            await wait_for(
                pilot,
                lambda: host_row(screen, "small_host")["state"].startswith("⌛ no answer"),
                timeout=8,
            )
            assert host_row(screen, "demo-host")["state"] == "● up"
            assert host_row(screen, "demo-host")["polled"] in ("0s ago", "1s ago")
            await pilot.press("O")  # keys are answered meanwhile
        finally:
            release.set()
        await wait_for(pilot, lambda: host_row(screen, "small_host")["state"] == "● up")
