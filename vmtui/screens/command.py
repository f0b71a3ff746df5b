"""The ``:`` command line: an Input at the bottom with completion (→ accepts), run on enter.

Parsing and target resolution are pure (core/commandline.py); this module only asks and
then hands the guests to the bulk actions (screens/bulk.py). A command that cannot be
understood keeps the line open with the sentence saying why under it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.suggester import Suggester
from textual.widgets import Input, Label, Static

from vmtui.backend import GuestInfo
from vmtui.control.services import services
from vmtui.control.subjects import subject_of
from vmtui.core import commandline, query
from vmtui.core.actions import POWER
from vmtui.core.commandline import Command, CommandError
from vmtui.screens import bulk, sandbox
from vmtui.screens.base import GuestActionScreen
from vmtui.screens.dashboard import DashboardScreen
from vmtui.screens.exec import run_in_guests


class CommandSuggester(Suggester):
    """Completes the last word: commands, guest names, tags, hosts, states."""

    def __init__(self, app: App[Any]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self._app = app

    async def get_suggestion(self, value: str) -> str | None:
        snapshot = services(self._app).snapshot
        guests = snapshot.guests if snapshot else ()
        tags = sorted({t for g in guests for t in g.tags}, key=str.lower)
        hosts = list(services(self._app).host_labels().values())
        return commandline.complete(value, [g.name for g in guests], tags, hosts)


# Lines that ran, per app (up/down recall them), newest last.
_HISTORY: weakref.WeakKeyDictionary[object, list[str]] = weakref.WeakKeyDictionary()
HISTORY_LIMIT = 100


class CommandLineScreen(ModalScreen[str | None]):
    """Dismisses with the command line once ``check`` accepts it (None on escape)."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("up", "recall(-1)", "Previous", show=False),
        Binding("down", "recall(1)", "Next", show=False),
    ]

    def __init__(
        self,
        suggester: Suggester,
        check: Callable[[str], str | None],
        history: list[str] | None = None,
    ) -> None:
        super().__init__()
        self._suggester = suggester
        self._check = check
        self._history = history if history is not None else []
        self._recalled = len(self._history)  # == len: the new line being typed
        self.error = ""  # why the last line could not run (shown above the input)

    def compose(self) -> ComposeResult:
        with Vertical(id="command-box"):
            yield Static("", id="command-error", markup=False)
            with Horizontal(id="command-row"):
                yield Label(":", id="command-colon")
                yield Input(
                    placeholder="start web* · shutdown tag:ci · vcpus db1 4 · q  (→ completes)",
                    suggester=self._suggester,
                    id="command",
                )

    def on_mount(self) -> None:
        self.query_one("#command", Input).focus()

    def _show_error(self, text: str) -> None:
        self.error = text
        box = self.query_one("#command-error", Static)
        box.update(text)
        box.set_class(bool(text), "shown")

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show_error("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        problem = self._check(event.value)
        if problem:
            self._show_error(problem)
            return
        line = event.value.strip()
        if line and (not self._history or self._history[-1] != line):
            self._history.append(line)
            del self._history[:-HISTORY_LIMIT]
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_recall(self, step: int) -> None:
        """Up/down: the previous/next line that ran."""
        where = max(0, min(len(self._history), self._recalled + step))
        if where == self._recalled:
            return
        self._recalled = where
        box = self.query_one("#command", Input)
        box.value = self._history[where] if where < len(self._history) else ""
        box.cursor_position = len(box.value)


def subjects(app: App[Any]) -> list[tuple[query.Subject, GuestInfo]]:
    snap = services(app).snapshot
    if snap is None:
        return []
    labels = services(app).host_labels()
    ordered = sorted(snap.guests, key=lambda g: (g.name.lower(), g.name, g.uuid))
    return [(subject_of(g, snap.stats.get(g.uuid), labels.get(g.host, "")), g) for g in ordered]


def targets(app: App[Any], command: Command, screen: Screen[object]) -> list[GuestInfo]:
    """The guests a command acts on: those it names, else the screen's marked/current ones."""
    if not command.has_targets:
        if isinstance(screen, GuestActionScreen):
            return screen.targets()
        return []
    pairs = subjects(app)
    chosen = {s.uuid for s in commandline.resolve(command, [s for s, _ in pairs])}
    return [g for s, g in pairs if s.uuid in chosen]


def hidden_of(screen: Screen[object], guests: list[GuestInfo]) -> frozenset[str]:
    """The uuids among ``guests`` that the dashboard's filter (or host narrowing) hides: a
    command acts on them too, and its question says so."""
    if isinstance(screen, GuestActionScreen):
        return screen.hidden_uuids(guests)
    return frozenset()


def check(app: App[Any], text: str, screen: Screen[object]) -> str | None:
    """Why this line cannot run (a sentence), or None when it can."""
    try:
        command = commandline.parse(text)
        if command.action in ("quit", "unmark", "help"):
            return None
        if command.mutating and services(app).readonly:
            return "The connection is read-only; restart vmtui without --readonly to change guests."
        if command.action == "sandbox" and command.names and command.names[0].startswith("/"):
            return None  # a disk image's path: no guest to find
        if not targets(app, command, screen):
            return "No guest is marked or selected; name one, e.g. :start web1."
    except CommandError as err:
        return err.message
    return None


def execute(app: App[Any], text: str, screen: Screen[object]) -> None:
    """Run a command line that ``check`` accepted."""
    try:
        command = commandline.parse(text)
        if command.action == "quit":
            app.exit()
            return
        if command.action == "help":
            text = "\n".join(commandline.help_lines())
            text += "\nTargets: names, globs (web*) and / terms (tag:db state:running cpu>50)."
            app.notify(text, title="Commands", markup=False, timeout=20)
            return
        if command.action == "unmark":
            if isinstance(screen, DashboardScreen):
                screen.table.clear_marks()
            return
        if command.action == "sandbox" and command.names and command.names[0].startswith("/"):
            sandbox.start(app, command.names[0], command.new_name, network=command.network)
            return
        guests = targets(app, command, screen)
    except CommandError as err:
        app.notify(err.message, markup=False, severity="error", timeout=6)
        return
    action = command.action
    hidden = hidden_of(screen, guests)
    if action == "mark":
        if not isinstance(screen, DashboardScreen):
            app.notify("Marks live on the dashboard; go back (esc) first.", timeout=4)
            return
        for g in guests:
            screen.table.set_marked(g.uuid, True)
        app.notify(f"{len(screen.table.marked)} guest(s) marked.", timeout=2)
        return
    if action == "sandbox":
        if len(guests) != 1:
            app.notify("A sandbox is made of one guest; name it: :sandbox web1.", timeout=5)
        else:
            sandbox.ask(app, guests[0], command.new_name, network=command.network)
        return
    if action in POWER or action == "delete":
        bulk.bulk_action(app, action, guests, hidden)
        return
    if action == "exec":  # through each guest's agent, output per guest (screens/exec.py)
        run_in_guests(app, command.shell, guests, hidden)
        return
    elif action == "snapshot":
        title = f"Snapshot {command.snapshot}"
        jobs = bulk.snapshot_jobs(app, guests, command.snapshot)
    elif action == "tag":
        title = f"Tag ({command.edit.describe()})"
        jobs = bulk.tag_jobs(app, guests, command.edit)
    elif action == "vcpus":
        title = f"Set {command.count} vCPUs"
        jobs = bulk.vcpus_jobs(app, guests, command.count)
    elif action == "pin":
        title = f"Pin vCPUs to {command.cpulist}"
        jobs = bulk.pin_jobs(app, guests, command.cpus, command.cpulist)
    else:
        return
    # more than one guest (or one the filter hides): ask first, naming them (issue 14, #7)
    bulk.confirm_many(app, title, guests, bulk.BulkRun(app, title, jobs).start, hidden=hidden)


def open_command_line(app: App[Any]) -> None:
    """Show the : line over the current screen; run what it returns against that screen."""
    screen = app.screen

    def done(text: str | None) -> None:
        if text is not None:
            execute(app, text, screen)

    history = _HISTORY.setdefault(app, [])
    line = CommandLineScreen(CommandSuggester(app), lambda text: check(app, text, screen), history)
    app.push_screen(line, done)
