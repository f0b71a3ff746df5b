"""`L`: the activity log — every action we took as its `virsh` command line with its outcome,
and libvirt's lifecycle events, newest at the bottom, following new entries as they come."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, RichLog, Static

from vmtui.control.services import services
from vmtui.core import format as fmt
from vmtui.core.activity import ActivityEntry

INDENT = " " * 11
EMPTY = "Nothing yet: the actions you take and libvirt's events about guests appear here."


def entry_text(entry: ActivityEntry, host_label: str = "") -> Text:
    """One entry: time, [host], ✔/✖ and the command (or the event); the outcome of an action
    on the line below, indented.

    Failed actions are red with their reason; events are dimmed. Text from libvirt is never
    read as markup."""
    line = Text(no_wrap=False)
    line.append(time.strftime("%H:%M:%S ", time.localtime(entry.at)), style="dim")
    if host_label:
        line.append(f"[{host_label}] ", style="cyan")
    if entry.kind == "event":
        line.append("• " + entry.text, style="dim")
        return line
    if entry.ok:
        line.append("✔ ", style="green")
        line.append(entry.text, style="bold")
        if entry.outcome:
            line.append(f"\n{INDENT}{entry.outcome}")
    else:
        line.append("✖ ", style="bold red")
        line.append(entry.text, style="red")
        line.append(f"\n{INDENT}{entry.outcome or 'Failed.'}", style="red")
    return line


class ActivityScreen(Screen[None]):
    """The log, live: shows ``Services.activity`` and listens for new entries until closed."""

    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("L", "close", "Back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._stop_listening: Callable[[], None] | None = None
        self.shown = 0  # entries written to the log widget

    def compose(self) -> ComposeResult:
        yield Static("", id="activity-bar", markup=False)
        yield RichLog(id="activity-log", wrap=True, markup=False, auto_scroll=True)
        yield Footer()

    def on_mount(self) -> None:
        log = self.query_one(RichLog)
        for entry in services(self).activity:
            self._write(entry)
        if not self.shown:
            log.write(Text(EMPTY, style="dim"))
        # The app appends on the UI thread, so the listener runs there too: it may draw.
        self._stop_listening = services(self).activity.listen(self._on_entry)
        self._update_bar()
        log.focus()

    def on_unmount(self) -> None:
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None

    def _host_label(self, uri: str) -> str:
        hosts = services(self).hosts
        if len(hosts) <= 1:
            return ""
        link = hosts.get(uri)
        return link.label if link is not None else fmt.short_uri(uri)

    def _write(self, entry: ActivityEntry) -> None:
        log = self.query_one(RichLog)
        if not self.shown:
            log.clear()  # the "nothing yet" line goes
        log.write(entry_text(entry, self._host_label(entry.host)))
        self.shown += 1

    def _on_entry(self, entry: ActivityEntry) -> None:
        self._write(entry)
        self._update_bar()

    def _update_bar(self) -> None:
        failed = sum(1 for e in services(self).activity if e.kind == "action" and not e.ok)
        bar = Text(no_wrap=True, overflow="ellipsis")
        bar.append(" Activity ", style="bold reverse")
        bar.append(f" {len(services(self).activity)} entries")
        if failed:
            bar.append(f", {failed} failed", style="red")
        bar.append(" · newest at the bottom · esc back", style="dim")
        self.query_one("#activity-bar", Static).update(bar)

    def action_close(self) -> None:
        self.dismiss()
