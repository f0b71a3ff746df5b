"""Sorting by CPU on a real libvirtd: a tiny TCG guest spinning a shell loop sorts above an
idle one (issue 12)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import libvirt

from vmtui.app import VmtuiApp

from .helpers import (
    AppWatch,
    assert_exited_cleanly,
    cpu_figure,
    describe_app,
    guest_table,
    shown_cpu,
    wait_for,
)
from .tinyguest import READY_MARKER, ConsoleReader

DEADLINE = 60.0


@contextlib.contextmanager
def booted(conn: Any, name: str) -> Iterator[ConsoleReader]:
    """Start the guest paused, attach its console, run it until its shell is ready."""
    dom = conn.lookupByName(name)
    dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
    with ConsoleReader.open(dom) as console:
        dom.resume()
        console.wait_for_line(READY_MARKER, timeout=DEADLINE)
        yield console


async def test_sort_by_cpu_puts_a_busy_guest_above_an_idle_one(
    libvirtd: str,
    libvirt_conn: Any,
    tiny_domain_factory: Callable[..., str],
    tmp_path: Path,
) -> None:
    busy, idle = tiny_domain_factory("busy"), tiny_domain_factory("idle")
    busy_uuid = libvirt_conn.lookupByName(busy).UUIDString()
    idle_uuid = libvirt_conn.lookupByName(idle).UUIDString()
    with booted(libvirt_conn, busy) as console, booted(libvirt_conn, idle):
        console.write("while :; do :; done &\n")
        app = VmtuiApp(libvirtd, interval=0.5)
        app.config_file = tmp_path / "config.toml"
        watch = AppWatch()
        async with app.run_test(size=(100, 30), message_hook=watch) as pilot:
            table = guest_table(app)
            await wait_for(
                pilot,
                lambda: busy_uuid in table.shown_uuids and idle_uuid in table.shown_uuids,
                DEADLINE,
                what="both guests listed",
            )
            for _ in range(12):  # o walks the columns: name, state, vCPU, CPU%
                if table.sort_column == "cpu":
                    break
                await pilot.press("o")
            assert table.sort_column == "cpu" and table.sort_descending

            def busy_first() -> bool:
                order = table.shown_uuids
                busy_cpu = cpu_figure(shown_cpu(app, busy_uuid)) or 0.0
                idle_cpu = cpu_figure(shown_cpu(app, idle_uuid))
                return (
                    idle_cpu is not None
                    and busy_cpu > max(5.0, idle_cpu)
                    and order.index(busy_uuid) < order.index(idle_uuid)
                )

            await wait_for(
                pilot,
                busy_first,
                DEADLINE,
                what="the busy guest above the idle one",
                describe=lambda: describe_app(app, busy_uuid) + describe_app(app, idle_uuid),
            )
            await pilot.press("O")  # the idlest first: now the idle one is above
            order = table.shown_uuids
            assert order.index(idle_uuid) < order.index(busy_uuid)
        assert_exited_cleanly(app, watch)
