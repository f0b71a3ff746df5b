"""Run a command in one guest or in every marked guest, through each guest's agent
(``guest-exec``), and show each guest's output: stdout, stderr, exit code.

Output is untrusted text from the guest: it is shown escaped (``core/escape.py``), never as
markup nor raw terminal bytes; each stream is cut to ``agent.OUTPUT_LIMIT`` bytes in the guest
and the pane says how much was left out. Commands run four guests at a time; each is logged
as its ``virsh qemu-agent-command …`` line. A read-only connection refuses (a sentence).
``run_in_guests`` is the ``:exec`` command's way in (screens/command.py).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from vmtui.backend import GuestInfo
from vmtui.backend import agent as agent_calls
from vmtui.backend.agent import ExecResult
from vmtui.backend.errors import ActionFailed
from vmtui.control.services import services
from vmtui.core import format as fmt
from vmtui.core.escape import escape_output, is_binary
from vmtui.screens.bulk import confirm_many

AT_ONCE = 4  # guests running the command at the same time
MAX_TIMEOUT = 3600.0

READ_ONLY = (
    "The connection is read-only, and running a command changes the guest: restart vmtui "
    "without --readonly to run commands in guests."
)


def result_text(result: ExecResult) -> Text:
    """One guest's answer as text (all of it data: never markup)."""
    text = Text()
    text.append(result.name, style="bold")
    if result.error:
        text.append("  failed\n", style="bold red")
        text.append(result.error + "\n", style="red")
        return text
    took = f" in {result.seconds:.1f} s"
    if result.timed_out:
        text.append(f"  still running after{took}", style="bold yellow")
        pid = f" (pid {result.pid})" if result.pid is not None else ""
        text.append(f"; it goes on in the guest{pid}, its output is not shown\n", style="yellow")
        return text
    code = result.exit_code
    if result.signal is not None:
        text.append(f"  killed by signal {result.signal}{took}\n", style="bold red")
    else:
        style = "bold green" if code == 0 else "bold red"
        text.append(f"  exit {code if code is not None else '?'}{took}\n", style=style)
    for label, data, cut in (
        ("stdout", result.stdout, result.stdout_cut),
        ("stderr", result.stderr, result.stderr_cut),
    ):
        if not data and not cut:
            continue
        text.append(f"{label}:\n", style="dim")
        shown = escape_output(data)
        text.append(shown if shown.endswith("\n") or not shown else shown + "\n")
        notes = []
        if is_binary(data):
            notes.append("bytes that are not printable text are shown as \\xNN")
        if cut:
            notes.append(
                f"at least {cut:,} more bytes ({fmt.size(cut)}) not shown; "
                f"the first {len(data):,} are"
            )
        if result.truncated_by_agent:
            notes.append("the agent itself stopped capturing at its own limit")
        if notes:
            text.append("[" + "; ".join(notes) + "]\n", style="italic yellow")
    return text


class ExecScreen(Screen[None]):
    """The command line, then one block of output per guest."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
    ]
    DEFAULT_CSS = """
    ExecScreen #exec-form { height: auto; padding: 0 1; }
    ExecScreen #exec-command { width: 1fr; }
    ExecScreen #exec-timeout { width: 12; }
    ExecScreen #exec-targets { padding: 0 1; color: $text-muted; }
    ExecScreen #exec-output { height: 1fr; padding: 0 1; }
    ExecScreen .exec-result { margin: 0 0 1 0; }
    """

    def __init__(self, guests: list[GuestInfo], command: str = "") -> None:
        super().__init__()
        self.guests = guests
        self.command = command  # run at once when given (the : line's :exec)
        self.results: dict[str, ExecResult] = {}
        self._queue: deque[tuple[GuestInfo, str, float]] = deque()
        self._in_flight = 0

    def compose(self) -> ComposeResult:
        names = ", ".join(g.name for g in self.guests)
        yield Label(
            f"Run a command in {len(self.guests)} guest(s): {names}",
            id="exec-targets",
            markup=False,
        )
        with Horizontal(id="exec-form"):
            yield Input(placeholder="command (run with /bin/sh -c)", id="exec-command")
            yield Input(
                str(int(agent_calls.EXEC_TIMEOUT)),
                id="exec-timeout",
                tooltip="seconds to wait",
                type="number",
            )
            yield Button("Run", id="exec-run", variant="primary", compact=True)
        with VerticalScroll(id="exec-output"):
            yield Static("", id="exec-status", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        box = self.query_one("#exec-command", Input)
        box.focus()
        if self.command:
            box.value = self.command
            self.run_command(self.command)

    @on(Input.Submitted)
    @on(Button.Pressed, "#exec-run")
    def _run_pressed(self) -> None:
        self.run_command(self.query_one("#exec-command", Input).value)

    def _say(self, sentence: str) -> None:
        self.query_one("#exec-status", Static).update(Text(sentence))

    def run_command(self, command: str) -> None:
        """Start ``command`` in every target guest (four at a time)."""
        if services(self).readonly:
            self._say(READ_ONLY)
            return
        if not command.strip():
            self._say("Type a command to run.")
            return
        try:
            timeout = float(
                self.query_one("#exec-timeout", Input).value or agent_calls.EXEC_TIMEOUT
            )
        except ValueError:
            self._say("The timeout must be a number of seconds.")
            return
        if not 0 < timeout <= MAX_TIMEOUT:
            self._say(f"The timeout must be between 1 and {int(MAX_TIMEOUT)} seconds.")
            return
        output = self.query_one("#exec-output", VerticalScroll)
        for old in output.query(".exec-result"):
            old.remove()
        self.results.clear()
        for guest in self.guests:
            output.mount(
                Static(
                    Text(f"{guest.name}  waiting…", style="dim"),
                    classes="exec-result",
                    id=f"r-{guest.uuid}",
                )
            )
            self._queue.append((guest, command, timeout))
        self._say(f"Running in {len(self.guests)} guest(s)…")
        self._next()

    def _next(self) -> None:
        while self._queue and self._in_flight < AT_ONCE:
            guest, command, timeout = self._queue.popleft()
            self._in_flight += 1
            self._start(guest, command, timeout)

    def _start(self, guest: GuestInfo, command: str, timeout: float) -> None:
        svc = services(self)
        uuid, name = guest.uuid, guest.name
        hv = svc.hypervisor_for(uuid)

        def call() -> ExecResult:
            result = agent_calls.run_command(hv, uuid, command, timeout=timeout)
            if result.error:
                self._record(result)  # shown in the pane; the log gets the sentence
                raise ActionFailed(result.error)
            return result

        def outcome(result: ExecResult) -> str:
            if result.timed_out:
                return f"{name}: still running after {result.seconds:.0f} s."
            return f"{name}: exit {result.exit_code}."

        def done(result: ExecResult) -> None:
            self._show(result)
            self._finished()

        def failed(sentence: str) -> None:
            shown = self.results.get(uuid) or ExecResult(uuid, name, command, error=sentence)
            self._show(shown)
            self._finished()

        svc.runner.run(
            call,
            done=done,
            failed=failed,
            what=f"run a command in {name}",
            success=outcome,
            command=agent_calls.exec_words(name, command),
            host=svc.uri_of(uuid) or svc.uri,
        )

    def _record(self, result: ExecResult) -> None:
        self.results[result.uuid] = result  # from the worker: a dict write, read on the UI

    def _show(self, result: ExecResult) -> None:
        self.results[result.uuid] = result
        for block in self.query(f"#r-{result.uuid}").results(Static):
            block.update(result_text(result))

    def _finished(self) -> None:
        self._in_flight -= 1
        self._next()
        if not self._queue and self._in_flight == 0:
            ok = sum(1 for r in self.results.values() if r.ok)
            self._say(f"Done: {ok} of {len(self.results)} guest(s) exited 0.")

    def action_back(self) -> None:
        self.dismiss()


def run_in_guests(
    app: App[Any], command: str, guests: Sequence[GuestInfo], hidden: Collection[str] = ()
) -> None:
    """``:exec COMMAND``: run it in the running ones of ``guests`` (asking first when there
    is more than one, or one the filter hides), each guest's output on an ExecScreen."""
    if services(app).readonly:
        app.notify(READ_ONLY, markup=False, severity="warning", timeout=6)
        return
    off = [g.name for g in guests if not g.is_active]
    running = [g for g in guests if g.is_active]
    if off:
        app.notify(
            f"Not running, so no agent to run it: {', '.join(off)}.",
            markup=False,
            severity="warning",
            timeout=5,
        )
    if not running:
        return
    shown = command if len(command) <= 32 else command[:31] + "…"
    confirm_many(
        app,
        f"Run {shown}",
        running,
        lambda: app.push_screen(ExecScreen(list(running), command)),
        hidden=hidden,
    )
