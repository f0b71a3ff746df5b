"""The dashboard: host panel, guest table, filter, status line."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Resize
from textual.widgets import Footer, Input

from vmtui.backend import GuestInfo, Snapshot
from vmtui.screens.base import GuestActionScreen
from vmtui.widgets.guest_table import GuestTable
from vmtui.widgets.host_panel import HostPanel, HostRow
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
        Binding("h", "next_host", "Host", show=False),
        # --- create
        Binding("n", "new_guest", "New guest", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        self.only_host: str | None = None  # narrowed to this URI (h cycles), None = all
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
        app = self.vmtui
        links = list(app.hosts.values())
        if self.only_host is not None and self.only_host not in app.hosts:
            self.only_host = None
        panel = self.query_one(HostPanel)
        if len(links) > 1:
            now = app._clock()
            rows = []
            for link in links:
                symbol, _text, style = link.status(now, app.interval, app.readonly)
                stats = link.snapshot.host if link.snapshot else None
                rows.append(HostRow(link.label, symbol, style, stats, link.host_history))
            narrowed = app.hosts[self.only_host].label if self.only_host else None
            panel.update_hosts(rows, narrowed)
        else:
            only = links[0] if links else None
            panel.update_host(
                only.hv.host_info if only and snapshot else None,
                only.snapshot.host if only and only.snapshot else None,
                only.host_history if only and snapshot else None,
            )
        self._show_rows()

    def _show_rows(self) -> None:
        snapshot = self._snapshot
        if snapshot is None:
            self.table.show([], {})
            return
        guests = [
            g
            for g in snapshot.guests
            if matches(g, self.filter_text) and (self.only_host in (None, g.host))
        ]
        app = self.vmtui
        stale = frozenset(uri for uri, link in app.hosts.items() if link.stale)
        self.table.show(guests, snapshot.stats, app.host_labels(), stale)

    def action_next_host(self) -> None:
        """Narrow the table to one host, the next one each time; after the last, all."""
        uris = list(self.vmtui.hosts)
        if len(uris) < 2:
            self.notify("Only one host is connected.", timeout=2)
            return
        if self.only_host is None:
            self.only_host = uris[0]
        else:
            i = uris.index(self.only_host) if self.only_host in uris else -1
            self.only_host = uris[i + 1] if i + 1 < len(uris) else None
        label = self.vmtui.hosts[self.only_host].label if self.only_host else "all hosts"
        self.notify(f"Showing {label}.", markup=False, timeout=2)
        self.show_snapshot(self._snapshot)

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

    # --- create
    def action_new_guest(self) -> None:
        """Open the new-guest wizard on the host in view (the narrowed one, the selected
        guest's, or the first)."""
        from vmtui.screens.create import CreateScreen

        app = self.vmtui
        guest = self.current_guest()
        uri = self.only_host or (guest.host if guest and guest.host else "") or app.uri
        if not uri:
            self.notify("No host is connected.", severity="warning", timeout=3)
            return
        self.app.push_screen(CreateScreen(uri))
