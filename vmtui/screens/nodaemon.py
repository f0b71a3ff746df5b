"""Shown when no libvirt daemon answers: the fix in a sentence, and the demo host on offer."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class NoDaemonScreen(ModalScreen[str | None]):
    """Dismisses with "demo", "retry" or "quit" (or None when closed: keep retrying)."""

    BINDINGS = [
        Binding("m", "choose('demo')", "Demo host", show=False),
        Binding("r", "choose('retry')", "Retry", show=False),
        Binding("q", "choose('quit')", "Quit", show=False),
        Binding("escape", "choose(None)", "Wait", show=False),
    ]

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label("No hypervisor to talk to", id="title")
            yield Static(self.error, id="body", markup=False)
            yield Static(
                "vmtui keeps trying in the background and goes on by itself when the daemon "
                "answers.",
                markup=False,
            )
            with Horizontal(classes="buttons"):
                yield Button("Demo host (m)", variant="primary", id="demo")
                yield Button("Retry (r)", id="retry")
                yield Button("Quit (q)", id="quit")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id)

    def action_choose(self, choice: str | None) -> None:
        self.dismiss(choice)
