"""Open serial consoles: each one's emulator and session live across detaching, guest reboots
and reconnects. The UI thread never talks to a console stream: opening and closing run in
workers, and the outcome comes back as a message the app routes here.

A console's output reaches the UI thread only while its screen shows it, at most once per
frame (``ConsoleChanged``); a detached console parses in its own thread and tells nobody.
A console that could not be opened is not tried again until its guest has been seen stopped
(then it is re-attached when the guest runs again); what failed when nobody asked (such an
automatic re-attach) is said on the console's bar, never in a toast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from textual import constants
from textual.app import App

from vmtui.backend import ConsoleBusy, ConsoleSession, Emulator, Hypervisor, Snapshot
from vmtui.control.messages import ConsoleChanged, ConsoleClosed, ConsoleFailed, ConsoleOpened
from vmtui.control.runner import Runner, sentence

FRAME = 1 / constants.MAX_FPS  # a shown console is redrawn at most this often
LINGER = 0.1  # seconds a hidden console's output gathers before it is parsed


@dataclass
class ConsoleState:
    """An open console: its screen survives detaching, reconnects and guest reboots."""

    uuid: str
    name: str
    emulator: Emulator
    session: ConsoleSession | None = None
    status: str = "connecting…"
    opening: bool = False
    busy: bool = False  # another client holds it; we wait for the user to take it over
    errors: list[str] = field(default_factory=list)
    on_screen: bool = False  # a console screen shows it (see ``shown``)
    asked: bool = True  # the user asked for the last attach (else: an automatic re-attach)
    retry: bool = True  # re-attach when the guest runs (off after a failure, until it stops)

    @property
    def connected(self) -> bool:
        return self.session is not None and not self.session.closed

    def send(self, data: bytes) -> None:
        if self.session is not None:
            self.session.send(data)

    def shown(self, on: bool) -> None:
        """A console screen shows it (or stopped showing it): its output goes to the UI
        thread once per frame, or to nobody and parsed in larger gulps."""
        self.on_screen = on
        if self.session is not None:
            self.session.linger = 0.0 if on else LINGER


class Consoles:
    """Every open console of the session, by guest UUID."""

    def __init__(
        self, app: App[Any], runner: Runner, hypervisor_for: Callable[[str], Hypervisor]
    ) -> None:
        self._app = app
        self._runner = runner
        self._hypervisor_for = hypervisor_for
        self.states: dict[str, ConsoleState] = {}

    def ensure(self, uuid: str, name: str, force: bool = False) -> ConsoleState:
        """The guest's console, attached or attaching (its screen is kept when it exists)."""
        console = self.states.get(uuid)
        if console is None:
            emulator = Emulator(80, 24, history=5000)
            console = ConsoleState(uuid=uuid, name=name, emulator=emulator)
            emulator.set_responder(console.send)  # query replies go back to the guest
            self.states[uuid] = console
        if not console.connected and not console.opening:
            self.attach(console, force)
        return console

    def attach(self, console: ConsoleState, force: bool, asked: bool = True) -> None:
        """Open the console's session in a worker; ``asked``: the user asked for it (a failure
        is then told in a toast, else only on the console's bar)."""
        console.opening = True
        console.busy = False
        console.asked = asked
        console.status = "connecting…"
        hv = self._hypervisor_for(console.uuid)
        uuid, emulator, post = console.uuid, console.emulator, self._app.post_message

        def changed() -> None:  # feeder thread, at most every FRAME seconds
            if console.on_screen:
                post(ConsoleChanged(uuid))

        def work() -> None:
            try:
                session = hv.open_console(
                    uuid,
                    emulator,
                    on_change=changed,
                    on_closed=lambda reason: post(ConsoleClosed(uuid, reason)),
                    force=force,
                )
                session.change_interval = FRAME
            except Exception as err:
                error = sentence(err, "Could not open the console: {err}")
                post(ConsoleFailed(uuid, error, busy=isinstance(err, ConsoleBusy)))
                return
            post(ConsoleOpened(uuid, session))

        self._app.run_worker(
            work, thread=True, exit_on_error=False, group="console", description="open console"
        )

    def opened(self, message: ConsoleOpened) -> ConsoleState | None:
        console = self.states.get(message.uuid)
        if console is None:  # closed while opening
            self._runner.close_quietly(message.session.close, "close console")
            return None
        console.session = message.session
        console.shown(console.on_screen)
        console.opening = False
        console.retry = True
        console.status = "connected"
        return console

    def failed(self, message: ConsoleFailed) -> ConsoleState | None:
        console = self.states.get(message.uuid)
        if console is None:
            return None
        console.opening = False
        console.retry = False  # not by itself again until the guest has been seen stopped
        console.status = message.error
        return console

    @staticmethod
    def held(console: ConsoleState) -> None:
        """Another client holds the console: wait until the user says to take it over."""
        console.busy = True
        console.status = "held by another client"

    def closed(self, message: ConsoleClosed) -> ConsoleState | None:
        console = self.states.get(message.uuid)
        if console is None:
            return None
        console.session = None
        console.status = f"disconnected: {message.reason}; reconnects when the guest runs"
        return console

    def reconnect(self, snapshot: Snapshot) -> None:
        """Re-attach (never with FORCE, without a toast) the consoles of guests that run again.
        One that failed waits until its guest has been seen stopped: a guest the console
        cannot open (no console streams on the host, no serial device) is not tried, and its
        error not told, again on every poll."""
        if not self.states:
            return  # (no set of every running guest each poll for nothing)
        active = {g.uuid: g.is_active for g in snapshot.guests}  # (of this snapshot's host)
        for console in self.states.values():
            if console.uuid not in active:
                continue  # another host's guest, or gone
            if not active[console.uuid]:
                if not console.opening:
                    console.retry = True
            elif console.retry and not (console.connected or console.opening or console.busy):
                self.attach(console, force=False, asked=False)

    def close(self, uuid: str) -> None:
        console = self.states.pop(uuid, None)
        if console is not None and console.session is not None:
            self._runner.close_quietly(console.session.close, "close console")
