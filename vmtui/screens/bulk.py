"""Actions on many guests at once (the marked set, or what a ``:`` command names).

Each guest's call runs through ``Services.runner`` (so the activity log records each one
with its virsh equivalent), a few at a time; a failure never stops the others. When every guest has
answered, a summary lists who succeeded and who failed, and why.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from vmtui.backend import GuestInfo
from vmtui.backend.bulk import create_snapshot, pin_vcpus, set_vcpus, vcpus_words
from vmtui.backend.tags import edit_tags, virsh_words
from vmtui.control.services import services
from vmtui.core.actions import ACTIONS, POWER, delete_words
from vmtui.core.activity import virsh
from vmtui.core.tagtext import TagEdit, TagError, parse_tag_edit
from vmtui.screens.confirm import ConfirmScreen

IN_FLIGHT = 4  # guests acted on at the same time


@dataclass(frozen=True)
class Job:
    """One guest's share of a bulk action."""

    guest: GuestInfo
    call: Callable[[], Any]
    command: Sequence[str] | str  # virsh words (or a whole command line) for the log
    done: str  # what to say when it worked


@dataclass(frozen=True)
class Outcome:
    name: str
    ok: bool
    message: str  # "started", or the sentence saying why not


def on_host(app: App[Any], uuid: str, fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """``fn(hypervisor, uuid, *args)``, finding the guest's connection only when it runs (in
    the worker): a host that went away is then one guest's failure, not the whole action's."""

    def call() -> Any:
        return fn(services(app).hypervisor_for(uuid), uuid, *args)

    return call


def _delete_keeping_disks(hv: Any, uuid: str) -> None:
    result = hv.delete(uuid, [])
    if result.failed:
        raise RuntimeError(" ".join(reason for _, reason in result.failed))


def simple_jobs(app: App[Any], action: str, guests: Sequence[GuestInfo]) -> list[Job]:
    """One power action of the catalogue (``core.actions.POWER``) on each guest."""
    power = POWER[action]
    said = power.summary_word
    return [Job(g, on_host(app, g.uuid, power.call), (*power.virsh, g.name), said) for g in guests]


def delete_jobs(app: App[Any], guests: Sequence[GuestInfo]) -> list[Job]:
    """Delete each guest's definition; every disk stays."""
    return [
        Job(
            g,
            on_host(app, g.uuid, _delete_keeping_disks),
            delete_words(g.name),
            "deleted (disks kept)",
        )
        for g in guests
    ]


def snapshot_jobs(app: App[Any], guests: Sequence[GuestInfo], name: str) -> list[Job]:
    return [
        Job(
            g,
            on_host(app, g.uuid, create_snapshot, name),
            ("snapshot-create-as", g.name, name),
            f"snapshot {name} taken",
        )
        for g in guests
    ]


def tag_jobs(app: App[Any], guests: Sequence[GuestInfo], edit: TagEdit) -> list[Job]:
    jobs = []
    for g in guests:
        try:
            result = edit.apply(g.tags)
        except TagError:
            result = g.tags
        words = virsh_words(g.name, result, g.persistent, g.is_active)
        done = f"tags: {' '.join(result) or '(none)'}"
        jobs.append(Job(g, on_host(app, g.uuid, edit_tags, edit), words, done))
    return jobs


def vcpus_jobs(app: App[Any], guests: Sequence[GuestInfo], count: int) -> list[Job]:
    return [
        Job(
            g,
            on_host(app, g.uuid, set_vcpus, count),
            vcpus_words(g.name, count, g.is_active, g.persistent),
            f"{count} vCPUs",
        )
        for g in guests
    ]


def pin_jobs(
    app: App[Any], guests: Sequence[GuestInfo], cpus: Sequence[int], text: str
) -> list[Job]:
    jobs = []
    for g in guests:
        flags = (["--live"] if g.is_active else []) + (["--config"] if g.persistent else [])
        lines = [virsh(g.host, "vcpupin", g.name, str(v), text, *flags) for v in range(g.vcpus)]
        command = "; ".join(lines) or shlex.join(["virsh", "vcpupin", g.name, "0", text])
        call = on_host(app, g.uuid, pin_vcpus, cpus)
        jobs.append(Job(g, call, command, f"vCPUs pinned to host CPUs {text}"))
    return jobs


class BulkRun:
    """Runs jobs ``IN_FLIGHT`` at a time through the runner; reports once all answered."""

    def __init__(
        self,
        app: App[Any],
        title: str,
        jobs: Sequence[Job],
        finished: Callable[[BulkRun], None] | None = None,
    ) -> None:
        self.app = app
        self.title = title
        self.jobs = list(jobs)
        self.outcomes: dict[int, Outcome] = {}
        self._next = 0
        self._finished = finished

    def start(self) -> None:
        if not self.jobs:
            self.app.notify("No guest to act on.", severity="warning", timeout=3)
            return
        names = ", ".join(j.guest.name for j in self.jobs[:4])
        more = f" and {len(self.jobs) - 4} more" if len(self.jobs) > 4 else ""
        self.app.notify(f"{self.title}: {names}{more}…", markup=False, timeout=2)
        for _ in range(min(IN_FLIGHT, len(self.jobs))):
            self._launch()

    def _launch(self) -> None:
        if self._next >= len(self.jobs):
            return
        i = self._next
        self._next += 1
        job = self.jobs[i]
        services(self.app).runner.run(
            job.call,
            done=partial(self._succeeded, i),
            failed=partial(self._record, i, False),
            what=f"{self.title.lower()} {job.guest.name}",
            command=job.command,
            host=job.guest.host,
        )

    def _succeeded(self, i: int, _result: object) -> None:
        self._record(i, True, self.jobs[i].done)

    def _record(self, i: int, ok: bool, message: str) -> None:
        self.outcomes[i] = Outcome(self.jobs[i].guest.name, ok, message)
        if len(self.outcomes) == len(self.jobs):
            self._report()
        else:
            self._launch()

    @property
    def results(self) -> list[Outcome]:
        return [self.outcomes[i] for i in sorted(self.outcomes)]

    @property
    def succeeded(self) -> list[Outcome]:
        return [o for o in self.results if o.ok]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.results if not o.ok]

    def _report(self) -> None:
        services(self.app).record_bulk(self)
        ok, bad = len(self.succeeded), len(self.failed)
        summary = f"{self.title}: {ok} of {len(self.jobs)} succeeded"
        if bad:
            summary += f", {bad} failed ({', '.join(o.name for o in self.failed)})"
        self.app.notify(summary + ".", markup=False, severity="error" if bad else "information")
        if bad or len(self.jobs) > 1:
            self.app.push_screen(BulkSummaryScreen(self.title, self.results))
        if self._finished is not None:
            self._finished(self)


class BulkSummaryScreen(ModalScreen[None]):
    """Who succeeded, who failed and why (every guest named)."""

    BINDINGS = [Binding("escape,enter,q", "close", "Close", show=False)]

    def __init__(self, title: str, outcomes: Sequence[Outcome]) -> None:
        super().__init__()
        self.title_text = title
        self.outcomes = list(outcomes)

    def lines(self) -> list[str]:
        out = []
        failed = [o for o in self.outcomes if not o.ok]
        done = [o for o in self.outcomes if o.ok]
        if failed:
            out.append(f"Failed ({len(failed)}):")
            out += [f"  ✗ {o.name}: {o.message}" for o in failed]
        if done:
            out.append(f"Succeeded ({len(done)}):")
            out += [f"  ✓ {o.name}: {o.message}" for o in done]
        return out

    def compose(self) -> ComposeResult:
        ok = sum(1 for o in self.outcomes if o.ok)
        title = f"{self.title_text}: {ok} of {len(self.outcomes)} succeeded"
        with Vertical(id="dialog", classes="dialog help"):
            yield Label(title, id="title", markup=False)
            with VerticalScroll(id="bulk-results"):
                # Content(...) is plain text: names and libvirt's words are never markup.
                yield Static(Content("\n".join(self.lines())), id="body")
            with Horizontal(classes="buttons"):
                yield Button("Close (esc)", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class PromptScreen(ModalScreen[str | None]):
    """One line of text (a snapshot name, tags); None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, title: str, body: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._value = value
        self._placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog help"):
            yield Label(self._title, id="title", markup=False)
            yield Static(self._body, id="body", markup=False)
            yield Input(self._value, placeholder=self._placeholder, id="prompt")

    def on_mount(self) -> None:
        self.query_one("#prompt", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


def names_of(guests: Sequence[GuestInfo], limit: int = 12) -> str:
    names = [g.name for g in guests[:limit]]
    more = f" and {len(guests) - limit} more" if len(guests) > limit else ""
    return ", ".join(names) + more


def ask_tags(app: App[Any], guests: Sequence[GuestInfo]) -> None:
    """Ask for a tag edit and apply it to these guests (one: plain words replace its tags;
    several: plain words are added)."""
    if not guests:
        app.notify("No guest is selected.", severity="warning", timeout=3)
        return
    single = len(guests) == 1
    if single:
        g = guests[0]
        title = f"Tags of {g.name}"
        body = "Edit the words (they replace its tags), or type +tag / -tag. Empty removes all."
        value = " ".join(g.tags)
    else:
        title = f"Tags of {len(guests)} marked guests"
        body = f"{names_of(guests)}.\n+tag or tag adds it to each, -tag removes it."
        value = ""

    def answered(text: str | None) -> None:
        if text is None:
            return
        try:
            edit = TagEdit(replace=()) if single and not text.strip() else None
            edit = edit or parse_edit(text, single)
        except TagError as err:
            app.notify(err.message, markup=False, severity="error", timeout=6)
            return
        if edit.empty:
            app.notify("Nothing to change.", timeout=2)
            return
        BulkRun(app, f"Tag ({edit.describe()})", tag_jobs(app, guests, edit)).start()

    app.push_screen(PromptScreen(title, body, value, "+db -old"), answered)


def parse_edit(text: str, single: bool) -> TagEdit:
    return parse_tag_edit(text, replace_when_plain=single)


def bulk_action(app: App[Any], action: str, guests: Sequence[GuestInfo]) -> None:
    """start / shutdown / reboot / pause / resume / force_off (asks) / delete (asks) on all."""
    if not guests:
        app.notify("No guest is selected.", severity="warning", timeout=3)
        return
    names = names_of(guests)
    if action == "force_off":
        running = [g for g in guests if g.state.is_active]
        ConfirmScreen(
            f"Force off {len(guests)} guest(s)?",
            f"{names}.\nThis cuts each guest's power at once, like pulling the plug: what it "
            "has not written to its disks is lost. Disks and definitions stay."
            + ("" if running else " (None of them is running.)"),
            confirm="Force off",
        ).ask(app, lambda: BulkRun(app, "Force off", simple_jobs(app, "force_off", guests)).start())
        return
    if action == "delete":
        active = [g.name for g in guests if g.state.is_active]
        warn = f" Running ones ({', '.join(active)}) are forced off first." if active else ""
        ConfirmScreen(
            f"Delete {len(guests)} guest(s)?",
            f"{names}.\nTheir definitions (and snapshot metadata, saved state) go.{warn} "
            "Every disk stays.",
            confirm="Delete",
        ).ask(app, lambda: BulkRun(app, "Delete", delete_jobs(app, guests)).start())
        return
    title = ACTIONS[action].description
    BulkRun(app, title, simple_jobs(app, action, guests)).start()
