"""App-wide messages.

Worker threads and libvirt's event thread only ever post these; screens post the
``…Requested`` ones to command the app (they bubble up to it), instead of calling it.
"""

from __future__ import annotations

from collections.abc import Callable
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


class Polled(Message):
    """A poll finished: the host's guests, this tick's stats and the histories being watched."""

    def __init__(
        self,
        snapshot: Snapshot,
        histories: dict[str, GuestHistory],
        host_history: HostHistory,
    ) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.histories = histories
        self.host_history = host_history

    def can_replace(self, message: Message) -> bool:
        # Only a newer poll of the SAME host replaces a pending one: dropping another host's
        # answer would leave that host "polling" forever (its loop re-arms on the answer).
        return isinstance(message, Polled) and message.snapshot.uri == self.snapshot.uri


class PollFailed(Message):
    """A poll (or the reconnect it tried) failed; ``retry_in`` seconds until the next try."""

    def __init__(self, error: str, retry_in: float, no_daemon: bool = False, uri: str = "") -> None:
        super().__init__()
        self.uri = uri
        self.error = error
        self.retry_in = retry_in
        self.no_daemon = no_daemon


class BackendEvent(Message):
    """A lifecycle or connection event from libvirt's event thread."""

    def __init__(self, event: ConnectionEvent | GuestEvent) -> None:
        super().__init__()
        self.event = event


class ConsoleChanged(Message):
    """New console output was parsed into the emulator (collapses when they pile up)."""

    def __init__(self, uuid: str) -> None:
        super().__init__()
        self.uuid = uuid

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ConsoleChanged) and message.uuid == self.uuid


class ConsoleOpened(Message):
    def __init__(self, uuid: str, session: ConsoleSession) -> None:
        super().__init__()
        self.uuid = uuid
        self.session = session


class ConsoleFailed(Message):
    """Opening a console failed; ``busy`` when another client holds it."""

    def __init__(self, uuid: str, error: str, busy: bool = False) -> None:
        super().__init__()
        self.uuid = uuid
        self.error = error
        self.busy = busy


class ConsoleClosed(Message):
    def __init__(self, uuid: str, reason: str) -> None:
        super().__init__()
        self.uuid = uuid
        self.reason = reason


class DisplayImage(Message):
    """A screenshot of a guest's display arrived (or failed: ``error``)."""

    def __init__(self, uuid: str, image: bytes, error: str = "") -> None:
        super().__init__()
        self.uuid = uuid
        self.image = image
        self.error = error

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DisplayImage) and message.uuid == self.uuid


class CallFinished(Message):
    """A generic backend call (App.run_backend) ended; the app hands the outcome on."""

    def __init__(
        self,
        done: Callable[[Any], None] | None,
        result: Any = None,
        error: str = "",
        failed: Callable[[str], None] | None = None,
        success: str = "",
        command: str = "",
        host: str = "",
    ) -> None:
        super().__init__()
        self.command = command  # the equivalent virsh command line, for the activity log
        self.host = host
        self.success = success
        self.done = done
        self.result = result
        self.error = error
        self.failed = failed


class GuestActionRequested(Message):
    """A screen asks for a power action (``core.actions.POWER``) on one guest."""

    def __init__(self, action: str, uuid: str, name: str) -> None:
        super().__init__()
        self.action = action
        self.uuid = uuid
        self.name = name


class ConsoleRequested(Message):
    """A screen asks for a guest's serial console (attached if it is not yet)."""

    def __init__(self, uuid: str, name: str) -> None:
        super().__init__()
        self.uuid = uuid
        self.name = name


class DeleteRequested(Message):
    """A screen asks to delete a guest: the app reads what would go, then asks the user."""

    def __init__(self, uuid: str) -> None:
        super().__init__()
        self.uuid = uuid
