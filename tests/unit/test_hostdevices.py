"""Host devices on the test driver (issue 17, section 1; backend): listing, holders, IOMMU
groups, mediated device types, and the refusals."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import connected_hypervisor, host_uri
from vmtui.backend import Hypervisor
from vmtui.backend.errors import ActionFailed
from vmtui.backend.hostdevices import attach_host_device, attach_problem, list_host_devices

OTHER = "dddddddd-0000-0000-0000-000000000003"


@pytest.fixture
def hv() -> Iterator[Hypervisor]:
    yield from connected_hypervisor(host_uri("hostdev_host"))


def test_devices_holders_groups_and_mdev_types(hv: Hypervisor) -> None:
    devs = list_host_devices(hv)
    pci = {d.address: d for d in devs.pci}
    gpu, audio, nic = pci["0000:01:00.0"], pci["0000:01:00.1"], pci["0000:02:00.0"]
    assert gpu.vendor == "NVIDIA Corporation (0x10de)"  # (the test driver drops <driver>)
    assert gpu.iommu_group == 7 and gpu.group_members == ("0000:01:00.1",) and gpu.ready
    assert gpu.holders == ("gpu-guest",) and audio.holders == ()
    assert nic.iommu_group is None and not nic.ready and "IOMMU" in nic.why_not_ready
    assert [(m.parent, m.type_id, m.available) for m in devs.mdev_types] == [
        ("pci_0000_02_00_0", "i915-GVTg_V5_4", 2)
    ]
    (stick,) = devs.usb
    assert stick.holders == ("usb-guest",) and stick.product.startswith("Cruzer Blade")


def test_refusals_name_the_guest(hv: Hypervisor) -> None:
    devs = list_host_devices(hv)
    pci = {d.address: d for d in devs.pci}
    assert "held by guest gpu-guest" in attach_problem(devs, pci["0000:01:00.0"], "other")
    split = attach_problem(devs, pci["0000:01:00.1"], "other")
    assert "IOMMU group 7" in split and "gpu-guest" in split
    assert attach_problem(devs, pci["0000:01:00.1"], "gpu-guest") == ""  # its own group
    assert "held by guest usb-guest" in attach_problem(devs, devs.usb[0], "other")
    with pytest.raises(ActionFailed, match="gpu-guest"):
        attach_host_device(hv, OTHER, "pci_0000_01_00_1")


def test_a_host_device_makes_the_verdict_host_shared(hv: Hypervisor) -> None:
    guests = {g.name: g for g in hv.poll().guests}
    assert guests["gpu-guest"].isolation == "host-shared"
    assert guests["usb-guest"].isolation == "host-shared"
    assert guests["other"].isolation == "isolated"
