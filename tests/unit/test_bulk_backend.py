"""vmtui/backend/bulk.py on the test driver: snapshots, vCPU counts, pinning."""

from __future__ import annotations

import pytest

from vmtui.backend import ActionFailed, Hypervisor
from vmtui.backend.bulk import check_snapshot_name, create_snapshot, pin_vcpus, set_vcpus

ALPHA = "11111111-1111-1111-1111-111111111111"  # running, 2 vCPUs
BETA = "22222222-2222-2222-2222-222222222222"  # shut off, 1 vCPU


def test_snapshot_by_name(hv: Hypervisor) -> None:
    assert create_snapshot(hv, BETA, "nightly") == "nightly"
    dom = hv.readable_conn().lookupByUUIDString(BETA)
    assert dom.snapshotListNames() == ["nightly"]
    with pytest.raises(ActionFailed, match="Could not snapshot"):
        create_snapshot(hv, BETA, "nightly")  # libvirt's own reason, as a sentence


@pytest.mark.parametrize("name", ["", "a/b", ".hidden", "two words", "x" * 65])
def test_bad_snapshot_names(name: str) -> None:
    with pytest.raises(ActionFailed):
        check_snapshot_name(name)


def test_vcpus_of_a_shut_off_guest_raise_its_maximum(hv: Hypervisor) -> None:
    assert set_vcpus(hv, BETA, 3) == 3
    guest = next(g for g in hv.poll().guests if g.uuid == BETA)
    assert (guest.vcpus, guest.max_vcpus) == (3, 3)


def test_vcpus_of_a_running_guest_stay_under_its_maximum(hv: Hypervisor) -> None:
    set_vcpus(hv, ALPHA, 1)
    assert hv.readable_conn().lookupByUUIDString(ALPHA).vcpusFlags(1) == 1  # 1 = LIVE
    with pytest.raises(ActionFailed, match="at most 2 vCPUs"):
        set_vcpus(hv, ALPHA, 4)
    with pytest.raises(ActionFailed, match="at least 1"):
        set_vcpus(hv, ALPHA, 0)


def test_pin_every_vcpu(hv: Hypervisor) -> None:
    assert pin_vcpus(hv, ALPHA, [0, 2]) == 2
    pins = hv.readable_conn().lookupByUUIDString(ALPHA).vcpuPinInfo(0)
    assert all(p[:4] == (True, False, True, False) for p in pins)
    with pytest.raises(ActionFailed, match="CPU 99 does not exist"):
        pin_vcpus(hv, ALPHA, [0, 99])
