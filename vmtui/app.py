"""The Textual app: composes the screens, owns the global keys, routes messages.

Its jobs are done by the control layer (``vmtui/control``): the hosts of the session and their
status (hosts.py), each host's poll loop (polling.py), backend calls in workers (runner.py)
and open consoles (consoles.py). The app wires them together, shows each poll on the screens
that show hosts, and implements ``control.services.Services``: what screens may ask of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from textual import events
from textual.actions import SkipAction
from textual.app import App
from textual.binding import Binding
from textual.driver import Driver
from textual.screen import ModalScreen
from textual.widgets import Input, TextArea

from vmtui.backend import (
    ActionFailed,
    ConnectionEvent,
    ConnState,
    DeletePlan,
    DeleteResult,
    GuestEvent,
    GuestHistory,
    Hypervisor,
    Snapshot,
)
from vmtui.backend import agent as agent_calls
from vmtui.backend.connections import ConnectionStore, config_path
from vmtui.backend.hoststats import HostSampler
from vmtui.control.consoles import Consoles, ConsoleState
from vmtui.control.followup import Followup, Followups
from vmtui.control.hosts import Hosts, fleet_status
from vmtui.control.longhistory import LongHistory
from vmtui.control.messages import (
    BackendEvent,
    CallFinished,
    ConsoleChanged,
    ConsoleClosed,
    ConsoleFailed,
    ConsoleOpened,
    GuestActionRequested,
    Polled,
    PollFailed,
)
from vmtui.control.polling import Poller
from vmtui.control.runner import Runner
from vmtui.control.services import Services
from vmtui.control.work import InFlight, Operations, quit_question, quit_reasons
from vmtui.core import actions
from vmtui.core import format as fmt
from vmtui.core.activity import ActivityLog
from vmtui.core.safetext import has_unsafe, safe_text, xml_char_refs
from vmtui.demo import DEMO_URI
from vmtui.screens.activity import ActivityScreen
from vmtui.screens.archive import open_import
from vmtui.screens.base import GuestActionScreen, GuestCommands
from vmtui.screens.command import open_command_line
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.connections import ConnectionsScreen
from vmtui.screens.console import ConsoleScreen, ConsolesScreen
from vmtui.screens.dashboard import DashboardScreen
from vmtui.screens.delete import DeleteScreen
from vmtui.screens.display import DisplayScreen
from vmtui.screens.help import HelpScreen
from vmtui.screens.hostview import HostView
from vmtui.screens.networks import NetworksScreen
from vmtui.screens.nodaemon import NoDaemonScreen
from vmtui.screens.storage import StorageScreen
from vmtui.term import hangup
from vmtui.widgets.safe_driver import safe_driver
from vmtui.widgets.status_line import StatusLine

T = TypeVar("T")


# Python's collector makes a young-generation pass every 700 net allocations (its default).
# A poll of 10,000 guests allocates ~40,000 objects that live for the tick and die by
# reference counting (no cycles): at 700 that was ~60 passes a tick, promoting the live
# records to older generations and setting off full passes, 23 ms of a 70 ms bulk call at
# 10,000 guests inside the app; at 10,000 it is ~3 ms (benchmarks/README.md, "Thousands of
# guests"). Cycles (Textual's) wait a little longer to be collected: kilobytes.
GC_YOUNG_THRESHOLD = 10_000


class VmtuiApp(App[None]):
    """vmtui: the guests of one or more libvirt hosts, live."""

    CSS_PATH = "app.tcss"
    TITLE = "vmtui"
    COMMANDS = App.COMMANDS | {GuestCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        # Priority: focus moves before the keys typed after Tab are handed on (action_focus_move)
        # system: ? lists them once, as "tab, shift+tab: Move the focus" (screens/help.py)
        Binding("tab", "focus_move(True)", "Next field", show=False, priority=True, system=True),
        Binding(
            "shift+tab",
            "focus_move(False)",
            "Previous field",
            show=False,
            priority=True,
            system=True,
        ),
        Binding("question_mark", "help", "Keys", key_display="?"),
        Binding("C", "consoles", "Consoles", show=False),
        Binding("L", "activity", "Activity log", show=False),
        Binding("H", "connections", "Connections", show=False),
        Binding("N", "networks", "Networks", show=False),
        Binding("colon", "command_line", "Command", key_display=":", show=False),
        Binding("V", "storage", "Storage", show=False),
        Binding("J", "import_guest", "Import a guest archive", show=False),
    ]

    _gc_thresholds: tuple[int, int, int] | None = None  # Python's own, restored on unmount

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
        self.hosts = Hosts(self._make_hypervisor, uris)
        self.snapshot: Snapshot | None = None  # every host's guests merged (see hosts.py)
        self.histories: dict[str, GuestHistory] = {}
        self.watched: frozenset[str] = frozenset()
        self.activity = ActivityLog()
        self.poller = Poller(self, self.hosts, interval, clock, lambda: self.watched)
        self.runner = Runner(self, self.activity, self.request_poll)
        self.operations = Operations()  # migrations, clones… that quitting would cut short
        self.followups = Followups()  # a fresh guest spinning, a shutdown ignored
        self.in_flight = InFlight()  # a power action asked and not answered: not asked twice
        self._long = LongHistory()  # an hour of the watched guests' figures (charts)
        self._asking_to_quit = False
        self.run_backend = self.runner.run  # a blocking backend call in a worker
        self._consoles = Consoles(self, self.runner, self.hypervisor_for)
        self.console_on_start = console_on_start
        self._no_daemon_screen: NoDaemonScreen | None = None
        self._offered_demo = False
        self._terminal_fd: int | None = None  # watched for a hang-up (see _watch_terminal)
        self._hung_up = False
        # Guests being migrated: for a moment a moving guest is on neither host's last poll,
        # which must not read as "the guest is gone" (set_migrating).
        self.migrating: frozenset[str] = frozenset()
        self.last_bulk: Any = None  # the last finished bulk run (screens/bulk.py)
        self.config_file: Path | None = None  # saved connections (cli --config); None: default
        self.config_problem = ""  # why that file could not be read at start ("" when fine)

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

    def get_driver_class(self) -> type[Driver]:
        """The platform's driver, writing through safe_output (widgets/safe_driver.py)."""
        return safe_driver(super().get_driver_class())

    async def on_event(self, event: events.Event) -> None:
        """A paste into a text box goes in with its control, bidi and zero-width characters
        escaped: Textual's Input and TextArea insert pasted text as it is, and draw it raw
        to the terminal (issue 14 #4). A console's paste is the guest's business: untouched."""
        if isinstance(event, events.Paste) and not event.is_forwarded and has_unsafe(event.text):
            if isinstance(self.focused, TextArea):
                event = events.Paste(xml_char_refs(event.text))  # the XML editor's own rule
            elif isinstance(self.focused, Input):  # one line, as Input itself takes it
                event = events.Paste(safe_text(next(iter(event.text.splitlines()), "")))
        await super().on_event(event)

    def on_mount(self) -> None:
        self._gc_thresholds = gc.get_threshold()
        if 0 < self._gc_thresholds[0] < GC_YOUNG_THRESHOLD:
            gc.set_threshold(GC_YOUNG_THRESHOLD, *self._gc_thresholds[1:])
        self.push_screen(DashboardScreen())
        self.set_interval(0.5, self.update_status)
        self._watch_terminal()
        for link in self.hosts.values():
            self.poller.schedule(0, link)
        if self.config_problem:  # the saved-connections file is broken
            self.notify(self.config_problem, severity="error", markup=False, timeout=15)

    def on_unmount(self) -> None:
        gc.unfreeze()  # what was frozen can be collected again once the app has gone
        if self._gc_thresholds is not None:
            gc.set_threshold(*self._gc_thresholds)
        if self._terminal_fd is not None:
            with contextlib.suppress(RuntimeError, ValueError):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)

    # ------------------------------------------------------------ hosts
    @property
    def hv(self) -> Hypervisor:
        """The first host's connection (single-host code paths and tests)."""
        return self.hosts.first_hypervisor()

    @property
    def uri(self) -> str:
        link = self.hosts.primary
        return link.uri if link else ""

    @property
    def polls(self) -> int:
        """Polls answered so far, every host together."""
        return self.poller.polls

    @property
    def consoles(self) -> dict[str, ConsoleState]:
        """Open consoles by guest UUID."""
        return self._consoles.states

    def switch_host(self, uri: str) -> None:
        """Drop every connection and show this host alone (e.g. the demo)."""
        for link in list(self.hosts.values()):
            self.disconnect_host(link.uri, refresh=False)
        self.connect_host(uri)

    def connect_host(self, uri: str) -> None:
        """Add a host to the session (no-op when it is already there); polls it at once."""
        new = uri not in self.hosts
        link = self.hosts.add(uri)
        if new:
            self._show_merged()
        self.poller.schedule(0, link)

    def disconnect_host(self, uri: str, refresh: bool = True) -> None:
        """Remove a host from the session and close its connection in the background."""
        link = self.hosts.remove(uri)
        if link is None:
            return
        self.poller.stop(link)
        self.runner.close_quietly(link.hv.close, "close connection")
        if refresh:
            self._show_merged()

    def host_labels(self) -> dict[str, str]:
        """A short label per connected host (hostname when known), for the host column."""
        return self.hosts.labels()

    def host_status(self, uri: str) -> tuple[str, str, str]:
        return self.hosts[uri].status(self._clock(), self.interval, self.readonly)

    def uri_of(self, uuid: str) -> str | None:
        """The URI of the host a guest is shown on (None when no host shows it)."""
        if self.snapshot is not None:
            for guest in self.snapshot.guests:
                if guest.uuid == uuid:
                    return guest.host or None
        return None

    def hypervisor_for(self, uuid: str | None = None) -> Hypervisor:
        """The connection a guest lives on (the first host when ``uuid`` is None or unknown)."""
        uri = self.uri_of(uuid) if uuid else None
        if uri is not None and uri in self.hosts:
            return self.hosts[uri].hv
        return self.hv

    def hypervisor_for_uri(self, uri: str) -> Hypervisor:
        """The connection to a host of this session (NotConnected when it is not one)."""
        return self.hosts.hypervisor_for_uri(uri)

    def connection_store(self) -> ConnectionStore:
        """The saved-connections file of this session (blocking: use it in a worker)."""
        return ConnectionStore(self.config_file or config_path())

    def set_migrating(self, uuid: str, moving: bool) -> None:
        self.migrating = self.migrating | {uuid} if moving else self.migrating - {uuid}

    def record_bulk(self, run: Any) -> None:
        self.last_bulk = run

    # ------------------------------------------------------------ polling
    def request_poll(self, uri: str | None = None) -> None:
        """Poll soon (after an action or an event); never overlaps a running poll."""
        self.poller.request(uri)

    def watch_guest(self, uuid: str, on: bool) -> None:
        self.watched = self.watched | {uuid} if on else self.watched - {uuid}
        if on:
            self.request_poll(self.uri_of(uuid))

    def long_history(self, uuid: str) -> GuestHistory | None:
        """Up to an hour of a watched guest's figures (None when it is not watched)."""
        return self._long.get(uuid)

    def on_polled(self, message: Polled) -> None:
        shown = message.shown
        if shown is not None:  # the poll waits for this snapshot to be on screen
            if self.is_running:
                # after the refresh that lays the new rows out, and the one that paints them
                self.call_after_refresh(self.call_after_refresh, shown.set)
            else:
                shown.set()
        if not self.is_running:
            return  # a late answer while the app shuts down: its screens are going away
        link = self.hosts.get(message.snapshot.uri)
        if link is None:
            return  # a late answer from a host that was removed
        first = not link.ever_polled
        self.poller.polled(message)
        self._long.polled(message.histories.values(), self.watched)
        if self._no_daemon_screen is not None and link is self.hosts.primary:
            self._no_daemon_screen.dismiss(None)
            self._no_daemon_screen = None
        self._show_merged()
        self._follow_up()
        self.in_flight.polled(self.polls)
        if first:
            self.call_after_refresh(self._settle_memory)
        self._consoles.reconnect(message.snapshot)
        self._open_console_on_start(message.snapshot)
        self.update_status()
        self.poller.rearm(link)

    def on_poll_failed(self, message: PollFailed) -> None:
        if not self.is_running:
            return  # shutting down: no modal, no new timer
        link = self.poller.failed(message)
        if link is None:
            return
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
        self._show_merged()  # its guests are now shown as stale
        self.update_status()
        self.poller.rearm(link, message.retry_in)

    def _no_daemon_choice(self, choice: str | None) -> None:
        self._no_daemon_screen = None
        if choice == "demo":
            self.switch_host(DEMO_URI)
        elif choice == "retry":
            self.poller.schedule(0)
        elif choice == "quit":
            self.exit()

    def on_backend_event(self, message: BackendEvent) -> None:
        event = message.event
        link = self.hosts.get(event.uri)
        if link is None:
            return
        if isinstance(event, ConnectionEvent):
            if event.state is ConnState.LOST:
                self.poller.lost(link, f"Lost {fmt.short_uri(event.uri)}: {event.reason}.")
                self._show_merged()
            self.update_status()
        elif isinstance(event, GuestEvent):
            detail = f" ({event.detail})" if event.detail else ""
            self.activity.event(event.uri, f"Guest {event.name} {event.event}{detail}.")
            self.request_poll(event.uri)

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

    def _show_merged(self) -> None:
        """Merge every host's last snapshot and show it on every host view."""
        self.snapshot = self.hosts.merged()
        self.histories = self.hosts.histories()
        # A screen pushed but not mounted yet has no widgets to update: it shows the app's
        # snapshot itself in on_mount.
        for screen in self.screen_stack:
            if isinstance(screen, HostView) and screen.is_mounted:
                screen.show_snapshot(self.snapshot)

    # ------------------------------------------------------------ status line
    def status(self) -> tuple[str, str, str]:
        """(symbol, sentence, style) describing the connections right now."""
        links = list(self.hosts.values())
        return fleet_status(links, self.snapshot, self._clock(), self.interval, self.readonly)

    def update_status(self) -> None:
        # A host whose poll hangs turns stale (its rows get "?") without any message from
        # it: notice it here, on the status timer, and redraw the rows when that changes.
        if self.poller.mark_hung():
            self._show_merged()
        symbol, text, style = self.status()
        # Every screen's line, not only the top one: a modal shows the screen below it.
        for screen in self.screen_stack:
            for line in screen.query(StatusLine):
                line.set_status(symbol, text, style)

    # ------------------------------------------------------------ the terminal hanging up
    def _watch_terminal(self) -> None:
        """Quit when the terminal hangs up: on SIGHUP, and by asking it once a second
        (see vmtui.term.hangup). Not under a headless driver (tests) or without a terminal."""
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

    # ------------------------------------------------------------ actions
    def on_call_finished(self, message: CallFinished) -> None:
        self.runner.finished(message)

    def guest_action(self, action: str, uuid: str, name: str) -> None:
        """A power action of the catalogue (``core.actions.POWER``) on one guest."""
        act = actions.POWER[action]
        call = act.call
        if action == "shutdown":  # followed up if it is still running a minute later
            self.followups.shutdown_asked(uuid, self._clock())
        elif action == "force_off":
            self.followups.forget_shutdown(uuid)
        verb = act.verb.split(" of")[0]
        if not self.in_flight.begin(uuid, action):  # a repeated key: absorbed, said quietly
            self.notify(f"Still asking guest {name} to {verb}…", markup=False, timeout=2)
            return
        self.notify(f"Asking guest {name} to {verb}…", markup=False, timeout=2)

        def settled() -> None:  # until the polls show the answer, not just until it came
            self.in_flight.answered(uuid, action, self.polls)
            if action == "resume":
                self._sync_clock_after_resume(uuid, name)

        def failed(sentence: str) -> None:
            self.in_flight.end(uuid, action)
            self.notify(sentence, markup=False, severity="error", timeout=8)

        self.run_backend(
            lambda: call(self.hypervisor_for(uuid), uuid),
            done=lambda _result: settled(),
            failed=failed,
            what=f"{act.verb} {name}",
            success=f"Guest {name} {act.done}.",
            command=(*act.virsh, name),
            host=self.uri_of(uuid) or self.uri,
        )

    def _sync_clock_after_resume(self, uuid: str, name: str) -> None:
        """A resumed guest's clock is behind by the time it was paused: set it from the
        host's through its agent, when one is connected (logged as ``virsh domtime --sync``;
        a failure is logged, not shouted: the guest runs either way)."""
        snap = self.snapshot
        guest = next((g for g in snap.guests if g.uuid == uuid), None) if snap else None
        if guest is None or not guest.agent_connected or self.readonly:
            return
        hv = self.hypervisor_for(uuid)
        self.run_backend(
            lambda: agent_calls.sync_time(hv, uuid),
            failed=lambda _sentence: None,
            what=f"set the clock of {name}",
            command=["domtime", name, "--sync"],
            host=self.uri_of(uuid) or self.uri,
        )

    def _follow_up(self) -> None:
        """Say what a fresh guest's busy silence or an ignored shutdown may mean."""
        if self.snapshot is None:
            return
        for said in self.followups.check(self.snapshot, self._clock(), self._console_output):
            if said.kind == "not-stopped" and isinstance(self.screen, GuestActionScreen):
                self._offer_force_off(said)
            else:
                self.notify(said.sentence, markup=False, severity="warning", timeout=20)

    def _offer_force_off(self, said: Followup) -> None:
        ConfirmScreen(
            f"Guest {said.name} has not stopped",
            f"{said.sentence}\nForcing it off cuts its power at once: what it has not "
            "written to its disks is lost.",
            confirm="Force off",
        ).ask(self, lambda: self.guest_action("force_off", said.uuid, said.name))

    def _console_output(self, uuid: str) -> bool | None:
        """The guest's open console has shown something (None: no console is open)."""
        console = self._consoles.states.get(uuid)
        return None if console is None else bool(console.emulator.all_text().strip())

    def on_guest_action_requested(self, message: GuestActionRequested) -> None:
        if message.action == "console":
            self.open_console(message.uuid, message.name)
        elif message.action == "delete":
            self.ask_delete(message.uuid)
        else:
            self.guest_action(message.action, message.uuid, message.name)

    def ask_delete(self, uuid: str) -> None:
        """Read what a delete would touch, then ask (DeleteScreen) before anything goes."""
        self.run_backend(
            lambda: self.hypervisor_for(uuid).delete_plan(uuid),
            done=self._ask_what_to_delete,
            what="prepare the delete",
        )

    def _ask_what_to_delete(self, plan: DeletePlan) -> None:
        guest = plan.guest

        def chosen(disks: list[str] | None) -> None:
            if disks is not None:
                self.notify(f"Deleting guest {guest.name}…", markup=False, timeout=2)
                self.delete_guest(guest.uuid, guest.name, disks)

        self.push_screen(DeleteScreen(plan), chosen)

    def delete_guest(self, uuid: str, name: str, disks: list[str]) -> None:
        def delete() -> DeleteResult:
            result = self.hypervisor_for(uuid).delete(uuid, disks)
            if result.failed:
                failures = " ".join(reason for _, reason in result.failed)
                raise ActionFailed(f"Guest {name} was deleted, but: {failures}")
            return result

        def said(result: DeleteResult) -> str:
            removed = f" and {len(result.removed)} disk(s)" if result.removed else ""
            return f"Deleted guest {name}{removed}."

        host = self.uri_of(uuid) or self.uri
        guests = self.snapshot.guests if self.snapshot is not None else ()
        # a running guest is forced off first: the log says so
        running = any(g.uuid == uuid and g.is_active for g in guests)
        self.run_backend(
            delete,
            what=f"delete {name}",
            success=said,
            command=actions.delete_line(host, name, disks, running),
            host=host,
        )

    # ------------------------------------------------------------ consoles
    def open_console(self, uuid: str, name: str, force: bool = False) -> None:
        """Show the guest's console; attach if it is not attached yet (keeps its screen)."""
        console = self._consoles.ensure(uuid, name, force)
        for screen in self.screen_stack:
            if isinstance(screen, ConsoleScreen) and screen.console is console:
                while self.screen is not screen:
                    self.pop_screen()
                return
        self.push_screen(ConsoleScreen(console))

    def close_console(self, uuid: str) -> None:
        self._consoles.close(uuid)

    def _open_console_on_start(self, snapshot: Snapshot) -> None:
        """``--console GUEST``: open it once a poll shows it; say so when no host has it."""
        wanted = self.console_on_start
        if wanted is None:
            return
        found = [g for g in snapshot.guests if wanted in (g.name, g.uuid)]
        if found:
            self.console_on_start = None
            self.open_console(found[0].uuid, found[0].name)
        elif all(one.ever_polled for one in self.hosts.values()):
            self.console_on_start = None
            self.notify(f"There is no guest called {wanted}.", markup=False, severity="error")

    def _update_console_bars(self, uuid: str) -> None:
        for screen in self._console_screens(uuid):
            screen.update_bar()

    def _console_screens(self, uuid: str) -> list[ConsoleScreen]:
        return [
            s for s in self.screen_stack if isinstance(s, ConsoleScreen) and s.console.uuid == uuid
        ]

    def on_console_opened(self, message: ConsoleOpened) -> None:
        if self._consoles.opened(message) is not None:
            self._update_console_bars(message.uuid)

    def on_console_failed(self, message: ConsoleFailed) -> None:
        console = self._consoles.failed(message)
        if console is None:
            return
        self._update_console_bars(message.uuid)
        if not console.asked:  # an automatic re-attach: its bar says why, no toast, no question
            return
        if not message.busy:
            self.notify(message.error, markup=False, severity="error", timeout=8)
            return
        self._consoles.held(console)

        def answered(yes: bool | None) -> None:
            if yes:
                self._consoles.attach(console, force=True)

        self.push_screen(
            ConfirmScreen(
                f"Take over the console of {console.name}?", message.error, confirm="Take over"
            ),
            answered,
        )

    def on_console_closed(self, message: ConsoleClosed) -> None:
        if self._consoles.closed(message) is not None:
            self._update_console_bars(message.uuid)

    def on_console_changed(self, message: ConsoleChanged) -> None:
        for screen in self._console_screens(message.uuid):
            screen.output_changed()

    # ------------------------------------------------------------ keys
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

    def action_command_palette(self) -> None:
        if isinstance(self.screen, ConsoleScreen):
            raise SkipAction()  # ctrl+p belongs to the guest's shell
        super().action_command_palette()

    async def action_quit(self) -> None:
        if isinstance(self.screen, ConsoleScreen):
            raise SkipAction()  # ctrl+q too; detach with ctrl+] first
        if self._asking_to_quit:
            return
        reasons = quit_reasons(self.screen_stack, self.operations)
        if reasons:  # unsaved work or a running migration/clone: ask first, saying which
            self._asking_to_quit = True

            def answered(yes: bool | None) -> None:
                self._asking_to_quit = False
                if yes:
                    self.exit()

            title, body = quit_question(reasons)
            self.push_screen(ConfirmScreen(title, body, confirm="Quit"), answered)
            return
        await super().action_quit()

    def action_focus_move(self, forward: bool) -> None:
        """Tab / shift+tab: move the focus now, before the keys typed after it are handed
        on (a paste or a fast typist's burst lands in the right fields); the guest's keys
        on a console or display, and an indenting editor, keep their Tab."""
        focused = self.focused
        if isinstance(self.screen, ConsoleScreen | DisplayScreen) or (
            isinstance(focused, TextArea) and focused.tab_behavior == "indent"
        ):
            raise SkipAction()
        if forward:
            self.screen.focus_next()
        else:
            self.screen.focus_previous()

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen.for_screen(self.screen))

    def action_activity(self) -> None:
        """L: the activity log (virsh command lines of our actions, libvirt events)."""
        if isinstance(self.screen, ConsoleScreen | DisplayScreen):
            raise SkipAction()  # L belongs to the guest there
        if isinstance(self.screen, ActivityScreen):
            return
        self.push_screen(ActivityScreen())

    def action_connections(self) -> None:
        if isinstance(self.screen, ConnectionsScreen):
            return
        if isinstance(self.screen, ConsoleScreen):
            raise SkipAction()  # H belongs to the guest's shell
        self.push_screen(ConnectionsScreen())

    def _host_in_view(self, default: str) -> str:
        """The host of the guest under the cursor (dashboard or guest screen), else default."""
        if isinstance(self.screen, GuestActionScreen):
            guest = self.screen.current_guest()
            if guest is not None and guest.host in self.hosts:
                return guest.host
        return default

    def action_networks(self) -> None:
        """The networks of the selected guest's host (or of the first host)."""
        if isinstance(self.screen, NetworksScreen | ConsoleScreen):
            return
        self.push_screen(NetworksScreen(self._host_in_view(self.hv.uri)))

    def action_command_line(self) -> None:
        """The : command line (screens/command.py) over the dashboard or a guest's screen."""
        if isinstance(self.screen, (ConsoleScreen, DisplayScreen, ModalScreen)):
            raise SkipAction()  # their keys belong to the guest, or to the dialog
        open_command_line(self)

    def action_import_guest(self) -> None:
        """J: import a guest from an archive made by `vmtui export` (screens/archive.py)."""
        open_import(self)

    def action_storage(self) -> None:
        """Storage pools and volumes of the selected guest's host (else the first host)."""
        if isinstance(self.screen, StorageScreen):
            return
        if not self.hosts:
            self.notify("No host is connected; add one with H (connections).", timeout=4)
            return
        self.push_screen(StorageScreen(self._host_in_view(self.uri)))


def _implements_services(app: VmtuiApp) -> Services:
    """Never called: mypy checks here that the app is everything ``Services`` promises."""
    return app
