"""The poll's cheap idle tick against the real daemon: a running TCG guest with real figures
(CPU time, vCPU count in the bulk stats) is not re-read tick after tick, yet a change made by
another client is seen."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import libvirt
import pytest

from vmtui.app import VmtuiApp
from vmtui.backend import GuestState, Hypervisor
from vmtui.backend import hypervisor as hypervisor_module
from vmtui.backend.hypervisor import REFRESH_WITH_EVENTS
from vmtui.backend.lanes import call_with_deadline

from .conftest import _remove_domain, unique_domain_name
from .helpers import cpu_figure, guest_table, wait_for
from .tinyguest import TinyGuest, tiny_domain_xml
from .waiting import wait_until

T = TypeVar("T")
BURN = "vmtui.burn"  # the tiny guest spins one busy loop per vCPU


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


def _within(call: Callable[[], T], seconds: float) -> T:
    """``call()``, failing the test (not hanging it) when it has not returned in time."""
    fut = call_with_deadline(call)
    try:
        return fut.result(timeout=seconds)
    except FutureTimeout:
        raise AssertionError(f"the poll waited more than {seconds:.0f} s") from None


@dataclass(frozen=True)
class Pair:
    """Two running tiny guests: ``stopped`` gets its QEMU SIGSTOPped, ``live`` burns CPU."""

    stopped: str  # uuid
    live: str
    stopped_name: str

    def qemu_pid(self) -> int:
        return int(Path(f"/run/libvirt/qemu/{self.stopped_name}.pid").read_text().strip())

    @contextlib.contextmanager
    def stop(self) -> Iterator[None]:
        pid = self.qemu_pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)


@pytest.fixture(scope="module")
def pair(libvirtd: str, libvirt_conn: Any, tiny_guest_files: TinyGuest) -> Iterator[Pair]:
    names = [unique_domain_name("stalled"), unique_domain_name("lively")]
    doms = []
    try:
        for name, extra in zip(names, ("", BURN), strict=True):
            libvirt_conn.defineXML(
                tiny_domain_xml(name, tiny_guest_files, vcpus=1, extra_cmdline=extra)
            )
            dom = libvirt_conn.lookupByName(name)
            doms.append(dom)
            dom.create()
        yield Pair(doms[0].UUIDString(), doms[1].UUIDString(), names[0])
    finally:
        for dom in doms:
            _remove_domain(dom)


def test_one_stopped_qemu_does_not_freeze_the_other_guests_figures(
    libvirtd: str, pair: Pair
) -> None:
    """Issue 14, item 13: with one guest's QEMU stopped (SIGSTOP, as a wedged QEMU looks),
    the poll still answers, the other running guest's figures go on changing, and the
    stopped one is marked as not answering (no live figures); SIGCONT brings it back."""
    hv = Hypervisor(libvirtd, interval=1.0)
    hv.connect()
    try:
        hv.poll()
        time.sleep(0.5)
        hv.poll()
        cpu_times: list[int | None] = []
        marked = []
        with pair.stop():
            for _ in range(4):
                time.sleep(0.3)
                snap = _within(hv.poll, 20)  # returns although one QEMU never answers
                marked.append(pair.stopped in snap.not_answering)
                assert pair.live not in snap.not_answering
                assert snap.stats[pair.live].cpu_percent is not None
                cpu_times.append(hv._counters[pair.live].cpu_ns)
                ours = next(g for g in snap.guests if g.uuid == pair.stopped)
                assert ours.answering is (pair.stopped not in snap.not_answering)
                if not ours.answering:
                    assert pair.stopped not in snap.stats  # no figures passed off as live
        assert any(marked), "the stopped guest was never marked as not answering"
        assert len(set(cpu_times)) == len(cpu_times), "the live guest's figures froze"
        assert wait_until(lambda: pair.stopped not in hv.poll().not_answering, 60)
    finally:
        hv.close()


async def test_the_dashboard_marks_a_stopped_qemu_and_keeps_the_others_live(
    libvirtd: str, pair: Pair
) -> None:
    app = VmtuiApp(libvirtd, interval=0.5)
    async with app.run_test(size=(160, 40)) as pilot:
        grid = guest_table(app)
        await wait_for(pilot, lambda: cpu_figure(grid.shown_cell(pair.live, "cpu")) is not None)
        with pair.stop():
            await wait_for(
                pilot,
                lambda: grid.shown_cell(pair.stopped, "state") == "running?",
                20,
                describe=lambda: f"row {grid.shown_text(pair.stopped)}, busy {app.hv._busy}",
            )
            seen = []
            for _ in range(3):  # the host's polls go on; the live guest's figures with them
                polls = app.polls

                def polled_again(before: int = polls) -> bool:
                    return app.polls > before

                await wait_for(pilot, polled_again, 10)
                assert app.snapshot is not None
                seen.append(app.snapshot.stats[pair.live].time)
                assert grid.shown_cell(pair.stopped, "state") == "running?", (
                    app.snapshot.not_answering,
                    app.hv._stuck,
                    app.hv._not_answering,
                )
                assert cpu_figure(grid.shown_cell(pair.live, "cpu")) is not None
                assert app.status()[0] == "●", app.status()  # the host is not "hung"
            assert len(set(seen)) == 3
        await wait_for(pilot, lambda: grid.shown_cell(pair.stopped, "state") == "running", 60)
