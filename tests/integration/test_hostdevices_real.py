"""Host devices on the real daemon (issue 17, section 1): attach a host PCI device to a
defined guest's configuration (never started: nothing touches the hardware), check the XML,
refuse it to a second guest naming the first, detach it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from vmtui.backend import Hypervisor, VmtuiError
from vmtui.backend.hostdevices import attach_host_device, detach_host_device, list_host_devices


def test_attach_refuse_detach_on_defined_guests(
    libvirt_conn: Any, hv: Hypervisor, tiny_domain_factory: Callable[..., str]
) -> None:
    devices = list_host_devices(hv)
    free = [d for d in devices.pci if not d.holders]
    if not free:
        pytest.skip("this host lists no PCI device that no guest holds")
    assert any(d.driver for d in devices.pci)  # the bound kernel driver, from sysfs
    device = free[-1]
    one = libvirt_conn.lookupByName(tiny_domain_factory("hd-one"))
    two = libvirt_conn.lookupByName(tiny_domain_factory("hd-two"))
    attach_host_device(hv, one.UUIDString(), device.name, config=True)
    xml = one.XMLDesc(0)
    bus = device.address.split(":")[1]
    assert "<hostdev" in xml and f"bus='0x{bus}'" in xml and "managed='yes'" in xml
    again = {d.address: d for d in list_host_devices(hv).pci}[device.address]
    assert again.holders == (one.name(),)
    with pytest.raises(VmtuiError, match=f"held by guest {one.name()}"):
        attach_host_device(hv, two.UUIDString(), device.address)
    assert "<hostdev" not in two.XMLDesc(0)
    detach_host_device(hv, one.UUIDString(), device.name)
    assert "<hostdev" not in one.XMLDesc(0)
    assert not one.isActive() and not two.isActive()
