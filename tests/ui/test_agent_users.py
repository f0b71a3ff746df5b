"""Logged-in users on the guest screen and the agent's screen (issue 13), from a guest-info
payload as libvirt-python's ``virDomain.guestInfo()`` returns it (the tiny test guest has no
logins, so the real daemon cannot show any). Test driver host: tests/data/inside_host.xml,
whose guest "web" has an agent channel; the poll is told the channel is connected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import libvirt
import pytest
from textual.widgets import Static

from tests.conftest import host_uri
from tests.ui.helpers import guest_named, ready, text_of, wait_for
from vmtui.app import VmtuiApp
from vmtui.backend import domxml
from vmtui.screens.guest import GuestScreen
from vmtui.screens.inside import AgentScreen

# A Linux guest with two sessions (qemu-ga's guest-get-users: one entry per user, the
# earliest login) and a Windows domain user; the third name carries an escape sequence and
# markup-looking brackets, which must be shown as text.
GUEST_INFO: dict[str, Any] = {
    "user.count": 3,
    "user.0.name": "root",
    "user.0.login-time": 1764960000123,
    "user.1.name": "alice",
    "user.1.domain": "CORP",
    "user.1.login-time": 1764963600456,
    "user.2.name": "\x1b]0;pwned\x07[bold]mallory[/bold]",
    "user.2.login-time": 1764967200789,
    "os.id": "debian",
    "os.name": "Debian GNU/Linux",
    "os.pretty-name": "Debian GNU/Linux 12 (bookworm)",
    "os.version": "12 (bookworm)",
    "os.version-id": "12",
    "os.kernel-release": "6.1.0-28-amd64",
    "hostname": "web-01",
    "timezone.name": "UTC",
    "timezone.offset": 0,
    "fs.count": 1,
    "fs.0.name": "vda1",
    "fs.0.mountpoint": "/",
    "fs.0.fstype": "ext4",
    "fs.0.total-bytes": 10737418240,
    "fs.0.used-bytes": 2147483648,
}


@pytest.fixture(autouse=True)
def agent_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The poll sees web's agent connected; its guestInfo() answers GUEST_INFO."""
    monkeypatch.setenv("VMTUI_CONFIG", str(tmp_path / "config.toml"))
    asked: list[str] = []

    def guest_info(dom: Any, types: int = 0, flags: int = 0) -> dict[str, Any]:
        asked.append(dom.name())
        return dict(GUEST_INFO)

    monkeypatch.setattr(libvirt.virDomain, "guestInfo", guest_info)
    monkeypatch.setattr(libvirt.virDomain, "agentSetResponseTimeout", lambda *a: 0, raising=False)
    real_state = domxml._agent_state
    monkeypatch.setattr(domxml, "_agent_state", lambda devs: real_state(devs) or "connected")
    return asked


def check_users(shown: str) -> None:
    line = next(ln for ln in shown.splitlines() if ln.startswith("Logged in"))
    assert "root, alice@CORP, \\x1b]0;pwned\\x07[bold]mallory[/bold]" in line, line
    assert "\x1b" not in shown and "\x07" not in shown


async def test_the_guest_screen_lists_the_logged_in_users(agent_answers: list[str]) -> None:
    app = VmtuiApp(host_uri("inside_host"), interval=3600)
    async with app.run_test(size=(140, 60)) as pilot:
        await ready(pilot)
        await app.push_screen(GuestScreen(guest_named(app, "web").uuid))
        await wait_for(pilot, lambda: isinstance(app.screen, GuestScreen))
        body = app.screen.query_one("#overview-body", Static)
        await wait_for(pilot, lambda: "Logged in" in text_of(body))
        shown = text_of(body)
        check_users(shown)
        assert "web-01" in shown and "Debian GNU/Linux 12 (bookworm)" in shown
        assert agent_answers and set(agent_answers) == {"web"}


async def test_the_agent_screen_lists_them_too(agent_answers: list[str]) -> None:
    app = VmtuiApp(host_uri("inside_host"), interval=3600)
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await app.push_screen(AgentScreen(guest_named(app, "web").uuid, "web"))
        await wait_for(pilot, lambda: isinstance(app.screen, AgentScreen))
        body = app.screen.query_one("#agent-body", Static)
        await wait_for(pilot, lambda: "Logged in" in text_of(body))
        check_users(text_of(body))
