"""The real program under a pseudo-terminal that answers like a sixel, a kitty or a plain
terminal: the guest's screen goes out as sixel (ESC P ... q) or kitty graphics (ESC _G)
only when the terminal said it shows them."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import host_uri
from vmtui.term import graphics

ROOT = Path(__file__).resolve().parents[2]
SIXEL = re.compile(rb"\x1bP[0-9;]*q")
KITTY = re.compile(rb"\x1b_G")


class FakeTerminal:
    """Runs ``python -m vmtui`` on a pty (100x36 cells of 10x20 pixels) and answers the
    start-up queries as the chosen kind of terminal would."""

    def __init__(self, kind: str, uri: str) -> None:
        self.kind = kind
        self.output = bytearray()
        self.answered: list[str] = []
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 100, 1000, 720))
        env = {k: v for k, v in os.environ.items() if k != "VMTUI_GRAPHICS"}
        env.update(TERM="xterm-256color", COLORTERM="truecolor")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vmtui", "-c", uri],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self.output += data
                if not self.answered and b"\x1b[c" in self.output:
                    self._answer()

    def _answer(self) -> None:
        self.answered.append(self.kind)
        if self.kind == "silent":
            return  # a terminal that answers nothing at all
        replies = []
        if self.kind == "kitty" and b"\x1b_Gi=31" in self.output:
            replies.append(b"\x1b_Gi=31;OK\x1b\\")
        da1 = {"sixel": b"\x1b[?62;4;22c"}.get(self.kind, b"\x1b[?62;22c")
        replies.append(da1)
        os.write(self.master, b"".join(replies))

    def mark(self) -> int:
        with self._lock:
            return len(self.output)

    def since(self, mark: int) -> bytes:
        with self._lock:
            return bytes(self.output[mark:])

    def wait_for(self, pattern: re.Pattern[bytes], mark: int = 0, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not pattern.search(self.since(mark)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.since(mark)[-2000:]
                raise AssertionError(f"{pattern.pattern!r} never appeared; last output: {tail!r}")
            time.sleep(0.05)

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.type(b"\x1d")  # ctrl+] leaves the screen
            time.sleep(0.3)
            self.type(b"q")
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
        os.close(self.master)


@pytest.fixture
def terminal(request: pytest.FixtureRequest) -> Iterator[FakeTerminal]:
    term = FakeTerminal(request.param, host_uri("small_host"))
    try:
        yield term
    finally:
        term.close()


def show_alpha_screen(term: FakeTerminal) -> int:
    """Open the screen of alpha (running, with a VNC display): the first row, where the
    cursor starts."""
    # connected, and every guest's details read (no "· reading N guests' details" after it)
    term.wait_for(re.compile(rb"Connected to[^\x1b]*3 running\x1b"))
    mark = term.mark()
    term.type(b"v")
    term.wait_for(re.compile(rb"screen \xc2\xb7"), mark)  # the display bar: "screen · <mode>"
    return mark


@pytest.mark.parametrize("terminal", ["sixel"], indirect=True)
def test_a_sixel_terminal_gets_sixel_pictures(terminal: FakeTerminal) -> None:
    mark = show_alpha_screen(terminal)
    terminal.wait_for(SIXEL, mark)
    assert b"sixel" in terminal.since(mark)  # the bar names the mode


@pytest.mark.parametrize("terminal", ["kitty"], indirect=True)
def test_a_kitty_terminal_gets_kitty_graphics(terminal: FakeTerminal) -> None:
    mark = show_alpha_screen(terminal)
    terminal.wait_for(KITTY, mark)
    assert not SIXEL.search(terminal.since(mark))
    leaving = terminal.mark()
    terminal.type(b"\x1d")  # ctrl+] back to the dashboard: the image is deleted in the terminal
    terminal.wait_for(re.compile(rb"\x1b_Ga=d,I=[0-9]+"), leaving)


@pytest.mark.parametrize("terminal", ["plain", "silent"], indirect=True)
def test_a_plain_or_silent_terminal_gets_half_blocks_only(terminal: FakeTerminal) -> None:
    mark = show_alpha_screen(terminal)
    terminal.wait_for(re.compile("▀".encode()), mark)  # the picture, as half-block cells
    time.sleep(1.5)  # a few refreshes
    shown = terminal.since(mark)
    assert b"half-blocks" in shown
    assert not SIXEL.search(shown) and not KITTY.search(shown)


def test_replies_are_read_as_the_terminal_meant_them() -> None:
    assert graphics.parse_replies("\x1b[6;20;10t\x1b[?62;4;22c") == ("sixel", (10, 20))
    assert graphics.parse_replies("\x1b_Gi=31;OK\x1b\\\x1b[?62;22c") == ("kitty", None)
    assert graphics.parse_replies("\x1b_Gi=31;ENOENT\x1b\\\x1b[?62;22c") == (None, None)
    assert graphics.parse_replies("\x1b[?1;2c") == (None, None)  # "4" alone means sixel
    assert graphics.parse_replies("") == (None, None)
