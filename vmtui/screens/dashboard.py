"""The dashboard: host panel, guest table, filter, status line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import compress

from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.events import Resize
from textual.widgets import Footer, Input

from vmtui.backend import GuestInfo, Snapshot
from vmtui.control.services import services
from vmtui.control.subjects import subject_of
from vmtui.core import query
from vmtui.core.actions import POWER
from vmtui.core.loading import incomplete_note
from vmtui.core.query import Subject
from vmtui.core.safetext import safe_text
from vmtui.screens.base import GuestActionScreen
from vmtui.screens.bulk import bulk_action
from vmtui.screens.create import CreateScreen
from vmtui.screens.guest import GuestScreen
from vmtui.screens.hostcharts import HostChartsScreen
from vmtui.screens.hostlist import HostListScreen
from vmtui.screens.sortsetting import SettingDone, SortStore, sort_sentence
from vmtui.widgets.guest_sort import SORT_NAMES
from vmtui.widgets.guest_table import GuestTable
from vmtui.widgets.host_panel import HostPanel, HostRow
from vmtui.widgets.status_line import StatusLine


class DashboardScreen(GuestActionScreen):
    BINDINGS = [
        Binding("enter", "open", "Open", priority=False),
        # priority: handled as the key arrives, so the keys typed after it (a paste, a fast
        # typist over ssh) reach the filter box, not the table ("/st" started the guest)
        Binding("slash", "filter", "Filter", key_display="/", priority=True),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("h", "next_host", "Host", show=False),
        Binding("space", "toggle_mark", "Mark", show=False),
        Binding("n", "new_guest", "New guest", show=False),
        Binding("o", "sort_next", "Sort"),  # by the next column shown
        Binding("O", "sort_reverse", "Reverse the sort", show=False),
        Binding("f", "hosts", "Hosts: one row each", show=False),
        Binding("P", "host_charts", "Host load charts", show=False),
    ]

    # new_guest is a host's action, not a guest's: hidden when read-only like the others
    MUTATING = GuestActionScreen.MUTATING | {"new_guest"}

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        # The / query in force; a query that does not parse leaves the last good one here.
        self.filter_predicate: query.Predicate | None = None
        self.query_error: query.QueryError | None = None
        self.only_host: str | None = None  # narrowed to this URI (h cycles), None = all
        self._snapshot: Snapshot | None = None
        self._subject_cache: tuple[Snapshot, dict[str, str], list[Subject]] | None = None

    def compose(self) -> ComposeResult:
        yield HostPanel(id="host")
        yield Input(
            placeholder="name, state:running tag:db host:hv2 cpu>50 mem>2G, … (esc clears)",
            id="filter",
        )
        yield GuestTable(id="guests")
        yield StatusLine(id="status")
        # 80 columns hold the footer's keys, o (sort) and ? (every key, ^p among them) only
        # without Textual's "^p palette" at the end
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(GuestTable).focus()
        self._sort_store = SortStore(self)
        self._sort_store.load(self._apply_saved_sort)
        if services(self).snapshot is not None:
            self.show_snapshot(services(self).snapshot)

    @property
    def table(self) -> GuestTable:
        return self.query_one(GuestTable)

    def show_snapshot(self, snapshot: Snapshot | None) -> None:
        self._snapshot = snapshot
        if snapshot is not None and self.table.marked:
            # a marked guest that no longer exists is no longer marked
            self.table.marked &= {g.uuid for g in snapshot.guests}
            self.table.update_name_header()
        app = services(self)
        links = list(app.hosts.values())
        if self.only_host is not None and self.only_host not in app.hosts:
            self.only_host = None
        panel = self.query_one(HostPanel)
        if len(links) > 1:
            rows = []
            for link in links:
                symbol, _text, style = app.host_status(link.uri)
                stats = link.snapshot.host if link.snapshot else None
                rows.append(HostRow(link.label, symbol, style, stats, link.host_history))
            narrowed = app.hosts[self.only_host].label if self.only_host else None
            panel.update_hosts(rows, narrowed)
        else:
            only = links[0] if links else None
            panel.update_host(
                only.host_info if only and snapshot else None,
                only.snapshot.host if only and only.snapshot else None,
                only.host_history if only and snapshot else None,
            )
        self._show_rows()

    def _show_rows(self) -> None:
        snapshot = self._snapshot
        if snapshot is None:
            self.table.show([], {})
            return
        app = services(self)
        pred = self.filter_predicate
        labels = app.host_labels()
        whole = snapshot.guests
        guests: Sequence[GuestInfo] = whole  # as is: the table sees it unchanged
        if pred is not None:  # the predicate over every guest, in C loops (10,000 guests)
            guests = list(compress(whole, map(pred, self._subjects(snapshot, labels))))
        if self.only_host is not None:
            host = self.only_host
            guests = [g for g in guests if g.host == host]
        stale = frozenset(uri for uri, link in app.hosts.items() if link.stale)
        # a part of the snapshot's guests: the table keeps what it derived from them all
        self.table.show(guests, snapshot.stats, labels, stale, whole=whole)
        if self.filter_text and self.query_error is None:  # tag:/iso: while XML is read
            note = incomplete_note(self.filter_text, len(snapshot.loading))
            self.query_one("#filter", Input).border_subtitle = Content(note)

    def _subjects(self, snapshot: Snapshot, labels: Mapping[str, str]) -> list[Subject]:
        """The guests of ``snapshot`` as the `/` query sees them, built once a snapshot: each
        filter keystroke at 10,000 guests built them all again (~40 ms), the query itself
        takes 1-4 ms."""
        cached = self._subject_cache
        if cached is not None and cached[0] is snapshot and cached[1] == labels:
            return cached[2]
        stats = snapshot.stats
        subjects = [
            subject_of(g, stats.get(g.uuid), labels.get(g.host, "")) for g in snapshot.guests
        ]
        self._subject_cache = (snapshot, dict(labels), subjects)
        return subjects

    def action_next_host(self) -> None:
        """Narrow the table to one host, the next one each time; after the last, all."""
        uris = list(services(self).hosts)
        if len(uris) < 2:
            self.notify("Only one host is connected.", timeout=2)
            return
        if self.only_host is None:
            self.only_host = uris[0]
        else:
            i = uris.index(self.only_host) if self.only_host in uris else -1
            self.only_host = uris[i + 1] if i + 1 < len(uris) else None
        label = services(self).hosts[self.only_host].label if self.only_host else "all hosts"
        self.notify(f"Showing {label}.", markup=False, timeout=2)
        self.show_snapshot(self._snapshot)

    def on_resize(self, event: Resize) -> None:
        self.call_after_refresh(self._show_rows)

    def current_guest(self) -> GuestInfo | None:
        self.table.follow_cursor()  # acted on: the cursor follows this guest from now on
        uuid = self.table.selected_uuid
        if uuid is None or self._snapshot is None:
            return None
        return next((g for g in self._snapshot.guests if g.uuid == uuid), None)

    def on_data_table_row_selected(self, event: GuestTable.RowSelected) -> None:
        self.action_open()

    # ---------------------------------------------------------- sort, host view
    def action_sort_next(self) -> None:
        """Sort by the next column (in the table's order; after the last, by name again)."""
        table = self.table
        keys = table.column_keys or list(SORT_NAMES)  # every shown column
        at = keys.index(table.sort_column) if table.sort_column in keys else -1
        self._sort_by(keys[(at + 1) % len(keys)], None)

    def action_sort_reverse(self) -> None:
        self._sort_by(self.table.sort_column, not self.table.sort_descending)

    def on_data_table_header_selected(self, event: GuestTable.HeaderSelected) -> None:
        """A click on a column's header sorts by it; a second click reverses."""
        column = event.column_key.value or "name"
        if column == self.table.sort_column:
            self.action_sort_reverse()
        else:
            self._sort_by(column, None)

    def _sort_by(self, column: str, descending: bool | None) -> None:
        self.table.set_sort(column, descending)
        words = SORT_NAMES.get(column) or self.table.column_title(column)
        self.notify(sort_sentence(column, self.table.sort_descending, words), timeout=2)
        self._sort_store.save(self.table.sort_column, self.table.sort_descending)

    def _apply_saved_sort(self, column: str, descending: bool) -> None:
        self.table.set_sort(column, descending)

    def on_setting_done(self, message: SettingDone) -> None:
        message.callback()  # the sort order was read or saved (SortStore)

    def action_hosts(self) -> None:
        """One row per host: its state, guests, commitment and load (enter narrows)."""
        self.app.push_screen(HostListScreen(self.narrow_to_host))

    def narrow_to_host(self, uri: str | None) -> None:
        """Show only this host's guests (None: every host's)."""
        if uri is not None and uri not in services(self).hosts:
            return
        self.only_host = uri
        self.show_snapshot(self._snapshot)

    def action_host_charts(self) -> None:
        """P: the load of the host narrowed to, else the selected guest's host, as charts."""
        guest = self.current_guest()
        uri = self.only_host or (guest.host if guest and guest.host else services(self).uri)
        if uri:
            self.app.push_screen(HostChartsScreen(uri))

    def action_open(self) -> None:
        guest = self.current_guest()
        if guest is not None:
            self.app.push_screen(GuestScreen(guest.uuid))

    # ---------------------------------------------------------- filter
    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if self.focused is box:  # a "/" typed in the query itself (the binding has priority)
            box.insert_text_at_cursor("/")
            return
        box.add_class("shown")
        # focus now, not after the keys already typed (`box.focus()` defers it)
        self.set_focus(box)

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if not box.value and not box.has_class("shown") and self.table.marked:
            self.table.clear_marks()  # esc with no filter: drop the marks
            self.notify("No guest is marked now.", timeout=2)
            return
        box.value = ""
        self.set_filter("")
        box.remove_class("shown")
        self.set_focus(self.table)  # now: the keys typed after esc are the table's

    def set_filter(self, text: str) -> bool:
        """Filter the table with a / query. A query that does not parse is reported (under
        the filter box) and changes nothing: the table keeps the last good filter."""
        box = self.query_one("#filter", Input)
        try:
            predicate = query.parse(text) if text.strip() else None
        except query.QueryError as err:
            self.query_error = err
            # the message quotes the typed text: plain text, never markup ('[/' crashed)
            box.border_subtitle = Content(safe_text(err.message))
            box.add_class("error")
            return False
        self.query_error = None
        box.border_subtitle = ""
        box.remove_class("error")
        self.filter_text = text
        self.filter_predicate = predicate
        self._show_rows()
        return True

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            if self.query_error is not None:
                self.notify(self.query_error.message, markup=False, severity="error", timeout=6)
                return  # stay in the box to fix it
            if not event.value:
                event.input.remove_class("shown")
            self.set_focus(self.table)  # now: the keys typed after enter are the table's
            self.table.follow_cursor()  # the guest the filter found is the one to follow

    # ---------------------------------------------------------- marks, bulk actions
    def hidden_uuids(self, guests: Sequence[GuestInfo]) -> frozenset[str]:
        """The uuids among ``guests`` that the filter or the host narrowing hides from the
        table: bulk questions name them (issue 14, #7)."""
        shown = set(self.table.shown_uuids)
        return frozenset(g.uuid for g in guests if g.uuid not in shown)

    def marked_guests(self) -> list[GuestInfo]:
        """The marked guests that still exist, in name order (shown or filtered out)."""
        if self._snapshot is None:
            return []
        marked = self.table.marked
        found = [g for g in self._snapshot.guests if g.uuid in marked]
        return sorted(found, key=lambda g: (g.name.lower(), g.name, g.uuid))

    def targets(self) -> list[GuestInfo]:
        marked = self.marked_guests()
        return marked or super().targets()

    def action_toggle_mark(self) -> None:
        """Mark or unmark the guest under the cursor and move down (like a file manager)."""
        uuid = self.table.selected_uuid
        if uuid is None:
            return
        self.table.toggle_mark(uuid)
        self.table.action_cursor_down()
        count = len(self.table.marked)
        if count:
            self.notify(
                f"{count} guest(s) marked: s d r F p u a D t act on them (esc unmarks).", timeout=2
            )

    def _run(self, action: str) -> None:
        marked = self.marked_guests()
        if not marked or (action not in POWER and action != "delete"):
            super()._run(action)
            return
        bulk_action(self.app, action, marked, self.hidden_uuids(marked))

    def action_autostart(self) -> None:
        marked = self.marked_guests()
        if not marked:
            super().action_autostart()
            return
        # on for all unless every marked guest has it already
        self._run("autostart_off" if all(g.autostart for g in marked) else "autostart_on")

    def action_force_off(self) -> None:
        if not self.marked_guests():
            super().action_force_off()
        else:
            self._run("force_off")

    def action_delete(self) -> None:
        if not self.marked_guests():
            super().action_delete()
        else:
            self._run("delete")

    def action_new_guest(self) -> None:
        """Open the new-guest wizard on the host in view (the narrowed one, the selected
        guest's, or the first)."""
        app = services(self)
        guest = self.current_guest()
        uri = self.only_host or (guest.host if guest and guest.host else "") or app.uri
        if not uri:
            self.notify("No host is connected.", severity="warning", timeout=3)
            return
        wizard = CreateScreen(uri)

        def created(_none: None) -> None:  # the cursor goes to the new guest (issue 16)
            if wizard.result is not None:
                self.table.follow_guest(wizard.result.uuid)

        self.app.push_screen(wizard, created)
