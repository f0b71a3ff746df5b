"""The guest table's own render caches (GuestTable._render_cell / _render_line).

Textual 8.2.8's DataTable re-renders every visible cell after any update_cell(); GuestTable
overrides two private methods to re-render only what changed, with a direct path for one-line
Text cells. These tests pin that: the output is the same as Textual's own, cell by cell and
line by line (they fail if a Textual upgrade renders differently or renames what is
overridden), and an update re-renders only the changed cells and lines.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.coordinate import Coordinate
from textual.pilot import Pilot
from textual.strip import Strip
from textual.widgets import DataTable

from vmtui.backend import GuestInfo, GuestState, GuestStats
from vmtui.widgets.guest_table import GuestTable


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield GuestTable(id="t")


def guest(i: int, **kw: object) -> GuestInfo:
    fields: dict[str, object] = {
        "uuid": f"u{i:03d}",
        "name": f"guest-{i:03d}",
        "state": GuestState.RUNNING,
        "vcpus": 1 + i % 4,
        "memory_kib": 1_048_576,
        "host": "test:///a.xml",
    }
    fields.update(kw)
    return GuestInfo(**fields)  # type: ignore[arg-type]


GUESTS = [
    guest(0, name="[red]not-markup", isolation="host-shared"),
    guest(1, name="訪問者-wide", state=GuestState.SHUTOFF, autostart=True),
    guest(2, state=GuestState.PAUSED, isolation="isolated", tags=("db", "prod")),
    guest(3, name="a-very-long-guest-name-that-is-cut-in-the-middle-0003"),
    *(guest(i) for i in range(4, 60)),
]


def stats(cpu: float) -> dict[str, GuestStats]:
    return {
        g.uuid: GuestStats(
            uuid=g.uuid,
            time=0,
            cpu_percent=cpu,
            mem_used_kib=524_288,
            disk_read_bps=1e6,
            disk_write_bps=2e5,
            net_rx_bps=3e6,
            net_tx_bps=4e3,
        )
        for g in GUESTS
    }


def chars(lines: list[list[Segment]] | Strip) -> list[tuple[str, Style | None]]:
    """Every character with its style: the same picture, however it is cut in segments."""
    segments = lines if isinstance(lines, Strip) else [s for line in lines for s in line]
    return [(ch, seg.style) for seg in segments for ch in seg.text]


def textual_cell(table: GuestTable, *args: object, **kw: object) -> list[list[Segment]]:
    table._cell_render_cache.clear()
    return DataTable._render_cell(table, *args, **kw)  # type: ignore[arg-type]


def textual_line(table: GuestTable, y: int) -> Strip:
    """What Textual's own DataTable draws on line y of the widget (GuestTable's overrides
    bypassed)."""
    table._clear_caches()
    table._render_cell = lambda *a, **k: DataTable._render_cell(table, *a, **k)  # type: ignore[method-assign]
    table._render_line = lambda *a, **k: DataTable._render_line(table, *a, **k)  # type: ignore[method-assign]
    try:
        return DataTable.render_line(table, y)
    finally:
        del table._render_cell
        del table._render_line
        table._clear_caches()


def our_line(table: GuestTable, y: int) -> Strip:
    """What GuestTable draws on line y of the widget."""
    return table.render_line(y)


async def shown(pilot: Pilot[None], table: GuestTable) -> None:
    table.show(GUESTS, stats(10.0), {"test:///a.xml": "a"}, frozenset())
    await pilot.pause()
    await pilot.pause()


async def test_cells_and_lines_are_drawn_exactly_as_textuals_datatable_draws_them() -> None:
    app = TableApp()
    async with app.run_test(size=(110, 24)) as pilot:
        table = app.query_one(GuestTable)
        await shown(pilot, table)
        table.set_marked(GUESTS[2].uuid, True)  # ▸ and a "Name ▸1" header
        # cells the app does not make but the direct path accepts: styled and right-justified
        table.update_cell(GUESTS[4].uuid, "cpu", Text("12.5", style="bold red", justify="right"))
        table.update_cell(GUESTS[5].uuid, "cpu", Text("7", style="italic"))
        table.update_cell(GUESTS[6].uuid, "cpu", Text("a\tb"))  # not for the direct path
        table.move_cursor(row=1, animate=False)
        table.hover_coordinate = Coordinate(4, 2)
        table._show_hover_cursor = True
        await pilot.pause()
        table._pseudo_class_state = table.get_pseudo_class_state()
        checked = 0
        for focused in (True, False):
            if not focused:
                app.set_focus(None)
                await pilot.pause()
                table._pseudo_class_state = table.get_pseudo_class_state()
            for row in range(-1, 10):
                style = table._get_row_style(row, table.rich_style)
                for col, column in enumerate(table.ordered_columns):
                    width = column.get_render_width(table)
                    for cursor, hover in ((False, False), (True, False), (False, True)):
                        table._cell_lines.clear()
                        ours = table._render_cell(row, col, style, width, cursor, hover)
                        theirs = textual_cell(table, row, col, style, width, cursor, hover)
                        assert chars(ours) == chars(theirs), (row, column.key, cursor, hover)
                        checked += 1
            for scroll in (0, 12, 0):
                table.scroll_to(y=scroll, animate=False, immediate=True)
                assert table.scroll_y == scroll
                for y in range(table.size.height):
                    ours = chars(our_line(table, y))
                    assert ours == chars(textual_line(table, y)), (scroll, y)
        assert checked > 500
        marked_y = table.get_row_index(GUESTS[2].uuid) + 1  # below the header
        assert our_line(table, marked_y).text.lstrip().startswith("▸guest-002")
        assert "Name ▸1" in our_line(table, 0).text


async def test_an_update_re_renders_only_the_changed_cells_and_lines() -> None:
    app = TableApp()
    async with app.run_test(size=(110, 24)) as pilot:
        table = app.query_one(GuestTable)
        await shown(pilot, table)
        target = GUESTS[5]
        y = table.get_row_index(target.uuid) + 1  # below the header
        assert " 10.0 " in our_line(table, y).text
        cells, lines = table.cells_rendered, table.lines_rendered
        new = stats(10.0)
        new[target.uuid] = GuestStats(uuid=target.uuid, time=1, cpu_percent=55.5)
        table.show(GUESTS, new, {"test:///a.xml": "a"}, frozenset())
        await pilot.pause()
        # CPU, memory, disk and net of that one row changed; no other cell or line was drawn
        assert table.cells_rendered - cells == 4
        assert table.lines_rendered - lines == 1
        assert " 55.5 " in our_line(table, y).text
        assert " 10.0 " in our_line(table, y + 1).text

        # the cursor moving down a row re-draws those two rows, nothing else
        cells, lines = table.cells_rendered, table.lines_rendered
        table.action_cursor_down()
        await pilot.pause()
        assert table.lines_rendered - lines == 2
        assert table.cells_rendered - cells == 2 * len(table.ordered_columns)

        # nothing changed: nothing drawn
        cells, lines = table.cells_rendered, table.lines_rendered
        table.show(GUESTS, new, {"test:///a.xml": "a"}, frozenset())
        table.refresh()
        await pilot.pause()
        assert (table.cells_rendered, table.lines_rendered) == (cells, lines)

        # a cell DataTable renders itself (a tab: not for the direct path), updated twice
        for text in ("x\ty", "z\tw"):
            table.update_cell(target.uuid, "cpu", Text(text))
            await pilot.pause()
            assert text.split("\t")[0] in our_line(table, y).text
        assert chars(our_line(table, y)) == chars(textual_line(table, y))


async def test_marks_and_stale_hosts_still_show_after_cached_renders() -> None:
    app = TableApp()
    async with app.run_test(size=(110, 24)) as pilot:
        table = app.query_one(GuestTable)
        await shown(pilot, table)
        uuid = GUESTS[7].uuid
        y = table.get_row_index(uuid) + 1
        table.toggle_mark(uuid)
        await pilot.pause()
        assert our_line(table, y).text.lstrip().startswith("▸guest-007")
        assert "Name ▸1" in our_line(table, 0).text
        table.show(GUESTS, stats(10.0), {"test:///a.xml": "a"}, frozenset({"test:///a.xml"}))
        await pilot.pause()
        assert "running?" in our_line(table, y).text
        table.toggle_mark(uuid)
        await pilot.pause()
        assert our_line(table, y).text.lstrip().startswith("guest-007")
        assert "Name ▸" not in our_line(table, 0).text


async def test_show_follows_renames_and_new_tags_when_the_other_guests_are_the_same() -> None:
    app = TableApp()
    async with app.run_test(size=(110, 24)) as pilot:
        table = app.query_one(GuestTable)
        await shown(pilot, table)
        assert "tags" in table.column_keys
        guests = list(GUESTS)
        first = guests[4]
        guests[4] = guest(4, name="0-first-now")  # renamed: a new GuestInfo, same UUID
        guests[2] = guest(2, state=GuestState.PAUSED, isolation="isolated")  # tags removed
        table.show(tuple(guests), stats(10.0), {"test:///a.xml": "a"}, frozenset())
        await pilot.pause()
        assert table.shown_uuids[0] == first.uuid
        assert table.shown_cell(first.uuid, "name") == "0-first-now"
        assert "tags" not in table.column_keys


async def test_new_rows_are_not_measured_cell_by_cell_and_the_table_has_the_same_size() -> None:
    app = TableApp()
    async with app.run_test(size=(110, 24)) as pilot:
        table = app.query_one(GuestTable)
        measured: list[object] = []
        import textual.widgets._data_table as data_table

        real_measure = data_table.measure

        def counting(*args: object) -> int:
            measured.append(args[1])
            return real_measure(*args)  # type: ignore[arg-type]

        data_table.measure = counting  # type: ignore[assignment]
        try:
            await shown(pilot, table)
            assert table.row_count == len(GUESTS) and not table._new_rows
            size = table.virtual_size
            widths = [c.get_render_width(table) for c in table.ordered_columns]
            # the headers (add_column), no cell: the columns have fixed widths
            assert len(measured) == len(widths)
            # what DataTable's own measuring of every row gives
            DataTable._update_dimensions(table, list(table.rows))
            assert len(measured) >= len(GUESTS) * len(widths)
        finally:
            data_table.measure = real_measure
        assert table.virtual_size == size
        assert [c.get_render_width(table) for c in table.ordered_columns] == widths


class TwoTablesApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.highlighted: list[tuple[str, str | None]] = []

    def compose(self) -> ComposeResult:
        yield GuestTable(id="t")
        yield DataTable[Text](id="plain", cursor_type="row")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.highlighted.append((event.data_table.id or "", event.row_key.value))


async def test_rows_are_added_as_datatables_add_row_adds_them() -> None:
    app = TwoTablesApp()
    async with app.run_test(size=(110, 40)) as pilot:
        table = app.query_one(GuestTable)
        plain = app.query_one("#plain", DataTable)
        await shown(pilot, table)
        for column in table.ordered_columns:
            plain.add_column(column.label, key=column.key.value, width=column.width)
        for key in table.rows:
            plain.add_row(*table.get_row(key), key=key.value)
        await pilot.pause()
        assert list(table.rows.values()) == list(plain.rows.values())
        assert [table._row_locations.get(k) for k in table.rows] == [
            plain._row_locations.get(k) for k in table.rows
        ]
        for key in table.rows:
            assert all(a is b for a, b in zip(table.get_row(key), plain.get_row(key), strict=True))
        assert table.cursor_coordinate == plain.cursor_coordinate
        assert table.virtual_size == plain.virtual_size
        first = GUESTS[0].uuid  # "[red]not-markup" sorts first
        assert ("t", first) in app.highlighted and ("plain", first) in app.highlighted
