"""The dashboard's guest table: updated in place, one cell at a time, only when its text changes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import compress, count, repeat
from operator import attrgetter, is_not
from typing import Any, ClassVar, Self

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._segment_tools import line_crop
from textual._two_way_dict import TwoWayDict
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.geometry import Region, Size, Spacing
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import (
    CellDoesNotExist,
    CellKey,
    ColumnKey,
    CursorType,
    DuplicateKey,
    Row,
    RowKey,
)

from vmtui.backend import GuestInfo, GuestState, GuestStats
from vmtui.core import format as fmt
from vmtui.widgets import guest_sort
from vmtui.widgets.tables import cursor_key

STATE_STYLES = {
    GuestState.RUNNING: "bold green",
    GuestState.BLOCKED: "green",
    GuestState.PAUSED: "yellow",
    GuestState.SHUTDOWN: "yellow",
    GuestState.SHUTOFF: "dim",
    GuestState.CRASHED: "bold red",
    GuestState.PMSUSPENDED: "cyan",
    GuestState.NOSTATE: "dim",
}

# (key, header, width); the name column's width is set from the names and the screen.
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("name", "Name", 0),
    ("state", "State", 9),
    ("vcpus", "vCPU", 4),
    ("cpu", "CPU%", 5),
    ("mem", "Memory", 9),
    ("disk", "Disk r/w", 9),
    ("net", "Net rx/tx", 9),
    ("auto", "Auto", 4),
    ("iso", "Iso", 3),  # isolation verdict, short (ISOLATION_SHORT below)
)
# The isolation verdict (a word) as 3 cells; the full word is on the isolation view (i).
ISOLATION_SHORT = {
    "host-shared": "shr",
    "listening": "lsn",
    "LAN-bridged": "LAN",
    "unknown": "?",
    "routed": "rte",
    "remote": "rem",
    "NAT": "NAT",
    "host-only": "hst",
    "guest-only": "gst",
    "isolated": "iso",
    "sealed": "sld",  # a throwaway sandbox with no path at all (backend/sandbox.py)
    "": "",
}
ISOLATION_STYLES = {
    "shr": "bold red",
    "lsn": "bold red",
    "LAN": "bold yellow",
    "?": "yellow",
    "rte": "yellow",
    "rem": "yellow",
    "NAT": "",
    "hst": "green",
    "gst": "bold green",
    "iso": "bold green",
    "sld": "bold cyan",
}
FIXED_WIDTH = sum(w for _, _, w in COLUMNS)
NAME_MIN, NAME_MAX = 8, 32
# A narrow terminal drops these columns, in this order, before it cuts names below NAME_WANT
# cells (or below the longest name, when that is shorter): names identify guests, the rest
# is on the guest's screen.
NAME_WANT = 16
DROP_ORDER = ("agent", "auto", "ip", "disk", "net", "vcpus")
# The IP and agent columns (before Tags) appear only when a shown guest has an address / an
# agent channel (backend/addresses.py, the agent lifecycle event).
IP_COLUMN = ("ip", "IP", 15)
AGENT_COLUMN = ("agent", "Agt", 3)
AGENT_SHORT = {"connected": "on", "disconnected": "off"}
TAGS_MIN, TAGS_MAX = 4, 14  # the Tags column (last) appears only when a shown guest has tags


LOADING = "…"  # a cell whose value is not known yet (the guest's XML is being read)
_BLANK = Text("")  # every cell of a row not formatted yet (off screen: GuestTable._refill)
_FIRST_ROWS = 60  # rows formatted at once when the table has no size yet


def state_word(guest: GuestInfo) -> str:
    """The State column: "saved" for a shut-off guest whose memory a managed save keeps
    (starting it resumes where it was)."""
    if guest.has_managed_save and not guest.is_active:
        return "saved"
    return guest.state.label


def row_texts(guest: GuestInfo, stats: GuestStats | None) -> tuple[str, ...]:
    """The shown text of every cell of a guest's row (what decides whether a cell changes)."""
    active = guest.is_active
    cpu = fmt.percent(stats.cpu_percent) if active and stats else fmt.DASH
    mem_kib = stats.mem_current_kib if stats and stats.mem_current_kib else guest.memory_kib
    if stats and stats.mem_used_kib is not None and active:
        mem = f"{fmt.kib(stats.mem_used_kib)}/{fmt.kib(mem_kib)}"
    else:
        mem = fmt.kib(mem_kib)
    disk = fmt.pair(stats.disk_read_bps, stats.disk_write_bps) if active and stats else fmt.DASH
    net = fmt.pair(stats.net_rx_bps, stats.net_tx_bps) if active and stats else fmt.DASH
    if not guest.loaded:  # its XML is still being read: "…" is "loading", "–" is "none"  # noqa: RUF003
        return (
            guest.name,
            state_word(guest) + ("" if guest.answering else "?"),
            str(guest.vcpus) if guest.vcpus else LOADING,
            cpu,
            mem if mem_kib else LOADING,
            disk,
            net,
            LOADING,
            LOADING,
        )
    return (
        guest.name,
        state_word(guest) + ("" if guest.answering else "?"),  # "?": its QEMU is silent
        str(guest.vcpus),
        cpu,
        mem,
        disk,
        net,
        "yes" if guest.autostart else "",
        ISOLATION_SHORT.get(guest.isolation, "?"),
    )


def fit_name(name: str, width: int) -> str:
    """A name cut in the middle to fit (``vmtui-te…-look``): prefixes are often shared."""
    if len(name) <= width or width < 5:
        return name
    head = (width - 1) // 2
    tail = width - 1 - head
    return f"{name[:head]}…{name[-tail:]}"


MARK = "▸"  # drawn before a marked guest's name (the row's text itself is unchanged)
MARK_STYLE = "bold magenta"


def _cell(col: str, text: str, guest: GuestInfo, name_width: int = 0, marked: bool = False) -> Text:
    # Text objects are never parsed as markup: a guest named "[red]x" shows as typed.
    if col == "name" and marked:
        return Text(MARK + fit_name(text, max(1, (name_width or len(text) + 1) - 1)), MARK_STYLE)
    if col == "name" and name_width:
        return Text(fit_name(text, name_width))
    if col == "state":
        stale = text.endswith("?")  # the host is lost: the last known state
        return Text(text, style="dim italic" if stale else STATE_STYLES.get(guest.state, ""))
    if col == "iso":
        return Text(text, style=ISOLATION_STYLES.get(text, ""))
    if col == "agent":
        return Text(text, style="green" if text == "on" else "yellow")
    if col in ("vcpus", "cpu", "mem", "disk", "net"):
        return Text(text, justify="right")
    return Text(text)


class _Key(str, RowKey):
    """A row's key: a RowKey that is also its UUID string, so that every dict keyed by it
    (DataTable's rows, cells and row locations; the table's own) hashes and compares it in C,
    with the string's cached hash. RowKey's own ``__hash__`` is Python code: at 5,000 guests
    a re-sort or a `/` filter hashed thousands of them. It equals RowKey(uuid) and the UUID
    string both ways, and its ``value`` is the UUID (a plain str), as a RowKey's."""

    def __init__(self, value: str) -> None:
        self.value = value


_UUID = attrgetter("uuid")
_NAME = attrgetter("name")
_TAGS = attrgetter("tags")
_HAS_AGENT = attrgetter("has_agent")


# a placement of rows (_place_rows): the UUIDs in order, DataTable's rows and cells by key,
# uuid -> key, the keys in order, key -> index, index -> key
_Placed = tuple[
    list[str],
    dict[RowKey, Row],
    dict[RowKey, dict[ColumnKey, Text]],
    dict[str, "_Key"],
    list["_Key"],
    dict["_Key", int],
    dict[int, "_Key"],
]


@dataclass
class _Base:
    """The whole list of guests the table's rows are taken from (a `/` filter shows a part of
    it), and what is derived from it alone: kept across filters and across shows of the same
    guests (a partial snapshot while details load replaces some GuestInfo objects)."""

    guests: tuple[GuestInfo, ...]  # as given to show()
    perm: list[int]  # by name: sorted[i] is guests[perm[i]]
    sorted: list[GuestInfo]  # by name (case-insensitive, then exact, then UUID)
    uuids: list[str]  # of sorted
    by_uuid: dict[str, GuestInfo]
    # of all of them: the longest name and tags, an IP column, an agent column (_summary)
    summary: tuple[int, int, bool, bool] | None = None


def _summary(
    guests: list[GuestInfo], longest_name: int | None = None
) -> tuple[int, int, bool, bool]:
    """The longest name (unless known) and tags of ``guests``, whether one has an address,
    whether one has an agent channel: what the columns depend on (C loops, mostly)."""
    if longest_name is None:
        longest_name = max(map(len, map(_NAME, guests)), default=NAME_MIN)
    tags = list(filter(None, map(_TAGS, guests)))
    return (
        longest_name,
        max(map(len, map(" ".join, tags)), default=0),
        any(g.ip for g in guests if g.addresses is not None),
        any(map(_HAS_AGENT, guests)),
    )


def _name_key(guest: GuestInfo) -> tuple[str, str, str]:
    return (guest.name.lower(), guest.name, guest.uuid)


def _derive_base(guests: tuple[GuestInfo, ...], old: _Base | None) -> _Base:
    """``guests`` by name. When they are ``old``'s guests in the same places with the same
    UUIDs and names (some GuestInfo objects replaced: a partial snapshot, a poll), the order
    by name is ``old``'s: no name is compared, only the replaced guests looked at."""
    if old is not None:
        if guests is old.guests:
            return old
        before = old.guests
        if len(guests) == len(before):
            changed = list(compress(count(), map(is_not, guests, before)))
            if all(
                guests[i].uuid == before[i].uuid and guests[i].name == before[i].name
                for i in changed
            ):
                if not changed:
                    return _Base(guests, old.perm, old.sorted, old.uuids, old.by_uuid, old.summary)
                by_uuid = old.by_uuid.copy()
                by_uuid.update((guests[i].uuid, guests[i]) for i in changed)
                ordered = list(map(guests.__getitem__, old.perm))
                summary = None
                if old.summary is not None:  # the same names: the same longest one
                    summary = _summary(ordered, old.summary[0])
                return _Base(guests, old.perm, ordered, old.uuids, by_uuid, summary)
    keys = list(map(_name_key, guests))
    perm = sorted(range(len(guests)), key=keys.__getitem__)
    ordered = list(map(guests.__getitem__, perm))
    uuids = list(map(_UUID, ordered))
    return _Base(guests, perm, ordered, uuids, dict(zip(uuids, ordered, strict=True)))


def _select(base: _Base, guests: tuple[GuestInfo, ...]) -> list[GuestInfo] | None:
    """``guests`` in ``base``'s order by name, when they are a part of it (the same objects);
    None otherwise."""
    if guests is base.guests:
        return base.sorted
    ids = set(map(id, guests))
    if len(ids) != len(guests):
        return None
    if len(guests) == len(base.sorted) and ids == set(map(id, base.guests)):
        return base.sorted
    chosen = list(compress(base.sorted, map(ids.__contains__, map(id, base.sorted))))
    return chosen if len(chosen) == len(guests) else None


@dataclass(frozen=True)
class _TableState:
    """What every line and cell of one render pass depends on, read once (GuestTable)."""

    widths: tuple[int, ...]  # each column's rendered width, padding included
    width: int
    rich_style: Style
    cursor: Coordinate
    hover: Coordinate
    cursor_type: CursorType
    show_cursor: bool
    fixed_columns: int
    row_labels: bool
    cells: tuple[Any, ...]  # what a cell's look depends on besides its row, column, value


class GuestTable(DataTable[Text]):
    """Rows keyed by guest UUID, sorted by name or any column (set_sort, guest_sort); the
    cursor stays on its guest across updates, re-sorts and filters."""

    DEFAULT_CSS = """
    GuestTable { height: 1fr; }
    """
    # vi keys as in k9s / less, beside the arrows (j and k are bound nowhere else)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        # the first and the last guest (DataTable's home/end scroll sideways, which a table
        # as wide as the screen never needs)
        Binding("home,g", "cursor_first", "First guest", show=False),
        Binding("end,G", "cursor_last", "Last guest", show=False),
    ]

    _batching = False  # inside show(): one refresh for all updated cells, not one per cell
    _in_pass = False  # inside render_lines(): _table_state() is read once
    _pass_state: _TableState | None = None

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._shown: dict[str, tuple[str, ...]] = {}
        self._order: list[str] = []
        self._guests: dict[str, GuestInfo] = {}
        self._name_width = 0
        # Rows are updated only when on screen. Every show() starts a new generation; a row
        # whose _flushed generation is older waits (with _stats, the last stats shown) until
        # it scrolls into view: at 1,000 guests that is ~35 rows formatted a tick, not 1,000.
        self._stats: Mapping[str, GuestStats] = {}
        self._generation = 0
        self._flushed: dict[str, int] = {}  # uuid -> generation its row was last updated at
        # the last guests given to show() (and the whole list they are a part of), and what
        # is derived from them alone
        self._input: tuple[GuestInfo, ...] = ()
        self._whole: tuple[GuestInfo, ...] | None = None
        self._base: _Base | None = None
        self._sorted: list[GuestInfo] = []
        self._sorted_uuids: list[str] = []
        self._longest_name = NAME_MIN
        self._longest_tags = 0
        self.cell_updates = 0  # for tests and benchmarks: how many cells were redrawn
        self._hosts: Mapping[str, str] = {}  # uri -> label; a Host column when 2+ hosts
        self._stale: frozenset[str] = frozenset()  # URIs whose guests are last-known only
        self._columns: tuple[tuple[str, str, int], ...] = COLUMNS
        self._tags_width = 0  # 0: no Tags column
        self._ip_column = False  # a shown guest has an address (IP_COLUMN)
        self._agent_column = False  # a shown guest has an agent channel (AGENT_COLUMN)
        self.marked: set[str] = set()  # UUIDs of marked guests (space), for bulk actions
        # (row key, column key) -> (cell value, render state, lines): see _render_cell
        self._cell_lines: dict[Any, tuple[object, tuple[Any, ...], list[list[Segment]]]] = {}
        self.cells_rendered = 0  # for tests: cells actually rendered (cache misses)
        self._line_strips: dict[tuple[Any, ...], Strip] = {}  # see _render_line
        self._row_versions: dict[RowKey, int] = {}  # bumped by update_cell, per row
        self._header_version = 0  # bumped when a column's label changes (the mark count)
        self.lines_rendered = 0  # for tests: table lines actually rendered (cache misses)
        # The order (guest_sort): by this column, this way; _ordered() caches the result.
        self.sort_column = "name"
        self.sort_descending = False
        self._order_cache: tuple[tuple[Any, ...], list[GuestInfo], list[str]] | None = None
        self._by_uuid: dict[str, GuestInfo] = {}  # the guests of the whole list, by UUID
        self._row_keys: dict[str, _Key] = {}  # uuid -> the key of its row (rows shown now)
        self._ordered_keys: list[_Key] = []  # the keys of the rows shown, in order
        # Every row made so far, shown or not (a `/` filter hides rows; clearing it shows
        # them again without making them anew): its key, its Row, its cells (valid for the
        # columns of now: _refill_columns drops them, with _shown and _flushed)
        self._keys: dict[str, _Key] = {}
        self._row_cache: dict[str, Row] = {}
        self._cells: dict[str, dict[ColumnKey, Text]] = {}
        self._placed: _Placed | None = None  # the biggest placement of rows (_place_rows)
        self._rows_of: list[str] | None = None  # the _sorted_uuids the rows are placed for
        self._column_key_cache: list[ColumnKey] | None = None
        # The guest the cursor follows: the one the user last put it on. While a filter
        # hides it the cursor rests on another row; it comes back when the guest does.
        self._want: str | None = None
        self._placing = False  # the table itself moves the cursor: _want stays

    def _texts(self, guest: GuestInfo, stats: GuestStats | None) -> tuple[str, ...]:
        """The texts of the shown columns (some may have been dropped for a narrow screen)."""
        texts = self._all_texts(guest, stats)
        if len(self._columns) == len(texts):
            return texts
        keys = [key for key, _, _ in self._all_columns()]
        return tuple(texts[keys.index(key)] for key, _, _ in self._columns)

    def _all_texts(self, guest: GuestInfo, stats: GuestStats | None) -> tuple[str, ...]:
        """row_texts plus the multi-host decorations (host column, stale state)."""
        texts = row_texts(guest, stats)
        if guest.host in self._stale:
            texts = (texts[0], texts[1] + "?", *texts[2:])
        if len(self._hosts) > 1:
            texts = (texts[0], self._hosts.get(guest.host, "?"), *texts[1:])
        if self._ip_column:
            texts = (*texts, guest.ip)
        if self._agent_column:
            texts = (*texts, AGENT_SHORT.get(guest.agent_state, "") if guest.has_agent else "")
        if self._tags_width:
            texts = (*texts, " ".join(guest.tags))
        return texts

    def _wanted_columns(self, longest_name: int = NAME_WANT) -> tuple[tuple[str, str, int], ...]:
        """The columns that fit: low-value ones go first on a narrow screen (DROP_ORDER)."""
        columns = self._all_columns()
        if not self.size.width:
            return columns
        want = max(NAME_MIN, min(NAME_WANT, longest_name))
        for key in DROP_ORDER:
            fixed = sum(w for _, _, w in columns) + 2 * len(columns) + 2
            if self.size.width - fixed >= want:
                break
            columns = tuple(c for c in columns if c[0] != key)
        return columns

    def _all_columns(self) -> tuple[tuple[str, str, int], ...]:
        columns = COLUMNS
        if len(self._hosts) > 1:
            width = min(12, max(4, *(len(label) for label in self._hosts.values())))
            columns = (COLUMNS[0], ("host", "Host", width), *COLUMNS[1:])
        if self._ip_column:
            columns = (*columns, IP_COLUMN)
        if self._agent_column:
            columns = (*columns, AGENT_COLUMN)
        if self._tags_width:
            columns = (*columns, ("tags", "Tags", self._tags_width))
        return columns

    @property
    def selected_uuid(self) -> str | None:
        return cursor_key(self)

    @property
    def shown_uuids(self) -> list[str]:
        return list(self._order)

    def _wanted_name_width(self, longest: int, columns: tuple[tuple[str, str, int], ...]) -> int:
        fixed = sum(w for _, _, w in columns) + 2 * len(columns) + 2
        room = self.size.width - fixed if self.size.width else 0
        width = min(max(longest, NAME_MIN), NAME_MAX)
        return max(NAME_MIN, min(width, room)) if room > 0 else width

    def show(
        self,
        guests: Iterable[GuestInfo],
        stats: Mapping[str, GuestStats],
        hosts: Mapping[str, str] | None = None,
        stale: frozenset[str] = frozenset(),
        whole: Iterable[GuestInfo] | None = None,
    ) -> None:
        """Make the table show exactly these guests (in the sort order: by name unless
        set_sort() chose another column) with these stats.

        ``hosts`` maps each connected URI to its label (a Host column appears for 2+ hosts);
        guests of the ``stale`` URIs show their last known state with a "?". ``whole`` is the
        list ``guests`` were taken from, when they are a part of one (a `/` filter of a
        snapshot's guests): what is derived from it (the order by name, the rows) is kept
        across filters, and a filter shows a part of it."""
        guests = guests if isinstance(guests, tuple) else tuple(guests)
        if whole is not None and not isinstance(whole, tuple):
            whole = tuple(whole)
        if guests is not self._input or whole is not self._whole:
            self._take(guests, whole)
        self._hosts = dict(hosts or {})
        self._stale = stale
        _ordered, order = self._ordered(stats)
        longest = self._longest_tags
        self._tags_width = 0
        if longest:
            # as wide as the tags, but not wider than what the screen has left (80 columns)
            others = self._all_columns()
            fixed = sum(w for _, _, w in others) + NAME_MIN + 2 * (len(others) + 1) + 2
            room = self.size.width - fixed if self.size.width else TAGS_MAX
            self._tags_width = max(TAGS_MIN, min(TAGS_MAX, longest, room))
        columns = self._wanted_columns(self._longest_name)
        name_width = self._wanted_name_width(self._longest_name, columns)
        self._guests = self._by_uuid  # each guest's latest GuestInfo
        if columns != self._columns or not self._name_width:
            self._columns = columns
            self._set_rows(order, name_width)
        elif name_width != self._name_width:
            self._set_name_width(name_width)  # a filter with longer or shorter names
        if order != self._order:
            # (the order of the same guests by another column: the same rows, no set made)
            if self._rows_of is self._sorted_uuids or self._same_rows(order):
                self._reorder(order)  # the same rows in another order: a re-sort
            else:
                self._set_rows(order, None)  # other rows: a `/` filter, guests added or gone
        self._rows_of = self._sorted_uuids
        # Only rows on screen are formatted and updated now; the others are pending until
        # they scroll into view (at 1,000 guests that is ~35 rows a tick, not 1,000).
        self._stats = stats
        self._generation += 1
        self._flush(*self._visible_rows())

    def _take(self, guests: tuple[GuestInfo, ...], whole: tuple[GuestInfo, ...] | None) -> None:
        """Derive what the table shows from the guests alone: them by name (a part of the
        whole list's order when they are a part of it), the longest name and tags, whether
        an IP or agent column is wanted."""
        base = self._base
        chosen: list[GuestInfo] | None = None
        if whole is None and base is not None and len(guests) < len(base.guests):
            chosen = _select(base, guests)  # a part of the last whole list: a filter
        if chosen is None:
            base = _derive_base(whole if whole is not None else guests, base)
            chosen = _select(base, guests) if whole is not None else base.sorted
            if chosen is None:  # not a part of ``whole`` after all: on their own
                base = _derive_base(guests, base)
                chosen = base.sorted
            if self._base is None or base.uuids is not self._base.uuids:
                self._prune(base)
            self._base = base
        assert base is not None
        self._input, self._whole = guests, whole
        self._sorted = chosen
        self._sorted_uuids = base.uuids if chosen is base.sorted else list(map(_UUID, chosen))
        self._by_uuid = base.by_uuid
        if chosen is base.sorted:
            if base.summary is None:
                base.summary = _summary(chosen)
            summary = base.summary
        else:
            summary = _summary(chosen)
        (self._longest_name, self._longest_tags, self._ip_column, self._agent_column) = summary

    def _prune(self, base: _Base) -> None:
        """Forget the rows made for guests that are gone (neither in ``base`` nor shown)."""
        if len(self._keys) <= len(base.by_uuid):
            return
        keep = base.by_uuid.keys() | self._row_keys.keys()
        self._keys = {u: k for u, k in self._keys.items() if u in keep}
        self._row_cache = {u: r for u, r in self._row_cache.items() if u in keep}
        self._cells = {u: c for u, c in self._cells.items() if u in keep}
        self._shown = {u: t for u, t in self._shown.items() if u in keep}
        self._flushed = {u: g for u, g in self._flushed.items() if u in keep}
        self._placed = None

    # ---------------------------------------------------------------- order
    def _ordered(self, stats: Mapping[str, GuestStats]) -> tuple[list[GuestInfo], list[str]]:
        """The guests of the last show() in the table's order, and their UUIDs. Sorted again
        only when what the order depends on changed: the guests, the sort, and for a sort by
        a figure (CPU, memory, I/O) the tick's stats."""
        column, descending = self.sort_column, self.sort_descending
        if column == "name" and not descending:
            return self._sorted, self._sorted_uuids
        live = guest_sort.depends_on_stats(column)
        labels = tuple(self._hosts.items()) if column == "host" else ()
        basis = stats if live else None
        cached = self._order_cache
        if (
            cached is not None
            and cached[0][0] is self._sorted
            and cached[0][1] is basis
            and cached[0][2:] == (column, descending, labels)
        ):
            return cached[1], cached[2]
        ordered = guest_sort.order(
            self._sorted, column, descending, stats, self._hosts, self._sort_fallback(column, stats)
        )
        uuids = list(map(_UUID, ordered))
        self._order_cache = ((self._sorted, basis, column, descending, labels), ordered, uuids)
        return ordered, uuids

    def _sort_fallback(
        self, column: str, stats: Mapping[str, GuestStats]
    ) -> Callable[[GuestInfo], str] | None:
        """For a column guest_sort does not know: its shown text."""
        if column in guest_sort.SORT_NAMES:
            return None
        keys = [key for key, _, _ in self._all_columns()]
        if column not in keys:
            return None
        index = keys.index(column)
        return lambda g: self._all_texts(g, stats.get(g.uuid))[index]

    def set_sort(self, column: str, descending: bool | None = None) -> None:
        """Sort by ``column``, descending or not (None: the column's usual way, figures
        biggest first); the rows are re-sorted at once and the cursor stays on its guest."""
        if descending is None:
            descending = column in guest_sort.DESCENDING_FIRST
        if (column, descending) == (self.sort_column, self.sort_descending):
            return
        self.sort_column, self.sort_descending = column, descending
        self._order_cache = None
        self._update_headers()
        if self._order:
            self.show(self._input, self._stats, self._hosts, self._stale, self._whole)

    def _same_rows(self, order: list[str]) -> bool:
        """``order`` holds exactly the guests that have rows now (in any order)."""
        return len(order) == len(self._order) and self._row_keys.keys() == set(order)

    def _cursor_target(self) -> str | None:
        """The guest the cursor should be on after the rows change."""
        want = self._want
        return want if want is not None and want in self._row_keys else self.selected_uuid

    def _place_cursor(self, row: int) -> None:
        """Move the cursor for the table's own reasons (the user's guest stays _want)."""
        placing, self._placing = self._placing, True
        try:
            self.move_cursor(row=row, animate=False)
        finally:
            self._placing = placing

    def _reorder(self, order: list[str]) -> None:
        """The same rows in another order (a re-sort): only their places change, no cell is
        formatted again, and the cursor stays on its guest. DataTable.sort() does the same
        with a key over every cell's value."""
        target = self._cursor_target()
        self._place_rows(order, same=True)
        if target is not None:
            row = self._row_locations.get(self._row_keys[target])
            if row is not None:
                self._place_cursor(row)

    def follow_cursor(self) -> None:
        """From now on the cursor follows the guest it is on (the user chose it)."""
        self._want = self.selected_uuid

    def follow_guest(self, uuid: str) -> None:
        """From now on the cursor follows this guest: now, or when its row comes (a guest
        just created shows at the next poll)."""
        self._want = uuid
        if uuid in self._row_keys:
            self._place_cursor(self.get_row_index(uuid))

    def watch_cursor_coordinate(
        self, old_coordinate: Coordinate, new_coordinate: Coordinate
    ) -> None:
        super().watch_cursor_coordinate(old_coordinate, new_coordinate)
        if not self._placing:  # the user moved it: this is the guest to follow
            self._want = self.selected_uuid

    def action_cursor_first(self) -> None:
        if self.row_count:
            self.move_cursor(row=0, animate=False)

    def action_cursor_last(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)

    def _is_pending(self, uuid: str) -> bool:
        """The row has not been updated since the last show() (it was off screen)."""
        return self._flushed.get(uuid) != self._generation

    def _visible_rows(self) -> tuple[int, int]:
        top = max(0, int(self.scroll_y))
        height = self.size.height
        return top, top + (height + 1 if height else _FIRST_ROWS)

    def _flush(self, first: int, last: int) -> None:
        before = self.cell_updates
        self._batching = True
        generation = self._generation
        flushed, guests, stats = self._flushed, self._guests, self._stats
        try:
            for uuid in self._order[first:last]:
                if flushed.get(uuid) != generation:
                    guest = guests.get(uuid)
                    if guest is None:  # pragma: no cover - _order and _guests change together
                        continue
                    self._update_row(guest, stats.get(uuid))
                    flushed[uuid] = generation
        finally:
            self._batching = False
        if self.cell_updates != before:
            self.refresh()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._flush(*self._visible_rows())

    def on_resize(self) -> None:
        self._flush(*self._visible_rows())

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        # update_cell() refreshes the whole table on every call: 3,000 cells a tick at 1,000
        # guests made that most of a tick's cost. show() refreshes once at the end instead.
        if self._batching and not (regions or layout or recompose):
            return self
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def _set_rows(self, order: list[str], name_width: int | None) -> None:
        """Show exactly the rows of ``order``, with new columns first when ``name_width`` is
        given. The cursor goes to the guest it follows, else stays on the one it is on (on
        the same line of the screen), else keeps its row."""
        targets = (self._want, self.selected_uuid)
        cursor_row = self.cursor_row
        line = cursor_row - int(self.scroll_y)  # the cursor's line on screen
        self._placing = True
        try:
            if name_width is not None:
                self._refill_columns(name_width)
            self._place_rows(order, same=False)
            target = next((u for u in targets if u is not None and u in self._row_keys), None)
            if target is not None:
                row = self._row_locations.get(self._row_keys[target]) or 0
                self.move_cursor(row=row, animate=False)
                if 0 <= line < self.size.height:
                    # the guest's row goes back to its line (once the rows have their size)
                    self.call_after_refresh(self._keep_line, target, line)
            elif self.row_count:
                self.move_cursor(row=min(cursor_row, self.row_count - 1), animate=False)
                if targets[1] is not None:  # its guest is gone: another one is under it
                    self._highlight_row(self.cursor_row)
        finally:
            self._placing = False

    def _keep_line(self, uuid: str, line: int) -> None:
        """Scroll so that the cursor, still on this guest, is on this line of the screen."""
        key = self._row_keys.get(uuid)
        row = self._row_locations.get(key) if key is not None else None
        if row is None or row != self.cursor_row:
            return
        self.scroll_to(y=max(0, row - line), animate=False, immediate=True)

    def _set_name_width(self, name_width: int) -> None:
        """The name column this wide; every row's name cell to be made again (a row made for
        the old width is pending: _flush makes all its cells again when it is on screen)."""
        self._name_width = name_width
        column = self.columns.get(ColumnKey("name"))
        if column is not None:
            column.width = name_width
            header = next((h for k, h, _ in self._columns if k == "name"), "Name")
            column.label = Text(self._header("name", header, name_width))
            self._header_version += 1
        self._shown = {}
        self._flushed = {}
        self._update_count += 1
        self._update_dimensions(())
        self.refresh()

    def _refill_columns(self, name_width: int) -> None:
        """New columns (_columns, this name width): no row, and every row's cells to be
        made again (rows are kept: _place_rows takes them back with blank cells)."""
        # clear() scrolls to the top, and a scroll flushes the rows of _order: none now
        self._order = []
        self._ordered_keys = []
        self._row_keys = {}
        self._placed = None
        self.rows, self._data = {}, {}  # (clear() would empty them one entry at a time)
        self.clear(columns=True)
        self._name_width = name_width
        for key, header, width in self._columns:
            label = self._header(key, header, width or name_width)
            self.add_column(label, key=key, width=width or name_width)
        self._cells = {}
        self._shown = {}
        self._flushed = {}
        self._column_key_cache = None

    def _make_rows(self, order: list[str]) -> _Placed:
        """DataTable's rows, cells and row locations for exactly ``order``: rows made before
        are taken as they are; a guest's row is made once, with blank cells until it is on
        screen (_flush). Dicts made in C loops, keys hashed in C (_Key)."""
        keys, rows, cells = self._keys, self._row_cache, self._cells
        ordered_keys = list(map(keys.get, order))
        values = list(map(cells.get, order))
        if None in ordered_keys or None in values:
            # a row of blank cells is a copy of one dict: no ColumnKey hashed again
            template = dict.fromkeys([column.key for column in self.ordered_columns], _BLANK)
            for uuid in order:
                if uuid not in keys:
                    key = keys[uuid] = _Key(uuid)
                    rows[uuid] = Row(key, 1, None, False)
                if uuid not in cells:
                    cells[uuid] = template.copy()
            ordered_keys = list(map(keys.get, order))
            values = list(map(cells.get, order))
        known: list[_Key] = ordered_keys  # type: ignore[assignment]  # no None left
        table_rows: dict[RowKey, Row] = dict(zip(known, map(rows.__getitem__, order), strict=True))
        if len(table_rows) != len(order):
            raise DuplicateKey("A guest is listed twice.")
        data: dict[RowKey, dict[ColumnKey, Text]] = dict(zip(known, values, strict=True))  # type: ignore[arg-type]
        return (
            order,
            table_rows,
            data,
            dict(zip(order, known, strict=True)),
            known,
            dict(zip(known, range(len(order)), strict=True)),
            dict(enumerate(known)),
        )

    def _place_rows(self, order: list[str], same: bool) -> None:
        """Make the table's rows exactly ``order``, in this order: DataTable's rows, cells and
        row locations set at once (Textual 8.2.8's add_row, clear and sort, for all rows at
        once; every row is one line high, without a label). ``same``: the rows are the ones
        shown now (a re-sort). The biggest placement is kept: clearing a `/` filter shows
        the whole list again as it was placed, with no dict made."""
        was_empty = not self.row_count
        if same:
            ordered_keys = list(map(self._row_keys.__getitem__, order))
            forward = dict(zip(ordered_keys, range(len(order)), strict=True))
            reverse = dict(enumerate(ordered_keys))
        else:
            placed = self._placed
            if placed is None or placed[0] != order:
                placed = self._make_rows(order)
                if self._placed is None or len(order) >= len(self._placed[0]):
                    self._placed = placed
            _, self.rows, self._data, self._row_keys, ordered_keys, forward, reverse = placed
        locations: TwoWayDict[RowKey, int] = TwoWayDict({})
        locations._forward = forward  # type: ignore[assignment]
        locations._reverse = reverse  # type: ignore[assignment]
        self._row_locations = locations
        self._ordered_keys = ordered_keys
        self._order = order
        self._update_count += 1  # DataTable's caches of the row order and row renderables
        if not same:
            self._new_rows.clear()
            self._update_dimensions(())  # the virtual size, now (every row is one line)
            self.cursor_coordinate = self.cursor_coordinate  # still within the rows
            if was_empty and order and self.show_cursor and self.cursor_type != "none":
                self._highlight_cursor()
        self.refresh()

    def _update_row(self, guest: GuestInfo, stats: GuestStats | None) -> None:
        texts = self._texts(guest, stats)
        old = self._shown.get(guest.uuid)
        if old == texts:
            return
        self._shown[guest.uuid] = texts
        key = self._row_keys.get(guest.uuid)
        cells = self._data.get(key) if key is not None else None
        if key is None or cells is None:  # pragma: no cover - only shown rows are updated
            return
        # update_cell() for each changed cell, the row's version bumped once
        marked = guest.uuid in self.marked
        changed = 0
        for (col, _, _), column_key, text, before in zip(
            self._columns, self._column_keys(), texts, old or repeat(None), strict=False
        ):
            if text != before:
                cells[column_key] = _cell(col, text, guest, self._name_width, marked)
                changed += 1
        self.cell_updates += changed
        self._row_versions[key] = self._row_versions.get(key, 0) + 1
        row_index = self._row_locations.get(key)
        if row_index is not None:
            self._row_renderable_cache.discard((self._update_count, row_index))
        self.refresh()

    def _column_keys(self) -> list[ColumnKey]:
        """The ColumnKey objects of the shown columns, in order (the cells' dict keys)."""
        keys = self._column_key_cache
        if keys is None or len(keys) != len(self._columns):
            keys = self._column_key_cache = [column.key for column in self.ordered_columns]
        return keys

    def column_title(self, key: str) -> str:
        """A column's header as words ("IP" for "ip"); the key when there is no such column."""
        return next((header for k, header, _ in self._all_columns() if k == key), key)

    @property
    def column_keys(self) -> list[str]:
        return [key for key, _, _ in self._columns]

    def shown_cell(self, uuid: str, column: str) -> str | None:
        """The text one cell of a guest's row shows (None if the row or column is absent)."""
        texts = self.shown_text(uuid)
        if texts is None or column not in self.column_keys:
            return None
        return texts[self.column_keys.index(column)]

    def shown_text(self, uuid: str) -> tuple[str, ...] | None:
        """The text a guest's row shows (or will show as soon as it scrolls into view)."""
        if uuid not in self._row_keys:
            return None
        if self._is_pending(uuid):
            return self._texts(self._guests[uuid], self._stats.get(uuid))
        return self._shown.get(uuid)

    # ---------------------------------------------------------------- marks
    def _name_header(self) -> str:
        # how many are marked, filtered out or not: "Name ▸3"
        return f"Name {MARK}{len(self.marked)}" if self.marked else "Name"

    def _header(self, key: str, header: str, width: int) -> str:
        """A column's label: the mark count on Name, an arrow on the sorted column (none
        for the usual order, by name A-Z), cut to leave room for the arrow."""
        if key == "name" and self.marked:
            header = self._name_header()
        if key != self.sort_column or (key == "name" and not self.sort_descending):
            return header
        if len(header) + 1 > width:
            header = header[: max(0, width - 1)]
        return header + ("▼" if self.sort_descending else "▲")

    def _update_headers(self) -> None:
        changed = False
        for key, header, width in self._columns:
            column = self.columns.get(ColumnKey(key))
            label = self._header(key, header, width or self._name_width)
            if column is not None and column.label.plain != label:
                column.label = Text(label)
                changed = True
        if changed:
            self._header_version += 1
            self.refresh()

    def update_name_header(self) -> None:
        self._update_headers()

    def set_marked(self, uuid: str, marked: bool) -> None:
        """Mark or unmark a guest's row (drawn with a ▸ before its name)."""
        if marked:
            self.marked.add(uuid)
        else:
            self.marked.discard(uuid)
        self.update_name_header()
        guest = self._guests.get(uuid)
        key = self._row_keys.get(uuid)
        if guest is None or key is None or uuid not in self._shown:
            # a row hidden by a filter keeps its cells: they are made again when it shows
            self._shown.pop(uuid, None)
            return
        name = self._shown[uuid][0]
        self.update_cell(key, "name", _cell("name", name, guest, self._name_width, marked))

    def toggle_mark(self, uuid: str) -> bool:
        """Flip a guest's mark; returns whether it is marked now."""
        marked = uuid not in self.marked
        self.set_marked(uuid, marked)
        return marked

    def clear_marks(self) -> None:
        for uuid in list(self.marked):
            self.set_marked(uuid, False)

    # ---------------------------------------------------------------- rendering
    # Textual 8.2.8's DataTable keys its cell cache on a table-wide counter that every
    # update_cell() bumps, so after one changed cell it renders every visible cell again, each
    # through rich's Styled(Padding(Text)) pipeline (~35 rows x 9-12 cells a tick). Here a cell
    # is cached by its own value (update_cell stores a new Text) and render state, and a
    # one-line Text without spans is turned into segments directly. The same segments as
    # Textual's path: tests/ui/test_guest_table_render.py compares the two cell by cell.
    _CELL_CACHE_MAX = 4096

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        if column_index < 0:  # row labels: not used here
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        column_key = self._column_locations.get_key(column_index)
        row_key = (
            self._header_row_key if row_index == -1 else self._row_locations.get_key(row_index)
        )
        if column_key is None or row_key is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        if row_index == -1:
            value: object = self.columns[column_key].label
            height = self.header_height
        else:
            value = self._data[row_key][column_key]
            height = self.rows[row_key].height
        state = (
            row_index,
            column_index,
            base_style,
            width,
            cursor,
            hover,
            height,
            self._table_state().cells,
        )
        key = (row_key, column_key)
        hit = self._cell_lines.get(key)
        if hit is not None and hit[0] is value and hit[1] == state:
            return hit[2]
        args = (row_index, column_index, base_style, width, cursor, hover)
        lines = None
        if height == 1 and isinstance(value, Text):
            lines = self._text_cell(value, *args)
        if lines is None:
            # DataTable's own cell cache is keyed by _update_count, which update_cell() no
            # longer bumps: drop this cell's entry so that the new value is rendered
            self._cell_render_cache.discard(
                (
                    row_key,
                    column_key,
                    base_style,
                    cursor,
                    hover,
                    self._show_hover_cursor,
                    self._update_count,
                    self._pseudo_class_state,
                )
            )
            lines = super()._render_cell(*args)
        if len(self._cell_lines) >= self._CELL_CACHE_MAX:
            self._cell_lines.clear()
        self._cell_lines[key] = (value, state, lines)
        self.cells_rendered += 1
        return lines

    def _text_cell(
        self,
        text: Text,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool,
        hover: bool,
    ) -> list[list[Segment]] | None:
        """One line of a Text without spans that fits its cell, as rich would render it inside
        DataTable's Styled(Padding(text, (0, pad)), pre_style, post_style); None otherwise."""
        plain = text.plain
        pad = self.cell_padding
        inner = width - 2 * pad
        if text.spans or text.justify not in (None, "default", "right") or inner < 0:
            return None
        if not plain.isprintable():  # tabs, newlines, control characters: rich's way
            return None
        length = cell_len(plain)
        if length > inner:  # cropped: rich's way
            return None
        is_header = row_index == -1
        is_fixed = not is_header and (
            row_index < self.fixed_rows or column_index < self.fixed_columns
        )
        component, post = self._get_styles_to_render_cell(
            is_header,
            False,
            is_fixed,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        pre = base_style + Style.from_meta({"row": row_index, "column": column_index}) + component
        style = pre + self.app.console.get_style(text.style, default=Style.null())
        edge_style = pre
        if post:
            style = style + post if style else post
            edge_style = edge_style + post if edge_style else post
        if text.justify == "right":
            body = [Segment(" " * (inner - length) + plain, style)]
        else:
            body = [Segment(plain, style), Segment(" " * (inner - length), edge_style)]
        if not pad:
            return [body]
        edge = Segment(" " * pad, edge_style)
        return [[edge, *body, edge]]

    def update_cell(
        self,
        row_key: RowKey | str,
        column_key: ColumnKey | str,
        value: Text,
        *,
        update_width: bool = False,
    ) -> None:
        """DataTable.update_cell, without bumping the table-wide ``_update_count``: that count
        keys all of DataTable's caches (row order, line offsets: O(rows) to rebuild), so one
        bump made every visible cell render again. Here the row's own version is bumped; the
        caches that hold this row's cells are keyed by it (_render_line), by the cell's value
        (_render_cell), or have the row's entry dropped (DataTable's row renderables)."""
        if type(row_key) is str:  # (a _Key is a str too, and a RowKey already)
            row_key = RowKey(row_key)
        if isinstance(column_key, str):
            column_key = ColumnKey(column_key)
        assert isinstance(row_key, RowKey)
        if row_key not in self._row_locations or column_key not in self._column_locations:
            raise CellDoesNotExist(
                f"No cell exists for row_key={row_key!r}, column_key={column_key!r}."
            )
        self._data[row_key][column_key] = value
        self._row_versions[row_key] = self._row_versions.get(row_key, 0) + 1
        row_index = self._row_locations.get(row_key)
        if row_index is not None:
            self._row_renderable_cache.discard((self._update_count, row_index))
        if update_width:
            self._updated_cells.add(CellKey(row_key, column_key))
            self._require_update_dimensions = True
        self.refresh()

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        """DataTable._render_line with a cache keyed by the row's own version (update_cell)
        and the table-wide count (rows or columns added, a sort, a resize)."""
        try:
            row_key, y_in_row = self._get_offsets(y)
        except LookupError:
            return super()._render_line(y, x1, x2, base_style)
        if row_key is self._header_row_key:
            row_index = -1
            version = self._header_version
        else:
            found = self._row_locations.get(row_key)
            row_index = -1 if found is None else found
            version = self._row_versions.get(row_key, 0)
        state = self._table_state()
        cursor = state.cursor
        hover = state.hover
        cursor_type = state.cursor_type
        if cursor_type == "row":  # what of the cursor and hover this row's look depends on
            cursor_part: object = cursor.row == row_index
            hover_part: object = hover.row == (row_index or 0)
        else:
            cursor_part, hover_part = cursor, hover
        widths = state.widths
        width = state.width
        show_cursor = state.show_cursor
        key = (
            row_key,
            y_in_row,
            row_index,
            version,
            self._update_count,
            x1,
            x2,
            width,
            cursor_part,
            hover_part,
            base_style,
            cursor_type,
            show_cursor,
            state.cells,
            state.row_labels,
            widths,
        )
        strip = self._line_strips.get(key)
        if strip is not None:
            return strip
        if cursor_type == "row" and not state.fixed_columns and not state.row_labels:
            line = self._row_cells(row_key, row_index, y_in_row, base_style, state)
            segments = line_crop([seg for cell in line for seg in cell], x1, x2, width)
            strip = Strip(segments).adjust_cell_length(width, base_style).simplify()
        else:
            strip = self._textual_line(row_key, y_in_row, x1, x2, base_style, state)
        if len(self._line_strips) >= self._LINE_CACHE_MAX:
            self._line_strips.clear()
        self._line_strips[key] = strip
        self.lines_rendered += 1
        return strip

    def _textual_line(
        self,
        row_key: RowKey,
        y_in_row: int,
        x1: int,
        x2: int,
        base_style: Style,
        state: _TableState,
    ) -> Strip:
        cursor, hover, width = state.cursor, state.hover, state.width
        # the rest as DataTable._render_line (Textual 8.2.8); its row cache is keyed by
        # _update_count, which update_cell() no longer bumps: drop this row's entry first
        self._row_render_cache.discard(
            (
                row_key,
                y_in_row,
                base_style,
                cursor,
                hover,
                state.cursor_type,
                state.show_cursor,
                self._show_hover_cursor,
                self._update_count,
                self._pseudo_class_state,
            )
        )
        fixed, scrollable = self._render_line_in_row(
            row_key, y_in_row, base_style, cursor_location=cursor, hover_location=hover
        )
        fixed_width = sum(state.widths[: state.fixed_columns])
        fixed_line: list[Segment] = [seg for cell in fixed for seg in cell] if fixed else []
        scrollable_line: list[Segment] = [seg for cell in scrollable for seg in cell]
        segments = fixed_line + line_crop(scrollable_line, x1 + fixed_width, x2, width)
        return Strip(segments).adjust_cell_length(width, base_style).simplify()

    _LINE_CACHE_MAX = 1024

    def render_lines(self, crop: Region) -> list[Strip]:
        # one render pass: reactive and CSS values are read once (_table_state), not per line
        # and per cell (they were a third of a line's cost)
        self._in_pass = True
        self._pass_state = None
        try:
            return super().render_lines(crop)
        finally:
            self._in_pass = False
            self._pass_state = None

    def _table_state(self) -> _TableState:
        state = self._pass_state
        if state is None:
            columns = self.ordered_columns
            state = _TableState(
                widths=tuple(column.get_render_width(self) for column in columns),
                width=self.size.width,
                rich_style=self.rich_style,
                cursor=self.cursor_coordinate,
                hover=self.hover_coordinate,
                cursor_type=self.cursor_type,
                show_cursor=self.show_cursor,
                fixed_columns=self.fixed_columns,
                row_labels=self._labelled_row_exists and self.show_row_labels,
                cells=(
                    self._show_hover_cursor,
                    self.show_cursor,
                    self._pseudo_class_state,
                    self.cursor_foreground_priority,
                    self.cursor_background_priority,
                    self.cell_padding,
                    self.fixed_rows,
                    self.fixed_columns,
                ),
            )
            if self._in_pass:
                self._pass_state = state
        return state

    def render_line(self, y: int) -> Strip:
        """DataTable.render_line (Textual 8.2.8), with the base style read once a pass."""
        if self.fixed_rows:
            return super().render_line(y)
        state = self._table_state()
        scroll_x, scroll_y = self.scroll_offset
        fixed_height = self.get_row_height(self._header_row_key) if self.show_header else 0
        if y >= fixed_height:
            y += scroll_y
        return self._render_line(y, scroll_x, scroll_x + state.width, state.rich_style)

    def _row_cells(
        self,
        row_key: RowKey,
        row_index: int,
        line_no: int,
        base_style: Style,
        state: _TableState,
    ) -> list[list[Segment]]:
        """DataTable._render_line_in_row for a row cursor, no fixed columns, no row labels:
        the row's cells and the space after them, as one line of segments."""
        cursor = state.cursor.row == row_index
        hover = state.hover.row == row_index
        row_style = self._get_row_style(row_index, base_style)
        render_cell = self._render_cell
        line = [
            render_cell(row_index, column_index, row_style, width, cursor, hover)[line_no]
            for column_index, width in enumerate(state.widths)
        ]
        remaining = max(0, state.width - sum(state.widths))
        extend_style, _ = self._get_styles_to_render_cell(
            row_index == -1,
            False,
            False,
            state.hover.row == (row_index or 0),
            cursor,
            state.show_cursor,
            self._show_hover_cursor,
            False,
            False,
        )
        extend_style = row_style + extend_style
        extend_style += Style.from_meta({"row": row_index, "column": 0, "out_of_bounds": True})
        line.append([Segment(" " * remaining, extend_style)])
        return line

    @property
    def ordered_rows(self) -> list[Row]:
        """DataTable.ordered_rows, made from _order (UUIDs, hashed in C) instead of a
        RowKey lookup per row (hashed in Python): after a re-sort at 5,000 guests DataTable
        builds it again, and its cursor and scroll code asks for it, for one fixed row."""
        count = self.row_count
        order: list[str] | None = self.__dict__.get("_order")  # None inside DataTable.__init__
        if order is None or len(order) != count:
            return DataTable.ordered_rows.fget(self)  # type: ignore[attr-defined,no-any-return]
        cache_key = (count, self._update_count)
        cache = self._ordered_row_cache
        if cache_key in cache:
            return cache[cache_key]
        rows = list(map(self._row_cache.__getitem__, order))
        cache[cache_key] = rows
        return rows

    @property
    def _y_offsets(self) -> list[tuple[RowKey, int]]:
        """DataTable._y_offsets for rows one line high each (every row here): no list per
        row."""
        if self._clearing:  # DataTable.clear() empties this list: no need to make it
            return []
        count = self._update_count
        cache = self._offset_cache
        if count in cache:
            return cache[count]
        # every row is one line high: _place_rows makes them so, and nothing else adds rows
        keys: list[_Key] = self.__dict__.get("_ordered_keys", [])
        offsets: list[tuple[RowKey, int]] = list(zip(keys, repeat(0)))
        if len(offsets) != len(self.rows):
            return DataTable._y_offsets.fget(self)  # type: ignore[attr-defined,no-any-return]
        cache[count] = offsets
        return offsets

    def _one_line_rows(self) -> bool:
        """Every row is one line high, in _order (_place_rows made them all)."""
        order: list[str] | None = self.__dict__.get("_order")  # None inside DataTable.__init__
        return order is not None and len(order) == len(self.rows)

    @property
    def _total_row_height(self) -> int:
        if self._one_line_rows():
            return len(self._order)
        return len(self._y_offsets)

    def _get_offsets(self, y: int) -> tuple[RowKey, int]:
        """DataTable._get_offsets (Textual 8.2.8) for rows one line high: the row on line
        ``y`` is the y-th key, no list of (key, line) pairs made after each change."""
        if not self._one_line_rows():
            return super()._get_offsets(y)
        if self.show_header:
            header_height = self.header_height
            if y < header_height:
                return self._header_row_key, y
            y -= header_height
        keys = self._ordered_keys
        if not 0 <= y < len(keys):
            raise LookupError(f"Y coord {y!r} is greater than total height")
        return keys[y], 0

    def _get_fixed_offset(self) -> Spacing:
        """DataTable._get_fixed_offset (Textual 8.2.8) without making the list of every row
        (ordered_rows) for the first ``fixed_rows`` of them, one line high each: it is asked
        when the cursor is scrolled into view, after every re-sort and filter."""
        if not self._one_line_rows():
            return super()._get_fixed_offset()
        top = (self.header_height if self.show_header else 0) + min(
            self.fixed_rows, len(self._order)
        )
        left = (
            sum(
                column.get_render_width(self)
                for column in self.ordered_columns[: self.fixed_columns]
            )
            + self._row_label_column_width
        )
        return Spacing(top, 0, 0, left)

    def _get_row_region(self, row_index: int) -> Region:
        """DataTable._get_row_region (Textual 8.2.8) for rows one line high: a row's y is
        its index, not a sum over every row above it (each cursor move asked it three times:
        ~5,000 rows summed for a cursor at the 5,000th guest)."""
        if not self._one_line_rows():
            return super()._get_row_region(row_index)
        if not self.is_valid_row_index(row_index):
            return Region(0, 0, 0, 0)
        row_width = (
            sum(column.get_render_width(self) for column in self.columns.values())
            + self._row_label_column_width
        )
        y = row_index + (self.header_height if self.show_header else 0)
        return Region(0, y, max(self.size.width, row_width), 1)

    def _get_cell_region(self, coordinate: Coordinate) -> Region:
        """DataTable._get_cell_region (Textual 8.2.8) for rows one line high (as above)."""
        if not self._one_line_rows():
            return super()._get_cell_region(coordinate)
        if not self.is_valid_coordinate(coordinate):
            return Region(0, 0, 0, 0)
        row_index, column_index = coordinate
        x = (
            sum(column.get_render_width(self) for column in self.ordered_columns[:column_index])
            + self._row_label_column_width
        )
        column_key = self._column_locations.get_key(column_index)
        width = self.columns[column_key].get_render_width(self) if column_key else 0
        y = row_index + (self.header_height if self.show_header else 0)
        return Region(x, y, width, 1)

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """DataTable._update_dimensions (on idle, after rows were added) measures every cell of
        every new row, through rich, for the widths of auto-width columns and the heights of
        auto-height rows: 9,000 cells at 1,000 guests, a few hundred ms before the first paint.
        Every column here has a fixed width and every row one line: only the virtual size is
        left to set. (Anything else, a label or an auto size: DataTable's own way.)"""
        rows = self.rows
        new = [rows[key] for key in new_rows if key in rows]
        if any(column.auto_width for column in self.columns.values()) or any(
            row.label is not None or row.auto_height for row in new
        ):
            super()._update_dimensions(row.key for row in new)
            return
        widths = sum(column.get_render_width(self) for column in self.columns.values())
        header_height = self.header_height if self.show_header else 0
        self.virtual_size = Size(
            widths + self._row_label_column_width, self._total_row_height + header_height
        )

    _clearing = False

    def clear(self, columns: bool = False) -> Self:
        # no row shown: the next show() places them all again (the kept placement's dicts
        # are DataTable's own now, which clear() empties: forget it)
        self._order, self._ordered_keys, self._row_keys = [], [], {}
        self._placed = None
        self._rows_of = None
        self._clearing = True
        try:
            return super().clear(columns)
        finally:
            self._clearing = False

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._cell_lines.clear()
        self._line_strips.clear()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cell_lines.clear()
        self._line_strips.clear()
