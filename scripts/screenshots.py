"""Regenerate screenshots/*.svg from the real app on the demo host, at 80x24.

    python scripts/screenshots.py [--out DIR]      (or: make screenshots)

dashboard.svg  the guest list, cursor on db1
guest.svg      db1 opened (enter): hardware, disks, NICs
help.svg       ? on the dashboard
confirm.svg    F on db1: the force-off confirmation
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.screen import Screen

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a file from anywhere: import this checkout's vmtui
    sys.path.insert(0, str(ROOT))

from vmtui.app import VmtuiApp  # noqa: E402
from vmtui.demo import DEMO_URI  # noqa: E402
from vmtui.screens.confirm import ConfirmScreen  # noqa: E402
from vmtui.screens.dashboard import DashboardScreen  # noqa: E402
from vmtui.screens.guest import GuestScreen  # noqa: E402
from vmtui.screens.help import HelpScreen  # noqa: E402
from vmtui.widgets.guest_table import GuestTable  # noqa: E402

SIZE = (80, 24)
GUEST = "db1"  # running, two disks and a NIC on the demo host
TIMEOUT = 20.0


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
    # A long interval: nothing changes between the first poll and the pictures.
    app = VmtuiApp(DEMO_URI, interval=3600)
    saved: list[Path] = []

    def shot(name: str) -> None:
        saved.append(Path(app.save_screenshot(filename=f"{name}.svg", path=str(out))))

    async with app.run_test(size=SIZE) as pilot:
        await wait_screen(pilot, DashboardScreen)
        await wait_for(
            pilot,
            lambda: (
                app.snapshot is not None and table(app).row_count == len(app.snapshot.guests) > 0
            ),
            "the first poll to fill the table",
        )
        assert app.snapshot is not None
        guest = next((g for g in app.snapshot.guests if g.name == GUEST), None)
        if guest is None or not guest.is_active:
            raise SystemExit(f"screenshots: the demo host has no running guest {GUEST!r}")
        t = table(app)
        t.move_cursor(row=t.get_row_index(guest.uuid), animate=False)
        await pilot.pause()
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
