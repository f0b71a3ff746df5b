"""The charts of issue 16 through the real app (Pilot): the guest screen's charts say the
value now with its unit, z stretches their time axis from 10 minutes to an hour, and the host
has its own charts (dashboard key P) — read-only sessions included.

The guest's history is fed deterministically (``ChartApp.long_history``: an hour at a 2 s
tick, as control/longhistory.py keeps for the watched guest) so the numbers are known."""

from __future__ import annotations

import math
from pathlib import Path

from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Static

import vmtui.app
from tests.conftest import host_uri
from tests.ui.helpers import guest_named, ready, select, wait_for
from vmtui.app import VmtuiApp
from vmtui.backend import GuestHistory, HostStats, Series
from vmtui.screens.guest import GuestScreen
from vmtui.screens.hostcharts import HostChartsScreen
from vmtui.widgets.chart import Chart

SIZE = (80, 24)
TICK = 2.0
HOUR = int(3600 / TICK) + 1  # 1801 samples: an hour at the 2 s tick, both ends


def fixed_history(uuid: str) -> GuestHistory:
    """An hour of a guest's figures: a slow CPU wave ending at 42.5 %, 512 MiB of memory,
    some disk and network traffic; one unknown CPU sample (a missed tick)."""
    n = HOUR
    cpu: list[float | None] = [round(40 + 30 * math.sin(i / 120), 1) for i in range(n)]
    cpu[n // 2] = None
    cpu[-1] = 42.5
    memory: list[float | None] = [524288.0] * n
    read: list[float | None] = [float(4096 * (i % 50)) for i in range(n)]
    write: list[float | None] = [float(1024 * (i % 30)) for i in range(n)]
    rx: list[float | None] = [float(2048 * (i % 10)) for i in range(n)]
    tx: list[float | None] = [float(512 * (i % 20)) for i in range(n)]
    return GuestHistory(
        uuid,
        TICK,
        Series("CPU", tuple(cpu), "%"),
        Series("Memory", tuple(memory), "KiB"),
        Series("Disk read", tuple(read), "B/s"),
        Series("Disk write", tuple(write), "B/s"),
        Series("Net receive", tuple(rx), "B/s"),
        Series("Net send", tuple(tx), "B/s"),
    )


class ChartApp(VmtuiApp):
    """The app with an hour of known history for every watched guest."""

    CSS_PATH = str(Path(vmtui.app.__file__).with_name("app.tcss"))  # relative to vmtui/app.py

    def long_history(self, uuid: str) -> GuestHistory | None:
        return fixed_history(uuid) if uuid in self.watched else None


class FixedHost:
    """A host sampler with known figures (the test driver reports no host load)."""

    def sample(self) -> HostStats:
        return HostStats(
            time=0.0,
            cpu_percent=37.5,
            mem_total_kib=8 * 1024 * 1024,
            mem_used_kib=2 * 1024 * 1024,
            disk_read_bps=8192.0,
            disk_write_bps=1024.0,
            net_rx_bps=2048.0,
            net_tx_bps=0.0,
        )


def chart_app(readonly: bool = False) -> ChartApp:
    # A long interval: nothing changes between the first poll and what is read.
    return ChartApp(
        host_uri("small_host"), interval=3600, readonly=readonly, host_sampler=FixedHost()
    )


def drawn(chart: Chart) -> str:
    out = chart.render()
    assert isinstance(out, Text)  # plotext's output as text, never parsed as markup
    return out.plain


async def open_graphs(pilot: Pilot[None]) -> GuestScreen:
    app = pilot.app
    assert isinstance(app, VmtuiApp)
    await ready(pilot)
    select(app, "alpha")
    await pilot.pause()
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, GuestScreen))
    await pilot.press("g")
    screen = app.screen
    assert isinstance(screen, GuestScreen)
    cpu = screen.query_one("#g-cpu", Chart)
    await wait_for(pilot, lambda: "42.5% now" in cpu.caption)
    await pilot.pause()
    return screen


async def test_a_guest_chart_says_the_value_now_with_its_unit() -> None:
    app = chart_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_graphs(pilot)
        cpu = screen.query_one("#g-cpu", Chart)
        assert cpu.caption.startswith("CPU (of its vCPUs): 42.5% now, peak ")
        assert cpu.caption.endswith(" over 10m00s")
        text = drawn(cpu)
        assert "42.5% now" in text and "minutes ago" in text
        assert "50.0%" in text and "100%" in text  # the value axis is labelled in per cent
        memory = screen.query_one("#g-memory", Chart)
        assert memory.caption.startswith("Memory: 512M now")
        rx = screen.query_one("#g-net_rx", Chart)
        assert rx.caption.startswith("Net receive: 0/s now, peak 18K/s")
        assert "K/s" in drawn(rx)  # ticks in bytes per second


async def test_z_stretches_the_time_axis_from_ten_minutes_to_an_hour() -> None:
    app = chart_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_graphs(pilot)
        cpu = screen.query_one("#g-cpu", Chart)
        ten = drawn(cpu)
        assert "-10" in ten and "-60" not in ten and "over 10m00s" in cpu.caption
        await pilot.press("z")
        await pilot.pause()
        assert "over 30m00s" in cpu.caption
        half = drawn(cpu)
        assert "-30" in half and "-60" not in half
        await pilot.press("z")
        await pilot.pause()
        assert "over 1h00m" in cpu.caption and "-60" in drawn(cpu)
        assert "42.5% now" in cpu.caption  # the value now whatever the window
        await pilot.press("z")  # and round again
        await pilot.pause()
        assert "over 10m00s" in cpu.caption


async def test_z_is_in_the_guest_screens_footer_at_80_columns() -> None:
    from tests.ui.rendered import screen_text

    app = chart_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_graphs(pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "z Window" in footer and "? Keys" in footer


async def test_p_shows_the_hosts_load_as_charts_with_units_and_windows() -> None:
    app = chart_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select(app, "alpha")
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, HostChartsScreen))
        screen = app.screen
        assert isinstance(screen, HostChartsScreen)
        assert screen.uri == guest_named(app, "alpha").host
        cpu = screen.query_one("#h-cpu", Chart)
        await wait_for(pilot, lambda: "37.5% now" in cpu.caption)
        assert screen.query_one("#h-memory", Chart).caption.startswith("Memory in use: 25.0% now")
        assert screen.query_one("#h-disk_read", Chart).caption.startswith("Disk read: 8.0K/s now")
        window = screen.window
        await pilot.press("z")
        assert screen.window == 1800.0 != window
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HostChartsScreen))


async def test_the_charts_work_in_a_read_only_session() -> None:
    app = chart_app(readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_graphs(pilot)
        await pilot.press("z")
        await pilot.pause()
        assert "over 30m00s" in screen.query_one("#g-cpu", Chart).caption
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, GuestScreen))
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, HostChartsScreen))
        cpu = app.screen.query_one("#h-cpu", Chart)
        await wait_for(pilot, lambda: "37.5% now" in cpu.caption)


async def test_h_moves_the_host_charts_to_the_next_host() -> None:
    uris = [host_uri("small_host"), host_uri("snap_host")]
    app = VmtuiApp(uris, interval=3600, host_sampler=FixedHost())
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: all(link.ever_polled for link in app.hosts.values()))
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, HostChartsScreen))
        screen = app.screen
        assert isinstance(screen, HostChartsScreen)
        first = screen.uri
        before = str(screen.query_one("#host-charts-title", Static).render())
        await pilot.press("h")
        await pilot.pause()
        assert screen.uri != first and screen.uri in uris
        after = str(screen.query_one("#host-charts-title", Static).render())
        assert after != before and after.startswith(Path(screen.uri).stem)  # the other host
