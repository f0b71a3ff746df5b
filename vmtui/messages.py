"""App-wide messages. Worker threads and libvirt's event thread only ever post these."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.message import Message

from vmtui.backend import (
    ConnectionEvent,
    ConsoleSession,
    DeletePlan,
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
        # Only a newer poll of the same host: collapsing another host's poll would leave that
        # host's loop waiting forever for its answer (its next poll is armed by this message).
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


class ActionFinished(Message):
    """A guest action ended: ``error`` is a sentence for the user, empty on success."""

    def __init__(
        self, description: str, error: str = "", command: str = "", host: str = ""
    ) -> None:
        super().__init__()
        self.description = description
        self.error = error
        self.command = command  # the equivalent virsh command line, for the activity log
        self.host = host

    @property
    def ok(self) -> bool:
        return not self.error


class DeletePlanned(Message):
    """What deleting a guest would touch is known: time to ask the user."""

    def __init__(self, plan: DeletePlan) -> None:
        super().__init__()
        self.plan = plan


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
