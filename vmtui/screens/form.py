"""A modal form: enter in a field or its OK button submits, escape or any other button
cancels (dismisses with None). Subclasses write ``compose`` and ``submit``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

T = TypeVar("T")


class FormScreen(ModalScreen[T | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=False)]
    OK_ID = "ok"  # the id of the button that submits
    ERROR_ID = "error"  # the id of the line that says what is wrong

    def foot(self, ok: str, cancel: str = "Cancel", *, compact: bool = True) -> ComposeResult:
        """The end of every form: the line saying what is wrong, then OK and Cancel."""
        yield Static("", id=self.ERROR_ID, markup=False)
        with Horizontal(classes="buttons"):
            yield Button(ok, variant="primary", id=self.OK_ID, compact=compact)
            yield Button(cancel, id="cancel", compact=compact)

    def say(self, problem: str | Text) -> None:
        """Show what is wrong with the fields (the form stays open, the input kept)."""
        self.query_one(f"#{self.ERROR_ID}", Static).update(problem)

    def ask(self, app: App[Any], then: Callable[[T], object]) -> None:
        """Show the form and hand ``then`` what was submitted: a cancelled form ends here,
        so the caller deals only with a checked result."""

        def answered(result: T | None) -> None:
            if result is not None:
                then(result)

        app.push_screen(self, answered)

    def submit(self) -> None:
        """Check the fields; dismiss with the result, or say what is wrong and stay."""
        raise NotImplementedError

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == self.OK_ID:
            self.submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
