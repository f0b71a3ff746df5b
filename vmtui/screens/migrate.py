"""Move a guest to another connected host (key m): choose, watch the progress, cancel.

The screen never talks to libvirt: the migration runs through ``Services.runner`` (a thread
worker, logged in the activity log as its ``virsh migrate`` line); progress readings come
back as :class:`MigrationProgressed` messages posted from that worker.
"""

from __future__ import annotations

import threading

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    Label,
    ProgressBar,
    RadioButton,
    RadioSet,
    Static,
)

from vmtui.backend import GuestInfo, VmtuiError
from vmtui.backend.migrate import (
    MigrationProgress,
    MigrationResult,
    MigrationSpec,
    derive_migrate_uri,
    migrate,
)
from vmtui.control.services import services
from vmtui.core import format as fmt
from vmtui.screens.confirm import guest_identity


class MigrationProgressed(Message):
    """A reading of the running migration (posted from the worker; floods collapse)."""

    def __init__(self, progress: MigrationProgress) -> None:
        super().__init__()
        self.progress = progress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, MigrationProgressed)


def describe_progress(p: MigrationProgress) -> str:
    """The figures under the bar, in one or two short lines (fits 80 columns)."""
    if p.phase == "preparing":
        return f"Preparing the target… {p.elapsed:.1f}s"
    if p.phase == "done":
        sent = fmt.size(p.data_total) if p.data_total else "all"
        pause = f" · paused {p.downtime_ms} ms" if p.downtime_ms is not None else ""
        return f"Done: {sent} sent in {p.elapsed:.1f}s{pause}"
    parts = [
        f"{fmt.size(p.data_processed)} of {fmt.size(p.data_total)} sent",
        f"{fmt.size(p.data_remaining)} left",
    ]
    if p.memory_bps is not None:
        parts.append(f"{fmt.rate(p.memory_bps)}/s")
    line2 = [f"{p.elapsed:.1f}s"]
    if p.memory_dirty_rate is not None:
        line2.append(f"dirtying {p.memory_dirty_rate} pages/s")
    if p.downtime_ms is not None:
        line2.append(f"expected pause {p.downtime_ms} ms")
    if p.iteration:
        line2.append(f"pass {p.iteration}")
    head = "Cancelling… " if p.phase == "cancelling" else ""
    return head + " · ".join(parts) + "\n" + " · ".join(line2)


class MigrateScreen(ModalScreen[None]):
    """Options, then progress, then the outcome of moving one guest to another host."""

    BINDINGS = [
        Binding("escape", "close", "Close", show=False),
        Binding("x", "cancel_migration", "Cancel migration", show=False),
    ]

    def __init__(self, guest: GuestInfo, source_uri: str, targets: list[str]) -> None:
        super().__init__()
        self.guest = guest
        self.source_uri = source_uri
        self.targets = targets
        self.running = False
        self.finished = False
        self.operation: int | None = None  # registered with services().operations while it runs
        self.cancel_event = threading.Event()
        self.last_progress: MigrationProgress | None = None
        self.outcome = ""  # the final sentence (success or failure)
        self.succeeded: bool | None = None

    @property
    def offline(self) -> bool:
        return not self.guest.is_active

    @property
    def keeps_state_here(self) -> bool:
        """A managed-save image or snapshots: an offline move cannot take them along, and
        the backend refuses to remove the definition they hang on (issue 14, item 8)."""
        return self.guest.has_managed_save or self.guest.has_snapshots

    def compose(self) -> ComposeResult:
        guest = self.guest
        with Vertical(id="dialog", classes="dialog"):
            yield Label(Content(f"Migrate guest {guest.name}"), id="title", markup=False)
            # "remove the definition here" is destructive: which guest exactly (look-alikes)
            yield Static(guest_identity(guest, self.source_uri), id="identity", markup=False)
            how = (
                "It is shut off: its definition moves (offline)."
                if self.offline
                else f"It is {guest.state.label} on {fmt.short_uri(self.source_uri)}."
            )
            if self.offline and self.keeps_state_here:
                how += (
                    " It has a saved memory state or snapshots here, which an offline move "
                    "cannot take along: vmtui will not remove its definition from this host "
                    "(start it and move it live, or keep the definition here too)."
                )
            yield Static(Content(how), id="body", markup=False)
            with Vertical(id="form"):
                yield Label("To host:")
                with RadioSet(id="target"):
                    for i, uri in enumerate(self.targets):
                        yield RadioButton(Content(fmt.short_uri(uri)), value=i == 0, id=f"t{i}")
                yield Checkbox(
                    "Live (keeps running while it moves)",
                    value=not self.offline,
                    id="live",
                    disabled=self.offline,
                )
                yield Checkbox("Persistent on the target", value=True, id="persistent")
                yield Checkbox(
                    "Remove its definition from this host",
                    value=not (self.offline and self.keeps_state_here),
                    id="undefine",
                )
                yield Checkbox(
                    "Copy disks that are not on shared storage",
                    value=False,
                    id="copy",
                    disabled=self.offline,
                )
                with Horizontal(id="bandwidth-row"):
                    yield Label("Bandwidth limit MiB/s (0 = none): ")
                    yield Input("0", type="integer", id="bandwidth")
                with Horizontal(id="stream-row", classes="stream-row"):
                    yield Label("Send memory to: ")
                    yield Input(
                        "",
                        placeholder=self._derived(self.targets[0]) or "(libvirt chooses)",
                        id="stream",
                    )
            with Vertical(id="progress"):
                yield ProgressBar(total=100, show_eta=False, id="bar")
                yield Static("", id="figures", markup=False)
            yield Static("", id="outcome", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Migrate", variant="primary", id="start")
                yield Button("Cancel migration (x)", variant="error", id="abort")
                yield Button("Close (esc)", id="close")

    def on_mount(self) -> None:
        self.query_one("#outcome").display = False
        self.query_one("#progress").display = False
        self.query_one("#abort").display = False
        self.query_one("#start", Button).focus()

    # ------------------------------------------------------------ the form
    def _derived(self, target: str) -> str:
        return derive_migrate_uri(self.source_uri, target)

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        target = self.targets[max(0, event.index)]
        self.query_one("#stream", Input).placeholder = self._derived(target) or "(libvirt chooses)"

    def spec(self) -> MigrationSpec:
        """The options as a spec; InvalidInput (a sentence) when they cannot be used."""
        radio = self.query_one("#target", RadioSet)
        index = radio.pressed_index if radio.pressed_index >= 0 else 0
        raw = self.query_one("#bandwidth", Input).value.strip() or "0"
        try:
            bandwidth = int(raw)
        except ValueError:
            bandwidth = -1
        spec = MigrationSpec(
            target_uri=self.targets[index],
            live=self.query_one("#live", Checkbox).value and not self.offline,
            offline=self.offline,
            persistent=self.query_one("#persistent", Checkbox).value,
            undefine_source=self.query_one("#undefine", Checkbox).value,
            copy_storage=self.query_one("#copy", Checkbox).value and not self.offline,
            bandwidth_mib=bandwidth,
            migrate_uri=self.query_one("#stream", Input).value.strip(),
        )
        spec.validate(self.source_uri)
        return spec

    @on(Button.Pressed, "#start")
    def start(self) -> None:
        if self.running or self.finished:
            return
        try:
            spec = self.spec()
            target_hv = services(self).hypervisor_for_uri(spec.target_uri)
        except VmtuiError as err:
            self._say(err.message, error=True)
            return
        source_hv = services(self).hypervisor_for(self.guest.uuid)
        uuid, cancel = self.guest.uuid, self.cancel_event
        self.running = True
        services(self).set_migrating(uuid, True)
        self.operation = services(self).operations.begin(
            f"the migration of {self.guest.name} to {fmt.short_uri(spec.target_uri)}"
        )
        self.query_one("#form").display = False
        self.query_one("#start").display = False
        self.query_one("#progress").display = True
        self.query_one("#abort").display = True
        self.query_one("#abort", Button).focus()
        verb = "Moving the definition of" if self.offline else "Migrating"
        self._say(f"{verb} {self.guest.name} to {fmt.short_uri(spec.target_uri)}…")
        self.query_one("#figures", Static).update("Starting…")

        def progress(p: MigrationProgress) -> None:  # runs in the worker thread
            self.post_message(MigrationProgressed(p))

        services(self).runner.run(
            lambda: migrate(source_hv, target_hv, uuid, spec, progress, cancel),
            done=self._done,
            failed=self._failed,
            what=f"migrate {self.guest.name}",
            command=spec.virsh_words(self.guest.name, self.source_uri),
            host=self.source_uri,
        )

    # ------------------------------------------------------------ progress and outcome
    def on_migration_progressed(self, message: MigrationProgressed) -> None:
        if self.finished:
            return
        p = message.progress
        self.last_progress = p
        bar = self.query_one("#bar", ProgressBar)
        if p.fraction is not None:
            bar.update(total=100, progress=round(p.fraction * 100, 1))
        self.query_one("#figures", Static).update(describe_progress(p))

    def _finish(self, moved: bool) -> None:
        self.running = False
        self.finished = True
        services(self).operations.end(self.operation)
        app, uuid = services(self), self.guest.uuid

        def settled() -> None:
            app.set_migrating(uuid, False)

        if moved:  # until both hosts were polled again (an early poll follows every call)
            self.app.set_timer(max(3.0, 3 * app.interval), settled)
        else:
            settled()
        self.query_one("#abort").display = False
        self.query_one("#close", Button).focus()

    def _done(self, result: MigrationResult) -> None:
        self._finish(moved=True)
        self.succeeded = True
        if self.last_progress is not None or not result.offline:
            self.query_one("#bar", ProgressBar).update(total=100, progress=100)
        self._say(result.message)
        self.notify(result.message, markup=False, timeout=5)

    def _failed(self, sentence: str) -> None:
        self._finish(moved=False)
        if self.last_progress is None:
            self.query_one("#figures", Static).update("Nothing was moved.")
        self.succeeded = False
        self._say(sentence, error=True)
        self.notify(sentence, markup=False, severity="warning", timeout=8)

    def _say(self, text: str, error: bool = False) -> None:
        self.outcome = text
        outcome = self.query_one("#outcome", Static)
        outcome.update(Content(text))
        outcome.set_class(error, "error")
        outcome.display = bool(text)

    def on_unmount(self) -> None:
        # The app is quitting mid-migration: abort it, so the guest stays on its host rather
        # than being left to a migration nobody watches.
        if self.running:
            self.cancel_event.set()

    # ------------------------------------------------------------ keys
    @on(Button.Pressed, "#abort")
    def action_cancel_migration(self) -> None:
        if not self.running:
            return
        if self.offline:
            self.notify("An offline move takes a moment and cannot be cancelled.", timeout=3)
            return
        self.cancel_event.set()
        self.query_one("#figures", Static).update("Cancelling… (the guest stays where it is)")

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        if self.running:
            self.notify(
                "The migration is running: press x to cancel it, or wait for it to end.",
                timeout=4,
            )
            return
        self.dismiss(None)
