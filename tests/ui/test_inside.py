"""Inside the guest, on screen (issue 13): the IP and Agt columns, ``ip:``, the guest
screen's addresses, running a command in marked guests, and the sentences when something
cannot be done. Test driver host: tests/data/inside_host.xml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, Static

from tests.conftest import host_uri
from tests.ui.helpers import guest_named, ready, select, table, text_of, wait_for
from vmtui.app import VmtuiApp
from vmtui.backend import agent as agent_calls
from vmtui.backend import domxml, guestlogin
from vmtui.backend.agent import ExecResult
from vmtui.screens.exec import ExecScreen
from vmtui.screens.guest import GuestScreen

WIDE = (160, 30)


@pytest.fixture(autouse=True)
def own_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No [ssh] defaults from the machine's own config file."""
    monkeypatch.setenv("VMTUI_CONFIG", str(tmp_path / "config.toml"))


def make_app(readonly: bool = False) -> VmtuiApp:
    return VmtuiApp(host_uri("inside_host"), interval=0.2, readonly=readonly)


def ip_of(app: VmtuiApp, name: str) -> str | None:
    return table(app).shown_cell(guest_named(app, name).uuid, "ip")


def notes(app: VmtuiApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_the_ip_column_shows_the_first_address_and_drops_first_when_narrow() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: ip_of(app, "web") == "127.0.0.1")
        assert ip_of(app, "mail") == "192.0.2.21"
        assert ip_of(app, "bare") == ""  # no NIC
        assert "agent" in table(app).column_keys  # web has an agent channel
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: "ip" not in table(app).column_keys)
        assert "agent" not in table(app).column_keys
        assert {"name", "state", "cpu", "mem"} <= set(table(app).column_keys)


async def test_the_ip_query_term_filters() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: ip_of(app, "mail") == "192.0.2.21")
        await pilot.press("/")
        await pilot.press(*"ip:192.0.2.")

        def shown() -> list[str]:
            t = table(app)
            return [t.shown_text(u)[0] for u in t.shown_uuids]  # type: ignore[index]

        await wait_for(pilot, lambda: shown() == ["mail"])


async def test_the_guest_screen_lists_every_address_and_its_source() -> None:
    app = make_app()
    async with app.run_test(size=(120, 50)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: ip_of(app, "web") == "127.0.0.1")
        select(app, "web")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, GuestScreen))
        body = app.screen.query_one("#overview-body", Static)
        await wait_for(pilot, lambda: "127.0.0.1/8" in text_of(body))
        shown = text_of(body)
        assert "Addresses (from the DHCP lease)" in shown
        assert "52:54:00:13:00:01" in shown
        assert "Guest agent" in shown


async def test_run_command_in_two_marked_guests_shows_each_output_escaped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fake_run(hv: Any, uuid: str, command: str, **kw: Any) -> ExecResult:
        known = hv.known_guest(uuid)
        name = known.name if known else uuid
        if name == "web":
            return ExecResult(
                uuid, name, command, exit_code=0, stdout=b"42\n\x1b]52;c;SGk=\x07[red]x\n"
            )
        return ExecResult(uuid, name, command, exit_code=0, stdout=b"y" * 10, stdout_cut=999990)

    monkeypatch.setattr(agent_calls, "run_command", fake_run)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        for name in ("web", "mail"):
            select(app, name)
            await pilot.press("space")
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ExecScreen))
        screen = app.screen
        assert isinstance(screen, ExecScreen)
        screen.query_one("#exec-command", Input).value = "echo $((6*7))"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(screen.results) == 2)
        await pilot.pause(0.1)
        web = text_of(screen.query_one(f"#r-{guest_named(app, 'web').uuid}", Static))
        assert "exit 0" in web and "42" in web
        assert "\\x1b]52;c;SGk=\\x07[red]x" in web  # escaped, and [red] is no markup
        mail = text_of(screen.query_one(f"#r-{guest_named(app, 'mail').uuid}", Static))
        assert "at least 999,990 more bytes" in mail
        lines = [e.text for e in app.activity if e.kind == "action"]
        assert sum("qemu-agent-command" in line and "guest-exec" in line for line in lines) == 2


async def test_run_command_is_refused_read_only_with_a_sentence() -> None:
    app = make_app(readonly=True)
    async with app.run_test(size=WIDE) as pilot:
        await ready(pilot)
        select(app, "web")
        await pilot.press("x")
        await wait_for(pilot, lambda: any("read-only" in n for n in notes(app)))
        assert not isinstance(app.screen, ExecScreen)


async def test_ssh_without_an_address_says_why() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await ready(pilot)
        select(app, "bare")
        await pilot.press("w")
        await wait_for(
            pilot,
            lambda: any("Cannot ssh into guest bare" in n for n in notes(app)),
        )
        said = next(n for n in notes(app) if "Cannot ssh" in n)
        assert "no network card" in said


async def test_the_agent_screen_needs_a_channel() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await ready(pilot)
        select(app, "mail")
        await pilot.press("I")
        await wait_for(pilot, lambda: any("no guest agent channel" in n for n in notes(app)))


async def test_a_resumed_guest_with_an_agent_gets_its_clock_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    synced: list[str] = []
    monkeypatch.setattr(agent_calls, "sync_time", lambda hv, uuid: synced.append(uuid))
    # the test driver has no agent: every poll says the running guests' one is connected
    # (set in the poll itself, so a poll arriving before the resume's answer keeps it)
    monkeypatch.setattr(domxml, "_agent_state", lambda devs: "connected")
    app = VmtuiApp(host_uri("small_host"), interval=3600)
    async with app.run_test(size=WIDE) as pilot:
        await ready(pilot)
        gamma = guest_named(app, "gamma")
        app.guest_action("resume", gamma.uuid, "gamma")
        await wait_for(pilot, lambda: synced == [gamma.uuid])
        lines = [e.text for e in app.activity if e.kind == "action"]
        await wait_for(pilot, lambda: any("domtime gamma --sync" in e.text for e in app.activity))
        assert any("resume gamma" in line for line in lines)


async def test_the_ssh_login_user_is_set_from_the_dashboard() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await ready(pilot)
        select(app, "web")
        await pilot.press("W")
        await wait_for(pilot, lambda: len(app.screen.query("#lg-user")) == 1)
        app.screen.query_one("#lg-user", Input).value = "admin"
        app.screen.query_one("#lg-port", Input).value = "2222"
        await pilot.press("enter")
        uuid = guest_named(app, "web").uuid
        hv = app.hypervisor_for(uuid)
        await wait_for(pilot, lambda: any("vmtui-ssh" in e.text for e in app.activity))
        assert guestlogin.read_login(hv, uuid) == guestlogin.Login("admin", 2222)


async def test_ssh_where_the_terminal_cannot_be_handed_over_says_so() -> None:
    """Under a headless driver App.suspend() is refused: a sentence with the command line,
    and the line in the activity log (the real hand-over: integration/test_guest_ssh.py)."""
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: ip_of(app, "web") == "127.0.0.1")
        select(app, "web")
        await pilot.press("w")
        await wait_for(pilot, lambda: any("run it yourself" in n for n in notes(app)))
        said = next(n for n in notes(app) if "run it yourself" in n)
        assert said.endswith("ssh 127.0.0.1")
        assert any(e.text == "ssh 127.0.0.1" and not e.ok for e in app.activity)
