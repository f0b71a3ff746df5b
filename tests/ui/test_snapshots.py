"""SVG snapshots of the main screens at 80x24 (update with --snapshot-update, then look at them)."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from tests.conftest import host_uri
from tests.ui.helpers import ready, select, wait_for
from vmtui.app import VmtuiApp
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.guest import GuestScreen
from vmtui.screens.help import HelpScreen

SIZE = (80, 24)


def app() -> VmtuiApp:
    # A long interval: nothing changes between the first poll and the picture.
    return VmtuiApp(host_uri("small_host"), interval=3600)


async def on_alpha(pilot: Pilot[None]) -> None:
    await ready(pilot)
    select(pilot.app, "alpha")  # type: ignore[arg-type]
    await pilot.pause()


def test_dashboard(snap_compare: Any) -> None:
    assert snap_compare(app(), terminal_size=SIZE, run_before=on_alpha)


def test_guest_screen(snap_compare: Any) -> None:
    async def open_alpha(pilot: Pilot[None]) -> None:
        await on_alpha(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, GuestScreen))
        await pilot.pause()

    assert snap_compare(app(), terminal_size=SIZE, run_before=open_alpha)


def test_help(snap_compare: Any) -> None:
    async def help_(pilot: Pilot[None]) -> None:
        await on_alpha(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))

    assert snap_compare(app(), terminal_size=SIZE, run_before=help_)


def test_force_off_confirmation(snap_compare: Any) -> None:
    async def confirm(pilot: Pilot[None]) -> None:
        await on_alpha(pilot)
        await pilot.press("F")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))

    assert snap_compare(app(), terminal_size=SIZE, run_before=confirm)
