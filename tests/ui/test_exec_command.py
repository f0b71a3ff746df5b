"""``:exec`` on the command line (issue 13): a shell command run through the guest agent in
the guests it names (or the marked / selected ones), asking first when there are several, each
guest's output on the exec screen. Test driver host: tests/data/inside_host.xml; the agent's
answers are faked (the real agent: integration/test_agent_real.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tests.conftest import host_uri
from tests.ui.helpers import guest_named, ready, select, text_of, wait_for
from vmtui.app import VmtuiApp
from vmtui.backend import agent as agent_calls
from vmtui.backend.agent import ExecResult
from vmtui.screens.command import CommandLineScreen
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.exec import ExecScreen

SIZE = (120, 36)


@pytest.fixture(autouse=True)
def own_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VMTUI_CONFIG", str(tmp_path / "config.toml"))


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every (guest name, command) the fake agent ran; it answers 42 and exit 0."""
    seen: list[tuple[str, str]] = []

    def fake_run(hv: Any, uuid: str, command: str, **kw: Any) -> ExecResult:
        known = hv.known_guest(uuid)
        name = known.name if known else uuid
        seen.append((name, command))
        return ExecResult(uuid, name, command, exit_code=0, stdout=b"42\n")

    monkeypatch.setattr(agent_calls, "run_command", fake_run)
    return seen


async def command_line(pilot: Pilot[None], app: VmtuiApp, line: str) -> CommandLineScreen:
    await pilot.press("colon")
    await wait_for(pilot, lambda: isinstance(app.screen, CommandLineScreen))
    screen = app.screen
    assert isinstance(screen, CommandLineScreen)
    screen.query_one("#command", Input).value = line
    await pilot.press("enter")
    return screen


def shown_result(app: VmtuiApp, screen: ExecScreen, name: str) -> str:
    return text_of(screen.query_one(f"#r-{guest_named(app, name).uuid}", Static))


async def test_exec_in_two_named_guests_asks_first_then_shows_each_output(
    ran: list[tuple[str, str]],
) -> None:
    app = VmtuiApp(host_uri("inside_host"), interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await command_line(pilot, app, ":exec web mail -- echo $((6*7))")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        asked = text_of(app.screen.query_one("#title")) + text_of(app.screen.query_one("#body"))
        assert "Run echo $((6*7)): 2 guests?" in asked and "mail, web" in asked
        assert ran == []  # nothing runs before the answer
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, ExecScreen))
        screen = app.screen
        assert isinstance(screen, ExecScreen)
        await wait_for(pilot, lambda: len(screen.results) == 2)
        assert sorted(ran) == [("mail", "echo $((6*7))"), ("web", "echo $((6*7))")]
        assert screen.query_one("#exec-command", Input).value == "echo $((6*7))"
        await pilot.pause(0.1)
        for name in ("web", "mail"):
            assert "exit 0" in shown_result(app, screen, name)
            assert "42" in shown_result(app, screen, name)
        lines = [e.text for e in app.activity if e.kind == "action"]
        assert sum("qemu-agent-command" in line and "guest-exec" in line for line in lines) == 2


async def test_exec_without_targets_runs_in_the_selected_guest_at_once(
    ran: list[tuple[str, str]],
) -> None:
    app = VmtuiApp(host_uri("inside_host"), interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select(app, "web")
        await command_line(pilot, app, ":exec uname -a")
        await wait_for(pilot, lambda: isinstance(app.screen, ExecScreen))
        await wait_for(pilot, lambda: ran == [("web", "uname -a")])


async def test_exec_in_marked_guests_and_a_shut_off_one_is_left_out(
    ran: list[tuple[str, str]],
) -> None:
    app = VmtuiApp(host_uri("inside_host"), interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        for name in ("web", "sleeper"):
            select(app, name)
            await pilot.press("space")
        await command_line(pilot, app, ":run id")
        await wait_for(pilot, lambda: isinstance(app.screen, ExecScreen))
        await wait_for(pilot, lambda: ran == [("web", "id")])
        notes = [n.message for n in app._notifications]
        assert any("Not running, so no agent to run it: sleeper." in n for n in notes), notes


async def test_exec_needs_a_command_and_a_writable_connection(
    ran: list[tuple[str, str]],
) -> None:
    app = VmtuiApp(host_uri("inside_host"), interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        line = await command_line(pilot, app, ":exec web --")
        await pilot.pause()
        assert ":exec needs a command" in line.error
    app = VmtuiApp(host_uri("inside_host"), interval=3600, readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        line = await command_line(pilot, app, ":exec web -- uptime")
        await pilot.pause()
        assert "read-only" in line.error
        assert not isinstance(app.screen, ExecScreen)
    assert ran == []
