"""Sorting the dashboard from the keyboard (o, O), remembered across restarts; the cursor on
its guest through re-sorts, filters and `:` commands; Home/End/g/G; the KeyError of issue
14 (15b) seen as a user would hit it."""

from __future__ import annotations

import dataclasses
import itertools
import tomllib
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from benchmarks.testhost import host_uri as file_uri
from benchmarks.testhost import write_host_xml
from tests.conftest import host_uri
from tests.ui.helpers import guest_named, ready, select, table, wait_for
from vmtui.app import VmtuiApp
from vmtui.backend import GuestStats, Snapshot
from vmtui.demo import DEMO_URI
from vmtui.screens.dashboard import DashboardScreen
from vmtui.screens.help import HelpScreen
from vmtui.widgets.guest_sort import SORT_NAMES

SMALL = host_uri("small_host")


def feed_cpu(app: VmtuiApp, uri: str, figures: Callable[[int], dict[str, float]]) -> None:
    """Every poll of this host reports these CPU figures (by guest name), tick after tick
    (``figures(tick)``) — the test driver has none of its own."""
    hv = app.hosts[uri].hv
    real = hv.poll
    ticks = itertools.count()

    def poll(*args: object, **kwargs: object) -> Snapshot:
        snap = real(*args, **kwargs)  # type: ignore[arg-type]
        cpu = figures(next(ticks))
        stats = dict(snap.stats)
        for g in snap.guests:
            if g.name in cpu and g.is_active:
                old = stats.get(g.uuid) or GuestStats(uuid=g.uuid, time=snap.time)
                stats[g.uuid] = dataclasses.replace(old, cpu_percent=cpu[g.name])
        return dataclasses.replace(snap, stats=stats)

    hv.poll = poll  # type: ignore[method-assign]


async def settled(pilot: Pilot[None]) -> VmtuiApp:
    """The first poll shown, and every guest's XML read (the table shows no "…" cell)."""
    app = await ready(pilot)
    await wait_for(
        pilot, lambda: app.snapshot is not None and all(g.loaded for g in app.snapshot.guests)
    )
    await pilot.pause()
    return app


def names(app: VmtuiApp) -> list[str]:
    t = table(app)
    return [t.shown_text(u)[0] for u in t.shown_uuids]  # type: ignore[index]


def app_with_config(uris: str | list[str], config: Path, **kw: object) -> VmtuiApp:
    app = VmtuiApp(uris, interval=0.2, **kw)  # type: ignore[arg-type]
    app.config_file = config
    return app


async def sorted_by(pilot: Pilot[None], app: VmtuiApp, column: str) -> None:
    """Press o until the table is sorted by ``column``."""
    for _ in range(len(SORT_NAMES) + 1):
        if table(app).sort_column == column:
            return
        await pilot.press("o")
    raise AssertionError(f"o never sorted by {column}")


async def test_o_walks_every_column_and_capital_o_reverses(tmp_path: Path) -> None:
    app = app_with_config([SMALL, DEMO_URI], tmp_path / "c.toml")
    async with app.run_test(size=(140, 40)) as pilot:
        await settled(pilot)
        await wait_for(pilot, lambda: len(names(app)) == 18)
        seen = []
        for _ in range(20):
            await pilot.press("o")
            seen.append(table(app).sort_column)
            if table(app).sort_column == "name":
                break
        assert seen[-1] == "name"
        assert set(seen) == set(table(app).column_keys)  # every shown column, host too
        await sorted_by(pilot, app, "state")
        assert names(app)[:2] == ["alpha", "ci-runner-1"]  # running first, by name
        assert names(app)[-5:] == ["backup", "beta", "ci-runner-3", "saved", "win11"]
        await pilot.press("O")  # reversed: stopped first, ties still by name
        assert names(app)[:6] == ["backup", "beta", "ci-runner-3", "saved", "win11", "legacy-crm"]
        assert names(app)[-1] == "web2"
        assert any("Sorted by state" in n.message for n in app._notifications)
        await sorted_by(pilot, app, "host")
        hosts = [table(app).shown_cell(u, "host") for u in table(app).shown_uuids]
        assert hosts == sorted(hosts)
        await sorted_by(pilot, app, "vcpus")
        vcpus = [int(table(app).shown_cell(u, "vcpus") or 0) for u in table(app).shown_uuids]
        assert vcpus == sorted(vcpus, reverse=True)  # biggest first
        await pilot.press("O")
        vcpus = [int(table(app).shown_cell(u, "vcpus") or 0) for u in table(app).shown_uuids]
        assert vcpus == sorted(vcpus)
        header = table(app).columns[table(app).ordered_columns[3].key].label.plain
        assert header.endswith("▲")


async def test_sort_by_cpu_busiest_first_and_the_cursor_stays_on_its_guest(
    tmp_path: Path,
) -> None:
    app = app_with_config([SMALL, DEMO_URI], tmp_path / "c.toml")
    running = ["alpha", "ci-runner-1", "ci-runner-2", "db1", "dns", "mail", "temp", "web1"]

    def figures(tick: int) -> dict[str, float]:  # every tick another order
        return {n: float((i * 7 + tick * 3) % 11) for i, n in enumerate(running)}

    feed_cpu(app, SMALL, figures)
    feed_cpu(app, DEMO_URI, figures)
    async with app.run_test(size=(140, 40)) as pilot:
        await settled(pilot)
        await wait_for(pilot, lambda: len(names(app)) == 18)
        await sorted_by(pilot, app, "cpu")
        assert table(app).sort_descending
        select(app, "db1")
        table(app).follow_cursor()
        db1 = guest_named(app, "db1").uuid
        orders = set()
        for _ in range(6):
            polls = app.polls
            await wait_for(pilot, lambda p=polls: app.polls >= p + 2)  # both hosts answered
            t = table(app)
            cpus = [t.shown_cell(u, "cpu") for u in t.shown_uuids]
            figures_shown = [float(c) for c in cpus if c and c[0].isdigit()]
            assert figures_shown == sorted(figures_shown, reverse=True)
            assert cpus[len(figures_shown) :] == ["–"] * (18 - len(figures_shown))  # noqa: RUF001
            assert t.selected_uuid == db1
            orders.add(tuple(t.shown_uuids))
        assert len(orders) > 1  # the order did change under the cursor
        await pilot.press("O")  # the idlest running guests first; the dashes stay last
        cpus = [table(app).shown_cell(u, "cpu") for u in table(app).shown_uuids]
        assert cpus[0] != "–" and cpus[-1] == "–"  # noqa: RUF001


async def test_the_sort_is_remembered_across_a_restart(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[[connection]]\nname = "lab"\nuri = "test:///default"\n')
    app = app_with_config(SMALL, config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settled(pilot)
        await sorted_by(pilot, app, "mem")
        await pilot.press("O")
        await wait_for(
            pilot,
            lambda: (
                tomllib.loads(config.read_text()).get("dashboard")
                == {"sort": "mem", "descending": False}
            ),
        )
    saved = tomllib.loads(config.read_text())
    assert saved["connection"][0]["name"] == "lab"  # the connections are kept
    again = app_with_config(SMALL, config)
    async with again.run_test(size=(100, 30)) as pilot:
        await settled(pilot)
        await wait_for(pilot, lambda: table(again).sort_column == "mem")
        assert not table(again).sort_descending
        assert names(again) == ["gamma", "temp", "alpha", "beta", "saved"]


async def test_a_config_file_that_does_not_parse_is_left_alone_and_the_sort_still_works(
    tmp_path: Path,
) -> None:
    config = tmp_path / "c.toml"
    config.write_text("sort = = broken\n")
    app = app_with_config(SMALL, config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settled(pilot)
        await pilot.press("o")
        assert table(app).sort_column == "state"
        await wait_for(
            pilot, lambda: any("not remembered" in n.message for n in app._notifications)
        )
        assert names(app)[0] == "alpha"  # running first
    assert config.read_text() == "sort = = broken\n"


async def test_sort_keys_are_in_the_footer_and_in_help(tmp_path: Path) -> None:
    app = app_with_config(SMALL, tmp_path / "c.toml")
    async with app.run_test(size=(100, 30)) as pilot:
        await settled(pilot)
        shown = {b.binding.key for b in app.screen.active_bindings.values() if b.binding.show}
        assert "o" in shown
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        keys = dict(app.screen.keys)  # type: ignore[attr-defined]
        assert "Sort" in keys.get("o", "") and "Reverse" in keys.get("O", "")
        assert "Hosts" in keys.get("f", "")
        assert any("home" in k and "g" in k for k in keys)


# ------------------------------------------------ the cursor stays on its guest (issue 16 #8)
async def test_after_a_filter_that_hid_it_the_cursor_is_back_on_its_guest() -> None:
    app = VmtuiApp(SMALL, interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        select(app, "gamma")
        await pilot.press("/", "x", "y")  # nothing matches a moment
        await wait_for(pilot, lambda: table(app).row_count == 0)
        await pilot.press("escape")
        await wait_for(pilot, lambda: table(app).row_count == 5)
        assert table(app).selected_uuid == guest_named(app, "gamma").uuid


async def test_home_end_g_and_capital_g_on_the_dashboard() -> None:
    app = VmtuiApp(SMALL, interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        for key, row in (("end", 4), ("home", 0), ("G", 4), ("g", 0)):
            await pilot.press(key)
            assert table(app).cursor_row == row, key


def many_guests(tmp_path: Path, n: int = 60) -> str:
    return file_uri(write_host_xml(tmp_path / "many.xml", n))


async def test_a_command_that_adds_a_column_keeps_the_cursor_on_its_guest(
    tmp_path: Path,
) -> None:
    app = VmtuiApp(many_guests(tmp_path), interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        select(app, "guest-00045")
        await pilot.pause()
        await pilot.press(*"kkkkk")  # guest-00040, five lines above the bottom
        line = table(app).cursor_row - table(app).scroll_y  # where the user sees it
        await pilot.press("colon", *"tag guest-00003 +db", "enter")
        await wait_for(pilot, lambda: "tags" in table(app).column_keys)
        await pilot.pause(0.5)
        assert app.is_running
        assert table(app).selected_uuid == guest_named(app, "guest-00040").uuid
        assert table(app).cursor_row - table(app).scroll_y == line  # on the same line


async def test_scrolled_down_a_poll_then_a_narrowing_filter_does_not_crash(
    tmp_path: Path,
) -> None:
    # issue 14, 15(b): exited with KeyError
    app = VmtuiApp(many_guests(tmp_path), interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        await pilot.press("pagedown", "pagedown")
        assert table(app).scroll_y > 10
        polls = app.polls
        await wait_for(pilot, lambda: app.polls >= polls + 1)
        await pilot.press("/", *"guest-0001")
        await wait_for(pilot, lambda: table(app).row_count == 10)
        await pilot.pause(0.3)
        assert app.is_running and isinstance(app.screen, DashboardScreen)
