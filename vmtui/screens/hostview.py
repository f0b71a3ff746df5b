"""The base of every screen that shows data from the hosts' polls."""

from __future__ import annotations

from typing import ClassVar

from textual.screen import Screen

from vmtui.backend import Snapshot
from vmtui.control.services import services


class HostView(Screen[None]):
    """A screen that shows data from the host's polls: the app calls ``show_snapshot`` after
    each poll on every such screen that is mounted.

    The actions named in ``MUTATING`` change something on a host: a read-only session hides
    them (from the footer, ``?`` and the palette alike, which all ask ``check_action``)."""

    MUTATING: ClassVar[frozenset[str]] = frozenset()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in self.MUTATING and services(self).readonly)

    def show_snapshot(self, snapshot: Snapshot | None) -> None:
        """Called by the app after each poll (``None`` when the host changes)."""
