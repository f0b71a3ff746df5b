"""L shows the activity log: our actions as virsh command lines with their outcome, libvirt's
events dimmed, failures in red with their reason, newest at the bottom, live."""

from __future__ import annotations

from rich.style import Style
from textual.widgets import RichLog

from tests.conftest import host_uri
from tests.ui.helpers import ready, select, state_of, text_of, wait_for
from vmtui.app import VmtuiApp
from vmtui.core.activity import ActivityEntry
from vmtui.demo import DEMO_URI
from vmtui.screens.activity import EMPTY, ActivityScreen, entry_text


def shown_lines(screen: ActivityScreen) -> list[str]:
    return [strip.text.rstrip() for strip in screen.query_one(RichLog).lines]


def test_failed_actions_are_red_with_their_reason_and_events_are_dim() -> None:
    failed = entry_text(
        ActivityEntry("action", "h", "virsh start a", ok=False, outcome="It is running.")
    )
    assert "✖ virsh start a\n" in failed.plain and failed.plain.endswith(" It is running.")
    assert all("red" in str(span.style) for span in failed.spans[1:])  # all but the time
    event = entry_text(ActivityEntry("event", "h", "Guest a started."), host_label="web")
    assert "[web] • Guest a started." in event.plain
    assert Style.parse(str(event.spans[-1].style)).dim


async def test_l_shows_the_virsh_line_of_a_start_and_follows_new_entries() -> None:
    uri = host_uri("small_host")
    app = VmtuiApp(uri, interval=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, ActivityScreen))
        screen = app.screen
        assert isinstance(screen, ActivityScreen)
        assert shown_lines(screen) == [EMPTY]
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ActivityScreen))

        select(app, "beta")
        await pilot.press("s")
        await wait_for(pilot, lambda: state_of(app, "beta") == "running")
        polls = app.polls  # a repeated action is absorbed until the polls show the answer
        await wait_for(pilot, lambda: app.polls >= polls + 2)  # (issue 16 #8)
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, ActivityScreen))
        screen = app.screen
        assert isinstance(screen, ActivityScreen)
        await pilot.pause()
        lines = shown_lines(screen)
        at = next(i for i, line in enumerate(lines) if f"virsh -c {uri} start beta" in line)
        assert "✔" in lines[at] and lines[at + 1].strip() == "Guest beta started."
        assert "[" not in lines[at].split("✔")[0]  # one host: no host label

        # Live: a refused start (beta already runs) appears at the bottom while we look.
        app.guest_action("start", "22222222-2222-2222-2222-222222222222", "beta")
        await wait_for(pilot, lambda: "✖" in shown_lines(screen)[-2])
        command, reason = shown_lines(screen)[-2:]
        assert f"virsh -c {uri} start beta" in command and "already running" in reason
        assert "1 failed" in text_of(screen.query_one("#activity-bar"))

        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ActivityScreen))
        assert not app.activity._listeners  # closed: it stopped listening


async def test_each_line_names_its_host_when_there_are_several() -> None:
    first, second = host_uri("small_host"), DEMO_URI
    app = VmtuiApp([first, second], interval=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: all(link.ever_polled for link in app.hosts.values()))
        app.activity.event(second, "Guest alpha stopped.")
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, ActivityScreen))
        screen = app.screen
        assert isinstance(screen, ActivityScreen)
        label = app.hosts[second].label
        assert shown_lines(screen)[-1].endswith(f"[{label}] • Guest alpha stopped.")


async def test_l_on_a_guest_display_is_a_key_for_the_guest() -> None:
    from vmtui.screens.display import DisplayScreen

    app = VmtuiApp(host_uri("small_host"), interval=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        select(app, "alpha")  # running, with a VNC display
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, DisplayScreen))
        await pilot.press("L")
        await pilot.pause(0.3)
        assert isinstance(app.screen, DisplayScreen)
        assert not any(isinstance(s, ActivityScreen) for s in app.screen_stack)
