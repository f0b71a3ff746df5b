"""Tags, bulk actions, vCPUs and pinning against the real libvirtd with tiny TCG guests."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import libvirt
from textual.widgets import Input

from vmtui.app import VmtuiApp
from vmtui.backend import Hypervisor
from vmtui.backend.bulk import pin_vcpus, set_vcpus
from vmtui.backend.tags import set_tags
from vmtui.backend.tagxml import NS
from vmtui.screens.bulk import BulkSummaryScreen
from vmtui.screens.confirm import ConfirmScreen

from .helpers import (
    AppWatch,
    assert_exited_cleanly,
    describe_app,
    guest_table,
    select_guest,
    shown_state,
    wait_for,
)

DEADLINE = 60.0


def xml_tags(dom: Any, flags: int = 0) -> list[str]:
    root = ET.fromstring(dom.XMLDesc(flags))
    return [t.text or "" for t in root.iterfind(f"metadata/{{{NS}}}tags/{{{NS}}}tag")]


def test_tags_survive_dumpxml_undefine_define(
    hv: Hypervisor, libvirt_conn: Any, tiny_domain: str
) -> None:
    dom = libvirt_conn.lookupByName(tiny_domain)
    uuid = dom.UUIDString()
    set_tags(hv, uuid, ["db", "team@ops"])
    # what `virsh dumpxml --inactive`, `virsh undefine`, `virsh define` would do
    saved = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    dom.undefine()
    libvirt_conn.defineXML(saved)
    dom = libvirt_conn.lookupByName(tiny_domain)
    assert xml_tags(dom) == ["db", "team@ops"]
    guest = next(g for g in hv.poll().guests if g.uuid == uuid)
    assert guest.tags == ("db", "team@ops")


def test_a_running_guest_gets_tags_vcpus_and_pins_live_and_saved(
    hv: Hypervisor, libvirt_conn: Any, tiny_domain_factory: Callable[..., str]
) -> None:
    name = tiny_domain_factory("live", vcpus=1, max_vcpus=2)
    dom = libvirt_conn.lookupByName(name)
    dom.create()
    uuid = dom.UUIDString()
    set_tags(hv, uuid, ["web"])
    assert xml_tags(dom) == ["web"]
    assert xml_tags(dom, libvirt.VIR_DOMAIN_XML_INACTIVE) == ["web"]
    set_vcpus(hv, uuid, 2)
    assert dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_CONFIG) == 2
    assert dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE) == 2
    assert pin_vcpus(hv, uuid, [0]) == 2
    for flags in (libvirt.VIR_DOMAIN_AFFECT_LIVE, libvirt.VIR_DOMAIN_AFFECT_CONFIG):
        pins = dom.vcpuPinInfo(flags)
        assert [p[0] for p in pins] == [True, True]
        assert not any(any(p[1:]) for p in pins)


async def test_bulk_start_and_force_off_on_the_real_daemon(
    libvirtd: str, libvirt_conn: Any, tiny_domain_factory: Callable[..., str]
) -> None:
    up = tiny_domain_factory("bulk-up")
    down = tiny_domain_factory("bulk-down")
    libvirt_conn.lookupByName(up).create()
    uuids = {n: libvirt_conn.lookupByName(n).UUIDString() for n in (up, down)}
    app = VmtuiApp(libvirtd, interval=0.5)
    watch = AppWatch()
    async with app.run_test(size=(100, 30), message_hook=watch) as pilot:
        await wait_for(pilot, lambda: all(shown_state(app, u) for u in uuids.values()), DEADLINE)
        await pilot.press("slash")
        app.screen.query_one("#filter", Input).value = f"{up} , {down}"  # only these two
        await wait_for(pilot, lambda: guest_table(app).row_count == 2, DEADLINE)
        await pilot.press("enter")  # back to the table
        for uuid in uuids.values():
            select_guest(app, uuid)
            await pilot.press("space")
        await pilot.press("s")  # two marked guests: it asks first, naming them (issue 14 #7)
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, ConfirmScreen) and bool(app.screen.query("#no")),
            DEADLINE,
        )
        await pilot.press("y")
        await wait_for(
            pilot, lambda: isinstance(app.screen, BulkSummaryScreen), DEADLINE, what="summary"
        )
        assert app.last_bulk is not None
        assert [(o.name, o.message) for o in app.last_bulk.failed] == [
            (up, f"Guest {up} is already running.")
        ]
        assert [o.name for o in app.last_bulk.succeeded] == [down]
        await pilot.press("escape")
        await wait_for(
            pilot,
            lambda: shown_state(app, uuids[down]) == "running",
            DEADLINE,
            describe=lambda: describe_app(app, uuids[down]),
        )
        assert libvirt_conn.lookupByName(down).isActive()
        await pilot.press("F")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, ConfirmScreen) and bool(app.screen.query("#no")),
            DEADLINE,
        )
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, BulkSummaryScreen), DEADLINE)
        assert len(app.last_bulk.succeeded) == 2
        await pilot.press("escape")
        for uuid in uuids.values():
            await wait_for(pilot, lambda u=uuid: shown_state(app, u) == "shut off", DEADLINE)
        assert not any(libvirt_conn.lookupByName(n).isActive() for n in (up, down))
        # the only error the user saw is the summary naming the guest that failed
        assert watch.errors() == [f"Start: 1 of 2 guests done, 1 failed ({up})."]
    assert_exited_cleanly(app, watch)
