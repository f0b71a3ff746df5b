"""A hostile guest: the real app in a real pty must never pass the guest's control sequences on.

The guest's init prints OSC 52 (clipboard), OSC 0 (window title), an OSC 8 hyperlink, a full
clear, bracketed-paste-on and a 1 MB burst (``vmtui.hostile`` in tinyguest.py). We read every
byte vmtui writes to its terminal and look for them; then we make the guest print escape
sequences pyte raises on, and expect the answer to a command after them.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import libvirt
import pytest

from .helpers import ROOT
from .waiting import wait_until

URI = "qemu:///system"
CSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]")


class PtyApp:
    """vmtui running in a pseudo-terminal; ``output`` is every byte it wrote."""

    def __init__(self, args: list[str], cols: int = 100, rows: int = 30) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(cols), LINES=str(rows))
        env.pop("NO_COLOR", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vmtui", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.output = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.2)
                if ready:
                    data = os.read(self.master, 65536)
                    if not data:
                        return
                    with self._lock:
                        self.output += data
            except OSError:
                return
            if self.proc.poll() is not None and not ready:
                return

    def snapshot(self) -> bytes:
        with self._lock:
            return bytes(self.output)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait_for(self, predicate: Callable[[bytes], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.snapshot()):
            if self.proc.poll() is not None:
                raise AssertionError(f"vmtui exited ({self.proc.returncode}) waiting for {what}")
            if time.monotonic() > deadline:
                tail = CSI.sub(b"", self.snapshot()[-3000:])
                raise AssertionError(f"no {what} within {timeout} s; screen tail: {tail!r}")
            time.sleep(0.1)

    def close(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        os.close(self.master)
        return self.proc.returncode


@pytest.fixture
def hostile_guest(libvirt_conn: Any, tiny_domain_factory: Callable[..., str]) -> Iterator[str]:
    name = tiny_domain_factory("hostile", extra_cmdline="vmtui.hostile")
    libvirt_conn.lookupByName(name).createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
    yield name


def test_hostile_output_never_reaches_the_terminal_raw(
    libvirt_conn: Any, hostile_guest: str
) -> None:
    app = PtyApp(["-c", URI, "--console", hostile_guest, "--interval", "1"])
    try:
        # Attached while the guest is paused (QEMU drops serial output nobody reads) ...
        app.wait_for(lambda out: b"connected" in CSI.sub(b"", out), 60, "console attached")
        libvirt_conn.lookupByName(hostile_guest).resume()
        # ... the guest prints its worst, then a marker after the 1 MB burst.
        app.wait_for(lambda out: b"VMTUI-HOSTILE-DONE" in out, 180, "the end of the burst")
        out = app.snapshot()
        for needle in (
            b"\x1b]52",  # clipboard write
            b"Vk1UVUktQ0xJUEJPQVJE",  # its payload
            b"VMTUI-EVIL-TITLE",  # window title
            b"evil.invalid",  # hyperlink target
            b"\x1b]8;",  # any hyperlink at all
            b"\x1b[200~",  # bracketed paste markers
        ):
            assert needle not in out, f"{needle!r} reached the terminal"
        # The printable text does show (frames coalesce during the burst, so lines that scroll
        # away within one frame may never be drawn; the burst's own lines always are).
        assert b"VMTUI-BURST-0123456789-abcdefghijklmnopqrstuvwxyz" in out
        # Still responsive after sequences pyte raises on (each one used to end the console's
        # feeder thread: the console showed "connected" and never changed again): type a
        # command that prints them, then see its answer.
        mark = len(out)
        app.write(b"\r")
        app.write(
            b"printf '\\033[9J\\033[?5A\\033[1;5a\\033[>4;0;2;3H\\033[0;0;n'; echo $((6*7))\r"
        )
        app.wait_for(
            lambda o: re.search(rb"(?<![0-9])42(?![0-9])", CSI.sub(b"", o[mark:])) is not None,
            60,
            "the answer 42",
        )
        app.write(b"\x1d")  # ctrl+] detaches
        time.sleep(0.5)
        app.write(b"q")
        wait_until(lambda: app.proc.poll() is not None, 15)
        assert app.proc.returncode == 0, CSI.sub(b"", app.snapshot()[-2000:])
        assert b"Traceback" not in app.snapshot()
    finally:
        app.close()
