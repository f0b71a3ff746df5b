"""The guest table sorted by any column (guest_sort), re-sorted in place each tick, with the
cursor on its guest; and rows that change while others wait off screen (issue 14, 15b)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from vmtui.backend import GuestInfo, GuestState, GuestStats
from vmtui.widgets import guest_sort
from vmtui.widgets.guest_table import GuestTable

from .test_guest_table_render import our_line, textual_line


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield GuestTable(id="t")


RUNNING, SHUTOFF, PAUSED = GuestState.RUNNING, GuestState.SHUTOFF, GuestState.PAUSED


def guest(name: str, state: GuestState = RUNNING, **kw: object) -> GuestInfo:
    fields: dict[str, object] = {
        "uuid": f"u-{name}",
        "name": name,
        "state": state,
        "vcpus": 1,
        "memory_kib": 1 << 20,
        "host": "test:///a.xml",
    }
    fields.update(kw)
    return GuestInfo(**fields)  # type: ignore[arg-type]


# Each column's values chosen so that the order differs from the name order, with a tie
# (broken by name) and a guest without a figure (last in both directions).
FLEET = (
    guest("ant", vcpus=2, isolation="NAT", tags=("web",), autostart=True, host="test:///b.xml"),
    guest("bee", vcpus=8, isolation="host-shared", tags=("db",)),
    guest("cat", PAUSED, vcpus=2, isolation="isolated"),
    guest("dog", vcpus=4, isolation="LAN-bridged", tags=("app", "web"), host="test:///b.xml"),
    guest("eel", SHUTOFF, vcpus=16, memory_kib=64 << 20),
)
FIGURES = {  # cpu, memory used (KiB), disk read+write, net rx+tx
    "ant": (12.0, 3 << 20, 5e6, 1e3),
    "bee": (80.0, 1 << 20, 0.0, 9e6),
    "cat": (0.0, 2 << 20, 5e6, 2e3),
    "dog": (12.0, 8 << 20, 7e7, 5e5),
}
LABELS = {"test:///a.xml": "alpha-host", "test:///b.xml": "beta-host"}


def stats_of(figures: dict[str, tuple[float, float, float, float]]) -> dict[str, GuestStats]:
    return {
        f"u-{name}": GuestStats(
            uuid=f"u-{name}",
            time=0,
            cpu_percent=cpu,
            mem_used_kib=int(mem),
            disk_read_bps=disk,
            disk_write_bps=0.0,
            net_rx_bps=net,
            net_tx_bps=0.0,
        )
        for name, (cpu, mem, disk, net) in figures.items()
    }


EXPECTED = {  # (column, descending) -> names, as an admin would read them
    ("name", True): "eel dog cat bee ant",
    ("host", False): "bee cat eel ant dog",  # alpha-host, then beta-host; ties by name
    ("host", True): "ant dog bee cat eel",
    ("state", False): "ant bee dog cat eel",  # running, paused, shut off
    ("vcpus", True): "eel bee dog ant cat",
    ("vcpus", False): "ant cat dog bee eel",
    ("cpu", True): "bee ant dog cat eel",  # ant and dog tie at 12.0: name order
    ("cpu", False): "cat ant dog bee eel",  # the shut-off guest's dash stays last
    ("mem", True): "dog ant cat bee eel",  # a shut-off guest uses no memory: last
    ("mem", False): "bee cat ant dog eel",
    ("disk", True): "dog ant cat bee eel",
    ("net", True): "bee dog cat ant eel",
    ("auto", True): "ant bee cat dog eel",
    ("iso", False): "bee dog ant cat eel",  # most exposed first; eel's is not known
    ("iso", True): "cat ant dog bee eel",
    ("tags", False): "dog bee ant cat eel",  # "app web", "db", "web"; none last
    ("tags", True): "ant bee dog cat eel",
}


def names(table: GuestTable) -> str:
    return " ".join(table.shown_text(u)[0] for u in table.shown_uuids)  # type: ignore[index]


def shown_order(table: GuestTable) -> list[str]:
    """The UUIDs as the rows are really placed (DataTable's own row locations)."""
    return [row.key.value or "" for row in table.ordered_rows]


@pytest.mark.parametrize(("column", "descending"), list(EXPECTED))
def test_every_column_sorts_both_ways_ties_by_name_no_figure_last(
    column: str, descending: bool
) -> None:
    ordered = guest_sort.order(
        sorted(FLEET, key=lambda g: g.name), column, descending, stats_of(FIGURES), LABELS
    )
    assert " ".join(g.name for g in ordered) == EXPECTED[(column, descending)]


def test_figures_sort_as_they_are_shown_so_idle_guests_do_not_swap_each_tick() -> None:
    by_name = sorted(FLEET[:4], key=lambda g: g.name)
    for jitter in (0.01, 0.04, -0.04):
        figures = {n: (0.1 + jitter * i, 0.0, 0.0, 0.0) for i, n in enumerate(FIGURES)}
        ordered = guest_sort.order(by_name, "cpu", True, stats_of(figures), LABELS)
        if jitter == 0.01:  # 0.10 0.11 0.12 0.13 all show as 0.1: name order
            assert [g.name for g in ordered] == ["ant", "bee", "cat", "dog"]
    assert guest_sort.shown(0.4) == 0.0 and guest_sort.shown(1234.0) == 1200.0


async def fleet_table(pilot: Pilot[None], size: Sequence[GuestInfo] = FLEET) -> GuestTable:
    table = pilot.app.query_one(GuestTable)
    table.show(tuple(size), stats_of(FIGURES), LABELS, frozenset())
    await pilot.pause()
    return table


async def test_set_sort_reorders_the_rows_and_marks_the_header() -> None:
    app = TableApp()
    async with app.run_test(size=(120, 20)) as pilot:
        table = await fleet_table(pilot)
        assert names(table) == "ant bee cat dog eel"
        assert table.columns[table.ordered_columns[0].key].label.plain == "Name"
        for (column, descending), expected in EXPECTED.items():
            table.set_sort(column, descending)
            await pilot.pause()
            assert names(table) == expected, (column, descending)
            assert shown_order(table) == table.shown_uuids
            if column in table.column_keys:
                label = table.columns[table.ordered_columns[table.column_keys.index(column)].key]
                assert label.label.plain.endswith("▼" if descending else "▲")
        table.set_sort("cpu")  # a figure's usual way: biggest first
        assert table.sort_descending and names(table) == EXPECTED[("cpu", True)]
        table.set_sort("name")
        assert not table.sort_descending and names(table) == "ant bee cat dog eel"


async def test_a_re_sort_each_tick_keeps_the_cursor_on_its_guest_and_redraws_rows_right() -> None:
    many = tuple(guest(f"g{i:02d}") for i in range(40))
    app = TableApp()
    async with app.run_test(size=(110, 15)) as pilot:
        table = app.query_one(GuestTable)
        table.set_sort("cpu")
        figures = {g.name: (float(i), 0.0, 0.0, 0.0) for i, g in enumerate(many)}
        table.show(many, stats_of(figures), {}, frozenset())
        await pilot.pause()
        assert names(table).startswith("g39 g38")
        table.move_cursor(row=5, animate=False)  # the user puts it on g34
        await pilot.pause()
        chosen = table.selected_uuid
        assert chosen == "u-g34"
        rebuilt = table.cells_rendered
        for tick in range(1, 6):  # every figure changes, the order turns round
            figures = {
                g.name: (float((i * 7 + tick * 13) % 40), 0.0, 0.0, 0.0) for i, g in enumerate(many)
            }
            before = list(table.shown_uuids)
            table.show(many, stats_of(figures), {}, frozenset())
            await pilot.pause()
            assert table.shown_uuids != before
            assert shown_order(table) == table.shown_uuids
            assert table.selected_uuid == chosen
            row = table.cursor_row
            assert table.scroll_y <= row < table.scroll_y + table.size.height - 1  # in view
        # the rows were moved, not made again; and they look as Textual would draw them
        assert table.row_count == 40 and table.cells_rendered - rebuilt < 40 * 11 * 5
        for y in range(table.size.height):
            assert our_line(table, y).text == textual_line(table, y).text


async def test_the_cursor_comes_back_to_its_guest_when_a_filter_stops_hiding_it() -> None:
    app = TableApp()
    async with app.run_test(size=(110, 20)) as pilot:
        table = await fleet_table(pilot)
        table.move_cursor(row=3, animate=False)  # dog
        await pilot.pause()
        table.show(FLEET[:2], stats_of(FIGURES), LABELS, frozenset())  # dog filtered out
        await pilot.pause()
        table.show((), {}, LABELS, frozenset())  # nothing matches a moment
        await pilot.pause()
        table.show(FLEET, stats_of(FIGURES), LABELS, frozenset())
        await pilot.pause()
        assert table.selected_uuid == "u-dog"
        # a guest the user settles on while the filter is on is the one followed
        table.show(FLEET[:2], stats_of(FIGURES), LABELS, frozenset())
        await pilot.pause()
        table.follow_cursor()
        table.show(FLEET, stats_of(FIGURES), LABELS, frozenset())
        await pilot.pause()
        assert table.selected_uuid == "u-bee"


async def test_home_end_g_and_shift_g_go_to_the_first_and_last_guest() -> None:
    app = TableApp()
    async with app.run_test(size=(110, 20)) as pilot:
        table = await fleet_table(pilot)
        table.focus()
        for key, row in (("end", 4), ("home", 0), ("G", 4), ("g", 0)):
            await pilot.press(key)
            assert table.cursor_row == row, key


# ------------------------------------------------------------ issue 14, 15(b)
HUNDRED = tuple(guest(f"guest-{i:03d}") for i in range(100))


def cpu(value: float) -> dict[str, GuestStats]:
    return {g.uuid: GuestStats(uuid=g.uuid, time=0, cpu_percent=value) for g in HUNDRED}


async def test_narrowing_the_guests_while_rows_wait_off_screen_does_not_crash() -> None:
    # Scrolled two pages down, a poll leaves the rows off screen waiting; a filter that
    # narrows the list then rebuilds the table, whose clear() scrolls to the top, which
    # flushed the waiting rows of the old order: KeyError.
    app = TableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(GuestTable)
        table.show(HUNDRED, cpu(10.0))
        await pilot.pause()
        table.move_cursor(row=40, animate=False)
        await pilot.pause()
        assert table.scroll_y > 20
        table.show(HUNDRED, cpu(20.0))  # a poll
        await pilot.pause()
        narrowed = tuple(g for g in HUNDRED if g.name.endswith("7"))
        table.show(narrowed, cpu(20.0))
        await pilot.pause()
        assert table.row_count == 10
        assert all(table.shown_cell(g.uuid, "cpu") == "20.0" for g in narrowed)


async def test_new_columns_while_rows_wait_off_screen_do_not_crash() -> None:
    # The same, with the columns changing (a guest got tags: the Tags column appears):
    # the flush then updated cells of columns that were gone (CellDoesNotExist).
    app = TableApp()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(GuestTable)
        table.show(HUNDRED, cpu(10.0))
        await pilot.pause()
        table.move_cursor(row=40, animate=False)
        await pilot.pause()
        table.show(HUNDRED, cpu(20.0))
        await pilot.pause()
        tagged = (guest("guest-003", uuid=HUNDRED[3].uuid, tags=("db",)),)
        table.show(HUNDRED[:3] + tagged + HUNDRED[4:], cpu(20.0))
        await pilot.pause()
        assert "tags" in table.column_keys
        assert table.selected_uuid == HUNDRED[40].uuid
