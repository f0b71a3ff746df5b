"""Two real hosts on the dashboard; the second host's libvirtd is killed, then comes back.

The first host keeps updating the whole time; the second host's guests are shown stale (their
last known state with a "?") and the status line says the host is lost; when the daemon is
back the app reconnects by itself and shows them live again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import libvirt

from vmtui.app import VmtuiApp
from vmtui.widgets.host_panel import HostPanel

from .conftest import unique_domain_name
from .helpers import AppWatch, assert_exited_cleanly, describe_app, guest_table, wait_for
from .secondhost import SecondHost, second_host  # noqa: F401 - the fixture
from .tinyguest import TinyGuest, tiny_domain_xml

URI = "qemu:///system"


def _state(app: VmtuiApp, uuid: str) -> str | None:
    return guest_table(app).shown_cell(uuid, "state")


async def test_killing_the_second_daemon_leaves_the_first_host_live_and_it_recovers(
    libvirt_conn: Any,
    tiny_domain_factory: Callable[..., str],
    tiny_guest_files: TinyGuest,
    second_host: SecondHost,  # noqa: F811 - the imported fixture
) -> None:
    near = libvirt_conn.lookupByName(tiny_domain_factory("near"))
    near.create()
    far_conn = libvirt.open(second_host.uri)
    far = far_conn.defineXML(tiny_domain_xml(unique_domain_name("far"), tiny_guest_files))
    far.create()
    near_uuid, far_uuid = near.UUIDString(), far.UUIDString()
    far_conn.close()

    app = VmtuiApp([URI, second_host.uri], interval=0.5)
    watch = AppWatch()
    try:
        async with app.run_test(size=(120, 40), message_hook=watch) as pilot:
            await wait_for(
                pilot,
                lambda: _state(app, near_uuid) == "running" and _state(app, far_uuid) == "running",
                what="a running guest on each host",
                describe=lambda: describe_app(app),
            )
            first, second = app.hosts[URI], app.hosts[second_host.uri]

            second_host.kill()

            lost_in = await wait_for(
                pilot,
                lambda: second.stale and (_state(app, far_uuid) or "").endswith("?"),
                what="the second host's guest shown stale",
                describe=lambda: describe_app(app, far_uuid),
            )
            assert "127.0.0.2" in app.status()[1] and "1/2 hosts connected" in app.status()[1]
            assert "(stale)" in app.screen.query_one(HostPanel)._text.plain
            assert first.snapshot is not None
            lost_at = first.snapshot.time
            await wait_for(
                pilot,
                lambda: first.snapshot is not None and first.snapshot.time > lost_at + 2,
                what="the first host still polled",
            )
            assert not first.stale and _state(app, near_uuid) == "running"
            assert (_state(app, far_uuid) or "").endswith("?")  # still lost

            second_host.start_daemon()

            back_in = await wait_for(
                pilot,
                lambda: not second.stale and _state(app, far_uuid) == "running",
                what="the second host reconnected by itself",
                describe=lambda: describe_app(app, far_uuid),
            )
            await wait_for(
                pilot,
                lambda: "Connected to 2 hosts" in app.status()[1],
                what="both hosts connected",
                describe=lambda: describe_app(app),
            )
            print(
                f"lost shown {lost_in:.2f}s after the kill; live again {back_in:.2f}s after start"
            )
        assert_exited_cleanly(app, watch)
    finally:
        second_host.destroy_guests()
