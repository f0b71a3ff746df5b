"""The guest table shows every row before the guests' XML is read, and fills the rest in
when it arrives (issue 12): a backend whose XML reads are held back until released."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from textual.widgets import Input

from tests.ui.helpers import select, table, wait_for
from tests.unit.test_hypervisor import ALPHA, BETA
from vmtui.app import VmtuiApp
from vmtui.backend import Hypervisor
from vmtui.widgets.guest_table import LOADING, GuestTable


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


async def test_the_app_says_when_the_first_rows_are_drawn_and_only_then_xml_is_read(
    small_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first poll's partial snapshot asks to be told once it is on screen; the app tells
    it after the frame that shows the rows, and the guests' XML is read after that."""
    drawn = threading.Event()
    read_before_drawn: list[bool] = []
    real = Hypervisor._read_info

    def reading(self: Hypervisor, *args: Any) -> Any:
        read_before_drawn.append(not drawn.is_set())
        return real(self, *args)

    monkeypatch.setattr(Hypervisor, "_read_info", reading)
    app = VmtuiApp(small_host, interval=60)
    real_display = app._display

    def display(screen: Any, renderable: Any) -> None:
        real_display(screen, renderable)
        if renderable is not None and app.screen.query(GuestTable) and table(app).row_count:
            drawn.set()

    app._display = display  # type: ignore[method-assign]
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and not app.snapshot.loading)
        assert read_before_drawn and not any(read_before_drawn)


async def test_actions_that_show_what_the_xml_says_wait_until_it_is_read(
    small_host: str, held: threading.Event
) -> None:
    """While alpha's XML is held back, `t` does not offer its tags as empty (typing words
    would replace the tags it has) and `v` does not say it has no display: both say they
    wait. Once read, both work as usual."""
    app = VmtuiApp(small_host, interval=60)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_for(pilot, lambda: table(app).row_count == 5)
            select(app, "alpha")
            await pilot.press("t")
            await wait_for(pilot, lambda: "Still reading the details of alpha" in notes(app))
            assert type(app.screen).__name__ == "DashboardScreen"
            await pilot.press("v")
            await pilot.pause()
            assert not any("no graphical display" in n for n in notes_list(app))
            held.set()
            await wait_for(pilot, lambda: grid_loaded(app, ALPHA))
            await pilot.press("v")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "DisplayScreen")
    finally:
        held.set()


def notes_list(app: VmtuiApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def notes(app: VmtuiApp) -> str:
    return " ".join(notes_list(app))


def grid_loaded(app: VmtuiApp, uuid: str) -> bool:
    snap = app.snapshot
    return snap is not None and any(g.uuid == uuid and g.loaded for g in snap.guests)
