"""`?`: every key of the screen underneath, generated from its bindings (never out of date)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

_TEXTUAL_DEFAULTS = {
    (b.key, b.action) for b in (*Screen.BINDINGS, *App.BINDINGS) if isinstance(b, Binding)
}

EXTRA_KEYS = (
    ("enter", "Open the selected guest (or choose the selected item)"),
    ("^p", "Command palette: every action on the selected guest"),
    ("up/down, j/k, pgup/pgdn", "Move in the list"),
    ("home/end, g/G", "The first / the last guest of the list"),
    ("tab, shift+tab", "Move the focus"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    @classmethod
    def for_screen(cls, screen: Screen[object]) -> HelpScreen:
        by_action: dict[str, tuple[list[str], str]] = {}
        for _key, active in screen.active_bindings.items():
            binding = active.binding
            # The screen's and the app's own keys; widgets' navigation keys are summed up below.
            if not isinstance(active.node, Screen | App) or binding.system:
                continue
            if (binding.key, binding.action) in _TEXTUAL_DEFAULTS or "copy" in binding.action:
                continue  # Textual's own focus/copy/ctrl+q keys: not vmtui's to explain
            if not active.enabled or not binding.description:
                continue
            if screen.check_action(binding.action, ()) is False:
                continue
            shown = screen.app.get_key_display(binding)
            displays, _ = by_action.setdefault(binding.action, ([], binding.description))
            if shown not in displays:
                displays.append(shown)
        keys = [
            (", ".join(sorted(displays, key=lambda d: (d.startswith("^"), len(d)))), what)
            for displays, what in by_action.values()
        ]
        keys.extend(EXTRA_KEYS)
        return cls(keys)

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for key, what in self.keys:
            table.add_row(Text(key), Text(what))
        with VerticalScroll(id="dialog", classes="dialog help"):
            yield Label("Keys", id="title")
            yield Static(table)
            yield Label("esc closes this list", classes="dim")

    def action_close(self) -> None:
        self.dismiss(None)
