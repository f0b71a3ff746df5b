"""The dashboard: host panel, guest table, filter, status line."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Resize
from textual.widgets import Footer, Input

from vmtui.backend import GuestInfo, Snapshot
from vmtui.screens.base import GuestActionScreen
from vmtui.widgets.guest_table import GuestTable
from vmtui.widgets.host_panel import HostPanel
from vmtui.widgets.status_line import StatusLine


def matches(guest: GuestInfo, needle: str) -> bool:
    """Name filter: every word must appear in the name (case-insensitive)."""
    name = guest.name.lower()
    return all(word in name for word in needle.lower().split())


class DashboardScreen(GuestActionScreen):
    BINDINGS = [
        Binding("enter", "open", "Open", priority=False),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        self._snapshot: Snapshot | None = None

    def compose(self) -> ComposeResult:
        yield HostPanel(id="host")
        yield Input(placeholder="filter by name (esc clears)", id="filter")
        yield GuestTable(id="guests")
        yield StatusLine(id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(GuestTable).focus()
        if self.vmtui.snapshot is not None:
            self.show_snapshot(self.vmtui.snapshot)

    @property
    def table(self) -> GuestTable:
        return self.query_one(GuestTable)

    def show_snapshot(self, snapshot: Snapshot | None) -> None:
        self._snapshot = snapshot
        self.query_one(HostPanel).update_host(
            self.vmtui.hv.host_info if snapshot else None,
            snapshot.host if snapshot else None,
            self.vmtui.host_history if snapshot else None,
        )
        self._show_rows()

    def _show_rows(self) -> None:
        snapshot = self._snapshot
        if snapshot is None:
            self.table.show([], {})
            return
        guests = [g for g in snapshot.guests if matches(g, self.filter_text)]
        self.table.show(guests, snapshot.stats)

    def on_resize(self, event: Resize) -> None:
        self.call_after_refresh(self._show_rows)

    def current_guest(self) -> GuestInfo | None:
        uuid = self.table.selected_uuid
        if uuid is None or self._snapshot is None:
            return None
        return next((g for g in self._snapshot.guests if g.uuid == uuid), None)

    def on_data_table_row_selected(self, event: GuestTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        from vmtui.screens.guest import GuestScreen

        guest = self.current_guest()
        if guest is not None:
            self.app.push_screen(GuestScreen(guest.uuid))

    # ---------------------------------------------------------- filter
    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("shown")
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.remove_class("shown")
        self.table.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.filter_text = event.value
            self._show_rows()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            if not event.value:
                event.input.remove_class("shown")
            self.table.focus()
