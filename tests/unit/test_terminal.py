"""The console's terminal emulator: what the guest prints becomes cells, nothing else."""

from __future__ import annotations

import random

import pyte
import pytest

from vmtui.backend.terminal import REPLACEMENT, Emulator, safe_char
from vmtui.widgets.terminal import key_bytes, row_segments


def emulator() -> tuple[Emulator, list[bytes]]:
    replies: list[bytes] = []
    return Emulator(20, 5, history=100, respond=replies.append), replies


def test_text_and_colours_become_cells() -> None:
    emu, _ = emulator()
    emu.feed(b"plain \x1b[1;31mred\x1b[0m")
    rows, cursor = emu.view()
    assert "".join(c.data for c in rows[0]).rstrip() == "plain red"
    red = rows[0][6]
    assert (red.data, red.fg, red.bold) == ("r", "red", True)
    assert (cursor.x, cursor.y) == (9, 0)


def test_osc_title_clipboard_and_hyperlinks_are_swallowed() -> None:
    emu, replies = emulator()
    emu.feed(b"\x1b]52;c;RVZJTA==\x07\x1b]0;EVIL\x07\x1b]8;;http://x.invalid/\x07link\x1b]8;;\x07")
    assert emu.text().splitlines()[0] == "link"
    assert emu.screen.title == ""
    assert replies == []


def test_cursor_position_and_device_queries_are_answered() -> None:
    emu, replies = emulator()
    emu.feed(b"ab\r\ncd\x1b[6n\x1b[c\x1b[5n")
    assert replies == [b"\x1b[2;3R", b"\x1b[?6c", b"\x1b[0n"]


def test_control_characters_never_reach_a_cell() -> None:
    assert safe_char("\x9b") == REPLACEMENT  # C1 CSI
    assert safe_char("\u202e") == REPLACEMENT  # right-to-left override
    assert safe_char("é") == "é"
    emu, _ = emulator()
    emu.feed("x\u202ey\x9b31m".encode())
    assert "\u202e" not in emu.all_text() and "\x9b" not in emu.all_text()


def test_scrollback_keeps_what_scrolled_off_and_is_bounded() -> None:
    emu, _ = emulator()
    for i in range(300):
        emu.feed(f"line {i}\r\n".encode())
    assert emu.scrollback == 100
    assert emu.text(offset=0).splitlines()[-1] == "line 299"
    back = emu.text(offset=100).splitlines()
    assert back[0] == "line 196"
    assert "line 299" in emu.all_text()


def test_clear_screen_keeps_the_emulator_usable() -> None:
    emu, _ = emulator()
    emu.feed(b"before\x1b[2J\x1b[Hafter")
    assert emu.text().splitlines()[0] == "after"


@pytest.mark.parametrize("seed", range(25))
def test_fast_ascii_path_draws_exactly_like_pyte(seed: int) -> None:
    """Random text, wraps, colours, cursor moves, insert mode and line-drawing charset."""
    rnd = random.Random(seed)
    pieces = [
        b"hello world ",
        b"x" * 37,
        b"\r\n",
        b"\n",
        b"\r",
        b"\x1b[31m",
        b"\x1b[0m",
        b"\x1b[1;44m",
        b"\x1b[5;3H",
        b"\x1b[K",
        b"\x1b[2J",
        b"\x1b[4h",
        b"\x1b[4l",
        b"\x1b(0lqk\x1b(B",
        b"\x1b[?7l",
        b"\x1b[?7h",
        "é中".encode(),
        b"\t",
        b"\x1b[2;4r",
        b"\x1b[r",
        b"\x1bM",
        b"\x1b[3P",
    ]
    data = b"".join(rnd.choice(pieces) for _ in range(200))
    ours = Emulator(23, 7, history=10)
    ref = pyte.Screen(23, 7)
    ours.feed(data)
    pyte.ByteStream(ref).feed(data)
    for y in range(7):
        assert [ours.screen.buffer[y][x] for x in range(23)] == [
            ref.buffer[y][x] for x in range(23)
        ], f"row {y} differs for seed {seed}"
    assert (ours.screen.cursor.x, ours.screen.cursor.y) == (ref.cursor.x, ref.cursor.y)


@pytest.mark.parametrize(
    ("key", "char", "app_cursor", "expected"),
    [
        ("a", "a", False, b"a"),
        ("enter", "\r", False, b"\r"),
        ("up", None, False, b"\x1b[A"),
        ("up", None, True, b"\x1bOA"),
        ("ctrl+c", None, False, b"\x03"),
        ("ctrl+a", None, False, b"\x01"),
        ("f1", None, False, b"\x1bOP"),
        ("f12", None, False, b"\x1b[24~"),
        ("pageup", None, False, b"\x1b[5~"),
        ("home", None, False, b"\x1b[H"),
        ("alt+x", "x", False, b"\x1bx"),
        ("backspace", None, False, b"\x7f"),
        ("dollar_sign", "$", False, b"$"),
        ("shift+tab", None, False, b"\x1b[Z"),
    ],
)
def test_keys_become_the_bytes_a_terminal_sends(
    key: str, char: str | None, app_cursor: bool, expected: bytes
) -> None:
    assert key_bytes(key, char, app_cursor) == expected


def test_wide_characters_take_two_columns_once() -> None:
    emu, _ = emulator()
    emu.feed("中x".encode())
    rows, _ = emu.view()
    text = "".join(seg.text for seg in row_segments(rows[0], None))
    assert text.startswith("中x")


def test_rows_become_runs_of_one_style_and_the_cursor_cell_is_reversed() -> None:
    emu, _ = emulator()
    emu.feed(b"ab\x1b[31mcd\x1b[0mef")
    rows, _ = emu.view()
    segments = row_segments(rows[0][:6], 3)
    assert [s.text for s in segments] == ["ab", "c", "d", "ef"]
    assert segments[1].style is not None and segments[1].style.color is not None
    assert segments[1].style.color.number == 1 and not segments[1].style.reverse
    assert segments[2].style is not None and segments[2].style.reverse
    assert segments[0].style == segments[3].style
