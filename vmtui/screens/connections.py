"""`H`: saved connections and the hosts of this session; add, edit, remove, connect, disconnect.

The config file is read and written in workers (``Services.runner``); connecting goes through
``Services.connect_host`` (its own poll loop, never on the UI thread). The form shows the URI it
builds and the first reason it cannot be used, as the user types.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, DataTable, Footer, Input, Label, Select, Static

from vmtui.backend import Snapshot
from vmtui.backend.connections import (
    DRIVERS,
    TRANSPORTS,
    ConnectionSpec,
    ConnectionStore,
    SshHost,
    parse_uri,
    ssh_config_hosts,
)
from vmtui.control.services import services
from vmtui.core import format as fmt
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.hostview import HostView
from vmtui.widgets.problem_line import ProblemLine


@dataclass(frozen=True)
class Row:
    """One line of the list: a saved connection, or a host of this session not saved."""

    key: str
    name: str
    uri: str
    spec: ConnectionSpec | None  # None: connected in this session but not saved


class ConnectionsScreen(HostView):
    """Saved connections and connected hosts, each with its state."""

    CSS = """
    ConnectionsScreen #conn-title { padding: 0 1; text-style: bold; background: $boost; }
    ConnectionsScreen #conn-file { padding: 0 1; color: $text-muted; }
    ConnectionsScreen #conn-problem { padding: 0 1; color: $error; }
    ConnectionsScreen DataTable { height: 1fr; }
    ConnectionsScreen #conn-detail { padding: 0 1; height: auto; max-height: 4; }
    """

    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("a", "add", "Add"),
        Binding("e", "edit", "Edit"),
        Binding("c", "connect", "Connect"),
        Binding("x", "disconnect", "Disconnect"),
        Binding("D,delete", "remove", "Remove", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.saved: list[ConnectionSpec] = []
        self.loaded = False
        self.load_error = ""
        self.save_error = ""  # the last save that failed (shown until one succeeds)
        self.ssh_hosts: list[SshHost] = []
        self.rows: list[Row] = []
        self._shown: list[tuple[str, str, str, str]] = []

    @property
    def store(self) -> ConnectionStore:
        return services(self).connection_store()

    def compose(self) -> ComposeResult:
        yield Label("Connections", id="conn-title")
        yield Static("", id="conn-file", markup=False)
        yield ProblemLine(id="conn-problem")
        table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=True)
        table.add_column("Name", key="name", width=16)
        table.add_column("State", key="state", width=16)
        table.add_column("URI", key="uri")
        yield table
        yield Static("", id="conn-detail", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#conn-file", Static).update(f"Saved in {self.store.path}")
        self.query_one(DataTable).focus()
        self.reload()
        services(self).runner.run(ssh_config_hosts, done=self._ssh_hosts, failed=lambda _e: None)
        self.set_interval(0.5, self.refresh_rows)

    def _ssh_hosts(self, hosts: list[SshHost]) -> None:
        self.ssh_hosts = hosts

    # ------------------------------------------------------------------ data
    def reload(self) -> None:
        """Read the file again (in a worker)."""
        services(self).runner.run(
            self.store.load,
            done=self._loaded,
            failed=self._load_failed,
            what="read the saved connections",
        )

    def _loaded(self, specs: list[ConnectionSpec]) -> None:
        self.saved = specs
        self.loaded = True
        self.save_error = ""
        self._set_problem("")
        self.refresh_rows()

    def _load_failed(self, error: str) -> None:
        self.saved = []
        self.loaded = True
        self._set_problem(error)
        self.refresh_rows()

    def _set_problem(self, error: str) -> None:
        self.load_error = error
        self.query_one("#conn-problem", ProblemLine).say(error)

    def show_snapshot(self, snapshot: Snapshot | None) -> None:
        self.refresh_rows()

    def state_of(self, uri: str, spec: ConnectionSpec | None = None) -> tuple[str, str]:
        """(short state, sentence) of a URI in this session."""
        link = services(self).hosts.get(uri)
        if link is None:
            if spec is not None:
                problems = spec.problems()
                if problems:
                    return ("invalid", problems[0])
            return ("not connected", f"{fmt.short_uri(uri)} is not connected; c connects it.")
        if link.retry_at is not None:
            return ("lost", link.lost_reason or f"Lost {fmt.short_uri(uri)}.")
        if link.snapshot is None or not link.hv.connected:
            return ("connecting…", f"Connecting to {fmt.short_uri(uri)}…")
        guests = len(link.snapshot.guests)
        return ("connected", f"Connected to {fmt.short_uri(uri)} · {guests} guests.")

    def build_rows(self) -> list[Row]:
        rows = [Row(f"saved:{s.name}", s.name, s.uri(), s) for s in self.saved]
        saved_uris = {row.uri for row in rows}
        for uri, link in services(self).hosts.items():
            if uri not in saved_uris:
                rows.append(Row(f"host:{uri}", link.label, uri, None))
        return rows

    def refresh_rows(self) -> None:
        table = self.query_one(DataTable)
        rows = self.build_rows()
        shown = [(row.key, row.name, self.state_of(row.uri, row.spec)[0], row.uri) for row in rows]
        if shown != self._shown:
            current = self.current_row()
            keep = current.key if current else None
            table.clear()
            for key, name, state, uri in shown:
                # a str cell is Rich markup to DataTable: a name holding '[/' crashed the
                # screen and an IPv6 host ('[fe80::1]') vanished as a tag. Text is plain.
                table.add_row(Text(name), Text(state), Text(uri), key=key)
            self.rows = rows
            self._shown = shown
            if keep is not None:
                for index, row in enumerate(rows):
                    if row.key == keep:
                        table.move_cursor(row=index, animate=False)
        self._show_detail()

    def current_row(self) -> Row | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row < 0 or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def _show_detail(self) -> None:
        row = self.current_row()
        if self.save_error:
            text = self.save_error
        elif row is None:
            text = (
                "No saved connection yet: a adds one."
                if self.loaded
                else "Reading the saved connections…"
            )
        else:
            saved = "" if row.spec is not None else " (not saved: e saves it)"
            text = f"{self.state_of(row.uri, row.spec)[1]}{saved}"
        self.query_one("#conn-detail", Static).update(text)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_data_table_row_selected(self, _event: DataTable.RowSelected) -> None:
        self.action_connect()

    # ------------------------------------------------------------------ actions
    def action_close(self) -> None:
        self.dismiss(None)

    def action_add(self) -> None:
        self._open_form(None)

    def action_edit(self) -> None:
        row = self.current_row()
        if row is None:
            self._open_form(None)
        elif row.spec is not None:
            self._open_form(row.spec)
        else:
            self._open_form(parse_uri(row.uri, name=row.name), new=True)

    def _open_form(self, spec: ConnectionSpec | None, new: bool = False) -> None:
        replace = spec.name if spec is not None and not new else None
        taken = {s.name for s in self.saved} - ({replace} if replace else set())

        def done(result: tuple[str, ConnectionSpec] | None) -> None:
            if result is None:
                return
            what, chosen = result
            if what == "save":
                self.save(chosen, replace)
            else:
                self.connect(chosen)

        self.app.push_screen(ConnectionForm(spec, self.ssh_hosts, taken), done)

    def save(self, spec: ConnectionSpec, replace: str | None = None) -> None:
        store = self.store
        verb = "saved" if replace is None else "updated"
        services(self).runner.run(
            lambda: store.add(spec, replace=replace),
            done=self._loaded,
            failed=self._save_failed,
            what="save the connection",
            success=f"Connection {spec.name} {verb} in {store.path}.",
        )

    def _save_failed(self, error: str) -> None:
        self.notify(error, severity="error", markup=False, timeout=10)
        self.save_error = error
        self._show_detail()
        self.reload()

    def action_remove(self) -> None:
        row = self.current_row()
        if row is None:
            return
        if row.spec is None:
            self.notify(f"{row.name} is not saved; x disconnects it.", markup=False, timeout=4)
            return
        name = row.name
        store = self.store

        def remove() -> None:
            services(self).runner.run(
                lambda: store.remove(name),
                done=self._loaded,
                failed=self._save_failed,
                what="remove the connection",
                success=f"Connection {name} removed.",
            )

        ConfirmScreen(
            f"Remove the saved connection {name}?",
            f"It goes from {store.path}. A host connected through it stays connected in "
            "this session; nothing changes on the host.",
            confirm="Remove",
        ).ask(self.app, remove)

    def action_connect(self) -> None:
        row = self.current_row()
        if row is None:
            self.notify("No connection is selected; a adds one.", timeout=3)
        elif row.spec is not None:
            self.connect(row.spec)
        else:
            services(self).connect_host(row.uri)

    def connect(self, spec: ConnectionSpec) -> None:
        problems = spec.problems()
        if problems:
            self.notify(problems[0], severity="error", markup=False, timeout=8)
            return
        uri = spec.uri()
        if uri in services(self).hosts and services(self).hosts[uri].retry_at is None:
            self.notify(f"{spec.name} is connected already.", markup=False, timeout=3)
            return
        services(self).connect_host(uri)
        self.notify(f"Connecting to {spec.name}…", markup=False, timeout=3)
        self.refresh_rows()

    def action_disconnect(self) -> None:
        row = self.current_row()
        if row is None:
            return
        if row.uri not in services(self).hosts:
            self.notify(f"{row.name} is not connected.", markup=False, timeout=3)
            return
        services(self).disconnect_host(row.uri)
        self.notify(f"Disconnected {row.name}.", markup=False, timeout=3)
        self.refresh_rows()


def parse_params(text: str) -> tuple[tuple[str, str], ...]:
    """``no_verify=1&known_hosts=/x`` (or with spaces/commas between) -> pairs, in order."""
    pairs = []
    for item in text.replace(" ", "&").split("&"):
        if item:
            key, _, value = item.partition("=")
            pairs.append((key, value))
    return tuple(pairs)


def _unbracket(host: str) -> str:
    """``[fe80::1]`` -> ``fe80::1``: an IPv6 address as written in a URI is still the host."""
    if host.startswith("[") and host.endswith("]") and ":" in host:
        return host[1:-1]
    return host


def format_params(params: Sequence[tuple[str, str]]) -> str:
    return "&".join(f"{k}={v}" for k, v in params)


def _one_of(choices: Sequence[str], value: str, default: str, id: str) -> Select[str]:
    """A compact pick of one of ``choices``, on ``value`` when it is one of them."""
    start = value if value in choices else default
    return Select([(c, c) for c in choices], value=start, allow_blank=False, id=id, compact=True)


class ConnectionForm(ModalScreen[tuple[str, ConnectionSpec] | None]):
    """Add or edit one connection; dismisses with ("save" | "connect", spec) or None."""

    CSS = """
    ConnectionForm { align: center middle; }
    ConnectionForm #form { width: 78; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary 60%; background: $surface; padding: 0 1; }
    ConnectionForm VerticalScroll { height: auto; max-height: 14; }
    ConnectionForm Grid { grid-size: 2; grid-columns: 12 1fr; grid-rows: 1; height: auto;
        grid-gutter: 0 1; }
    ConnectionForm Grid Label { width: 100%; text-align: right; color: $text-muted; }
    ConnectionForm #uri-preview { margin-top: 1; text-style: bold; }
    ConnectionForm #problem { color: $error; height: auto; }
    ConnectionForm #problem.ok { color: $success; }
    ConnectionForm .buttons { height: auto; align-horizontal: right; }
    ConnectionForm Button { margin-left: 1; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]

    def __init__(
        self,
        spec: ConnectionSpec | None,
        ssh_hosts: Sequence[SshHost] = (),
        taken: set[str] | None = None,
    ) -> None:
        super().__init__()
        self.spec = spec or ConnectionSpec(name="", transport="ssh")
        self.ssh_hosts = list(ssh_hosts)
        self.taken = taken or set()

    def compose(self) -> ComposeResult:
        spec = self.spec
        with Vertical(id="form"):
            yield Label("Edit connection" if spec.name else "New connection", id="form-title")
            with VerticalScroll(), Grid():
                if self.ssh_hosts:
                    yield Label("ssh config")
                    yield Select(
                        [(h.alias, h.alias) for h in self.ssh_hosts],
                        prompt="pick a Host of ~/.ssh/config",
                        id="from-ssh",
                        compact=True,
                    )
                yield Label("Name")
                yield Input(spec.name, id="name", compact=True, placeholder="hv2")
                yield Label("Driver")
                yield _one_of(DRIVERS, spec.driver, "qemu", "driver")
                yield Label("Transport")
                yield _one_of(TRANSPORTS, spec.transport, "ssh", "transport")
                yield Label("User")
                yield Input(spec.user, id="user", compact=True, placeholder="root")
                yield Label("Host")
                yield Input(spec.host, id="host", compact=True, placeholder="hv2.example.org")
                yield Label("Port")
                port = "" if spec.port is None else str(spec.port)
                yield Input(port, id="port", compact=True, restrict=r"[0-9]*", max_length=5)
                yield Label("Path")
                yield Input(spec.path, id="path", compact=True, placeholder="system")
                yield Label("Key file")
                yield Input(
                    spec.keyfile, id="keyfile", compact=True, placeholder="~/.ssh/id_ed25519"
                )
                yield Label("Parameters")
                yield Input(
                    format_params(spec.params),
                    id="params",
                    compact=True,
                    placeholder="no_verify=1&known_hosts=/path",
                )
                yield Label("")
                yield Checkbox(
                    "Connect when vmtui starts", spec.autoconnect, id="autoconnect", compact=True
                )
            yield Static("", id="uri-preview", markup=False)
            yield Static("", id="problem", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Save (^s)", variant="primary", id="save", compact=True)
                yield Button("Connect once", id="connect-once", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()
        self.update_preview()

    def _text(self, wid: str) -> str:
        return self.query_one(f"#{wid}", Input).value.strip()

    def _choice(self, wid: str, default: str) -> str:
        value = self.query_one(f"#{wid}", Select).value
        return value if isinstance(value, str) else default

    def current_spec(self) -> ConnectionSpec:
        """The spec as the form stands (whatever its problems)."""
        port = self._text("port")
        keyfile = self._text("keyfile")
        if keyfile.startswith("~"):
            keyfile = os.path.expanduser(keyfile)
        return ConnectionSpec(
            name=self._text("name"),
            driver=self._choice("driver", "qemu"),
            transport=self._choice("transport", "ssh"),
            user=self._text("user"),
            host=_unbracket(self._text("host")),
            port=int(port) if port.isdigit() else None,
            path=self._text("path"),
            keyfile=keyfile,
            params=parse_params(self._text("params")),
            autoconnect=self.query_one("#autoconnect", Checkbox).value,
        )

    def problems(self, spec: ConnectionSpec) -> list[str]:
        found = spec.problems()
        if spec.name in self.taken:
            found.insert(0, f"A connection named {spec.name} exists already; choose another.")
        return found

    def update_preview(self) -> None:
        spec = self.current_spec()
        self.query_one("#uri-preview", Static).update(f"URI: {spec.uri()}")
        problems = self.problems(spec)
        problem = self.query_one("#problem", Static)
        problem.update(problems[0] if problems else "✓ Ready.")
        problem.set_class(not problems, "ok")

    def on_input_changed(self, _event: Input.Changed) -> None:
        self.update_preview()

    def on_checkbox_changed(self, _event: Checkbox.Changed) -> None:
        self.update_preview()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "from-ssh" and isinstance(event.value, str):
            self.query_one("#transport", Select).value = "ssh"
            self.query_one("#host", Input).value = event.value
            if not self._text("name"):
                self.query_one("#name", Input).value = event.value
        self.update_preview()

    def _finish(self, what: str) -> None:
        spec = self.current_spec()
        problems = self.problems(spec) if what == "save" else spec.problems()
        if problems:
            self.app.bell()
            self.notify(problems[0], severity="error", markup=False, timeout=6)
            return
        self.dismiss((what, spec))

    def action_save(self) -> None:
        self._finish("save")

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions: dict[str | None, Callable[[], None]] = {
            "save": self.action_save,
            "connect-once": lambda: self._finish("connect"),
            "cancel": self.action_cancel,
        }
        actions[event.button.id]()
