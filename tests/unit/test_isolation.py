"""Isolation: every path from a guest to its host or a network, the verdict, and changes
(against tests/data/isolation_host.xml: one guest per kind of path, one network per mode)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from tests.conftest import host_uri
from vmtui.backend import GuestInfo, Hypervisor, InvalidInput, NicSpec, RiskyPath, SharedFolderSpec
from vmtui.backend.isolation import (
    attach_folder,
    attach_nic,
    detach_folder,
    detach_nic,
    read_isolation,
    set_folder_readonly,
    switch_nic_network,
)
from vmtui.backend.models import HostDevice, SharedFolder
from vmtui.backend.verdict import VERDICTS, NetworkModes, network_mode, verdict

NAT_GUEST = "a0000000-0000-0000-0000-000000000001"
ISOLATED_GUEST = "a0000000-0000-0000-0000-000000000004"
NONIC_GUEST = "a0000000-0000-0000-0000-000000000009"
SHARED_GUEST = "a0000000-0000-0000-0000-000000000007"


@pytest.fixture
def ihv() -> Iterator[Hypervisor]:
    h = Hypervisor(host_uri("isolation_host"))
    h.connect()
    yield h
    h.close()


def guests(hv: Hypervisor) -> dict[str, GuestInfo]:
    return {g.name: g for g in hv.poll().guests}


def test_each_guest_gets_the_verdict_of_its_most_exposed_path(ihv: Hypervisor) -> None:
    found = {name: g.isolation for name, g in guests(ihv).items()}
    assert found == {
        "nat-guest": "NAT",
        "routed-guest": "routed",  # routed beats its second NIC's NAT
        "hostonly-guest": "host-only",  # host-only beats its second NIC's guest-only network
        "isolated-guest": "guest-only",  # agent and a VNC server do not count as guest paths
        "bridged-guest": "LAN-bridged",
        "lan-net-guest": "LAN-bridged",  # a libvirt network in bridge mode
        "shared-guest": "host-shared",  # a shared folder beats a LAN bridge
        "usb-guest": "host-shared",
        "nonic-guest": "isolated",
        "ghost-net-guest": "isolated",  # the network does not exist: no path
        "user-guest": "NAT",
        "ethernet-guest": "unknown",  # an unmanaged tap beats NAT: it may lead anywhere
    }


def test_network_mode_comes_from_the_networks_own_xml() -> None:
    assert network_mode("<network><name>n</name></network>") == "isolated"
    assert network_mode("<network><ip address='10.0.0.1' prefix='24'/></network>") == "host-only"
    assert network_mode("<network><forward/></network>") == "NAT"  # nat is libvirt's default
    assert network_mode("<network><forward mode='route'/></network>") == "routed"
    assert network_mode("<network><forward mode='bridge'/></network>") == "bridge"
    assert network_mode("<network><forward mode='passthrough'/></network>") == "direct"
    assert network_mode("<network><forward mode='weird'/></network>") == "unknown"


def test_verdict_precedence_is_the_documented_order() -> None:
    folder = SharedFolder("9p", "/srv", "t", True)
    usb = HostDevice("usb", "1:2")
    assert verdict(["NAT"], [folder], []) == "host-shared"
    assert verdict([], [], [usb]) == "host-shared"
    assert verdict(["NAT", "bridge", "routed"], [], []) == "LAN-bridged"
    assert verdict(["NAT", "unknown"], [], []) == "unknown"
    assert verdict(["NAT", "routed"], [], []) == "routed"
    assert verdict(["isolated", "user"], [], []) == "NAT"
    assert verdict(["isolated", "host-only"], [], []) == "host-only"
    assert verdict(["isolated", "missing"], [], []) == "guest-only"
    assert verdict(["missing"], [], []) == "isolated"
    assert verdict([], [], []) == "isolated"
    assert VERDICTS[0] == "host-shared" and VERDICTS[-1] == "isolated"


def test_network_modes_are_cached_and_forgotten_on_request() -> None:
    calls: list[str] = []

    class Net:
        def XMLDesc(self, _flags: int) -> str:
            return "<network><forward mode='nat'/></network>"

    class Conn:
        def networkLookupByName(self, name: str) -> Net:
            calls.append(name)
            return Net()

    now = [0.0]
    cache = NetworkModes(ttl=10, clock=lambda: now[0])
    assert cache.lookup(Conn(), ["a", "a", "b"]) == {"a": "NAT", "b": "NAT"}
    cache.lookup(Conn(), ["a"])
    assert sorted(calls) == ["a", "b"]  # one lookup per network, not per NIC or per guest
    cache.forget("a")
    cache.lookup(Conn(), ["a", "b"])
    now[0] = 11
    cache.lookup(Conn(), ["b"])
    assert sorted(calls) == ["a", "a", "b", "b"]


def test_report_lists_every_path_with_its_mode(ihv: Hypervisor) -> None:
    report = read_isolation(ihv, ISOLATED_GUEST)
    assert report.running and report.persistent
    assert report.live is not None and report.config is not None
    live = report.live
    assert [(p.nic.source, p.mode) for p in live.nics] == [("isonet", "isolated")]
    assert live.agent is True
    assert [(g.kind, g.listen) for g in live.graphics] == [("vnc", "0.0.0.0")]
    assert set(report.networks) == {"natnet", "routenet", "hostonly", "isonet", "lanbridge"}
    shared = read_isolation(ihv, SHARED_GUEST)
    assert shared.live is None  # shut off: only the persistent config
    assert shared.current.folders == (SharedFolder("path", "/srv/data", "data", True),)
    assert shared.current.verdict == "host-shared"


def test_attaching_a_nat_nic_to_an_isolated_guest_changes_its_verdict(ihv: Hypervisor) -> None:
    result = attach_nic(ihv, NONIC_GUEST, NicSpec("network", "natnet"))
    # The test driver has no device API: the persistent config is edited instead.
    assert result.config and not result.live
    assert "next boot" in result.sentence
    after = guests(ihv)["nonic-guest"]
    assert after.isolation == "NAT"
    (nic,) = after.nics
    assert nic.mac.startswith("52:54:00:")  # chosen by us so live and config NICs match
    detach_nic(ihv, NONIC_GUEST, nic.mac)
    assert guests(ihv)["nonic-guest"].isolation == "isolated"


def test_a_running_guest_that_refuses_the_live_part_gets_it_at_next_boot(
    ihv: Hypervisor,
) -> None:
    result = attach_nic(ihv, ISOLATED_GUEST, NicSpec("network", "natnet"))
    assert result.config and not result.live
    assert "not supported" in result.live_refused
    assert "refused the live change" in result.sentence
    report = read_isolation(ihv, ISOLATED_GUEST)
    assert report.config is not None and report.config.verdict == "NAT"


def test_switching_a_nics_network_keeps_its_mac(ihv: Hypervisor) -> None:
    switch_nic_network(ihv, NAT_GUEST, "52:54:00:00:00:01", "isonet")
    report = read_isolation(ihv, NAT_GUEST)
    assert report.config is not None
    ((path),) = report.config.nics
    assert (path.nic.mac, path.nic.source, path.mode) == ("52:54:00:00:00:01", "isonet", "isolated")
    with pytest.raises(InvalidInput):
        switch_nic_network(ihv, NAT_GUEST, "52:54:00:00:00:01", "")


def test_shared_folder_attach_toggle_and_detach(ihv: Hypervisor, tmp_path: Path) -> None:
    share = tmp_path / "share"
    share.mkdir()
    attach_folder(ihv, NONIC_GUEST, SharedFolderSpec(str(share), "tag1", "9p", readonly=True))
    (folder,) = guests(ihv)["nonic-guest"].shared_folders
    assert (folder.source, folder.tag, folder.readonly) == (str(share), "tag1", True)
    assert guests(ihv)["nonic-guest"].isolation == "host-shared"
    set_folder_readonly(ihv, NONIC_GUEST, "tag1", False)
    assert guests(ihv)["nonic-guest"].shared_folders[0].readonly is False
    detach_folder(ihv, NONIC_GUEST, "tag1")
    assert guests(ihv)["nonic-guest"].shared_folders == ()
    assert guests(ihv)["nonic-guest"].isolation == "isolated"


def test_virtiofs_gets_shared_memory_in_the_persistent_config(
    ihv: Hypervisor, tmp_path: Path
) -> None:
    attach_folder(ihv, NONIC_GUEST, SharedFolderSpec(str(tmp_path), "fs", "virtiofs", False))
    conn = ihv.readable_conn()
    xml = conn.lookupByUUIDString(NONIC_GUEST).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    assert "<access mode='shared'/>" in xml and "virtiofs" in xml


def test_escapes_are_resolved_and_deny_listed_paths_refused(
    ihv: Hypervisor, tmp_path: Path
) -> None:
    link = tmp_path / "innocent"
    link.symlink_to("/etc")
    with pytest.raises(RiskyPath, match="really /etc"):
        attach_folder(ihv, NONIC_GUEST, SharedFolderSpec(str(link), "t"))
    climb = f"{tmp_path}{'/..' * len(tmp_path.parts)}/root"  # up past / and into /root
    with pytest.raises(RiskyPath, match="really /root"):
        attach_folder(ihv, NONIC_GUEST, SharedFolderSpec(climb, "t"))
    assert guests(ihv)["nonic-guest"].shared_folders == ()  # nothing was attached
    with pytest.raises(InvalidInput, match="already has a shared folder tagged data"):
        attach_folder(ihv, SHARED_GUEST, SharedFolderSpec(str(tmp_path), "data"))


def test_detaching_a_nic_the_guest_does_not_have_says_so(ihv: Hypervisor) -> None:
    with pytest.raises(Exception, match="no such device"):
        detach_nic(ihv, NONIC_GUEST, "52:54:00:99:99:99")


def test_host_devices_and_agent_are_read_from_the_domain_xml() -> None:
    from vmtui.backend.domxml import parse_domain

    cfg = parse_domain(
        "<domain><name>d</name><devices>"
        "<hostdev mode='subsystem' type='pci' managed='yes'><source>"
        "<address domain='0x0000' bus='0x03' slot='0x00' function='0x1'/></source></hostdev>"
        "<hostdev mode='subsystem' type='usb'><source><vendor id='0x046d'/>"
        "<product id='0xc52b'/></source></hostdev>"
        "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
        "</devices></domain>"
    )
    assert cfg.hostdevs == (HostDevice("pci", "0000:03:00.1"), HostDevice("usb", "046d:c52b"))
    assert cfg.has_agent
    assert not parse_domain("<domain><name>d</name></domain>").has_agent
