"""What a screen or widget may ask of the app, as a typed protocol.

Screens never import ``vmtui.app``: they ask through ``services(self)`` (questions, and the
few state changes that are theirs to make, each a method) and command by posting a message
(``control/messages.py``: a guest action, a console, a delete). ``VmtuiApp`` implements this
protocol; mypy checks it does (``vmtui/app.py``: ``_implements_services``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, cast

from textual.app import App
from textual.dom import DOMNode

from vmtui.backend import GuestHistory, Hypervisor, Snapshot
from vmtui.backend.connections import ConnectionStore
from vmtui.control.hosts import HostLink
from vmtui.control.runner import Runner
from vmtui.control.work import Operations
from vmtui.core.activity import ActivityLog


class Services(Protocol):
    """The app as screens see it."""

    @property
    def readonly(self) -> bool:
        """Connections are read-only: every changing action is hidden and refused."""

    @property
    def interval(self) -> float:
        """Seconds between two polls of a host."""

    @property
    def hosts(self) -> Mapping[str, HostLink]:
        """Every host of the session by URI, in the user's order."""

    @property
    def snapshot(self) -> Snapshot | None:
        """Every host's last poll, merged (None before the first answer)."""

    @property
    def histories(self) -> Mapping[str, GuestHistory]:
        """The history of each watched guest (``watch_guest``), as of the last poll."""

    @property
    def activity(self) -> ActivityLog:
        """The activity log: our actions as virsh lines, and libvirt's events."""

    @property
    def uri(self) -> str:
        """The first host's URI ("" when none is connected)."""

    @property
    def migrating(self) -> frozenset[str]:
        """UUIDs of guests being moved between hosts right now."""

    def uri_of(self, uuid: str) -> str | None:
        """The URI of the host a guest is shown on (None when no host shows it)."""

    def hypervisor_for(self, uuid: str | None = None) -> Hypervisor:
        """The connection a guest lives on (the first host's when unknown)."""

    def hypervisor_for_uri(self, uri: str) -> Hypervisor:
        """The connection to a host of this session (NotConnected when it is not one)."""

    def host_labels(self) -> dict[str, str]:
        """A short label per connected host, for the Host column."""

    def host_status(self, uri: str) -> tuple[str, str, str]:
        """(symbol, sentence, style) for one host right now."""

    @property
    def operations(self) -> Operations:
        """Long-running operations (migration, clone, export, backup) quitting would cut short."""

    @property
    def runner(self) -> Runner:
        """Runs blocking backend calls in workers (``runner.run``), reports on the UI thread."""

    def request_poll(self, uri: str | None = None) -> None:
        """Poll a host (every host when None) soon; never overlaps a running poll."""

    def long_history(self, uuid: str) -> GuestHistory | None:
        """Up to an hour of a watched guest's figures (the charts' longer windows)."""

    def watch_guest(self, uuid: str, on: bool) -> None:
        """Ship (or stop shipping) this guest's history with every poll."""

    def connect_host(self, uri: str) -> None:
        """Add a host to the session and poll it at once."""

    def disconnect_host(self, uri: str, refresh: bool = True) -> None:
        """Remove a host from the session."""

    def connection_store(self) -> ConnectionStore:
        """The saved-connections file of this session (blocking: use it in a worker)."""

    def set_migrating(self, uuid: str, moving: bool) -> None:
        """Say a guest is (no longer) moving: meanwhile it is on neither host's poll."""

    def record_bulk(self, run: Any) -> None:
        """Keep the last finished bulk run (its outcomes) for the summary and the tests."""


def services(node: DOMNode) -> Services:
    """The running app's services, for a screen or widget (``services(self).hosts``)."""
    return cast(Services, node if isinstance(node, App) else node.app)
