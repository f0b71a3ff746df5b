"""A yes/no modal for destructive actions: it names what will be lost."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from vmtui.backend import GuestInfo
from vmtui.core import format as fmt


def guest_identity(guest: GuestInfo, host: str = "") -> str:
    """The line a destructive dialog shows under its question: the guest's UUID and host.

    Two guests can look alike on screen (``web1`` and ``web\\u200b1`` once escaped, a Latin
    and a Cyrillic ``a``); their UUIDs and hosts tell them apart (issue 14 #4)."""
    where = host or guest.host
    return f"UUID {guest.uuid} · host {fmt.short_uri(where) if where else '?'}"


def guests_identity(guests: Sequence[GuestInfo], limit: int = 12) -> str:
    """One identity line per guest of a bulk dialog (name, UUID, host), ``limit`` at most."""
    lines = [f"{g.name}: {guest_identity(g)}" for g in guests[:limit]]
    if len(guests) > limit:
        lines.append(f"… and {len(guests) - limit} more.")
    return "\n".join(lines)


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True only on an explicit yes (``y`` or the red button)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", show=False),
        Binding("n,escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, title: str, body: str, *, confirm: str = "Yes", identity: str = "") -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._confirm = confirm
        self._identity = identity  # which guest exactly (guest_identity): look-alikes differ

    def ask(self, app: App[Any], then: Callable[[], object]) -> None:
        """Show the question and call ``then`` only on yes: a cancel or a dismissed dialog
        (None) does nothing, so no caller can take it for a yes by mistake."""

        def answered(yes: bool | None) -> None:
            if yes:
                then()

        app.push_screen(self, answered)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(self._title, id="title", markup=False)
            if self._identity:
                yield Static(self._identity, id="identity", markup=False)
            yield Static(self._body, id="body", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(f"{self._confirm} (y)", variant="error", id="yes")
                yield Button("Cancel (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # the safe answer has the focus

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
