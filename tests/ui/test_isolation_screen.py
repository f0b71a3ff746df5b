"""The isolation view (i) and the networks screen (N), driven with Pilot on the test driver."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input, Select, Static

from tests.conftest import host_uri
from tests.ui.helpers import click, guest_named, ready, select, table, text_of, wait_for
from vmtui.app import VmtuiApp
from vmtui.backend import NicSpec
from vmtui.backend.isolation import attach_nic
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.isolation import (
    AddFolderScreen,
    AddNicScreen,
    IsolationScreen,
    SwitchNetworkScreen,
)
from vmtui.screens.networks import CreateNetworkScreen, NetworksScreen

SIZE = (80, 24)


def make_app() -> VmtuiApp:
    return VmtuiApp(host_uri("isolation_host"), interval=0.2)


def iso_cell(app: VmtuiApp, name: str) -> str | None:
    return table(app).shown_cell(guest_named(app, name).uuid, "iso")


async def open_isolation(pilot, app: VmtuiApp, name: str) -> IsolationScreen:  # type: ignore[no-untyped-def]
    select(app, name)
    await pilot.press("i")
    await wait_for(pilot, lambda: isinstance(app.screen, IsolationScreen))
    screen = app.screen
    assert isinstance(screen, IsolationScreen)
    await wait_for(pilot, lambda: screen.report is not None)
    return screen


async def test_the_view_lists_every_path_and_the_verdict() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = await open_isolation(pilot, app, "isolated-guest")
        verdict = text_of(screen.query_one("#iso-verdict", Static))
        assert "Verdict: guest-only" in verdict
        paths = screen.query_one(DataTable)
        rows = [[str(c) for c in paths.get_row_at(i)] for i in range(paths.row_count)]
        assert ["NIC 52:54:00:00:00:04", "network isonet", "isolated", "yes", "yes"] in rows
        assert ["vnc display", "0.0.0.0:5904", "network", "yes", "yes"] in rows  # reachable
        assert any(r[0] == "guest agent" for r in rows)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, IsolationScreen))


async def test_adding_a_nic_asks_says_next_boot_and_changes_the_dashboard_verdict() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: iso_cell(app, "nonic-guest") == "iso")  # once loaded
        screen = await open_isolation(pilot, app, "nonic-guest")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, AddNicScreen))
        app.screen.query_one("#network", Select).value = "natnet"
        await click(pilot, "#ok")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = text_of(app.screen.query_one("#body", Static))
        assert "NAT" in body and "next boot (the guest is shut off)" in body
        await pilot.press("y")
        await wait_for(pilot, lambda: "Saved" in screen.last_message)
        await wait_for(
            pilot, lambda: "Verdict: NAT" in text_of(screen.query_one("#iso-verdict", Static))
        )
        logged = [e for e in app.activity if e.kind == "action"][-1]
        assert logged.ok and "attach-interface" in logged.text and "natnet" in logged.text
        assert "--config" in logged.text and "--live" not in logged.text  # shut off
        await pilot.press("escape")
        await wait_for(pilot, lambda: iso_cell(app, "nonic-guest") == "NAT", timeout=15)
        # And back: remove it again.
        screen = await open_isolation(pilot, app, "nonic-guest")
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(
            pilot, lambda: "Verdict: isolated" in text_of(screen.query_one("#iso-verdict", Static))
        )
        await pilot.press("escape")
        await wait_for(pilot, lambda: iso_cell(app, "nonic-guest") == "iso", timeout=15)


async def share(pilot, app: VmtuiApp, path: str, tag: str = "t") -> None:  # type: ignore[no-untyped-def]
    await pilot.press("f")
    await wait_for(pilot, lambda: isinstance(app.screen, AddFolderScreen))
    app.screen.query_one("#path", Input).value = path
    app.screen.query_one("#tag", Input).value = tag
    await click(pilot, "#ok")


async def test_risky_folders_are_named_before_anything_is_shared(tmp_path: Path) -> None:
    link = tmp_path / "innocent"
    link.symlink_to("/etc")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = await open_isolation(pilot, app, "nonic-guest")
        await share(pilot, app, str(link))
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = text_of(app.screen.query_one("#body", Static))
        assert "really /etc" in body and "passwords and keys" in body
        await pilot.press("n")
        await wait_for(pilot, lambda: "Not shared" in screen.last_message)
        climb = f"{tmp_path}{'/..' * len(tmp_path.parts)}/root"
        await share(pilot, app, climb)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "really /root" in text_of(app.screen.query_one("#body", Static))
        await pilot.press("n")
        await share(pilot, app, str(tmp_path / "missing"))  # said in the dialog (issue 16)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")  # do not create it
        await wait_for(pilot, lambda: isinstance(app.screen, AddFolderScreen))
        assert "does not exist" in text_of(app.screen.query_one("#error", Static))
        assert guest_named(app, "nonic-guest").shared_folders == ()


async def test_sharing_a_folder_read_only_makes_the_guest_host_shared(tmp_path: Path) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = await open_isolation(pilot, app, "nonic-guest")
        await share(pilot, app, str(tmp_path), "data")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = text_of(app.screen.query_one("#body", Static))
        assert "read-only" in body and "next boot" in body
        await pilot.press("y")
        await wait_for(
            pilot, lambda: "host-shared" in text_of(screen.query_one("#iso-verdict", Static))
        )
        paths = screen.query_one(DataTable)
        assert [str(c) for c in paths.get_row_at(0)][2] == "share ro"
        await pilot.press("o")  # make it read-write: the confirmation warns
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "change and delete host files" in text_of(app.screen.query_one("#body", Static))
        await pilot.press("y")
        await wait_for(pilot, lambda: [str(c) for c in paths.get_row_at(0)][2] == "share rw")


async def test_networks_screen_lists_creates_and_guards_delete() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("N")
        await wait_for(pilot, lambda: isinstance(app.screen, NetworksScreen))
        screen = app.screen
        assert isinstance(screen, NetworksScreen)
        await wait_for(pilot, lambda: screen.loaded)
        t = screen.query_one(DataTable)
        assert t.row_count == 5
        first = [str(c) for c in t.get_row_at(0)]
        assert first[:4] == ["hostonly", "yes", "", "host-only"]
        # Delete is refused while guests use it, naming them.
        t.move_cursor(row=t.get_row_index("natnet"))
        await pilot.press("D")
        detail = screen.query_one("#net-detail", Static)
        await wait_for(pilot, lambda: "used by bridged-guest" in text_of(detail))
        assert not isinstance(app.screen, ConfirmScreen)
        # Create: bad input is explained in the form, good input creates it.
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CreateNetworkScreen))
        form = app.screen
        form.query_one("#name", Input).value = "lab"
        form.query_one("#mode", Select).value = "nat"
        cidr = form.query_one("#cidr", Input)
        cidr.value = "10.99.0.0/24"
        cidr.focus()
        await pilot.press("enter")  # enter in a field submits the form, as Create does
        await wait_for(
            pilot, lambda: "network or broadcast" in text_of(form.query_one("#error", Static))
        )
        cidr.value = "10.99.0.1/24"
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(n.name == "lab" for n in screen.networks))
        lab = next(n for n in screen.networks if n.name == "lab")
        assert (lab.mode, lab.active, lab.ip) == ("NAT", True, "10.99.0.1/24")
        # Stop (asks), then delete (asks).
        t.move_cursor(row=t.get_row_index("lab"))
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(
            pilot, lambda: not next(n for n in screen.networks if n.name == "lab").active
        )
        t.move_cursor(row=t.get_row_index("lab"))
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Delete network lab?" in str(app.screen.query_one("#title").render())
        await pilot.press("y")
        await wait_for(pilot, lambda: all(n.name != "lab" for n in screen.networks))


async def test_moving_a_nic_of_a_running_guest_says_the_live_part_was_refused() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = await open_isolation(pilot, app, "nat-guest")
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, SwitchNetworkScreen))
        app.screen.query_one("#network", Select).value = "isonet"
        await click(pilot, "#ok")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = text_of(app.screen.query_one("#body", Static))
        assert "only other guests" in body and "applies now" in body
        await pilot.press("y")
        # The test driver cannot change a running guest: saved for the next boot, and said.
        await wait_for(pilot, lambda: "refused the live change" in screen.last_message)
        verdict = screen.query_one("#iso-verdict", Static)
        await wait_for(pilot, lambda: "At next boot: guest-only" in text_of(verdict))
        assert "Verdict: NAT" in text_of(verdict)


async def test_read_only_hides_every_change() -> None:
    app = VmtuiApp(host_uri("isolation_host"), interval=0.2, readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = await open_isolation(pilot, app, "nonic-guest")
        for key in ("n", "f", "x", "w", "o"):
            await pilot.press(key)
            await pilot.pause(0.1)
            assert app.screen is screen, key
        assert screen.check_action("add_nic", ()) is False
        await pilot.press("escape", "N")
        await wait_for(pilot, lambda: isinstance(app.screen, NetworksScreen))
        nets = app.screen
        await wait_for(pilot, lambda: nets.loaded)  # type: ignore[attr-defined]
        for key in ("c", "s", "D"):
            await pilot.press(key)
            await pilot.pause(0.1)
            assert app.screen is nets, key


async def test_the_view_follows_changes_made_by_another_tool() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = await open_isolation(pilot, app, "nonic-guest")
        paths = screen.query_one(DataTable)
        assert paths.row_count == 0
        uuid = guest_named(app, "nonic-guest").uuid
        hv = app.hypervisor_for(uuid)
        # As another tool would (here in-process; the test driver answers at once).
        attach_nic(hv, uuid, NicSpec("network", "routenet", mac="52:54:00:0f:0f:0f"))
        await wait_for(pilot, lambda: paths.row_count == 1)
        assert [str(c) for c in paths.get_row_at(0)][:3] == [
            "NIC 52:54:00:0f:0f:0f",
            "network routenet",
            "routed",
        ]


async def test_look_alike_devices_each_get_a_row_and_other_paths_are_shown() -> None:
    """Regression (issue 14, 15a): rows were keyed by kind and address, so two iSCSI host
    devices (empty address) crashed the view with DuplicateKey; folders were merged by tag."""
    app = VmtuiApp(host_uri("isolation_dupes_host"), interval=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        screen = await open_isolation(pilot, app, "dupes-guest")
        paths = screen.query_one(DataTable)
        await wait_for(pilot, lambda: paths.row_count > 0)
        rows = [[str(c) for c in paths.get_row_at(i)] for i in range(paths.row_count)]
        leads = [r[1] for r in rows]
        assert "iscsi://example.org:3260/iqn.1992-01.com.example:storage/1" in leads
        assert "iscsi://example.org:3260/iqn.1992-01.com.example:storage/2" in leads
        assert "scsi_host0 0:0:0" in leads and "scsi_host1 0:0:0" in leads
        assert sorted(r[1] for r in rows if r[0].startswith("folder data")) == [
            "/srv/a",
            "/srv/b",
            "/srv/c",
        ]
        assert [
            "serial 0 (tcp)",
            "listens on 0.0.0.0:2445 (every address)",
            "network",
            "yes",
            "yes",
        ] in rows
        assert "Verdict: host-shared" in text_of(screen.query_one("#iso-verdict", Static))
        # the third folder (read-only) is the one its row's action toggles
        ro_key = next(k for k, r in screen.rows.items() if r.cells[1] == "/srv/c")
        paths.move_cursor(row=paths.get_row_index(ro_key))
        assert screen.rows[ro_key].ref == "data" and screen.rows[ro_key].cells[2] == "share ro"


def test_identical_devices_get_rows_of_their_own_live_and_saved_paired() -> None:
    """Two USB sticks with the same vendor:product and no address, two NICs without a MAC:
    every device its own row and key; the live and saved copies pair one to one."""
    from vmtui.backend.isolation import Exposure, IsolationReport, NicPath
    from vmtui.backend.models import NicInfo
    from vmtui.backend.paths import HostPath
    from vmtui.screens.isolation import build_rows

    stick = HostPath("hostdev", "host usb device", "0781:5567", "device", "host-shared")
    nic = NicPath(NicInfo("", "user", "", "virtio", ""), "user")

    def exp(n: int) -> Exposure:
        return Exposure((nic,) * n, (), (), (), False, "host-shared", (stick,) * n)

    report = IsolationReport("u", "g", "test:///x", True, True, exp(2), exp(3), ())
    rows = build_rows(report)
    assert len({r.key for r in rows}) == len(rows) == 6
    sticks = [r.cells for r in rows if r.cells[0] == "host usb device"]
    assert sticks.count(("host usb device", "0781:5567", "device", "yes", "yes")) == 2
    assert sticks.count(("host usb device", "0781:5567", "device", "no", "yes")) == 1
