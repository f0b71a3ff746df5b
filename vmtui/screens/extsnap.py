"""Taking an external snapshot from the snapshots screen (key E there): the form and the call."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Checkbox, Input, Label, Static

from vmtui.backend import VmtuiError
from vmtui.backend.extsnap import ExternalSnapshot, create_external
from vmtui.backend.snapshots import SnapshotTree, validate_snapshot_name
from vmtui.control.services import services
from vmtui.screens.form import FormScreen
from vmtui.screens.hostview import HostView

WHY_EXTERNAL = (
    "External snapshots put each disk's new writes in an overlay file and can keep the memory "
    "in a file: they work for UEFI guests and raw disks, where internal snapshots (n) do not. "
    "When the guest agent answers, the file systems are frozen for a consistent copy. Merge an "
    "overlay back later with m on the disks screen (b)."
)


class CreateExternalScreen(FormScreen[tuple[str, str, bool]]):
    OK_ID = "take"

    def __init__(self, tree: SnapshotTree) -> None:
        super().__init__()
        self.snaps = tree

    def compose(self) -> ComposeResult:
        running = self.snaps.state.is_active
        with Vertical(id="dialog", classes="dialog help"):
            yield Label(f"New external snapshot of {self.snaps.guest}", id="title", markup=False)
            yield Input(time.strftime("ext-%Y%m%d-%H%M%S"), placeholder="name", id="name")
            yield Input("", placeholder="description (optional)", id="description")
            yield Checkbox(
                "Keep the memory state too (in a file)",
                value=False,
                disabled=not running,
                id="memory",
            )
            yield Static(WHY_EXTERNAL, classes="dim", markup=False)
            yield from self.foot("Take snapshot", "Cancel (esc)", compact=False)

    def submit(self) -> None:
        try:
            name = validate_snapshot_name(
                self.query_one("#name", Input).value, [s.name for s in self.snaps.snapshots]
            )
        except VmtuiError as err:
            self.say(Text(err.message, style="red"))
            return
        self.dismiss(
            (
                name,
                self.query_one("#description", Input).value,
                self.query_one("#memory", Checkbox).value,
            )
        )


def ask_external(screen: HostView, uuid: str, tree: SnapshotTree, then: Callable[[], None]) -> None:
    """Ask for the external snapshot's name and take it; ``then`` runs after it was taken."""

    def take(answer: tuple[str, str, bool]) -> None:
        name, description, memory = answer
        hv = services(screen).hypervisor_for(uuid)

        def said(snap: ExternalSnapshot) -> str:
            how = " (file systems frozen by the agent)" if snap.quiesced else ""
            return f"Took external snapshot {name} of {tree.guest}{how}."

        services(screen).runner.run(
            lambda: create_external(hv, uuid, name, memory=memory, description=description),
            done=lambda _s: then(),
            what=f"take an external snapshot of {tree.guest}",
            success=said,
            command=(
                "snapshot-create-as",
                tree.guest,
                name,
                *(["--memspec", "snapshot=external"] if memory else ["--disk-only"]),
            ),
            host=hv.uri,
        )

    CreateExternalScreen(tree).ask(screen.app, take)
