"""One guest's isolation: every path to the host or a network, its verdict, and changes
(key i on the dashboard and the guest screen).

Each change asks first, saying whether it applies now (the guest runs) and/or at the next
boot (persistent configuration); when the running guest refuses the live part, the change is
kept for the next boot and the result says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

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
    folder_live_refusal,
    random_mac,
    read_isolation,
    set_folder_readonly,
    switch_nic_network,
)
from vmtui.backend.models import NicInfo
from vmtui.backend.networks import list_networks
from vmtui.backend.paths import HostPath
from vmtui.backend.verdict import MODE_HELP
from vmtui.control.services import services
from vmtui.core import format as fmt
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.foldercheck import check_then_dismiss
from vmtui.screens.form import FormScreen
from vmtui.screens.hostview import HostView
from vmtui.widgets.tables import cursor_key

VERDICT_HELP = {
    "host-shared": (
        "a shared folder, host device, disk, socket or file: the guest touches host files, "
        "hardware, memory or processes"
    ),
    "listening": "a port on the host's network leads into the guest",
    "LAN-bridged": "a NIC on a host bridge or macvtap: the guest is on the host's LAN",
    "unknown": "a NIC vmtui cannot classify: it may lead anywhere",
    "routed": "a routed network: the guest is reachable from the host's networks",
    "remote": "the host connects to another machine for the guest (a network disk, a socket)",
    "NAT": "NAT: the guest reaches out through the host; nothing reaches in",
    "host-only": "an isolated network with a host address: the guest reaches the host",
    "guest-only": "isolated networks without IP: the guest reaches only other guests on them",
    "isolated": "no path to the host or a network",
    "sealed": "a throwaway sandbox: no path to the host or a network, gone when it stops",
}
VERDICT_STYLES = {
    "host-shared": "bold red",
    "listening": "bold red",
    "LAN-bridged": "bold yellow",
    "unknown": "yellow",
    "routed": "yellow",
    "remote": "yellow",
    "NAT": "",
    "host-only": "green",
    "guest-only": "bold green",
    "isolated": "bold green",
    "sealed": "bold cyan",
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


def virsh_flags(report: IsolationReport, live: bool = True) -> tuple[str, ...]:
    """The flags of the change's virsh line; ``live=False``: the running guest is not
    changed (a 9p folder: folder_live_refusal), so neither is the line's --live."""
    running = report.running and (live or not report.persistent)
    return (("--config",) if report.persistent else ()) + (("--live",) if running else ())


# ---------------------------------------------------------------- rows
def _nic_to(nic: NicInfo) -> str:
    if nic.kind == "network":
        return f"network {nic.source}"
    if nic.kind in ("bridge", "direct"):
        return f"{nic.kind} {nic.source}"
    if nic.kind == "vhostuser":
        return f"vhost-user {nic.source}" if nic.source else "vhost-user"
    if nic.kind == "hostdev":
        return f"host card {nic.source}" if nic.source else "host card"
    if nic.kind in ("server", "client", "udp", "mcast", "ethernet") and nic.source:
        return f"{nic.kind} {nic.source}"
    return nic.kind


@dataclass(frozen=True)
class PathRow:
    """One row of the view: ``ref`` is what an action needs (a NIC's MAC, a folder's tag);
    ``help`` what the path means."""

    key: str
    cells: tuple[str, ...]
    ref: str = ""
    help: str = ""


T = TypeVar("T")


def _merge(
    live: tuple[T, ...] | None, config: tuple[T, ...] | None, ident: Callable[[T], object]
) -> list[tuple[T, bool, bool, T]]:
    """Live and persistent items paired one to one (never two of one side together):
    (item, in the live XML, in the persistent XML, the persistent one when there is one)."""
    out: list[list[Any]] = [[item, True, False, item] for item in live or ()]
    for item in config or ():
        match = next((o for o in out if o[1] and not o[2] and ident(o[0]) == ident(item)), None)
        if match is not None:
            match[2], match[3] = True, item
        else:
            out.append([item, False, True, item])
    return [(o[0], o[1], o[2], o[3]) for o in out]


def build_rows(report: IsolationReport) -> list[PathRow]:
    """Every path, live and persistent paired (a row per device, never merged: two identical
    USB sticks are two rows); Now/Boot say which configuration has it."""
    live, config = report.live, report.config
    rows: list[PathRow] = []
    used: set[str] = set()

    def key_for(base: str) -> str:
        key, n = base, 2
        while key in used:
            key, n = f"{base}#{n}", n + 1
        used.add(key)
        return key

    def when(exp: Exposure | None, present: bool) -> str:
        return fmt.DASH if exp is None else ("yes" if present else "no")

    nics = _merge(
        live.nics if live else None,
        config.nics if config else None,
        lambda p: p.nic.mac.lower() or (p.nic.kind, p.nic.source),
    )
    for path, now, boot, _saved in nics:
        nic = path.nic
        cells = (f"NIC {nic.mac}", _nic_to(nic), path.mode, when(live, now), when(config, boot))
        rows.append(PathRow(key_for(f"nic:{nic.mac}"), cells, nic.mac, path.explanation))
    others = _merge(
        live.paths if live else None,
        config.paths if config else None,
        _path_ident,
    )
    for hp, now, boot, saved in others:
        if hp.kind == "folder":  # the saved access shows: it is what the next boot gets
            cells = (hp.what, hp.to, saved.mode, when(live, now), when(config, boot))
            help_text = "A host directory the guest can mount (o toggles read-only, x removes it)."
            rows.append(PathRow(key_for(f"fs:{hp.ref}"), cells, hp.ref, help_text))
            continue
        cells = (hp.what, hp.to or fmt.DASH, hp.mode, when(live, now), when(config, boot))
        rows.append(
            PathRow(
                key_for(f"{_KEY_PREFIX.get(hp.kind, hp.kind)}:{len(rows)}"),
                cells,
                hp.ref,
                _path_help(hp),
            )
        )
    return rows


_KEY_PREFIX = {"hostdev": "dev", "graphics": "gfx"}


def _path_ident(p: HostPath) -> object:
    """What pairs a live path with its saved one: a display's live address is filled in
    (the saved one may say "default"), so displays pair by kind."""
    if p.kind in ("graphics", "agent"):
        return (p.kind, p.what)
    return (p.kind, p.what, p.ref, p.to)


def _path_help(hp: HostPath) -> str:
    if hp.kind == "graphics":
        return "The guest's screen; 'network' means other hosts can connect to it."
    if hp.kind == "agent":
        return "The host can query and command the guest through its agent."
    if not hp.verdict:
        return "Private to the guest: not a path to the host."
    return f"{hp.what} → {hp.to}: counts as {hp.verdict} ({VERDICT_HELP.get(hp.verdict, '')})."


def path_rows(report: IsolationReport) -> list[tuple[str, tuple[str, ...]]]:
    """(row key, cells) for every path (see :func:`build_rows`)."""
    return [(r.key, r.cells) for r in build_rows(report)]


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
            self.say("Give the host directory to share.", near="path")
            return
        if not tag:
            self.say("Give a mount tag.", near="tag")
            return
        driver = str(self.query_one("#driver", Select).value)
        readonly = self.query_one("#readonly", Checkbox).value
        # checked here: a problem shows under its field, a missing directory can be made
        check_then_dismiss(self, SharedFolderSpec(path, tag, driver, readonly))


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
        self.rows: dict[str, PathRow] = {}

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
        rows = build_rows(report)
        self.rows = {r.key: r for r in rows}
        for row in rows:
            table.add_row(*(Text(c) for c in row.cells), key=row.key)
        if selected is not None and selected in self.rows:
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
        row = self.rows.get(self.selected_key() or "")
        text = row.help if row is not None else ""
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
        row = self.rows.get(key or "")
        if report is None or key is None or row is None or not key.startswith(prefix):
            self.notify(hint, timeout=3)
            return None
        return report, row.ref

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
        # one rule (backend folder_live_refusal) for this question, the virsh line and the result
        note = folder_live_refusal(spec.driver)
        body = f"{spec.source} is shared as '{spec.tag}' ({spec.driver}, {access}). " + when_text(
            report, live_possible=not note, note=note
        )
        flags = virsh_flags(report, live=not note)
        command = ("attach-device", report.name, f"{spec.tag}-fs.xml", *flags)

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
        row = self.rows.get(key)
        ref = row.ref if row is not None else ""
        if key.startswith("nic:") and ref:
            mac = ref
            title = f"Remove NIC {mac} from {report.name}?"
            loses = "this network link"
            words = ("detach-interface", report.name, "network", "--mac", mac, *flags)
            call = partial(detach_nic, hv, uuid, mac)
        elif key.startswith("fs:") and ref:
            tag = ref
            title = f"Stop sharing '{tag}' with {report.name}?"
            loses = "the folder (the host's files stay)"
            running = report.live.folders if report.live else ()
            driver = next((f.driver for f in running if f.tag == tag), None)
            note = folder_live_refusal(driver) if driver is not None else ""
            if report.live is not None and driver is None:
                note = "the running guest does not have this folder"
            words = ("detach-device", report.name, f"{tag}-fs.xml", *virsh_flags(report, not note))
            call = partial(detach_folder, hv, uuid, tag)
            when = when_text(report, live_possible=not note, note=note)
            self._apply(title, f"The guest loses {loses}. " + when, call, words, "Remove")
            return
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
