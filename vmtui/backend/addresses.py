"""Guests' IP addresses: ``virDomainInterfaceAddresses`` from the guest agent, libvirt's DHCP
leases or the host's ARP table, picked per guest (the agent first when it is connected).

Read off the poll: ``AddressBook.tick()`` is called by ``Hypervisor.poll()`` and only decides
what is due (a whole round every ``ADDRESS_EVERY`` seconds, plus the guests an event marked:
agent connected, started, resumed); the reads run in one background thread with a few
workers, so a slow or silent agent never holds a poll. When a guest's addresses change, the
book keeps the guest in ``take_changed()``, which the owner's next tick re-reads: the table
gets the new ``GuestInfo.addresses`` then. Never a libvirt call per guest per tick.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import libvirt

from vmtui.backend.errors import libvirt_message
from vmtui.backend.models import GuestAddresses, NicAddresses

ADDRESS_EVERY = 30.0  # seconds between two rounds over every running guest
AGENT_WAIT = 10  # seconds libvirt waits for the agent's answer (virsh guest-agent-timeout)
WORKERS = 4  # guests read at once in a round (an agent that never answers holds one)

AGENT = "agent"
LEASE = "lease"
ARP = "arp"
SOURCES: dict[str, int] = {
    AGENT: libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT,
    LEASE: libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE,
    ARP: libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP,
}
# virsh domifaddr's words for each source (the activity log, the guest screen)
VIRSH_SOURCE = {AGENT: "agent", LEASE: "lease", ARP: "arp"}


def parse_interfaces(
    answer: Mapping[str, Any] | None, *, agent: bool = False
) -> tuple[NicAddresses, ...]:
    """libvirt-python's ``interfaceAddresses`` answer as NICs, in name order.

    ``{"eth0": {"hwaddr": "52:54:…", "addrs": [{"type": 0, "addr": "…", "prefix": 24}]}}``.
    From the agent, the loopback interface and loopback addresses are left out (they say
    nothing about how to reach the guest); NICs without an address are kept only if they
    have a MAC (the guest screen lists them as "no address")."""
    nics: list[NicAddresses] = []
    for name in sorted(answer or {}):
        entry = (answer or {})[name] or {}
        if agent and name == "lo":
            continue
        addrs: list[str] = []
        for a in entry.get("addrs") or ():
            addr = str(a.get("addr", "") or "")
            if not addr or (agent and (addr.startswith("127.") or addr == "::1")):
                continue
            prefix = a.get("prefix")
            addrs.append(f"{addr}/{prefix}" if prefix is not None else addr)
        mac = str(entry.get("hwaddr", "") or "")
        if addrs or mac:
            nics.append(NicAddresses(name=str(name), mac=mac, addresses=tuple(addrs)))
    return tuple(nics)


def _has_any(nics: tuple[NicAddresses, ...]) -> bool:
    return any(nic.addresses for nic in nics)


def read_addresses(dom: Any, *, agent_connected: bool, has_nics: bool = True) -> GuestAddresses:
    """One guest's addresses from the first source that knows any: the agent (only when its
    channel is connected), then DHCP leases, then ARP. Blocking (an agent call waits up to
    libvirt's agent timeout); never raises for a source that fails, says why instead."""
    if not has_nics and not agent_connected:
        # Nothing to reach it by (and libvirt 9.0's test driver crashes on a guest
        # without NICs: it reads the first NIC unchecked).
        return GuestAddresses("", (), "No address: the guest has no network card.")
    reasons: list[str] = []
    if agent_connected:
        # libvirt waits for ever on an agent that never answers: bound it (agent.py's too)
        with contextlib.suppress(libvirt.libvirtError, AttributeError):
            dom.agentSetResponseTimeout(AGENT_WAIT, 0)
        try:
            nics = parse_interfaces(dom.interfaceAddresses(SOURCES[AGENT], 0), agent=True)
        except libvirt.libvirtError as err:
            reasons.append(f"the agent did not answer ({libvirt_message(err)})")
        else:
            if _has_any(nics):
                return GuestAddresses(AGENT, nics)
            reasons.append("the agent reports no address")
    else:
        reasons.append("no guest agent is connected")
    if not has_nics:
        reasons.append("the guest has no network card")
    for source in (LEASE, ARP) if has_nics else ():
        try:
            nics = parse_interfaces(dom.interfaceAddresses(SOURCES[source], 0))
        except libvirt.libvirtError as err:
            reasons.append(f"no {source} answer ({libvirt_message(err)})")
            continue
        if _has_any(nics):
            return GuestAddresses(source, nics)
        reasons.append("no DHCP lease" if source == LEASE else "not in the host's ARP table")
    return GuestAddresses("", (), _why(reasons))


def _why(reasons: list[str]) -> str:
    text = "; ".join(reasons)
    return f"No address known: {text}." if text else "No address known."


class AddressBook:
    """Every guest's last known addresses on one connection, refreshed in the background.

    Thread-safe. ``tick`` is cheap (no libvirt call): it starts a background refresh when a
    round is due or guests were marked, unless one is still running."""

    def __init__(
        self,
        *,
        every: float = ADDRESS_EVERY,
        workers: int = WORKERS,
        clock: Callable[[], float] = time.monotonic,
        reader: Callable[..., GuestAddresses] = read_addresses,
    ) -> None:
        self.every = every
        self.workers = workers
        self.clock = clock
        self.reader = reader
        self._lock = threading.Lock()
        self._known: dict[str, GuestAddresses] = {}
        self._marked: set[str] = set()
        self._changed: set[str] = set()
        self._next_round = 0.0  # the first tick starts a round
        self._running: threading.Thread | None = None
        self.rounds = 0  # finished refreshes (tests, benchmarks)
        self.reads = 0  # guests read in total

    def get(self, uuid: str) -> GuestAddresses | None:
        with self._lock:
            return self._known.get(uuid)

    def mark(self, uuid: str) -> None:
        """Read this guest on the next tick (an event: agent connected, started …)."""
        with self._lock:
            self._marked.add(uuid)

    def take_changed(self) -> set[str]:
        """The guests whose addresses changed since the last call (the poll re-reads them)."""
        with self._lock:
            changed, self._changed = self._changed, set()
        return changed

    def forget(self, gone: Iterable[str]) -> None:
        with self._lock:
            for uuid in gone:
                self._known.pop(uuid, None)

    @property
    def busy(self) -> bool:
        running = self._running
        return running is not None and running.is_alive()

    def due(self, now: float) -> bool:
        with self._lock:
            return bool(self._marked) or now >= self._next_round

    def tick(
        self, candidates: Callable[[set[str] | None], list[tuple[str, Any, bool, bool]]]
    ) -> bool:
        """Start a background refresh if one is due and none runs; True when one started.

        ``candidates(only)`` returns ``(uuid, dom, agent_connected, has_nics)`` for the
        running guests (all of them when ``only`` is None, else those in ``only``); it is
        called only when something is due, so an idle tick costs a clock read."""
        now = self.clock()
        if self.busy:
            return False
        with self._lock:
            whole = now >= self._next_round
            if not whole and not self._marked:
                return False
            marked, self._marked = self._marked, set()
            if whole:
                self._next_round = now + self.every
        todo = candidates(None if whole else marked)
        if not todo:
            return False
        thread = threading.Thread(
            target=self._refresh, args=(todo,), name="vmtui-addresses", daemon=True
        )
        self._running = thread
        thread.start()
        return True

    def refresh(self, todo: list[tuple[str, Any, bool, bool]]) -> set[str]:
        """Read these guests now (blocking, up to ``workers`` at once); the changed uuids."""
        reader = self.reader

        def one(item: tuple[str, Any, bool, bool]) -> tuple[str, GuestAddresses]:
            uuid, dom, agent, nics = item
            return uuid, reader(dom, agent_connected=agent, has_nics=nics)

        if len(todo) == 1 or self.workers <= 1:
            results = [one(item) for item in todo]
        else:
            with ThreadPoolExecutor(self.workers, thread_name_prefix="vmtui-addr") as pool:
                results = list(pool.map(one, todo))
        changed: set[str] = set()
        with self._lock:
            for uuid, found in results:
                if self._known.get(uuid) != found:
                    self._known[uuid] = found
                    changed.add(uuid)
            self._changed |= changed
            self.rounds += 1
            self.reads += len(results)
        return changed

    def _refresh(self, todo: list[tuple[str, Any, bool, bool]]) -> None:
        try:
            self.refresh(todo)
        except Exception:  # pragma: no cover - a broken connection: the next round retries
            return

    def wait(self, timeout: float = 30.0) -> None:
        """Wait for a running refresh (tests, ``vmtui stats``)."""
        running = self._running
        if running is not None:
            running.join(timeout)


def domifaddr_words(name: str, source: str) -> list[str]:
    """``virsh domifaddr NAME --source SOURCE`` (what the guest screen's refresh logs)."""
    return ["domifaddr", name, "--source", VIRSH_SOURCE.get(source, source)]
