"""What the screens of one host's objects share (its networks, its storage pools): the host
they show, its connection, the XML editor for the selected object, and escape."""

from __future__ import annotations

from typing import Protocol

from vmtui.backend import Hypervisor
from vmtui.backend.xmledit import NOUNS
from vmtui.control.services import services
from vmtui.screens.hostview import HostView
from vmtui.screens.xmledit import XmlEditScreen


class Defined(Protocol):
    """A libvirt object with a definition to edit (a network, a storage pool)."""

    @property
    def uuid(self) -> str: ...

    @property
    def name(self) -> str: ...


class OneHostScreen(HostView):
    """The objects of the host ``uri``: reads and changes go to that host's connection."""

    def __init__(self, uri: str) -> None:
        super().__init__()
        self.uri = uri

    def _hv(self) -> Hypervisor:
        return services(self).hypervisor_for_uri(self.uri)

    def edit_xml(self, kind: str, item: Defined | None) -> None:
        """The selected object's XML in the editor (diff, then define with validation)."""
        if item is None:
            self.notify(f"No {NOUNS[kind]} is selected.", severity="warning", timeout=3)
            return
        self.app.push_screen(XmlEditScreen(kind, item.uuid, item.name, self.uri))

    def action_back(self) -> None:
        self.dismiss()
