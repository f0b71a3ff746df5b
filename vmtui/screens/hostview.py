"""The base of every screen that shows data from the hosts' polls."""

from __future__ import annotations

from typing import ClassVar, Generic, Protocol, TypeVar

from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static

from vmtui.backend import GuestState, Hypervisor, Snapshot
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


class _GuestData(Protocol):
    @property
    def state(self) -> GuestState: ...


D = TypeVar("D", bound=_GuestData)


class GuestDataView(HostView, Generic[D]):
    """A screen about one guest's data (its disks, its snapshots), read through the runner:
    when mounted, and again when a poll shows the guest's state changed (started, stopped);
    a read that fails is said in the screen's ``DETAIL`` line. A screen gives ``read`` (in a
    worker), ``reading`` (for "Could not read …") and ``show_data`` (on the UI thread)."""

    DETAIL: ClassVar[str]  # the selector of the Static that says a failed read

    def __init__(self, uuid: str, name: str) -> None:
        super().__init__()
        self.uuid = uuid
        self.guest_name = name
        self.data: D | None = None
        self.loads = 0  # reads shown (tests wait on it)
        self._loading = False

    def read(self, hv: Hypervisor) -> D:
        raise NotImplementedError

    @property
    def reading(self) -> str:
        raise NotImplementedError

    def show_data(self, data: D) -> None:
        raise NotImplementedError

    def show_snapshot(self, snapshot: Snapshot | None) -> None:
        """A poll: read again when the guest started or stopped."""
        if snapshot is None or self.data is None:
            return
        guest = next((g for g in snapshot.guests if g.uuid == self.uuid), None)
        if guest is not None and guest.state is not self.data.state and not self._loading:
            self.reload()

    def reload(self) -> None:
        self._loading = True
        hv = services(self).hypervisor_for(self.uuid)
        services(self).runner.run(
            lambda: self.read(hv), done=self._loaded, failed=self._failed, what=self.reading
        )

    def _loaded(self, data: D) -> None:
        self._loading = False
        self.data = data
        self.loads += 1
        self.show_data(data)

    def _failed(self, error: str) -> None:
        self._loading = False
        self.query_one(self.DETAIL, Static).update(Text(error, style="red"))
