"""The networks of one host: list, create, start/stop, autostart, delete (app key N)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Input, Label, Select, Static

from vmtui.backend import InvalidInput
from vmtui.backend.networks import (
    CREATE_MODES,
    NetworkInfo,
    NetworkSpec,
    create_network,
    delete_network,
    list_networks,
    set_network_active,
    set_network_autostart,
)
from vmtui.control.services import services
from vmtui.core import format as fmt
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.form import FormScreen
from vmtui.screens.onehost import OneHostScreen
from vmtui.widgets.tables import cursor_key

MODE_STYLES = {
    "isolated": "bold green",
    "host-only": "green",
    "NAT": "",
    "routed": "yellow",
    "open": "yellow",
    "bridge": "bold yellow",
    "direct": "bold yellow",
    "hostdev": "bold yellow",
    "unknown": "yellow",
}

# (key, header, width); the Guests column takes what is left.
NET_COLUMNS = (
    ("name", "Name", 14),
    ("active", "On", 3),
    ("auto", "Auto", 4),
    ("mode", "Mode", 9),
    ("bridge", "Bridge", 8),
    ("ip", "IP range", 18),
    ("guests", "Guests", 10),
)


def net_row(net: NetworkInfo) -> tuple[str, ...]:
    return (
        net.name,
        "yes" if net.active else "no",
        "yes" if net.autostart else "",
        net.mode,
        net.bridge or fmt.DASH,
        net.ip_range or fmt.DASH,
        ", ".join(net.used_by) or fmt.DASH,
    )


class CreateNetworkScreen(FormScreen[NetworkSpec]):
    """The create form; dismisses with a validated spec (or None)."""

    CSS_PATH = "isolation.tcss"
    OK_ID = "create"

    def compose(self) -> ComposeResult:
        with Vertical(classes="form"):
            yield Label("Create a network", id="title")
            yield Label("Name", classes="field-label")
            yield Input(placeholder="lab", id="name", compact=True)
            yield Label("Mode", classes="field-label")
            yield Select(
                [(label, mode) for mode, label in CREATE_MODES.items()],
                value="isolated",
                allow_blank=False,
                id="mode",
                compact=True,
            )
            yield Label("Host address with prefix (IPv4 CIDR)", classes="field-label")
            yield Input(
                placeholder="10.20.0.1/24 (not for isolated/bridge)", id="cidr", compact=True
            )
            yield Label("DHCP range (optional)", classes="field-label")
            with Horizontal(classes="range"):
                yield Input(placeholder="first, 10.20.0.10", id="dhcp-start", compact=True)
                yield Input(placeholder="last, 10.20.0.99", id="dhcp-end", compact=True)
            yield Label(
                "Bridge (host bridge for 'bridge'; optional otherwise)", classes="field-label"
            )
            yield Input(placeholder="br0", id="bridge", compact=True)
            yield from self.foot("Create")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def spec(self) -> NetworkSpec:
        mode = self.query_one("#mode", Select).value
        return NetworkSpec(
            name=self.query_one("#name", Input).value,
            mode=str(mode),
            cidr=self.query_one("#cidr", Input).value,
            dhcp_start=self.query_one("#dhcp-start", Input).value,
            dhcp_end=self.query_one("#dhcp-end", Input).value,
            bridge=self.query_one("#bridge", Input).value,
        )

    def submit(self) -> None:
        try:
            spec = self.spec().validate()
        except InvalidInput as err:
            self.say(err.message)
            return
        self.dismiss(spec)


class NetworksScreen(OneHostScreen):
    """One host's libvirt networks, with the guests using each."""

    CSS_PATH = "isolation.tcss"
    BINDINGS = [
        Binding("escape,backspace", "back", "Back"),
        Binding("c", "create", "Create"),
        Binding("s", "toggle_active", "Start/stop"),
        Binding("a", "toggle_autostart", "Autostart", show=False),
        Binding("D", "delete", "Delete"),
        Binding("r", "refresh", "Refresh", show=False),
        Binding("e", "edit_xml", "Edit XML", show=False),
    ]
    MUTATING = frozenset({"create", "toggle_active", "toggle_autostart", "delete", "edit_xml"})

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self.networks: tuple[NetworkInfo, ...] = ()
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Static(f"Networks on {fmt.short_uri(self.uri)}", id="net-title", markup=False)
        yield DataTable(id="networks", cursor_type="row", zebra_stripes=False)
        yield Static("", id="net-detail", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, header, width in NET_COLUMNS:
            table.add_column(header, key=key, width=width)
        table.focus()
        self.action_refresh()

    # ------------------------------------------------------------ data
    def action_refresh(self) -> None:
        hv = self._hv()
        services(self).runner.run(
            lambda: list_networks(hv), done=self.show_networks, what="list networks"
        )

    def show_networks(self, networks: tuple[NetworkInfo, ...]) -> None:
        if not self.is_attached:
            return  # closed while the list was read
        self.networks = networks
        self.loaded = True
        table = self.query_one(DataTable)
        selected = self.selected()
        table.clear()
        for net in networks:
            cells = [Text(t) for t in net_row(net)]
            cells[3].stylize(MODE_STYLES.get(net.mode, ""))
            table.add_row(*cells, key=net.name)
        if selected is not None and selected.name in {n.name for n in networks}:
            table.move_cursor(row=table.get_row_index(selected.name), animate=False)
        self._show_detail()
        if not networks:
            self.query_one("#net-detail", Static).update("No networks. Press c to create one.")

    def selected(self) -> NetworkInfo | None:
        key = cursor_key(self.query_one(DataTable))
        return next((n for n in self.networks if n.name == key), None)

    def _show_detail(self) -> None:
        if not self.is_attached:
            return
        net = self.selected()
        if net is None:
            return
        users = ", ".join(net.used_by) if net.used_by else "no guest"
        self.query_one("#net-detail", Static).update(
            f"{net.name}: {net.mode}, {'running' if net.active else 'stopped'}, used by {users}."
        )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    # ------------------------------------------------------------ actions
    def _call(self, call: object, command: tuple[str, ...], success: str, what: str) -> None:
        hv = self._hv()
        services(self).runner.run(
            lambda: call(hv),  # type: ignore[operator]
            done=lambda _r: self.action_refresh() if self.is_attached else None,
            failed=self._failed,
            success=success,
            what=what,
            command=command,
            host=self.uri,
        )

    def _failed(self, message: str) -> None:
        self.app.notify(message, markup=False, severity="error", timeout=8)
        if self.is_attached:
            self.query_one("#net-detail", Static).update(message)
            self.action_refresh()

    def action_edit_xml(self) -> None:
        self.edit_xml("network", self.selected())

    def action_create(self) -> None:
        def create(spec: NetworkSpec) -> None:
            self._call(
                lambda hv: create_network(hv, spec),
                ("net-define", f"{spec.name}.xml"),
                f"Network {spec.name} created and started.",
                f"create network {spec.name}",
            )

        CreateNetworkScreen().ask(self.app, create)

    def action_toggle_active(self) -> None:
        net = self.selected()
        if net is None:
            return
        name = net.name
        if not net.active:
            self._call(
                lambda hv: set_network_active(hv, name, True),
                ("net-start", name),
                f"Network {name} started.",
                f"start network {name}",
            )
            return

        def stop() -> None:
            self._call(
                lambda hv: set_network_active(hv, name, False),
                ("net-destroy", name),
                f"Network {name} stopped.",
                f"stop network {name}",
            )

        users = ", ".join(net.used_by) if net.used_by else "no guest"
        ConfirmScreen(
            f"Stop network {name}?",
            f"Running guests on it ({users}) lose their link until it is started again; "
            "guests using it cannot start meanwhile. Its definition stays.",
            confirm="Stop",
        ).ask(self.app, stop)

    def action_toggle_autostart(self) -> None:
        net = self.selected()
        if net is None:
            return
        name, on = net.name, not net.autostart
        self._call(
            lambda hv: set_network_autostart(hv, name, on),
            ("net-autostart", name) if on else ("net-autostart", name, "--disable"),
            f"Network {name} {'starts' if on else 'no longer starts'} when the host boots.",
            f"change autostart of network {name}",
        )

    def action_delete(self) -> None:
        net = self.selected()
        if net is None:
            return
        name = net.name
        if net.used_by:
            message = (
                f"The network {name} is used by {', '.join(net.used_by)}; remove or move "
                "their NICs first (isolation view, i). Nothing was deleted."
            )
            self.notify(message, markup=False, severity="error", timeout=8)
            self.query_one("#net-detail", Static).update(message)
            return

        def delete() -> None:
            self._call(
                lambda hv: delete_network(hv, name),
                ("net-undefine", name),
                f"Network {name} deleted.",
                f"delete network {name}",
            )

        ConfirmScreen(
            f"Delete network {name}?",
            f"This stops {name} and removes its definition ({net.mode}, "
            f"{net.ip_range or 'no IP'}). No guest uses it now.",
            confirm="Delete",
        ).ask(self.app, delete)
