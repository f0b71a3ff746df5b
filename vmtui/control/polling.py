"""The poll loops: one per host, each a one-shot timer re-armed only when its last poll
finished, so polls of one host never overlap and a slow or hung host never delays another.

The poll runs in a thread worker and posts ``Polled`` or ``PollFailed``; the app routes them
back here (``polled`` / ``failed`` update the host's link) and then redraws.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from textual.app import App

from vmtui.backend import Hypervisor, NoDaemon, Snapshot, VmtuiError
from vmtui.control.hosts import HostLink
from vmtui.control.messages import Polled, PollFailed

# How long a host's first poll waits for its first rows to be drawn before it reads the
# guests' XML (a bound: an app busy elsewhere, or a snapshot replaced before it was shown)
FIRST_FRAME_WAIT = 1.0


@dataclass
class Poller:
    """Arms, runs and re-arms each host's poll."""

    _app: App[Any]
    _hosts: Mapping[str, HostLink]
    interval: float
    _clock: Callable[[], float]
    _watched: Callable[[], frozenset[str]]  # the guests whose histories each poll ships
    polls: int = field(default=0, init=False)  # polls answered, all hosts together

    def schedule(self, delay: float, link: HostLink | None = None) -> None:
        """Arm the next poll of ``link`` (of every host when None) in ``delay`` seconds."""
        links = [link] if link is not None else list(self._hosts.values())
        for one in links:
            if one.closed:
                continue
            if one.timer is not None:
                one.timer.stop()
            one.timer = self._app.set_timer(max(0.001, delay), lambda one=one: self._start(one))

    def request(self, uri: str | None = None) -> None:
        """Poll soon (after an action or an event); never overlaps a running poll."""
        one = self._hosts.get(uri) if uri is not None else None
        links = [one] if one is not None else list(self._hosts.values())
        for link in links:
            if link.polling:
                link.poll_again = True
            else:
                self.schedule(0.05, link)

    def stop(self, link: HostLink) -> None:
        link.closed = True
        if link.timer is not None:
            link.timer.stop()

    def _start(self, link: HostLink) -> None:
        if link.closed:
            return
        if link.polling:
            link.poll_again = True
            return
        link.polling = True
        link.poll_started = self._clock()
        # the snapshot's own uuid set (made once per snapshot), not a walk of every guest
        known: frozenset[str] = link.snapshot.uuids if link.snapshot else frozenset()
        watched = self._watched()
        hv = link.hv
        first = link.snapshot is None  # nothing of this host on screen yet
        self._app.run_worker(
            lambda: self._poll(hv, watched & known if known else watched, first),
            thread=True,
            exit_on_error=False,
            group="poll",
            description="poll host",
        )

    def _poll(self, hv: Hypervisor, watched: frozenset[str], first: bool = False) -> None:
        """In the worker: one poll, and the histories of the guests being watched.

        While the poll reads guests' XML (their first poll) it hands over partial snapshots:
        posted as ``Polled(partial=True)``, so rows show before every XML is read. On a host's
        ``first`` poll the reads wait (up to FIRST_FRAME_WAIT) until the first of them is on
        screen: at 5,000 guests their threads, parsing XML, slowed that first frame by half."""
        uri = hv.uri
        waited = not first

        def progress(partial: Snapshot) -> None:
            nonlocal waited
            shown = None if waited else threading.Event()
            self._app.post_message(
                Polled(partial, {}, hv.host_history(), partial=True, shown=shown)
            )
            if shown is not None:
                waited = True
                shown.wait(FIRST_FRAME_WAIT)

        try:
            snapshot = hv.poll(progress)
        except NoDaemon as err:
            failed = PollFailed(err.message, hv.backoff.next(), no_daemon=True, uri=uri)
            self._app.post_message(failed)
            return
        except VmtuiError as err:
            self._app.post_message(PollFailed(err.message, hv.backoff.next(), uri=uri))
            return
        except Exception as err:  # never a traceback on screen: say it, keep polling
            message = f"Unexpected error while polling: {err}"
            self._app.post_message(PollFailed(message, hv.backoff.cap, uri=uri))
            return
        histories = {uuid: hv.guest_history(uuid) for uuid in watched}
        self._app.post_message(Polled(snapshot, histories, hv.host_history()))

    def polled(self, message: Polled) -> HostLink | None:
        """A poll answered: record it on its host. None when the host has gone meanwhile."""
        link = self._hosts.get(message.snapshot.uri)
        if link is None:
            return None  # a late answer from a host that was removed
        if message.partial:
            if link.polling:  # not a straggler of an ended poll
                link.progressed(message.snapshot, message.host_history, self._clock())
            return link
        self.polls += 1
        link.answered(message.snapshot, message.histories, message.host_history)
        return link

    def failed(self, message: PollFailed) -> HostLink | None:
        """A poll failed: the host is stale until ``retry_at``."""
        link = self._hosts.get(message.uri)
        if link is None:
            return None
        link.failed(message.error, self._clock() + message.retry_in)
        return link

    def rearm(self, link: HostLink, delay: float | None = None) -> None:
        """After an answer: the next poll in ``delay`` (the interval by default), or at once
        when something asked for a poll while this one ran."""
        if link.polling:
            return  # a partial answer: the poll goes on and re-arms when it ends
        wait = self.interval if delay is None else delay
        self.schedule(0.05 if link.poll_again else wait, link)
        link.poll_again = False

    def lost(self, link: HostLink, reason: str) -> None:
        """libvirt said the connection is gone: retry after the backoff's next delay."""
        link.lost_reason = reason
        delay = link.hv.backoff.next()
        link.retry_at = self._clock() + delay
        if not link.polling:
            self.schedule(delay, link)

    def mark_hung(self) -> bool:
        """Note hosts whose running poll is overdue (or no longer); True when any changed."""
        now = self._clock()
        changed = False
        for link in self._hosts.values():
            hung = link.overdue(now, self.interval)
            if hung != link.hung:
                link.hung, changed = hung, True
        return changed
