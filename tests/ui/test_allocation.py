"""The allocation screen (A) on the test driver: it shows both sides, refuses bad input with a
sentence, confirms, applies through run_backend with virsh words, and the dashboard follows."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import libvirt
from textual.widgets import Input, RadioButton, Static

from tests.conftest import host_uri
from tests.ui.helpers import guest_named, ready, select, text_of, wait_for
from vmtui.app import VmtuiApp
from vmtui.screens.allocation import AllocationScreen
from vmtui.screens.confirm import ConfirmScreen
from vmtui.widgets.host_panel import HostPanel


def _live_xml(app: VmtuiApp, name: str, flags: int = 0) -> ET.Element:
    dom = app.hv.readable_conn().lookupByName(name)
    return ET.fromstring(dom.XMLDesc(flags))


async def _open(pilot, app: VmtuiApp, name: str) -> AllocationScreen:  # type: ignore[no-untyped-def]
    select(app, name)
    await pilot.press("A")
    await wait_for(
        pilot, lambda: isinstance(app.screen, AllocationScreen) and app.screen.info is not None
    )
    screen = app.screen
    assert isinstance(screen, AllocationScreen)
    await pilot.pause()
    return screen


async def test_a_live_vcpu_change_is_confirmed_applied_and_logged() -> None:
    uri = host_uri("small_host")
    app = VmtuiApp(uri, interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await wait_for(
            pilot, lambda: "committed vCPUs 4/4" in app.screen.query_one(HostPanel)._text.plain
        )
        screen = await _open(pilot, app, "alpha")
        host = text_of(screen.query_one("#alloc-host", Static))
        assert "Guest alpha is running" in host
        assert "Running guests commit 4 vCPUs and 1.5G memory." in host
        assert screen.query_one("#f-vcpus", Input).value == "2"
        # running: the maximum can still be set for the next boot (issue 16)
        assert not screen.query_one("#f-max_vcpus", Input).disabled
        screen.query_one("#when-live", RadioButton).value = True
        screen.query_one("#f-vcpus", Input).value = "1"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "vCPUs → 1 (now)" in text_of(app.screen.query_one("#body", Static))
        await pilot.press("y")
        await wait_for(pilot, lambda: any(e.kind == "action" for e in app.activity))
        entry = next(e for e in app.activity if e.kind == "action")
        assert entry.text == f"virsh -c {uri} setvcpus alpha 1 --live" and entry.ok
        live = _live_xml(app, "alpha")
        assert live.find("vcpu").get("current") == "1"  # type: ignore[union-attr]
        inactive = _live_xml(app, "alpha", libvirt.VIR_DOMAIN_XML_INACTIVE)
        assert inactive.find("vcpu").get("current") in (None, "2")  # type: ignore[union-attr]
        # The form is read again, and the dashboard's committed figures follow.
        await wait_for(pilot, lambda: screen.query_one("#f-vcpus", Input).value == "1")
        await wait_for(pilot, lambda: guest_named(app, "alpha").vcpus == 1)
        # the header follows the polls (it said "commit 4 vCPUs" until the screen was left)
        await wait_for(
            pilot,
            lambda: "commit 3 vCPUs" in text_of(screen.query_one("#alloc-host", Static)),
        )
        await pilot.press("escape")
        await wait_for(
            pilot, lambda: "committed vCPUs 3/4" in app.screen.query_one(HostPanel)._text.plain
        )


async def test_bad_input_is_explained_and_nothing_is_applied() -> None:
    app = VmtuiApp(host_uri("small_host"), interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        screen = await _open(pilot, app, "alpha")
        screen.query_one("#f-memory", Input).value = "lots"
        await pilot.press("ctrl+s")
        await pilot.pause()
        error = text_of(screen.query_one("#alloc-error", Static))
        assert "Memory 'lots' is not a size; write it like 512M or 2G." in error
        screen.query_one("#f-memory", Input).value = "1G"
        screen.query_one("#f-pin-0", Input).value = "0-99"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "Pinning of vCPU 0: The host has no CPU" in text_of(
            screen.query_one("#alloc-error", Static)
        )
        assert isinstance(app.screen, AllocationScreen)  # no confirmation was asked
        assert not [e for e in app.activity if e.kind == "action"]


async def test_a_shut_off_guest_changes_at_next_boot_only() -> None:
    uri = host_uri("small_host")
    app = VmtuiApp(uri, interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        screen = await _open(pilot, app, "beta")
        assert screen.query_one("#when-live", RadioButton).disabled
        assert screen.query_one("#when-config", RadioButton).value
        screen.query_one("#f-max_memory", Input).value = "1G"
        screen.query_one("#f-memory", Input).value = "768M"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = text_of(app.screen.query_one("#body", Static))
        assert "maximum memory → 1.0G (at next boot)" in body
        await pilot.press("y")
        await wait_for(pilot, lambda: len([e for e in app.activity if e.kind == "action"]) == 2)
        lines = [e.text for e in app.activity if e.kind == "action"]
        assert lines == [
            f"virsh -c {uri} setmaxmem beta 1048576K --config",
            f"virsh -c {uri} setmem beta 786432K --config",
        ]
        inactive = _live_xml(app, "beta", libvirt.VIR_DOMAIN_XML_INACTIVE)
        assert inactive.findtext("memory") == "1048576"
        assert inactive.findtext("currentMemory") == str(768 * 1024)


async def test_committed_figures_follow_a_change_on_one_of_several_hosts() -> None:
    from vmtui.demo import DEMO_URI

    app = VmtuiApp([host_uri("small_host"), DEMO_URI], interval=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.guests) >= 18)

        def panel_lines() -> list[str]:
            return app.screen.query_one(HostPanel)._text.plain.splitlines()

        # small_host: alpha (2 vCPUs, 1 GiB), gamma and temp (1 vCPU, 256 MiB each) run.
        await wait_for(pilot, lambda: "vCPU 4/4 mem 1.5G/8.0G" in panel_lines()[0])
        # The test driver's bulk stats carry no memory: the figures come with each guest's
        # XML, read after the first rows are shown (issue 12), so wait for them.
        await wait_for(pilot, lambda: "mem 32G/64G" in panel_lines()[1])
        demo_before = panel_lines()[1]
        assert "demo-host" in demo_before
        screen = await _open(pilot, app, "alpha")
        screen.query_one("#when-live", RadioButton).value = True
        screen.query_one("#f-memory", Input).value = "512M"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: any(e.kind == "action" for e in app.activity))
        await pilot.press("escape")
        await wait_for(pilot, lambda: "vCPU 4/4 mem 1.0G/8.0G" in panel_lines()[0], 30)
        # The other host's line is its own. (Its first character is its connection symbol,
        # which may show a slow poll on a busy machine: compare the figures.)
        assert panel_lines()[1][1:] == demo_before[1:]


async def test_choosing_next_boot_only_starts_untouched_fields_from_the_next_boot() -> None:
    uri = host_uri("small_host")
    app = VmtuiApp(uri, interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        # Make alpha's next boot differ from what runs: 1 vCPU at next boot, 2 now.
        app.hv.writable_conn().lookupByName("alpha").setVcpusFlags(
            1, libvirt.VIR_DOMAIN_AFFECT_CONFIG
        )
        screen = await _open(pilot, app, "alpha")
        assert screen.query_one("#f-vcpus", Input).value == "2"
        screen.query_one("#f-memory", Input).value = "768M"  # typed: kept across the switch
        screen.query_one("#when-config", RadioButton).value = True
        await wait_for(pilot, lambda: screen.query_one("#f-vcpus", Input).value == "1")
        assert screen.query_one("#f-memory", Input).value == "768M"
        screen.query_one("#f-vcpus", Input).value = "2"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = text_of(app.screen.query_one("#body", Static))
        assert "vCPUs → 2 (at next boot)" in body and "memory → 768M (at next boot)" in body


async def test_leaving_while_changes_are_applied_finishes_them_without_a_crash() -> None:
    app = VmtuiApp(host_uri("small_host"), interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        screen = await _open(pilot, app, "alpha")
        screen.query_one("#when-live", RadioButton).value = True
        screen.query_one("#f-vcpus", Input).value = "1"
        screen.query_one("#f-memory", Input).value = "512M"
        screen.query_one("#f-hard_limit", Input).value = "4G"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y", "escape")  # confirm, then leave at once
        await wait_for(pilot, lambda: len([e for e in app.activity if e.kind == "action"]) == 3)
        assert all(e.ok for e in app.activity if e.kind == "action")
        assert not isinstance(app.screen, AllocationScreen)
        await wait_for(pilot, lambda: guest_named(app, "alpha").memory_kib == 512 * 1024)
    assert app._exception is None


async def test_a_transient_guest_changes_now_only() -> None:
    app = VmtuiApp(host_uri("small_host"), interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        screen = await _open(pilot, app, "temp")
        assert screen.query_one("#when-live", RadioButton).value
        assert screen.query_one("#when-config", RadioButton).disabled
        assert screen.query_one("#when-both", RadioButton).disabled
        assert "transient" in text_of(screen.query_one("#alloc-host", Static))


async def test_a_running_guest_gets_a_higher_maximum_for_next_boot_and_a_hotplug_note() -> None:
    """Issue 16 #6: the maximum for next boot on a running guest; a live hot-add says the
    guest may need to online the new vCPU."""
    app = VmtuiApp(host_uri("small_host"), interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        screen = await _open(pilot, app, "alpha")
        screen.query_one("#when-config", RadioButton).value = True
        await pilot.pause()
        screen.query_one("#f-max_vcpus", Input).value = "4"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "maximum vCPUs → 4 (at next boot)" in text_of(app.screen.query_one("#body"))
        await pilot.press("y")
        await wait_for(pilot, lambda: any(e.kind == "action" for e in app.activity))
        inactive = _live_xml(app, "alpha", libvirt.VIR_DOMAIN_XML_INACTIVE)
        assert inactive.find("vcpu").text == "4"  # type: ignore[union-attr]
        await wait_for(pilot, lambda: screen.query_one("#f-vcpus", Input).value == "2")
        # a live hot-add (within the running maximum) says what the guest may need to do
        screen.query_one("#when-live", RadioButton).value = True
        await pilot.pause()
        screen.query_one("#f-vcpus", Input).value = "1"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.query_one("#f-vcpus", Input).value == "1")
        assert not any("online" in n.message for n in app._notifications)  # fewer: no note
        screen.query_one("#f-vcpus", Input).value = "2"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(
            pilot, lambda: any("bring new vCPUs online" in n.message for n in app._notifications)
        )


async def test_t_switches_a_kvm_guest_to_qemu_emulation_for_its_next_start() -> None:
    """Issue 16 #4: the way out when KVM is present but broken."""
    app = VmtuiApp(host_uri("small_host"), interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        conn = app.hv.readable_conn()
        xml = conn.lookupByName("beta").XMLDesc(0).replace("type='test'", "type='kvm'", 1)
        xml = xml.replace("</domain>", "<cpu mode='host-passthrough'/></domain>")
        app.hv.writable_conn().defineXML(xml)
        app.hv.touch(guest_named(app, "beta").uuid)
        await wait_for(pilot, lambda: guest_named(app, "beta").domain_type == "kvm")
        screen = await _open(pilot, app, "beta")
        await pilot.press("T")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "QEMU emulation (TCG) needs no KVM" in text_of(app.screen.query_one("#body"))
        await pilot.press("y")
        await wait_for(pilot, lambda: guest_named(app, "beta").domain_type == "qemu")
        saved = _live_xml(app, "beta", libvirt.VIR_DOMAIN_XML_INACTIVE)
        assert saved.get("type") == "qemu" and saved.find("cpu") is None
        assert isinstance(app.screen, AllocationScreen) and screen.is_attached
