"""Delete a guest: says what goes, and removes only the disks the user ticks."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Label, Static

from vmtui.backend import DeletePlan
from vmtui.core.safetext import safe_text
from vmtui.screens.confirm import guest_identity


def describe(plan: DeletePlan) -> str:
    guest = plan.guest
    parts = [f"The definition of guest {guest.name} goes"]
    if guest.is_active:
        parts[0] = (
            f"Guest {guest.name} is {guest.state.label}: it is forced off, then its definition goes"
        )
    extras = []
    if plan.managed_save:
        extras.append("its saved memory state")
    if plan.snapshots:
        extras.append(f"the metadata of its {plan.snapshots} snapshot(s)")
    if plan.nvram and not plan.nvram_kept:
        extras.append(f"its NVRAM file {plan.nvram} (its UEFI variables)")
    if extras:
        parts.append(" and ".join(extras) + " go too")
    text = ", ".join(parts) + "."
    if plan.nvram and plan.nvram_kept:
        text += f" Its NVRAM file {plan.nvram} stays: {plan.nvram_kept}."
    if plan.disks:
        text += " Its disks stay unless you tick them; a ticked disk is deleted for good."
    else:
        text += " It has no disk image vmtui could remove."
    return text


class DeleteScreen(ModalScreen[list[str] | None]):
    """Dismisses with the disk paths to remove (possibly none), or None when cancelled."""

    BINDINGS = [
        Binding("escape,n", "cancel", "Cancel", show=False),
        Binding("y", "delete", "Delete", show=False),  # as bulk delete and every question
    ]

    def __init__(self, plan: DeletePlan) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(f"Delete guest {self.plan.guest.name}?", id="title", markup=False)
            yield Static(guest_identity(self.plan.guest), id="identity", markup=False)
            # paths stay raw in the plan (they are what is removed); shown, they are escaped
            yield Static(safe_text(describe(self.plan), multiline=True), id="body", markup=False)
            for i, disk in enumerate(self.plan.disks):
                label = f"{disk.target}: {disk.path}"
                if not disk.removable:
                    label += f" (kept: {disk.why_kept})"
                # Content(...) is plain text: a path is never read as markup.
                yield Checkbox(
                    Content(safe_text(label)),
                    value=False,
                    id=f"disk-{i}",
                    disabled=not disk.removable,
                )
            with Horizontal(classes="buttons"):
                yield Button("Delete (y)", variant="error", id="yes")
                yield Button("Cancel (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def chosen_disks(self) -> list[str]:
        out = []
        for i, disk in enumerate(self.plan.disks):
            box = self.query_one(f"#disk-{i}", Checkbox)
            if box.value and disk.removable:
                out.append(disk.path)
        return out

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self.chosen_disks() if event.button.id == "yes" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_delete(self) -> None:
        self.dismiss(self.chosen_disks())
