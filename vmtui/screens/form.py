"""A modal form: enter in a field or its OK button submits, escape or any other button
cancels (dismisses with None). Subclasses write ``compose`` and ``submit``.

A form with edits holds unsaved work (``unsaved_work``): quitting the app asks first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, Static, TextArea

T = TypeVar("T")


class FormScreen(ModalScreen[T | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=False)]
    OK_ID = "ok"  # the id of the button that submits
    ERROR_ID = "error"  # the id of the line that says what is wrong
    _FIELDS = "Input, Select, Checkbox, TextArea"
    _initial: tuple[object, ...] | None = None  # the fields' values once the form was shown

    def _field_values(self) -> tuple[object, ...]:
        values: list[object] = []
        for field in self.query(self._FIELDS):
            if isinstance(field, TextArea):
                values.append(field.text)
            elif isinstance(field, Input | Select | Checkbox):
                values.append(field.value)
        return tuple(values)

    def on_mount(self) -> None:
        # After the subclass's on_mount (Textual calls both), which may fill fields in.
        self.call_after_refresh(self._remember_fields)

    def _remember_fields(self) -> None:
        if self._initial is None:
            self._initial = self._field_values()

    def unsaved_work(self) -> str | None:
        """What quitting would lose: what was typed, once a field differs from its start."""
        if not self.is_mounted or self._initial is None:
            return None
        if self._field_values() == self._initial:
            return None
        titles = self.query("#title").results(Label)
        title = next((str(t.render()) for t in titles), "")
        return f"what you typed in “{title}”" if title else "what you typed in a dialog"

    def foot(self, ok: str, cancel: str = "Cancel", *, compact: bool = True) -> ComposeResult:
        """The end of every form: the line saying what is wrong, then OK and Cancel."""
        yield Static("", id=self.ERROR_ID, markup=False)
        with Horizontal(classes="buttons"):
            yield Button(ok, variant="primary", id=self.OK_ID, compact=compact)
            yield Button(cancel, id="cancel", compact=compact)

    def say(self, problem: str | Text, near: str | None = None) -> None:
        """Show what is wrong with the fields (the form stays open, the input kept); with
        ``near`` (a field's id), right under that field, which gets the focus."""
        line = self.query_one(f"#{self.ERROR_ID}", Static)
        line.update(problem)
        if near is None:
            return
        field = self.query_one(f"#{near}")
        parent = field.parent
        if parent is not None and parent is line.parent and isinstance(parent, Widget):
            parent.move_child(line, after=field)
        field.focus()

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
