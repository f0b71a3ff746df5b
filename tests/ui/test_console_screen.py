"""The console on libvirt's test driver, which cannot open console streams: the failure is told
once, not on every poll, nor again after the guest stops and starts while detached."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from textual.message import Message
from textual.notifications import Notify

from tests.conftest import host_uri
from tests.ui.helpers import guest_named, ready, select, state_of, wait_for
from tests.unit.test_console_session import FakeStream
from vmtui.app import VmtuiApp
from vmtui.backend import ConsoleSession, Hypervisor
from vmtui.control.messages import ConsoleChanged, ConsoleFailed, GuestActionRequested, Polled
from vmtui.screens.console import ConsoleScreen
from vmtui.screens.dashboard import DashboardScreen
from vmtui.widgets.terminal import TerminalView

SIZE = (80, 24)


class Watch:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.counts: Counter[str] = Counter()

    def __call__(self, message: Message) -> None:
        self.counts[type(message).__name__] += 1
        if isinstance(message, Notify) and message.notification.severity == "error":
            self.errors.append(message.notification.message)

    def console_errors(self) -> list[str]:
        return [e for e in self.errors if "console" in e.lower()]


async def _polls(pilot: object, watch: Watch, n: int) -> None:
    target = watch.counts[Polled.__name__] + n
    await wait_for(pilot, lambda: watch.counts[Polled.__name__] >= target)  # type: ignore[arg-type]


async def test_a_console_that_cannot_open_says_so_once() -> None:
    watch = Watch()
    app = VmtuiApp(host_uri("small_host"), interval=0.1)
    async with app.run_test(size=SIZE, message_hook=watch) as pilot:
        await ready(pilot)
        select(app, "alpha")
        await pilot.press("c")
        await wait_for(pilot, lambda: len(watch.console_errors()) >= 1)
        assert isinstance(app.screen, ConsoleScreen)
        await _polls(pilot, watch, 8)
        assert len(watch.console_errors()) == 1, watch.console_errors()
        assert watch.counts[ConsoleFailed.__name__] == 1  # not even tried again
        assert app.consoles[guest_named(app, "alpha").uuid].status == watch.console_errors()[0]


async def test_another_host_s_polls_do_not_make_a_failed_console_try_again() -> None:
    watch = Watch()
    app = VmtuiApp([host_uri("small_host"), host_uri("snap_host")], interval=0.1)
    async with app.run_test(size=SIZE, message_hook=watch) as pilot:
        await ready(pilot)
        await wait_for(
            pilot, lambda: len(app.hosts) == 2 and all(h.ever_polled for h in app.hosts.values())
        )
        select(app, "alpha")
        await pilot.press("c")
        await wait_for(pilot, lambda: len(watch.console_errors()) >= 1)
        await _polls(pilot, watch, 12)
        assert watch.counts[ConsoleFailed.__name__] == 1


async def test_stopping_and_starting_a_detached_console_s_guest_adds_no_toast() -> None:
    """Issue 16: the console's error toast came back after every stop, after a mere detach."""
    watch = Watch()
    app = VmtuiApp(host_uri("small_host"), interval=0.1)
    async with app.run_test(size=SIZE, message_hook=watch) as pilot:
        await ready(pilot)
        alpha = guest_named(app, "alpha")
        select(app, "alpha")
        await pilot.press("c")
        await wait_for(pilot, lambda: len(watch.console_errors()) >= 1)
        await pilot.press("ctrl+right_square_bracket")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        for action, state in (("force_off", "shut off"), ("start", "running")):
            app.post_message(GuestActionRequested(action, alpha.uuid, alpha.name))
            await wait_for(pilot, lambda state=state: state_of(app, "alpha") == state)
            await _polls(pilot, watch, 4)
        assert len(watch.console_errors()) == 1, watch.console_errors()
        # Pressing c again is the user asking: told again.
        select(app, "alpha")
        await pilot.press("c")
        await wait_for(pilot, lambda: len(watch.console_errors()) == 2)


async def test_a_console_not_on_screen_sends_nothing_to_the_ui_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Detached, a console's output is parsed in its own thread and nobody is told; shown, the
    UI thread hears of it at most once per frame."""
    streams: list[FakeStream] = []

    def open_console(
        self: Hypervisor, uuid: str, emulator: Any, on_change: Any, on_closed: Any, **_: Any
    ) -> ConsoleSession:
        streams.append(FakeStream())
        return ConsoleSession(streams[-1], "alpha", emulator, on_change, on_closed)

    monkeypatch.setattr(Hypervisor, "open_console", open_console)
    watch = Watch()
    app = VmtuiApp(host_uri("small_host"), interval=3600)
    async with app.run_test(size=SIZE, message_hook=watch) as pilot:
        await ready(pilot)
        alpha = guest_named(app, "alpha")
        select(app, "alpha")
        await pilot.press("c")
        console = app.consoles[alpha.uuid]
        await wait_for(pilot, lambda: console.connected)
        stream = streams[0]
        stream.chunks.append(b"shown\r\n")
        stream.pump()
        await wait_for(pilot, lambda: "shown" in _drawn(app))
        await pilot.press("ctrl+right_square_bracket")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.pause(0.1)
        before = watch.counts[ConsoleChanged.__name__]
        for i in range(100):
            stream.chunks.append(b"hidden %d\r\n" % i)
            stream.pump()
            await pilot.pause(0.002)
        await wait_for(pilot, lambda: "hidden 99" in console.emulator.all_text())
        await pilot.pause(0.1)
        assert watch.counts[ConsoleChanged.__name__] == before
        # Shown again: it catches up at once.
        select(app, "alpha")
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConsoleScreen))
        await wait_for(pilot, lambda: "hidden 99" in _drawn(app))


def _drawn(app: VmtuiApp) -> str:
    """What the terminal widget draws, line by line (its cached strips included)."""
    view = app.screen.query_one(TerminalView)
    return "\n".join(view.render_line(y).text for y in range(view.size.height))
