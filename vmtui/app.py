"""The Textual app: thin. It owns the poll loop, routes snapshots to screens, runs actions.

Every backend call happens in a thread worker; results come back as messages (messages.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from textual import work
from textual.actions import SkipAction
from textual.app import App
from textual.binding import Binding

from vmtui import format as fmt
from vmtui import hangup
from vmtui.activity import ActivityLog, virsh
from vmtui.backend import (
    ConnectionEvent,
    ConnState,
    ConsoleBusy,
    ConsoleSession,
    Emulator,
    GuestEvent,
    GuestHistory,
    HostHistory,
    Hypervisor,
    NoDaemon,
    NotConnected,
    Snapshot,
    VmtuiError,
)
from vmtui.backend.connections import ConnectionStore, config_path
from vmtui.backend.hoststats import HostSampler
from vmtui.hostlink import HostLink, merge_snapshots
from vmtui.messages import (
    ActionFinished,
    BackendEvent,
    CallFinished,
    ConsoleChanged,
    ConsoleClosed,
    ConsoleFailed,
    ConsoleOpened,
    DeletePlanned,
    Polled,
    PollFailed,
)
from vmtui.screens.base import GuestCommands, HostView
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.console import ConsoleScreen, ConsolesScreen, ConsoleState
from vmtui.screens.dashboard import DashboardScreen
from vmtui.screens.delete import DeleteScreen
from vmtui.screens.help import HelpScreen
from vmtui.screens.nodaemon import NoDaemonScreen
from vmtui.widgets.status_line import StatusLine

T = TypeVar("T")

DEMO_HOST = Path(__file__).parent / "demo" / "demo-host.xml"
DEMO_URI = f"test://{DEMO_HOST}"

# action name -> (backend method, verb for messages, past tense)
GUEST_ACTIONS: dict[str, tuple[str, str, str]] = {
    "start": ("start", "start", "started"),
    "shutdown": ("shutdown", "shut down", "asked to shut down"),
    "reboot": ("reboot", "reboot", "asked to reboot"),
    "force_off": ("force_off", "force off", "forced off"),
    "pause": ("pause", "pause", "paused"),
    "resume": ("resume", "resume", "resumed"),
    "autostart_on": ("set_autostart", "enable autostart of", "will start when the host boots"),
    "autostart_off": ("set_autostart", "disable autostart of", "will not start at boot"),
}

# action name -> the virsh words before the guest's name
VIRSH_ACTIONS: dict[str, tuple[str, ...]] = {
    "start": ("start",),
    "shutdown": ("shutdown",),
    "reboot": ("reboot",),
    "force_off": ("destroy",),
    "pause": ("suspend",),
    "resume": ("resume",),
    "autostart_on": ("autostart",),
    "autostart_off": ("autostart", "--disable"),
}


class VmtuiApp(App[None]):
    """vmtui: the guests of one or more libvirt hosts, live."""

    CSS_PATH = "app.tcss"
    TITLE = "vmtui"
    COMMANDS = App.COMMANDS | {GuestCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Keys", key_display="?"),
        Binding("C", "consoles", "Consoles", show=False),
        # --- images
        Binding("L", "activity", "Activity log", show=False),
        Binding("H", "connections", "Connections", show=False),  # --- connections
        Binding("N", "networks", "Networks", show=False),  # --- isolation
        Binding("colon", "command_line", "Command", key_display=":", show=False),  # power
        # --- alloc
        Binding("V", "storage", "Storage", show=False),
    ]

    def __init__(
        self,
        uri: str | Sequence[str],
        *,
        readonly: bool = False,
        interval: float = 2.0,
        host_sampler: HostSampler | None = None,
        clock: Callable[[], float] = time.monotonic,
        console_on_start: str | None = None,
    ) -> None:
        super().__init__()
        self.readonly = readonly
        self.interval = interval
        self._host_sampler = host_sampler
        self._clock = clock
        uris = [uri] if isinstance(uri, str) else list(dict.fromkeys(uri))
        # One HostLink (connection + poll loop + last snapshot) per URI, in the user's order.
        self.hosts: dict[str, HostLink] = {u: HostLink(self._make_hypervisor(u)) for u in uris}
        self.snapshot: Snapshot | None = None  # every host's guests merged (see hostlink.py)
        self.histories: dict[str, GuestHistory] = {}
        self.watched: frozenset[str] = frozenset()
        self.polls = 0
        self._no_daemon_screen: NoDaemonScreen | None = None
        self._offered_demo = False
        self.consoles: dict[str, ConsoleState] = {}
        self.activity = ActivityLog()
        self.console_on_start = console_on_start
        self._terminal_fd: int | None = None  # watched for a hang-up (see _watch_terminal)
        self._hung_up = False

    # ------------------------------------------------------------ set-up
    def _make_hypervisor(self, uri: str) -> Hypervisor:
        return Hypervisor(
            uri,
            readonly=self.readonly,
            interval=self.interval,
            on_event=self._on_backend_event_threadsafe,
            host_sampler=self._host_sampler,
            clock=self._clock,
        )

    def _on_backend_event_threadsafe(self, event: ConnectionEvent | GuestEvent) -> None:
        """Runs on libvirt's event thread: only hand the event on."""
        self.post_message(BackendEvent(event))

    @property
    def primary(self) -> HostLink | None:
        """The first connected host (the one a single-host session is about)."""
        return next(iter(self.hosts.values()), None)

    @property
    def hv(self) -> Hypervisor:
        """The first host's connection (single-host code paths and tests)."""
        link = self.primary
        if link is None:
            raise NotConnected("No host is connected; add one with H (connections).")
        return link.hv

    @property
    def uri(self) -> str:
        link = self.primary
        return link.uri if link else ""

    @property
    def host_history(self) -> HostHistory | None:
        link = self.primary
        return link.host_history if link else None

    def on_mount(self) -> None:
        self.push_screen(DashboardScreen())
        self.set_interval(0.5, self.update_status)
        self._watch_terminal()
        for link in self.hosts.values():
            self.schedule_poll(0, link)
        if self.config_problem:  # --- connections: the saved-connections file is broken
            self.notify(self.config_problem, severity="error", markup=False, timeout=15)

    def switch_host(self, uri: str) -> None:
        """Drop every connection and show this host alone (e.g. the demo)."""
        for link in list(self.hosts.values()):
            self.disconnect_host(link.uri, refresh=False)
        self.connect_host(uri)

    def connect_host(self, uri: str) -> None:
        """Add a host to the session (no-op when it is already there); polls it at once."""
        if uri in self.hosts:
            self.schedule_poll(0, self.hosts[uri])
            return
        link = HostLink(self._make_hypervisor(uri))
        self.hosts[uri] = link
        self._show_merged()
        self.schedule_poll(0, link)

    def disconnect_host(self, uri: str, refresh: bool = True) -> None:
        """Remove a host from the session and close its connection in the background."""
        link = self.hosts.pop(uri, None)
        if link is None:
            return
        link.closed = True
        if link.timer is not None:
            link.timer.stop()
        self._close_in_background(link.hv)
        if refresh:
            self._show_merged()

    def host_labels(self) -> dict[str, str]:
        """A short label per connected host (hostname when known), for the host column."""
        return {uri: link.label for uri, link in self.hosts.items()}

    @work(thread=True, exit_on_error=False, group="close", description="close connection")
    def _close_in_background(self, hv: Hypervisor) -> None:
        hv.close()

    # ------------------------------------------------------------ polling
    # Each host has its own loop: the next poll is armed only when its last one finished,
    # so polls of one host never overlap and a slow or hung host never delays another.
    def schedule_poll(self, delay: float, link: HostLink | None = None) -> None:
        links = [link] if link is not None else list(self.hosts.values())
        for one in links:
            if one.closed:
                continue
            if one.timer is not None:
                one.timer.stop()
            one.timer = self.set_timer(max(0.001, delay), lambda one=one: self._start_poll(one))

    def request_poll(self, uri: str | None = None) -> None:
        """Poll soon (after an action or an event); never overlaps a running poll."""
        links = [self.hosts[uri]] if uri in self.hosts else list(self.hosts.values())
        for link in links:
            if link.polling:
                link.poll_again = True
            else:
                self.schedule_poll(0.05, link)

    def _start_poll(self, link: HostLink) -> None:
        if link.closed:
            return
        if link.polling:
            link.poll_again = True
            return
        link.polling = True
        link.poll_started = self._clock()
        known = {g.uuid for g in link.snapshot.guests} if link.snapshot else set()
        self._poll_worker(link.hv, self.watched & known if known else self.watched)

    @work(thread=True, exit_on_error=False, group="poll", description="poll host")
    def _poll_worker(self, hv: Hypervisor, watched: frozenset[str]) -> None:
        uri = hv.uri
        try:
            snapshot = hv.poll()
        except NoDaemon as err:
            self.post_message(PollFailed(err.message, hv.backoff.next(), no_daemon=True, uri=uri))
            return
        except VmtuiError as err:
            self.post_message(PollFailed(err.message, hv.backoff.next(), uri=uri))
            return
        except Exception as err:  # never a traceback on screen: say it, keep polling
            message = f"Unexpected error while polling: {err}"
            self.post_message(PollFailed(message, hv.backoff.cap, uri=uri))
            return
        histories = {uuid: hv.guest_history(uuid) for uuid in watched}
        self.post_message(Polled(snapshot, histories, hv.host_history()))

    def on_polled(self, message: Polled) -> None:
        if not self.is_running:
            return  # a late answer while the app shuts down: its screens are going away
        link = self.hosts.get(message.snapshot.uri)
        if link is None:
            return  # a late answer from a host that was removed
        link.polling = False
        link.poll_started = None
        link.hung = False
        self.polls += 1
        link.snapshot = message.snapshot
        link.histories = message.histories
        link.host_history = message.host_history
        link.retry_at = None
        link.lost_reason = ""
        first = not link.ever_polled
        link.ever_polled = True
        if self._no_daemon_screen is not None and link is self.primary:
            self._no_daemon_screen.dismiss(None)
            self._no_daemon_screen = None
        self._show_merged()
        if first:
            self.call_after_refresh(self._settle_memory)
        self._reconnect_consoles(message.snapshot)
        if self.console_on_start is not None:
            wanted = self.console_on_start
            found = [g for g in message.snapshot.guests if wanted in (g.name, g.uuid)]
            if found:
                self.console_on_start = None
                self.open_console(found[0].uuid, found[0].name)
            elif all(one.ever_polled for one in self.hosts.values()):
                self.console_on_start = None
                self.notify(f"There is no guest called {wanted}.", markup=False, severity="error")
        self.update_status()
        self.schedule_poll(0.05 if link.poll_again else self.interval, link)
        link.poll_again = False

    def _settle_memory(self) -> None:
        """After a host's guests first show: collect once, then move every object alive now
        (widgets, rows, guest infos: they live as long as the app) out of the collector's
        sight with ``gc.freeze()``. Python's full collections walk every tracked object while
        holding the GIL; at 3,000 guests they took 90-140 ms, a visible stall of the UI and of
        every host's poll. Frozen objects are still freed by reference counting; only cycles
        among them are not (bounded: what was alive at each host's first poll); the app
        unfreezes everything when it ends (``on_unmount``)."""
        if not self.is_running:
            return
        gc.collect()
        gc.freeze()

    def on_unmount(self) -> None:
        gc.unfreeze()  # what was frozen can be collected again once the app has gone
        if self._terminal_fd is not None:
            with contextlib.suppress(RuntimeError, ValueError):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)

    # ------------------------------------------------------------ the terminal hanging up
    def _watch_terminal(self) -> None:
        """Quit when the terminal hangs up: on SIGHUP, and by asking it once a second
        (see vmtui.hangup). Not under a headless driver (tests) or without a terminal."""
        stdin = sys.__stdin__
        if self.is_headless or stdin is None or not stdin.isatty():
            return
        self._terminal_fd = stdin.fileno()
        with contextlib.suppress(RuntimeError, ValueError, NotImplementedError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.terminal_hung_up)
        self.set_interval(1.0, self._check_terminal)

    def _check_terminal(self) -> None:
        if self._terminal_fd is not None and hangup.hung_up(self._terminal_fd):
            self.terminal_hung_up()

    def terminal_hung_up(self) -> None:
        """Nobody can see or answer the screen any more: quit as q does (open consoles and
        migrations are wound up), and end the process if that takes too long."""
        if self._hung_up:
            return
        self._hung_up = True
        hangup.end_after_grace()
        self.exit(return_code=hangup.EXIT_CODE)

    def _show_merged(self) -> None:
        """Merge every host's last snapshot and show it on every host view."""
        links = list(self.hosts.values())
        self.snapshot = merge_snapshots(links)
        self.histories = {u: h for link in links for u, h in link.histories.items()}
        for screen in self._host_views():
            screen.show_snapshot(self.snapshot)

    def on_poll_failed(self, message: PollFailed) -> None:
        if not self.is_running:
            return  # shutting down: no modal, no new timer
        link = self.hosts.get(message.uri)
        if link is None:
            return
        link.polling = False
        link.poll_started = None
        link.hung = False
        link.lost_reason = message.error
        link.retry_at = self._clock() + message.retry_in
        if message.no_daemon and link.snapshot is not None:
            # The daemon went away mid-session (e.g. restarted): keep the last figures on the
            # dashboard and say it in a status line short enough for 80 columns; no modal.
            link.lost_reason = f"Lost {fmt.short_uri(link.uri)}: no libvirt daemon answers."
        elif (
            message.no_daemon
            and not self._offered_demo
            and link.uri != DEMO_URI
            and len(self.hosts) == 1
        ):
            self._offered_demo = True
            self._no_daemon_screen = NoDaemonScreen(message.error)
            self.push_screen(self._no_daemon_screen, self._no_daemon_choice)
        link.ever_polled = True
        self._show_merged()  # its guests are now shown as stale
        self.update_status()
        self.schedule_poll(message.retry_in, link)
        link.poll_again = False

    def _no_daemon_choice(self, choice: str | None) -> None:
        self._no_daemon_screen = None
        if choice == "demo":
            self.switch_host(DEMO_URI)
        elif choice == "retry":
            self.schedule_poll(0)
        elif choice == "quit":
            self.exit()

    def _host_views(self) -> Iterable[HostView]:
        # A screen pushed but not mounted yet has no widgets to update: it shows the app's
        # snapshot itself in on_mount.
        return [s for s in self.screen_stack if isinstance(s, HostView) and s.is_mounted]

    def watch_guest(self, uuid: str, on: bool) -> None:
        self.watched = self.watched | {uuid} if on else self.watched - {uuid}
        if on:
            self.request_poll(self.uri_of(uuid))

    def uri_of(self, uuid: str) -> str | None:
        """The URI of the host a guest is shown on (None when no host shows it)."""
        if self.snapshot is not None:
            for guest in self.snapshot.guests:
                if guest.uuid == uuid:
                    return guest.host or None
        return None

    def on_backend_event(self, message: BackendEvent) -> None:
        event = message.event
        link = self.hosts.get(event.uri)
        if link is None:
            return
        if isinstance(event, ConnectionEvent):
            if event.state is ConnState.LOST:
                link.lost_reason = f"Lost {fmt.short_uri(event.uri)}: {event.reason}."
                delay = link.hv.backoff.next()
                link.retry_at = self._clock() + delay
                if not link.polling:
                    self.schedule_poll(delay, link)
                self._show_merged()
            self.update_status()
        elif isinstance(event, GuestEvent):
            detail = f" ({event.detail})" if event.detail else ""
            self.activity.event(event.uri, f"Guest {event.name} {event.event}{detail}.")
            self.request_poll(event.uri)

    # ------------------------------------------------------------ status line
    def status(self) -> tuple[str, str, str]:
        """(symbol, sentence, style) describing the connections right now."""
        now = self._clock()
        links = list(self.hosts.values())
        if not links:
            return ("◌", "No host connected; press H to add or connect one.", "yellow")
        states = [link.status(now, self.interval, self.readonly) for link in links]
        if len(links) == 1:
            return states[0]
        worst = next((st for st in states if st[0] == "✖"), None) or next(
            (st for st in states if st[0] != "●"), None
        )
        ok = sum(1 for st in states if st[0] == "●")
        if worst is not None:
            return (worst[0], f"{worst[1]} · {ok}/{len(links)} hosts connected", worst[2])
        guests = self.snapshot.guests if self.snapshot else ()
        running = self.snapshot.running if self.snapshot else 0
        mode = " · read-only" if self.readonly else ""
        return (
            "●",
            f"Connected to {len(links)} hosts · {len(guests)} guests, {running} running{mode}",
            "bold green",
        )

    def update_status(self) -> None:
        # A host whose poll hangs turns stale (its rows get "?") without any message from
        # it: notice it here, on the status timer, and redraw the rows when that changes.
        now = self._clock()
        changed = False
        for link in self.hosts.values():
            hung = link.overdue(now, self.interval)
            if hung != link.hung:
                link.hung, changed = hung, True
        if changed:
            self._show_merged()
        symbol, text, style = self.status()
        # Every screen's line, not only the top one: a modal shows the screen below it.
        for screen in self.screen_stack:
            for line in screen.query(StatusLine):
                line.set_status(symbol, text, style)

    # ------------------------------------------------------------ generic backend calls
    def hypervisor_for(self, uuid: str | None = None) -> Hypervisor:
        """The connection a guest lives on (the first host when ``uuid`` is None or unknown)."""
        uri = self.uri_of(uuid) if uuid else None
        if uri is not None and uri in self.hosts:
            return self.hosts[uri].hv
        return self.hv

    def hypervisor_for_uri(self, uri: str) -> Hypervisor:
        """The connection to a host of this session (NotConnected when it is not one)."""
        link = self.hosts.get(uri)
        if link is None:
            raise NotConnected(f"{fmt.short_uri(uri)} is not connected in this session.")
        return link.hv

    def run_backend(
        self,
        call: Callable[[], T],
        *,
        done: Callable[[T], None] | None = None,
        failed: Callable[[str], None] | None = None,
        what: str = "finish that",
        success: str | None = None,
        command: Sequence[str] | str = (),
        host: str = "",
    ) -> None:
        """Run a blocking backend call in a thread worker; then, on the UI thread, call
        ``done(result)`` (and notify ``success``), or ``failed(sentence)`` — by default a
        red notification. The sentence is the backend's own (VmtuiError), or
        "Could not <what>: <error>." for anything unexpected: never a traceback.

        A call that changes state passes ``command``: the equivalent virsh arguments
        (``("setvcpus", name, "2", "--live")``) or a whole command line, and ``host``, the
        connection URI; the activity log records it with its outcome."""
        line = command if isinstance(command, str) else (virsh(host, *command) if command else "")
        self._backend_worker(call, done, failed, what, success, line, host)

    @work(thread=True, exit_on_error=False, group="backend", description="backend call")
    def _backend_worker(
        self,
        call: Callable[[], Any],
        done: Callable[[Any], None] | None,
        failed: Callable[[str], None] | None,
        what: str,
        success: str | None,
        command: str,
        host: str,
    ) -> None:
        try:
            result = call()
        except VmtuiError as err:
            error = err.message
        except Exception as err:  # never a traceback on screen
            error = f"Could not {what}: {err}."
        else:
            finished = CallFinished(
                done, result=result, success=success or "", command=command, host=host
            )
            self.post_message(finished)
            return
        self.post_message(
            CallFinished(done, error=error, failed=failed, command=command, host=host)
        )

    def on_call_finished(self, message: CallFinished) -> None:
        if message.command:
            outcome = message.error or message.success or "Done."
            self.activity.action(message.host, message.command, not message.error, outcome)
        if message.error:
            if message.failed is not None:
                message.failed(message.error)
            else:
                self.notify(message.error, markup=False, severity="error", timeout=8)
        else:
            if message.success:
                self.notify(message.success, markup=False, timeout=3)
            if message.done is not None:
                message.done(message.result)
        self.request_poll()

    # ------------------------------------------------------------ actions
    def guest_action(self, action: str, uuid: str, name: str) -> None:
        verb = GUEST_ACTIONS[action][1]
        self._action_worker(action, uuid, name)
        self.notify(f"Asking guest {name} to {verb.split(' of')[0]}…", markup=False, timeout=2)

    @work(thread=True, exit_on_error=False, group="actions", description="guest action")
    def _action_worker(self, action: str, uuid: str, name: str) -> None:
        method, verb, done = GUEST_ACTIONS[action]
        hv = self.hypervisor_for(uuid)
        log = {"command": virsh(hv.uri, *VIRSH_ACTIONS[action], name), "host": hv.uri}
        call: Callable[..., Any] = getattr(hv, method)
        try:
            if method == "set_autostart":
                call(uuid, action == "autostart_on")
            else:
                call(uuid)
        except VmtuiError as err:
            self.post_message(ActionFinished(f"{verb} {name}", err.message, **log))
            return
        except Exception as err:
            error = f"Could not {verb} {name}: {err}"
            self.post_message(ActionFinished(f"{verb} {name}", error, **log))
            return
        self.post_message(ActionFinished(f"Guest {name} {done}.", **log))

    def on_action_finished(self, message: ActionFinished) -> None:
        if message.command:
            outcome = message.description if message.ok else message.error
            self.activity.action(message.host, message.command, message.ok, outcome)
        if message.ok:
            self.notify(message.description, markup=False, timeout=3)
        else:
            self.notify(message.error, markup=False, severity="error", timeout=8)
        self.request_poll()

    @work(thread=True, exit_on_error=False, group="actions", description="plan delete")
    def ask_delete(self, uuid: str) -> None:
        """Read what a delete would touch, then ask (DeleteScreen) before anything goes."""
        try:
            plan = self.hypervisor_for(uuid).delete_plan(uuid)
        except VmtuiError as err:
            self.post_message(ActionFinished("delete", err.message))
            return
        except Exception as err:  # never lost silently in a worker
            self.post_message(ActionFinished("delete", f"Could not prepare the delete: {err}"))
            return
        self.post_message(DeletePlanned(plan))

    def on_delete_planned(self, message: DeletePlanned) -> None:
        plan = message.plan

        def chosen(disks: list[str] | None) -> None:
            if disks is not None:
                self.notify(f"Deleting guest {plan.guest.name}…", markup=False, timeout=2)
                self.delete_guest(plan.guest.uuid, plan.guest.name, disks)

        self.push_screen(DeleteScreen(plan), chosen)

    @work(thread=True, exit_on_error=False, group="actions", description="delete guest")
    def delete_guest(self, uuid: str, name: str, disks: list[str]) -> None:
        hv = self.hypervisor_for(uuid)
        words = ["undefine", name, "--nvram", "--snapshots-metadata"]
        if disks:
            words += ["--storage", ",".join(disks)]
        log = {"command": virsh(hv.uri, *words), "host": hv.uri}
        try:
            result = hv.delete(uuid, disks)
        except VmtuiError as err:
            self.post_message(ActionFinished(f"delete {name}", err.message, **log))
            return
        except Exception as err:
            error = f"Could not delete {name}: {err}"
            self.post_message(ActionFinished(f"delete {name}", error, **log))
            return
        if result.failed:
            failures = " ".join(reason for _, reason in result.failed)
            error = f"Guest {name} was deleted, but: {failures}"
            self.post_message(ActionFinished(f"delete {name}", error, **log))
            return
        removed = f" and {len(result.removed)} disk(s)" if result.removed else ""
        self.post_message(ActionFinished(f"Deleted guest {name}{removed}.", **log))

    # ------------------------------------------------------------ consoles
    def open_console(self, uuid: str, name: str, force: bool = False) -> None:
        """Show the guest's console; attach if it is not attached yet (keeps its screen)."""
        console = self.consoles.get(uuid)
        if console is None:
            emulator = Emulator(80, 24, history=5000)
            console = ConsoleState(uuid=uuid, name=name, emulator=emulator)
            emulator.set_responder(console.send)  # query replies go back to the guest
            self.consoles[uuid] = console
        if not console.connected and not console.opening:
            self._attach_console(console, force)
        for screen in self.screen_stack:
            if isinstance(screen, ConsoleScreen) and screen.console is console:
                while self.screen is not screen:
                    self.pop_screen()
                return
        self.push_screen(ConsoleScreen(console))

    def _attach_console(self, console: ConsoleState, force: bool) -> None:
        console.opening = True
        console.busy = False
        console.status = "connecting…"
        self._console_worker(
            self.hypervisor_for(console.uuid), console.uuid, console.emulator, force
        )

    @work(thread=True, exit_on_error=False, group="console", description="open console")
    def _console_worker(self, hv: Hypervisor, uuid: str, emulator: Emulator, force: bool) -> None:
        try:
            session = hv.open_console(
                uuid,
                emulator,
                on_change=lambda: self.post_message(ConsoleChanged(uuid)),
                on_closed=lambda reason: self.post_message(ConsoleClosed(uuid, reason)),
                force=force,
            )
        except ConsoleBusy as err:
            self.post_message(ConsoleFailed(uuid, err.message, busy=True))
            return
        except VmtuiError as err:
            self.post_message(ConsoleFailed(uuid, err.message))
            return
        except Exception as err:
            self.post_message(ConsoleFailed(uuid, f"Could not open the console: {err}"))
            return
        self.post_message(ConsoleOpened(uuid, session))

    def _console_screens(self, uuid: str) -> list[ConsoleScreen]:
        return [
            s for s in self.screen_stack if isinstance(s, ConsoleScreen) and s.console.uuid == uuid
        ]

    def on_console_opened(self, message: ConsoleOpened) -> None:
        console = self.consoles.get(message.uuid)
        if console is None:  # closed while opening
            self._close_session(message.session)
            return
        console.session = message.session
        console.opening = False
        console.status = "connected"
        for screen in self._console_screens(message.uuid):
            screen.update_bar()

    def on_console_failed(self, message: ConsoleFailed) -> None:
        console = self.consoles.get(message.uuid)
        if console is None:
            return
        console.opening = False
        console.status = message.error
        for screen in self._console_screens(message.uuid):
            screen.update_bar()
        if message.busy:
            console.busy = True
            console.status = "held by another client"

            def answered(yes: bool | None) -> None:
                if yes:
                    self._attach_console(console, force=True)

            self.push_screen(
                ConfirmScreen(
                    f"Take over the console of {console.name}?", message.error, confirm="Take over"
                ),
                answered,
            )
        else:
            self.notify(message.error, markup=False, severity="error", timeout=8)

    def on_console_closed(self, message: ConsoleClosed) -> None:
        console = self.consoles.get(message.uuid)
        if console is None:
            return
        console.session = None
        console.status = f"disconnected: {message.reason}; reconnects when the guest runs"
        for screen in self._console_screens(message.uuid):
            screen.update_bar()

    def on_console_changed(self, message: ConsoleChanged) -> None:
        for screen in self._console_screens(message.uuid):
            screen.output_changed()

    def _reconnect_consoles(self, snapshot: Snapshot) -> None:
        if not self.consoles:
            return  # (no set of every running guest each poll for nothing)
        running = {g.uuid for g in snapshot.guests if g.is_active}
        for console in self.consoles.values():
            if console.uuid in running and not (
                console.connected or console.opening or console.busy
            ):
                self._attach_console(console, force=False)

    def close_console(self, uuid: str) -> None:
        console = self.consoles.pop(uuid, None)
        if console is not None and console.session is not None:
            self._close_session(console.session)

    @work(thread=True, exit_on_error=False, group="console", description="close console")
    def _close_session(self, session: ConsoleSession) -> None:
        session.close()

    def action_consoles(self) -> None:
        if not self.consoles:
            self.notify("No console is open. Press c on a running guest to open one.", timeout=4)
            return

        def chosen(choice: tuple[str, str] | None) -> None:
            if choice is None:
                return
            action, uuid = choice
            if action == "close":
                name = self.consoles[uuid].name if uuid in self.consoles else "the guest"
                self.close_console(uuid)
                self.notify(f"Closed the console of {name}.", markup=False, timeout=3)
            elif uuid in self.consoles:
                self.open_console(uuid, self.consoles[uuid].name)

        self.push_screen(ConsolesScreen(list(self.consoles.values())), chosen)

    # ------------------------------------------------------------ keys
    def action_command_palette(self) -> None:
        if isinstance(self.screen, ConsoleScreen):
            raise SkipAction()  # ctrl+p belongs to the guest's shell
        super().action_command_palette()

    async def action_quit(self) -> None:
        if isinstance(self.screen, ConsoleScreen):
            raise SkipAction()  # ctrl+q too; detach with ctrl+] first
        await super().action_quit()

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen.for_screen(self.screen))

    # --- images
    def action_activity(self) -> None:
        """L: the activity log (virsh command lines of our actions, libvirt events)."""
        from vmtui.screens.activity import ActivityScreen
        from vmtui.screens.display import DisplayScreen

        if isinstance(self.screen, ConsoleScreen | DisplayScreen):
            raise SkipAction()  # L belongs to the guest there
        if isinstance(self.screen, ActivityScreen):
            return
        self.push_screen(ActivityScreen())

    # --- connections
    config_file: Path | None = None  # saved connections (cli --config); None: the default
    config_problem = ""  # why the file could not be read at start ("" when it was fine)

    def connection_store(self) -> ConnectionStore:
        """The saved-connections file of this session (blocking: use it in a worker)."""
        return ConnectionStore(self.config_file or config_path())

    def action_connections(self) -> None:
        from vmtui.screens.connections import ConnectionsScreen

        if isinstance(self.screen, ConnectionsScreen):
            return
        if isinstance(self.screen, ConsoleScreen):
            raise SkipAction()  # H belongs to the guest's shell
        self.push_screen(ConnectionsScreen())

    def _host_in_view(self, default: str) -> str:
        """The host of the guest under the cursor (dashboard or guest screen), else default."""
        from vmtui.screens.base import GuestActionScreen

        if isinstance(self.screen, GuestActionScreen):
            guest = self.screen.current_guest()
            if guest is not None and guest.host in self.hosts:
                return guest.host
        return default

    # --- isolation
    def action_networks(self) -> None:
        """The networks of the selected guest's host (or of the first host)."""
        from vmtui.screens.networks import NetworksScreen

        if isinstance(self.screen, NetworksScreen | ConsoleScreen):
            return
        self.push_screen(NetworksScreen(self._host_in_view(self.hv.uri)))

    # --- power
    last_bulk: Any = None  # the last finished BulkRun (screens/bulk.py): its outcomes

    def action_command_line(self) -> None:
        """The : command line (screens/command.py) over the dashboard or a guest's screen."""
        from textual.screen import ModalScreen

        from vmtui.screens.command import open_command_line
        from vmtui.screens.display import DisplayScreen

        if isinstance(self.screen, (ConsoleScreen, DisplayScreen, ModalScreen)):
            raise SkipAction()  # their keys belong to the guest, or to the dialog
        open_command_line(self)

    # --- alloc
    def action_storage(self) -> None:
        """Storage pools and volumes of the selected guest's host (else the first host)."""
        from vmtui.screens.storage import StorageScreen

        if isinstance(self.screen, StorageScreen):
            return
        if not self.hosts:
            self.notify("No host is connected; add one with H (connections).", timeout=4)
            return
        self.push_screen(StorageScreen(self._host_in_view(self.uri)))

    # --- migrate
    # Guests being migrated (screens/migrate.py sets it): for a moment a moving guest is on
    # neither host's last poll, which must not read as "the guest is gone".
    migrating: frozenset[str] = frozenset()
