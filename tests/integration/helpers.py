"""Helpers for driving the real app (``VmtuiApp`` + ``Pilot``) against a real libvirtd.

* :func:`wait_for` polls a predicate with a deadline while the app keeps running (never a
  fixed sleep followed by an assert), and fails early if the app crashed.
* :class:`AppWatch` is a ``run_test(message_hook=...)`` hook that records every notification
  and every worker that ended in an error, so a test can prove "no traceback anywhere".
* :func:`stop_libvirtd` / :func:`start_libvirtd` take the system daemon down and bring it
  back (``scripts/ensure-libvirtd.sh``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.message import Message
from textual.notifications import Notification, Notify
from textual.pilot import Pilot
from textual.worker import Worker, WorkerState

from vmtui.app import VmtuiApp
from vmtui.screens.dashboard import DashboardScreen
from vmtui.widgets.guest_table import GuestTable
from vmtui.widgets.status_line import StatusLine

from .waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
LIBVIRTD_PIDFILE = Path("/run/libvirtd.pid")


# ---------------------------------------------------------------------------- waiting


def describe_app(app: VmtuiApp, uuid: str | None = None) -> str:
    """What the app shows right now (for failure messages)."""
    symbol, sentence, _style = app.status()
    parts = [f"status={symbol} {sentence!r}", f"screen={type(app.screen).__name__}"]
    if uuid is not None:
        parts.append(f"row={shown_row(app, uuid)!r}")
    parts.append(f"polls={app.polls}")
    return ", ".join(parts)


async def wait_for(
    pilot: Pilot[None],
    predicate: Callable[[], bool],
    timeout: float = 60.0,
    *,
    what: str = "condition",
    describe: Callable[[], str] | None = None,
) -> float:
    """Let the app run until ``predicate()`` holds; return the seconds it took.

    Fails with ``what`` (and ``describe()``, if given) after ``timeout`` seconds, and at
    once if the app died of an exception.
    """
    app = pilot.app
    started = time.monotonic()
    deadline = started + timeout
    while True:
        if app._exception is not None:
            raise AssertionError(f"the app crashed while waiting for {what}") from app._exception
        if predicate():
            return time.monotonic() - started
        if time.monotonic() > deadline:
            detail = f" ({describe()})" if describe is not None else ""
            raise AssertionError(f"{what}: not seen within {timeout:g}s{detail}")
        await pilot.pause(0.1)


# ---------------------------------------------------------------------------- the screen


def dashboard(app: VmtuiApp) -> DashboardScreen:
    """The dashboard screen, even while a modal (confirm, no-daemon) is on top of it."""
    for screen in app.screen_stack:
        if isinstance(screen, DashboardScreen):
            return screen
    raise AssertionError(f"no dashboard in the screen stack {app.screen_stack!r}")


def guest_table(app: VmtuiApp) -> GuestTable:
    return dashboard(app).query_one(GuestTable)


def status_text(app: VmtuiApp) -> str:
    """The dashboard's status line as drawn (symbol and sentence)."""
    return dashboard(app).query_one(StatusLine).plain


def shown_row(app: VmtuiApp, uuid: str) -> tuple[str, ...] | None:
    """The cell texts of the guest's row in the table, or None when it has no row."""
    return guest_table(app).shown_text(uuid)


def shown_state(app: VmtuiApp, uuid: str) -> str | None:
    row = shown_row(app, uuid)
    return row[1] if row is not None else None


def shown_cpu(app: VmtuiApp, uuid: str) -> str | None:
    row = shown_row(app, uuid)
    return row[3] if row is not None else None


def cpu_figure(text: str | None) -> float | None:
    """The CPU% cell as a number (None for the dash shown when there is no figure)."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def select_guest(app: VmtuiApp, uuid: str) -> None:
    table = guest_table(app)
    table.move_cursor(row=table.get_row_index(uuid), animate=False)
    assert table.selected_uuid == uuid


# ---------------------------------------------------------------------------- watching


class AppWatch:
    """A ``message_hook`` that records notifications and workers that failed."""

    def __init__(self) -> None:
        self.notifications: list[Notification] = []
        self.worker_errors: list[tuple[str, BaseException | None]] = []
        self.counts: Counter[str] = Counter()  # message class name -> how many

    def __call__(self, message: Message) -> None:
        self.counts[type(message).__name__] += 1
        if isinstance(message, Notify):
            self.notifications.append(message.notification)
        elif isinstance(message, Worker.StateChanged) and message.state is WorkerState.ERROR:
            worker = message.worker
            entry = (worker.description or worker.name, worker.error)
            if entry not in self.worker_errors:
                self.worker_errors.append(entry)

    def errors(self) -> list[str]:
        """The messages of error notifications (what the user was told went wrong)."""
        return [n.message for n in self.notifications if n.severity == "error"]

    def messages(self) -> list[str]:
        return [n.message for n in self.notifications]

    def assert_no_worker_errors(self) -> None:
        assert not self.worker_errors, f"workers ended in an exception: {self.worker_errors!r}"


def assert_exited_cleanly(app: VmtuiApp, watch: AppWatch) -> None:
    """After ``run_test()`` ended: no exception, no panic, no worker traceback."""
    assert app._exception is None, f"the app died of {app._exception!r}"
    # Textual sets return code 1 when an unhandled exception ends the app; a plain shutdown
    # from run_test() leaves it unset (or 0).
    assert app.return_code in (None, 0), f"return code {app.return_code}"
    watch.assert_no_worker_errors()


# ---------------------------------------------------------------------------- libvirtd


def pool_path(pool: Any) -> Path:
    """The directory of a dir storage pool (``virStoragePool``)."""
    return Path(ET.fromstring(pool.XMLDesc(0)).findtext("target/path") or "")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); count it as gone.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def libvirtd_pids() -> list[int]:
    """Every running libvirtd (the pid file's first, then ``pgrep -x libvirtd``)."""
    pids: list[int] = []
    with contextlib.suppress(OSError, ValueError):
        pid = int(LIBVIRTD_PIDFILE.read_text().strip())
        if pid_alive(pid):
            pids.append(pid)
    proc = subprocess.run(["pgrep", "-x", "libvirtd"], capture_output=True, text=True, check=False)
    for word in proc.stdout.split():
        pid = int(word)
        if pid not in pids and pid_alive(pid):
            pids.append(pid)
    return pids


def stop_libvirtd(timeout: float = 30.0) -> list[int]:
    """SIGTERM every libvirtd and wait until all are gone (SIGKILL after ``timeout``)."""
    pids = libvirtd_pids()
    assert pids, "no libvirtd is running"
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        if wait_until(lambda: not any(pid_alive(p) for p in pids), wait, step=0.05):
            return pids
    raise AssertionError(f"libvirtd {pids} did not exit")


def start_libvirtd() -> None:
    """Bring libvirtd back with the project's script (quick when it already answers)."""
    # Output to a file, not a pipe: a daemon that kept the pipe open would make run() hang.
    with tempfile.TemporaryFile(mode="w+") as out:
        proc = subprocess.run(
            ["bash", str(ROOT / "scripts" / "ensure-libvirtd.sh")],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=120,
        )
        out.seek(0)
        output = out.read()
    if proc.returncode != 0:
        raise RuntimeError(f"ensure-libvirtd.sh exited {proc.returncode}:\n{output}")
