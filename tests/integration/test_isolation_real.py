"""Isolation and networks against the real libvirtd (qemu:///system) with tiny TCG guests.

Only isolated networks without an <ip> are created (named vmtui-test-<pid>-net...), never the
``default`` network; nothing sends traffic. Each change goes through the app's own keys and is
checked twice: in what the app shows, and in the XML libvirt holds.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import libvirt
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static

from tests.ui.helpers import text_of
from vmtui.app import VmtuiApp
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.isolation import (
    AddFolderScreen,
    AddNicScreen,
    IsolationScreen,
    SwitchNetworkScreen,
)
from vmtui.screens.networks import CreateNetworkScreen, NetworksScreen

from .conftest import unique_domain_name
from .helpers import (
    AppWatch,
    assert_exited_cleanly,
    describe_app,
    guest_table,
    select_guest,
    shown_row,
)
from .helpers import wait_for as real_wait_for

SIZE = (80, 24)
DEADLINE = 60.0


def remove_network(conn: Any, name: str) -> None:
    try:
        net = conn.networkLookupByName(name)
    except libvirt.libvirtError:
        return
    if net.isActive():
        net.destroy()
    net.undefine()


def dom_xml(conn: Any, name: str, inactive: bool = False) -> ET.Element:
    flags = libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0
    return ET.fromstring(conn.lookupByName(name).XMLDesc(flags))


def nics_on(root: ET.Element, network: str) -> list[str]:
    return [
        (i.find("mac").get("address", "") if i.find("mac") is not None else "")  # type: ignore[union-attr]
        for i in root.iterfind("devices/interface")
        if i.find("source") is not None and i.find("source").get("network") == network  # type: ignore[union-attr]
    ]


def verdict_cell(app: VmtuiApp, uuid: str) -> str | None:
    if shown_row(app, uuid) is None:
        return None
    return guest_table(app).shown_cell(uuid, "iso")  # by key: columns may follow it


async def open_isolation(pilot: Pilot[None], app: VmtuiApp, uuid: str) -> IsolationScreen:
    await real_wait_for(pilot, lambda: shown_row(app, uuid) is not None, DEADLINE, what="row")
    select_guest(app, uuid)
    await pilot.press("i")
    await real_wait_for(pilot, lambda: isinstance(app.screen, IsolationScreen), what="view")
    screen = app.screen
    assert isinstance(screen, IsolationScreen)
    await real_wait_for(pilot, lambda: screen.report is not None, DEADLINE, what="report")
    return screen


async def confirm(pilot: Pilot[None], app: VmtuiApp) -> str:
    await real_wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
    body = text_of(app.screen.query_one("#body", Static))
    await pilot.press("y")
    return body


async def test_nic_on_an_isolated_network_live_and_persistent_and_delete_guard(
    libvirtd: str,
    libvirt_conn: Any,
    tiny_domain_factory: Callable[..., str],
    isolated_network: str,
) -> None:
    name = tiny_domain_factory("iso-nic")
    dom = libvirt_conn.lookupByName(name)
    dom.create()
    uuid = dom.UUIDString()
    app = VmtuiApp(libvirtd, interval=0.5)
    watch = AppWatch()
    async with app.run_test(size=SIZE, message_hook=watch) as pilot:
        await real_wait_for(
            pilot, lambda: verdict_cell(app, uuid) == "iso", DEADLINE, what="iso verdict"
        )
        screen = await open_isolation(pilot, app, uuid)
        await pilot.press("n")
        await real_wait_for(pilot, lambda: isinstance(app.screen, AddNicScreen), what="form")
        app.screen.query_one("#network", Select).value = isolated_network
        await pilot.click("#ok")
        body = await confirm(pilot, app)
        assert "applies now" in body and "isolated network without an IP" in body
        await real_wait_for(
            pilot,
            lambda: screen.last_message != "",
            DEADLINE,
            what="result",
            describe=lambda: describe_app(app, uuid),
        )
        live_macs = nics_on(dom_xml(libvirt_conn, name), isolated_network)
        config_macs = nics_on(dom_xml(libvirt_conn, name, inactive=True), isolated_network)
        assert len(config_macs) == 1, screen.last_message
        if "has the change now" in screen.last_message:
            assert live_macs == config_macs  # the same card, live and at boot
        else:  # QEMU refused the hotplug: saved for the next boot, and the app says so
            assert "refused the live change" in screen.last_message
            assert live_macs == []
        mac = config_macs[0]
        # A network without IP or forward leads to other guests only: guest-only ("gst").
        await real_wait_for(
            pilot,
            lambda: screen.report is not None and screen.report.current.verdict == "guest-only",
            DEADLINE,
            what="guest-only in the view",
        )
        paths = screen.query_one(DataTable)
        await real_wait_for(pilot, lambda: paths.row_count >= 1, what="NIC row")
        row = [str(c) for c in paths.get_row_at(paths.get_row_index(f"nic:{mac}"))]
        assert row[1:3] == [f"network {isolated_network}", "isolated"]

        # The network cannot be deleted while the guest uses it; the refusal names the guest.
        await pilot.press("escape")
        await real_wait_for(
            pilot, lambda: verdict_cell(app, uuid) == "gst", DEADLINE, what="gst on the dashboard"
        )
        await pilot.press("N")
        await real_wait_for(pilot, lambda: isinstance(app.screen, NetworksScreen), what="nets")
        nets = app.screen
        assert isinstance(nets, NetworksScreen)
        await real_wait_for(
            pilot,
            lambda: any(n.name == isolated_network for n in nets.networks),
            DEADLINE,
            what="our network listed",
        )
        listed = next(n for n in nets.networks if n.name == isolated_network)
        assert (listed.mode, listed.ip, listed.used_by) == ("isolated", "", (name,))
        table = nets.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(isolated_network))
        await pilot.press("D")
        detail = nets.query_one("#net-detail", Static)
        await real_wait_for(pilot, lambda: f"used by {name}" in text_of(detail), what="refusal")
        libvirt_conn.networkLookupByName(isolated_network)  # still there
        await pilot.press("escape")

        # Remove the NIC again.
        screen = await open_isolation(pilot, app, uuid)
        paths = screen.query_one(DataTable)
        paths.move_cursor(row=paths.get_row_index(f"nic:{mac}"))
        await pilot.press("x")
        await confirm(pilot, app)
        await real_wait_for(
            pilot,
            lambda: not nics_on(dom_xml(libvirt_conn, name, inactive=True), isolated_network),
            DEADLINE,
            what="NIC gone from the config",
        )
        await real_wait_for(pilot, lambda: bool(screen.last_message), what="result")
        # A live unplug needs the guest's consent (ACPI); the tiny guest may not give it in
        # time (a busy machine), and then the app must say so rather than claim the NIC is
        # gone; when it does, the app says it is done.
        if nics_on(dom_xml(libvirt_conn, name), isolated_network):
            assert "has not yet" in screen.last_message, screen.last_message
        else:
            assert screen.last_message.startswith(("Done", "Removed")), screen.last_message
        await pilot.press("escape")
    assert_exited_cleanly(app, watch)


async def test_moving_a_nic_between_isolated_networks_on_a_running_guest(
    libvirtd: str,
    libvirt_conn: Any,
    tiny_domain_factory: Callable[..., str],
    isolated_network: str,
    make_isolated_network: Callable[..., str],
) -> None:
    second_isolated_net = make_isolated_network("second")
    mac = "52:54:00:7e:57:01"
    nic = (
        f"<interface type='network'><mac address='{mac}'/>"
        f"<source network='{isolated_network}'/><model type='virtio'/></interface>"
    )
    name = tiny_domain_factory("iso-mv", extra_devices_xml=nic)
    dom = libvirt_conn.lookupByName(name)
    dom.create()
    uuid = dom.UUIDString()
    app = VmtuiApp(libvirtd, interval=0.5)
    watch = AppWatch()
    async with app.run_test(size=SIZE, message_hook=watch) as pilot:
        screen = await open_isolation(pilot, app, uuid)
        paths = screen.query_one(DataTable)
        await real_wait_for(pilot, lambda: paths.row_count >= 1, what="NIC row")
        paths.move_cursor(row=paths.get_row_index(f"nic:{mac}"))
        await pilot.press("w")
        await real_wait_for(
            pilot, lambda: isinstance(app.screen, SwitchNetworkScreen), what="choose network"
        )
        app.screen.query_one("#network", Select).value = second_isolated_net
        await pilot.click("#ok")
        body = await confirm(pilot, app)
        assert "applies now" in body
        await real_wait_for(
            pilot,
            lambda: screen.last_message != "",
            DEADLINE,
            what="result",
            describe=lambda: screen.last_message,
        )
        assert "has the change now" in screen.last_message, screen.last_message
        assert nics_on(dom_xml(libvirt_conn, name), second_isolated_net) == [mac]
        assert nics_on(dom_xml(libvirt_conn, name, inactive=True), second_isolated_net) == [mac]
        assert nics_on(dom_xml(libvirt_conn, name), isolated_network) == []
        await real_wait_for(
            pilot,
            lambda: any(
                str(c) == f"network {second_isolated_net}"
                for i in range(paths.row_count)
                for c in paths.get_row_at(i)
            ),
            DEADLINE,
            what="the view shows the new network",
        )
    assert_exited_cleanly(app, watch)


async def test_nic_on_a_defined_guest_changes_the_dashboard_verdict_and_back(
    libvirtd: str,
    libvirt_conn: Any,
    tiny_domain_factory: Callable[..., str],
    isolated_network: str,
) -> None:
    name = tiny_domain_factory("iso-def")
    uuid = libvirt_conn.lookupByName(name).UUIDString()
    app = VmtuiApp(libvirtd, interval=0.5)
    watch = AppWatch()
    async with app.run_test(size=SIZE, message_hook=watch) as pilot:
        await real_wait_for(pilot, lambda: verdict_cell(app, uuid) == "iso", DEADLINE, what="iso")
        screen = await open_isolation(pilot, app, uuid)
        await pilot.press("n")
        await real_wait_for(pilot, lambda: isinstance(app.screen, AddNicScreen), what="form")
        app.screen.query_one("#network", Select).value = isolated_network
        await pilot.click("#ok")
        body = await confirm(pilot, app)
        assert "next boot (the guest is shut off)" in body
        await real_wait_for(pilot, lambda: "Saved" in screen.last_message, DEADLINE, what="saved")
        (mac,) = nics_on(dom_xml(libvirt_conn, name, inactive=True), isolated_network)
        await pilot.press("escape")
        await real_wait_for(pilot, lambda: verdict_cell(app, uuid) == "gst", DEADLINE, what="gst")
        screen = await open_isolation(pilot, app, uuid)
        paths = screen.query_one(DataTable)
        paths.move_cursor(row=paths.get_row_index(f"nic:{mac}"))
        await pilot.press("x")
        await confirm(pilot, app)
        await real_wait_for(pilot, lambda: "Saved" in screen.last_message, DEADLINE, what="gone")
        assert nics_on(dom_xml(libvirt_conn, name, inactive=True), isolated_network) == []
        await pilot.press("escape")
        await real_wait_for(pilot, lambda: verdict_cell(app, uuid) == "iso", DEADLINE, what="iso")
    assert_exited_cleanly(app, watch)


async def test_shared_folders_change_the_verdict_and_libvirt_accepts_9p_and_virtiofs(
    libvirtd: str, libvirt_conn: Any, tiny_domain_factory: Callable[..., str], tmp_path: Path
) -> None:
    name = tiny_domain_factory("iso-fs")
    uuid = libvirt_conn.lookupByName(name).UUIDString()
    app = VmtuiApp(libvirtd, interval=0.5)
    watch = AppWatch()
    async with app.run_test(size=SIZE, message_hook=watch) as pilot:
        await real_wait_for(pilot, lambda: verdict_cell(app, uuid) == "iso", DEADLINE, what="iso")
        for tag, driver, readonly in (("nine", "9p", True), ("vfs", "virtiofs", False)):
            screen = await open_isolation(pilot, app, uuid)
            await pilot.press("f")
            await real_wait_for(pilot, lambda: isinstance(app.screen, AddFolderScreen), what="f")
            form = app.screen
            form.query_one("#path", Input).value = str(tmp_path)
            form.query_one("#tag", Input).value = tag
            form.query_one("#driver", Select).value = driver
            if not readonly:
                form.query_one("#readonly").value = False  # type: ignore[attr-defined]
            await pilot.click("#ok")
            body = await confirm(pilot, app)
            assert "next boot (the guest is shut off)" in body
            await real_wait_for(
                pilot,
                lambda s=screen: "Saved" in s.last_message,  # type: ignore[misc]
                DEADLINE,
                what=f"{driver} saved",
                describe=lambda s=screen: s.last_message,
            )
            fs = [
                f
                for f in dom_xml(libvirt_conn, name, inactive=True).iterfind("devices/filesystem")
                if f.find("target") is not None and f.find("target").get("dir") == tag  # type: ignore[union-attr]
            ]
            assert len(fs) == 1
            assert fs[0].find("source").get("dir") == str(tmp_path)  # type: ignore[union-attr]
            assert (fs[0].find("readonly") is not None) == readonly
            await pilot.press("escape")
            await real_wait_for(
                pilot, lambda: verdict_cell(app, uuid) == "shr", DEADLINE, what="shr verdict"
            )
        memory = dom_xml(libvirt_conn, name, inactive=True).find("memoryBacking/access")
        assert memory is not None and memory.get("mode") == "shared"  # virtiofs needs it
        for tag in ("nine", "vfs"):
            screen = await open_isolation(pilot, app, uuid)
            paths = screen.query_one(DataTable)
            paths.move_cursor(row=paths.get_row_index(f"fs:{tag}"))
            await pilot.press("x")
            await confirm(pilot, app)
            await real_wait_for(
                pilot,
                lambda t=tag: (
                    not any(  # type: ignore[misc]
                        f.find("target").get("dir") == t  # type: ignore[union-attr]
                        for f in dom_xml(libvirt_conn, name, True).iterfind("devices/filesystem")
                    )
                ),
                DEADLINE,
                what=f"{tag} removed",
            )
            await pilot.press("escape")
        await real_wait_for(pilot, lambda: verdict_cell(app, uuid) == "iso", DEADLINE, what="iso")
    assert_exited_cleanly(app, watch)


async def test_9p_on_a_running_guest_is_saved_for_next_boot_and_says_so(
    libvirtd: str, libvirt_conn: Any, tiny_domain_factory: Callable[..., str], tmp_path: Path
) -> None:
    name = tiny_domain_factory("iso-9p")
    dom = libvirt_conn.lookupByName(name)
    dom.create()
    uuid = dom.UUIDString()
    app = VmtuiApp(libvirtd, interval=0.5)
    watch = AppWatch()
    async with app.run_test(size=SIZE, message_hook=watch) as pilot:
        screen = await open_isolation(pilot, app, uuid)
        await pilot.press("f")
        await real_wait_for(pilot, lambda: isinstance(app.screen, AddFolderScreen), what="f")
        app.screen.query_one("#path", Input).value = str(tmp_path)
        app.screen.query_one("#tag", Input).value = "ninep"
        await pilot.click("#ok")
        body = await confirm(pilot, app)
        assert "next boot" in body
        await real_wait_for(
            pilot,
            lambda: screen.last_message != "",
            DEADLINE,
            what="result",
            describe=lambda: screen.last_message,
        )
        # One truth (issue 16 #7): no live attempt is made, and the result says why.
        assert screen.last_message.startswith("Saved for the next boot"), screen.last_message
        assert "cannot add or remove a 9p folder while the guest runs" in screen.last_message
        live = dom_xml(libvirt_conn, name).findall("devices/filesystem")
        config = dom_xml(libvirt_conn, name, inactive=True).findall("devices/filesystem")
        assert (len(live), len(config)) == (0, 1)
        assert screen.report is not None and screen.report.live is not None
        await real_wait_for(
            pilot,
            lambda: "At next boot: host-shared" in text_of(screen.query_one("#iso-verdict")),
            DEADLINE,
            what="next-boot verdict",
        )
    assert_exited_cleanly(app, watch)


async def test_escapes_and_deny_listed_paths_are_refused_with_the_reason(
    libvirtd: str, libvirt_conn: Any, tiny_domain_factory: Callable[..., str], tmp_path: Path
) -> None:
    name = tiny_domain_factory("iso-deny")
    uuid = libvirt_conn.lookupByName(name).UUIDString()
    link = tmp_path / "looks-harmless"
    link.symlink_to("/etc")
    climb = f"{tmp_path}{'/..' * len(tmp_path.parts)}/var/lib/libvirt"
    app = VmtuiApp(libvirtd, interval=0.5)
    watch = AppWatch()
    async with app.run_test(size=SIZE, message_hook=watch) as pilot:
        screen = await open_isolation(pilot, app, uuid)
        for path, real, why in (
            (str(link), "/etc", "passwords and keys"),
            (climb, "/var/lib/libvirt", "other guests' disks"),
            ("/", "/", "the whole host file system"),
        ):
            await pilot.press("f")
            await real_wait_for(pilot, lambda: isinstance(app.screen, AddFolderScreen), what="f")
            app.screen.query_one("#path", Input).value = path
            app.screen.query_one("#tag", Input).value = "t"
            await pilot.click("#ok")
            await real_wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="risk")
            body = text_of(app.screen.query_one("#body", Static))
            assert why in body and real in body, body
            await pilot.press("n")
            await real_wait_for(
                pilot, lambda: screen.last_message.startswith("Not shared"), what="refusal"
            )
            screen.last_message = ""
        assert dom_xml(libvirt_conn, name, inactive=True).findall("devices/filesystem") == []
    assert_exited_cleanly(app, watch)


async def test_create_and_delete_an_isolated_network_from_the_networks_screen(
    libvirtd: str, libvirt_conn: Any
) -> None:
    name = unique_domain_name("net-ui")
    app = VmtuiApp(libvirtd, interval=0.5)
    watch = AppWatch()
    try:
        async with app.run_test(size=SIZE, message_hook=watch) as pilot:
            await real_wait_for(pilot, lambda: app.snapshot is not None, DEADLINE, what="poll")
            await pilot.press("N")
            await real_wait_for(pilot, lambda: isinstance(app.screen, NetworksScreen), what="N")
            nets = app.screen
            assert isinstance(nets, NetworksScreen)
            await real_wait_for(pilot, lambda: nets.loaded, DEADLINE, what="list")
            await pilot.press("c")
            await real_wait_for(
                pilot, lambda: isinstance(app.screen, CreateNetworkScreen), what="form"
            )
            app.screen.query_one("#name", Input).value = name
            app.screen.query_one("#mode", Select).value = "isolated"
            await pilot.click("#create")
            await real_wait_for(
                pilot, lambda: any(n.name == name for n in nets.networks), DEADLINE, what="made"
            )
            xml = libvirt_conn.networkLookupByName(name).XMLDesc(0)
            assert "<ip" not in xml and "<forward" not in xml
            table = nets.query_one(DataTable)
            table.move_cursor(row=table.get_row_index(name))
            await pilot.press("D")
            await confirm(pilot, app)
            await real_wait_for(
                pilot, lambda: all(n.name != name for n in nets.networks), DEADLINE, what="gone"
            )
            with pytest.raises(libvirt.libvirtError):
                libvirt_conn.networkLookupByName(name)
        assert_exited_cleanly(app, watch)
    finally:
        remove_network(libvirt_conn, name)
