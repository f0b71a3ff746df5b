"""The dashboard against a real libvirtd and a real tiny TCG guest, driven through its own keys.

Every state change is checked twice: in the text the table shows, and with libvirt directly.
Each app test ends by checking that the app exited cleanly: no exception, no failed worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import libvirt
import pytest
from textual.pilot import Pilot

from vmtui.app import VmtuiApp
from vmtui.backend import GuestState, Hypervisor
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.dashboard import DashboardScreen
from vmtui.widgets.status_line import StatusLine

from .conftest import unique_domain_name
from .helpers import (
    AppWatch,
    assert_exited_cleanly,
    cpu_figure,
    dashboard,
    describe_app,
    guest_table,
    libvirtd_pids,
    select_guest,
    shown_cpu,
    shown_row,
    shown_state,
    start_libvirtd,
    status_text,
    stop_libvirtd,
    wait_for,
)
from .tinyguest import TinyGuest, tiny_domain_xml

SIZE = (80, 24)
DEADLINE = 60.0  # generous: TCG boots in ~5 s, but CI machines can be slow and busy
# The tiny guest spins one busy loop per vCPU with this on its kernel command line.
BURN = "vmtui.burn"

LIBVIRT_STATE = {
    "running": libvirt.VIR_DOMAIN_RUNNING,
    "paused": libvirt.VIR_DOMAIN_PAUSED,
    "shut off": libvirt.VIR_DOMAIN_SHUTOFF,
}


def libvirt_state(conn: Any, uuid: str) -> int:
    return int(conn.lookupByUUIDString(uuid).state()[0])


async def press_on_guest(pilot: Pilot[None], app: VmtuiApp, uuid: str, key: str) -> None:
    """Press ``key`` on the dashboard with the cursor on the guest."""
    # Other sessions may add guests to the same host; the cursor follows its guest across
    # rebuilds, but make sure.
    if guest_table(app).selected_uuid != uuid:
        select_guest(app, uuid)
    await pilot.press(key)


async def see_state(pilot: Pilot[None], app: VmtuiApp, conn: Any, uuid: str, label: str) -> float:
    """Wait until the row's state cell reads ``label``; then libvirt must agree."""
    took = await wait_for(
        pilot,
        lambda: shown_state(app, uuid) == label,
        DEADLINE,
        what=f"state cell {label!r}",
        describe=lambda: describe_app(app, uuid),
    )
    assert libvirt_state(conn, uuid) == LIBVIRT_STATE[label], (
        f"the table shows {label!r} but libvirt says state {libvirt_state(conn, uuid)}"
    )
    return took


async def test_power_cycle_through_the_app(
    libvirtd: str, libvirt_conn: Any, tiny_domain_factory: Callable[..., str]
) -> None:
    name = tiny_domain_factory("dash", extra_cmdline=BURN)
    uuid = libvirt_conn.lookupByName(name).UUIDString()
    app = VmtuiApp(libvirtd, interval=0.5)
    watch = AppWatch()
    timings: dict[str, float] = {}

    async with app.run_test(size=SIZE, message_hook=watch) as pilot:
        timings["row shown"] = await see_state(pilot, app, libvirt_conn, uuid, "shut off")
        row = shown_row(app, uuid)
        assert row is not None
        assert row[0] == name
        assert row[3] == "–"  # noqa: RUF001 - no CPU figure for a guest that is off
        symbol, sentence, _ = app.status()
        assert symbol == "●" and sentence.startswith("Connected"), sentence
        assert status_text(app).startswith("● Connected")

        select_guest(app, uuid)
        await press_on_guest(pilot, app, uuid, "s")
        timings["start"] = await see_state(pilot, app, libvirt_conn, uuid, "running")

        # The guest burns CPU: the CPU% cell turns into a figure above zero.
        def cpu_shown() -> bool:
            figure = cpu_figure(shown_cpu(app, uuid))
            return figure is not None and figure > 0

        timings["cpu figure"] = await wait_for(
            pilot,
            cpu_shown,
            DEADLINE,
            what="a non-zero CPU% cell",
            describe=lambda: describe_app(app, uuid),
        )
        assert app.snapshot is not None
        cpu = app.snapshot.stats[uuid].cpu_percent
        assert cpu is not None and 0 < cpu <= 100, cpu
        assert shown_state(app, uuid) == "running"
        assert libvirt_state(libvirt_conn, uuid) == libvirt.VIR_DOMAIN_RUNNING

        await press_on_guest(pilot, app, uuid, "p")
        timings["pause"] = await see_state(pilot, app, libvirt_conn, uuid, "paused")

        await press_on_guest(pilot, app, uuid, "u")
        timings["resume"] = await see_state(pilot, app, libvirt_conn, uuid, "running")

        await press_on_guest(pilot, app, uuid, "F")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, ConfirmScreen),
            DEADLINE,
            what="the force-off confirmation",
            describe=lambda: describe_app(app, uuid),
        )
        # Asking is not doing: the guest still runs while the question is on screen.
        assert libvirt_state(libvirt_conn, uuid) == libvirt.VIR_DOMAIN_RUNNING
        await pilot.press("y")
        timings["force off"] = await see_state(pilot, app, libvirt_conn, uuid, "shut off")
        assert not isinstance(app.screen, ConfirmScreen)
        await wait_for(
            pilot,
            lambda: shown_cpu(app, uuid) == "–",  # noqa: RUF001 - the "no figure" dash
            DEADLINE,
            what="the CPU% cell back to a dash",
            describe=lambda: describe_app(app, uuid),
        )

        assert watch.errors() == [], f"the app reported errors: {watch.errors()}"
        assert app.status()[0] == "●"

    assert_exited_cleanly(app, watch)
    print("power cycle timings:", {k: round(v, 2) for k, v in timings.items()})


@pytest.fixture
def private_tiny_domain(libvirtd: str, tiny_guest_files: TinyGuest) -> Iterator[str]:
    """A defined (shut off) tiny domain handled through connections of its own.

    For tests that restart libvirtd: the session's ``libvirt_conn`` does not survive that,
    so this defines and removes the domain with fresh connections (the removal after the
    daemon is back).
    """
    name = unique_domain_name("reconnect")
    conn = libvirt.open(libvirtd)
    try:
        conn.defineXML(tiny_domain_xml(name, tiny_guest_files))
    finally:
        conn.close()
    yield name
    start_libvirtd()  # no-op when it answers; the test restores it anyway
    conn = libvirt.open(libvirtd)
    try:
        dom = conn.lookupByName(name)
        with contextlib.suppress(libvirt.libvirtError):
            if dom.isActive():
                dom.destroy()
        dom.undefine()
    finally:
        conn.close()


@pytest.mark.restarts_libvirtd
async def test_reconnects_after_libvirtd_restart(libvirtd: str, private_tiny_domain: str) -> None:
    conn = libvirt.open(libvirtd)
    try:
        uuid = conn.lookupByName(private_tiny_domain).UUIDString()
    finally:
        conn.close()
    app = VmtuiApp(libvirtd, interval=0.5)
    watch = AppWatch()
    timings: dict[str, float] = {}
    stopped = False

    def connected() -> bool:
        symbol, sentence, _ = app.status()
        return (
            symbol == "●"
            and sentence.startswith("Connected")
            and status_text(app).startswith("● Connected")
        )

    seen: list[str] = []  # every status sentence shown during the outage

    def lost() -> bool:
        """The status line says the connection is lost and when it retries.

        Checked on every look: the dashboard stays on top (no modal over it) with the last
        known guests, and the whole sentence fits the 80-column line (the countdown is not
        cut off).
        """
        symbol, sentence, _ = app.status()
        drawn = status_text(app)
        if drawn not in seen:
            seen.append(drawn)
        assert isinstance(app.screen, DashboardScreen), f"{app.screen!r} popped up"
        # The last known state stays, marked "?" once the host is known to be lost (stale).
        state = shown_state(app, uuid)
        assert state in ("shut off", "shut off?"), describe_app(app, uuid)
        line = dashboard(app).query_one(StatusLine)
        assert len(drawn) <= line.content_size.width, f"cut off at 80 columns: {drawn!r}"
        return (
            state == "shut off?"
            and symbol == "✖"
            and "Lost" in sentence
            and "Retrying" in sentence
            and drawn.startswith("✖ Lost")
            and "Retrying" in drawn
        )

    try:
        async with app.run_test(size=SIZE, message_hook=watch) as pilot:
            await wait_for(
                pilot,
                lambda: shown_state(app, uuid) == "shut off" and connected(),
                DEADLINE,
                what="the guest's row, connected",
                describe=lambda: describe_app(app, uuid),
            )
            polls_before = app.polls

            started = time.monotonic()
            pids = await asyncio.to_thread(stop_libvirtd)
            stopped = True
            timings["libvirtd stopped"] = time.monotonic() - started
            assert not libvirtd_pids(), f"libvirtd {pids} still running"

            timings["loss shown"] = await wait_for(
                pilot,
                lost,
                DEADLINE,
                what="the status line saying the connection is lost",
                describe=lambda: describe_app(app, uuid),
            )
            assert not app.hv.connected
            # A few reconnects fail against the missing daemon: still said, still no crash.
            failures = watch.counts["PollFailed"]
            await wait_for(
                pilot,
                lambda: lost() and watch.counts["PollFailed"] >= failures + 3,
                DEADLINE,
                what="three failed reconnects",
                describe=lambda: describe_app(app, uuid),
            )
            assert lost()

            started = time.monotonic()
            await asyncio.to_thread(start_libvirtd)
            stopped = False
            timings["libvirtd started"] = time.monotonic() - started

            started = time.monotonic()
            await wait_for(
                pilot,
                lambda: connected() and app.polls > polls_before,
                DEADLINE,
                what="reconnected by itself",
                describe=lambda: describe_app(app, uuid),
            )
            # Back on the dashboard (no modal left over) with the guest shown.
            await wait_for(
                pilot,
                lambda: (
                    shown_state(app, uuid) == "shut off" and isinstance(app.screen, DashboardScreen)
                ),
                DEADLINE,
                what="the guest's row after reconnecting",
                describe=lambda: describe_app(app, uuid),
            )
            timings["reconnected"] = time.monotonic() - started
            assert app.hv.connected
            # The new connection works: a later poll still sees the guest.
            polls_now = app.polls
            await wait_for(
                pilot,
                lambda: app.polls > polls_now + 1 and shown_state(app, uuid) == "shut off",
                DEADLINE,
                what="polls on the new connection",
                describe=lambda: describe_app(app, uuid),
            )
            assert app.status()[0] == "●"
    finally:
        if stopped or not libvirtd_pids():
            start_libvirtd()

    assert_exited_cleanly(app, watch)
    print("status line during the outage:", seen)
    print("reconnect timings:", {k: round(v, 2) for k, v in timings.items()})
    print("notifications:", watch.messages())


@pytest.mark.restarts_libvirtd
async def test_hung_daemon_is_shown_then_dropped_and_recovered(
    libvirtd: str, private_tiny_domain: str
) -> None:
    """A daemon that stops answering (SIGSTOP): the poll waits, the status line says so,
    keepalive (5 s x 3) gives up on the connection, and the app recovers once the daemon
    runs again. Nothing hangs for good, nothing crashes."""
    conn = libvirt.open(libvirtd)
    try:
        uuid = conn.lookupByName(private_tiny_domain).UUIDString()
    finally:
        conn.close()
    app = VmtuiApp(libvirtd, interval=0.5)
    watch = AppWatch()
    timings: dict[str, float] = {}
    seen: list[str] = []

    def look(symbol: str) -> bool:
        drawn = status_text(app)
        if drawn not in seen:
            seen.append(drawn)
        assert isinstance(app.screen, DashboardScreen), f"{app.screen!r} popped up"
        # The last known state stays; "?" while the host does not answer or is lost.
        state = shown_state(app, uuid)
        assert state in ("shut off", "shut off?"), describe_app(app, uuid)
        fresh = state == "shut off"
        return app.status()[0] == symbol and drawn.startswith(symbol) and fresh == (symbol == "●")

    pids: list[int] = []
    try:
        async with app.run_test(size=SIZE, message_hook=watch) as pilot:
            await wait_for(
                pilot,
                lambda: shown_state(app, uuid) == "shut off" and app.status()[0] == "●",
                DEADLINE,
                what="the guest's row, connected",
                describe=lambda: describe_app(app, uuid),
            )
            pids = libvirtd_pids()
            assert pids, "no libvirtd"
            started = time.monotonic()
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)

            # A poll is stuck in a call the daemon never answers: said, not hidden.
            timings["waiting shown"] = await wait_for(
                pilot,
                lambda: look("⌛") and "not answered" in app.status()[1],
                DEADLINE,
                what="the status line saying the host does not answer",
                describe=lambda: describe_app(app, uuid),
            )
            # Keepalive drops the connection after about 20 s; the stuck poll returns.
            await wait_for(
                pilot,
                lambda: look("✖") and "Lost" in app.status()[1],
                DEADLINE,
                what="the connection dropped by keepalive",
                describe=lambda: describe_app(app, uuid),
            )
            timings["lost after"] = time.monotonic() - started

            for pid in pids:
                os.kill(pid, signal.SIGCONT)
            pids = []
            started = time.monotonic()
            await wait_for(
                pilot,
                lambda: look("●") and app.hv.connected,
                DEADLINE,
                what="reconnected once the daemon runs again",
                describe=lambda: describe_app(app, uuid),
            )
            timings["reconnected"] = time.monotonic() - started
            polls_now = app.polls
            await wait_for(
                pilot,
                lambda: app.polls > polls_now + 1 and look("●"),
                DEADLINE,
                what="polls on the new connection",
                describe=lambda: describe_app(app, uuid),
            )
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    assert_exited_cleanly(app, watch)
    print("status line while hung:", seen)
    print("hung daemon timings:", {k: round(v, 2) for k, v in timings.items()})


def test_cpu_figure_and_rates_on_real_stats(
    libvirtd: str, libvirt_conn: Any, tiny_domain_factory: Callable[..., str]
) -> None:
    name = tiny_domain_factory("stats", extra_cmdline=BURN)
    dom = libvirt_conn.lookupByName(name)
    uuid = dom.UUIDString()
    dom.create()

    hv = Hypervisor(libvirtd, interval=1.0)
    try:
        first = hv.poll()
        guest = next(g for g in first.guests if g.uuid == uuid)
        assert guest.state is GuestState.RUNNING
        assert guest.vcpus >= 1
        # One sample gives no rate yet.
        assert first.stats[uuid].cpu_percent is None
        grown_from = len(hv.guest_history(uuid).cpu.values)

        deadline = time.monotonic() + DEADLINE
        last = first
        while True:
            # Polls at least 1 s apart, until the busy guest shows CPU use (the first pair
            # normally does).
            wait = 1.0 - (time.monotonic() - last.time)
            if wait > 0:
                time.sleep(wait)
            snap = hv.poll()
            assert snap.time - last.time >= 1.0
            last = snap
            stats = snap.stats[uuid]
            if stats.cpu_percent is not None and stats.cpu_percent > 0:
                break
            assert time.monotonic() < deadline, f"no CPU figure above 0 within {DEADLINE}s"

        assert stats.cpu_percent is not None and 0 < stats.cpu_percent <= 100
        assert stats.cpu_percent_per_vcpu is not None and stats.cpu_percent_per_vcpu > 0
        assert stats.mem_current_kib is not None and stats.mem_current_kib > 0
        guest = next(g for g in snap.guests if g.uuid == uuid)
        assert guest.vcpus >= 1
        assert guest.state is GuestState.RUNNING

        history = hv.guest_history(uuid)
        assert len(history.cpu.values) > grown_from
        assert history.cpu.values[-1] is not None and history.cpu.values[-1] > 0
        assert len(history.memory.values) == len(history.cpu.values)
        print(
            f"cpu {stats.cpu_percent:.1f}% of host, {stats.cpu_percent_per_vcpu:.1f}% per vCPU, "
            f"memory {stats.mem_current_kib} KiB, history {len(history.cpu.values)} samples"
        )
    finally:
        hv.close()
