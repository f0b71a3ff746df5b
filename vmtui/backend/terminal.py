"""A terminal emulator for guest consoles, on ``pyte`` (no VT parser of our own).

Guest output is untrusted. It only ever becomes *cells* here (character + colours + attributes);
the UI draws cells. Control and escape sequences (OSC 52 clipboard, window titles, OSC 8 links,
bracketed paste...) are consumed by pyte and never passed on; control characters that would
land in a cell are replaced. Queries the guest makes (cursor position ``ESC[6n``, device status,
device attributes) are answered through ``respond``.

Thread-safe: bytes are fed from a console's reader thread while the UI reads rows.
"""

from __future__ import annotations

import collections
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyte

BRACKETED_PASTE = 2004 << 5  # pyte keeps private modes shifted by 5
APP_CURSOR = 1 << 5  # DECCKM, application cursor keys (pyte keeps the flag, has no name)
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
REPLACEMENT = "\ufffd"


def safe_char(ch: str) -> str:
    """A cell's text as it may reach the user's terminal: no control or bidi-override chars."""
    if not ch:
        return ch
    out = []
    for c in ch:
        if c in _BIDI or unicodedata.category(c) == "Cc":
            out.append(REPLACEMENT)
        else:
            out.append(c)
    return "".join(out)


# A cell is pyte's own immutable ``Char`` (data, fg, bg, bold, italics, underscore,
# strikethrough, reverse, blink): fg/bg are "default", a colour name or "rrggbb". Cells handed
# out by ``view`` always have safe ``data``.
Cell = pyte.screens.Char


@dataclass(frozen=True)
class Cursor:
    x: int
    y: int  # row in the visible view; -1 when scrolled out of view
    visible: bool


class _Screen(pyte.Screen):
    """pyte's screen, plus: its replies routed to the guest, its title kept to itself, a
    scrollback, and a fast path for plain ASCII text.

    pyte's ``HistoryScreen`` proxies every attribute access (about 0.1 MB/s); keeping the lines
    that scroll off the top here is the same thing at pyte's own speed. ``draw`` is pyte's,
    except that runs of printable ASCII with the default charset reuse one ``Char`` per
    character and attribute set (Chars are immutable tuples) instead of building one per cell.
    """

    def __init__(self, cols: int, rows: int, history: int, respond: Callable[[str], None]):
        super().__init__(cols, rows)
        self._respond = respond
        self.history_top: collections.deque[Any] = collections.deque(maxlen=history)
        self._caches: dict[Any, dict[str, Any]] = {}  # attrs -> char -> Char

    def write_process_input(self, data: str) -> None:
        self._respond(data)

    def set_title(self, param: str) -> None:  # never forwarded anywhere
        self.title = ""

    def set_icon_name(self, param: str) -> None:
        self.icon_name = ""

    def index(self) -> None:
        top, bottom = self.margins or pyte.screens.Margins(0, self.lines - 1)
        if self.cursor.y == bottom and top == 0:
            self.history_top.append(self.buffer[top])  # the row object leaves the buffer
        super().index()

    def reset(self) -> None:
        super().reset()
        if hasattr(self, "history_top"):
            self.history_top.clear()

    def draw(self, data: str) -> None:
        charset = self.g1_charset if self.charset else self.g0_charset
        if (
            not data.isascii()
            or not data.isprintable()
            or charset is not pyte.charsets.LAT1_MAP
            or pyte.modes.IRM in self.mode
        ):
            super().draw(data)
            return
        attrs = self.cursor.attrs
        cache = self._caches.get(attrs)
        if cache is None:
            if len(self._caches) > 256:
                self._caches.clear()
            cache = self._caches[attrs] = {}
        cols = self.columns
        i, n = 0, len(data)
        while i < n:
            if self.cursor.x >= cols:
                if pyte.modes.DECAWM in self.mode:
                    self.dirty.add(self.cursor.y)
                    self.carriage_return()
                    self.linefeed()
                else:
                    self.cursor.x = cols - 1
            line = self.buffer[self.cursor.y]
            x = self.cursor.x
            take = min(n - i, cols - x) if pyte.modes.DECAWM in self.mode else 1
            for ch in data[i : i + take]:
                char = cache.get(ch)
                if char is None:
                    char = cache[ch] = attrs._replace(data=ch)
                line[x] = char
                x += 1
            self.cursor.x = min(x, cols)
            i += take
        self.dirty.add(self.cursor.y)


class Emulator:
    """Screen state of one console: rows of cells, a cursor and a scrollback."""

    def __init__(
        self,
        cols: int = 80,
        rows: int = 24,
        history: int = 5000,
        respond: Callable[[bytes], None] | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._respond = respond
        self.screen = _Screen(cols, rows, history, self._reply)
        self.stream = pyte.ByteStream(self.screen)
        self.bytes_fed = 0
        self.generation = 0  # bumps on every change (the UI redraws when it moved)

    def set_responder(self, respond: Callable[[bytes], None] | None) -> None:
        """Where answers to the guest's queries (cursor position, DA...) go; None drops them."""
        with self._lock:
            self._respond = respond

    def _reply(self, data: str) -> None:
        if self._respond is not None:
            self._respond(data.encode())

    @property
    def size(self) -> tuple[int, int]:
        return self.screen.columns, self.screen.lines

    def feed(self, data: bytes) -> None:
        with self._lock:
            self.stream.feed(data)
            self.bytes_fed += len(data)
            self.generation += 1

    def resize(self, cols: int, rows: int) -> None:
        cols, rows = max(2, cols), max(2, rows)
        with self._lock:
            if (cols, rows) != self.size:
                self.screen.resize(rows, cols)
                self.generation += 1

    @property
    def scrollback(self) -> int:
        with self._lock:
            return len(self.screen.history_top)

    @property
    def bracketed_paste(self) -> bool:
        return BRACKETED_PASTE in self.screen.mode

    @property
    def app_cursor(self) -> bool:
        return APP_CURSOR in self.screen.mode

    @staticmethod
    def _row(line: Any, cols: int) -> list[Cell]:
        cells = [line[x] for x in range(cols)]
        for x, cell in enumerate(cells):
            data = cell.data
            if not (data.isascii() and data.isprintable()) and data:
                safe = safe_char(data)
                if safe != data:
                    cells[x] = cell._replace(data=safe)
        return cells

    def view(self, offset: int = 0) -> tuple[list[list[Cell]], Cursor]:
        """The rows to show, ``offset`` lines back into the scrollback (0 = live screen)."""
        with self._lock:
            cols, rows = self.size
            top = list(self.screen.history_top)
            offset = max(0, min(offset, len(top)))
            lines: list[Any] = top[len(top) - offset :] if offset else []
            lines += [self.screen.buffer[y] for y in range(rows)]
            lines = lines[:rows]
            out = [self._row(line, cols) for line in lines]
            cur = self.screen.cursor
            y = cur.y + offset if cur.y + offset < rows else -1
            return out, Cursor(cur.x, y, not cur.hidden and offset == 0)

    def text(self, offset: int = 0) -> str:
        """The view as plain text (for tests and searching)."""
        rows, _ = self.view(offset)
        return "\n".join("".join(c.data for c in row).rstrip() for row in rows)

    def all_text(self) -> str:
        """Scrollback and screen as plain text, oldest first."""
        with self._lock:
            cols = self.screen.columns
            top = [self._row(line, cols) for line in self.screen.history_top]
        rows, _ = self.view(0)
        return "\n".join("".join(c.data for c in row).rstrip() for row in top + rows)
