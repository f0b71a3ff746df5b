"""The real program quits when its terminal hangs up (the ssh session drops, the window
closes), with or without a SIGHUP: never left behind spinning on a dead terminal."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.conftest import host_uri
from vmtui.term import hangup

ROOT = Path(__file__).resolve().parents[2]


def test_a_terminal_whose_other_end_closed_has_hung_up() -> None:
    master, slave = os.openpty()
    try:
        assert not hangup.hung_up(slave)
        os.close(master)
        assert hangup.hung_up(slave)
    finally:
        os.close(slave)


def _take_as_controlling_terminal() -> None:
    # In the child: a new session whose controlling terminal is the pty (stdin), as a login
    # shell's is, so the kernel sends it SIGHUP when the other end closes.
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@pytest.mark.parametrize("sighup", [True, False], ids=["sighup", "no-sighup"])
def test_vmtui_quits_when_its_terminal_hangs_up(sighup: bool, tmp_path: Path) -> None:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "VMTUI_CONFIG": str(tmp_path / "c.toml")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vmtui", "-c", host_uri("small_host")],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=ROOT,
        env=env,
        # without a controlling terminal, nothing sends SIGHUP: only the input hangs up
        preexec_fn=_take_as_controlling_terminal if sighup else None,
        start_new_session=not sighup,
    )
    os.close(slave)
    try:
        output = b""
        deadline = time.monotonic() + 60
        while b"Connected to" not in output:
            assert proc.poll() is None, output[-2000:]
            assert time.monotonic() < deadline, f"never drawn: {output[-2000:]!r}"
            if select.select([master], [], [], 0.2)[0]:
                output += os.read(master, 65536)
        os.close(master)  # the terminal goes away
        master = -1
        assert proc.wait(timeout=60) == hangup.EXIT_CODE
    finally:
        if master >= 0:
            os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
