"""A guest's serial console, full screen. Every key goes to the guest but ctrl+] (detach)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from vmtui.backend import Snapshot
from vmtui.control.consoles import ConsoleState
from vmtui.screens.hostview import HostView
from vmtui.widgets.terminal import TerminalView


class ConsoleScreen(HostView):
    """Shows one ConsoleState; detaching leaves the session open behind it."""

    BINDINGS = [Binding("ctrl+right_square_bracket", "detach", "Detach", priority=True)]

    def __init__(self, console: ConsoleState) -> None:
        super().__init__()
        self.console = console

    def compose(self) -> ComposeResult:
        yield Static("", id="console-bar", markup=False)
        yield TerminalView(self.console.emulator, self.console.send, id="terminal")

    def on_mount(self) -> None:
        self.query_one(TerminalView).focus()
        self.update_bar()

    def on_screen_resume(self) -> None:
        """Shown: its output comes to the UI thread again (once per frame); catch up now."""
        self.console.shown(True)
        for view in self.query(TerminalView):
            view.refresh_screen()

    def on_screen_suspend(self) -> None:
        self.console.shown(False)  # hidden: the session parses without telling anyone

    def on_unmount(self) -> None:
        self.console.shown(False)

    @property
    def terminal(self) -> TerminalView:
        return self.query_one(TerminalView)

    def update_bar(self) -> None:
        c = self.console
        bar = Text(no_wrap=True, overflow="ellipsis")
        bar.append(f" {c.name} ", style="bold reverse")
        style = "green" if c.connected else "yellow" if c.opening else "red"
        bar.append(f" {c.status} ", style=style)
        bar.append(" ctrl+] detach · shift+pgup/pgdn scroll", style="dim")
        if self.terminal.scroll_back:
            bar.append(f" · {self.terminal.scroll_back} lines back", style="bold yellow")
        self.query_one("#console-bar", Static).update(bar)

    def output_changed(self) -> None:
        self.terminal.refresh_screen()
        if self.terminal.scroll_back:
            self.update_bar()

    def show_snapshot(self, snapshot: Snapshot | None) -> None:
        self.update_bar()

    def on_terminal_view_detach(self, _message: TerminalView.Detach) -> None:
        self.action_detach()

    def action_detach(self) -> None:
        self.dismiss()


class ConsolesScreen(ModalScreen[tuple[str, str] | None]):
    """The open consoles: enter switches to one, x closes it. Dismisses (action, uuid)."""

    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("x", "end", "Close console"),
    ]

    def __init__(self, consoles: list[ConsoleState]) -> None:
        super().__init__()
        self.consoles = consoles

    def compose(self) -> ComposeResult:
        options = [Option(Text(f"{c.name}  ({c.status})"), id=c.uuid) for c in self.consoles]
        with Vertical(id="dialog", classes="dialog help"):
            yield Label("Open consoles — enter: show, x: close, esc: back", id="title")
            yield OptionList(*options, id="consoles")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.dismiss(("show", event.option.id))

    def action_end(self) -> None:
        ol = self.query_one(OptionList)
        if ol.highlighted is not None:
            option = ol.get_option_at_index(ol.highlighted)
            if option.id:
                self.dismiss(("close", option.id))

    def action_close(self) -> None:
        self.dismiss(None)
