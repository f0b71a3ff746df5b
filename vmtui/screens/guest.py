"""One guest: overview (hardware, disks, NICs, shared folders) and graphs with history."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static, TabbedContent, TabPane

from vmtui.backend import GuestHistory, GuestInfo, GuestStats, Series, Snapshot
from vmtui.control.services import services
from vmtui.core import format as fmt
from vmtui.core.safetext import safe_text
from vmtui.screens.base import GuestActionScreen
from vmtui.screens.inside import AgentInfoLoader, addresses_part, agent_line
from vmtui.widgets.chart import Chart
from vmtui.widgets.guest_table import STATE_STYLES
from vmtui.widgets.status_line import StatusLine


def _kv_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    return table


def overview(guest: GuestInfo, stats: GuestStats | None, inside: object = None) -> Group:
    """The overview's content. Every libvirt string goes in as Text: never parsed as markup."""
    hw = _kv_table()
    state = Text(guest.state.label, style=STATE_STYLES.get(guest.state, ""))
    if guest.reason:
        state.append(f" ({guest.reason})", style="dim")
    hw.add_row("State", state)
    if guest.title:
        hw.add_row("Title", Text(guest.title))
    if guest.description:
        hw.add_row("Description", Text(guest.description))
    if guest.tags:
        hw.add_row("Tags", Text(" ".join(guest.tags)))
    hw.add_row("UUID", Text(guest.uuid))
    vcpus = f"{guest.vcpus}" + (
        f" (max {guest.max_vcpus})" if guest.max_vcpus > guest.vcpus else ""
    )
    hw.add_row("vCPUs", vcpus)
    mem = fmt.kib(guest.memory_kib)
    if guest.max_memory_kib > guest.memory_kib:
        mem += f" (max {fmt.kib(guest.max_memory_kib)})"
    hw.add_row("Memory", mem)
    machine = " ".join(x for x in (guest.domain_type, guest.arch, guest.machine) if x)
    hw.add_row("Machine", Text(machine or fmt.DASH))
    if guest.kernel:
        hw.add_row("Kernel", Text(safe_text(guest.kernel)))
    flags = [
        "autostart" if guest.autostart else "no autostart",
        "persistent" if guest.persistent else "transient",
    ]
    if guest.has_managed_save:
        flags.append("saved state")
    if guest.has_snapshots:
        flags.append("has snapshots")
    hw.add_row("Flags", ", ".join(flags))
    hw.add_row("Guest agent", agent_line(guest))  # inside.py: the agent lifecycle state
    if guest.is_active:  # figures not measured yet (or not reported) show as dashes
        hw.add_row(
            "Now",
            f"CPU {fmt.percent(stats.cpu_percent if stats else None)}% of host, "
            f"{fmt.percent(stats.cpu_percent_per_vcpu if stats else None)}% of its vCPUs",
        )

    disks = Table("Disk", "Bus", "Format", "Source", box=None, padding=(0, 1), expand=False)
    for d in guest.disks:
        # paths stay raw in the model (they are what a delete removes): escaped when shown
        src = Text(safe_text(d.source) or "(empty)")
        if d.readonly:
            src.append(" ro", style="yellow")
        for back in d.chain:  # the backing chain (b: the disks screen reads it when off)
            src.append(f" ← {safe_text(back)}", style="dim")
        disks.add_row(Text(f"{d.target} {d.device}"), Text(d.bus), Text(d.format or "?"), src)
    nics = Table("NIC", "Type", "Source", "Model", box=None, padding=(0, 1))
    for n in guest.nics:
        nics.add_row(Text(n.mac), Text(n.kind), Text(safe_text(n.source)), Text(n.model))
    shares = Table("Shared folder", "Tag", "Driver", "Access", box=None, padding=(0, 1))
    for f in guest.shared_folders:
        shares.add_row(
            Text(safe_text(f.source)),
            Text(safe_text(f.tag)),
            Text(f.driver),
            Text(
                "read-only" if f.readonly else "read-write",
                style="" if f.readonly else "bold yellow",
            ),
        )
    parts: list[object] = [hw, Text("")]
    parts.append(disks if guest.disks else Text("No disks.", style="dim"))
    parts.append(Text(""))
    parts.append(nics if guest.nics else Text("No network interfaces.", style="dim"))
    parts += [Text(""), addresses_part(guest)]  # every address per NIC, and its source
    if inside is not None:  # the guest agent's report (inside.AgentInfoLoader)
        parts += [Text(""), inside]
    parts.append(Text(""))
    parts.append(shares if guest.shared_folders else Text("No shared folders.", style="dim"))
    if guest.graphics:
        parts.append(Text(""))
        g = Text("Graphics: ")
        g.append(
            ", ".join(
                f"{x.kind} on {x.listen or 'default'}" + (f":{x.port}" if x.port else "")
                for x in guest.graphics
            )
        )
        parts.append(g)
    parts.append(Text("Serial console: " + ("yes" if guest.has_console else "none"), style="dim"))
    return Group(*parts)  # type: ignore[arg-type]


# Chart windows the guest screen offers (z cycles): the backend keeps ten minutes for every
# guest, the app an hour for the guest being watched (control/longhistory.py).
WINDOWS = (600.0, 1800.0, 3600.0)


class Graph(Chart):
    """One figure's history as a chart: time axis, unit, current value (widgets/chart.py)."""

    def update_series(self, series: Series, interval: float, window: float) -> None:
        count = max(2, int(window / max(interval, 0.001)) + 1)
        self.show(series.values[-count:], interval)


class GuestScreen(GuestActionScreen):
    BINDINGS = [
        Binding("escape,backspace", "back", "Back"),
        Binding("o", "tab('overview')", "Overview", show=False),
        Binding("g", "tab('graphs')", "Graphs", show=False),
        Binding("z", "window", "Window"),  # 10 min → 30 min → 1 h (issue 16: in the footer)
    ]

    def __init__(self, uuid: str) -> None:
        super().__init__()
        self.uuid = uuid
        self._guest: GuestInfo | None = None
        self._shown_overview: object = None
        self._inside = AgentInfoLoader(self, uuid, self._agent_answered)  # OS, users, fs …
        self.window = WINDOWS[0]  # seconds the charts show (z)

    def compose(self) -> ComposeResult:
        yield Static("", id="guest-title", markup=False)
        with TabbedContent(initial="overview"):
            with TabPane("Overview", id="overview"), VerticalScroll():
                yield Static("", id="overview-body")
            with TabPane("Graphs", id="graphs"), VerticalScroll():
                yield Graph("CPU (of its vCPUs)", "percent", id="g-cpu")
                yield Graph("Memory", "kib", id="g-memory")
                yield Graph("Disk read", "rate", id="g-disk_read")
                yield Graph("Disk write", "rate", id="g-disk_write")
                yield Graph("Net receive", "rate", id="g-net_rx")
                yield Graph("Net send", "rate", id="g-net_tx")
        yield StatusLine(id="status")
        # 80 columns hold z (the charts' window) and ? (every key, ^p among them) only without
        # Textual's "^p palette" at the end, as on the dashboard
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        services(self).watch_guest(self.uuid, True)
        if services(self).snapshot is not None:
            self.show_snapshot(services(self).snapshot)

    def on_unmount(self) -> None:
        services(self).watch_guest(self.uuid, False)

    def current_guest(self) -> GuestInfo | None:
        return self._guest

    def show_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is None:
            return
        guest = next((g for g in snapshot.guests if g.uuid == self.uuid), None)
        if guest is None:
            # A guest that is moving is briefly on neither host (the source's poll
            # came first); and only the top screen may dismiss itself (a dialog may be on top).
            if self.uuid in services(self).migrating or not self.is_current:
                return
            name = self._guest.name if self._guest else "This guest"
            where = self._guest.host if self._guest and self._guest.host else snapshot.uri
            self.notify(f"{name} is no longer on {fmt.short_uri(where)}.", markup=False, timeout=5)
            self.dismiss()
            return
        self._guest = guest
        self._inside.update(guest)  # asks the agent when it (re)connects
        stats = snapshot.stats.get(self.uuid)
        title = f"{guest.name} — {guest.state.label}"
        if guest.title:
            title += f" — {guest.title}"
        self.query_one("#guest-title", Static).update(title)
        key = (guest, stats.cpu_percent if stats else None, self._inside.version)
        if key != self._shown_overview:
            self._shown_overview = key
            body = overview(guest, stats, self._inside.part())
            self.query_one("#overview-body", Static).update(body)
        history = services(self).histories.get(self.uuid)
        if history is not None:
            self._show_graphs(history)

    def _agent_answered(self) -> None:
        if self.is_mounted:
            self.show_snapshot(services(self).snapshot)

    def _show_graphs(self, history: GuestHistory) -> None:
        # the hour kept for the watched guest, when it reaches further than the ten minutes
        longer = services(self).long_history(self.uuid)
        if longer is not None and len(longer.cpu.values) > len(history.cpu.values):
            history = longer
        for name in ("cpu", "memory", "disk_read", "disk_write", "net_rx", "net_tx"):
            graph = self.query_one(f"#g-{name}", Graph)
            graph.update_series(getattr(history, name), history.interval, self.window)

    def action_window(self) -> None:
        """z: the charts' window, 10 minutes → 30 minutes → 1 hour (kept while watched)."""
        self.window = WINDOWS[(WINDOWS.index(self.window) + 1) % len(WINDOWS)]
        self.notify(
            f"Charts show the last {fmt.duration(self.window)} (as far as kept since the "
            "guest screen opened).",
            markup=False,
            timeout=3,
        )
        history = services(self).histories.get(self.uuid)
        if history is not None:
            self._show_graphs(history)

    def action_back(self) -> None:
        self.dismiss()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
