"""The guest agent for real: Debian's qemu-ga in the tiny guest, on a real libvirtd.

Two agent guests boot once for the module (``agent_guests``); vmtui's own ``Hypervisor`` is
connected before they start, so the agent lifecycle events are seen. Guest A has a virtio NIC
on an isolated network without ``<ip>`` (nothing answers there, nothing leaves) and gives it
192.0.2.45/24 itself (``vmtui.ip=``): only the agent can know that address. Guest B is shut
down through its agent by the last test.
"""

from __future__ import annotations

import contextlib
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import libvirt
import pytest
from textual.widgets import Input, Static

from vmtui.app import VmtuiApp
from vmtui.backend import GuestEvent, GuestInfo, Hypervisor
from vmtui.backend import agent as agent_calls
from vmtui.backend.addresses import read_addresses
from vmtui.backend.agent import AgentUnavailable
from vmtui.backend.errors import VmtuiError
from vmtui.screens.exec import ExecScreen
from vmtui.screens.guest import GuestScreen
from vmtui.screens.inside import AgentScreen

from ..ui.helpers import text_of
from .conftest import _remove_domain, _remove_network, unique_domain_name
from .helpers import (
    AppWatch,
    assert_exited_cleanly,
    guest_table,
    select_guest,
    shown_row,
    wait_for,
)
from .tinyguest import TINY_USER, ConsoleReader, TinyGuest, start_with_console, tiny_domain_xml

BOOT = 120.0  # TCG on a busy machine; the agent answers ~1 s after the shell is up here
ADDRESS = "192.0.2.45"


@dataclass
class AgentGuests:
    hv: Hypervisor
    a: str  # uuids
    b: str
    names: dict[str, str]
    consoles: dict[str, ConsoleReader]
    events: list[GuestEvent] = field(default_factory=list)

    def guest(self, uuid: str) -> GuestInfo:
        found = self.hv.known_guest(uuid)
        assert found is not None, uuid
        return found


def _poll_until(hv: Hypervisor, ok: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        hv.poll()
        if ok():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g}s")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def agent_guests(libvirtd: str, tiny_guest_files: TinyGuest) -> Iterator[AgentGuests]:
    conn = libvirt.open(libvirtd)
    root = ET.Element("network")
    ET.SubElement(root, "name").text = unique_domain_name("net-agent")
    net = conn.networkDefineXML(ET.tostring(root, encoding="unicode"))
    doms: list[Any] = []
    consoles: dict[str, ConsoleReader] = {}
    events: list[GuestEvent] = []
    hv = Hypervisor(
        libvirtd, on_event=lambda e: events.append(e) if isinstance(e, GuestEvent) else None
    )
    try:
        net.create()
        nic = (
            f"<interface type='network'><source network='{net.name()}'/>"
            "<model type='virtio'/></interface>"
        )
        a_name = unique_domain_name("agent-a")
        b_name = unique_domain_name("agent-b")
        for name, extra, cmdline in (
            (a_name, nic, f"vmtui.hostname=vmtui-agent-a vmtui.ip={ADDRESS}/24"),
            (b_name, "", "vmtui.hostname=vmtui-agent-b"),
        ):
            xml = tiny_domain_xml(
                name, tiny_guest_files, agent=True, extra_devices_xml=extra, extra_cmdline=cmdline
            )
            doms.append(conn.defineXML(xml))
        hv.connect()  # before the guests start: their agent-connected events must be seen
        for dom in doms:
            consoles[dom.UUIDString()] = start_with_console(dom)
        guests = AgentGuests(
            hv,
            doms[0].UUIDString(),
            doms[1].UUIDString(),
            {d.UUIDString(): d.name() for d in doms},
            consoles,
            events,
        )
        for uuid in (guests.a, guests.b):
            consoles[uuid].wait_for_line("vmtui-tiny: guest agent started", BOOT)
        _poll_until(
            hv,
            lambda: all(guests.guest(u).agent_connected for u in (guests.a, guests.b)),
            BOOT,
            "both agents connected",
        )
        yield guests
    finally:
        hv.close()
        for reader in consoles.values():
            reader.close()
        for dom in doms:
            _remove_domain(dom)
        _remove_network(net)
        with contextlib.suppress(libvirt.libvirtError):
            conn.close()


def test_the_agent_connected_event_arrives_and_the_guest_shows_it(
    agent_guests: AgentGuests,
) -> None:
    g = agent_guests
    for uuid in (g.a, g.b):
        assert any(e.uuid == uuid and e.event == "agent connected" for e in g.events), g.events
        info = g.guest(uuid)
        assert info.has_agent and info.agent_state == "connected"


def test_guest_info_shows_the_hostname_the_guest_set(agent_guests: AgentGuests) -> None:
    g = agent_guests
    info = agent_calls.guest_info(g.hv, g.a)
    assert info.hostname == "vmtui-agent-a"
    assert info.os_name == "vmtui tiny"
    assert info.timezone == "UTC"
    assert agent_calls.guest_info(g.hv, g.b).hostname == "vmtui-agent-b"


def test_an_address_only_the_guest_knows_comes_from_the_agent(agent_guests: AgentGuests) -> None:
    g = agent_guests
    dom = g.hv.readable_conn().lookupByUUIDString(g.a)
    direct = read_addresses(dom, agent_connected=True)
    assert direct.source == "agent"
    assert ADDRESS in direct.all
    assert any(f"{ADDRESS}/24" in nic.addresses for nic in direct.nics)
    # and through the poll: read in the background, applied on a later tick
    g.hv.addresses.mark(g.a)
    _poll_until(
        g.hv,
        lambda: g.guest(g.a).addresses is not None and g.guest(g.a).ip == ADDRESS,
        30,
        "the address in the guest's info",
    )
    found = g.guest(g.a).addresses
    assert found is not None and found.source == "agent"


def test_guest_exec_returns_42_on_two_guests(agent_guests: AgentGuests) -> None:
    g = agent_guests
    for uuid in (g.a, g.b):
        result = agent_calls.run_command(g.hv, uuid, "echo $((6*7))", timeout=60)
        assert result.error == "" and not result.timed_out, result
        assert result.exit_code == 0
        assert result.stdout == b"42\n"


def test_exec_exit_code_stderr_and_escape_sequences(agent_guests: AgentGuests) -> None:
    g = agent_guests
    result = agent_calls.run_command(
        g.hv, g.a, r"printf '\033]52;c;SGVsbG8=\007\033[31mred\n'; echo oops >&2; exit 3"
    )
    assert result.exit_code == 3
    assert result.stderr == b"oops\n"
    assert result.stdout == b"\x1b]52;c;SGVsbG8=\x07\x1b[31mred\n"
    assert result.stdout_cut == 0 and result.stderr_cut == 0


def test_ten_megabytes_of_output_are_cut_in_the_guest(agent_guests: AgentGuests) -> None:
    g = agent_guests
    limit = agent_calls.OUTPUT_LIMIT
    result = agent_calls.run_command(
        g.hv, g.a, "head -c 10485760 /dev/zero | tr '\\0' x; echo done >&2", timeout=120
    )
    assert result.error == "", result.error
    assert result.exit_code == 0
    assert result.stdout == b"x" * limit
    # busybox's head reads a block ahead, so the count of what was cut may be a little short
    assert 10485760 - limit - 64 * 1024 <= result.stdout_cut <= 10485760 - limit
    assert result.stderr == b"done\n"


def test_an_exec_that_never_ends_times_out(agent_guests: AgentGuests) -> None:
    g = agent_guests
    result = agent_calls.run_command(g.hv, g.b, "sleep 600", timeout=2)
    assert result.timed_out and result.exit_code is None and result.pid is not None
    agent_calls.run_command(g.hv, g.b, f"kill {result.pid}; pkill sleep", timeout=30)


def test_set_password_of_a_busybox_user(agent_guests: AgentGuests) -> None:
    g = agent_guests
    before = agent_calls.run_command(g.hv, g.b, f"grep ^{TINY_USER}: /etc/shadow")
    assert before.stdout.startswith(f"{TINY_USER}:!:".encode())
    agent_calls.set_password(g.hv, g.b, TINY_USER, "s3cret pass")
    check = (
        f"h=$(grep ^{TINY_USER}: /etc/shadow | cut -d: -f2); salt=$(echo \"$h\" | cut -d'$' -f3);"
        ' [ "$(mkpasswd -m sha512 -S "$salt" "s3cret pass")" = "$h" ] && echo match'
    )
    result = agent_calls.run_command(g.hv, g.b, check)
    assert result.stdout == b"match\n", result
    assert agent_calls.password_words("b", TINY_USER)[-1] == "********"


def test_an_agent_that_never_answers_gives_a_sentence(agent_guests: AgentGuests) -> None:
    g = agent_guests
    console = g.consoles[g.a]
    console.run("kill -STOP $(pidof qemu-ga)")
    try:
        started = time.monotonic()
        with pytest.raises(AgentUnavailable) as err:
            agent_calls.guest_info(g.hv, g.a)
        assert "did not answer" in err.value.message
        assert time.monotonic() - started < 60  # libvirt gives up; nothing hangs
        result = agent_calls.run_command(g.hv, g.a, "true")
        assert "did not answer" in result.error
    finally:
        console.run("kill -CONT $(pidof qemu-ga)")
    # it answers again (libvirt re-syncs with the agent)
    deadline = time.monotonic() + 60
    while True:
        try:
            assert agent_calls.guest_info(g.hv, g.a).hostname == "vmtui-agent-a"
            break
        except VmtuiError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


async def test_agent_events_reach_the_table(libvirtd: str, agent_guests: AgentGuests) -> None:
    """The agent goes away and comes back in the guest: the table's Agt cell follows."""
    g = agent_guests
    console = g.consoles[g.a]
    app = VmtuiApp(libvirtd, interval=0.5)
    watch = AppWatch()
    async with app.run_test(size=(160, 40), message_hook=watch) as pilot:

        def agent_cell() -> str | None:
            return guest_table(app).shown_cell(g.a, "agent")

        await wait_for(pilot, lambda: agent_cell() == "on", 60, what="Agt on")
        await wait_for(
            pilot, lambda: guest_table(app).shown_cell(g.a, "ip") == ADDRESS, 60, what="IP cell"
        )
        console.run("kill $(pidof qemu-ga)")
        await wait_for(pilot, lambda: agent_cell() == "off", 60, what="Agt off")
        console.run(
            "(qemu-ga -m virtio-serial -p /dev/virtio-ports/org.qemu.guest_agent.0 -t /run &)"
        )
        await wait_for(pilot, lambda: agent_cell() == "on", 60, what="Agt on again")
        row = shown_row(app, g.a)
        assert row is not None
        logged = [e.text for e in app.activity if e.kind == "event"]
        assert any("agent disconnected" in t for t in logged), logged
        assert any("agent connected" in t for t in logged), logged
        # the guest screen shows what the agent reports (OS, hostname …), and I its screen
        select_guest(app, g.a)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, GuestScreen), 30, what="guest")
        body = app.screen.query_one("#overview-body", Static)
        await wait_for(
            pilot, lambda: "vmtui-agent-a" in text_of(body), 60, what="hostname on guest screen"
        )
        assert "vmtui tiny guest 1" in text_of(body)
        assert f"{ADDRESS}/24" in text_of(body)
        await pilot.press("I")
        await wait_for(pilot, lambda: isinstance(app.screen, AgentScreen), 30, what="agent")
        agent_body = app.screen.query_one("#agent-body", Static)
        await wait_for(
            pilot, lambda: "vmtui-agent-a" in text_of(agent_body), 60, what="agent screen"
        )
    assert_exited_cleanly(app, watch)


async def test_run_a_command_in_two_marked_guests_in_the_app(
    libvirtd: str, agent_guests: AgentGuests
) -> None:
    """Mark both, x, type the command: each guest's pane says exit 0 and 42."""
    g = agent_guests
    app = VmtuiApp(libvirtd, interval=0.5)
    watch = AppWatch()
    async with app.run_test(size=(160, 40), message_hook=watch) as pilot:
        await wait_for(pilot, lambda: shown_row(app, g.b) is not None, 60, what="rows")
        for uuid in (g.a, g.b):
            select_guest(app, uuid)
            await pilot.press("space")
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ExecScreen), 30, what="exec")
        screen = app.screen
        assert isinstance(screen, ExecScreen)
        assert {guest.uuid for guest in screen.guests} == {g.a, g.b}
        screen.query_one("#exec-command", Input).value = "echo $((6*7))"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(screen.results) == 2, 90, what="both answers")
        for uuid in (g.a, g.b):
            assert screen.results[uuid].stdout == b"42\n", screen.results[uuid]
            shown = text_of(screen.query_one(f"#r-{uuid}", Static))
            assert "exit 0" in shown and "42" in shown
        lines = [e.text for e in app.activity if e.kind == "action"]
        assert sum("qemu-agent-command" in line for line in lines) == 2, lines
    assert_exited_cleanly(app, watch)


def test_no_agent_says_so(libvirt_conn: Any, tiny_domain_factory: Callable[..., str]) -> None:
    """A running guest without the agent channel: a sentence, no wait."""
    name = tiny_domain_factory("noagent")
    dom = libvirt_conn.lookupByName(name)
    dom.create()
    hv = Hypervisor(libvirt_conn.getURI())
    hv.connect()
    try:
        with pytest.raises(AgentUnavailable) as err:
            agent_calls.guest_info(hv, dom.UUIDString())
        assert "no guest agent" in err.value.message
        result = agent_calls.run_command(hv, dom.UUIDString(), "true")
        assert "no guest agent" in result.error
    finally:
        hv.close()


def test_clock_freeze_and_thaw_through_the_agent(agent_guests: AgentGuests) -> None:
    """The tiny guest has no block filesystem: the agent freezes none (0), and says so."""
    g = agent_guests
    agent_calls.sync_time(g.hv, g.b)
    assert agent_calls.freeze(g.hv, g.b) == 0
    assert agent_calls.thaw(g.hv, g.b) == 0
    result = agent_calls.run_command(g.hv, g.b, "echo still-here")
    assert result.stdout == b"still-here\n"


def test_shutdown_through_the_agent(agent_guests: AgentGuests) -> None:
    """Last: guest B powers itself off when its agent is asked to."""
    g = agent_guests
    agent_calls.shutdown(g.hv, g.b, "agent")
    g.consoles[g.b].read_until(r"vmtui-tiny: shutdown (-h )?-P", 60)
    dom = g.hv.readable_conn().lookupByUUIDString(g.b)
    deadline = time.monotonic() + 60
    while dom.isActive():
        assert time.monotonic() < deadline, "guest B still runs"
        time.sleep(0.5)
