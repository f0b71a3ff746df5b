"""The dashboard's isolation column: a short verdict per guest that fits 80 columns."""

from __future__ import annotations

from tests.conftest import host_uri
from tests.ui.helpers import ready, table, wait_for
from vmtui.app import VmtuiApp
from vmtui.backend.verdict import VERDICTS
from vmtui.screens.isolation import VERDICT_HELP
from vmtui.widgets.guest_table import ISOLATION_SHORT


async def test_every_guest_shows_its_verdict_and_the_table_fits_80_columns() -> None:
    app = VmtuiApp(host_uri("isolation_host"), interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        t = table(app)
        assert app.snapshot is not None
        await wait_for(pilot, lambda: t.size.width > 0)
        guests = app.snapshot.guests
        # a guest whose XML is still being read shows "…" for a moment
        await wait_for(pilot, lambda: all(t.shown_cell(g.uuid, "iso") != "…" for g in guests))
        shown = {g.name: t.shown_cell(g.uuid, "iso") for g in guests}
        assert shown["nat-guest"] == "NAT"
        assert shown["shared-guest"] == "shr"
        assert shown["bridged-guest"] == "LAN"
        assert shown["isolated-guest"] == "gst"
        assert shown["nonic-guest"] == "iso"
        assert shown["hostonly-guest"] == "hst"
        assert shown["routed-guest"] == "rte"
        assert shown["ethernet-guest"] == "?"
        # Every verdict has a short form no wider than the column.
        assert all(len(v) <= 3 for v in ISOLATION_SHORT.values())
        # ... and every verdict word (the new ones too) has one, with help on the view
        assert set(VERDICTS) <= set(ISOLATION_SHORT) and set(VERDICTS) <= set(VERDICT_HELP)
        # No horizontal scrolling at 80 columns: the last column is on screen.
        assert t.virtual_size.width <= t.size.width, (t.virtual_size.width, t.size.width)
