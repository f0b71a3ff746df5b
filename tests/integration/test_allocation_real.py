"""Allocation against the real daemon and a running TCG tiny guest (pc machine, 1 of 2 vCPUs,
128 MiB): vCPU hotplug and a balloon change made through the app's own screen, checked in
libvirt's live XML; persistent changes checked in the inactive XML.

The balloon only moves once the guest's virtio_balloon driver is loaded (the tiny guest loads
it at boot), so the live ``<currentMemory>`` is waited for with a generous deadline.
"""

from __future__ import annotations

import dataclasses
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import libvirt
import pytest
from textual.widgets import Input, RadioButton

from vmtui.app import VmtuiApp
from vmtui.backend import Hypervisor, InvalidInput
from vmtui.backend.allocation import apply_change, form_for, plan_changes, read_allocation
from vmtui.screens.allocation import AllocationScreen
from vmtui.screens.confirm import ConfirmScreen

from .helpers import (
    AppWatch,
    assert_exited_cleanly,
    describe_app,
    select_guest,
    shown_state,
    wait_for,
)

SIZE = (80, 24)
DEADLINE = 60.0
BALLOON_DEADLINE = 120.0  # the guest must boot far enough to load its balloon driver


def _xml(conn: Any, uuid: str, flags: int = 0) -> ET.Element:
    return ET.fromstring(conn.lookupByUUIDString(uuid).XMLDesc(flags))


def _current_vcpus(root: ET.Element) -> int:
    vcpu = root.find("vcpu")
    assert vcpu is not None and vcpu.text is not None
    return int(vcpu.get("current") or vcpu.text)


def _current_memory_kib(root: ET.Element) -> int:
    el = root.find("currentMemory")
    assert el is not None and el.text is not None and el.get("unit", "KiB") == "KiB"
    return int(el.text)


async def test_vcpus_and_memory_change_live_through_the_screen(
    libvirtd: str, libvirt_conn: Any, tiny_domain_factory: Callable[..., str]
) -> None:
    name = tiny_domain_factory("alloc")  # pc machine, 1 vCPU of 2, 128 MiB
    dom = libvirt_conn.lookupByName(name)
    uuid = dom.UUIDString()
    dom.create()
    app = VmtuiApp(libvirtd, interval=0.5)
    watch = AppWatch()
    async with app.run_test(size=SIZE, message_hook=watch) as pilot:
        await wait_for(
            pilot,
            lambda: shown_state(app, uuid) == "running",
            DEADLINE,
            what="the guest's row",
            describe=lambda: describe_app(app, uuid),
        )
        select_guest(app, uuid)
        await pilot.press("A")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, AllocationScreen) and app.screen.info is not None,
            DEADLINE,
            what="the allocation form",
        )
        screen = app.screen
        assert isinstance(screen, AllocationScreen)
        await pilot.pause()
        assert screen.query_one("#f-vcpus", Input).value == "1"
        assert screen.query_one("#f-memory", Input).value == "128M"
        screen.query_one("#when-live", RadioButton).value = True
        screen.query_one("#f-vcpus", Input).value = "2"
        screen.query_one("#f-memory", Input).value = "96M"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), DEADLINE)
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: len([e for e in app.activity if e.kind == "action"]) == 2,
            DEADLINE,
            what="both changes logged",
        )
        lines = [(e.text, e.ok, e.outcome) for e in app.activity if e.kind == "action"]
        assert lines[0][:2] == (f"virsh -c {libvirtd} setvcpus {name} 2 --live", True), lines
        assert lines[1][:2] == (f"virsh -c {libvirtd} setmem {name} 98304K --live", True), lines

        # vCPU hotplug is immediate; the balloon waits for the guest's driver.
        assert _current_vcpus(_xml(libvirt_conn, uuid)) == 2
        assert dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE) == 2
        started = time.monotonic()
        await wait_for(
            pilot,
            lambda: _current_memory_kib(_xml(libvirt_conn, uuid)) == 96 * 1024,
            BALLOON_DEADLINE,
            what="live <currentMemory> of 96 MiB",
            describe=lambda: f"live currentMemory {_current_memory_kib(_xml(libvirt_conn, uuid))}",
        )
        print(f"balloon reached 96 MiB {time.monotonic() - started:.1f}s after the change")
        # Live only: the next boot keeps 1 vCPU and 128 MiB.
        inactive = _xml(libvirt_conn, uuid, libvirt.VIR_DOMAIN_XML_INACTIVE)
        assert _current_vcpus(inactive) == 1
        assert _current_memory_kib(inactive) == 128 * 1024
        # The screen was read again after the change and shows the new live values.
        await wait_for(pilot, lambda: screen.query_one("#f-vcpus", Input).value == "2", DEADLINE)
        assert watch.errors() == [], watch.errors()
    assert_exited_cleanly(app, watch)


def test_persistent_changes_land_in_the_inactive_xml_only(
    libvirtd: str, libvirt_conn: Any, tiny_domain_factory: Callable[..., str]
) -> None:
    name = tiny_domain_factory("allocfg")
    dom = libvirt_conn.lookupByName(name)
    uuid = dom.UUIDString()
    hv = Hypervisor(libvirtd)
    hv.connect()
    try:
        # Shut off: the maxima can change too (config only).
        off = read_allocation(hv, uuid)
        assert off.live is None and off.config is not None
        form = dataclasses.replace(
            form_for(off.shown), max_vcpus="3", vcpus="3", max_memory="192M", memory="160M"
        )
        for change in plan_changes(off, form, live=False, config=True):
            apply_change(hv, uuid, change)
        inactive = _xml(libvirt_conn, uuid, libvirt.VIR_DOMAIN_XML_INACTIVE)
        vcpu = inactive.find("vcpu")
        assert vcpu is not None and vcpu.text == "3" and _current_vcpus(inactive) == 3
        assert _current_memory_kib(inactive) == 160 * 1024

        # Running: a next-boot change leaves the running guest alone.
        dom.create()
        running = read_allocation(hv, uuid)
        assert running.live is not None and running.live.vcpus == 3
        form = dataclasses.replace(form_for(running.shown), vcpus="1", memory="128M")
        for change in plan_changes(running, form, live=False, config=True):
            apply_change(hv, uuid, change)
        inactive = _xml(libvirt_conn, uuid, libvirt.VIR_DOMAIN_XML_INACTIVE)
        assert _current_vcpus(inactive) == 1
        assert _current_memory_kib(inactive) == 128 * 1024
        live = _xml(libvirt_conn, uuid)
        assert _current_vcpus(live) == 3
        # (the live <currentMemory> starts at the maximum and drops as the balloon inflates)
        assert live.findtext("memory") == str(192 * 1024)
    finally:
        hv.close()


def test_pinning_and_tuning_of_a_running_guest(
    libvirtd: str, libvirt_conn: Any, tiny_domain_factory: Callable[..., str]
) -> None:
    name = tiny_domain_factory("tune", vcpus=2)
    dom = libvirt_conn.lookupByName(name)
    uuid = dom.UUIDString()
    dom.create()
    hv = Hypervisor(libvirtd)
    hv.connect()
    try:
        info = read_allocation(hv, uuid)
        last = info.host.online[-1]
        form = dataclasses.replace(
            form_for(info.shown),
            pins={0: str(info.host.online[0]), 1: str(last)},
            shares="512",
            period="100000",
            quota="50000",
            hard_limit="1G",
        )
        changes = plan_changes(info, form, live=True, config=True)
        assert [c.kind for c in changes] == ["pin", "pin", "schedinfo", "memtune"]
        for change in changes:
            apply_change(hv, uuid, change)
        # libvirt's own view, live and at next boot
        for flags in (libvirt.VIR_DOMAIN_AFFECT_LIVE, libvirt.VIR_DOMAIN_AFFECT_CONFIG):
            pins = dom.vcpuPinInfo(flags)
            assert [i for i, on in enumerate(pins[0]) if on] == [info.host.online[0]]
            assert [i for i, on in enumerate(pins[1]) if on] == [last]
            sched = dom.schedulerParametersFlags(flags)
            assert (sched["vcpu_period"], sched["vcpu_quota"]) == (100000, 50000)
            assert dom.memoryParameters(flags)["hard_limit"] == 1024 * 1024
        after = read_allocation(hv, uuid)
        for side in (after.live, after.config):
            assert side is not None
            assert side.pins[1] == (last,) and side.quota == 50000
            assert side.hard_limit_kib == 1024 * 1024
        # A CPU the host does not have is refused before libvirt is asked.
        bad = dataclasses.replace(form_for(after.shown), pins={0: str(after.host.count)})
        with pytest.raises(InvalidInput, match="has no CPU"):
            plan_changes(after, bad, live=True, config=False)
    finally:
        hv.close()
