"""Helpers for driving the app with Pilot."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

from textual.pilot import Pilot

from vmtui.app import VmtuiApp
from vmtui.backend import GuestInfo
from vmtui.widgets.guest_table import GuestTable


async def wait_for(
    pilot: Pilot[None], predicate: Callable[[], bool], timeout: float = 10.0
) -> None:
    """Let the app run until ``predicate()`` holds; fail with a clear message after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await pilot.pause(0.02)


async def ready(pilot: Pilot[None]) -> VmtuiApp:
    """Wait for the first poll to be shown with every guest's details: the first rows come
    from the listing and bulk stats alone, the XML-derived cells a moment later (issue 12).
    A test of that progressive first frame waits on its own terms instead."""
    app = pilot.app
    assert isinstance(app, VmtuiApp)
    await wait_for(
        pilot,
        lambda: app.snapshot is not None
        and not app.snapshot.loading
        and all(guest.loaded for guest in app.snapshot.guests)
        and table(app).row_count > 0,
    )
    await pilot.pause()  # let the table show that snapshot
    return app


def table(app: VmtuiApp) -> GuestTable:
    return app.screen.query_one(GuestTable)


def guest_named(app: VmtuiApp, name: str) -> GuestInfo:
    assert app.snapshot is not None
    return next(g for g in app.snapshot.guests if g.name == name)


def row(app: VmtuiApp, name: str) -> tuple[str, ...]:
    shown = table(app).shown_text(guest_named(app, name).uuid)
    assert shown is not None, f"{name} is not in the table"
    return shown


def select(app: VmtuiApp, name: str) -> None:
    t = table(app)
    t.move_cursor(row=t.get_row_index(guest_named(app, name).uuid), animate=False)


def state_of(app: VmtuiApp, name: str) -> str:
    shown = table(app).shown_cell(guest_named(app, name).uuid, "state")
    assert shown is not None, f"{name} is not in the table"
    return shown


def text_of(widget: object) -> str:
    """The plain text a Static/Label shows, as Textual turns it into a visual (markup and all)."""
    from rich.console import Console
    from textual.content import Content
    from textual.visual import RichVisual
    from textual.widgets import Static

    assert isinstance(widget, Static)
    visual = widget.visual
    if isinstance(visual, Content):
        return visual.plain
    assert isinstance(visual, RichVisual), type(visual)
    console = Console(width=200, record=True, color_system=None, file=io.StringIO())
    console.print(visual._renderable)
    return console.export_text()


async def click(pilot: Pilot[None], selector: str) -> None:
    """Click a widget as a user would: first dismiss the toasts, which may cover it."""
    pilot.app.clear_notifications()
    await pilot.pause()
    await pilot.click(selector)
