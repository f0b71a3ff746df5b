"""No byte stream stops a console's emulator, nor makes its state grow without bound.

The sequences below each raised inside pyte 0.8.2 (found by fuzzing it): before, one of them
ended the console's feeder thread. Hypothesis then throws random and hostile streams at it.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmtui.backend import terminal
from vmtui.backend.terminal import MAX_CELL, MAX_SAVEPOINTS, SLICE, Emulator, safe_char

# Each raised in pyte 0.8.2 (TypeError, UnboundLocalError or ValueError).
RAISING = [
    b"\x1b[9J",  # erase in display, out-of-range argument
    b"\x1b[>9K",  # erase in line, out-of-range argument
    b"\x1b[?5A",  # private-mode cursor up
    b"\x1b[?2;2C",  # private-mode cursor forward
    b"\x1b[1;5a",  # cursor forward with two arguments
    b"\x1b[?H",  # private-mode cursor position
    b"\x1b[>4;0;2;3H",  # cursor position with four arguments
    b"\x1b[?5;0r",  # private-mode margins
    b"\x1b[>5;999;9;5r",  # margins with four arguments
    b"\x1b[?G",  # private-mode cursor to column
    b"\x1b[0;0;n",  # device status report with three arguments
    b"\x1b[3;1;1;99c",  # device attributes with four arguments
    b"\x1b[?0;9;999m",  # private-mode SGR
    b"\x1b[?9;99;2 J",  # private erase in display, out of range
    b"\x1b[0;2'X",  # a quote as final byte with two arguments
    b"\x1b[" + b"1" * 5000 + b"m",  # a parameter of 5,000 digits (int() refuses it)
]

# Whatever state hostile bytes left the parser in, this ends it and shows the next text.
RESET_TAIL = b"\x07\x18\x07\x18\x1b%@\x1b(B\x1b)B\x0f\x1b%G\x1b[0m\r\n"


def emulator() -> Emulator:
    return Emulator(20, 5, history=50, respond=lambda _b: None)


def alive(emu: Emulator, mark: str = "MARK") -> bool:
    emu.feed(RESET_TAIL + mark.encode())
    return mark in emu.text()


@pytest.mark.parametrize("sequence", RAISING, ids=lambda s: repr(s[:16]))
def test_a_malformed_sequence_is_ignored_and_the_rest_still_shows(sequence: bytes) -> None:
    emu = emulator()
    emu.feed(b"before" + sequence + b"after\r\n")
    assert "after" in emu.all_text()
    assert emu.ignored >= 1
    assert alive(emu)


def test_every_raising_sequence_in_one_chunk_keeps_every_piece_of_text() -> None:
    emu = Emulator(40, 40, history=100)
    emu.feed(b"".join(b"\r\nline%d " % i + seq for i, seq in enumerate(RAISING)) + b"\r\nend")
    lines = {line.split(" ")[0] for line in emu.all_text().splitlines()}
    assert {f"line{i}" for i in range(len(RAISING))} <= lines
    assert "end" in lines


def test_an_escape_sequence_that_never_ends_is_cut_off() -> None:
    """An OSC without its terminator kept everything after it (and all of it in memory)."""
    emu = emulator()
    emu.feed(b"\x1b]0;" + b"x" * (terminal.MAX_SEQUENCE + 10) + b"\r\nvisible")
    assert "visible" in emu.text()
    assert emu.stream.in_sequence <= terminal.MAX_SEQUENCE


def test_combining_marks_stop_piling_on_one_cell() -> None:
    emu = emulator()
    emu.feed(("a" + "\u0301\u0302" * 20_000).encode())
    emu.feed(("b" + "".join("\u0300\x1b[m" for _ in range(1000))).encode())  # one by one
    rows, _ = emu.view()
    assert rows[0][0].data.startswith("á")
    assert len(rows[0][0].data) <= MAX_CELL
    assert rows[0][1].data.startswith("b") and len(rows[0][1].data) <= MAX_CELL


def test_zero_width_characters_no_longer_drop_the_rest_of_the_text() -> None:
    emu = emulator()
    emu.feed("a\u200bb\x85c\u2060d".encode())  # ZWSP, a C1 control, word joiner
    assert emu.text().splitlines()[0] == "abcd"


def test_cursor_saves_are_bounded() -> None:
    emu = emulator()
    emu.feed(b"\x1b7" * 10_000)
    assert len(emu.screen.savepoints) <= MAX_SAVEPOINTS
    emu.feed(b"\x1b[3;3H\x1b7\x1b[H\x1b8x")
    assert emu.text().splitlines()[2] == "  x"


def test_feed_parses_in_slices_and_lets_a_reader_in_between() -> None:
    """The lock is held for one slice at a time, and a waiting reader gets it (the UI's
    ``view()`` used to wait for a whole batch of up to 16 MB)."""
    emu = Emulator(80, 24)
    sizes: list[int] = []
    events: list[str] = []
    feed = emu.stream.feed
    reader_started = threading.Event()

    def reader() -> None:
        reader_started.set()
        emu.view()
        events.append("view")

    def recording_feed(data: bytes) -> None:
        sizes.append(len(data))
        events.append("slice")
        if len(sizes) == 1:
            threading.Thread(target=reader, daemon=True).start()
            reader_started.wait(5)
            threading.Event().wait(0.05)  # let the reader block on the lock
        feed(data)

    emu.stream.feed = recording_feed  # type: ignore[method-assign]
    emu.feed(b"0123456789abcdef\r\n" * 60_000)  # ~1 MB
    assert max(sizes) <= SLICE
    assert "view" in events and events.index("view") < len(events) - 1, (
        "the reader only got the lock once everything was parsed"
    )


# ---------------------------------------------------------------- hypothesis

_PRIVATE = st.sampled_from(["", "?", ">", "<", "=", "!"])
_PARAM = st.one_of(
    st.integers(0, 12).map(str),
    st.sampled_from(["", "99", "999", "9999", "99999", "1099511627776"]),
)
_FINAL = st.sampled_from([chr(c) for c in range(0x40, 0x7F)])
_INTER = st.sampled_from(["", "", " ", "$", '"', "'", "!"])


@st.composite
def _csi(draw: Any) -> bytes:
    params = ";".join(draw(st.lists(_PARAM, max_size=5)))
    return f"\x1b[{draw(_PRIVATE)}{params}{draw(_INTER)}{draw(_FINAL)}".encode()


_PIECE = st.one_of(
    _csi(),
    st.sampled_from(
        [
            b"\x1b7",
            b"\x1b8",
            b"\x1b#8",
            b"\x1bc",
            b"\x1bD",
            b"\x1bM",
            b"\x1bE",
            b"\x1b%@",
            b"\x1b%G",
            b"\x1b(0",
            b"\x1b)0",
            b"\x0e",
            b"\x0f",
            b"\x1b[?3h",
            b"\x1b[?3l",
            b"\x1b[?6h",
            b"\x1b[?7l",
            b"\x1b[4h",
            b"\x1b[2;3r",
            b"\x1b]0;title\x07",
            b"\x1b]52;c;QUJD\x1b\\",
            b"\x1b]8;;http://x.invalid/\x07",
            b"\x1b]",
            b"\x1b[",
            b"\x1b",
            b"\x9b",
            b"\x9d",
            b"\x85",
            b"\r\n",
            b"\t",
            b"\x08",
            "\u0301\u0301\u0301".encode(),
            "\u202e".encode(),
            "中".encode(),
            b"\xff\xfe",
            b"\xe4\xb8",
        ]
    ),
    st.text(max_size=8).map(str.encode),
    st.binary(max_size=8),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000), st.integers(1, 64))
def test_random_bytes_never_stop_the_emulator(data: bytes, chunk: int) -> None:
    emu = emulator()
    for i in range(0, len(data), chunk):
        emu.feed(data[i : i + chunk])
    assert alive(emu)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECE, max_size=120), st.integers(1, 64))
def test_hostile_streams_never_stop_the_emulator_nor_grow_its_state(
    pieces: list[bytes], chunk: int
) -> None:
    emu = emulator()
    data = b"".join(pieces)
    for i in range(0, len(data), chunk):
        emu.feed(data[i : i + chunk])
    assert len(emu.screen.savepoints) <= MAX_SAVEPOINTS
    for line in emu.screen.buffer.values():
        assert all(len(cell.data) <= MAX_CELL for cell in line.values())
    rows, _ = emu.view()
    assert all(safe_char(c.data) == c.data for row in rows for c in row)
    assert alive(emu)
