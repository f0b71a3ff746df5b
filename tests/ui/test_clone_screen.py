"""The clone screen (K) on the test driver: review first, then clone with progress."""

from __future__ import annotations

from textual.widgets import Input, Select

from tests.conftest import host_uri
from tests.ui.helpers import click, ready, select, text_of, wait_for
from vmtui.app import VmtuiApp
from vmtui.screens.clone import CloneScreen


async def test_review_then_clone() -> None:
    uri = host_uri("snap_host")
    app = VmtuiApp(uri, interval=0.2)
    async with app.run_test(size=(100, 34)) as pilot:
        await ready(pilot)
        select(app, "db")
        await pilot.press("K")
        await wait_for(pilot, lambda: isinstance(app.screen, CloneScreen))
        screen = app.screen
        assert isinstance(screen, CloneScreen)
        assert screen.query_one("#name", Input).value == "db-clone"
        await pilot.press("enter")  # review
        await wait_for(pilot, lambda: screen.plan is not None)
        review = text_of(screen.query_one("#clone-review"))
        assert "Copy vda: /images/db.qcow2 → images/db-clone.qcow2" in review
        assert "Shared folder carried over as it is: /srv/dbshare." in review
        assert "kernel: /boot/vmlinuz-db" in review
        await click(pilot, "#clone")
        await wait_for(pilot, lambda: screen.result is not None)
        assert screen.result is not None and screen.result.uuid, screen.error
        assert screen.progress_seen and screen.progress_seen[-1].fraction == 1.0
        await wait_for(pilot, lambda: not isinstance(app.screen, CloneScreen))
        await wait_for(
            pilot,
            lambda: (
                app.snapshot is not None and any(g.name == "db-clone" for g in app.snapshot.guests)
            ),
        )
        entry = [e for e in app.activity if e.kind == "action"][-1]
        assert entry.ok and entry.text.startswith(f"virt-clone --connect {uri} --original db")


async def test_a_taken_name_is_refused_before_any_work() -> None:
    app = VmtuiApp(host_uri("snap_host"), interval=0.2)
    async with app.run_test(size=(100, 34)) as pilot:
        await ready(pilot)
        select(app, "db")
        await pilot.press("K")
        await wait_for(pilot, lambda: isinstance(app.screen, CloneScreen))
        screen = app.screen
        assert isinstance(screen, CloneScreen)
        screen.query_one("#name", Input).value = "rawguest"
        await pilot.press("enter")
        await pilot.pause()
        assert "A guest called rawguest already exists on this host." in screen.error
        assert screen.plan is None
        await pilot.press("escape")  # nothing is being copied: back to the dashboard
        await wait_for(pilot, lambda: not isinstance(app.screen, CloneScreen))


async def test_a_running_guest_is_not_offered_for_cloning() -> None:
    app = VmtuiApp(host_uri("snap_host"), interval=0.2)
    async with app.run_test(size=(100, 34)) as pilot:
        await ready(pilot)
        select(app, "web")
        await pilot.press("K")
        await pilot.pause()
        assert not isinstance(app.screen, CloneScreen)
        assert any("shut it down or pause it" in n.message for n in app._notifications)


async def test_the_review_says_what_the_copy_shares_and_a_full_pool_refuses() -> None:
    app = VmtuiApp(host_uri("clone_share_host"), interval=0.2)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        select(app, "sharer")
        await pilot.press("K")
        await wait_for(pilot, lambda: isinstance(app.screen, CloneScreen))
        screen = app.screen
        assert isinstance(screen, CloneScreen)
        await pilot.press("enter")  # review
        await wait_for(pilot, lambda: screen.plan is not None)
        review = text_of(screen.query_one("#clone-review"))
        assert "vnc display on fixed port 5907 (the two would clash)" in review
        assert "vsock CID 7" in review and "shared memory 'sharer-shm'" in review
        assert "A new VM generation ID (genid)" in review
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, CloneScreen))
        # a guest whose disk needs more room than its pool has: refused at the review
        select(app, "big")
        await pilot.press("K")
        await wait_for(pilot, lambda: isinstance(app.screen, CloneScreen))
        screen = app.screen
        assert isinstance(screen, CloneScreen)
        screen.query_one("#pool", Select).value = "spare"
        await wait_for(pilot, lambda: screen.query_one("#pool", Select).value == "spare")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Pool spare has" in screen.error)
        assert screen.plan is None
