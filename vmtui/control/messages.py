"""App-wide messages (dataclasses: Textual's ``Message.__post_init__`` initialises them).

Worker threads and libvirt's event thread only ever post these; screens post the
``…Requested`` ones to command the app (they bubble up to it), instead of calling it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.message import Message

from vmtui.backend import (
    ConnectionEvent,
    ConsoleSession,
    GuestEvent,
    GuestHistory,
    HostHistory,
    Snapshot,
)


@dataclass(eq=False)  # a message is itself, never equal to another
class Polled(Message):
    """A poll finished: the host's guests, this tick's stats and the histories being watched."""

    snapshot: Snapshot
    histories: dict[str, GuestHistory]
    host_history: HostHistory
    # the poll goes on (guests' XML still being read): show it, but the poll has not ended
    partial: bool = False
    # set once this snapshot is on screen (the frame after it was shown): the first poll of a
    # host waits for it before reading every guest's XML, so the first rows are drawn without
    # those reads' threads contending for the interpreter (issue 12: rows on screen first)
    shown: threading.Event | None = None

    def can_replace(self, message: Message) -> bool:
        # Only a newer poll of the SAME host replaces a pending one: dropping another host's
        # answer would leave that host "polling" forever (its loop re-arms on the answer).
        return isinstance(message, Polled) and message.snapshot.uri == self.snapshot.uri


@dataclass(eq=False)
class PollFailed(Message):
    """A poll (or the reconnect it tried) failed; ``retry_in`` seconds until the next try."""

    error: str
    retry_in: float
    no_daemon: bool = False
    uri: str = ""


@dataclass(eq=False)
class BackendEvent(Message):
    """A lifecycle or connection event from libvirt's event thread."""

    event: ConnectionEvent | GuestEvent


@dataclass(eq=False)
class CallFinished(Message):
    """A backend call (``control.runner.Runner.run``) ended; the runner hands the outcome on."""

    done: Callable[[Any], None] | None
    result: Any = None
    error: str = ""  # a sentence for the user; empty on success
    failed: Callable[[str], None] | None = None
    success: str = ""
    command: str = ""  # the equivalent virsh command line, for the activity log
    host: str = ""


class LatestPerGuest(Message):
    """A message that only its newest copy per guest matters of: pending ones collapse."""

    uuid: str

    def can_replace(self, message: Message) -> bool:
        return type(message) is type(self) and getattr(message, "uuid", None) == self.uuid


@dataclass(eq=False)
class ConsoleChanged(LatestPerGuest):
    """New console output was parsed into the emulator (collapses when they pile up)."""

    uuid: str


@dataclass(eq=False)
class ConsoleOpened(Message):
    uuid: str
    session: ConsoleSession


@dataclass(eq=False)
class ConsoleFailed(Message):
    """Opening a console failed; ``busy`` when another client holds it."""

    uuid: str
    error: str
    busy: bool = False


@dataclass(eq=False)
class ConsoleClosed(Message):
    uuid: str
    reason: str


@dataclass(eq=False)
class DisplayImage(LatestPerGuest):
    """A screenshot of a guest's display arrived (or failed: ``error``)."""

    uuid: str
    image: bytes
    error: str = ""


@dataclass(eq=False)
class GuestActionRequested(Message):
    """A screen asks for an action of the catalogue (``core.actions``) that the app carries
    out: a power action, ``console`` (attach and show it) or ``delete`` (ask what goes)."""

    action: str
    uuid: str
    name: str
