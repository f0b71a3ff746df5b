"""The hosts of the session, one row each (dashboard key f): state, guests, what the running
guests commit against the host's capacity, the host's load, and when it last answered.
Sortable like the guest table (o, O, a click on a header); enter narrows the dashboard to
the host under the cursor.

Each host's row is made from what the app already holds (its last poll, its poll loop's
state): nothing here calls libvirt, so a host that hangs cannot hang this screen — its row
says how long it has not answered, on a one-second timer, while the others' rows go on
updating with their polls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from vmtui.backend import Snapshot
from vmtui.control.hosts import HostLink
from vmtui.control.services import services
from vmtui.core import format as fmt
from vmtui.screens.hostdevices import HostDevicesScreen
from vmtui.screens.hostview import HostView
from vmtui.widgets.tables import cursor_key

# (key, header, width): 80 columns with the padding; the commitment in per cent, a hung
# host's wait and the whole status sentence are on the line under the table
HOST_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("host", "Host", 11),
    ("state", "State", 12),
    ("guests", "Guests", 6),
    ("vcpus", "vCPUs", 7),
    ("mem", "Memory", 9),
    ("cpu", "CPU%", 5),
    ("load", "Mem%", 5),
    ("polled", "Answered", 8),
)
SORT_WORDS = {
    "host": "host",
    "state": "state",
    "guests": "running guests",
    "vcpus": "committed vCPUs",
    "mem": "committed memory",
    "cpu": "host CPU",
    "load": "host memory",
    "polled": "last answer",
}
DESCENDING_FIRST = frozenset({"guests", "vcpus", "mem", "cpu", "load", "polled"})
STATE_RANK = {"●": 0, "◌": 1, "⌛": 2, "✖": 3}  # answering first, then ever worse


@dataclass(frozen=True)
class HostFacts:
    """One host's row, from its link (pure data: what is shown and what is sorted)."""

    uri: str
    label: str
    symbol: str
    style: str
    state: str  # a word or two: "up", "lost", "no answer", "connecting"
    sentence: str  # the whole status sentence (the line under the table)
    running: int | None
    total: int | None
    vcpus: int | None
    host_cpus: int
    mem_kib: int | None
    mem_total_kib: int
    cpu: float | None
    mem_pct: float | None
    age: float | None  # seconds since its last poll answered (None: never)

    def texts(self) -> tuple[str, ...]:
        dash = fmt.DASH
        return (
            self.label,
            f"{self.symbol} {self.state}",
            dash if self.total is None else f"{self.running}/{self.total}",
            dash if self.vcpus is None else f"{self.vcpus}/{self.host_cpus}",
            dash
            if self.mem_kib is None
            else f"{fmt.kib(self.mem_kib)}/{fmt.kib(self.mem_total_kib)}",
            fmt.percent(self.cpu),
            fmt.percent(self.mem_pct),
            dash if self.age is None else f"{fmt.duration(self.age)} ago",
        )

    def overcommitted(self) -> tuple[bool, bool]:
        """(vCPUs, memory): the running guests are given more than the host has."""
        vcpus = self.vcpus is not None and self.host_cpus > 0 and self.vcpus > self.host_cpus
        mem = (
            self.mem_kib is not None
            and self.mem_total_kib > 0
            and self.mem_kib > self.mem_total_kib
        )
        return vcpus, mem

    def detail(self) -> str:
        """The line under the table: the status sentence and the commitment in per cent."""
        parts = [self.sentence]
        if self.vcpus is not None:
            parts.append(
                f"running guests: {self.vcpus} vCPUs of {self.host_cpus}"
                f"{_pct(self.vcpus, self.host_cpus)}, memory {fmt.kib(self.mem_kib)} of "
                f"{fmt.kib(self.mem_total_kib)}{_pct(self.mem_kib or 0, self.mem_total_kib)}"
            )
        return " · ".join(parts)

    def key(self, column: str) -> object:
        """What the row sorts by in ``column`` (None: nothing known, sorted last)."""
        if column == "host":
            return self.label.lower()
        if column == "state":
            return STATE_RANK.get(self.symbol, len(STATE_RANK))
        if column == "guests":
            return None if self.running is None else (self.running, self.total)
        if column == "vcpus":
            return _ratio(self.vcpus, self.host_cpus)
        if column == "mem":
            return _ratio(self.mem_kib, self.mem_total_kib)
        if column == "cpu":
            return None if self.cpu is None else round(self.cpu, 1)
        if column == "load":
            return None if self.mem_pct is None else round(self.mem_pct, 1)
        if column == "polled":
            return None if self.age is None else int(self.age)
        return None


def _pct(part: int, whole: int) -> str:
    return f" ({100 * part / whole:.0f} %)" if whole else ""


def _ratio(part: int | None, whole: int) -> float | None:
    if part is None:
        return None
    return round(part / whole, 3) if whole else float(part)


def host_facts(link: HostLink, status: tuple[str, str, str], now: float) -> HostFacts:
    """The row of one host: its status (services.host_status), its last poll, ``now`` on
    the clock its polls are timed with."""
    symbol, sentence, style = status
    snap = link.snapshot
    stats = snap.host if snap is not None else None
    info = link.host_info
    if symbol == "✖":
        state = "lost"
    elif symbol == "⌛":
        state = "no answer"
    elif symbol == "◌":
        state = "connecting"
    else:
        state = "up"
    if link.stale and symbol == "●":  # hung, not yet overdue by the status rule
        state = "slow"
    host_cpus = stats.host_cpus if stats and stats.host_cpus else (info.cpus if info else 0)
    mem_total = stats.mem_total_kib if stats and stats.mem_total_kib else 0
    if not mem_total and info is not None:
        mem_total = info.memory_kib
    mem_pct = (
        100.0 * stats.mem_used_kib / stats.mem_total_kib
        if stats is not None and stats.mem_used_kib is not None and stats.mem_total_kib
        else None
    )
    return HostFacts(
        uri=link.uri,
        label=link.label,
        symbol=symbol,
        style=style,
        state=state,
        sentence=sentence,
        running=(stats.guests_running if stats else snap.running) if snap else None,
        total=(stats.guests_total if stats else len(snap.guests)) if snap else None,
        vcpus=stats.committed_vcpus if stats else None,
        host_cpus=host_cpus,
        mem_kib=stats.committed_mem_kib if stats else None,
        mem_total_kib=mem_total,
        cpu=stats.cpu_percent if stats else None,
        mem_pct=mem_pct,
        age=max(0.0, now - snap.time) if snap is not None else None,
    )


def sort_facts(rows: Sequence[HostFacts], column: str, descending: bool) -> list[HostFacts]:
    """Rows by ``column``, ties and the unknown as in the guest table (guest_sort)."""
    base = sorted(rows, key=lambda r: (r.label.lower(), r.uri))
    present = [(r.key(column), r) for r in base if r.key(column) is not None]
    missing = [r for r in base if r.key(column) is None]
    present.sort(key=lambda pair: pair[0], reverse=descending)  # type: ignore[arg-type,return-value]
    return [r for _, r in present] + missing


class HostListScreen(HostView):
    """Every host of the session, one row each; ``enter`` narrows the dashboard to one."""

    BINDINGS = [
        Binding("escape,f", "back", "Back"),
        Binding("enter", "choose", "Show its guests"),
        Binding("a", "all_hosts", "All hosts"),
        Binding("U", "host_devices", "Host devices"),
        Binding("o", "sort_next", "Sort"),
        Binding("O", "sort_reverse", "Reverse the sort", show=False),
    ]

    def __init__(self, choose: Callable[[str | None], None]) -> None:
        super().__init__()
        self._choose = choose
        self.sort_column = "host"
        self.sort_descending = False
        self.rows: list[HostFacts] = []

    def compose(self) -> ComposeResult:
        yield Static("Hosts", id="hosts-title")
        yield DataTable(id="hosts", cursor_type="row", zebra_stripes=False)
        yield Static("", id="hosts-detail", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.table.focus()
        self.refresh_rows()
        # ages and "no answer for …" move on with time, polls or not (a hung host)
        self.set_interval(1.0, self.refresh_rows)

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#hosts", DataTable)

    def show_snapshot(self, snapshot: Snapshot | None) -> None:
        self.refresh_rows()

    def refresh_rows(self) -> None:
        """Make every host's row again (a handful of rows: cheap) and keep the cursor on
        its host."""
        if not self.is_attached:
            return
        app = services(self)
        facts = []
        for uri, link in app.hosts.items():
            facts.append(host_facts(link, app.host_status(uri), link.hv.clock()))
        self.rows = sort_facts(facts, self.sort_column, self.sort_descending)
        table = self.table
        selected = cursor_key(table)
        table.clear(columns=True)
        for key, header, width in HOST_COLUMNS:
            if key == self.sort_column:
                header = header[: width - 1] if len(header) >= width else header
                header += "▼" if self.sort_descending else "▲"
            table.add_column(header, key=key, width=width)
        for row in self.rows:
            cells = [Text(t) for t in row.texts()]
            cells[1].stylize(row.style)
            vcpus_over, mem_over = row.overcommitted()
            if vcpus_over:
                cells[3].stylize("bold red")
            if mem_over:
                cells[4].stylize("bold red")
            for i in range(2, len(cells)):
                cells[i].justify = "right"
            table.add_row(*cells, key=row.uri)
        uris = [r.uri for r in self.rows]
        if selected in uris:
            table.move_cursor(row=uris.index(selected), animate=False)
        self._show_detail()
        title = f"Hosts: {len(self.rows)} · enter shows a host's guests, a all, o sorts"
        self.query_one("#hosts-title", Static).update(Text(title))

    def selected(self) -> HostFacts | None:
        uri = cursor_key(self.table)
        return next((r for r in self.rows if r.uri == uri), None)

    def _show_detail(self) -> None:
        row = self.selected()
        detail = self.query_one("#hosts-detail", Static)
        detail.update(Text(row.detail() if row is not None else "No host is connected."))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_choose()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        column = event.column_key.value or "host"
        if column == self.sort_column:
            self.action_sort_reverse()
        else:
            self._sort_by(column, column in DESCENDING_FIRST)

    # ------------------------------------------------------------ keys
    def action_back(self) -> None:
        self.app.pop_screen()

    def action_choose(self) -> None:
        row = self.selected()
        if row is None:
            return
        self.app.pop_screen()
        self._choose(row.uri)

    def action_host_devices(self) -> None:
        """U: the selected host's PCI / USB / mediated devices (screens/hostdevices.py)."""
        row = self.selected()
        if row is not None:
            self.app.push_screen(HostDevicesScreen(uri=row.uri, host=row.label))

    def action_all_hosts(self) -> None:
        self.app.pop_screen()
        self._choose(None)

    def action_sort_next(self) -> None:
        keys = [key for key, _, _ in HOST_COLUMNS]
        column = keys[(keys.index(self.sort_column) + 1) % len(keys)]
        self._sort_by(column, column in DESCENDING_FIRST)

    def action_sort_reverse(self) -> None:
        self._sort_by(self.sort_column, not self.sort_descending)

    def _sort_by(self, column: str, descending: bool) -> None:
        self.sort_column, self.sort_descending = column, descending
        way = "biggest first" if descending else "smallest first"
        if column in ("host", "state"):
            way = "Z to A" if descending else "A to Z"
            if column == "state":
                way = "worst first" if descending else "answering first"
        self.notify(f"Hosts sorted by {SORT_WORDS[column]}, {way}.", timeout=2)
        self.refresh_rows()
