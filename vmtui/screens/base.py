"""What the dashboard and the guest screen share: guest actions, their keys and palette commands.

The keys, the footer, `?` and the palette all come from the one catalogue of guest actions
(``core/actions.py``). Power actions, consoles and deletes go up to the app as messages; the
guest's own tools (isolation, allocation, snapshots, …) are screens pushed from here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher
from textual.screen import Screen

from vmtui.backend import GuestInfo, GuestState
from vmtui.control.messages import GuestActionRequested
from vmtui.control.services import services
from vmtui.core.actions import ACTIONS, CATALOGUE, offered
from vmtui.core.actions import MUTATING as CATALOGUE_MUTATING
from vmtui.screens import bulk, sandbox
from vmtui.screens.allocation import AllocationScreen
from vmtui.screens.archive import ExportScreen
from vmtui.screens.backups import BackupsScreen
from vmtui.screens.clone import CloneScreen
from vmtui.screens.confirm import ConfirmScreen, guest_identity
from vmtui.screens.disks import DisksScreen
from vmtui.screens.display import DisplayScreen
from vmtui.screens.hostdevices import HostDevicesScreen
from vmtui.screens.inside import InsideActions
from vmtui.screens.isolation import IsolationScreen
from vmtui.screens.machine import MachineScreen
from vmtui.screens.migrate import MigrateScreen
from vmtui.screens.snapshots import SnapshotsScreen
from vmtui.screens.xmledit import XmlEditScreen


class GuestActionScreen(InsideActions):  # a HostView, with x, w, I from inside.py
    """A screen with a current guest and one key per action on it."""

    # 80 columns hold only so much footer: the rest is in ? (help) and ctrl+p (palette).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(a.key, a.name, a.description, show=a.show) for a in CATALOGUE if a.key
    ]
    MUTATING = CATALOGUE_MUTATING  # changing actions: hidden when read-only

    def current_guest(self) -> GuestInfo | None:
        raise NotImplementedError

    def _say(self, sentence: str, timeout: float = 4) -> None:
        """Why an action does nothing now (a guest's name is data: no markup)."""
        self.notify(sentence, markup=False, timeout=timeout)

    def selected_guest(self) -> GuestInfo | None:
        """The current guest, or None after saying that no guest is selected."""
        guest = self.current_guest()
        if guest is None:
            self.notify("No guest is selected.", severity="warning", timeout=3)
        return guest

    def _open(self, screen: Callable[[GuestInfo], Screen[Any]]) -> None:
        """Push one of the selected guest's own screens (isolation, snapshots, …), or say
        that no guest is selected."""
        guest = self.selected_guest()
        if guest is not None:
            self.app.push_screen(screen(guest))

    def _run(self, action: str) -> None:
        guest = self.selected_guest()
        if guest is None:
            return
        self.post_message(GuestActionRequested(action, guest.uuid, guest.name))

    def action_start(self) -> None:
        self._run("start")

    def action_shutdown(self) -> None:
        self._run("shutdown")

    def action_reboot(self) -> None:
        self._run("reboot")

    def action_pause(self) -> None:
        self._run("pause")

    def action_managed_save(self) -> None:
        self._run("managed_save")

    def action_resume(self) -> None:
        self._run("resume")

    def action_autostart(self) -> None:
        guest = self.current_guest()
        if guest is not None:
            self._run("autostart_off" if guest.autostart else "autostart_on")

    def action_force_off(self) -> None:
        guest = self.current_guest()
        if guest is None:
            return
        if not guest.is_active:
            self._say(f"Guest {guest.name} is not running.", 3)
            return
        ConfirmScreen(
            f"Force off {guest.name}?",
            "This cuts the guest's power at once, like pulling the plug. Whatever it has "
            "not written to its disks (open files, caches, unsaved work) is lost. Its disks "
            "and definition stay.",
            confirm="Force off",
            identity=guest_identity(guest),
        ).ask(
            self.app,
            lambda: self.post_message(GuestActionRequested("force_off", guest.uuid, guest.name)),
        )

    def _if_running(self, guest: GuestInfo | None, to: str) -> GuestInfo | None:
        """The guest when it runs; else None, after saying it must be started ``to`` …"""
        if guest is not None and not guest.is_active:
            self._say(f"Guest {guest.name} is not running; start it (s) to {to}.")
            return None
        return guest

    def action_console(self) -> None:
        guest = self._if_running(self.current_guest(), "use its console")
        if guest is not None:
            self.post_message(GuestActionRequested("console", guest.uuid, guest.name))

    def _still_reading(self, guests: Sequence[GuestInfo]) -> bool:
        """Whether a guest's XML is still being read (its first poll), after saying so: an
        action that shows or keeps what the XML says (tags to edit, a display) waits for it
        rather than take "not read yet" for "none"."""
        waiting = [g.name for g in guests if not g.loaded]
        if waiting:
            who = waiting[0] if len(waiting) == 1 else f"{len(waiting)} guests"
            self._say(f"Still reading the details of {who}; try again in a moment.", 3)
        return bool(waiting)

    def action_display(self) -> None:
        guest = self.current_guest()
        if guest is not None and self._still_reading([guest]):
            return
        if guest is not None and not guest.graphics:
            self._say(f"Guest {guest.name} has no graphical display; use its console (c).")
            return
        guest = self._if_running(guest, "see its screen")
        if guest is not None:
            self.app.push_screen(DisplayScreen(guest.uuid, guest.name))

    def action_delete(self) -> None:
        guest = self.current_guest()
        if guest is not None:
            self.post_message(GuestActionRequested("delete", guest.uuid, guest.name))

    def action_isolation(self) -> None:
        self._open(lambda g: IsolationScreen(g.uuid, g.name))

    def targets(self) -> list[GuestInfo]:
        """The guests a bulk-capable action (t, :commands without a name) acts on: the marked
        set where a screen has one, else the current guest."""
        guest = self.current_guest()
        return [guest] if guest is not None else []

    def hidden_uuids(self, guests: Sequence[GuestInfo]) -> frozenset[str]:
        """Which of these guests the screen's filter hides (none here; the dashboard's has one)."""
        return frozenset()

    def action_tags(self) -> None:
        targets = self.targets()
        if self._still_reading(targets):  # the dialog starts from the tags the guest has
            return
        bulk.ask_tags(self.app, targets, self.hidden_uuids(targets))

    def action_allocation(self) -> None:
        self._open(lambda g: AllocationScreen(g.uuid, g.name))

    def action_snapshots(self) -> None:
        self._open(lambda g: SnapshotsScreen(g.uuid, g.name))

    def action_disks(self) -> None:
        self._open(lambda g: DisksScreen(g.uuid, g.name))

    def action_backups(self) -> None:
        self._open(lambda g: BackupsScreen(g.uuid, g.name))

    def action_machine(self) -> None:
        self._open(lambda g: MachineScreen(g.uuid, g.name))

    def action_clone(self) -> None:
        guest = self.selected_guest()
        if guest is None:
            return
        if guest.state.is_active and guest.state is not GuestState.PAUSED:
            self._say(
                f"Guest {guest.name} is {guest.state.label}: shut it down or pause it to clone it.",
                5,
            )
            return
        self.app.push_screen(CloneScreen(guest.uuid, guest.name))

    def action_edit_xml(self) -> None:
        self._open(lambda g: XmlEditScreen("domain", g.uuid, g.name, g.host))

    def action_host_devices(self) -> None:
        self._open(lambda g: HostDevicesScreen(g.uuid, g.name))

    def action_export(self) -> None:
        guest = self.selected_guest()
        if guest is None:
            return
        if guest.is_active:
            self._say(f"Guest {guest.name} is {guest.state.label}: shut it down to export it.")
            return
        self.app.push_screen(ExportScreen(guest.uuid, guest.name))

    def action_sandbox(self) -> None:
        guest = self.selected_guest()
        if guest is not None:
            sandbox.ask(self.app, guest)

    def action_migrate(self) -> None:
        guest = self.selected_guest()
        if guest is None:
            return
        source = services(self).uri_of(guest.uuid) or services(self).uri
        targets = [uri for uri in services(self).hosts if uri != source]
        if not targets:
            self.notify(
                "Only one host is connected: connect another (H, or -c URI) to move guests there.",
                timeout=5,
            )
            return
        self.app.push_screen(MigrateScreen(guest, source, targets))


def _offered(guest: GuestInfo) -> list[str]:
    """Every catalogue action that makes sense in the guest's state, in catalogue order (the
    same list the keys use: core/actions.py ``offered``)."""
    state = guest.state
    return offered(
        active=state.is_active,
        running=state in (GuestState.RUNNING, GuestState.BLOCKED),
        paused=state is GuestState.PAUSED,
        graphics=bool(guest.graphics),
        agent=guest.agent_connected,
    )


def _available(guest: GuestInfo) -> list[tuple[str, str, str]]:
    """(action, title, help) for what makes sense in the guest's state."""
    out = []
    for name in _offered(guest):
        action = ACTIONS[name]
        title = action.palette_title
        if name == "autostart":
            title = "Turn autostart " + ("off" if guest.autostart else "on")
        out.append((name, title, action.help))
    return out


class GuestCommands(Provider):
    """Command palette entries: every action on the selected guest."""

    def _targets(self) -> tuple[GuestActionScreen, GuestInfo] | None:
        screen = self.screen
        if not isinstance(screen, GuestActionScreen):
            return None
        guest = screen.current_guest()
        return (screen, guest) if guest is not None else None

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        found = self._targets()
        if found is None:
            return []
        screen, guest = found
        out: list[tuple[str, str, Callable[[], object]]] = []
        for action, title, help_text in _available(guest):
            if screen.check_action(action, ()) is False:
                continue
            out.append((f"{title} {guest.name}", help_text, partial(screen.run_action, action)))
        return out

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(Content(title), callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, plain_highlight(matcher, title), callback, help=help_text)


def plain_highlight(matcher: Matcher, title: str) -> Content:
    """``matcher.highlight`` without reading ``title`` as markup: a guest's name is data
    (``[@click=app.quit]`` in a name became a clickable action in the palette)."""
    content = Content(title)
    _score, offsets = matcher.fuzzy_search.match(matcher.query, title)
    for offset in offsets:
        if not title[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content
