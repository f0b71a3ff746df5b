"""Actions on many guests at once (the marked set, or what a ``:`` command names).

Each guest's call runs through ``Services.runner`` (so the activity log records each one
with its virsh equivalent), a few at a time; a failure never stops the others. When every guest has
answered, a summary lists who succeeded and who failed, and why.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from vmtui.backend import GuestInfo
from vmtui.backend.bulk import pin_vcpus, set_vcpus, take_snapshot, vcpus_words
from vmtui.backend.quiesce import Quiesce
from vmtui.backend.tags import edit_tags, virsh_words
from vmtui.control.services import services
from vmtui.core.actions import ACTIONS, POWER, delete_words
from vmtui.core.activity import virsh
from vmtui.core.tagtext import TagEdit, TagError, parse_tag_edit
from vmtui.screens.confirm import ConfirmScreen, guests_identity

IN_FLIGHT = 4  # guests acted on at the same time


@dataclass(frozen=True)
class Job:
    """One guest's share of a bulk action."""

    guest: GuestInfo
    call: Callable[[], Any]
    command: Sequence[str] | str  # virsh words (or a whole command line) for the log
    done: str | Callable[[Any], str]  # what to say when it worked (or made from the result)


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


def snapshot_taken(name: str, taken: tuple[str, Quiesce]) -> str:
    return f"snapshot {name} taken. {taken[1].sentence}"


def snapshot_jobs(app: App[Any], guests: Sequence[GuestInfo], name: str) -> list[Job]:
    return [
        Job(
            g,
            on_host(app, g.uuid, take_snapshot, name),
            ("snapshot-create-as", g.name, name),
            partial(snapshot_taken, name),  # quiesced or not (backend/quiesce.py)
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
        done = f"now tagged {' '.join(result)}" if result else "now has no tags"
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

    def _succeeded(self, i: int, result: object) -> None:
        done = self.jobs[i].done
        self._record(i, True, done(result) if callable(done) else done)

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
        if len(self.results) == 1:  # one guest: say what happened to it, not "1 of 1"
            one = self.results[0]
            said = f"{one.name}, {one.message}" if one.ok else one.message
            summary = f"{self.title}: {said}".rstrip(".")
        else:
            summary = f"{self.title}: {ok} of {len(self.jobs)} guests done"
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
    """One line of text (a snapshot name, tags); None when cancelled. ``check`` (text ->
    a sentence saying what is wrong, or None) keeps the dialog open, the text kept, with the
    problem under the field."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(
        self,
        title: str,
        body: str,
        value: str = "",
        placeholder: str = "",
        check: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._value = value
        self._placeholder = placeholder
        self._check = check

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog help"):
            yield Label(self._title, id="title", markup=False)
            yield Static(self._body, id="body", markup=False)
            yield Input(self._value, placeholder=self._placeholder, id="prompt")
            yield Static("", id="prompt-error", markup=False)

    def on_mount(self) -> None:
        self.query_one("#prompt", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        problem = self._check(event.value) if self._check else None
        if problem:
            self.query_one("#prompt-error", Static).update(Text(problem, style="red"))
            return
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


def names_of(guests: Sequence[GuestInfo], limit: int = 12) -> str:
    names = [g.name for g in guests[:limit]]
    more = f" and {len(guests) - limit} more" if len(guests) > limit else ""
    return ", ".join(names) + more


def ask_tags(app: App[Any], guests: Sequence[GuestInfo], hidden: Collection[str] = ()) -> None:
    """Ask for a tag edit and apply it to these guests (one: plain words replace its tags;
    several: plain words are added). The question names those the filter hides."""
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
    note = hidden_note(guests, hidden)
    if note:
        body = note.lstrip("\n") + "\n" + body

    def read(text: str) -> TagEdit:
        edit = TagEdit(replace=()) if single and not text.strip() else None
        return edit or parse_edit(text, single)

    def problem(text: str) -> str | None:  # said in the dialog, the text kept (issue 16)
        try:
            read(text)
        except TagError as err:
            return err.message
        return None

    def answered(text: str | None) -> None:
        if text is None:
            return
        try:
            edit = read(text)
        except TagError as err:
            app.notify(err.message, markup=False, severity="error", timeout=6)
            return
        if edit.empty:
            app.notify("Nothing to change.", timeout=2)
            return
        title = "Tags" if single else f"Tags {edit.describe()}"
        BulkRun(app, title, tag_jobs(app, guests, edit)).start()

    app.push_screen(PromptScreen(title, body, value, "+db -old", check=problem), answered)


def parse_edit(text: str, single: bool) -> TagEdit:
    return parse_tag_edit(text, replace_when_plain=single)


def hidden_note(guests: Sequence[GuestInfo], hidden: Collection[str]) -> str:
    """The sentence saying which of these guests the current filter hides ("" if none)."""
    gone = [g for g in guests if g.uuid in hidden]
    if not gone:
        return ""
    if len(gone) == len(guests):
        which = "It is" if len(gone) == 1 else "All of them are"
        return f"\n{which} hidden by the current filter."
    verb = "is" if len(gone) == 1 else "are"
    return f"\n{len(gone)} of them {verb} hidden by the current filter: {names_of(gone)}."


def confirm_many(
    app: App[Any],
    title: str,
    guests: Sequence[GuestInfo],
    then: Callable[[], object],
    *,
    hidden: Collection[str] = (),
) -> None:
    """Run ``then`` at once for one guest the user can see; ask first (the count, every name,
    which ones the filter hides) when more than one guest, or a hidden one, is affected: a
    typo such as ``*`` or a negated tag must not act on every guest unasked (issue 14, #7)."""
    note = hidden_note(guests, hidden)
    if len(guests) <= 1 and not note:
        then()
        return
    count = f"{len(guests)} guest{'s' if len(guests) != 1 else ''}"
    ConfirmScreen(
        f"{title}: {count}?",
        f"{names_of(guests)}.{note}",
        confirm=title,
        identity=guests_identity(guests),
    ).ask(app, then)


def bulk_action(
    app: App[Any], action: str, guests: Sequence[GuestInfo], hidden: Collection[str] = ()
) -> None:
    """start / shutdown / reboot / pause / resume / force_off / delete on all; asks first when
    more than one guest (or one the filter hides) is affected, force off and delete always.
    ``hidden``: the uuids of guests the dashboard's filter hides."""
    if not guests:
        app.notify("No guest is selected.", severity="warning", timeout=3)
        return
    names = names_of(guests) + "." + hidden_note(guests, hidden)
    if action == "force_off":
        running = [g for g in guests if g.state.is_active]
        ConfirmScreen(
            f"Force off {len(guests)} guest(s)?",
            f"{names}\nThis cuts each guest's power at once, like pulling the plug: what it "
            "has not written to its disks is lost. Disks and definitions stay."
            + ("" if running else " (None of them is running.)"),
            confirm="Force off",
            identity=guests_identity(guests),
        ).ask(app, lambda: BulkRun(app, "Force off", simple_jobs(app, "force_off", guests)).start())
        return
    if action == "delete":
        active = [g.name for g in guests if g.state.is_active]
        warn = f" Running ones ({', '.join(active)}) are forced off first." if active else ""
        ConfirmScreen(
            f"Delete {len(guests)} guest(s)?",
            f"{names}\nTheir definitions (and snapshot metadata, saved state) go.{warn} "
            "Every disk stays.",
            confirm="Delete",
            identity=guests_identity(guests),
        ).ask(app, lambda: BulkRun(app, "Delete", delete_jobs(app, guests)).start())
        return
    title = ACTIONS[action].description
    run = BulkRun(app, title, simple_jobs(app, action, guests))
    confirm_many(app, title, guests, run.start, hidden=hidden)
