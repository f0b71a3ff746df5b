"""Regenerate screenshots/*.svg from the real app on the demo host, at 80x24.

Also a second test-driver host (tests/data/small_host.xml) for hosts.svg, and a
real tiny guest (and a second libvirtd) for console.svg and migrate.svg (below); every host is
left as it was.

    python scripts/screenshots.py [--out DIR]      (or: make screenshots)

dashboard.svg  the guest list, cursor on db1
guest.svg      db1 opened (enter): hardware, disks, NICs
help.svg       ? on the dashboard
confirm.svg    F on db1: the force-off confirmation
charts.svg     db1's charts (enter, then g). The test driver's figures are flat, so the app is
               given an hour of made-up history at the 2 s tick (long_history overridden, as
               tests/ui/test_charts.py does); the charts themselves are the app's own.
console.svg    c on a tiny busybox guest (tests/integration/tinyguest.py: kernel + initrd, no
               disk, no NIC) booted on qemu:///system for the picture, a command typed in its
               shell; the guest is destroyed and undefined afterwards. Without libvirtd or the
               tiny guest's files (the test driver has no console stream): c on db1 of the
               demo host, the console screen as it is there (it says it could not open).
isolation.svg  i on db1: every path in and out of the guest, and the verdict
wizard.svg     n, then the steps filled (name, memory, an ISO path; the rest left at their
               defaults) up to the review: the domain XML, the virt-install line below it
hosts.svg      the dashboard with two hosts: the demo host and tests/data/small_host.xml
migrate.svg    a live migration in progress: the tiny guest booted on qemu:///system, a second
               libvirtd started (tests/integration/secondhost.py: its own mount namespace,
               qemu+tcp://127.0.0.2/system), the app run with both URIs, m on the guest,
               Migrate pressed with a bandwidth limit of MIGRATE_MIB_S so it is slow enough to
               watch, pictured once PICTURE_AT of the memory has been sent (bar, figures), then
               cancelled; the guest is destroyed and undefined on both hosts and the second
               daemon stopped afterwards. Without libvirtd, the tiny guest's files, root or the
               second daemon (the test driver cannot migrate a running guest): m on db1 with
               the demo host and small_host.xml connected, the dialog and its options before
               Migrate is pressed. The script prints which one it made.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a file from anywhere: import this checkout's vmtui
    sys.path.insert(0, str(ROOT))

import vmtui.app  # noqa: E402
from vmtui.app import VmtuiApp  # noqa: E402
from vmtui.backend import GuestHistory, Series  # noqa: E402
from vmtui.demo import DEMO_URI  # noqa: E402
from vmtui.screens.confirm import ConfirmScreen  # noqa: E402
from vmtui.screens.console import ConsoleScreen  # noqa: E402
from vmtui.screens.create import CreateScreen  # noqa: E402
from vmtui.screens.dashboard import DashboardScreen  # noqa: E402
from vmtui.screens.guest import GuestScreen  # noqa: E402
from vmtui.screens.help import HelpScreen  # noqa: E402
from vmtui.screens.isolation import IsolationScreen  # noqa: E402
from vmtui.screens.migrate import MigrateScreen  # noqa: E402
from vmtui.widgets.chart import Chart  # noqa: E402
from vmtui.widgets.guest_table import GuestTable  # noqa: E402

SIZE = (80, 24)
GUEST = "db1"  # running, two disks and a NIC on the demo host
TIMEOUT = 20.0
SECOND_HOST = f"test://{ROOT / 'tests' / 'data' / 'small_host.xml'}"
SYSTEM_URI = "qemu:///system"
TINY = "vmtui-screenshot-guest"  # booted for console.svg, removed afterwards
TICK = 2.0
MIGRATE_MIB_S = 8  # migrate.svg's bandwidth limit: 128 MiB take long enough to picture
PICTURE_AT = 0.2  # ... when this much of it has been sent
HOUR = int(3600 / TICK) + 1  # samples in an hour at the 2 s tick


def made_up_history(uuid: str) -> GuestHistory:
    """An hour of plausible figures: a CPU wave with bursts, memory growing a little, some disk
    and network traffic. Deterministic, so the pictures do not change from run to run."""

    def wave(scale: float, period: float, base: float, i: int) -> float:
        return max(0.0, base + scale * math.sin(i / period) + scale / 3 * math.sin(i / 7.3))

    n = range(HOUR)
    return GuestHistory(
        uuid,
        TICK,
        Series("CPU", tuple(round(wave(22, 90, 35, i), 1) for i in n), "%"),
        Series("Memory", tuple(1_400_000.0 + 150 * i for i in n), "KiB"),
        Series("Disk read", tuple(wave(2e6, 40, 2.2e6, i) for i in n), "B/s"),
        Series("Disk write", tuple(wave(6e5, 25, 7e5, i) for i in n), "B/s"),
        Series("Net receive", tuple(wave(3e5, 60, 3.5e5, i) for i in n), "B/s"),
        Series("Net send", tuple(wave(1e5, 33, 1.2e5, i) for i in n), "B/s"),
    )


class PictureApp(VmtuiApp):
    """The app, with made-up history for the watched guest (the test driver's stays flat)."""

    CSS_PATH = str(Path(vmtui.app.__file__).with_name("app.tcss"))  # relative to vmtui/app.py

    def long_history(self, uuid: str) -> GuestHistory | None:
        return made_up_history(uuid) if uuid in self.watched else None


async def wait_for(pilot: Pilot[None], ok: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not ok():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: gave up waiting for {what}")
        await pilot.pause(0.02)
    await pilot.pause()  # let the screen settle and paint


async def wait_screen(pilot: Pilot[None], kind: type[Screen[Any]]) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, kind), kind.__name__)


def table(app: VmtuiApp) -> GuestTable:
    return app.screen.query_one(GuestTable)


async def take(out: Path) -> list[Path]:
    console = await real_console(out)
    migration = await real_migration(out)
    saved = await one_host(out, real_console=bool(console))
    saved += await two_hosts(out, real_migration=bool(migration))
    return saved + console + migration


async def first_poll(pilot: Pilot[None], app: VmtuiApp) -> None:
    await wait_screen(pilot, DashboardScreen)
    await wait_for(
        pilot,
        lambda: app.snapshot is not None and table(app).row_count == len(app.snapshot.guests) > 0,
        "the first poll to fill the table",
    )


async def on_guest(pilot: Pilot[None], app: VmtuiApp, name: str = GUEST) -> None:
    """Put the dashboard's cursor on the running guest ``name``."""
    assert app.snapshot is not None
    guest = next((g for g in app.snapshot.guests if g.name == name), None)
    if guest is None or not guest.is_active:
        raise SystemExit(f"screenshots: the demo host has no running guest {name!r}")
    t = table(app)
    t.move_cursor(row=t.get_row_index(guest.uuid), animate=False)
    await pilot.pause()


async def one_host(out: Path, real_console: bool) -> list[Path]:
    # A long interval: nothing changes between the first poll and the pictures.
    app = PictureApp(DEMO_URI, interval=3600)
    saved: list[Path] = []

    def shot(name: str) -> None:
        app.clear_notifications()  # a toast would cover part of the picture
        saved.append(Path(app.save_screenshot(filename=f"{name}.svg", path=str(out))))

    async with app.run_test(size=SIZE) as pilot:
        await first_poll(pilot, app)
        await on_guest(pilot, app)
        shot("dashboard")

        await pilot.press("enter")
        await wait_screen(pilot, GuestScreen)
        shot("guest")
        await pilot.press("escape")
        await wait_screen(pilot, DashboardScreen)

        await pilot.press("question_mark")
        await wait_screen(pilot, HelpScreen)
        shot("help")
        await pilot.press("escape")
        await wait_screen(pilot, DashboardScreen)

        await pilot.press("F")
        await wait_screen(pilot, ConfirmScreen)
        shot("confirm")
        await pilot.press("n")  # the safe answer: nothing is forced off
        await wait_screen(pilot, DashboardScreen)

        await pilot.press("enter")
        await wait_screen(pilot, GuestScreen)
        await pilot.press("g")
        cpu = app.screen.query_one("#g-cpu", Chart)
        await wait_for(pilot, lambda: "now" in cpu.caption, "the charts to fill")
        shot("charts")
        await pilot.press("escape")
        await wait_screen(pilot, DashboardScreen)

        await pilot.press("i")
        await wait_screen(pilot, IsolationScreen)
        iso = app.screen
        assert isinstance(iso, IsolationScreen)
        await wait_for(pilot, lambda: iso.report is not None, "the isolation report")
        shot("isolation")
        await pilot.press("escape")
        await wait_screen(pilot, DashboardScreen)

        await pilot.press("n")
        await wait_screen(pilot, CreateScreen)
        wizard = app.screen
        assert isinstance(wizard, CreateScreen)
        await wait_for(pilot, lambda: wizard.choices is not None, "the wizard's host facts")
        wizard.query_one("#name", Input).value = "web3"
        wizard.query_one("#memory", Input).value = "2G"
        wizard.query_one("#iso-path", Input).value = "/var/lib/libvirt/images/debian-12.iso"
        for _ in range(5):  # install, disks, network, shares, graphics: their defaults
            await pilot.press("ctrl+n")
            await pilot.pause()
        await pilot.press("ctrl+n")  # the review
        await wait_for(
            pilot, lambda: wizard.spec is not None, f"the wizard's review ({wizard.error_text})"
        )
        shot("wizard")
        await pilot.press("escape")
        await wait_screen(pilot, ConfirmScreen)  # leave the wizard? nothing is created
        await pilot.press("y")
        await wait_screen(pilot, DashboardScreen)

        if not real_console:
            await pilot.press("c")
            await wait_screen(pilot, ConsoleScreen)
            await wait_for(
                pilot,
                lambda: any(c.status != "connecting…" for c in app.consoles.values()),
                "the console to say how it went",
            )
            shot("console")
    return saved


def tiny_guest_xml() -> str | None:
    """The integration tests' tiny guest (kernel + initrd, no disk, no NIC), or None when it
    cannot be had here (no cached build and no way to build it)."""
    try:
        from tests.integration.tinyguest import build_tiny_guest, tiny_domain_xml

        return tiny_domain_xml(TINY, build_tiny_guest(), memory_mib=128)
    except Exception as exc:  # any reason at all: the demo host's console is pictured instead
        print(f"screenshots: no tiny guest ({exc}); console.svg shows the demo host")
        return None


def remove_guest(conn: Any, name: str) -> None:
    import libvirt

    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError:
        return
    with contextlib.suppress(libvirt.libvirtError):
        if dom.isActive():
            dom.destroy()
    with contextlib.suppress(libvirt.libvirtError):
        dom.undefine()


async def real_console(out: Path) -> list[Path]:
    """c on a tiny guest booted on qemu:///system: its serial console, a shell in it."""
    import libvirt

    xml = tiny_guest_xml()
    if xml is None:
        return []
    try:
        conn = libvirt.open(SYSTEM_URI)
    except libvirt.libvirtError as exc:
        print(f"screenshots: no libvirtd ({exc}); console.svg shows the demo host")
        return []
    remove_guest(conn, TINY)  # a leftover of an interrupted run
    try:
        conn.defineXML(xml).create()
        app = VmtuiApp(SYSTEM_URI, interval=2)
        async with app.run_test(size=SIZE) as pilot:
            await wait_screen(pilot, DashboardScreen)
            await wait_for(
                pilot,
                lambda: (
                    app.snapshot is not None and any(g.name == TINY for g in app.snapshot.guests)
                ),
                "the tiny guest in the table",
            )
            await on_guest(pilot, app, TINY)
            await pilot.press("c")
            await wait_screen(pilot, ConsoleScreen)
            deadline = time.monotonic() + 60
            nudged = False
            while not any("#" in c.emulator.text() for c in app.consoles.values()):
                # it boots to a root shell in a few seconds under TCG; a prompt printed before
                # the console was open is asked for again (enter) once
                if time.monotonic() > deadline:
                    raise SystemExit("screenshots: the tiny guest's shell did not answer")
                if not nudged and time.monotonic() > deadline - 40:
                    await pilot.press("enter")
                    nudged = True
                await pilot.pause(0.5)
            for ch in "uname -sr; free -m | head -2\n":
                await pilot.press("enter" if ch == "\n" else ch)
            await pilot.pause(2)
            app.clear_notifications()
            path = app.save_screenshot(filename="console.svg", path=str(out))
            await pilot.press("ctrl+right_square_bracket")  # detach
        return [Path(path)]
    finally:
        remove_guest(conn, TINY)
        conn.close()


def second_host() -> Any:
    """A second libvirtd (tests/integration/secondhost.py), started; None when it cannot be
    had here (not root, no unshare, the address taken, another session using it)."""
    import os
    import shutil

    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("nsenter") is None:
        print("screenshots: a second libvirtd needs root and unshare/nsenter")
        return None
    try:
        from tests.integration.secondhost import SecondHost
        from tests.integration.tinyguest import cache_dir

        host = SecondHost(cache_dir())
    except Exception as exc:
        print(f"screenshots: no second host ({exc})")
        return None
    try:
        host.start(timeout=20)
    except Exception as exc:
        print(f"screenshots: no second host ({exc})")
        host.close()
        return None
    return host


async def real_migration(out: Path) -> list[Path]:
    """m on a tiny guest booted on qemu:///system, migrated live to a second libvirtd at a
    bandwidth limit (so it is slow enough to watch), pictured mid-way, then cancelled."""
    import libvirt

    xml = tiny_guest_xml()
    if xml is None:
        return []
    try:
        conn = libvirt.open(SYSTEM_URI)
    except libvirt.libvirtError as exc:
        print(f"screenshots: no libvirtd ({exc})")
        return []
    host = None
    try:
        remove_guest(conn, TINY)  # a leftover of an interrupted run
        host = second_host()
        if host is None:
            return []
        conn.defineXML(xml).create()
        app = VmtuiApp([SYSTEM_URI, host.uri], interval=2)
        async with app.run_test(size=SIZE) as pilot:
            await wait_screen(pilot, DashboardScreen)
            await wait_for(
                pilot,
                lambda: (
                    app.snapshot is not None and any(g.name == TINY for g in app.snapshot.guests)
                ),
                "the tiny guest in the table",
            )
            await on_guest(pilot, app, TINY)
            await pilot.press("m")
            await wait_screen(pilot, MigrateScreen)
            screen = app.screen
            assert isinstance(screen, MigrateScreen)
            screen.query_one("#bandwidth", Input).value = str(MIGRATE_MIB_S)
            await pilot.click("#start")

            def partway() -> bool:
                p = screen.last_progress
                return (
                    p is not None
                    and p.phase == "migrating"
                    and p.fraction is not None
                    and PICTURE_AT <= p.fraction < 0.9
                )

            await wait_for(pilot, partway, "the migration to be part-way")
            await pilot.pause(0.3)
            app.clear_notifications()
            path = app.save_screenshot(filename="migrate.svg", path=str(out))
            await pilot.press("x")  # cancel: the guest stays on qemu:///system
            await wait_for(pilot, lambda: screen.succeeded is not None, "the migration to end")
            await pilot.press("escape")
            await wait_screen(pilot, DashboardScreen)
        print("screenshots: migrate.svg shows a live migration in progress")
        return [Path(path)]
    finally:
        remove_guest(conn, TINY)
        conn.close()
        if host is not None:
            host.close()  # destroys and undefines its guests, stops its daemons


async def two_hosts(out: Path, real_migration: bool) -> list[Path]:
    app = VmtuiApp([DEMO_URI, SECOND_HOST], interval=3600)
    saved: list[Path] = []

    def shot(name: str) -> None:
        app.clear_notifications()
        saved.append(Path(app.save_screenshot(filename=f"{name}.svg", path=str(out))))

    async with app.run_test(size=SIZE) as pilot:
        await first_poll(pilot, app)
        await wait_for(
            pilot,
            lambda: (
                app.snapshot is not None
                and len({app.uri_of(g.uuid) for g in app.snapshot.guests}) >= 2
            ),
            "both hosts to be polled",
        )
        await on_guest(pilot, app)
        shot("hosts")

        if not real_migration:
            await pilot.press("m")
            await wait_screen(pilot, MigrateScreen)
            shot("migrate")
            print("screenshots: migrate.svg shows the migrate dialog (no live migration here)")
            await pilot.press("escape")  # nothing is started
            await wait_screen(pilot, DashboardScreen)
    return saved


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots", help="directory")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(take(args.out)):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
