"""Inside the guest: the guest agent's screen (what it reports, what it can do), the guest's
addresses as the guest screen shows them, and the keys that reach in (run a command, ssh).

``InsideActions`` is the part of ``GuestActionScreen`` (screens/base.py) that holds these
actions: ``x`` runs a command in the guest or the marked guests (screens/exec.py), ``w`` logs
in with ssh (the app suspends while ssh runs), ``I`` opens ``AgentScreen``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Input, Label, Static

from vmtui.backend import GuestInfo, guestlogin
from vmtui.backend import agent as agent_calls
from vmtui.backend.addresses import VIRSH_SOURCE
from vmtui.backend.agent import AgentInfo
from vmtui.backend.guestlogin import SshTarget
from vmtui.control.services import services
from vmtui.core import format as fmt
from vmtui.core.safetext import safe_text
from vmtui.core.sshcmd import SshCommandError, ssh_command
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.exec import READ_ONLY, ExecScreen
from vmtui.screens.form import FormScreen
from vmtui.screens.hostview import HostView

SOURCE_WORDS = {"agent": "guest agent", "lease": "DHCP lease", "arp": "host's ARP table"}
AGENT_WORDS = {"connected": "connected", "disconnected": "not connected"}


def agent_line(guest: GuestInfo) -> Text:
    """The guest agent's state in a few words (the guest screen's overview)."""
    if not guest.has_agent:
        return Text("no agent channel (add org.qemu.guest_agent.0 to use one)", style="dim")
    if not guest.is_active:
        return Text("channel present; the guest is not running", style="dim")
    word = AGENT_WORDS.get(guest.agent_state, guest.agent_state or "unknown")
    return Text(word, style="green" if guest.agent_connected else "yellow")


def addresses_part(guest: GuestInfo) -> Text | Table:
    """Every address per NIC and where it came from, or why there is none."""
    if not guest.is_active:
        return Text("Addresses: the guest is not running.", style="dim")
    found = guest.addresses
    if found is None:
        if not guest.nics and not guest.agent_connected:
            return Text("Addresses: none (the guest has no network card).", style="dim")
        return Text("Addresses: not read yet.", style="dim")
    if not found.all:
        return Text(found.why_none or "No address known.", style="dim")
    table = Table(
        "Interface",
        "MAC",
        "Addresses",
        box=None,
        padding=(0, 1),
        title_justify="left",
        title=f"Addresses (from the {SOURCE_WORDS.get(found.source, found.source)})",
    )
    for nic in found.nics:
        table.add_row(
            Text(safe_text(nic.name)),
            Text(safe_text(nic.mac)),
            Text(safe_text(", ".join(nic.addresses)) or "no address"),
        )
    return table


def agent_info_part(info: AgentInfo) -> Group:
    """What the agent reported (all of it guest data: Text, never markup)."""
    kv = Table.grid(padding=(0, 2))
    kv.add_column(style="bold", no_wrap=True)
    kv.add_column(overflow="fold")
    os_text = info.os_pretty or " ".join(x for x in (info.os_name, info.os_version) if x)
    kv.add_row("OS", Text(safe_text(os_text) or fmt.DASH))
    if info.kernel:
        kv.add_row("Kernel", Text(safe_text(info.kernel)))
    kv.add_row("Hostname", Text(safe_text(info.hostname) or fmt.DASH))
    tz = info.timezone or fmt.DASH
    if info.tz_offset is not None:
        hours, rest = divmod(abs(info.tz_offset), 3600)
        sign = "+" if info.tz_offset >= 0 else "-"
        tz += f" (UTC{sign}{hours:02d}:{rest // 60:02d})"
    kv.add_row("Timezone", Text(safe_text(tz)))
    users = ", ".join(u.name + (f"@{u.domain}" if u.domain else "") for u in info.users)
    kv.add_row("Logged in", Text(safe_text(users) or "nobody"))
    fs = Table("Mount point", "Device", "Type", "Used", "Size", box=None, padding=(0, 1))
    for f in info.filesystems:
        used = fmt.size(f.used_bytes) if f.used_bytes is not None else fmt.DASH
        total = fmt.size(f.total_bytes) if f.total_bytes is not None else fmt.DASH
        fs.add_row(
            Text(safe_text(f.mountpoint)),
            Text(safe_text(f.name)),
            Text(safe_text(f.fstype)),
            used,
            total,
        )
    parts: list[Text | Table] = [kv, Text("")]
    parts.append(fs if info.filesystems else Text("No filesystems reported.", style="dim"))
    return Group(*parts)


class AgentInfoLoader:
    """The agent's report for the guest screen: asked for (in a worker) whenever the agent
    (re)connects, so the screen shows OS, hostname, timezone, users and filesystems."""

    def __init__(self, screen: Screen[Any], uuid: str, shown: Callable[[], None]) -> None:
        self.screen = screen
        self.uuid = uuid
        self.shown = shown  # called on the UI thread when the report (or a sentence) arrives
        self.info: AgentInfo | None = None
        self.problem = ""
        self.version = 0  # bumped with every answer (the screen redraws on a change)
        self._state: str | None = None  # the agent state last asked for

    def update(self, guest: GuestInfo) -> None:
        state = guest.agent_state if guest.is_active else ""
        if state == self._state:
            return
        self._state = state
        svc = services(self.screen)
        if not guest.agent_connected or svc.readonly:
            self.info, self.problem = None, ""
            self.version += 1
            return
        hv = svc.hypervisor_for(self.uuid)
        uuid = self.uuid
        svc.runner.run(
            lambda: agent_calls.guest_info(hv, uuid),
            done=self._answered,
            failed=self._failed,
            what=f"ask the guest agent of {guest.name}",
        )

    def _answered(self, info: AgentInfo) -> None:
        self.info, self.problem = info, ""
        self.version += 1
        self.shown()

    def _failed(self, sentence: str) -> None:
        self.info, self.problem = None, sentence
        self.version += 1
        self.shown()

    def part(self) -> Group | Text | None:
        if self.info is not None:
            title = Text("Inside the guest (its agent says)", style="bold")
            return Group(title, agent_info_part(self.info))
        if self.problem:
            return Text(self.problem, style="yellow")
        return None


class ViaScreen(ModalScreen[str | None]):
    """Shut down / reboot: through the guest agent or the ACPI power button?"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "pick('agent')", "Agent", show=False),
        Binding("p", "pick('acpi')", "ACPI", show=False),
        Binding("escape,n", "pick('')", "Cancel", show=False),
    ]

    def __init__(self, verb: str, name: str) -> None:
        super().__init__()
        self.verb = verb
        self.guest_name = name

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(f"{self.verb.capitalize()} {self.guest_name}", id="title", markup=False)
            yield Static(
                "Through the guest agent (the guest's OS does it, no ACPI needed), or by "
                "pressing the virtual power button (ACPI)?",
                markup=False,
            )
            with Horizontal(classes="buttons"):
                yield Button("Guest agent (a)", variant="primary", id="via-agent")
                yield Button("ACPI (p)", id="via-acpi")
                yield Button("Cancel", id="via-cancel")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_pick((event.button.id or "").removeprefix("via-").replace("cancel", ""))

    def action_pick(self, via: str) -> None:
        self.dismiss(via or None)


class PasswordForm(FormScreen[tuple[str, str]]):
    """A user name and a password (masked; never logged, never shown again)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.guest_name = name

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(f"Set a password in {self.guest_name}", id="title", markup=False)
            yield Input(placeholder="user (e.g. root)", id="pw-user")
            yield Input(placeholder="new password", password=True, id="pw-password")
            yield Input(placeholder="the same again", password=True, id="pw-again")
            yield from self.foot("Set password")

    def unsaved_work(self) -> str | None:
        return None  # never keep a password around to ask about it

    def submit(self) -> None:
        user = self.query_one("#pw-user", Input).value.strip()
        password = self.query_one("#pw-password", Input).value
        again = self.query_one("#pw-again", Input).value
        if not user:
            self.say("Type the user whose password to set.", near="pw-user")
        elif not password:
            self.say("Type the new password.", near="pw-password")
        elif password != again:
            self.say("The two passwords differ; type them again.", near="pw-again")
        else:
            self.dismiss((user, password))


class LoginForm(FormScreen[guestlogin.Login]):
    """The guest's ssh login (user, port), kept in its own metadata like the tags."""

    def __init__(self, name: str, login: guestlogin.Login) -> None:
        super().__init__()
        self.guest_name = name
        self.login = login

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(f"ssh login for {self.guest_name}", id="title", markup=False)
            yield Input(self.login.user, placeholder="user (empty: the config's)", id="lg-user")
            yield Input(str(self.login.port or ""), placeholder="port (empty: 22)", id="lg-port")
            yield from self.foot("Save")

    def submit(self) -> None:
        user = self.query_one("#lg-user", Input).value.strip()
        port_text = self.query_one("#lg-port", Input).value.strip()
        port = int(port_text) if port_text.isdigit() else None
        if port_text and (port is None or not 1 <= port <= 65535):
            self.say("The port is a number from 1 to 65535.", near="lg-port")
            return
        if user:
            try:
                ssh_command("127.0.0.1", user=user)
            except SshCommandError as err:
                self.say(err.message, near="lg-user")
                return
        self.dismiss(guestlogin.Login(user, port))


class AgentScreen(Screen[None]):
    """The guest agent: what it reports about the guest, and what it can do there."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("R", "refresh", "Refresh"),
        Binding("d", "power('shutdown')", "Shut down"),
        Binding("r", "power('reboot')", "Reboot"),
        Binding("p", "password", "Set password"),
        Binding("t", "sync_time", "Set clock"),
        Binding("f", "freeze", "Freeze fs", show=False),
        Binding("T", "thaw", "Thaw fs", show=False),
    ]
    DEFAULT_CSS = """
    AgentScreen #agent-title { padding: 0 1; text-style: bold; }
    AgentScreen #agent-body { padding: 0 1; }
    """

    def __init__(self, uuid: str, name: str) -> None:
        super().__init__()
        self.uuid = uuid
        self.guest_name = name
        self.info: AgentInfo | None = None
        self.problem = ""

    def compose(self) -> ComposeResult:
        yield Static(f"Guest agent of {self.guest_name}", id="agent-title", markup=False)
        with VerticalScroll():
            yield Static(Text("Asking the guest agent…", style="dim"), id="agent-body")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.action_refresh()

    def _body(self) -> Static:
        return self.query_one("#agent-body", Static)

    def action_refresh(self) -> None:
        svc = services(self)
        hv = svc.hypervisor_for(self.uuid)
        uuid = self.uuid
        svc.runner.run(
            lambda: agent_calls.guest_info(hv, uuid),
            done=self._show_info,
            failed=self._show_problem,
            what=f"ask the guest agent of {self.guest_name}",
        )

    def _show_info(self, info: AgentInfo) -> None:
        self.info, self.problem = info, ""
        if self.is_mounted:
            self._body().update(agent_info_part(info))

    def _show_problem(self, sentence: str) -> None:
        self.info, self.problem = None, sentence
        if self.is_mounted:
            self._body().update(Text(sentence, style="red"))

    def _act(self, what: str, call: object, words: list[str], success: str) -> None:
        svc = services(self)
        if svc.readonly:
            self.notify(READ_ONLY, markup=False, severity="warning")
            return
        svc.runner.run(
            call,  # type: ignore[arg-type]
            what=what,
            success=success,
            command=words,
            host=svc.uri_of(self.uuid) or svc.uri,
        )

    def action_power(self, action: str) -> None:
        verb = "shut down" if action == "shutdown" else "reboot"
        name, uuid = self.guest_name, self.uuid

        def chosen(via: str | None) -> None:
            if not via:
                return
            hv = services(self).hypervisor_for(uuid)
            call = agent_calls.shutdown if action == "shutdown" else agent_calls.reboot
            self._act(
                f"{verb} {name}",
                lambda: call(hv, uuid, via),
                agent_calls.power_words(action, name, via),
                f"Guest {name} asked to {verb} ({'guest agent' if via == 'agent' else 'ACPI'}).",
            )

        self.app.push_screen(ViaScreen(verb, name), chosen)

    def action_password(self) -> None:
        name, uuid = self.guest_name, self.uuid

        def chosen(answer: tuple[str, str]) -> None:
            user, password = answer
            hv = services(self).hypervisor_for(uuid)
            self._act(
                f"set the password of {user} in {name}",
                lambda: agent_calls.set_password(hv, uuid, user, password),
                agent_calls.password_words(name, user),
                f"Password of {user} set in {name}.",
            )

        PasswordForm(name).ask(self.app, chosen)

    def action_sync_time(self) -> None:
        hv = services(self).hypervisor_for(self.uuid)
        uuid, name = self.uuid, self.guest_name
        self._act(
            f"set the clock of {name}",
            lambda: agent_calls.sync_time(hv, uuid),
            ["domtime", name, "--sync"],
            f"The clock of {name} was set from the host's.",
        )

    def action_freeze(self) -> None:
        hv = services(self).hypervisor_for(self.uuid)
        uuid, name = self.uuid, self.guest_name
        ConfirmScreen(
            f"Freeze the filesystems of {name}?",
            "Every write in the guest waits until you thaw them (T): programs that write "
            "hang meanwhile. Use it around a backup or a snapshot of the disks.",
            confirm="Freeze",
        ).ask(
            self.app,
            lambda: self._act(
                f"freeze the filesystems of {name}",
                lambda: agent_calls.freeze(hv, uuid),
                ["domfsfreeze", name],
                f"Filesystems of {name} frozen; thaw them with T.",
            ),
        )

    def action_thaw(self) -> None:
        hv = services(self).hypervisor_for(self.uuid)
        uuid, name = self.uuid, self.guest_name
        self._act(
            f"thaw the filesystems of {name}",
            lambda: agent_calls.thaw(hv, uuid),
            ["domfsthaw", name],
            f"Filesystems of {name} thawed.",
        )

    def action_back(self) -> None:
        self.dismiss()


class InsideActions(HostView):
    """Run a command (x), ssh (w) and the agent's screen (I), for GuestActionScreen."""

    def current_guest(self) -> GuestInfo | None:
        raise NotImplementedError

    def targets(self) -> list[GuestInfo]:
        guest = self.current_guest()
        return [guest] if guest is not None else []

    def action_exec(self) -> None:
        if services(self).readonly:
            self.notify(READ_ONLY, markup=False, severity="warning", timeout=6)
            return
        guests = self.targets()
        if not guests:
            self.notify("No guest is selected.", severity="warning", timeout=3)
            return
        off = [g.name for g in guests if not g.is_active]
        if off:
            self.notify(
                f"Not running, so no agent to run it: {', '.join(off)}.",
                markup=False,
                severity="warning",
                timeout=5,
            )
            guests = [g for g in guests if g.is_active]
        if guests:
            self.app.push_screen(ExecScreen(guests))

    def action_agent(self) -> None:
        guest = self.current_guest()
        if guest is None:
            self.notify("No guest is selected.", severity="warning", timeout=3)
            return
        if not guest.has_agent:
            self.notify(
                f"Guest {guest.name} has no guest agent channel (org.qemu.guest_agent.0).",
                markup=False,
                timeout=5,
            )
            return
        self.app.push_screen(AgentScreen(guest.uuid, guest.name))

    def action_ssh_login(self) -> None:
        guest = self.current_guest()
        if guest is None:
            self.notify("No guest is selected.", severity="warning", timeout=3)
            return
        svc = services(self)
        hv = svc.hypervisor_for(guest.uuid)
        uuid, name = guest.uuid, guest.name

        def save(login: guestlogin.Login) -> None:
            words = ["metadata", name, guestlogin.NS, "--key", guestlogin.KEY]
            xml = guestlogin.login_xml(login) if (login.user or login.port) else ""
            svc.runner.run(
                lambda: guestlogin.set_login(hv, uuid, login),
                what=f"set the ssh login of {name}",
                success=f"ssh login of {name} saved.",
                command=[*words, "--set", xml] if xml else [*words, "--remove"],
                host=svc.uri_of(uuid) or svc.uri,
            )

        svc.runner.run(
            lambda: guestlogin.read_login(hv, uuid),
            done=lambda login: LoginForm(name, login).ask(self.app, save),
            what=f"read the ssh login of {name}",
        )

    def action_ssh(self) -> None:
        guest = self.current_guest()
        if guest is None:
            self.notify("No guest is selected.", severity="warning", timeout=3)
            return
        svc = services(self)
        hv = svc.hypervisor_for(guest.uuid)
        uuid = guest.uuid
        config = svc.connection_store().path
        svc.runner.run(
            lambda: guestlogin.ssh_target(hv, uuid, config),
            done=lambda target: self.run_ssh(target, svc.uri_of(uuid) or svc.uri),
            what=f"find how to reach {guest.name}",
        )

    def run_ssh(self, target: SshTarget, host: str) -> None:
        """Hand the terminal to ssh (the app suspends) and come back when it exits."""
        svc = services(self)
        source = VIRSH_SOURCE.get(target.source, target.source)
        try:
            with self.app.suspend():
                code = subprocess.call(list(target.argv))
        except SuspendNotSupported:
            svc.activity.action(host, target.line, False, "This terminal cannot be handed over.")
            self.notify(
                f"vmtui cannot hand this terminal over to ssh; run it yourself: {target.line}",
                markup=False,
                severity="warning",
                timeout=10,
            )
            return
        except OSError as err:
            svc.activity.action(host, target.line, False, f"Could not run ssh: {err}.")
            self.notify(f"Could not run ssh: {err}.", markup=False, severity="error")
            return
        outcome = f"ssh to {target.address} (address from {source}) exited with {code}."
        svc.activity.action(host, target.line, code == 0, outcome)
        self.refresh(layout=True)
