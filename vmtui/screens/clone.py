"""Clone a shut-off or paused guest (key K): name, pool, a review of what is copied and what
is carried over as it is, then the copy with progress and cancel."""

from __future__ import annotations

import shlex
import threading
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Footer, Input, Label, ProgressBar, Select, Static

from vmtui.backend import Hypervisor, VmtuiError
from vmtui.backend.clone import (
    CloneCancelled,
    ClonePlan,
    CloneProgress,
    clone_guest,
    clone_words,
    plan_clone,
    pool_names,
    suggest_name,
    validate_clone_name,
)
from vmtui.control.services import services
from vmtui.core import format as fmt
from vmtui.screens.hostview import HostView
from vmtui.widgets.status_line import StatusLine

SAME_POOL = "__same__"


@dataclass
class CloneProgressed(Message):
    progress: CloneProgress


@dataclass
class CloneEnded(Message):
    uuid: str = ""
    error: str = ""
    cancelled: bool = False


class CloneScreen(HostView):
    """One clone of one guest."""

    BINDINGS = [
        Binding("escape", "back", "Back / cancel"),
        # ctrl+s commits, as in the allocation screen and the XML editor (after Review)
        Binding("ctrl+s", "clone", "Clone"),
    ]

    def __init__(self, uuid: str, name: str) -> None:
        super().__init__()
        self.uuid = uuid
        self.guest_name = name
        self.plan: ClonePlan | None = None
        self.cloning = False
        self.operation: int | None = None  # registered with services().operations while it runs
        self.cancel_event = threading.Event()
        self.result: CloneEnded | None = None
        self.error = ""
        self.progress_seen: list[CloneProgress] = []

    def compose(self) -> ComposeResult:
        snapshot = services(self).snapshot
        taken = {g.name for g in snapshot.guests} if snapshot else set()
        with Vertical(id="dialog", classes="dialog help"):
            yield Label(f"Clone guest {self.guest_name}", id="title", markup=False)
            yield Input(suggest_name(self.guest_name, taken), placeholder="new name", id="name")
            yield Select[str](
                [("Same pool as each disk", SAME_POOL)],
                value=SAME_POOL,
                allow_blank=False,
                id="pool",
            )
            with VerticalScroll(id="clone-review-box"):
                yield Static("", id="clone-review", markup=False)
            yield ProgressBar(total=1.0, show_eta=False, id="clone-progress")
            yield Static("", id="clone-status", markup=False)
            yield Static("", id="clone-error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Review", id="review")
                yield Button("Clone (ctrl+s)", variant="primary", id="clone", disabled=True)
                yield Button("Back (esc)", id="back")
        yield StatusLine()
        yield Footer()

    def _hv(self) -> Hypervisor:
        return services(self).hypervisor_for(self.uuid)

    def on_mount(self) -> None:
        self.query_one("#clone-progress", ProgressBar).display = False
        hv = self._hv()
        services(self).runner.run(
            lambda: pool_names(hv),
            done=self._pools,
            failed=self._show_error,
            what="list the storage pools",
        )
        self.query_one("#name", Input).focus()

    def _pools(self, names: tuple[str, ...]) -> None:
        options = [("Same pool as each disk", SAME_POOL)]
        options += [(f"Pool {n}", n) for n in names]
        self.query_one("#pool", Select).set_options(options)
        self.query_one("#pool", Select).value = SAME_POOL

    def _show_error(self, error: str) -> None:
        self.error = error
        self.query_one("#clone-error", Static).update(Text(error, style="red"))

    def _inputs(self) -> tuple[str, str]:
        pool = self.query_one("#pool", Select).value
        target = "" if pool in (SAME_POOL, Select.BLANK) else str(pool)
        return self.query_one("#name", Input).value.strip(), target

    # ------------------------------------------------------------ review
    @on(Button.Pressed, "#review")
    def review(self) -> None:
        if self.cloning:
            return
        name, pool = self._inputs()
        snapshot = services(self).snapshot
        taken = {g.name for g in snapshot.guests} if snapshot else set()
        try:
            validate_clone_name(name, taken)
        except VmtuiError as err:
            self._show_error(err.message)
            return
        self._show_error("")
        hv = self._hv()
        services(self).runner.run(
            lambda: plan_clone(hv, self.uuid, name, pool),
            done=self._planned,
            failed=self._plan_failed,
            what=f"prepare the clone of {self.guest_name}",
        )

    def _plan_failed(self, error: str) -> None:
        self.plan = None
        self.query_one("#clone", Button).disabled = True
        self.query_one("#clone-review", Static).update("")
        self._show_error(error)

    def _planned(self, plan: ClonePlan) -> None:
        self.plan = plan
        text = Text()
        for line in plan.review():
            text.append("• " + line + "\n")
        total = sum(d.allocation for d in plan.disks)
        copy = (
            f"About {fmt.kib(total // 1024)} to copy."
            if total >= 1024
            else "Its disks hold no data yet: there is almost nothing to copy."
        )
        text.append(copy if plan.disks else "It has no disk to copy.", style="dim")
        self.query_one("#clone-review", Static).update(text)
        button = self.query_one("#clone", Button)
        button.disabled = False
        button.focus()

    def on_input_changed(self, _event: Input.Changed) -> None:
        self._stale()

    def on_select_changed(self, _event: Select.Changed) -> None:
        self._stale()

    def _stale(self) -> None:
        if self.plan is not None and not self.cloning:
            self.plan = None
            self.query_one("#clone", Button).disabled = True
            self.query_one("#clone-review", Static).update(
                Text("Changed: press Review again.", style="dim")
            )

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.review()

    # ------------------------------------------------------------ clone
    def action_clone(self) -> None:
        """ctrl+s: clone once reviewed; before that, review (a plan is needed first)."""
        if self.plan is None and not self.cloning:
            self.review()
            return
        self.start_clone()

    @on(Button.Pressed, "#clone")
    def start_clone(self) -> None:
        plan = self.plan
        if plan is None or self.cloning:
            return
        self.cloning = True
        self.operation = services(self).operations.begin(
            f"the clone of {plan.source_name} to {plan.new_name}"
        )
        self.cancel_event.clear()
        for wid in ("#clone", "#review", "#name", "#pool"):
            self.query_one(wid).disabled = True
        self.query_one("#clone-progress", ProgressBar).display = True
        self.query_one("#clone-status", Static).update(
            f"Cloning {plan.source_name} to {plan.new_name}… (esc cancels after this disk)"
        )
        self._clone_worker(self._hv(), plan)

    @work(thread=True, exit_on_error=False, group="clone", description="clone guest")
    def _clone_worker(self, hv: Hypervisor, plan: ClonePlan) -> None:
        def report(progress: CloneProgress) -> None:
            self.post_message(CloneProgressed(progress))

        try:
            new_uuid = clone_guest(hv, plan, report, self.cancel_event)
        except CloneCancelled as err:
            self.post_message(CloneEnded(error=err.message, cancelled=True))
        except VmtuiError as err:
            self.post_message(CloneEnded(error=err.message))
        except Exception as err:  # never a traceback on screen
            self.post_message(CloneEnded(error=f"Could not clone {plan.source_name}: {err}."))
        else:
            self.post_message(CloneEnded(uuid=new_uuid))

    def on_clone_progressed(self, message: CloneProgressed) -> None:
        p = message.progress
        self.progress_seen.append(p)
        self.query_one("#clone-progress", ProgressBar).update(progress=p.fraction)
        copied = fmt.kib(p.copied // 1024)
        total = fmt.kib(p.total // 1024)
        stopping = " · stopping after this disk" if self.cancel_event.is_set() else ""
        self.query_one("#clone-status", Static).update(
            f"Disk {p.disk} of {p.disks} ({p.target}): {copied} of {total}{stopping}"
        )

    def on_clone_ended(self, message: CloneEnded) -> None:
        plan = self.plan
        self.cloning = False
        services(self).operations.end(self.operation)
        self.result = message
        assert plan is not None
        hv = self._hv()
        line = shlex.join(clone_words(plan, hv.uri))
        if message.uuid:
            outcome = f"Cloned {plan.source_name} to {plan.new_name}."
            services(self).activity.action(hv.uri, line, True, outcome)
            self.notify(outcome, markup=False, timeout=4)
            services(self).request_poll(hv.uri)
            if self.app.screen is self:
                self.app.pop_screen()
            return
        services(self).activity.action(hv.uri, line, False, message.error)
        self.query_one("#clone-status", Static).update("")
        self.query_one("#clone-progress", ProgressBar).display = False
        self._show_error(message.error)
        for wid in ("#review", "#name", "#pool"):
            self.query_one(wid).disabled = False
        self.plan = None

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        if self.cloning:
            if not self.cancel_event.is_set():
                self.cancel_event.set()
                self.notify("Stopping after the disk being copied; what was made is removed.")
            return
        self.app.pop_screen()
