"""A terminal emulator for guest consoles, on ``pyte`` (no VT parser of our own).

Guest output is untrusted. It only ever becomes *cells* here (character + colours + attributes);
the UI draws cells. Control and escape sequences (OSC 52 clipboard, window titles, OSC 8 links,
bracketed paste...) are consumed by pyte and never passed on; control characters that would
land in a cell are replaced. Queries the guest makes (cursor position ``ESC[6n``, device status,
device attributes) are answered through ``respond``.

No byte stream stops it: pyte raises on some malformed sequences (a private-mode cursor move,
erase-in-display with an out-of-range argument, a parameter of thousands of digits...); here
such a sequence is ignored as a terminal ignores it, and parsing goes on with the next byte. An
escape sequence that never ends is cut off after ``MAX_SEQUENCE`` characters, combining marks
stop piling on one cell after ``MAX_CELL`` characters and the cursor save stack is bounded, so
the state stays small whatever the guest sends.

Thread-safe: bytes are fed from a console's reader thread while the UI reads rows. ``feed``
parses ``SLICE`` bytes at a time and lets a waiting reader in between two slices, so the UI
never waits for more than one slice.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pyte
from pyte.screens import wcwidth

BRACKETED_PASTE = 2004 << 5  # pyte keeps private modes shifted by 5
APP_CURSOR = 1 << 5  # DECCKM, application cursor keys (pyte keeps the flag, has no name)
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
REPLACEMENT = "\ufffd"
MAX_CELL = 8  # characters in one cell: a base and its combining marks (more are dropped)
MAX_SEQUENCE = 65536  # characters of one escape sequence (an OSC that never ends is cut off)
MAX_SAVEPOINTS = 32  # ESC 7 cursor saves kept (the oldest go)
SLICE = 256  # bytes parsed while holding the lock (fewer while they are costly to parse)
MIN_SLICE = 16
BUSY, PAUSE = 0.004, 0.0005  # after parsing for BUSY seconds, sleep PAUSE (see Emulator.feed)


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

    ignored = 0  # operations ignored because pyte raised on them

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

    # pyte's erase and align without a Python loop per cell: a guest repeating ``ESC#8``
    # rewrote every cell per 3 bytes (2.1 s per 4 KiB at 80x24). Same results, except that the
    # E's of the alignment test have the default rendition. (A slice of costly sequences is
    # kept short by ``Emulator.feed``.)
    def erase_in_line(self, how: int = 0, private: bool = False) -> None:
        if how == 0:
            interval = range(self.cursor.x, self.columns)
        elif how == 1:
            interval = range(self.cursor.x + 1)
        elif how == 2:
            interval = range(self.columns)
        else:
            self.ignored += 1
            return
        self.dirty.add(self.cursor.y)
        self.buffer[self.cursor.y].update(dict.fromkeys(interval, self.cursor.attrs))

    def erase_in_display(self, how: int = 0, *args: Any, **kwargs: Any) -> None:
        if how == 0:
            interval = range(self.cursor.y + 1, self.lines)
        elif how == 1:
            interval = range(self.cursor.y)
        elif how in (2, 3):
            interval = range(self.lines)
        else:
            self.ignored += 1
            return
        self.dirty.update(interval)
        attrs = self.cursor.attrs
        for y in interval:
            line = self.buffer[y]
            line.update(dict.fromkeys(line, attrs))  # the cells it has (as pyte)
        if how in (0, 1):
            self.erase_in_line(how)

    def alignment_display(self) -> None:
        self.dirty.update(range(self.lines))
        cells = dict.fromkeys(range(self.columns), self.default_char._replace(data="E"))
        for y in range(self.lines):
            self.buffer[y].update(cells)

    def save_cursor(self) -> None:
        super().save_cursor()
        del self.savepoints[:-MAX_SAVEPOINTS]

    def draw(self, data: str) -> None:
        charset = self.g1_charset if self.charset else self.g0_charset
        if (
            not data.isascii()
            or not data.isprintable()
            or charset is not pyte.charsets.LAT1_MAP
            or pyte.modes.IRM in self.mode
        ):
            self._draw_any(data.translate(charset))
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

    def _draw_any(self, data: str) -> None:
        """pyte's ``draw`` (after the charset), except: at most ``MAX_CELL`` characters pile
        on one cell (pyte's grows without bound, each mark copying the cell: quadratic), and a
        zero-width or unprintable character is skipped (pyte drops the rest of the text)."""
        cursor = self.cursor
        for char in data:
            width = wcwidth(char)
            if width <= 0:
                if width == 0 and unicodedata.combining(char):
                    self._combine(char)
                continue
            if cursor.x >= self.columns:
                if pyte.modes.DECAWM in self.mode:
                    self.dirty.add(cursor.y)
                    self.carriage_return()
                    self.linefeed()
                else:
                    cursor.x = max(0, self.columns - width)
            if pyte.modes.IRM in self.mode:
                self.insert_characters(width)
            line = self.buffer[cursor.y]
            line[cursor.x] = cursor.attrs._replace(data=char)
            if width == 2 and cursor.x + 1 < self.columns:
                line[cursor.x + 1] = cursor.attrs._replace(data="")
            cursor.x = min(cursor.x + width, self.columns)
        self.dirty.add(cursor.y)

    def _combine(self, mark: str) -> None:
        """Put a combining mark on the cell before the cursor (on this or the line above)."""
        x, y = self.cursor.x, self.cursor.y
        if x:
            line, x = self.buffer[y], x - 1
        elif y:
            line, x = self.buffer[y - 1], self.columns - 1
        else:
            return
        last = line[x]
        if len(last.data) < MAX_CELL:
            line[x] = last._replace(data=unicodedata.normalize("NFC", last.data + mark))


def _tolerant(method: Callable[..., Any]) -> Callable[..., Any]:
    """A screen operation that ignores a call it cannot make sense of (pyte raises TypeError,
    UnboundLocalError... on malformed sequences), as a terminal ignores a sequence it does not
    know."""

    @functools.wraps(method)
    def call(self: _Screen, *args: Any, **kwargs: Any) -> None:
        try:
            method(self, *args, **kwargs)
        except Exception:  # the guest's bytes are untrusted: nothing in them may stop us
            self.ignored += 1

    return call


# Every operation the parser calls on the screen, by pyte's own tables.
for _name in {
    *pyte.Stream.basic.values(),
    *pyte.Stream.escape.values(),
    *pyte.Stream.sharp.values(),
    *pyte.Stream.csi.values(),
    "define_charset",
    "set_title",
    "set_icon_name",
}:
    setattr(_Screen, _name, _tolerant(getattr(_Screen, _name)))


class _Stream(pyte.ByteStream):
    """pyte's byte stream, except that nothing in the bytes stops it: an exception inside the
    parser (pyte resets it) skips the byte that caused it, and a sequence longer than
    ``MAX_SEQUENCE`` characters is abandoned (pyte would keep an unterminated OSC forever)."""

    def __init__(self, screen: _Screen) -> None:
        super().__init__(screen)
        self.in_sequence = 0  # characters of the escape sequence being parsed
        self.errors = 0

    def feed(self, data: bytes) -> None:  # type: ignore[override]  # (as pyte's ByteStream)
        text = self.utf8_decoder.decode(data) if self.use_utf8 else data.decode("latin-1")
        assert self.listener is not None
        send = self._send_to_parser
        draw = self.listener.draw
        match_text = self._text_pattern.match
        plain = self._taking_plain_text
        in_sequence = self.in_sequence
        offset, length = 0, len(text)
        while offset < length:
            if plain:
                match = match_text(text, offset)
                if match:
                    start, offset = match.span()
                    try:
                        draw(text[start:offset])
                    except Exception:
                        self.errors += 1
                else:
                    plain = False
                continue
            try:
                plain = send(text[offset])
            except Exception:  # pyte has reset its parser; go on after this character
                self.errors += 1
                plain = True
            offset += 1
            if plain:
                in_sequence = 0
            else:
                in_sequence += 1
                if in_sequence > MAX_SEQUENCE:
                    self._initialize_parser()
                    plain, in_sequence = True, 0
        self._taking_plain_text = plain
        self.in_sequence = in_sequence


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
        self._waiting = 0  # readers (the UI) waiting for the lock; the feeder lets them in
        self._waiting_lock = threading.Lock()
        self._respond = respond
        self.screen = _Screen(cols, rows, history, self._reply)
        self.stream = _Stream(self.screen)
        self.bytes_fed = 0
        self.generation = 0  # bumps on every change (the UI redraws when it moved)
        self._slice = SLICE
        self.longest_slice = 0.0  # seconds the lock was held at most by one slice
        self._busy = 0.0  # seconds parsed since the feeder last slept

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """The lock, for a reader: the feeder steps aside between two slices."""
        with self._waiting_lock:
            self._waiting += 1
        with self._lock:
            with self._waiting_lock:
                self._waiting -= 1
            yield

    @property
    def ignored(self) -> int:
        """Malformed sequences and characters ignored so far."""
        return self.screen.ignored + self.stream.errors

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
        """Parse guest output, at most ``SLICE`` bytes at a time (fewer while they are costly),
        and step aside between slices: a reader waiting for the lock gets it (a lock is not
        fair: the feeder would take it straight back), and after ``BUSY`` seconds of parsing
        the feeder sleeps a moment so that the UI thread gets Python's GIL at once instead of
        after the interpreter's 5 ms switch interval, each time it wakes up."""
        start, end = 0, len(data)
        while start < end:
            part = data[start : start + self._slice]
            start += len(part)
            with self._lock:
                t0 = time.perf_counter()
                self.stream.feed(part)
                took = time.perf_counter() - t0
                self.bytes_fed += len(part)
                self.generation += 1
                self.longest_slice = max(self.longest_slice, took)
            # Some sequences cost a whole screen's worth of cells for 3 bytes: keep each
            # slice near 1 ms by parsing fewer bytes at a time while they are that costly.
            if took > 0.002:
                self._slice = max(MIN_SLICE, int(len(part) * 0.001 / took))
            elif took < 0.0005 and self._slice < SLICE:
                self._slice = min(SLICE, self._slice * 2)
            self._busy += took
            if self._busy > BUSY:
                self._busy = 0.0
                time.sleep(PAUSE)
            for _ in range(100):  # at most ~20 ms, should a reader never come
                if not self._waiting:
                    break
                time.sleep(0.0002)

    def resize(self, cols: int, rows: int) -> None:
        cols, rows = max(2, cols), max(2, rows)
        with self._reading():
            if (cols, rows) != self.size:
                self.screen.resize(rows, cols)
                self.generation += 1

    @property
    def scrollback(self) -> int:
        with self._reading():
            return len(self.screen.history_top)

    @property
    def bracketed_paste(self) -> bool:
        return BRACKETED_PASTE in self.screen.mode

    @property
    def app_cursor(self) -> bool:
        return APP_CURSOR in self.screen.mode

    @staticmethod
    def _row(line: Any, cols: int) -> list[Cell]:
        get, default = line.get, line.default  # (not pyte's __missing__ per empty cell)
        cells = [get(x, default) for x in range(cols)]
        text = "".join([cell[0] for cell in cells])
        if text.isascii() and text.isprintable():
            return cells  # the common case, checked at once
        for x, cell in enumerate(cells):
            data = cell.data
            if not (data.isascii() and data.isprintable()) and data:
                safe = safe_char(data)
                if safe != data:
                    cells[x] = cell._replace(data=safe)
        return cells

    def view(self, offset: int = 0) -> tuple[list[list[Cell]], Cursor]:
        """The rows to show, ``offset`` lines back into the scrollback (0 = live screen)."""
        with self._reading():
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
        with self._reading():
            cols = self.screen.columns
            top = [self._row(line, cols) for line in self.screen.history_top]
        rows, _ = self.view(0)
        return "\n".join("".join(c.data for c in row).rstrip() for row in top + rows)
