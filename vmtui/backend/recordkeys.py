"""The bulk stats records keyed by guest UUID, tick after tick, without per-guest Python work.

``getAllDomainStats`` hands back a new ``virDomain`` object per guest each tick; the poll needs
them keyed by UUID. Asking each for its UUID string costs ~1 us a guest (libvirt formats it
each time): 9-10 ms a tick at 10,000 guests, a seventh of the bulk call itself. Its name is
kept by the object and costs a quarter of that. So each tick reads the names (at C speed), and
when they are the very list of the last tick, in the same order, the last tick's UUIDs are
those of these records; otherwise every UUID is read again.

Same names are not proof of the same guests: a guest undefined and another defined under its
name between two ticks has the same name at the same place. libvirt raises lifecycle events
for both (define, undefine, and renames as a define); any lifecycle event makes the next tick
read every UUID (``invalidate``). Without events the names are never trusted. And every
FULL_EVERY ticks the UUIDs are read anyway, a bound on an event that was missed.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable, Sequence
from typing import Any

FULL_EVERY = 30  # ticks between two full readings of the UUIDs, whatever the events say

_DOM = operator.itemgetter(0)  # (dom, record) -> dom


def _c_getters() -> tuple[Callable[[Any], str], Callable[[Any], str]] | None:
    """libvirt's C functions for a domain's name and UUID string, applied to the wrapped
    pointer (``virDomain._o``): no Python frame per guest. None when the binding is not
    laid out that way (the methods are used then)."""
    try:
        import libvirtmod  # type: ignore[import-not-found]  # libvirt-python's C module

        name = libvirtmod.virDomainGetName
        uuid = libvirtmod.virDomainGetUUIDString
    except (ImportError, AttributeError):  # pragma: no cover - every libvirt-python has them
        return None
    return name, uuid


_GETTERS = _c_getters()
_PTR = operator.attrgetter("_o")


def _wrapped(pairs: Sequence[Any]) -> bool:
    """The pairs' domains are libvirt-python's own objects (tests may pass doubles)."""
    return _GETTERS is not None and (not pairs or hasattr(pairs[0][0], "_o"))


def names_of(pairs: Sequence[Any]) -> list[str]:
    """The names of the (dom, record) pairs' domains, in order."""
    if _wrapped(pairs):
        assert _GETTERS is not None
        return list(map(_GETTERS[0], map(_PTR, map(_DOM, pairs))))
    return [dom.name() for dom, _ in pairs]


def uuids_of(pairs: Sequence[Any]) -> list[str]:
    """The UUID strings of the (dom, record) pairs' domains, in order."""
    if _wrapped(pairs):
        assert _GETTERS is not None
        return list(map(_GETTERS[1], map(_PTR, map(_DOM, pairs))))
    return [dom.UUIDString() for dom, _ in pairs]


class RecordKeys:
    """Keys one connection's bulk records by UUID (see the module's text). Thread-safe:
    ``invalidate`` comes from libvirt's event thread, ``key`` from the poll."""

    def __init__(self, full_every: int = FULL_EVERY) -> None:
        self.full_every = full_every
        self._lock = threading.Lock()
        self._epoch = 0  # bumped by every invalidate()
        self._keyed_epoch = -1  # the epoch the remembered names were read in
        self._names: list[str] = []
        self._uuids: list[str] = []
        self._trusted_ticks = 0
        self.full_readings = 0  # how many ticks read every UUID (tests look at it)

    def invalidate(self) -> None:
        """A guest may have been defined, undefined or renamed: read every UUID next tick."""
        with self._lock:
            self._epoch += 1

    def key(self, pairs: Sequence[Any], events: bool) -> dict[str, Any]:
        """``pairs`` ((dom, record) as libvirt gives them) keyed by UUID. ``events``: the
        connection's lifecycle events are registered (names may be trusted)."""
        with self._lock:
            epoch = self._epoch
        names = names_of(pairs)
        if (
            events
            and epoch == self._keyed_epoch
            and self._trusted_ticks < self.full_every
            and names == self._names
        ):
            self._trusted_ticks += 1
            return dict(zip(self._uuids, pairs, strict=True))
        uuids = uuids_of(pairs)
        self._names, self._uuids = names, uuids
        self._keyed_epoch, self._trusted_ticks = epoch, 0
        self.full_readings += 1
        return dict(zip(uuids, pairs, strict=True))
