"""ssh into a guest for real: the program on a pty, the project's loopback sshd standing in
for the guest's address (the test driver host tests/data/inside_host.xml gives guest ``web``
the lease address 127.0.0.1). ``w`` suspends the app, ssh logs in, ``exit`` hands the
terminal back, and the dashboard is as it was (the mark on ``mail`` still there); the ssh
command line is in the activity log."""

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

from .test_ssh_connection import SshServer, sshd  # noqa: F401 (the module's sshd fixture)

ROOT = Path(__file__).resolve().parents[2]


class Pty:
    """``python -m vmtui`` on a pseudo-terminal of 160x40 cells."""

    def __init__(self, argv: list[str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("VMTUI_GRAPHICS", "SSH_AUTH_SOCK")}
        env.update(TERM="xterm-256color", VMTUI_GRAPHICS="off")
        self.proc = subprocess.Popen(
            argv,
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
        threading.Thread(target=self._read, daemon=True).start()

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
                if b"\x1b[c" in data:  # the start-up's DA1 question: answer as a plain VT
                    os.write(self.master, b"\x1b[?62;22c")

    def mark(self) -> int:
        with self._lock:
            return len(self.output)

    def since(self, mark: int) -> bytes:
        with self._lock:
            return bytes(self.output[mark:])

    def wait_for(self, pattern: bytes, mark: int = 0, timeout: float = 60) -> None:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while not regex.search(self.since(mark)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"{pattern!r} never appeared; last output: {self.since(mark)[-3000:]!r}"
                )
            time.sleep(0.05)

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.type(b"q")
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
        os.close(self.master)


@pytest.fixture
def app_on_pty(sshd: SshServer, tmp_path: Path) -> Iterator[Pty]:  # noqa: F811
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(
        "Host 127.0.0.1\n"
        f"  Port {sshd.port}\n"
        f"  IdentityFile {sshd.key}\n"
        "  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {tmp_path / 'known_hosts'}\n"
        # this test's own choice for its throwaway host key; vmtui passes no such option
        "  StrictHostKeyChecking accept-new\n"
        "  LogLevel ERROR\n"
    )
    config = tmp_path / "config.toml"
    config.write_text(f'[ssh]\nuser = "root"\noptions = ["-F", "{ssh_config}"]\n')
    pty = Pty(
        [
            sys.executable,
            "-m",
            "vmtui",
            "--config",
            str(config),
            "-c",
            host_uri("inside_host"),
            "--interval",
            "0.5",
        ]
    )
    try:
        yield pty
    finally:
        pty.close()


def test_ssh_suspends_the_app_logs_in_and_comes_back(app_on_pty: Pty) -> None:
    pty = app_on_pty
    pty.wait_for(rb"127\.0\.0\.1")  # the IP column: web's lease address
    pty.type(b"j")  # bare -> mail
    time.sleep(0.3)
    pty.type(b" ")  # mark mail
    pty.wait_for(b"\xe2\x96\xb8mail")  # the mark
    pty.type(b"G")  # the last guest: web
    time.sleep(0.3)
    mark = pty.mark()
    pty.type(b"w")
    # ssh takes the terminal: the app left the alternate screen
    pty.wait_for(rb"\x1b\[\?1049l", mark, timeout=30)
    time.sleep(1.5)  # ssh connects and the remote shell starts
    pty.type(b"echo VMTUI-IN-GUEST-$((6*7))\n")
    pty.wait_for(b"VMTUI-IN-GUEST-42", mark, timeout=30)
    back = pty.mark()
    pty.type(b"exit\n")
    pty.wait_for(rb"\x1b\[\?1049h", back, timeout=30)  # the app took the screen again
    pty.wait_for(b"\xe2\x96\xb8mail", back, timeout=30)  # redrawn, the mark kept
    assert pty.proc.poll() is None
    log = pty.mark()
    pty.type(b"L")
    pty.wait_for(rb"ssh -F \S+ root@127\.0\.0\.1", log, timeout=30)
    pty.wait_for(rb"exited with 0", log, timeout=30)
