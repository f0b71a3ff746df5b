"""SVG snapshots at 80x24 of the charts (issue 16): the guest screen's Graphs tab fed an hour
of known history, at the 10-minute and the 1-hour window, and the host's charts (key P) fed
known figures. No clock reaches a label: the axes count samples before the newest.

Update with --snapshot-update, then look at them."""

from __future__ import annotations

import math
from typing import Any

from textual.pilot import Pilot

from tests.ui.helpers import ready, select, wait_for
from tests.ui.test_charts import SIZE, chart_app, open_graphs
from vmtui.backend import HostStats
from vmtui.screens.hostcharts import HostChartsScreen


def test_guest_charts(snap_compare: Any) -> None:
    async def graphs(pilot: Pilot[None]) -> None:
        await open_graphs(pilot)

    assert snap_compare(chart_app(), terminal_size=SIZE, run_before=graphs)


def test_guest_charts_an_hour(snap_compare: Any) -> None:
    async def an_hour(pilot: Pilot[None]) -> None:
        await open_graphs(pilot)
        await pilot.press("z", "z")
        await pilot.pause()

    assert snap_compare(chart_app(), terminal_size=SIZE, run_before=an_hour)


def test_host_charts(snap_compare: Any) -> None:
    async def host(pilot: Pilot[None]) -> None:
        app = await ready(pilot)
        select(app, "alpha")
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, HostChartsScreen))
        screen = app.screen
        assert isinstance(screen, HostChartsScreen)
        figures = app.hosts[screen.uri].figures
        await wait_for(pilot, lambda: len(figures) > 0)
        for i in range(301):  # ten minutes at a 2 s tick, known figures
            figures.add(
                HostStats(
                    time=float(i),
                    cpu_percent=round(50 + 40 * math.sin(i / 30), 1),
                    mem_total_kib=8 * 1024 * 1024,
                    mem_used_kib=2 * 1024 * 1024 + 1024 * i,
                    disk_read_bps=float(4096 * (i % 40)),
                    disk_write_bps=float(1024 * (i % 25)),
                    net_rx_bps=float(2048 * (i % 10)),
                    net_tx_bps=None if i % 50 == 0 else float(512 * (i % 20)),
                ),
                2.0,
            )
        screen.show_snapshot(app.snapshot)
        # The status line fills in from the app's next status message: wait for it, so the
        # picture never depends on which came first.
        await wait_for(pilot, lambda: "Connected" in str(screen.query_one("#status").render()))
        await pilot.pause()

    assert snap_compare(chart_app(), terminal_size=SIZE, run_before=host)
