"""Issue 14, "prove the class": one walk through every screen and dialog with a hostile host.

tests/data/hostile_host.xml gives guests, networks, a pool and volumes (and, made here, a
snapshot) names, titles, descriptions and tags holding markup (``[red]``, ``[/``,
``[@click=app.quit]``), C1 controls, bidi overrides, zero-width characters, a 202-character
name, names starting with ``-`` and look-alike pairs. At every step the test asserts: the app
still runs (no exception), nothing rendered holds a C0/C1, bidi or zero-width character (the
compositor's own lines, what reaches the terminal), and each destructive dialog names the
guest's UUID, so that look-alikes can be told apart.
"""

from __future__ import annotations

from collections.abc import Callable
from fcntl import ioctl as fcntl_ioctl
from pathlib import Path

from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input

from tests.conftest import host_uri
from tests.ui.helpers import table, wait_for
from tests.ui.rendered import screen_text, unsafe_characters
from vmtui.app import VmtuiApp
from vmtui.screens.activity import ActivityScreen
from vmtui.screens.allocation import AllocationScreen
from vmtui.screens.backups import BackupsScreen
from vmtui.screens.clone import CloneScreen
from vmtui.screens.command import CommandLineScreen
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.connections import ConnectionsScreen
from vmtui.screens.dashboard import DashboardScreen
from vmtui.screens.delete import DeleteScreen
from vmtui.screens.disks import DisksScreen
from vmtui.screens.guest import GuestScreen
from vmtui.screens.help import HelpScreen
from vmtui.screens.hostlist import HostListScreen
from vmtui.screens.isolation import IsolationScreen
from vmtui.screens.migrate import MigrateScreen
from vmtui.screens.networks import NetworksScreen
from vmtui.screens.snapshots import SnapshotsScreen
from vmtui.screens.storage import StorageScreen
from vmtui.screens.xmledit import XmlEditScreen

SIZE = (140, 45)
HOSTILE = host_uri("hostile_host")
SMALL = host_uri("small_host")


def uuid(n: int) -> str:
    return f"bad00000-0000-4000-8000-0000000000{n:02d}"


EVIL_NAME = "[red]evil[b] [@click=app.quit]x"
EVIL = uuid(1)  # markup name, C1 CSI/OSC in its description, markup and bidi tags (running)
WEB1, LOOKALIKE = uuid(3), uuid(4)  # web1 and web<ZWSP>1, both running
PAYPAL_CYRILLIC, PAYPAL = uuid(5), uuid(6)  # shut off; told apart only by their UUIDs
LONG = uuid(7)  # 202 characters, shut off
DASHED = uuid(8)  # --help, running


class Walk:
    def __init__(self, pilot: Pilot[None], app: VmtuiApp) -> None:
        self.pilot = pilot
        self.app = app
        self.seen: list[str] = []

    def check(self, where: str, *, shows: tuple[str, ...] = ()) -> str:
        """The app runs and the screen's rendered text is safe (and shows ``shows``)."""
        assert self.app.is_running, f"{where}: the app has stopped"
        text = screen_text(self.app)
        bad = unsafe_characters(text)
        assert not bad, f"{where}: rendered {bad}"
        for wanted in shows:
            assert wanted in text, f"{where}: {wanted!r} is not shown\n{text}"
        self.seen.append(where)
        return text

    async def open(self, key: str, kind: type[Screen[object]] | tuple[type, ...]) -> None:
        await self.pilot.press(key)
        await wait_for(self.pilot, lambda: isinstance(self.app.screen, kind), timeout=10)
        await self.pilot.pause(0.2)

    async def back_to(self, kind: type[Screen[object]], key: str = "escape") -> None:
        while not isinstance(self.app.screen, kind):
            await self.pilot.press(key)
            await self.pilot.pause(0.05)

    async def until(self, predicate: Callable[[], bool]) -> None:
        await wait_for(self.pilot, predicate, timeout=10)

    def select(self, guest_uuid: str) -> None:
        t = table(self.app)
        t.move_cursor(row=t.get_row_index(guest_uuid), animate=False)


def _hostile_snapshot(app: VmtuiApp) -> None:
    """A snapshot whose name and description are hostile, made on the app's own connection
    (each test-driver open is a fresh host)."""
    dom = app.hypervisor_for(EVIL).writable_conn().lookupByUUIDString(EVIL)
    dom.snapshotCreateXML(
        "<domainsnapshot><name>[red]snap\u009b\u202e[b]</name>"
        "<description>[/ \u009d0;title\u009c \u200b</description></domainsnapshot>",
        0,
    )


async def test_every_screen_and_dialog_shows_hostile_data_safely(tmp_path: Path) -> None:
    app = VmtuiApp([HOSTILE, SMALL], interval=0.3)
    app.config_file = tmp_path / "config.toml"
    (tmp_path / "config.toml").write_text(
        '[[connection]]\nname = "[/x\\u009b\\u202e"\ndriver = "test"\ntransport = "local"\n'
        'path = "/nowhere[red].xml"\n'
    )
    async with app.run_test(size=SIZE) as pilot:
        walk = Walk(pilot, app)
        await walk.until(lambda: app.snapshot is not None and len(app.snapshot.guests) >= 15)
        await pilot.pause(0.3)
        _hostile_snapshot(app)

        # ---- dashboard (every hostile name in its table)
        walk.check("dashboard", shows=("[red]evil[b] [@click=app.quit]x", "--help"))

        # ---- the guest screen, then its own tools
        walk.select(EVIL)
        await walk.open("enter", GuestScreen)
        walk.check("guest", shows=(EVIL_NAME, "[red]t", "\\x9b2J", "[red]d\\x9bisk\\u202e.img"))
        await walk.open("i", IsolationScreen)
        walk.check("isolation", shows=(EVIL_NAME,))
        await walk.back_to(GuestScreen)
        await walk.open("A", AllocationScreen)
        walk.check("allocation", shows=(EVIL_NAME,))
        await walk.back_to(GuestScreen)
        await walk.open("S", SnapshotsScreen)
        await pilot.pause(0.5)
        walk.check("snapshots", shows=("[red]snap\\x9b\\u202e[b]",))
        await walk.back_to(GuestScreen)
        await walk.open("b", DisksScreen)
        await pilot.pause(0.5)
        walk.check("disks", shows=("[red]d\\x9bisk\\u202e.img",))
        await walk.back_to(GuestScreen)
        await walk.open("B", BackupsScreen)
        await pilot.pause(0.5)
        walk.check("backups")
        await walk.back_to(GuestScreen)
        await walk.open("e", XmlEditScreen)
        await pilot.pause(0.5)
        walk.check("XML editor", shows=("[red]evil[b] [@click=app.quit]x", "&#x9b;2J"))
        await walk.back_to(DashboardScreen)

        # ---- destructive dialogs: the UUID tells look-alikes apart
        for target in (WEB1, LOOKALIKE, EVIL):
            walk.select(target)
            await walk.open("F", ConfirmScreen)
            walk.check(f"force off {target}", shows=(target,))
            await walk.back_to(DashboardScreen)
        for target in (PAYPAL, PAYPAL_CYRILLIC, LONG):
            walk.select(target)
            await walk.open("D", DeleteScreen)
            walk.check(f"delete {target}", shows=(target,))
            await walk.back_to(DashboardScreen)

        # ---- clone and migrate (a shut-off guest)
        walk.select(LONG)
        await walk.open("K", CloneScreen)
        walk.check("clone")
        await walk.back_to(DashboardScreen)
        walk.select(PAYPAL_CYRILLIC)
        await walk.open("m", MigrateScreen)
        walk.check("migrate", shows=(PAYPAL_CYRILLIC,))
        await walk.back_to(DashboardScreen)

        # ---- bulk: marked look-alikes, force off asks with every UUID
        walk.select(WEB1)
        await pilot.press("space")
        walk.select(LOOKALIKE)
        await pilot.press("space")
        await walk.open("colon", CommandLineScreen)
        walk.check(": line")
        await pilot.press(*"force-off", "enter")
        await walk.until(lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.pause(0.2)
        walk.check("bulk force off", shows=(WEB1, LOOKALIKE))
        await walk.back_to(DashboardScreen)
        await pilot.press("escape")  # drop the marks

        # ---- the : line and the / filter with hostile text typed in
        await walk.open("colon", CommandLineScreen)
        await pilot.press(*"[/x][@click=app.quit]")
        await pilot.pause(0.1)
        walk.check(": line, hostile text")
        await walk.back_to(DashboardScreen)
        await pilot.press("slash")
        await pilot.press(*"name~[/ \u009b")
        await pilot.pause(0.2)
        walk.check("/ filter, hostile text")
        app.screen.query_one("#filter", Input).value = "web"
        await pilot.pause(0.3)
        walk.check("/ filter, look-alikes", shows=("web1", "web\\u200b1"))
        await pilot.press("escape")
        await walk.back_to(DashboardScreen)

        # ---- the palette highlights a hostile name as text
        walk.select(EVIL)
        await pilot.press("ctrl+p")
        await walk.until(lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"for")
        await pilot.pause(0.5)
        walk.check("palette", shows=("[@click=app.quit]",))
        await walk.back_to(DashboardScreen)

        # ---- host-wide screens
        await walk.open("N", NetworksScreen)
        await pilot.pause(0.5)
        walk.check("networks", shows=("[red]net", "[b]n\\x9bet\\u202e"))
        await walk.back_to(DashboardScreen)
        await walk.open("V", StorageScreen)
        await pilot.pause(0.5)
        walk.check("storage", shows=("[@click=app.quit]pool\\u200b",))
        await pilot.press("enter")  # the pool's volumes
        await pilot.pause(0.5)
        walk.check("storage volumes")
        await walk.back_to(DashboardScreen)
        await walk.open("H", ConnectionsScreen)
        await pilot.pause(0.5)
        walk.check("connections", shows=("[/x\\x9b\\u202e",))
        await walk.back_to(DashboardScreen)
        await walk.open("L", ActivityScreen)
        walk.check("activity log")
        await walk.back_to(DashboardScreen)
        await walk.open("f", HostListScreen)
        walk.check("hosts")
        await walk.back_to(DashboardScreen, key="f")
        await walk.open("question_mark", HelpScreen)
        walk.check("help")
        await walk.back_to(DashboardScreen)
        walk.check("dashboard again")

    assert len(walk.seen) >= 25, walk.seen


def test_the_palette_highlights_a_guest_name_as_text_not_markup() -> None:
    """Issue 14 #10: Matcher.highlight parsed the title as markup, so a guest named
    ``[@click=app.quit]x`` became a clickable action in the palette."""
    from textual.fuzzy import Matcher

    from vmtui.screens.base import plain_highlight

    title = "Force off [@click=app.quit]x[/]"
    shown = plain_highlight(Matcher("forc"), title)
    assert shown.plain == title
    assert [(s.start, s.end) for s in shown.spans] == [(0, 1), (1, 2), (2, 3), (3, 4)]


def test_in_a_real_terminal_no_c1_or_bidi_byte_is_written(tmp_path: Path) -> None:
    """Issue 14 #4 as reproduced: in a pty, C1 CSI/OSC bytes of a guest name reached the
    terminal raw. The real program, on the hostile host: none of them in what it writes (the
    names escaped where they enter, and the driver's last filter, widgets/safe_driver.py)."""
    import os
    import select
    import struct
    import subprocess
    import sys
    import termios
    import time

    master, slave = os.openpty()
    fcntl_ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "VMTUI_CONFIG": str(tmp_path / "c.toml")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vmtui", "-c", HOSTILE],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    output = b""
    try:
        deadline = time.monotonic() + 60
        while b"gnp.exe" not in output or b"Connected to" not in output:
            assert proc.poll() is None, output[-2000:]
            assert time.monotonic() < deadline, f"never drawn: {output[-2000:]!r}"
            if select.select([master], [], [], 0.2)[0]:
                output += os.read(master, 65536)
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
    text = output.decode("utf-8", errors="replace")
    assert not [c for c in text if 0x80 <= ord(c) < 0xA0], "a C1 control was written"
    assert not unsafe_characters(text.replace("\x1b", "").replace("\r", "").replace("\x07", ""))
    assert "web\\u202egnp.exe" in text  # the name, escaped, readable


async def test_the_driver_filters_what_any_widget_lets_through() -> None:
    """The last line of defence: whatever a screen draws, the driver writes no C1, bidi or
    zero-width character (a screen that forgot to escape a raw path, say)."""
    from textual.drivers.headless_driver import HeadlessDriver

    from vmtui.widgets.safe_driver import safe_driver

    written: list[str] = []

    class Recording(HeadlessDriver):
        def write(self, data: str) -> None:
            written.append(data)

    driver = safe_driver(Recording)(VmtuiApp(SMALL))
    driver.write("\x1b[1;1Hweb\u202egnp\x9b2J\u200b\u2028 ok ─ é")
    assert written == ["\x1b[1;1Hweb\ufffdgnp\ufffd2J\ufffd\ufffd ok ─ é"]
    assert isinstance(driver, Recording)
    assert VmtuiApp(SMALL).driver_class.__name__.startswith("Safe")
