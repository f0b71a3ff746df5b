"""The base of every screen that shows data from the hosts' polls."""

from __future__ import annotations

from textual.screen import Screen

from vmtui.backend import Snapshot


class HostView(Screen[None]):
    """A screen that shows data from the host's polls: the app calls ``show_snapshot`` after
    each poll on every such screen that is mounted."""

    def show_snapshot(self, snapshot: Snapshot | None) -> None:
        """Called by the app after each poll (``None`` when the host changes)."""
