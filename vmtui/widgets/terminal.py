"""A widget that draws an emulator's cells and turns keys into the bytes a terminal would send.

It never writes guest bytes anywhere: it only draws cells (characters already cleaned by the
emulator) with Rich styles, through Textual's own renderer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from vmtui.backend.terminal import Cell, Emulator

_NAMED = {
    "black": 0,
    "red": 1,
    "green": 2,
    "brown": 3,
    "yellow": 3,
    "blue": 4,
    "magenta": 5,
    "cyan": 6,
    "white": 7,
}

_SPECIAL: dict[str, bytes] = {
    "enter": b"\r",
    "tab": b"\t",
    "shift+tab": b"\x1b[Z",
    "backspace": b"\x7f",
    "ctrl+h": b"\x08",
    "escape": b"\x1b",
    "delete": b"\x1b[3~",
    "insert": b"\x1b[2~",
    "pageup": b"\x1b[5~",
    "pagedown": b"\x1b[6~",
    "f1": b"\x1bOP",
    "f2": b"\x1bOQ",
    "f3": b"\x1bOR",
    "f4": b"\x1bOS",
    "f5": b"\x1b[15~",
    "f6": b"\x1b[17~",
    "f7": b"\x1b[18~",
    "f8": b"\x1b[19~",
    "f9": b"\x1b[20~",
    "f10": b"\x1b[21~",
    "f11": b"\x1b[23~",
    "f12": b"\x1b[24~",
    "ctrl+space": b"\x00",
    "ctrl+@": b"\x00",
    "ctrl+backslash": b"\x1c",
    "ctrl+circumflex_accent": b"\x1e",
    "ctrl+underscore": b"\x1f",
    "ctrl+left_square_bracket": b"\x1b",
}
_CURSOR = {"up": "A", "down": "B", "right": "C", "left": "D", "home": "H", "end": "F"}
DETACH_KEY = "ctrl+right_square_bracket"


def key_bytes(key: str, character: str | None, app_cursor: bool = False) -> bytes | None:
    """The bytes a VT220/xterm sends for a Textual key event (None: not a key we send)."""
    if key in _CURSOR:
        return (b"\x1bO" if app_cursor else b"\x1b[") + _CURSOR[key].encode()
    if key in _SPECIAL:
        return _SPECIAL[key]
    if key.startswith("alt+"):
        inner = key_bytes(key[4:], character[-1:] if character else None, app_cursor)
        return b"\x1b" + inner if inner else None
    if key.startswith("ctrl+") and len(key) == 6 and key[5].isalpha():
        return bytes([ord(key[5].lower()) - ord("a") + 1])
    if character and character.isprintable():
        return character.encode()
    return None


def _color(name: str, bright: bool = False) -> Color | None:
    if not name or name == "default":
        return None
    if name.startswith("bright"):
        base = _NAMED.get(name[6:])
        return Color.from_ansi(base + 8) if base is not None else None
    if name in _NAMED:
        return Color.from_ansi(_NAMED[name] + (8 if bright else 0))
    if len(name) == 6:
        try:
            return Color.from_rgb(int(name[0:2], 16), int(name[2:4], 16), int(name[4:6], 16))
        except ValueError:
            return None
    return None


@functools.lru_cache(maxsize=4096)
def _style(
    fg_name: str, bg_name: str, bold: bool, italics: bool, underscore: bool, reverse: bool
) -> Style:
    fg = _color(fg_name)
    bg = _color(bg_name)
    if reverse:
        fg, bg = (bg or Color.default()), (fg or Color.default())
    return Style(
        color=fg,
        bgcolor=bg,
        bold=bold or None,
        italic=italics or None,
        underline=underscore or None,
    )


_CURSOR_STYLE = Style(reverse=True)


@functools.lru_cache(maxsize=4096)
def _attrs_style(attrs: tuple[Any, ...], cursor: bool) -> Style:
    """The style of a cell's attributes (a Char without its data: fg, bg, bold, italics,
    underscore, strikethrough, reverse, blink)."""
    fg, bg, bold, italics, underscore, _strike, reverse, _blink = attrs
    style = _style(fg, bg, bold, italics, underscore, reverse)
    return style + _CURSOR_STYLE if cursor else style


def row_segments(row: list[Cell], cursor_x: int | None) -> list[Segment]:
    """Segments of one row, runs of equal attributes merged; wide characters' shadow cells
    skipped. (Runs are found by comparing the cells' attribute tuples, not Rich styles: this
    runs for every cell of every redrawn row.)"""
    segments: list[Segment] = []
    run: list[str] = []
    run_attrs: tuple[Any, ...] | None = None
    run_cursor = False
    for x, cell in enumerate(row):
        data = cell[0]
        if data == "":  # right half of a wide character
            continue
        attrs = cell[1:]
        cursor = x == cursor_x
        if attrs != run_attrs or cursor or run_cursor:
            if run and run_attrs is not None:
                segments.append(Segment("".join(run), _attrs_style(run_attrs, run_cursor)))
                run = []
            run_attrs, run_cursor = attrs, cursor
        run.append(data)
    if run and run_attrs is not None:
        segments.append(Segment("".join(run), _attrs_style(run_attrs, run_cursor)))
    return segments


class TerminalView(Widget, can_focus=True):
    """Draws an ``Emulator``; every key goes to ``send`` except the detach key."""

    DEFAULT_CSS = """
    TerminalView { width: 1fr; height: 1fr; background: black; color: white; }
    """

    class Detach(Message):
        """The user pressed the detach key (ctrl+])."""

    def __init__(
        self, emulator: Emulator, send: Callable[[bytes], None], *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.emulator = emulator
        self.send = send
        self.scroll_back = 0  # lines back into the scrollback (0 = live)
        self._rows: list[list[Cell]] = []
        self._cursor_xy: tuple[int, int] = (-1, -1)
        self._shown_generation = -1
        # (ids of the row's cells, cursor x, width) -> (drawn, the row, which keeps the ids valid)
        self._strips: dict[tuple[Any, ...], tuple[Strip, list[Cell]]] = {}

    def on_mount(self) -> None:
        self._snapshot()

    def on_resize(self, event: events.Resize) -> None:
        self.emulator.resize(event.size.width, event.size.height)
        self.refresh_screen()

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return self.emulator.size[0]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return self.emulator.size[1]

    def _snapshot(self) -> None:
        rows, cursor = self.emulator.view(self.scroll_back)
        self._rows = rows
        self._cursor_xy = (cursor.x, cursor.y) if cursor.visible and self.has_focus else (-1, -1)
        self._shown_generation = self.emulator.generation

    def refresh_screen(self) -> None:
        """Redraw what changed in the emulator (called when new output was parsed, at most
        once per frame): only the changed lines when few did (typing at a prompt)."""
        if self.emulator.generation == self._shown_generation and not self.scroll_back:
            return
        old_rows, old_cursor = self._rows, self._cursor_xy
        self._snapshot()
        rows = self._rows
        changed = {y for y, row in enumerate(rows) if y >= len(old_rows) or row != old_rows[y]}
        if self._cursor_xy != old_cursor:
            changed.update((old_cursor[1], self._cursor_xy[1]))
        changed.discard(-1)
        if len(changed) > len(rows) // 2 or len(rows) != len(old_rows):
            self.refresh()
        else:
            width = self.size.width
            self.refresh(*(Region(0, y, width, 1) for y in sorted(changed)))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y >= len(self._rows):
            return Strip.blank(width)
        cx, cy = self._cursor_xy
        row, cursor = self._rows[y], cx if y == cy else None
        # Output that scrolls shows the same rows one line higher: draw each row once. Cells
        # are immutable and the cache keeps the row it drew, so the cells' ids are its key.
        key = (tuple(map(id, row)), cursor, width)
        cached = self._strips.get(key)
        if cached is not None:
            return cached[0]
        if len(self._strips) > 4 * max(len(self._rows), 24):
            self._strips.clear()
        strip = Strip(row_segments(row, cursor)).crop_extend(0, width, None)
        self._strips[key] = (strip, row)
        return strip

    def on_focus(self) -> None:
        self._snapshot()
        self.refresh()

    def on_blur(self) -> None:
        self._snapshot()
        self.refresh()

    def _scroll(self, lines: int) -> None:
        self.scroll_back = max(0, min(self.emulator.scrollback, self.scroll_back + lines))
        self._snapshot()
        self.refresh()

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        if event.key == DETACH_KEY:
            self.post_message(self.Detach())
            return
        page = max(1, self.size.height - 1)
        if event.key == "shift+pageup":
            self._scroll(page)
            return
        if event.key == "shift+pagedown":
            self._scroll(-page)
            return
        data = key_bytes(event.key, event.character, self.emulator.app_cursor)
        if data is None:
            return
        if self.scroll_back:
            self.scroll_back = 0
            self._snapshot()
            self.refresh()
        self.send(data)

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        text = event.text.replace("\r\n", "\r").replace("\n", "\r")
        if self.emulator.bracketed_paste:
            text = "\x1b[200~" + text.replace("\x1b[201~", "") + "\x1b[201~"
        self.send(text.encode())
