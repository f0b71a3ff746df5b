"""The guest table keeps its rows across `/` filters and re-shows (issue 12, 10,000 guests):
a filter shows a part of the rows already made, clearing it shows them again, and a show
of the same guests (a partial snapshot while details load) keeps the order by name. These
tests pin what the rows show, in which order, and where the cursor is, through all that."""

from __future__ import annotations

import dataclasses

from textual.app import App, ComposeResult
from textual.pilot import Pilot

from vmtui.backend import GuestInfo, GuestState, GuestStats
from vmtui.widgets.guest_table import MARK, GuestTable

from .test_guest_table_render import our_line, textual_line


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield GuestTable(id="t")


def guest(i: int, **kw: object) -> GuestInfo:
    fields: dict[str, object] = {
        "uuid": f"u{i:03d}",
        "name": f"guest-{i:03d}",
        "state": GuestState.RUNNING if i % 3 else GuestState.SHUTOFF,
        "vcpus": 1 + i % 4,
        "memory_kib": 1_048_576,
        "host": "test:///a.xml",
    }
    fields.update(kw)
    return GuestInfo(**fields)  # type: ignore[arg-type]


# listed in no particular order, as libvirt lists them
WHOLE = tuple(guest(i) for i in (*range(59, 29, -1), *range(30)))
BY_NAME = sorted(WHOLE, key=lambda g: g.name)


def stats(cpu: float, guests: tuple[GuestInfo, ...] = WHOLE) -> dict[str, GuestStats]:
    return {g.uuid: GuestStats(uuid=g.uuid, time=0, cpu_percent=cpu) for g in guests}


def names(table: GuestTable) -> list[str]:
    return [table.shown_text(u)[0] for u in table.shown_uuids]  # type: ignore[index]


def placed(table: GuestTable) -> list[str]:
    """The UUIDs as DataTable really places the rows (its own row locations and rows)."""
    keys = [table._row_locations.get_key(i) for i in range(table.row_count)]
    order = [key.value or "" for key in keys if key is not None]
    assert len(table.rows) == len(table._data) == table.row_count == len(order)
    assert [row.key.value for row in table.ordered_rows] == order
    return order


def drawn_like_textual(table: GuestTable) -> None:
    for y in range(table.size.height):
        assert our_line(table, y).text == textual_line(table, y).text, y


async def filtered(pilot: Pilot[None], table: GuestTable, keep: object, cpu: float = 10.0) -> None:
    part = tuple(g for g in WHOLE if keep(g))  # type: ignore[operator]
    table.show(part, stats(cpu), {}, frozenset(), whole=WHOLE)
    await pilot.pause()
    await pilot.pause()


async def test_a_filter_shows_exactly_the_matching_rows_in_order_and_clearing_shows_all() -> None:
    app = TableApp()
    async with app.run_test(size=(110, 20)) as pilot:
        table = app.query_one(GuestTable)
        await filtered(pilot, table, lambda g: True)
        assert table.shown_uuids == placed(table) == [g.uuid for g in BY_NAME]
        table.scroll_to(y=25, animate=False, immediate=True)  # rows 25.. formatted
        await pilot.pause()
        for cpu, keep in (
            (11.0, lambda g: g.state is GuestState.RUNNING),
            (12.0, lambda g: g.name.endswith(("1", "7"))),
            (13.0, lambda g: False),
            (14.0, lambda g: g.name < "guest-010"),
            (15.0, lambda g: True),
        ):
            await filtered(pilot, table, keep, cpu)
            want = [g for g in BY_NAME if keep(g)]
            assert table.shown_uuids == placed(table) == [g.uuid for g in want]
            assert table.row_count == len(want)
            # every row says what its guest is now, on screen or not
            for g in want:
                assert table.shown_text(g.uuid)[:4] == (  # type: ignore[index]
                    g.name,
                    g.state.label,
                    str(g.vcpus),
                    "15.0"
                    if cpu == 15.0 and g.is_active
                    else ("–" if not g.is_active else f"{cpu:.1f}"),  # noqa: RUF001
                )
            hidden = next((g for g in WHOLE if not keep(g)), None)
            if hidden is not None:
                assert table.shown_text(hidden.uuid) is None
            # the rows on screen are drawn from their cells, as Textual draws them
            top = int(table.scroll_y)
            for row in range(top, min(top + table.size.height - 1, len(want))):
                uuid = want[row].uuid
                assert table.get_cell(uuid, "name").plain == want[row].name
                assert table.get_cell(uuid, "cpu").plain == table.shown_cell(uuid, "cpu")
            drawn_like_textual(table)


async def test_the_cursor_stays_on_its_guest_through_filters_and_keeps_its_line() -> None:
    app = TableApp()
    async with app.run_test(size=(110, 20)) as pilot:
        table = app.query_one(GuestTable)
        await filtered(pilot, table, lambda g: True)
        table.move_cursor(row=40, animate=False)  # guest-040
        await pilot.pause()
        await pilot.pause()
        chosen = table.selected_uuid
        assert chosen == "u040"
        line = table.cursor_row - int(table.scroll_y)
        await filtered(pilot, table, lambda g: g.name >= "guest-020")  # still shown
        assert table.selected_uuid == chosen and table.cursor_row == 20
        assert table.cursor_row - int(table.scroll_y) == line  # on the same line
        await filtered(pilot, table, lambda g: g.name < "guest-010")  # hidden
        assert table.selected_uuid in {g.uuid for g in BY_NAME[:10]}
        await filtered(pilot, table, lambda g: True)  # back: the cursor comes back to it
        assert table.selected_uuid == chosen and table.cursor_row == 40


async def test_a_reshow_of_the_same_guests_with_a_renamed_one_sorts_again() -> None:
    app = TableApp()
    async with app.run_test(size=(110, 20)) as pilot:
        table = app.query_one(GuestTable)
        table.show(WHOLE, stats(10.0))
        await pilot.pause()
        # a partial snapshot: a new tuple, some GuestInfo replaced, the same names
        again = list(WHOLE)
        i = next(n for n, g in enumerate(again) if g.uuid == "u001")
        again[i] = dataclasses.replace(again[i], state=GuestState.PAUSED, tags=("db",))
        table.show(tuple(again), stats(10.0))
        await pilot.pause()
        assert table.shown_uuids == placed(table) == [g.uuid for g in BY_NAME]
        assert table.shown_cell("u001", "state") == "paused"
        assert table.shown_cell("u001", "tags") == "db"
        assert table.get_cell("u001", "state").plain == "paused"  # on screen: redrawn
        # renamed: it moves to its new place by name
        j = next(n for n, g in enumerate(again) if g.uuid == "u002")
        again[j] = dataclasses.replace(again[j], name="zz-last-now")
        table.show(tuple(again), stats(10.0))
        await pilot.pause()
        assert table.shown_uuids[-1] == "u002" == placed(table)[-1]
        assert names(table) == sorted(names(table))
        # a guest gone and one new: the rows follow
        del again[j]
        again.append(guest(77, name="guest-000b"))
        table.show(tuple(again), stats(10.0, tuple(again)))
        await pilot.pause()
        assert "u002" not in table.shown_uuids
        assert table.shown_uuids[:3] == placed(table)[:3] == ["u000", "u077", "u001"]
        assert table.get_cell("u077", "name").plain == "guest-000b"
        drawn_like_textual(table)


async def test_a_guest_marked_while_a_filter_hides_it_shows_its_mark_when_it_comes_back() -> None:
    app = TableApp()
    async with app.run_test(size=(110, 20)) as pilot:
        table = app.query_one(GuestTable)
        await filtered(pilot, table, lambda g: True)
        assert table.get_cell("u002", "name").plain == "guest-002"
        await filtered(pilot, table, lambda g: g.uuid != "u002")
        table.set_marked("u002", True)  # (a bulk selection made elsewhere)
        await filtered(pilot, table, lambda g: True)
        assert table.get_cell("u002", "name").plain.startswith(MARK)
        table.set_marked("u002", False)
        await pilot.pause()
        assert table.get_cell("u002", "name").plain == "guest-002"


async def test_a_filter_that_changes_the_longest_name_redraws_names_at_the_new_width() -> None:
    long_name = "a-rather-long-guest-name-0000000000"  # cut in the middle at 32 cells
    medium = "guest-001-medium-name"  # 21 cells: the longest once the long one is hidden
    renamed = {"u000": long_name, "u001": medium}
    whole = tuple(dataclasses.replace(g, name=renamed.get(g.uuid, g.name)) for g in WHOLE)
    app = TableApp()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(GuestTable)
        table.set_marked("u001", True)  # a marked name gives a cell to the mark
        table.show(whole, stats(10.0), whole=whole)
        await pilot.pause()
        wide = table._name_width
        cut = table.get_cell("u000", "name").plain
        assert wide == 32 and "…" in cut and len(cut) == wide
        assert table.get_cell("u001", "name").plain == MARK + medium  # room for both
        part = tuple(g for g in whole if g.uuid != "u000")
        table.show(part, stats(10.0), whole=whole)
        await pilot.pause()
        assert table._name_width == len(medium)
        narrow = table.get_cell("u001", "name").plain
        assert narrow.startswith(MARK) and "…" in narrow and len(narrow) == len(medium)
        table.show(whole, stats(10.0), whole=whole)
        await pilot.pause()
        assert table._name_width == wide
        assert table.get_cell("u000", "name").plain == cut
        assert table.get_cell("u001", "name").plain == MARK + medium
        drawn_like_textual(table)


def test_a_guest_that_does_not_run_has_no_cpu_figure_to_sort_by_whatever_its_stats_say() -> None:
    from vmtui.widgets import guest_sort

    by_name = BY_NAME[:6]  # guest-000 and guest-003 are shut off
    figures = {
        g.uuid: GuestStats(uuid=g.uuid, time=0, cpu_percent=float(i)) for i, g in enumerate(by_name)
    }
    figures["u001"] = GuestStats(uuid="u001", time=0, cpu_percent=None)  # no figure yet
    for descending, running in (
        (True, ["u005", "u004", "u002"]),
        (False, ["u002", "u004", "u005"]),
    ):
        ordered = guest_sort.order(by_name, "cpu", descending, figures, {})
        # the running guests by figure, then those without one in name order
        assert [g.uuid for g in ordered] == [*running, "u000", "u001", "u003"]


async def test_rows_come_back_after_the_table_was_cleared() -> None:
    app = TableApp()
    async with app.run_test(size=(110, 20)) as pilot:
        table = app.query_one(GuestTable)
        await filtered(pilot, table, lambda g: True)
        table.clear()  # DataTable's own clear() empties its rows in place
        await pilot.pause()
        await filtered(pilot, table, lambda g: g.state is GuestState.SHUTOFF)
        await filtered(pilot, table, lambda g: True)
        assert table.shown_uuids == placed(table) == [g.uuid for g in BY_NAME]
        assert table.get_cell(BY_NAME[0].uuid, "name").plain == BY_NAME[0].name
        drawn_like_textual(table)
