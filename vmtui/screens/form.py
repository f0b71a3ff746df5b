"""A modal form: enter in a field or its OK button submits, escape or any other button
cancels (dismisses with None). Subclasses write ``compose`` and ``submit``."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Button, Input

T = TypeVar("T")


class FormScreen(ModalScreen[T | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=False)]
    OK_ID = "ok"  # the id of the button that submits

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
