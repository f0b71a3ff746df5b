"""The hosts of the session: one ``HostLink`` per URI (its connection, its poll loop's state,
its last poll), kept in the user's order by ``Hosts``.

Each host has its own poll loop (``polling.py``: a one-shot timer re-armed when the last poll
finished), so a slow, hung or lost host never delays another. Screens see the merged view
built by ``merge_snapshots``, and the status line the sentence of ``fleet_status``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from textual.timer import Timer

from vmtui.backend import (
    GuestHistory,
    GuestInfo,
    GuestStats,
    HostHistory,
    HostInfo,
    Hypervisor,
    NotConnected,
    Snapshot,
)
from vmtui.control.hostfigures import HostFigures
from vmtui.core import format as fmt


class HostLink:
    """Mutable UI-side state of one host; only the UI thread touches it."""

    def __init__(self, hv: Hypervisor) -> None:
        self.hv = hv
        self.snapshot: Snapshot | None = None
        self.host_history: HostHistory | None = None
        self.histories: dict[str, GuestHistory] = {}
        self.figures = HostFigures()  # an hour of the host's load, for its charts
        self.polling = False
        self.poll_again = False
        self.timer: Timer | None = None
        self.poll_started: float | None = None
        self.retry_at: float | None = None  # set while the host is lost or erring
        self.lost_reason = ""
        self.ever_polled = False  # a poll answered or failed at least once
        self.closed = False
        self.hung = False  # a poll has run far longer than the interval (set by the app)

    @property
    def uri(self) -> str:
        return self.hv.uri

    def answered(
        self, snapshot: Snapshot, histories: dict[str, GuestHistory], host_history: HostHistory
    ) -> None:
        """The running poll answered: its figures are now the host's, live."""
        self._ended()
        self.snapshot = snapshot
        self.histories = histories
        self.host_history = host_history
        self.figures.add(snapshot.host, host_history.interval)
        self.retry_at = None
        self.lost_reason = ""

    def progressed(self, snapshot: Snapshot, host_history: HostHistory, now: float) -> None:
        """The running poll showed what it has so far (guests' XML still being read): shown
        as the host's; the poll is making progress, so it is not overdue."""
        self.snapshot = snapshot
        self.host_history = host_history
        self.poll_started = now
        self.ever_polled = True

    def failed(self, reason: str, retry_at: float) -> None:
        """The running poll failed: the host's guests are stale until ``retry_at``."""
        self._ended()
        self.lost_reason = reason
        self.retry_at = retry_at

    def _ended(self) -> None:
        self.polling = False
        self.poll_started = None
        self.hung = False
        self.ever_polled = True

    @property
    def host_info(self) -> HostInfo | None:
        """What the host said of itself (hostname, CPUs, memory) once connected."""
        return self.hv.host_info

    @property
    def label(self) -> str:
        """Short name for the host column: the hostname when known, else the URI's host
        (a test-driver host: its file's name)."""
        if self.uri.startswith("test:///") and self.uri.endswith(".xml"):
            return self.uri.rsplit("/", 1)[-1][: -len(".xml")]
        info = self.hv.host_info
        if info is not None and info.hostname:
            return info.hostname.split(".")[0]
        return host_of(self.uri)

    @property
    def stale(self) -> bool:
        """The guests shown for this host are its last known ones, not live: its last poll
        failed, or the one running has not answered for a long while (a hung host)."""
        return self.retry_at is not None or self.hung

    def overdue(self, now: float, interval: float) -> bool:
        """The running poll has taken more than twice the interval (plus a second)."""
        return self.poll_started is not None and now - self.poll_started > 2 * interval + 1

    def status(self, now: float, interval: float, readonly: bool) -> tuple[str, str, str]:
        """(symbol, sentence, style) for this host alone."""
        hv = self.hv
        if self.retry_at is not None:  # the last poll failed (lost, or the host erred)
            wait = max(0.0, self.retry_at - now)
            when = "now" if wait < 0.05 or self.polling else f"in {wait:.1f}s"
            return ("✖", f"{self.lost_reason} Retrying {when}.", "bold red")
        if self.overdue(now, interval):
            assert self.poll_started is not None
            waited = fmt.duration(now - self.poll_started)
            return (
                "⌛",
                f"{fmt.short_uri(hv.uri)} has not answered for {waited}; waiting.",
                "bold yellow",
            )
        if self.snapshot is None or not hv.connected:
            return ("◌", f"Connecting to {fmt.short_uri(hv.uri)}…", "yellow")
        snap = self.snapshot
        running = snap.running
        info = hv.host_info
        host = f" ({info.hostname})" if info else ""
        mode = " · read-only" if readonly else ""
        return (
            "●",
            f"Connected to {fmt.short_uri(hv.uri)}{host} · {len(snap.guests)} guests, "
            f"{running} running{_progress(snap)}{mode}",
            "bold green",
        )


class Hosts(Mapping[str, HostLink]):
    """Every host of the session by URI, in the user's order (a read-only mapping to screens;
    the app adds and removes hosts)."""

    def __init__(self, connect: Callable[[str], Hypervisor], uris: Iterable[str] = ()) -> None:
        self._connect = connect  # makes the (not yet connected) Hypervisor of a URI
        self._links: dict[str, HostLink] = {}
        for uri in uris:
            self.add(uri)

    def __getitem__(self, uri: str) -> HostLink:
        return self._links[uri]

    def __iter__(self) -> Iterator[str]:
        return iter(self._links)

    def __len__(self) -> int:
        return len(self._links)

    def add(self, uri: str) -> HostLink:
        """The host's link, made (not yet polled) when the session did not have it."""
        link = self._links.get(uri)
        if link is None:
            link = self._links[uri] = HostLink(self._connect(uri))
            # libvirt's open (seconds over ssh) starts now, beside Textual starting up or the
            # screen that added the host; the first poll waits for it
            link.hv.preconnect()
        return link

    def remove(self, uri: str) -> HostLink | None:
        return self._links.pop(uri, None)

    @property
    def primary(self) -> HostLink | None:
        """The first host (the one a single-host session is about)."""
        return next(iter(self._links.values()), None)

    def first_hypervisor(self) -> Hypervisor:
        link = self.primary
        if link is None:
            raise NotConnected("No host is connected; add one with H (connections).")
        return link.hv

    def hypervisor_for_uri(self, uri: str) -> Hypervisor:
        """The connection to a host of this session (NotConnected when it is not one)."""
        link = self._links.get(uri)
        if link is None:
            raise NotConnected(f"{fmt.short_uri(uri)} is not connected in this session.")
        return link.hv

    def labels(self) -> dict[str, str]:
        """A short label per host (hostname when known), for the Host column."""
        return {uri: link.label for uri, link in self._links.items()}

    def merged(self) -> Snapshot | None:
        return merge_snapshots(self._links.values())

    def histories(self) -> dict[str, GuestHistory]:
        """The watched guests' histories of every host's last poll."""
        return {u: h for link in self._links.values() for u, h in link.histories.items()}


def fleet_status(
    links: Sequence[HostLink],
    merged: Snapshot | None,
    now: float,
    interval: float,
    readonly: bool,
) -> tuple[str, str, str]:
    """(symbol, sentence, style) for the whole session: one host's own status, or the worst
    host's with how many are connected, or a summary of every host's guests."""
    if not links:
        return ("◌", "No host connected; press H to add or connect one.", "yellow")
    states = [link.status(now, interval, readonly) for link in links]
    if len(links) == 1:
        return states[0]
    worst = next((st for st in states if st[0] == "✖"), None) or next(
        (st for st in states if st[0] != "●"), None
    )
    ok = sum(1 for st in states if st[0] == "●")
    if worst is not None:
        return (worst[0], f"{worst[1]} · {ok}/{len(links)} hosts connected", worst[2])
    guests = merged.guests if merged else ()
    running = merged.running if merged else 0
    mode = " · read-only" if readonly else ""
    return (
        "●",
        f"Connected to {len(links)} hosts · {len(guests)} guests, {running} running"
        f"{_progress(merged) if merged else ''}{mode}",
        "bold green",
    )


def _progress(snap: Snapshot) -> str:
    """What the host's poll has not finished: details still being read, silent guests."""
    out = ""
    if snap.loading:
        out += f" · reading {len(snap.loading):,} guests' details"
    if snap.not_answering:
        n = len(snap.not_answering)
        out += f" · {n} guest{'s' if n > 1 else ''} not answering"
    return out


def host_of(uri: str) -> str:
    """The host part of a libvirt URI ("hv2" for qemu+ssh://root@hv2:22/system)."""
    rest = uri.split("://", 1)[1] if "://" in uri else uri
    authority = rest.split("/", 1)[0]
    host = authority.rsplit("@", 1)[-1]
    if host.startswith("[") and "]" in host:
        return host[1 : host.index("]")]
    host = host.split(":", 1)[0]
    return host or "localhost"


def merge_snapshots(links: Iterable[HostLink]) -> Snapshot | None:
    """Every host's last snapshot as one: guests of all hosts, in host order.

    A UUID can show up on two hosts (a shut-off copy left behind by a migration): the
    running copy wins, else the first host's. The merged ``uri`` is the first host's when
    there is one host, else "" (each guest carries its own ``host``)."""
    snaps = [link.snapshot for link in links if link.snapshot is not None]
    if not snaps:
        return None
    if len(snaps) == 1:
        return snaps[0]
    stats: dict[str, GuestStats] = {}
    running: int | None = None
    if len(frozenset().union(*(s.uuids for s in snaps))) == sum(len(s.guests) for s in snaps):
        # no UUID on two hosts (nor twice on one), the usual case: each host's guests and
        # stats as they are, joined; the running count is the hosts' (each counted once per
        # snapshot), not 3,000 checks
        for s in snaps:
            if s.stats.keys() <= s.uuids:
                stats.update(s.stats)
            else:  # stats of a guest the host no longer lists: not shown
                stats.update((u, st) for u, st in s.stats.items() if u in s.uuids)
        guests = tuple(itertools.chain.from_iterable(s.guests for s in snaps))
        running = sum(s.running for s in snaps)
    else:
        chosen: dict[str, GuestInfo] = {}
        for snap in snaps:
            for guest in snap.guests:
                old = chosen.get(guest.uuid)
                if old is None or (guest.is_active and not old.is_active):
                    chosen[guest.uuid] = guest
                    found = snap.stats.get(guest.uuid)
                    if found is not None:
                        stats[guest.uuid] = found
                    else:
                        stats.pop(guest.uuid, None)
        guests = tuple(chosen.values())
    merged = Snapshot(
        uri="",
        time=max(s.time for s in snaps),
        guests=guests,
        stats=stats,
        host=snaps[0].host,
        poll_seconds=max(s.poll_seconds for s in snaps),
        stats_seconds=max(s.stats_seconds for s in snaps),
        loading=frozenset().union(*(s.loading for s in snaps)),
        not_answering=frozenset().union(*(s.not_answering for s in snaps)),
    )
    if running is not None:
        merged.__dict__["running"] = running  # seeds the cached property
    return merged
