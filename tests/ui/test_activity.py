"""The activity log records each state-changing action as its virsh command line, with the
outcome, and libvirt's lifecycle events."""

from __future__ import annotations

from tests.conftest import host_uri
from tests.ui.helpers import ready, select, state_of, wait_for
from vmtui.app import VmtuiApp
from vmtui.core.activity import ActivityLog, virsh


def test_virsh_lines_are_quoted_for_a_shell() -> None:
    assert virsh("qemu:///system", "start", "web 1") == "virsh -c qemu:///system start 'web 1'"
    assert virsh("", "destroy", "$(rm -rf ~)") == "virsh destroy '$(rm -rf ~)'"


def test_listeners_see_appends_until_they_stop() -> None:
    log = ActivityLog(limit=2)
    seen: list[str] = []
    stop = log.listen(lambda e: seen.append(e.text))
    log.event("test:///x", "Guest a started.")
    stop()
    log.event("test:///x", "Guest a stopped.")
    log.event("test:///x", "Guest b started.")
    assert seen == ["Guest a started."]
    assert [e.text for e in log] == ["Guest a stopped.", "Guest b started."]


async def test_actions_are_logged_with_their_virsh_command_and_outcome() -> None:
    uri = host_uri("small_host")
    app = VmtuiApp(uri, interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        select(app, "beta")
        await pilot.press("s")
        await wait_for(pilot, lambda: state_of(app, "beta") == "running")
        polls = app.polls  # a repeated key is absorbed until the polls show the answer
        await wait_for(pilot, lambda: app.polls >= polls + 2)  # (issue 16 #8)
        await pilot.press("s")  # already running: refused
        await wait_for(pilot, lambda: len([e for e in app.activity if e.kind == "action"]) == 2)
        ok, refused = [e for e in app.activity if e.kind == "action"]
        assert ok.text == f"virsh -c {uri} start beta" and ok.ok
        assert refused.text == ok.text and not refused.ok
        assert "already running" in refused.outcome


async def test_run_backend_logs_the_command_it_was_given() -> None:
    app = VmtuiApp(host_uri("small_host"), interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        app.run_backend(lambda: None, command=("setvcpus", "alpha", "2", "--live"), host="h")
        await wait_for(pilot, lambda: len(app.activity) > 0)
        entry = next(iter(app.activity))
        assert entry.text == "virsh -c h setvcpus alpha 2 --live" and entry.ok
