"""What the dashboard and the guest screen share: guest actions, their keys and palette commands."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.screen import Screen

from vmtui.backend import GuestInfo, GuestState, Snapshot
from vmtui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from vmtui.app import VmtuiApp

# Actions that change state: hidden (and refused) on a read-only connection.
# (A console needs a read-write connection too: libvirt refuses it on a read-only one.)
MUTATING = frozenset(
    {
        "start",
        "shutdown",
        "reboot",
        "force_off",
        "pause",
        "resume",
        "autostart",
        "delete",
        "console",
        "tags",  # --- power
        # --- alloc
        "allocation",
        # --- snapclone
        "edit_xml",
        "clone",
        # --- create
        "new_guest",
        "migrate",
    }
)


class HostView(Screen[None]):
    """A screen that shows data from the host's polls."""

    @property
    def vmtui(self) -> VmtuiApp:
        return cast("VmtuiApp", self.app)

    def show_snapshot(self, snapshot: Snapshot | None) -> None:
        """Called by the app after each poll (``None`` when the host changes)."""


class GuestActionScreen(HostView):
    """A screen with a current guest and one key per action on it."""

    BINDINGS = [
        Binding("s", "start", "Start"),
        Binding("d", "shutdown", "Shut down"),
        # 80 columns hold only so much footer: the rest is in ? (help) and ctrl+p (palette).
        Binding("r", "reboot", "Reboot", show=False),
        Binding("F", "force_off", "Force off"),
        Binding("p", "pause", "Pause", show=False),
        Binding("u", "resume", "Resume", show=False),
        Binding("a", "autostart", "Autostart", show=False),
        Binding("D", "delete", "Delete", show=False),
        Binding("c", "console", "Console"),
        Binding("v", "display", "Screen", show=False),
        # --- isolation
        Binding("i", "isolation", "Isolation", show=False),
        # --- power
        Binding("t", "tags", "Tags", show=False),
        # --- alloc
        Binding("A", "allocation", "Allocation", show=False),
        # --- snapclone
        Binding("S", "snapshots", "Snapshots", show=False),
        Binding("e", "edit_xml", "Edit XML", show=False),
        Binding("K", "clone", "Clone", show=False),
        # --- migrate
        Binding("m", "migrate", "Migrate", show=False),
    ]

    def current_guest(self) -> GuestInfo | None:
        raise NotImplementedError

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Changing actions are hidden from the footer, the help and the palette when read-only.
        return not (action in MUTATING and self.vmtui.readonly)

    def selected_guest(self) -> GuestInfo | None:
        """The current guest, or None after saying that no guest is selected."""
        guest = self.current_guest()
        if guest is None:
            self.notify("No guest is selected.", severity="warning", timeout=3)
        return guest

    def _run(self, action: str) -> None:
        guest = self.selected_guest()
        if guest is None:
            return
        self.vmtui.guest_action(action, guest.uuid, guest.name)

    def action_start(self) -> None:
        self._run("start")

    def action_shutdown(self) -> None:
        self._run("shutdown")

    def action_reboot(self) -> None:
        self._run("reboot")

    def action_pause(self) -> None:
        self._run("pause")

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
            self.notify(f"Guest {guest.name} is not running.", markup=False, timeout=3)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.vmtui.guest_action("force_off", guest.uuid, guest.name)

        self.app.push_screen(
            ConfirmScreen(
                f"Force off {guest.name}?",
                "This cuts the guest's power at once, like pulling the plug. Whatever it has "
                "not written to its disks (open files, caches, unsaved work) is lost. Its disks "
                "and definition stay.",
                confirm="Force off",
            ),
            answered,
        )

    def action_console(self) -> None:
        guest = self.current_guest()
        if guest is None:
            return
        if not guest.is_active:
            self.notify(
                f"Guest {guest.name} is not running; start it (s) to use its console.",
                markup=False,
                timeout=4,
            )
            return
        self.vmtui.open_console(guest.uuid, guest.name)

    def action_display(self) -> None:
        from vmtui.screens.display import DisplayScreen

        guest = self.current_guest()
        if guest is None:
            return
        if not guest.graphics:
            self.notify(
                f"Guest {guest.name} has no graphical display; use its console (c).",
                markup=False,
                timeout=4,
            )
            return
        if not guest.is_active:
            self.notify(
                f"Guest {guest.name} is not running; start it (s) to see its screen.",
                markup=False,
                timeout=4,
            )
            return
        self.app.push_screen(DisplayScreen(guest.uuid, guest.name))

    def action_delete(self) -> None:
        guest = self.current_guest()
        if guest is not None:
            self.vmtui.ask_delete(guest.uuid)

    # --- isolation
    def action_isolation(self) -> None:
        from vmtui.screens.isolation import IsolationScreen

        guest = self.selected_guest()
        if guest is None:
            return
        self.app.push_screen(IsolationScreen(guest.uuid, guest.name))

    # --- power
    def targets(self) -> list[GuestInfo]:
        """The guests a bulk-capable action (t, :commands without a name) acts on: the marked
        set where a screen has one, else the current guest."""
        guest = self.current_guest()
        return [guest] if guest is not None else []

    def action_tags(self) -> None:
        from vmtui.screens.bulk import ask_tags

        ask_tags(self.vmtui, self.targets())

    # --- alloc
    def action_allocation(self) -> None:
        from vmtui.screens.allocation import AllocationScreen

        guest = self.selected_guest()
        if guest is None:
            return
        self.app.push_screen(AllocationScreen(guest.uuid, guest.name))

    # --- snapclone
    def action_snapshots(self) -> None:
        from vmtui.screens.snapshots import SnapshotsScreen

        guest = self.selected_guest()
        if guest is None:
            return
        self.app.push_screen(SnapshotsScreen(guest.uuid, guest.name))

    def action_clone(self) -> None:
        from vmtui.screens.clone import CloneScreen

        guest = self.selected_guest()
        if guest is None:
            return
        if guest.state.is_active and guest.state is not GuestState.PAUSED:
            self.notify(
                f"Guest {guest.name} is {guest.state.label}: shut it down or pause it to clone it.",
                markup=False,
                timeout=5,
            )
            return
        self.app.push_screen(CloneScreen(guest.uuid, guest.name))

    def action_edit_xml(self) -> None:
        from vmtui.screens.xmledit import XmlEditScreen

        guest = self.selected_guest()
        if guest is None:
            return
        self.app.push_screen(XmlEditScreen("domain", guest.uuid, guest.name, guest.host))

    # --- migrate
    def action_migrate(self) -> None:
        from vmtui.screens.migrate import MigrateScreen

        guest = self.selected_guest()
        if guest is None:
            return
        source = self.vmtui.uri_of(guest.uuid) or self.vmtui.uri
        targets = [uri for uri in self.vmtui.hosts if uri != source]
        if not targets:
            self.notify(
                "Only one host is connected: connect another (H, or -c URI) to move guests there.",
                timeout=5,
            )
            return
        self.app.push_screen(MigrateScreen(guest, source, targets))


def _available(guest: GuestInfo) -> list[tuple[str, str, str]]:
    """(action, title, help) for what makes sense in the guest's state."""
    out = []
    state = guest.state
    if not state.is_active:
        out.append(("start", "Start", "Boot the guest (or restore its saved state)"))
    if state in (GuestState.RUNNING, GuestState.BLOCKED):
        out += [
            ("shutdown", "Shut down", "Ask the guest's OS to power off (ACPI)"),
            ("reboot", "Reboot", "Ask the guest's OS to restart"),
            ("pause", "Pause", "Freeze the guest's vCPUs"),
        ]
    if state is GuestState.PAUSED:
        out.append(("resume", "Resume", "Let the paused guest run again"))
    if state.is_active:
        out.append(("force_off", "Force off", "Cut the guest's power (asks first)"))
    out.append(
        (
            "autostart",
            "Turn autostart " + ("off" if guest.autostart else "on"),
            "Start the guest when the host boots, or not",
        )
    )
    if state.is_active and guest.graphics:
        out.append(("display", "Screen", "Show the guest's display in the terminal"))
    if state.is_active:
        out.append(("console", "Console", "Attach to the guest's serial console (ctrl+] detaches)"))
    out.append(("delete", "Delete", "Remove the guest, and the disks you tick (asks first)"))
    # --- alloc
    out.append(("allocation", "Allocation of", "vCPUs, memory, CPU pinning and limits"))
    # --- migrate
    out.append(("migrate", "Migrate", "Move the guest to another connected host"))
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
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
