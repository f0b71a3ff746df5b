"""The guest table shows every row before the guests' XML is read, and fills the rest in
when it arrives (issue 12): a backend whose XML reads are held back until released."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from textual.widgets import Input

from tests.ui.helpers import table, wait_for
from tests.unit.test_hypervisor import ALPHA, BETA
from vmtui.app import VmtuiApp
from vmtui.backend import Hypervisor
from vmtui.widgets.guest_table import LOADING


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Every guest XML read waits until the event is set (then reads as usual)."""
    gate = threading.Event()
    real = Hypervisor._read_info

    def waiting(self: Hypervisor, *args: Any) -> Any:
        gate.wait(30)
        return real(self, *args)

    monkeypatch.setattr(Hypervisor, "_read_info", waiting)
    return gate


async def test_rows_show_while_xml_reads_are_held_back_and_fill_in_later(
    small_host: str, held: threading.Event
) -> None:
    app = VmtuiApp(small_host, interval=60)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_for(pilot, lambda: table(app).row_count == 5)
            grid = table(app)
            assert grid.shown_cell(ALPHA, "name") == "alpha"
            assert grid.shown_cell(ALPHA, "state") == "running"
            assert grid.shown_cell(BETA, "state") == "shut off"
            # not known yet: "…", which is not the dash of "none"
            assert grid.shown_cell(ALPHA, "iso") == LOADING
            assert grid.shown_cell(BETA, "auto") == LOADING
            assert grid.shown_cell(BETA, "cpu") == "–"  # noqa: RUF001 - shut off: no figure
            # the keys and the filter answer meanwhile
            first = grid.selected_uuid
            await pilot.press("j")
            assert grid.selected_uuid != first
            await pilot.press("slash", *"tag:db")
            box = app.screen.query_one("#filter", Input)
            await wait_for(pilot, lambda: "incomplete" in str(box.border_subtitle))
            await pilot.press("escape")
            assert app.snapshot is not None and len(app.snapshot.loading) == 5
            held.set()
            await wait_for(pilot, lambda: grid.shown_cell(ALPHA, "iso") not in (None, LOADING))
            await wait_for(pilot, lambda: grid.shown_cell(BETA, "auto") != LOADING)
            assert not app.snapshot.loading
            assert app.polls == 1  # one poll: partial answers do not count as polls
    finally:
        held.set()


async def test_a_filter_on_tags_stops_saying_incomplete_once_every_guest_is_read(
    small_host: str, held: threading.Event
) -> None:
    app = VmtuiApp(small_host, interval=60)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_for(pilot, lambda: table(app).row_count == 5)
            await pilot.press("slash", *"tag:db")
            box = app.screen.query_one("#filter", Input)
            await wait_for(pilot, lambda: "incomplete" in str(box.border_subtitle))
            held.set()
            await wait_for(pilot, lambda: app.snapshot is not None and not app.snapshot.loading)
            await wait_for(pilot, lambda: "incomplete" not in str(box.border_subtitle))
    finally:
        held.set()
