"""Issue 16 #13: the Add-NIC and share dialogs at 80x24, after the wizard was opened once (its
stylesheet stays loaded: its 14-column labels used to squeeze these dialogs' labels into a
strip). SVG snapshots (update with --snapshot-update, then look at them) and a plain check."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from tests.conftest import host_uri
from tests.ui.helpers import ready, select, wait_for
from vmtui.app import VmtuiApp
from vmtui.screens.create import CreateScreen
from vmtui.screens.isolation import AddFolderScreen, AddNicScreen, IsolationScreen

SIZE = (80, 24)


def app() -> VmtuiApp:
    return VmtuiApp(host_uri("isolation_host"), interval=3600)


async def open_dialog(pilot: Pilot[None], key: str, kind: type) -> None:
    vm = await ready(pilot)
    await pilot.press("n")  # the wizard once, then away: its CSS stays loaded
    await wait_for(pilot, lambda: isinstance(vm.screen, CreateScreen))
    await pilot.press("escape")
    await wait_for(pilot, lambda: not isinstance(vm.screen, CreateScreen))
    select(vm, "nonic-guest")
    await pilot.press("i")
    await wait_for(pilot, lambda: isinstance(vm.screen, IsolationScreen))
    view = vm.screen
    assert isinstance(view, IsolationScreen)
    await wait_for(pilot, lambda: view.report is not None)
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(vm.screen, kind))
    await pilot.pause()


async def open_add_nic(pilot: Pilot[None]) -> None:
    await open_dialog(pilot, "n", AddNicScreen)


async def open_share(pilot: Pilot[None]) -> None:
    await open_dialog(pilot, "f", AddFolderScreen)


def test_add_nic_dialog(snap_compare: Any) -> None:
    assert snap_compare(app(), terminal_size=SIZE, run_before=open_add_nic)


def test_share_dialog(snap_compare: Any) -> None:
    assert snap_compare(app(), terminal_size=SIZE, run_before=open_share)


async def test_dialog_labels_are_one_line_each_after_the_wizard() -> None:
    vm = app()
    async with vm.run_test(size=SIZE) as pilot:
        await open_share(pilot)
        for label in vm.screen.query(".field-label"):
            assert label.region.height == 1, (str(label.render()), label.region)
