"""The guest's screen is drawn with half-blocks, or with real pixels (sixel / kitty graphics)
when the terminal said it shows them; ctrl+g switches between the two."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import host_uri
from tests.ui.helpers import ready, select, text_of, wait_for
from vmtui.app import VmtuiApp
from vmtui.screens.display import HALF, PIXEL, DisplayScreen
from vmtui.term import graphics
from vmtui.widgets.screen_view import PixelView, ScreenView, SixelCanvas


@pytest.fixture
def restore_protocol() -> Iterator[None]:
    before = graphics.protocol()
    yield
    graphics.set_protocol(before)


async def open_display(app: VmtuiApp, pilot: object) -> DisplayScreen:
    from textual.pilot import Pilot

    assert isinstance(pilot, Pilot)
    await ready(pilot)
    select(app, "alpha")  # the running guest with a VNC display (the test driver draws one)
    await pilot.press("v")
    await wait_for(pilot, lambda: isinstance(app.screen, DisplayScreen))
    screen = app.screen
    assert isinstance(screen, DisplayScreen)
    await wait_for(pilot, lambda: screen.frames >= 1)
    return screen


def bar(screen: DisplayScreen) -> str:
    return text_of(screen.query_one("#display-bar"))


def test_without_a_terminal_nothing_is_asked_and_the_answer_is_no(
    restore_protocol: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VMTUI_GRAPHICS", raising=False)
    graphics.set_protocol("sixel")
    assert graphics.detect() is None  # pytest's stdout is no terminal
    assert graphics.protocol() is None
    monkeypatch.setenv("VMTUI_GRAPHICS", "off")
    assert graphics.detect() is None


async def test_unsupported_terminal_draws_half_blocks_only(restore_protocol: None) -> None:
    graphics.set_protocol(None)
    app = VmtuiApp(host_uri("small_host"), interval=0.2)
    async with app.run_test(size=(100, 36)) as pilot:
        screen = await open_display(app, pilot)
        assert screen.mode == HALF
        assert not screen.query(PixelView)  # no pixel widget at all
        view = screen.query_one(ScreenView)
        assert view.image and view._rows  # the picture went to the half-block cells
        assert "half-blocks" in bar(screen) and "ctrl+g" not in bar(screen)
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert screen.mode == HALF
        assert any("did not say it shows sixel" in n.message for n in app._notifications)


async def test_ctrl_g_switches_between_pixels_and_half_blocks(
    restore_protocol: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from vmtui.screens import display

    encoded_on: list[str] = []
    real_encode = display.encode_sixel

    def encode(*args: object) -> tuple[str, int, int]:
        encoded_on.append(threading.current_thread().name)
        return real_encode(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(display, "encode_sixel", encode)
    graphics.set_protocol("sixel")
    app = VmtuiApp(host_uri("small_host"), interval=0.2)
    async with app.run_test(size=(100, 36)) as pilot:
        screen = await open_display(app, pilot)
        pixels = screen.query_one(PixelView)
        half = screen.query_one(ScreenView)
        # Pixels first where the terminal has them.
        assert screen.mode == PIXEL and pixels.display and not half.display
        canvas = pixels.query_one(SixelCanvas)
        assert pixels.frames >= 1 and canvas.data.startswith("\x1bP") and canvas.cells[0] > 0
        # The slow part, encoding sixel, ran in a worker thread: never on the UI thread.
        assert encoded_on and threading.main_thread().name not in encoded_on
        assert "sixel" in bar(screen)

        await pilot.press("ctrl+g")
        await pilot.pause()
        assert screen.mode == HALF and half.display and not pixels.display
        assert "half-blocks" in bar(screen)
        await wait_for(pilot, lambda: bool(half._rows))  # drawn at once from the last picture

        await pilot.press("ctrl+g")
        await pilot.pause()
        assert screen.mode == PIXEL and pixels.display and not half.display
        assert "sixel" in bar(screen)
