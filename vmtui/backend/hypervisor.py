"""One libvirt connection: guests, stats, actions. Blocking and thread-safe; never imports Textual.

The UI calls every method from a worker thread. A poll and actions may run at the same time
(libvirt connections are thread-safe); polls never overlap because the caller arms the next one
only when the last has finished.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import logging
import operator
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait as wait_futures
from typing import Any

import libvirt

from vmtui.backend import delete as deletion
from vmtui.backend import domxml, sandboxclean
from vmtui.backend.addresses import AddressBook
from vmtui.backend.connections import (
    SSH_LASTING_RETRY,
    ssh_failure_is_lasting,
    ssh_failure_sentence,
)
from vmtui.backend.console import ConsoleSession
from vmtui.backend.delete import DeletePlan, DeleteResult
from vmtui.backend.errors import (
    ActionFailed,
    ConnectionFailed,
    ConsoleBusy,
    GuestNotFound,
    NoConsole,
    NoDaemon,
    NotConnected,
    ReadOnlyConnection,
    VmtuiError,
    libvirt_message,
)
from vmtui.backend.events import ensure_event_loop
from vmtui.backend.eventwords import detail_words
from vmtui.backend.hoststats import HostSampler, NodeStatsSampler, PsutilSampler
from vmtui.backend.lanes import Abandoned, Lanes, call_with_deadline
from vmtui.backend.models import (
    ConnectionEvent,
    ConnState,
    GuestEvent,
    GuestHistory,
    GuestInfo,
    GuestState,
    GuestStats,
    HostHistory,
    HostInfo,
    HostStats,
    Snapshot,
)
from vmtui.backend.recordkeys import RecordKeys
from vmtui.backend.stats import DEFAULT_INTERVAL, Counters, StatsHistory, compute_rates
from vmtui.backend.stats import counters_from_record as _counters
from vmtui.backend.terminal import Emulator
from vmtui.backend.verdict import NetworkModes, verdict_of

log = logging.getLogger(__name__)

Event = ConnectionEvent | GuestEvent
EventSink = Callable[[Event], None]


def _silence_libvirt(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr by default, which would scribble over the TUI."""


libvirt.registerErrorHandler(_silence_libvirt, None)

_STATS = (
    libvirt.VIR_DOMAIN_STATS_STATE
    | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL
    | libvirt.VIR_DOMAIN_STATS_BALLOON
    | libvirt.VIR_DOMAIN_STATS_VCPU
    | libvirt.VIR_DOMAIN_STATS_INTERFACE
    | libvirt.VIR_DOMAIN_STATS_BLOCK
)
_NOWAIT = getattr(libvirt, "VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT", 0)

LIFECYCLE = {
    0: "defined",
    1: "undefined",
    2: "started",
    3: "suspended",
    4: "resumed",
    5: "stopped",
    6: "shutdown",
    7: "pmsuspended",
    8: "crashed",
}
# VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_*
AGENT_STATES = {1: "connected", 2: "disconnected"}

_REASONS: dict[GuestState, dict[int, str]] = {
    GuestState.RUNNING: {
        1: "booted",
        2: "migrated",
        3: "restored",
        4: "from snapshot",
        5: "unpaused",
        6: "migration cancelled",
        7: "save cancelled",
        8: "woken up",
        9: "crashed",
        10: "post-copy",
    },
    GuestState.PAUSED: {
        1: "by user",
        2: "migrating",
        3: "saving",
        4: "dumping",
        5: "disk I/O error",
        6: "watchdog",
        7: "from snapshot",
        8: "shutting down",
        9: "snapshot",
        10: "crashed",
        11: "starting up",
        12: "post-copy",
        13: "post-copy failed",
    },
    GuestState.SHUTOFF: {
        1: "shut down",
        2: "forced off",
        3: "crashed",
        4: "migrated",
        5: "saved",
        6: "failed to start",
        7: "from snapshot",
        8: "daemon",
    },
    GuestState.CRASHED: {1: "panicked"},
}

_CLOSE_REASONS = {
    0: "a connection error",
    1: "the daemon closed the connection",
    2: "the daemon stopped answering (keepalive)",
    3: "the client closed it",
}

# Guests whose XML is re-read each tick (round robin), so changes made without an event are
# seen within about REFRESH_ROUND ticks whatever the number of guests. With libvirt's events
# (lifecycle incl. define/undefine, device added/removed, tunables, metadata, balloon) a change
# marks its guest at once, and the vCPU count is checked against the bulk stats every tick, so
# the round robin is only a safety net: REFRESH_WITH_EVENTS guest a tick, or one every few
# ticks on hosts with fewer than REFRESH_ROUND_WITH_EVENTS guests.
REFRESH_ROUND = 30
REFRESH_MIN = 4
REFRESH_WITH_EVENTS = 1
REFRESH_ROUND_WITH_EVENTS = 300
ROUND_BATCH = 10  # with events, the round robin's reads come together every this many ticks
# The four flag listings (autostart, transient, managed save, has snapshots) cost a
# listAllDomains each (a virDomain object per guest). They are read in full after any event,
# any change made through this connection and whenever a guest appears; otherwise, with
# events, one of the four is re-read every FLAG_EVERY ticks (changes made elsewhere that raise
# no event, e.g. autostart set by virsh, show within 4 x FLAG_EVERY ticks). Without events,
# all four are read every tick.
FLAG_EVERY = 5
_FLAG_LISTS = (
    ("autostart", libvirt.VIR_CONNECT_LIST_DOMAINS_AUTOSTART),
    ("transient", libvirt.VIR_CONNECT_LIST_DOMAINS_TRANSIENT),
    ("managedsave", libvirt.VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE),
    ("snapshot", libvirt.VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT),
)
# Calls in flight at once on one connection (remote drivers; in-process ones run inline):
# every guest's XML on the first poll, the flag listings and host figures beside the bulk
# stats call. libvirtd serves 5 requests of one client at a time and reads the next ones
# from the socket as those finish (microseconds), so over a slow link what counts is how
# many are on the wire together: 200 XML reads over an 80 ms link took 2.5 s with 8 lanes,
# 0.8 s with 32 (benchmarks/README.md, "Thousands of guests").
LANES = 32
# While many guests' XML is read, a partial snapshot goes to the UI this often (seconds).
PROGRESS_EVERY = 0.25
# A bulk stats call waits this long (or 4x its usual time, if longer) before the poll stops
# waiting for it: one stopped QEMU must not freeze every guest's figures. The call left
# behind holds that guest's job, so the next call (NOWAIT) skips it and answers at once.
STATS_DEADLINE = 1.0
INLINE_READS = 2  # this many XML reads or fewer run in the poll's own thread
_INLINE = Lanes(1)
_RECORD = operator.itemgetter(1)  # (dom, record) -> record
# What the poll compares tick to tick, per guest, without a Python loop (every bulk record
# has the state group; the per-domain fallback builds both keys too).
_STATE_AND_REASON = operator.itemgetter("state.state", "state.reason")
_MORE_THAN_STATE = functools.partial(operator.lt, 2)  # 2 < len(record)
_VCPUS = operator.methodcaller("get", "vcpu.current")  # absent for a shut-off guest
_ACTIVE = frozenset(s for s in GuestState if s.is_active)


def reason_text(state: GuestState, reason: int) -> str:
    return _REASONS.get(state, {}).get(reason, "")


class Backoff:
    """Reconnect delays: short at first, capped (the daemon is usually back within seconds)."""

    def __init__(self, first: float = 0.25, cap: float = 2.0) -> None:
        self.first = first
        self.cap = cap
        self._next = first
        self._hold = 0.0

    def next(self) -> float:
        delay = max(self._next, self._hold)
        self._hold = 0.0
        self._next = min(self.cap, self._next * 2)
        return delay

    def hold(self, seconds: float) -> None:
        """Make the next delay at least ``seconds``: for an error that retrying will not fix
        soon (a refused ssh key; hammering a host with it can get this machine banned)."""
        self._hold = seconds

    def reset(self) -> None:
        self._next = self.first
        self._hold = 0.0


def _is_local(uri: str) -> bool:
    parsed = urllib.parse.urlsplit(uri)
    return not parsed.hostname


class Hypervisor:
    """A connection to one libvirt URI."""

    def __init__(
        self,
        uri: str,
        *,
        readonly: bool = False,
        interval: float = DEFAULT_INTERVAL,
        on_event: EventSink | None = None,
        host_sampler: HostSampler | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.uri = uri
        self.readonly = readonly
        self.interval = interval
        self.on_event = on_event
        self.clock = clock
        self.backoff = Backoff()
        self.history = StatsHistory(interval)
        self.host_info: HostInfo | None = None
        self.state = ConnState.CLOSED
        self.last_error = ""
        self._host_sampler = host_sampler
        self._given_sampler = host_sampler is not None
        self._lock = threading.RLock()
        self._conn: Any = None
        self._callback_ids: list[int] = []
        self._infos: dict[str, GuestInfo] = {}
        self._counters: dict[str, Counters] = {}
        self._dirty: set[str] = set()
        self._rr = 0
        self._flags: dict[str, set[str]] = {}
        self._flags_stale = True  # re-read all four flag listings on the next poll
        # uuids whose flags changed since the guests were built (None: check every guest)
        self._flag_delta: set[str] | None = None
        self._last_uuids: list[str] = []  # the previous tick's guests, in order
        self._last_sig: tuple[list[Any], ...] = ()  # and their raw state, reason, vCPUs
        self._ticks = 0
        self._events = False  # lifecycle events registered: the round robin can be slow
        self._committed: tuple[int, int, int] | None = None  # running, vCPUs, memory KiB
        self._guests: tuple[GuestInfo, ...] = ()  # the last poll's guests, in order
        self._nowait = bool(_NOWAIT)
        self._bulk = True
        self.net_modes = NetworkModes()  # network name -> mode, for isolation verdicts
        self._lanes = Lanes(1 if _in_process(uri) else LANES, "vmtui-libvirt")
        self._preconnect: Future[HostInfo] | None = None
        self._to_read: set[str] = set()  # this tick's guests whose XML is read after it
        self._stuck: list[Future[Any]] = []  # bulk calls left waiting on a stopped QEMU
        self._stats_usual = 0.0  # a bulk call's usual time (for its deadline)
        self._not_answering: frozenset[str] = frozenset()
        self._last_sizes: tuple[list[str], list[int]] = ([], [])  # records' field counts
        self._keys = RecordKeys()  # the bulk records keyed by uuid, tick after tick
        self._busy: dict[str, int] = {}  # suspects whose monitor is busy: uuid -> ms
        self.opened_at: float | None = None  # clock() when libvirt's open last returned
        self.open_seconds = 0.0  # how long that open took
        # guests' IP addresses, read in the background (backend/addresses.py)
        self.addresses = AddressBook(clock=clock)

    # ----------------------------------------------------------------- connection
    @property
    def driver(self) -> str:
        return urllib.parse.urlsplit(self.uri).scheme.split("+")[0]

    @property
    def is_local(self) -> bool:
        return _is_local(self.uri)

    @property
    def connected(self) -> bool:
        return self._conn is not None and self.state is ConnState.CONNECTED

    def _emit(self, event: Event) -> None:
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:  # pragma: no cover - a sink must never break libvirt's thread
                log.exception("event sink failed")

    def connect(self) -> HostInfo:
        """Open the connection (blocking). Raises ``ConnectionFailed`` with the fix in words."""
        with self._lock:
            if self._conn is not None:
                self._drop_connection()
            self.state = ConnState.CONNECTING
        events = ensure_event_loop()
        opening = self.clock()
        try:
            conn = libvirt.openReadOnly(self.uri) if self.readonly else libvirt.open(self.uri)
        except libvirt.libvirtError as err:
            self.state = ConnState.LOST
            raise self._connect_error(err) from None
        if conn is None:  # pragma: no cover - old bindings return None instead of raising
            self.state = ConnState.LOST
            raise ConnectionFailed(f"Could not connect to {self.uri}.")
        self.opened_at = self.clock()  # libvirt's own open done (benchmarks measure from it)
        self.open_seconds = self.opened_at - opening
        # keepalive and the close callback (setting keepalive asks the daemon: a round trip)
        # in flight beside the host-info calls, not after them
        watching = self._lanes.submit(lambda: self._watch_connection(conn)) if events else None
        try:
            info = self._read_host_info(conn)
            if watching is not None:
                self._wait(conn, watching)
        except libvirt.libvirtError as err:
            if self._lanes.in_flight:  # the other host-info calls still use it
                _LEFT_OPEN.append(conn)
            else:
                conn.close()
            self.state = ConnState.LOST
            raise ConnectionFailed(
                f"Connected to {self.uri} but could not read the host: {libvirt_message(err)}."
            ) from None
        if events:  # the events on a lane: six round trips the first listing need not wait for
            self._lanes.submit(lambda: self._register_callbacks(conn))
        if not self.readonly:  # overlays of sandboxes that ended while we were away
            self._lanes.submit(lambda: sandboxclean.sweep(conn))
        with self._lock:
            self._conn = conn
            self.host_info = info
            self.state = ConnState.CONNECTED
            self.last_error = ""
            self._dirty.update(self._infos)  # everything may have changed while we were away
            self._keys.invalidate()
            self._last_uuids, self._flag_delta = [], None
            self._counters.clear()
            if not self._given_sampler:
                self._host_sampler = self._make_sampler(conn, info)
        self.backoff.reset()
        self._emit(ConnectionEvent(self.uri, ConnState.CONNECTED))
        return info

    def _connect_error(self, err: libvirt.libvirtError) -> ConnectionFailed:
        msg = libvirt_message(err)
        code = err.get_error_code()
        ssh_hint = ssh_failure_sentence(self.uri, msg)
        if ssh_hint is not None:
            self.last_error = ssh_hint.rstrip(".")
            if ssh_failure_is_lasting(msg):
                self.backoff.hold(SSH_LASTING_RETRY)
            return ConnectionFailed(ssh_hint)
        no_socket = any(
            s in msg
            for s in ("Failed to connect socket", "No such file or directory", "Connection refused")
        )
        if self.is_local and code == libvirt.VIR_ERR_SYSTEM_ERROR and no_socket:
            self.last_error = f"no libvirt daemon answers at {self.uri}"
            return NoDaemon(
                f"No libvirt daemon answers at {self.uri} ({msg}). Start it as root with "
                "`libvirtd -d` (or `systemctl start libvirtd` where systemd runs); vmtui "
                "connects by itself once it answers. To look around without a hypervisor, "
                "run `vmtui --demo`."
            )
        if code == libvirt.VIR_ERR_AUTH_FAILED or "authentication" in msg.lower():
            self.last_error = "authentication failed"
            return ConnectionFailed(
                f"The host at {self.uri} refused us: {msg}. Check the user and key, or run "
                "vmtui as a user allowed to manage libvirt (root or the libvirt group)."
            )
        self.last_error = msg
        return ConnectionFailed(f"Could not connect to {self.uri}: {msg}.")

    def _read_host_info(self, conn: Any) -> HostInfo:
        # four calls in flight together: one round trip over a slow link, not four
        node = self._lanes.submit(conn.getInfo)
        named = self._lanes.submit(lambda: self._hostname(conn))
        version = self._lanes.submit(conn.getLibVersion)
        kind = self._lanes.submit(conn.getType)
        model, mem_mib, cpus, mhz, nodes, *_ = self._wait(conn, node)
        hostname = self._wait(conn, named)
        ver = self._wait(conn, version)
        return HostInfo(
            uri=self.uri,
            hostname=hostname,
            hypervisor=self._wait(conn, kind),
            libvirt_version=f"{ver // 1000000}.{ver // 1000 % 1000}.{ver % 1000}",
            cpu_model=model,
            cpus=int(cpus),
            mhz=int(mhz),
            memory_kib=int(mem_mib) * 1024,
            numa_nodes=int(nodes),
            local=self.is_local,
        )

    def _hostname(self, conn: Any) -> str:
        if self.driver == "test":
            # The test driver answers with this machine's name; the fake host is its file.
            return os.path.splitext(os.path.basename(urllib.parse.urlsplit(self.uri).path))[0]
        try:
            return str(conn.getHostname())
        except libvirt.libvirtError:
            return urllib.parse.urlsplit(self.uri).hostname or "localhost"

    def preconnect(self) -> None:
        """Start opening the connection now, on a thread of its own (the app calls this
        while Textual starts up); the first poll waits for it instead of opening again."""
        if self._conn is None and self._preconnect is None:
            self._preconnect = call_with_deadline(self.connect, "vmtui-open")

    def _await_preconnect(self) -> None:
        pre, self._preconnect = self._preconnect, None
        if pre is not None:
            pre.result()  # its ConnectionFailed / NoDaemon, raised as the poll's own

    def _make_sampler(self, conn: Any, info: HostInfo) -> HostSampler | None:
        if self.driver == "test":
            return None  # a fake host: showing this machine's load beside it would mislead
        if info.local:
            return PsutilSampler(self.clock)
        return NodeStatsSampler(
            lambda: conn.getCPUStats(libvirt.VIR_NODE_CPU_STATS_ALL_CPUS),
            lambda: conn.getMemoryStats(libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS),
            info.cpus,
            self.clock,
        )

    def _watch_connection(self, conn: Any) -> None:
        """Keepalive and the close callback (over a remote link, one round trip: measured
        83 ms through an 80 ms relay), set while the host-info calls are in flight."""
        with contextlib.suppress(
            libvirt.libvirtError
        ):  # drivers without a daemon (test://) have no keepalive
            conn.setKeepAlive(5, 3)
        with contextlib.suppress(libvirt.libvirtError):
            conn.registerCloseCallback(self._on_close, None)

    def _register_callbacks(self, conn: Any) -> None:
        ids: list[int] = []
        lifecycle = False
        for event_id, cb in (
            (libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle),
            (libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, self._on_changed),
            (libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, self._on_changed),
            (libvirt.VIR_DOMAIN_EVENT_ID_TUNABLE, self._on_changed),
            (libvirt.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, self._on_changed),
            (libvirt.VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE, self._on_changed),
            (libvirt.VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE, self._on_agent),
        ):
            with contextlib.suppress(libvirt.libvirtError):  # polling covers what events miss
                ids.append(conn.domainEventRegisterAny(None, event_id, cb, None))
                lifecycle = lifecycle or event_id == libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE
        with self._lock:
            if conn is not self._conn and self._conn is not None:
                return  # a later connection replaced this one meanwhile
            self._callback_ids = ids
            self._events = lifecycle
            self._flags_stale = True

    def _on_close(self, conn: Any, reason: int, _opaque: object) -> None:
        with self._lock:
            if conn is not self._conn:
                return
            self._conn = None
            self.state = ConnState.LOST
            self.last_error = _CLOSE_REASONS.get(reason, "the connection closed")
        self._emit(ConnectionEvent(self.uri, ConnState.LOST, self.last_error))

    def _on_lifecycle(self, _c: Any, dom: Any, event: int, detail: int, _o: object) -> None:
        self._keys.invalidate()  # defined, undefined, renamed: the names prove nothing now
        uuid = dom.UUIDString()
        with self._lock:
            self._dirty.add(uuid)
            self._flags_stale = True  # defined, undefined, saved, restored ...
        if LIFECYCLE.get(event) in ("stopped", "undefined", "crashed"):
            self.addresses.forget([uuid])  # a later start must not show the old addresses
            known = self._infos.get(uuid)
            if known and "sandbox" in known.tags and not self.readonly and self._conn:
                conn = self._conn  # a throwaway sandbox ended: its overlays go now
                self._lanes.submit(lambda: sandboxclean.sweep(conn, only=uuid))
        else:
            self.addresses.mark(uuid)  # started, resumed: new addresses soon
        self._emit(
            GuestEvent(
                self.uri,
                uuid,
                dom.name(),
                LIFECYCLE.get(event, str(event)),
                detail_words(event, detail),  # in words: never "stopped (6)"
            )
        )

    def _on_agent(self, _c: Any, dom: Any, state: int, _reason: int, _o: object) -> None:
        """The guest agent connected or went away: re-read the guest (its channel state) and
        its addresses on the next tick."""
        uuid = dom.UUIDString()
        with self._lock:
            self._dirty.add(uuid)
        self.addresses.mark(uuid)
        word = AGENT_STATES.get(state, str(state))
        self._emit(GuestEvent(self.uri, uuid, dom.name(), f"agent {word}"))

    def _address_candidates(
        self, records: dict[str, tuple[Any, dict[str, Any]]]
    ) -> Callable[[set[str] | None], list[tuple[str, Any, bool, bool]]]:
        infos = self._infos
        test = self.driver == "test"

        def candidates(only: set[str] | None) -> list[tuple[str, Any, bool, bool]]:
            out = []
            for uuid in records if only is None else only:
                info = infos.get(uuid)
                if info is None or uuid not in records or info.state not in _ACTIVE:
                    continue
                if not info.loaded:
                    continue  # its XML (NICs, agent channel) is not read yet
                if not info.nics and not info.agent_connected:
                    continue  # nothing to read (the guest screen says "no network card")
                dom = records[uuid][0]
                if test and not self._test_safe(dom, info):
                    continue
                # libvirt refuses agent calls on a read-only connection: leases, ARP only
                agent = info.agent_connected and not self.readonly
                out.append((uuid, dom, agent, bool(info.nics)))
            return out

        return candidates

    def _apply_addresses(self, guests: tuple[GuestInfo, ...]) -> tuple[GuestInfo, ...]:
        """Guests whose addresses the background reader found changed get them now (a copy
        of their info; no XML read)."""
        changed = self.addresses.take_changed()
        if not changed:
            return guests
        infos = self._infos
        for uuid in changed:
            info = infos.get(uuid)
            if info is None or not info.is_active:
                continue
            found = self.addresses.get(uuid)
            if found != info.addresses:
                infos[uuid] = dataclasses.replace(info, addresses=found)
        guests = tuple(infos.get(g.uuid, g) for g in guests)
        self._guests = guests
        return guests

    def _test_safe(self, dom: Any, info: GuestInfo) -> bool:
        """libvirt 9.0's test driver crashes reading the addresses of a NIC whose network
        has no ``<ip>`` (it reads the network's first address unchecked): ask it only
        about guests whose NICs all sit on networks with one."""
        names = [nic.source for nic in info.nics if nic.kind == "network"]
        if len(names) != len(info.nics):
            return False
        modes = self.net_modes.lookup(dom.connect(), names)
        return all(modes.get(n) in ("host-only", "NAT", "routed", "open") for n in names)

    def _on_changed(self, _c: Any, dom: Any, *_details: object) -> None:
        """A device, tunables, metadata or balloon changed: re-read the guest's XML next poll."""
        with self._lock:
            self._dirty.add(dom.UUIDString())

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._lanes.in_flight:
            # Calls still wait on this connection (a daemon that stopped answering: libvirt
            # wakes only one of them when keepalive gives up). Closing it would free what
            # they use and crash the process: it is left open, and kept from the collector.
            _LEFT_OPEN.append(conn)
            self._callback_ids = []
            return
        # The address reader may still use this connection's domains: closing under it
        # crashes some drivers (test://). It never takes our lock, so waiting is safe.
        self.addresses.wait(10)
        for cid in self._callback_ids:
            with contextlib.suppress(libvirt.libvirtError):
                conn.domainEventDeregisterAny(cid)
        self._callback_ids = []
        with contextlib.suppress(libvirt.libvirtError):
            conn.unregisterCloseCallback()
        with contextlib.suppress(libvirt.libvirtError):
            conn.close()

    def close(self) -> None:
        with self._lock:
            self._drop_connection()
            self.state = ConnState.CLOSED
        self._lanes.close()

    def mark_lost(self, reason: str) -> None:
        """Record that a call failed because the connection is gone."""
        with self._lock:
            self._drop_connection()
            self.state = ConnState.LOST
            self.last_error = reason

    def _require(self) -> Any:
        conn = self._conn
        if conn is None:
            raise NotConnected(
                f"Not connected to {self.uri}: {self.last_error or 'no connection'}."
            )
        return conn

    def _is_connection_error(self, err: libvirt.libvirtError) -> bool:
        conn = self._conn
        if err.get_error_code() in (
            libvirt.VIR_ERR_INTERNAL_ERROR,
            libvirt.VIR_ERR_RPC,
            libvirt.VIR_ERR_SYSTEM_ERROR,
            libvirt.VIR_ERR_NO_CONNECT,
            libvirt.VIR_ERR_INVALID_CONN,
        ):
            try:
                return conn is None or not conn.isAlive()
            except libvirt.libvirtError:
                return True
        return False

    # ----------------------------------------------------------------- polling
    def poll(self, progress: Callable[[Snapshot], object] | None = None) -> Snapshot:
        """One tick: (re)connect if needed, bulk stats, changed guests' XML, host figures.

        Guests new to this connection first come from the bulk stats record alone
        (``GuestInfo.loaded`` False: name, state, flags, vCPUs and memory where the driver
        reports them), and changed guests with their new state; their XML is read after that,
        many calls in flight at once (``Lanes``). ``progress`` is given the snapshot before
        those reads when a guest is not loaded yet, then one every PROGRESS_EVERY seconds
        while they go on; the snapshot returned has every guest read."""
        self._await_preconnect()
        if self._conn is None:
            self.connect()
        conn = self._require()
        t0 = self.clock()
        self._ticks += 1  # paces the flag listings and the round robin
        try:
            records, stats_seconds, flags, host_base = self._gather(conn)
            guests, committed = self._update_infos(records, flags)
            guests = self._apply_addresses(guests)
            # each record's field count: the stall watch compares them tick to tick, and
            # only records with more than state.* measured anything
            sizes = list(map(len, map(_RECORD, records.values())))
            silent = self._silent_guests(conn, records, sizes)
        except libvirt.libvirtError as err:
            raise self._poll_error(err) from None
        to_read, self._to_read = self._to_read, set()
        now = self.clock()
        host_cpus = self.host_info.cpus if self.host_info else 0
        stats: dict[str, GuestStats] = {}
        counters: dict[str, Counters] = {}
        prev = self._counters
        infos = self._infos
        # the records that measured something (not shut off, a driver with stats), picked at
        # C speed: most of a big host's guests may be shut off
        measured = itertools.compress(records.items(), map(_MORE_THAN_STATE, sizes))
        for uuid, (_dom, record) in measured:
            if silent and uuid in silent:  # its figures are not live: keep the last counters
                if uuid in prev:
                    counters[uuid] = prev[uuid]
                continue
            info = infos.get(uuid)
            cur = _counters(record, now)
            counters[uuid] = cur
            stats[uuid] = compute_rates(
                uuid, prev.get(uuid), cur, host_cpus, info.vcpus if info else 0
            )
        self._counters = counters
        host = self._host_stats(committed, len(guests), now, host_base)
        self.history.add(stats.values(), host, records.keys())
        snap = Snapshot(
            uri=self.uri,
            time=now,
            guests=_mark_silent(guests, silent),
            stats=stats,
            host=host,
            poll_seconds=self.clock() - t0,
            stats_seconds=stats_seconds,
            loading=frozenset(to_read),
            not_answering=silent,
        )
        if not to_read:
            self.addresses.tick(self._address_candidates(records))  # in the background
            return snap
        if progress is not None and any(not infos[u].loaded for u in to_read if u in infos):
            progress(snap)  # the rows now; their XML-derived cells fill in below
        try:
            snap = self._read_xml(records, to_read, flags, snap, progress, t0)
        except libvirt.libvirtError as err:
            raise self._poll_error(err) from None
        self.addresses.tick(self._address_candidates(records))  # with every guest's NICs
        return snap

    def _poll_error(self, err: libvirt.libvirtError) -> VmtuiError:
        if self._is_connection_error(err):
            reason = libvirt_message(err)
            self.mark_lost(reason)
            self._emit(ConnectionEvent(self.uri, ConnState.LOST, reason))
            return ConnectionFailed(f"Lost the connection to {self.uri}: {reason}.")
        return ActionFailed(f"Could not read guests from {self.uri}: {libvirt_message(err)}.")

    def _gather(
        self, conn: Any
    ) -> tuple[dict[str, tuple[Any, dict[str, Any]]], float, dict[str, set[str]], HostStats | None]:
        """The bulk stats, the flag listings and the host's figures of one tick: on a remote
        host all in flight together (one round trip), not one after the other."""
        lanes = self._lanes
        sampler = self._host_sampler
        listed: dict[str, Future[set[str]]] | None = None
        with self._lock:
            stale, self._flags_stale = self._flags_stale, False
        if not lanes.inline and not self._flags:
            # The first poll of a connection: the four listings beside the bulk call (the
            # first frame over a slow link). Later ticks make their calls one after the
            # other: libvirt 9.0's client, when keepalive gives up on a daemon that stopped
            # answering, wakes one of the calls waiting on it and may crash in another
            # (seen with six in flight), so a tick keeps few calls in flight.
            listed = {
                name: lanes.submit(functools.partial(self._uuids_with, conn, flag))
                for name, flag in _FLAG_LISTS
            }
        records, seconds = self._bulk_stats(conn)
        flags = self._flag_sets(conn, records, stale, listed)
        base = sampler.sample() if sampler is not None else None
        return records, seconds, flags, base

    @staticmethod
    def _uuids_with(conn: Any, flag: int) -> set[str]:
        return {d.UUIDString() for d in conn.listAllDomains(flag)}

    def _read_xml(
        self,
        records: dict[str, tuple[Any, dict[str, Any]]],
        to_read: set[str],
        flags: dict[str, set[str]],
        snap: Snapshot,
        progress: Callable[[Snapshot], object] | None,
        t0: float,
    ) -> Snapshot:
        """Read the XML of ``to_read`` (all in flight on a remote host) into the infos; the
        tick's snapshot with them. A guest whose read fails is read again next tick."""
        infos = self._infos
        loading = set(to_read)
        changed = dropped = False
        failure: BaseException | None = None
        last = self.clock()

        def read(uuid: str) -> GuestInfo | None:
            cur = infos.get(uuid)
            if cur is None:
                return None
            dom = records[uuid][0]
            return self._read_info(uuid, dom, cur.state, cur.reason, flags, cur.reason_code)

        def partial() -> Snapshot:
            guests = tuple(infos[u] for u in records if u in infos)
            return dataclasses.replace(
                snap, guests=_mark_silent(guests, snap.not_answering), loading=frozenset(loading)
            )

        # a few reads (an idle tick's round robin, one changed guest): in this thread, as
        # handing them to a lane costs more than it saves
        lanes = self._lanes if len(to_read) > INLINE_READS else _INLINE
        conn = self._conn

        def alive() -> bool:
            return conn is not None and not self._dead(conn)

        try:
            for uuid, result in lanes.map_unordered(read, sorted(to_read), alive):
                loading.discard(uuid)
                if isinstance(result, libvirt.libvirtError):
                    if result.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                        dropped = infos.pop(uuid, None) is not None or dropped
                    elif failure is None:
                        failure = result
                    continue
                if isinstance(result, BaseException):
                    failure = failure or result
                    continue
                cur = infos.get(uuid)
                if result is None or cur is None:
                    continue
                if result != cur or result.reason_code != cur.reason_code:
                    infos[uuid] = result
                    changed = True
                if progress is not None and loading and self.clock() - last >= PROGRESS_EVERY:
                    progress(partial())
                    last = self.clock()
        except Abandoned:
            raise self._hung_error() from None
        finally:
            if failure is not None or loading:
                with self._lock:
                    self._dirty |= {u for u in to_read if u in infos and not infos[u].loaded}
                    self._dirty |= loading
                self._last_uuids, self._flag_delta = [], None  # the full pass next tick
        if failure is not None:
            with self._lock:
                self._dirty |= to_read
            raise failure
        if not changed and not dropped:
            return dataclasses.replace(snap, loading=frozenset(), poll_seconds=self.clock() - t0)
        guests = tuple(infos[u] for u in records if u in infos)
        self._guests = guests
        if dropped:
            self._last_uuids, self._flag_delta = [], None
        committed = self._commit(guests)
        host = snap.host
        if host is not None:
            running, vcpus, mem = committed
            host = dataclasses.replace(
                host,
                committed_vcpus=vcpus,
                committed_mem_kib=mem,
                guests_running=running,
                guests_total=len(guests),
            )
        return dataclasses.replace(
            snap,
            guests=_mark_silent(guests, snap.not_answering),
            host=host,
            loading=frozenset(),
            poll_seconds=self.clock() - t0,
        )

    def _commit(self, guests: Sequence[GuestInfo]) -> tuple[int, int, int]:
        running = vcpus = mem = 0
        for info in guests:
            if info.state in _ACTIVE:
                running += 1
                vcpus += info.vcpus
                mem += info.memory_kib
        self._committed = (running, vcpus, mem)
        return self._committed

    def bare_stats_call(self) -> float:
        """Time one bare bulk stats call (the benchmark's baseline)."""
        conn = self._require()
        t0 = time.perf_counter()
        conn.getAllDomainStats(_STATS, _NOWAIT if self._nowait else 0)
        return time.perf_counter() - t0

    def _bulk_stats(self, conn: Any) -> tuple[dict[str, tuple[Any, dict[str, Any]]], float]:
        t0 = time.perf_counter()
        if self._bulk:
            try:
                raw = self._bulk_call(conn)
            except libvirt.libvirtError as err:
                code = err.get_error_code()
                if self._nowait and code in (
                    libvirt.VIR_ERR_INVALID_ARG,
                    libvirt.VIR_ERR_NO_SUPPORT,
                ):
                    self._nowait = False
                    return self._bulk_stats(conn)
                if code != libvirt.VIR_ERR_NO_SUPPORT:
                    raise
                self._bulk = False
            else:
                # (dom, record) pairs as libvirt gives them, keyed by uuid (no re-packing;
                # the uuids are the last tick's when the names are: backend/recordkeys.py)
                return self._keys.key(raw, self._events), time.perf_counter() - t0
        out: dict[str, tuple[Any, dict[str, Any]]] = {}
        for dom in conn.listAllDomains(0):
            try:
                state, _maxmem, mem, nvcpu, cpu_ns = dom.info()
                reason = dom.state()[1]
            except libvirt.libvirtError:
                continue  # vanished between the list and the call
            out[dom.UUIDString()] = (
                dom,
                {
                    "state.state": state,
                    "state.reason": reason,
                    "cpu.time": cpu_ns,
                    "balloon.current": mem,
                    "vcpu.current": nvcpu,
                },
            )
        return out, time.perf_counter() - t0

    def _bulk_call(self, conn: Any) -> list[Any]:
        """``getAllDomainStats``; on a remote host with NOWAIT, waited for only until its
        deadline. One stopped QEMU makes the call wait on that guest's monitor for as long as
        it is stopped; the call is then left behind (it holds that guest's job) and asked
        again: with NOWAIT the second call skips the guest whose job is taken and answers at
        once, so every other guest's figures stay live (``_silent_guests`` names the one).
        At most one call is left behind per connection: while it waits, the next ticks'
        calls are waited for as before (a second stopped QEMU shows as a hung host)."""
        flags = _NOWAIT if self._nowait else 0
        if self._lanes.inline or not self._nowait:
            return list(conn.getAllDomainStats(_STATS, flags))

        def call() -> Any:
            return conn.getAllDomainStats(_STATS, flags)

        self._stuck = [fut for fut in self._stuck if not fut.done()]
        first = self._lanes.spawn(call, "vmtui-stats")
        if self._stuck:
            return list(self._wait(conn, first))
        t0 = time.perf_counter()
        try:
            raw = first.result(timeout=max(STATS_DEADLINE, 4 * self._stats_usual))
        except FutureTimeout:
            if not self._daemon_answers():
                # The daemon itself is silent: wait on this one call as ever (keepalive
                # decides). A second call waiting beside it would be one libvirt 9.0 does
                # not wake when keepalive gives up, and it crashes the process later.
                return list(self._wait(conn, first))
            self._stuck = [first]
            second = self._lanes.spawn(call, "vmtui-stats")
            return list(self._wait(conn, first, second))
        took = time.perf_counter() - t0
        usual = self._stats_usual
        self._stats_usual = took if not usual else 0.8 * usual + 0.2 * took
        return list(raw)

    def _daemon_answers(self) -> bool:
        """Whether the daemon answers a connection of its own (opened, asked its version,
        closed, on a thread of its own) within a few seconds: tells a stopped QEMU (the
        daemon answers) from a daemon that stopped answering."""
        opener = libvirt.openReadOnly if self.readonly else libvirt.open

        def probe() -> bool:
            other = opener(self.uri)
            try:
                other.getLibVersion()
                return True
            finally:
                other.close()

        fut = call_with_deadline(probe, "vmtui-probe")
        try:
            return bool(fut.result(timeout=max(2 * STATS_DEADLINE, 3 * self.open_seconds + 1)))
        except Exception:  # timed out, or the open failed: not answering
            return False

    def _wait(self, conn: Any, *futures: Future[Any]) -> Any:
        """The result of whichever of ``futures`` ends first (its error raised), waiting as
        long as the connection lives. When keepalive gives up on a daemon that stopped
        answering, libvirt (9.0) wakes only one of the calls waiting on it with the error;
        the others would wait for ever, so the connection is looked at every second."""
        while True:
            done, _ = wait_futures(futures, timeout=1.0, return_when=FIRST_COMPLETED)
            if done:
                return next(iter(done)).result()
            if self._dead(conn):
                raise self._hung_error()

    def _dead(self, conn: Any) -> bool:
        try:
            return not conn.isAlive()
        except libvirt.libvirtError:
            return True

    def _hung_error(self) -> ConnectionFailed:
        reason = "the daemon stopped answering (keepalive)"
        self.mark_lost(reason)
        self._emit(ConnectionEvent(self.uri, ConnState.LOST, reason))
        return ConnectionFailed(f"Lost the connection to {self.uri}: {reason}.")

    def _silent_guests(
        self, conn: Any, records: dict[str, tuple[Any, dict[str, Any]]], sizes: list[int]
    ) -> frozenset[str]:
        """The active guests whose QEMU is not answering: those whose monitor has been busy
        for longer than half the deadline (virDomainGetControlInfo asks libvirt, not QEMU).

        Asked only of suspects, never of every guest every tick: every active guest once
        after a bulk call of ours was left waiting; guests whose record lost fields since the
        last tick (NOWAIT skipped them: their job is held, by our stuck call or another
        client's); and those found silent last tick, until they answer again. ``sizes``:
        each record's field count, in the records' order (the poll counts them once)."""
        if self._lanes.inline:
            return frozenset()  # an in-process driver has no QEMU to wait on
        self._stuck = [fut for fut in self._stuck if not fut.done()]
        uuids = list(records)
        last_uuids, last_sizes = self._last_sizes
        self._last_sizes = (uuids, sizes)
        suspects = {u for u in self._busy if u in records}
        if self._stuck and not suspects:
            suspects = {u for u, (_d, r) in records.items() if r["state.state"] in _ACTIVE_CODES}
        elif uuids == last_uuids and sizes != last_sizes:
            suspects.update(
                u
                for u, now, before in zip(uuids, sizes, last_sizes, strict=True)
                if now < before and records[u][1]["state.state"] in _ACTIVE_CODES
            )
        if not suspects:
            self._busy, self._not_answering = {}, frozenset()
            return self._not_answering
        limit_ms = 1000 * STATS_DEADLINE / 2

        def occupied_ms(uuid: str) -> int | None:
            state, _details, since_ms = records[uuid][0].controlInfo()
            return int(since_ms) if state == libvirt.VIR_DOMAIN_CONTROL_OCCUPIED else None

        lanes = self._lanes if len(suspects) > INLINE_READS else _INLINE
        # a monitor busy for a moment stays a suspect (asked again next tick) until it is
        # either free again or busy long enough to call the guest silent
        try:
            self._busy = {
                u: ms
                for u, ms in lanes.map_unordered(
                    occupied_ms, sorted(suspects), lambda: not self._dead(conn)
                )
                if isinstance(ms, int)
            }
        except Abandoned:
            raise self._hung_error() from None
        self._not_answering = frozenset(u for u, ms in self._busy.items() if ms >= limit_ms)
        return self._not_answering

    def _flag_sets(
        self,
        conn: Any,
        records: dict[str, tuple[Any, dict[str, Any]]],
        stale: bool = False,
        listed: dict[str, Future[set[str]]] | None = None,
    ) -> dict[str, set[str]]:
        """The uuids with each flag (see FLAG_EVERY for when each listing is re-read);
        ``listed``: all four listings already asked for (in flight beside the bulk call)."""

        def uuids(flag: int) -> set[str]:
            return self._uuids_with(conn, flag)

        if stale or not self._events or not self._flags or records.keys() - self._infos.keys():
            if listed is not None:
                fresh = {name: self._wait(conn, fut) for name, fut in listed.items()}
            else:
                fresh = {name: uuids(flag) for name, flag in _FLAG_LISTS}
        elif self._ticks % FLAG_EVERY == 0:
            name, flag = _FLAG_LISTS[(self._ticks // FLAG_EVERY) % len(_FLAG_LISTS)]
            fresh = {**self._flags, name: uuids(flag)}
        else:
            return self._flags
        if fresh != self._flags:
            old = self._flags
            if not old or self._flag_delta is None:
                self._flag_delta = None
            else:
                for name, members in fresh.items():
                    self._flag_delta |= members ^ old[name]
            self._flags = fresh
        return self._flags

    def _update_infos(
        self, records: dict[str, tuple[Any, dict[str, Any]]], flags: dict[str, set[str]]
    ) -> tuple[tuple[GuestInfo, ...], tuple[int, int, int]]:
        """Every guest's info (re-read where it changed) and what the active ones commit
        (running count, vCPUs, memory KiB).

        This runs every tick for every guest, so the common tick does no Python work per
        guest: the raw state, reason and vCPU count of all guests are gathered with C-level
        ``map`` calls and compared with the previous tick's lists; only guests that differ,
        were marked (events, actions, the round robin) or whose flags changed are looked at.
        A guest appearing or vanishing, or the first tick, takes the full pass."""
        with self._lock:
            dirty, self._dirty = self._dirty, set()
        self._to_read = set()
        infos = self._infos
        removed = False
        uuids = list(records)
        if uuids != self._last_uuids or len(infos) != len(uuids):  # else: the same guests
            for gone in infos.keys() - records.keys():
                del infos[gone]
                removed = True
        recs = list(map(_RECORD, records.values()))
        sig = (list(map(_STATE_AND_REASON, recs)), list(map(_VCPUS, recs)))
        # A slow round robin re-reads some XML each tick, catching changes made without events.
        if uuids:
            start = self._rr % len(uuids)
            if self._events:
                # REFRESH_WITH_EVENTS guest a tick on average, or fewer on small hosts (a full
                # round takes at least REFRESH_ROUND_WITH_EVENTS ticks, 10 minutes at the
                # default 2 s tick), gathered into one batch every ROUND_BATCH ticks or more:
                # a batch's reads are in flight together (one round trip) and the ticks
                # between read no XML at all.
                n = len(uuids)
                every = max(ROUND_BATCH, REFRESH_ROUND_WITH_EVENTS // n)
                batch = max(1, every * REFRESH_WITH_EVENTS * n // max(n, REFRESH_ROUND_WITH_EVENTS))
                step = batch if self._ticks % every == 0 else 0
            else:
                step = max(REFRESH_MIN, -(-len(uuids) // REFRESH_ROUND))
            dirty.update(uuids[start : start + step])
            self._rr = start + step
        flag_delta, self._flag_delta = self._flag_delta, set()
        todo: set[str] | None = None  # None: every guest
        if flag_delta is not None and uuids == self._last_uuids:
            todo = dirty | flag_delta
            for now, before in zip(sig, self._last_sig, strict=True):
                if now != before:
                    todo.update(u for u, a, b in zip(uuids, now, before, strict=True) if a != b)
            todo &= records.keys()
        # Until this tick's pass completes, the next tick must take the full pass: a libvirt
        # error half-way must not leave guests whose change the signature already absorbed.
        self._last_uuids, self._flag_delta = [], None

        changed = removed
        dropped = False
        try:
            for uuid in uuids if todo is None else todo:
                dom, rec = records[uuid]
                old = infos.get(uuid)
                info = self._refreshed(uuid, dom, rec, old, uuid in dirty, flags)
                if info is None:
                    infos.pop(uuid, None)  # undefined between the stats call and now
                    dropped = True
                elif info is not old:
                    infos[uuid] = info
                    changed = True
        except BaseException:
            with self._lock:
                self._dirty |= dirty  # not re-read yet: next tick
            raise
        if dropped:  # take the full pass next tick
            guests = tuple(infos[u] for u in uuids if u in infos)
        else:
            if changed or todo is None:
                guests = tuple(map(infos.__getitem__, uuids))
            else:
                guests = self._guests  # the same guests, in the same order, unchanged
            self._last_uuids, self._last_sig, self._flag_delta = uuids, sig, set()
        self._guests = guests
        if changed or self._committed is None:
            return guests, self._commit(guests)
        return guests, self._committed

    def _refreshed(
        self,
        uuid: str,
        dom: Any,
        rec: dict[str, Any],
        old: GuestInfo | None,
        dirty: bool,
        flags: dict[str, set[str]],
    ) -> GuestInfo | None:
        """One guest's info after this tick: ``old`` itself when nothing changed, a copy
        when only its reason or flags changed. When it is new, marked, changed state or vCPU
        count, or was never read: what the record says now (a guest new to us is built from
        it, ``loaded`` False) and its XML goes on ``_to_read``, read after the tick's
        snapshot is made (``_read_xml``)."""
        code = rec.get("state.state", 0)
        why = rec.get("state.reason", 0)
        vcpus_now = rec.get("vcpu.current")
        autostart = uuid in flags["autostart"]
        persistent = uuid not in flags["transient"]
        managed_save = uuid in flags["managedsave"]
        snapshots = uuid in flags["snapshot"]
        if (
            old is not None
            and not dirty
            and old.loaded
            and old.state == code
            and (vcpus_now is None or vcpus_now == old.vcpus)
        ):
            if (
                old.reason_code == why
                and old.autostart == autostart
                and old.persistent == persistent
                and old.has_managed_save == managed_save
                and old.has_snapshots == snapshots
            ):
                return old
            return dataclasses.replace(
                old,
                reason=reason_text(old.state, why),
                reason_code=why,
                autostart=autostart,
                persistent=persistent,
                has_managed_save=managed_save,
                has_snapshots=snapshots,
            )
        state = GuestState.from_libvirt(code)
        self._to_read.add(uuid)
        if old is None:
            return GuestInfo(
                uuid=uuid,
                name=dom.name(),  # kept by the virDomain object: no call
                state=state,
                reason=reason_text(state, why),
                vcpus=int(vcpus_now or 0),
                max_vcpus=int(rec.get("vcpu.maximum") or 0),
                memory_kib=int(rec.get("balloon.current") or 0),
                max_memory_kib=int(rec.get("balloon.maximum") or 0),
                autostart=autostart,
                persistent=persistent,
                has_managed_save=managed_save,
                has_snapshots=snapshots,
                host=self.uri,
                loaded=False,
                reason_code=why,
            )
        info = dataclasses.replace(
            old,
            state=state,
            reason=reason_text(state, why),
            reason_code=why,
            vcpus=int(vcpus_now) if vcpus_now else old.vcpus,
            autostart=autostart,
            persistent=persistent,
            has_managed_save=managed_save,
            has_snapshots=snapshots,
        )
        if info == old and old.reason_code == why:
            return old  # its XML is re-read after the snapshot (round robin, an event)
        return info

    def _read_info(
        self,
        uuid: str,
        dom: Any,
        state: GuestState,
        reason: str,
        flags: dict[str, set[str]],
        reason_code: int = 0,
    ) -> GuestInfo:
        cfg = domxml.parse_domain(dom.XMLDesc(0))
        return GuestInfo(
            uuid=uuid,
            name=cfg.name,
            state=state,
            reason=reason,
            title=cfg.title,
            description=cfg.description,
            vcpus=cfg.vcpus,
            max_vcpus=cfg.max_vcpus,
            memory_kib=cfg.memory_kib,
            max_memory_kib=cfg.max_memory_kib,
            autostart=uuid in flags["autostart"],
            persistent=uuid not in flags["transient"],
            has_managed_save=uuid in flags["managedsave"],
            has_snapshots=uuid in flags["snapshot"],
            domain_type=cfg.domain_type,
            arch=cfg.arch,
            machine=cfg.machine,
            os_type=cfg.os_type,
            emulator=cfg.emulator,
            kernel=cfg.kernel,
            disks=cfg.disks,
            nics=cfg.nics,
            graphics=cfg.graphics,
            shared_folders=cfg.shared_folders,
            has_console=cfg.has_console,
            host=self.uri,
            hostdevs=cfg.hostdevs,
            has_agent=cfg.has_agent,
            agent_state=cfg.agent_state if state.is_active else "",
            addresses=self.addresses.get(uuid) if state.is_active else None,
            isolation=verdict_of(cfg, dom.connect(), self.net_modes),
            tags=cfg.tags,
            reason_code=reason_code,
        )

    def _host_stats(
        self,
        committed: tuple[int, int, int],
        total: int,
        now: float,
        sampled: HostStats | None = None,
    ) -> HostStats:
        base = sampled if sampled is not None else HostStats(time=now)
        info = self.host_info
        running, vcpus, mem = committed
        return dataclasses.replace(
            base,
            time=now,
            host_cpus=info.cpus if info else base.host_cpus,
            mem_total_kib=base.mem_total_kib or (info.memory_kib if info else 0),
            committed_vcpus=vcpus,
            committed_mem_kib=mem,
            guests_running=running,
            guests_total=total,
        )

    def guest_history(self, uuid: str) -> GuestHistory:
        """A copy of a guest's history (memory only, no libvirt call)."""
        return self.history.guest(uuid)

    def host_history(self) -> HostHistory:
        return self.history.host()

    def known_guests(self) -> tuple[GuestInfo, ...]:
        """The guests as of the last poll (no libvirt call)."""
        return tuple(self._infos.values())

    def known_guest(self, uuid: str) -> GuestInfo | None:
        """One guest as of the last poll, None when it was not there (no libvirt call)."""
        return self._infos.get(uuid)

    # ------------------------------------------------- for feature modules
    # Feature modules (create, networks, storage, snapshots, ...) live in their own files in
    # vmtui/backend and reach the connection only through the calls below.
    def writable_conn(self) -> Any:
        """The open libvirt connection, or a clear error when read-only or not connected."""
        return self._writable()

    def readable_conn(self) -> Any:
        """The open libvirt connection for reads, or a clear error when not connected."""
        return self._require()

    def lookup_domain(self, conn: Any, uuid: str) -> Any:
        """The virDomain for ``uuid``; GuestNotFound with the guest's name when it is gone."""
        return self._lookup(conn, uuid)

    def find_domain(self, conn: Any, guest: str) -> Any | None:
        """The virDomain a person named on a command line: ``guest`` as a UUID, else as a
        name; None when neither finds one. Two lookups at most, no poll."""
        for lookup in (conn.lookupByUUIDString, conn.lookupByName):
            with contextlib.suppress(libvirt.libvirtError):
                return lookup(guest)
        return None

    def lookup_guest(self, uuid: str, *, writable: bool = False) -> tuple[Any, Any, str]:
        """How most calls on one guest begin: the connection (``writable`` for a change, with
        writable_conn's checks), the guest's virDomain (lookup_domain) and its name."""
        conn = self._writable() if writable else self._require()
        dom = self._lookup(conn, uuid)
        return conn, dom, dom.name()

    def wrap_error(self, err: libvirt.libvirtError, verb: str, name: str) -> VmtuiError:
        """A libvirt error as a sentence ("Could not <verb> guest <name>: ..."); marks the
        connection lost when the error says so."""
        return self._wrap(err, verb, name)

    def wrap_failure(
        self, err: libvirt.libvirtError, sentence: str, verb: str = "change", name: str = ""
    ) -> VmtuiError:
        """A libvirt error as ``"<sentence>: <libvirt's reason>."`` (ActionFailed); when it
        says the connection is gone, wrap_error's NotConnected (for ``verb`` and ``name``)."""
        wrapped = self._wrap(err, verb, name)
        if isinstance(wrapped, NotConnected):
            return wrapped
        return ActionFailed(f"{sentence}: {libvirt_message(err).strip().rstrip('.')}.")

    def touch(self, uuid: str) -> None:
        """Re-read this guest's configuration and flags on the next poll (after changing it)."""
        with self._lock:
            self._dirty.add(uuid)
            self._flags_stale = True

    # ----------------------------------------------------------------- actions
    def _writable(self) -> Any:
        if self.readonly:
            raise ReadOnlyConnection(
                f"The connection to {self.uri} is read-only; restart vmtui without --readonly "
                "to change guests."
            )
        conn = self._require()
        # Whoever asks for the writable connection is about to change something (a snapshot,
        # a managed save, autostart ...): read the flag listings afresh on the next poll.
        self._flags_stale = True
        return conn

    def _lookup(self, conn: Any, uuid: str) -> Any:
        try:
            return conn.lookupByUUIDString(uuid)
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                known = self._infos.get(uuid)
                what = f"guest {known.name}" if known else "that guest"
                raise GuestNotFound(f"The {what} no longer exists on {self.uri}.") from None
            raise self._wrap(err, "find", uuid) from None

    def _wrap(self, err: libvirt.libvirtError, verb: str, name: str) -> VmtuiError:
        if self._is_connection_error(err):
            reason = libvirt_message(err)
            self.mark_lost(reason)
            self._emit(ConnectionEvent(self.uri, ConnState.LOST, reason))
            return NotConnected(
                f"Could not {verb} guest {name}: the connection to {self.uri} was lost ({reason})."
            )
        return ActionFailed(f"Could not {verb} guest {name}: {libvirt_message(err)}.")

    def _act(
        self,
        uuid: str,
        verb: str,
        call: Callable[[Any], object],
        check: Callable[[GuestState, str], str | None] | None = None,
    ) -> None:
        _, dom, name = self.lookup_guest(uuid, writable=True)
        try:
            if check is not None:
                state = GuestState.from_libvirt(dom.state()[0])
                problem = check(state, name)
                if problem:
                    raise ActionFailed(problem)
            call(dom)
        except libvirt.libvirtError as err:
            raise self._wrap(err, verb, name) from None
        finally:
            with self._lock:
                self._dirty.add(uuid)
                self._flags_stale = True

    def start(self, uuid: str) -> None:
        def check(state: GuestState, name: str) -> str | None:
            if state is GuestState.PAUSED:
                return f"Guest {name} is paused; resume it instead of starting it."
            if state.is_active:
                return f"Guest {name} is already running."
            return None

        self._act(uuid, "start", lambda d: d.create(), check)

    def shutdown(self, uuid: str) -> None:
        self._act(uuid, "shut down", lambda d: d.shutdown(), _must_run("shut down"))

    def reboot(self, uuid: str) -> None:
        self._act(uuid, "reboot", lambda d: d.reboot(0), _must_run("reboot"))

    def force_off(self, uuid: str) -> None:
        self._act(uuid, "force off", lambda d: d.destroy(), _must_run("force off"))

    def pause(self, uuid: str) -> None:
        def check(state: GuestState, name: str) -> str | None:
            if state is GuestState.PAUSED:
                return f"Guest {name} is already paused."
            return _must_run("pause")(state, name)

        self._act(uuid, "pause", lambda d: d.suspend(), check)

    def resume(self, uuid: str) -> None:
        def check(state: GuestState, name: str) -> str | None:
            if state is not GuestState.PAUSED:
                return f"Guest {name} is not paused (it is {state.label})."
            return None

        self._act(uuid, "resume", lambda d: d.resume(), check)

    def managed_save(self, uuid: str) -> None:
        """Save the running guest's memory and stop it; the next start resumes it there."""
        self._act(uuid, "save the state of", lambda d: d.managedSave(0), _must_run("save"))

    def set_autostart(self, uuid: str, enabled: bool) -> None:
        def call(dom: Any) -> None:
            if not dom.isPersistent():
                raise ActionFailed(
                    f"Guest {dom.name()} is transient: it has no saved configuration to start "
                    "when the host boots."
                )
            dom.setAutostart(1 if enabled else 0)

        self._act(uuid, "change autostart of", call)

    # ----------------------------------------------------------------- console
    def open_console(
        self,
        uuid: str,
        emulator: Emulator,
        on_change: Callable[[], object],
        on_closed: Callable[[str], object],
        *,
        force: bool = False,
    ) -> ConsoleSession:
        """Attach to the guest's serial console. Without ``force`` a console another client
        holds is refused (``ConsoleBusy``); with it, that client is disconnected."""
        conn = self._writable()
        if not ensure_event_loop():
            raise ActionFailed("libvirt's event loop could not start, so consoles cannot open.")
        dom = self._lookup(conn, uuid)
        name = dom.name()
        try:
            state = GuestState.from_libvirt(dom.state()[0])
            if not state.is_active:
                raise ActionFailed(f"Guest {name} is not running; start it to use its console.")
            cfg = domxml.parse_domain(dom.XMLDesc(0))
            if not cfg.has_console:
                raise NoConsole(
                    f"Guest {name} has no serial console device, so there is nothing to attach "
                    "to. Add a <serial type='pty'/> device (it takes effect at the next boot)."
                )
            stream = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
        except libvirt.libvirtError as err:
            raise self._wrap(err, "open the console of", name) from None
        flags = libvirt.VIR_DOMAIN_CONSOLE_SAFE
        if force:
            flags |= libvirt.VIR_DOMAIN_CONSOLE_FORCE
        try:
            dom.openConsole(None, stream, flags)
        except libvirt.libvirtError as err:
            with contextlib.suppress(libvirt.libvirtError):
                stream.abort()
            if "active console session" in libvirt_message(err).lower():
                raise ConsoleBusy(
                    f"Another client (a virsh console, another vmtui...) holds the console of "
                    f"guest {name}. Taking it over disconnects that client."
                ) from None
            raise self._wrap(err, "open the console of", name) from None
        return ConsoleSession(stream, name, emulator, on_change, on_closed)

    # ----------------------------------------------------------------- screen
    def screenshot(self, uuid: str, screen: int = 0) -> tuple[bytes, str]:
        """The guest's display as an image (PNG or PPM, as QEMU gives it) and its MIME type."""
        conn, dom, name = self.lookup_guest(uuid)
        try:
            if not dom.isActive():
                raise ActionFailed(f"Guest {name} is not running, so it has no screen to show.")
            cfg = domxml.parse_domain(dom.XMLDesc(0))
            if not cfg.graphics:
                raise ActionFailed(
                    f"Guest {name} has no graphical display (no VNC or SPICE); use its serial "
                    "console (c) instead."
                )
            stream = conn.newStream(0)
            try:
                mime = dom.screenshot(stream, screen, 0)
                chunks: list[bytes] = []
                while True:
                    data = stream.recv(1 << 20)
                    if not isinstance(data, bytes) or not data:
                        break
                    chunks.append(data)
                stream.finish()
            except libvirt.libvirtError:
                with contextlib.suppress(libvirt.libvirtError):
                    stream.abort()
                raise
        except libvirt.libvirtError as err:
            raise self._wrap(err, "take a screenshot of", name) from None
        return b"".join(chunks), mime or ""

    def send_keys(self, uuid: str, keycodes: Sequence[int], hold_ms: int = 50) -> None:
        """Press these Linux keycodes together on the guest's keyboard, then release them."""
        conn = self._writable()
        dom = self._lookup(conn, uuid)
        try:
            dom.sendKey(libvirt.VIR_KEYCODE_SET_LINUX, hold_ms, list(keycodes), len(keycodes), 0)
        except libvirt.libvirtError as err:
            raise self._wrap(err, "send keys to", dom.name()) from None

    # ----------------------------------------------------------------- delete
    def delete_plan(self, uuid: str) -> DeletePlan:
        """What deleting this guest would touch: its disks (and who else uses them)."""
        return deletion.delete_plan(self, uuid)

    def delete(self, uuid: str, remove_disks: Sequence[str] = ()) -> DeleteResult:
        """Delete a guest, then only the disk paths given (see ``backend/delete.py``)."""
        return deletion.delete_guest(self, uuid, remove_disks)


def _in_process(uri: str) -> bool:
    """The driver runs inside this process (``test:///…``): no round trips to save, so no
    threads for the calls (they would only add overhead)."""
    return urllib.parse.urlsplit(uri).scheme == "test"


_ACTIVE_CODES = frozenset(int(s) for s in _ACTIVE)
# Connections dropped while calls still waited on them: never closed nor collected (a
# virConnect closes itself when collected), so those calls cannot crash the process.
_LEFT_OPEN: list[Any] = []


def _mark_silent(guests: tuple[GuestInfo, ...], silent: frozenset[str]) -> tuple[GuestInfo, ...]:
    """The guests, those not answering marked (copies; the poll keeps the plain infos)."""
    if not silent:
        return guests
    return tuple(dataclasses.replace(g, answering=False) if g.uuid in silent else g for g in guests)


def _must_run(verb: str) -> Callable[[GuestState, str], str | None]:
    def check(state: GuestState, name: str) -> str | None:
        if not state.is_active:
            return f"Guest {name} is not running (it is {state.label}); cannot {verb} it."
        return None

    return check
