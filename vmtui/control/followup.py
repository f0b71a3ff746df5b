"""What to say a while after something was started or asked, when the guest does not do what
was expected (issue 16): a freshly started guest that keeps its vCPUs busy and writes nothing
to its console (KVM present but broken spins like that), and a guest asked to shut down that
is still running (its OS ignores ACPI).

Pure bookkeeping fed with each poll's merged snapshot and a clock; the app turns what
``check`` returns into a notification or a question.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vmtui.backend import GuestInfo, GuestState, Snapshot

SPIN_SECONDS = 60.0  # busy this long after a start, without console output: say so
BUSY_PERCENT = 90.0  # of the guest's own vCPUs
SPIN_WATCH_FOR = 600.0  # a guest is "freshly started" for this long
SHUTDOWN_GRACE = 60.0  # still running this long after a shutdown request: say so
_ACTIVE = frozenset(s for s in GuestState if s.is_active)


@dataclass(frozen=True)
class Followup:
    """Something to tell the user about one guest: ``kind`` is "spinning" or "not-stopped"."""

    kind: str
    uuid: str
    name: str
    sentence: str


@dataclass
class _Start:
    since: float  # when the watch first saw it running after being off
    busy_since: float | None = None


class Followups:
    """Watches started guests and shutdown requests, poll after poll."""

    def __init__(
        self,
        spin_seconds: float = SPIN_SECONDS,
        shutdown_grace: float = SHUTDOWN_GRACE,
    ) -> None:
        self.spin_seconds = spin_seconds
        self.shutdown_grace = shutdown_grace
        self._all: set[str] = set()  # every guest of the last poll
        self._active_set: set[str] = set()  # the active ones
        self._starts: dict[str, _Start] = {}
        self._shutdowns: dict[str, float] = {}  # uuid -> when the shutdown was asked
        self._hosts: set[str] = set()  # hosts checked before: a guest new there is new

    def shutdown_asked(self, uuid: str, now: float) -> None:
        """A shutdown (ACPI) was asked of this guest now."""
        self._shutdowns[uuid] = now

    def forget_shutdown(self, uuid: str) -> None:
        self._shutdowns.pop(uuid, None)

    def check(
        self,
        snapshot: Snapshot,
        now: float,
        console_output: Callable[[str], bool | None],
    ) -> list[Followup]:
        """What to say after this poll. ``console_output(uuid)``: the guest wrote something
        to its open console (True), nothing (False), or no console is open (None)."""
        out: list[Followup] = []
        guests = snapshot.guests
        # Set operations over the whole fleet (C speed: ~0.5 ms at 5,000 guests); Python
        # looks only at the few guests started, asked to stop, or being watched.
        every = {g.uuid for g in guests}
        active = {g.uuid for g in guests if g.state in _ACTIVE}
        hosts = {g.host for g in guests}
        fresh = (active - self._active_set) & (self._all | self._new_on_known_hosts(guests))
        self._all, self._active_set = every, active
        self._hosts |= hosts
        for uuid in set(self._starts) - active:
            del self._starts[uuid]
        for uuid in set(self._shutdowns) - active:
            del self._shutdowns[uuid]
        for uuid in fresh:  # off at the last poll, or new (just created), and running
            self._starts[uuid] = _Start(since=now)
        if not self._starts and not self._shutdowns:
            return out
        watched = set(self._starts) | set(self._shutdowns)
        for guest in (g for g in guests if g.uuid in watched):
            uuid = guest.uuid
            kvm = guest.domain_type == "kvm"
            spin = self._spinning(uuid, snapshot, now, console_output, kvm)
            if spin is not None:
                out.append(Followup("spinning", uuid, guest.name, _spin_sentence(guest, spin)))
            asked = self._shutdowns.get(uuid)
            if asked is not None and now - asked >= self.shutdown_grace:
                del self._shutdowns[uuid]
                said = _stop_sentence(guest, now - asked)
                out.append(Followup("not-stopped", uuid, guest.name, said))
        return out

    def _new_on_known_hosts(self, guests: tuple[GuestInfo, ...]) -> set[str]:
        """Guests not seen before on a host that was seen before: just created there."""
        if not self._hosts:
            return set()
        known = self._all
        return {g.uuid for g in guests if g.uuid not in known and g.host in self._hosts}

    def _spinning(
        self,
        uuid: str,
        snapshot: Snapshot,
        now: float,
        console_output: Callable[[str], bool | None],
        kvm: bool,
    ) -> bool | None:
        """None, or (once per start) whether an open console showed nothing (True) or no
        console is open (False), when the guest has been busy for spin_seconds (a KVM
        guest; an emulated one only with an open, silent console)."""
        start = self._starts.get(uuid)
        if start is None:
            return None
        if now - start.since > SPIN_WATCH_FOR:
            del self._starts[uuid]
            return None
        wrote = console_output(uuid)
        if wrote:  # it talks: it is booting, not stuck
            del self._starts[uuid]
            return None
        stats = snapshot.stats.get(uuid)
        busy = stats is not None and (stats.cpu_percent_per_vcpu or 0.0) >= BUSY_PERCENT
        if not busy:
            start.busy_since = None
            return None
        if start.busy_since is None:
            start.busy_since = now
        if now - start.busy_since < self.spin_seconds:
            return None
        if wrote is None and not kvm:
            # emulated (TCG) guests are busy while they boot; without a console to look at,
            # a busy one is no sign of trouble: keep watching (a console may open)
            return None
        del self._starts[uuid]
        return wrote is False


def _spin_sentence(guest: GuestInfo, console_open: bool) -> str:
    console = (
        "and its console has shown nothing"
        if console_open
        else "(open its console with c to see whether it writes anything)"
    )
    head = f"Guest {guest.name} has kept its vCPUs busy since it started {console}."
    if guest.domain_type == "kvm":
        return (
            f"{head} If it stays blank, KVM may not work on this host: switch the guest to "
            "QEMU emulation (domain type 'qemu') on the allocation screen (A, then T) or in "
            "the XML editor (e), then start it again."
        )
    return (
        f"{head} It may be stuck before its console starts (a kernel without "
        "console=ttyS0, or a boot loader waiting for a key)."
    )


def _stop_sentence(guest: GuestInfo, waited: float) -> str:
    agent = " or shut it down through its guest agent" if guest.agent_connected else ""
    state = guest.state
    how = "is still running" if state == GuestState.RUNNING else f"is still {state.label}"
    return (
        f"Guest {guest.name} {how} {waited:.0f} s after it was asked to shut down: its system "
        f"may ignore the request (no ACPI). Force it off (F){agent}."
    )
