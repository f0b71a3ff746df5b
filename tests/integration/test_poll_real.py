"""The poll's cheap idle tick against the real daemon: a running TCG guest with real figures
(CPU time, vCPU count in the bulk stats) is not re-read tick after tick, yet a change made by
another client is seen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import libvirt
import pytest

from vmtui.backend import GuestState, Hypervisor
from vmtui.backend import hypervisor as hypervisor_module
from vmtui.backend.hypervisor import REFRESH_WITH_EVENTS

from .waiting import wait_until


def test_idle_ticks_on_a_running_guest_skip_its_xml_and_still_see_changes(
    libvirtd: str,
    libvirt_conn: Any,
    tiny_domain_factory: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = tiny_domain_factory("polltick", vcpus=1, max_vcpus=2)
    dom = libvirt_conn.lookupByName(name)
    dom.create()
    uuid = dom.UUIDString()
    hv = Hypervisor(libvirtd, interval=1.0)
    hv.connect()
    try:
        hv.poll()
        time.sleep(0.3)
        parsed: list[str] = []
        real = hypervisor_module.domxml.parse_domain

        def counting(xml: str) -> Any:
            parsed.append(xml)
            return real(xml)

        monkeypatch.setattr(hypervisor_module.domxml, "parse_domain", counting)
        before = hv.poll()
        for _ in range(4):
            snap = hv.poll()
        ours = next(g for g in snap.guests if g.uuid == uuid)
        assert ours.state is GuestState.RUNNING and ours.vcpus == 1
        assert snap.stats[uuid].cpu_percent is not None  # real figures flow
        # The guest's record carries vcpu.current: equal to its XML's, so no re-read each tick.
        assert len(parsed) <= 5 * REFRESH_WITH_EVENTS
        assert next(g for g in before.guests if g.uuid == uuid) is ours

        # Another client hotplugs a vCPU: the next polls see it (bulk stats + events).
        libvirt_conn.lookupByName(name).setVcpusFlags(2, libvirt.VIR_DOMAIN_AFFECT_LIVE)
        assert wait_until(
            lambda: next(g for g in hv.poll().guests if g.uuid == uuid).vcpus == 2, 30, step=0.2
        ), "the hotplugged vCPU never showed"
    finally:
        hv.close()
