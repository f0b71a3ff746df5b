"""One guest's isolation: every path to the host or a network, its verdict, and changes
(key i on the dashboard and the guest screen).

Each change asks first, saying whether it applies now (the guest runs) and/or at the next
boot (persistent configuration); when the running guest refuses the live part, the change is
kept for the next boot and the result says so.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Checkbox, DataTable, Footer, Input, Label, Select, Static

from vmtui.backend import NicSpec, RiskyPath, SharedFolderSpec, Snapshot, VmtuiError
from vmtui.backend.isolation import (
    ChangeResult,
    Exposure,
    IsolationReport,
    attach_folder,
    attach_nic,
    detach_folder,
    detach_nic,
    random_mac,
    read_isolation,
    set_folder_readonly,
    switch_nic_network,
)
from vmtui.backend.models import NicInfo, SharedFolder
from vmtui.backend.networks import list_networks
from vmtui.backend.verdict import MODE_HELP, graphics_exposed
from vmtui.control.services import services
from vmtui.core import format as fmt
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.form import FormScreen
from vmtui.screens.hostview import HostView
from vmtui.widgets.tables import cursor_key

VERDICT_HELP = {
    "host-shared": "a shared folder or host device: the guest touches host files or hardware",
    "LAN-bridged": "a NIC on a host bridge or macvtap: the guest is on the host's LAN",
    "unknown": "a NIC vmtui cannot classify: it may lead anywhere",
    "routed": "a routed network: the guest is reachable from the host's networks",
    "NAT": "NAT: the guest reaches out through the host; nothing reaches in",
    "host-only": "an isolated network with a host address: the guest reaches the host",
    "guest-only": "isolated networks without IP: the guest reaches only other guests on them",
    "isolated": "no path to the host or a network",
}
VERDICT_STYLES = {
    "host-shared": "bold red",
    "LAN-bridged": "bold yellow",
    "unknown": "yellow",
    "routed": "yellow",
    "NAT": "",
    "host-only": "green",
    "guest-only": "bold green",
    "isolated": "bold green",
}

COLUMNS = (
    ("what", "Path", 22),
    ("to", "Leads to", 24),
    ("mode", "Mode", 11),
    ("now", "Now", 4),
    ("boot", "Boot", 4),
)


def when_text(report: IsolationReport, *, live_possible: bool = True, note: str = "") -> str:
    """Whether a change applies now, at the next boot, or both (for the confirmation)."""
    if report.running and report.persistent:
        if not live_possible:
            return f"It applies at the next boot ({note}); the running guest keeps its paths."
        return (
            "It applies now to the running guest and is saved for the next boot. If the "
            "running guest refuses the live change, it applies at the next boot only."
        )
    if report.running:
        return "It applies now only: the guest is transient and has no saved configuration."
    return "It applies at the next boot (the guest is shut off)."


def virsh_flags(report: IsolationReport) -> tuple[str, ...]:
    return (("--config",) if report.persistent else ()) + (("--live",) if report.running else ())


# ---------------------------------------------------------------- rows
def _nic_to(nic: NicInfo) -> str:
    if nic.kind == "network":
        return f"network {nic.source}"
    if nic.kind in ("bridge", "direct"):
        return f"{nic.kind} {nic.source}"
    return nic.kind


def path_rows(report: IsolationReport) -> list[tuple[str, tuple[str, ...]]]:
    """(row key, cells) for every path, live and persistent merged: NICs by MAC, folders by
    tag; Now/Boot say which configuration has it."""
    live, config = report.live, report.config
    rows: list[tuple[str, tuple[str, ...]]] = []

    def has(exp: Exposure | None, test: Callable[[Exposure], bool]) -> str:
        if exp is None:
            return fmt.DASH
        return "yes" if test(exp) else "no"

    seen: dict[str, tuple[NicInfo, str]] = {}
    for exp in (live, config):
        for p in exp.nics if exp else ():
            seen.setdefault(p.nic.mac, (p.nic, p.mode))
    for mac, (nic, mode) in seen.items():
        now = has(live, lambda e, m=mac: any(p.nic.mac == m for p in e.nics))  # type: ignore[misc]
        boot = has(config, lambda e, m=mac: any(p.nic.mac == m for p in e.nics))  # type: ignore[misc]
        rows.append((f"nic:{mac}", (f"NIC {mac}", _nic_to(nic), mode, now, boot)))
    folders: dict[str, SharedFolder] = {}
    for exp in (live, config):
        for f in exp.folders if exp else ():
            folders.setdefault(f.tag, f)
    for tag, f in folders.items():
        now = has(live, lambda e, t=tag: any(x.tag == t for x in e.folders))  # type: ignore[misc]
        boot_f = next((x for x in config.folders if x.tag == tag), None) if config else None
        boot = fmt.DASH if config is None else ("yes" if boot_f else "no")
        access = "ro" if (boot_f or f).readonly else "rw"
        rows.append(
            (f"fs:{tag}", (f"folder {tag} ({f.driver})", f.source, f"share {access}", now, boot))
        )
    current = report.current
    for d in current.hostdevs:
        rows.append(
            (f"dev:{d.kind}:{d.address}", (f"host {d.kind} device", d.address, "device", "", ""))
        )
    for i, g in enumerate(current.graphics):
        exposed = "network" if graphics_exposed(g) else "local"
        port = f":{g.port}" if g.port else ""
        rows.append(
            (f"gfx:{i}", (f"{g.kind} display", f"{g.listen or 'default'}{port}", exposed, "", ""))
        )
    if current.agent:
        rows.append(("agent", ("guest agent", "channel to the host", "host->guest", "", "")))
    return rows


# ---------------------------------------------------------------- forms
class AddNicScreen(FormScreen[NicSpec]):
    CSS_PATH = "isolation.tcss"

    def __init__(self, report: IsolationReport, modes: dict[str, str]) -> None:
        super().__init__()
        self.report = report
        self.modes = modes

    def compose(self) -> ComposeResult:
        options = [(f"{n} ({self.modes.get(n, '?')})", n) for n in self.report.networks]
        with Vertical(classes="form"):
            yield Label(f"Add a NIC to {self.report.name}", id="title", markup=False)
            yield Label("Libvirt network", classes="field-label")
            yield Select(options, id="network", prompt="choose a network", compact=True)
            yield Label("or a host bridge (puts the guest on the LAN)", classes="field-label")
            yield Input(
                placeholder="br0 (leave empty to use the network)", id="bridge", compact=True
            )
            yield from self.foot("Add")

    def submit(self) -> None:
        bridge = self.query_one("#bridge", Input).value.strip()
        network = self.query_one("#network", Select).value
        if bridge:
            spec = NicSpec("bridge", bridge)
        elif isinstance(network, str):
            spec = NicSpec("network", network)
        else:
            self.say("Choose a network or give a bridge.")
            return
        try:
            spec = spec.validate()
        except VmtuiError as err:
            self.say(err.message)
            return
        self.dismiss(NicSpec(spec.kind, spec.source, spec.model, random_mac()))


class SwitchNetworkScreen(FormScreen[str]):
    CSS_PATH = "isolation.tcss"

    def __init__(self, mac: str, networks: list[tuple[str, str]]) -> None:
        super().__init__()
        self.mac = mac
        self.networks = networks

    def compose(self) -> ComposeResult:
        with Vertical(classes="form"):
            yield Label(f"Move NIC {self.mac} to", id="title", markup=False)
            yield Select(self.networks, id="network", prompt="choose a network", compact=True)
            yield from self.foot("Move")

    def submit(self) -> None:
        value = self.query_one("#network", Select).value
        if not isinstance(value, str):
            self.say("Choose a network.")
            return
        self.dismiss(value)


class AddFolderScreen(FormScreen[SharedFolderSpec]):
    CSS_PATH = "isolation.tcss"

    def __init__(self, name: str) -> None:
        super().__init__()
        self.guest_name = name

    def compose(self) -> ComposeResult:
        with Vertical(classes="form"):
            yield Label(f"Share a host folder with {self.guest_name}", id="title", markup=False)
            yield Label("Host directory (full path)", classes="field-label")
            yield Input(placeholder="/srv/share", id="path", compact=True)
            yield Label("Mount tag (mount -t 9p TAG /mnt in the guest)", classes="field-label")
            yield Input(placeholder="share", id="tag", compact=True)
            yield Label("Driver", classes="field-label")
            yield Select(
                [("9p", "9p"), ("virtiofs", "virtiofs")],
                value="9p",
                allow_blank=False,
                id="driver",
                compact=True,
            )
            yield Checkbox(
                "Read-only (the guest cannot change host files)",
                value=True,
                id="readonly",
                compact=True,
            )
            yield from self.foot("Share")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    def submit(self) -> None:
        path = self.query_one("#path", Input).value
        tag = self.query_one("#tag", Input).value.strip()
        if not path.strip():
            self.say("Give the host directory to share.")
            return
        if not tag:
            self.say("Give a mount tag.")
            return
        driver = str(self.query_one("#driver", Select).value)
        readonly = self.query_one("#readonly", Checkbox).value
        self.dismiss(SharedFolderSpec(path, tag, driver, readonly))


def check_folder(spec: SharedFolderSpec) -> tuple[SharedFolderSpec, str]:
    """(resolved spec, risk sentence or ""): run in a worker (it touches the file system)."""
    try:
        return spec.validate(), ""
    except RiskyPath as err:
        return spec.validate(allow_risky=True), err.message


# ---------------------------------------------------------------- the view
class IsolationScreen(HostView):
    """The isolation view of one guest."""

    CSS_PATH = "isolation.tcss"
    BINDINGS = [
        Binding("escape,backspace", "back", "Back"),
        Binding("n", "add_nic", "Add NIC"),
        Binding("f", "add_folder", "Share folder"),
        Binding("x,delete", "remove", "Remove"),
        Binding("w", "switch_network", "Move NIC", show=False),
        Binding("o", "toggle_readonly", "ro/rw", show=False),
        Binding("r", "refresh", "Refresh", show=False),
    ]
    MUTATING = frozenset({"add_nic", "add_folder", "remove", "switch_network", "toggle_readonly"})

    def __init__(self, uuid: str, name: str) -> None:
        super().__init__()
        self.uuid = uuid
        self.guest_name = name
        self.report: IsolationReport | None = None
        self.net_modes: dict[str, str] = {}
        self.last_message = ""
        self._seen: object = None

    def compose(self) -> ComposeResult:
        yield Static(f"Isolation of {self.guest_name}", id="iso-title", markup=False)
        yield Static("", id="iso-verdict")
        yield DataTable(id="paths", cursor_type="row", zebra_stripes=False)
        yield Static("", id="iso-detail", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, header, width in COLUMNS:
            table.add_column(header, key=key, width=width)
        table.focus()
        self.action_refresh()

    @property
    def uri(self) -> str:
        return services(self).uri_of(self.uuid) or services(self).hypervisor_for(self.uuid).uri

    def show_snapshot(self, snapshot: Snapshot | None) -> None:
        """Re-read the paths when a poll shows the guest's devices or state changed (by
        another tool too)."""
        if snapshot is None:
            return
        guest = next((g for g in snapshot.guests if g.uuid == self.uuid), None)
        if guest is None:
            return
        key = (guest.state, guest.nics, guest.shared_folders, guest.hostdevs, guest.isolation)
        if self._seen is not None and key != self._seen:
            self.action_refresh()
        self._seen = key

    # ------------------------------------------------------------ data
    def action_refresh(self) -> None:
        hv = services(self).hypervisor_for(self.uuid)

        def read() -> tuple[IsolationReport, dict[str, str]]:
            report = read_isolation(hv, self.uuid)
            return report, {n.name: n.mode for n in list_networks(hv)}

        services(self).runner.run(
            read, done=self.show_report, failed=self._failed, what="read the isolation"
        )

    def show_report(self, found: tuple[IsolationReport, dict[str, str]]) -> None:
        if not self.is_attached:
            return  # closed while the read was running
        report, modes = found
        self.report, self.net_modes = report, modes
        self.guest_name = report.name
        state = "running" if report.running else "shut off"
        kind = "" if report.persistent else ", transient"
        self.query_one("#iso-title", Static).update(f"Isolation of {report.name} ({state}{kind})")
        current = report.current
        line = Text("Verdict: ")
        line.append(current.verdict, style=VERDICT_STYLES.get(current.verdict, ""))
        line.append(f" — {VERDICT_HELP.get(current.verdict, '')}")
        if report.live and report.config and report.config.verdict != report.live.verdict:
            line.append(f"\nAt next boot: {report.config.verdict}", style="bold")
        self.query_one("#iso-verdict", Static).update(line)
        table = self.query_one(DataTable)
        selected = self.selected_key()
        table.clear()
        for key, cells in path_rows(report):
            table.add_row(*(Text(c) for c in cells), key=key)
        if selected is not None and selected in {k for k, _ in path_rows(report)}:
            table.move_cursor(row=table.get_row_index(selected), animate=False)
        self._show_detail()

    def _failed(self, message: str) -> None:
        self.last_message = message
        self.app.notify(message, markup=False, severity="error", timeout=8)
        self._show_detail()

    def selected_key(self) -> str | None:
        return cursor_key(self.query_one(DataTable))

    def _show_detail(self) -> None:
        """The last outcome (kept until the next change), then what the selected path means."""
        if not self.is_attached:
            return
        key = self.selected_key() or ""
        report = self.report
        text = ""
        if key.startswith("nic:") and report is not None:
            modes = [
                p.mode
                for e in (report.live, report.config)
                if e
                for p in e.nics
                if p.nic.mac == key[4:]
            ]
            text = MODE_HELP.get(modes[0], "") if modes else ""
        elif key.startswith("fs:"):
            text = "A host directory the guest can mount (o toggles read-only, x removes it)."
        elif key.startswith("gfx:"):
            text = "The guest's screen; 'network' means other hosts can connect to it."
        elif key == "agent":
            text = "The host can query and command the guest through its agent."
        lines = [x for x in (self.last_message, text) if x]
        self.query_one("#iso-detail", Static).update("\n".join(lines))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    # ------------------------------------------------------------ changes
    def _apply(
        self,
        title: str,
        body: str,
        call: Callable[[], ChangeResult],
        command: tuple[str, ...],
        confirm: str,
    ) -> None:
        def apply() -> None:
            self.last_message = ""

            def finished(result: ChangeResult) -> None:
                self.last_message = result.sentence
                self.app.notify(result.sentence, markup=False, timeout=6)
                if self.is_attached:
                    self.action_refresh()

            def failed(message: str) -> None:
                self._failed(message)
                if self.is_attached:
                    self.action_refresh()

            services(self).runner.run(
                call,
                done=finished,
                failed=failed,
                what=title.rstrip("?").lower(),
                command=command,
                host=self.uri,
            )

        ConfirmScreen(title, body, confirm=confirm).ask(self.app, apply)

    def _need_report(self) -> IsolationReport | None:
        if self.report is None:
            self.notify("Still reading the guest's configuration…", timeout=2)
        return self.report

    def _selected_path(self, prefix: str, hint: str) -> tuple[IsolationReport, str] | None:
        """The report and the selected row's key without ``prefix`` ("nic:" gives the MAC,
        "fs:" the tag); None after saying ``hint`` when no such row is selected."""
        report = self._need_report()
        key = self.selected_key()
        if report is None or key is None or not key.startswith(prefix):
            self.notify(hint, timeout=3)
            return None
        return report, key.removeprefix(prefix)

    def action_add_nic(self) -> None:
        report = self._need_report()
        if report is None:
            return

        def add(spec: NicSpec) -> None:
            hv = services(self).hypervisor_for(self.uuid)
            mode = (
                self.net_modes.get(spec.source, spec.kind) if spec.kind == "network" else "bridge"
            )
            self._apply(
                f"Add a NIC on {spec.kind} {spec.source} to {report.name}?",
                f"The guest gets a path: {MODE_HELP.get(mode, mode)}. " + when_text(report),
                lambda: attach_nic(hv, self.uuid, spec),
                (
                    "attach-interface",
                    report.name,
                    spec.kind,
                    spec.source,
                    "--mac",
                    spec.mac,
                    "--model",
                    spec.model,
                    *virsh_flags(report),
                ),
                "Add",
            )

        AddNicScreen(report, self.net_modes).ask(self.app, add)

    def action_add_folder(self) -> None:
        report = self._need_report()
        if report is None:
            return

        def check(spec: SharedFolderSpec) -> None:
            services(self).runner.run(
                lambda: check_folder(spec),
                done=lambda found: self._confirm_folder(report, *found),
                failed=self._failed,
                what="check the folder",
            )

        AddFolderScreen(report.name).ask(self.app, check)

    def _confirm_folder(self, report: IsolationReport, spec: SharedFolderSpec, risk: str) -> None:
        hv = services(self).hypervisor_for(self.uuid)
        access = (
            "read-only"
            if spec.readonly
            else "read-write: the guest can change and delete host files"
        )
        live_possible, note = True, ""
        if spec.driver == "9p":
            note = "QEMU cannot add a 9p folder to a running guest"
            live_possible = not report.running or not report.persistent
        body = f"{spec.source} is shared as '{spec.tag}' ({spec.driver}, {access}). " + when_text(
            report, live_possible=live_possible, note=note
        )
        command = ("attach-device", report.name, f"{spec.tag}-fs.xml", *virsh_flags(report))

        def go() -> None:
            self._apply(
                f"Share {spec.source} with {report.name}?",
                body,
                lambda: attach_folder(hv, self.uuid, spec, allow_risky=bool(risk)),
                command,
                "Share",
            )

        if not risk:
            go()
            return

        def risky(yes: bool | None) -> None:
            if yes:
                go()
            else:
                self._failed(f"Not shared: {risk}")

        self.app.push_screen(
            ConfirmScreen(
                "This folder is risky to share",
                f"{risk} Share it anyway?",
                confirm="Share anyway",
            ),
            risky,
        )

    def action_remove(self) -> None:
        report = self._need_report()
        key = self.selected_key()
        if report is None or key is None:
            return
        hv, uuid, flags = services(self).hypervisor_for(self.uuid), self.uuid, virsh_flags(report)
        if key.startswith("nic:"):
            mac = key[4:]
            title = f"Remove NIC {mac} from {report.name}?"
            loses = "this network link"
            words = ("detach-interface", report.name, "network", "--mac", mac, *flags)
            call = partial(detach_nic, hv, uuid, mac)
        elif key.startswith("fs:"):
            tag = key[3:]
            title = f"Stop sharing '{tag}' with {report.name}?"
            loses = "the folder (the host's files stay)"
            words = ("detach-device", report.name, f"{tag}-fs.xml", *flags)
            call = partial(detach_folder, hv, uuid, tag)
        else:
            self.notify(
                "Only NICs and shared folders can be removed here; edit the guest's XML for "
                "devices, displays and channels.",
                timeout=5,
            )
            return
        self._apply(title, f"The guest loses {loses}. " + when_text(report), call, words, "Remove")

    def action_switch_network(self) -> None:
        found = self._selected_path("nic:", "Select a NIC to move to another network.")
        if found is None:
            return
        report, mac = found
        options = [(f"{n} ({self.net_modes.get(n, '?')})", n) for n in report.networks]
        hv = services(self).hypervisor_for(self.uuid)

        def move(network: str) -> None:
            mode = self.net_modes.get(network, "unknown")
            self._apply(
                f"Move NIC {mac} of {report.name} to {network}?",
                f"Its new path: {MODE_HELP.get(mode, mode)}. " + when_text(report),
                lambda: switch_nic_network(hv, self.uuid, mac, network),
                ("update-device", report.name, f"nic-{mac}.xml", *virsh_flags(report)),
                "Move",
            )

        SwitchNetworkScreen(mac, options).ask(self.app, move)

    def action_toggle_readonly(self) -> None:
        found = self._selected_path(
            "fs:", "Select a shared folder to make read-only or read-write."
        )
        if found is None:
            return
        report, tag = found
        folder = next(
            (f for e in (report.config, report.live) if e for f in e.folders if f.tag == tag), None
        )
        if folder is None:
            return
        readonly = not folder.readonly
        hv = services(self).hypervisor_for(self.uuid)
        what = (
            "read-only" if readonly else "read-write (the guest can change and delete host files)"
        )
        self._apply(
            f"Make '{tag}' {'read-only' if readonly else 'read-write'}?",
            f"{folder.source} becomes {what} for {report.name}. "
            + when_text(report, live_possible=False, note="a mounted share cannot change")
            if report.running and report.persistent
            else f"{folder.source} becomes {what} for {report.name}. " + when_text(report),
            lambda: set_folder_readonly(hv, self.uuid, tag, readonly),
            ("update-device", report.name, f"{tag}-fs.xml", *virsh_flags(report)),
            "Change",
        )

    def action_back(self) -> None:
        self.dismiss()
