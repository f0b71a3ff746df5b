"""What quitting would lose: unsaved work on a screen, and long-running operations.

A screen that holds work the user would lose (a wizard part-way, an editor with unsaved text,
a form with edits) implements ``unsaved_work()``: a short phrase naming it, or None. A
long-running operation that quitting would cut short (a migration, a clone, an export, a
backup) is registered with ``Operations`` (``services(self).operations``) while it runs, even
when the screen that started it has gone. The app's quit action asks both before it quits.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Protocol, runtime_checkable


@runtime_checkable
class HoldsWork(Protocol):
    """A screen that may hold work quitting would lose."""

    def unsaved_work(self) -> str | None:
        """A phrase naming the unsaved work ("the new-guest wizard, step 2 of 7"), or None."""


class Operations:
    """Long-running operations in progress, each named by a phrase for the quit question."""

    def __init__(self) -> None:
        self._running: dict[int, str] = {}
        self._ids = itertools.count(1)

    def begin(self, what: str) -> int:
        """Register an operation ("the migration of web1 to host2"); returns its token."""
        token = next(self._ids)
        self._running[token] = what
        return token

    def end(self, token: int | None) -> None:
        """The operation has ended (a token already ended, or None, is ignored)."""
        if token is not None:
            self._running.pop(token, None)

    def running(self) -> list[str]:
        """The phrases of the operations running now, oldest first."""
        return list(self._running.values())


def quit_reasons(screens: Iterable[object], operations: Operations) -> list[str]:
    """Everything quitting now would lose: each screen's unsaved work (bottom to top of the
    stack), then the operations still running. Empty: quitting loses nothing."""
    reasons: list[str] = []
    for screen in screens:
        if isinstance(screen, HoldsWork):
            work = screen.unsaved_work()
            if work and work not in reasons:
                reasons.append(work)
    reasons.extend(w for w in operations.running() if w not in reasons)
    return reasons


def quit_question(reasons: list[str]) -> tuple[str, str]:
    """(title, body) of the question asked before quitting would lose ``reasons``."""
    lines = "\n".join(f"• {r}" for r in reasons)
    return "Quit vmtui?", f"Quitting now loses or cuts short:\n{lines}"


class InFlight:
    """Guest actions asked and not answered yet, by (guest UUID, action): a second press of
    the same key meanwhile (a double `s`) is absorbed instead of reaching libvirt, which would
    refuse it ("already running", "is paused" for a guest still booting)."""

    def __init__(self) -> None:
        self._keys: set[tuple[str, str]] = set()
        self._settling: dict[tuple[str, str], int] = {}  # answered: until this many polls

    def begin(self, uuid: str, action: str) -> bool:
        """True when this action may go ahead (it is now in flight); False: it already is."""
        if (uuid, action) in self._keys:
            return False
        self._keys.add((uuid, action))
        return True

    def end(self, uuid: str, action: str) -> None:
        self._keys.discard((uuid, action))
        self._settling.pop((uuid, action), None)

    def answered(self, uuid: str, action: str, polls: int) -> None:
        """libvirt answered; the key stays absorbed until two more polls have been shown
        (one may have been running already: the next one shows the guest's new state)."""
        if (uuid, action) in self._keys:
            self._settling[(uuid, action)] = polls + 2

    def polled(self, polls: int) -> None:
        """A poll was shown: release the actions whose answer it shows."""
        for key, until in list(self._settling.items()):
            if polls >= until:
                self.end(*key)
