"""The guest table redraws only what changed, and only what is on screen."""

from __future__ import annotations

from textual.app import App, ComposeResult

from vmtui.backend import GuestInfo, GuestState, GuestStats
from vmtui.widgets.guest_table import GuestTable


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield GuestTable(id="t")


GUESTS = [
    GuestInfo(
        uuid=f"u{i:03d}", name=f"guest-{i:03d}", state=GuestState.RUNNING, vcpus=1, memory_kib=1024
    )
    for i in range(100)
]


def stats(cpu: float) -> dict[str, GuestStats]:
    return {g.uuid: GuestStats(uuid=g.uuid, time=0, cpu_percent=cpu) for g in GUESTS}


async def test_only_rows_on_screen_are_updated_and_the_rest_catch_up_when_shown() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(GuestTable)
        table.show(GUESTS, stats(10.0))
        await pilot.pause()
        before = table.cell_updates
        table.show(GUESTS, stats(20.0))
        await pilot.pause()
        updated = table.cell_updates - before
        assert 0 < updated <= 25, updated  # ~20 visible rows x 1 changed cell, not 100
        last = GUESTS[-1].uuid
        assert table.get_cell(last, "cpu").plain != "20.0"  # off screen: not redrawn yet
        assert table.shown_text(last)[3] == "20.0"  # type: ignore[index]
        table.move_cursor(row=99, animate=False)
        await pilot.pause()
        assert table.get_cell(last, "cpu").plain == "20.0"  # scrolled into view: caught up


async def test_an_unchanged_tick_updates_nothing() -> None:
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(GuestTable)
        table.show(GUESTS, stats(10.0))
        await pilot.pause()
        before = table.cell_updates
        table.show(GUESTS, stats(10.04))  # rounds to the same text
        await pilot.pause()
        assert table.cell_updates == before


async def test_a_narrow_screen_drops_low_value_columns_before_it_cuts_names() -> None:
    from vmtui.app import VmtuiApp
    from vmtui.demo import DEMO_URI

    from .helpers import ready, table

    for size, dropped in (((80, 24), {"auto"}), ((140, 30), set())):
        app = VmtuiApp(DEMO_URI, interval=5)
        async with app.run_test(size=size) as pilot:
            await ready(pilot)
            shown = set(table(app).column_keys)
            assert {"auto", "disk", "net", "vcpus"} - shown == dropped, size
            # the demo host's longest names (11 cells) show whole, not cut to 8 cells
            longest = max(len(g.name) for g in app.snapshot.guests)  # type: ignore[union-attr]
            assert table(app)._name_width >= min(longest, 16), size


async def test_rows_are_formatted_only_when_they_come_on_screen_and_a_filter_keeps_order() -> None:
    """At thousands of guests formatting every cell made the first frame and each `/` filter
    step slow (issue 12): rows off screen get blank cells until they scroll into view."""
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(GuestTable)
        table.show(GUESTS, stats(10.0))
        await pilot.pause()
        last = GUESTS[-1].uuid
        formatted = [g for g in GUESTS if table.get_cell(g.uuid, "name").plain]
        assert 0 < len(formatted) <= 25, len(formatted)  # ~20 rows on screen, not 100
        assert table.get_cell(last, "name").plain == ""
        assert table.shown_text(last)[:2] == ("guest-099", "running")  # type: ignore[index]
        table.move_cursor(row=99, animate=False)
        await pilot.pause()
        assert table.get_cell(last, "name").plain == "guest-099"
        assert table.get_cell(last, "cpu").plain == "10.0"
        # a filter (a part of the guests, in another order) and back: sorted by name
        part = tuple(reversed(GUESTS[::7]))
        table.show(part, stats(10.0))
        await pilot.pause()
        assert table.shown_uuids == [g.uuid for g in GUESTS[::7]]
        table.show(tuple(GUESTS), stats(10.0))
        await pilot.pause()
        assert table.shown_uuids == [g.uuid for g in GUESTS]
        assert table.shown_text(last)[0] == "guest-099"  # type: ignore[index]
