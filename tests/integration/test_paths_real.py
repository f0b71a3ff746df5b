"""Issue 15 on the real daemon: a tiny guest with a TCP serial port on 127.0.0.1 is not
"isolated", through vmtui's own backend (poll and read_isolation) and in the isolation view,
which names the port; started, the port really listens on loopback (nothing else is sent)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from textual.widgets import DataTable

from vmtui.app import VmtuiApp
from vmtui.backend import Hypervisor
from vmtui.backend.isolation import read_isolation
from vmtui.core import format as fmt
from vmtui.screens.isolation import IsolationScreen

from .helpers import guest_table, select_guest, shown_row
from .helpers import wait_for as real_wait_for

DEADLINE = 60.0


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serial_xml(port: int) -> str:
    return (
        "<serial type='tcp'>"
        f"<source mode='bind' host='127.0.0.1' service='{port}'/>"
        "<protocol type='raw'/><target port='1'/></serial>"
    )


def serial_rows(report: Any) -> list[tuple[str, str, str]]:
    return [(p.what, p.to, p.mode) for p in report.paths if p.kind == "serial"]


async def test_a_loopback_tcp_serial_port_is_a_path_named_in_the_view(
    libvirtd: str,
    libvirt_conn: Any,
    hv: Hypervisor,
    tiny_domain_factory: Callable[..., str],
) -> None:
    port = free_loopback_port()
    name = tiny_domain_factory("tcp-serial", extra_devices_xml=serial_xml(port))
    dom = libvirt_conn.lookupByName(name)
    uuid = dom.UUIDString()
    want = ("serial 1 (tcp)", f"listens on 127.0.0.1:{port}", "local")

    # the backend: the poll's verdict and the view's report, from the daemon's XML
    guest = next(g for g in hv.poll().guests if g.uuid == uuid)
    assert guest.isolation == "host-shared"  # not "isolated": host processes reach the guest
    report = read_isolation(hv, uuid)
    assert report.config is not None and want in serial_rows(report.config)
    assert report.current.verdict == "host-shared"

    # the view names the port
    app = VmtuiApp(libvirtd, interval=0.5)
    async with app.run_test(size=(100, 30)) as pilot:
        await real_wait_for(pilot, lambda: shown_row(app, uuid) is not None, DEADLINE, what="row")
        await real_wait_for(
            pilot, lambda: guest_table(app).shown_cell(uuid, "iso") == "shr", DEADLINE, what="shr"
        )
        select_guest(app, uuid)
        await pilot.press("i")
        await real_wait_for(pilot, lambda: isinstance(app.screen, IsolationScreen), what="view")
        screen = app.screen
        assert isinstance(screen, IsolationScreen)
        await real_wait_for(pilot, lambda: screen.report is not None, DEADLINE, what="report")
        table = screen.query_one(DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert [*want, fmt.DASH, "yes"] in rows, rows  # shut off: not live, saved for boot

    # started: libvirt's live XML still has it, and QEMU listens on loopback only
    dom.create()
    live = read_isolation(hv, uuid)
    assert live.live is not None and want in serial_rows(live.live)
    assert live.live.verdict == "host-shared"
    with socket.create_connection(("127.0.0.1", port), timeout=10):
        pass
