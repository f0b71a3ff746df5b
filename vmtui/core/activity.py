"""The activity log: every state-changing action (with its equivalent ``virsh`` command
line and outcome) and every libvirt lifecycle event, newest last.

Plain data, no Textual and no libvirt: the app appends, the activity pane (and tests) read.
"""

from __future__ import annotations

import shlex
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field


def virsh(uri: str, *args: str) -> str:
    """The ``virsh`` command line that does what we did, quoted for a POSIX shell."""
    words = ["virsh"]
    if uri:
        words += ["-c", uri]
    words += list(args)
    return shlex.join(words)


@dataclass(frozen=True)
class ActivityEntry:
    """One line of the log. ``kind`` is "action" (ours) or "event" (libvirt's, from any tool)."""

    kind: str
    host: str  # the connection URI
    text: str  # the virsh command line (actions) or the event sentence (events)
    ok: bool = True
    outcome: str = ""  # a sentence: what happened, or why it failed
    at: float = field(default_factory=time.time)


class ActivityLog:
    """A bounded, append-only list of entries with change listeners (called on append)."""

    def __init__(self, limit: int = 2000) -> None:
        self._entries: deque[ActivityEntry] = deque(maxlen=limit)
        self._listeners: list[Callable[[ActivityEntry], None]] = []

    def add(self, entry: ActivityEntry) -> ActivityEntry:
        self._entries.append(entry)
        for listener in list(self._listeners):
            listener(entry)
        return entry

    def action(
        self, host: str, command: str | Sequence[str], ok: bool, outcome: str
    ) -> ActivityEntry:
        text = command if isinstance(command, str) else virsh(host, *command)
        return self.add(ActivityEntry("action", host, text, ok, outcome))

    def event(self, host: str, sentence: str) -> ActivityEntry:
        return self.add(ActivityEntry("event", host, sentence))

    def listen(self, listener: Callable[[ActivityEntry], None]) -> Callable[[], None]:
        """Call ``listener(entry)`` on each append; returns a function that stops it."""
        self._listeners.append(listener)

        def stop() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return stop

    def __iter__(self) -> Iterator[ActivityEntry]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)
