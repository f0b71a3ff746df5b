"""Networks: listing with users, validated creation, start/stop, autostart, guarded delete
(against tests/data/isolation_host.xml)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import host_uri
from vmtui.backend import ActionFailed, Hypervisor, InvalidInput, NicSpec
from vmtui.backend.isolation import attach_nic
from vmtui.backend.networks import (
    NetworkSpec,
    create_network,
    delete_network,
    list_networks,
    network_xml,
    set_network_active,
    set_network_autostart,
)

NONIC_GUEST = "a0000000-0000-0000-0000-000000000009"


@pytest.fixture
def ihv() -> Iterator[Hypervisor]:
    h = Hypervisor(host_uri("isolation_host"))
    h.connect()
    yield h
    h.close()


def by_name(hv: Hypervisor) -> dict[str, object]:
    return {n.name: n for n in list_networks(hv)}


def test_lists_networks_with_mode_range_and_users(ihv: Hypervisor) -> None:
    nets = {n.name: n for n in list_networks(ihv)}
    assert set(nets) == {"natnet", "routenet", "hostonly", "isonet", "lanbridge"}
    nat = nets["natnet"]
    assert (nat.mode, nat.bridge, nat.ip, nat.dhcp) == (
        "NAT",
        "virbr20",
        "192.0.2.1/24",  # from a netmask
        "192.0.2.10-192.0.2.99",
    )
    assert nat.used_by == ("bridged-guest", "ethernet-guest", "nat-guest", "routed-guest")
    assert nets["isonet"].mode == "isolated" and nets["isonet"].ip_range == ""
    assert nets["hostonly"].mode == "host-only"
    assert nets["lanbridge"].used_by == ("lan-net-guest",)


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (NetworkSpec("", "nat", "10.1.0.1/24"), "network name"),
        (NetworkSpec("a/b", "nat", "10.1.0.1/24"), "network name"),
        (NetworkSpec("a<b>&c", "nat", "10.1.0.1/24"), "network name"),
        (NetworkSpec("n", "nat", ""), "IPv4 address"),
        (NetworkSpec("n", "nat", "10.1.0.1"), "prefix"),
        (NetworkSpec("n", "nat", "10.1.0.300/24"), "not an IPv4"),
        (NetworkSpec("n", "nat", "10.1.0.0/24"), "network or broadcast"),
        (NetworkSpec("n", "nat", "10.1.0.1/24", "10.1.0.10"), "both ends"),
        (NetworkSpec("n", "nat", "10.1.0.1/24", "10.1.1.10", "10.1.1.20"), "not a host address"),
        (NetworkSpec("n", "nat", "10.1.0.1/24", "10.1.0.90", "10.1.0.20"), "starts"),
        (NetworkSpec("n", "nat", "10.1.0.1/24", "10.1.0.1", "10.1.0.20"), "holds the host"),
        (NetworkSpec("n", "isolated", "10.1.0.1/24"), "without IP"),
        (NetworkSpec("n", "bridge"), "host bridge"),
        (NetworkSpec("n", "bridge", "10.1.0.1/24", bridge="br0"), "leave IP"),
        (NetworkSpec("n", "weird"), "Unknown network mode"),
    ],
)
def test_bad_fields_are_refused_with_a_reason(spec: NetworkSpec, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        spec.validate()


def test_xml_for_each_mode() -> None:
    iso = network_xml(NetworkSpec("iso").validate())
    assert "<ip" not in iso and "<forward" not in iso
    nat = network_xml(NetworkSpec("n", "nat", "10.1.0.1/24", "10.1.0.10", "10.1.0.20").validate())
    assert '<forward mode="nat" />' in nat and 'address="10.1.0.1" prefix="24"' in nat
    assert '<range start="10.1.0.10" end="10.1.0.20" />' in nat
    assert '<forward mode="route" />' in network_xml(NetworkSpec("r", "route", "10.2.0.1/24"))
    br = network_xml(NetworkSpec("b", "bridge", bridge="br0").validate())
    assert '<forward mode="bridge" />' in br and '<bridge name="br0" />' in br


def test_create_start_stop_autostart_and_delete(ihv: Hypervisor) -> None:
    info = create_network(ihv, NetworkSpec("lab", "host-only", "10.77.0.1/24"))
    assert (info.mode, info.active, info.ip) == ("host-only", True, "10.77.0.1/24")
    with pytest.raises(InvalidInput, match="already exists"):
        create_network(ihv, NetworkSpec("lab"))
    set_network_active(ihv, "lab", False)
    assert not by_name(ihv)["lab"].active  # type: ignore[attr-defined]
    with pytest.raises(ActionFailed, match="already stopped"):
        set_network_active(ihv, "lab", False)
    set_network_autostart(ihv, "lab", True)
    assert by_name(ihv)["lab"].autostart  # type: ignore[attr-defined]
    delete_network(ihv, "lab")
    assert "lab" not in by_name(ihv)


def test_delete_is_refused_while_a_guest_uses_the_network_naming_it(ihv: Hypervisor) -> None:
    create_network(ihv, NetworkSpec("quiet"))
    attach_nic(ihv, NONIC_GUEST, NicSpec("network", "quiet"))
    with pytest.raises(ActionFailed, match="used by nonic-guest"):
        delete_network(ihv, "quiet")
    assert "quiet" in by_name(ihv)
    with pytest.raises(ActionFailed, match="used by bridged-guest, ethernet-guest, nat-guest"):
        delete_network(ihv, "natnet")


def test_a_new_network_changes_the_verdict_of_guests_that_named_it(ihv: Hypervisor) -> None:
    ghost = "a0000000-0000-0000-0000-00000000000a"
    assert next(g for g in ihv.poll().guests if g.uuid == ghost).isolation == "isolated"
    create_network(ihv, NetworkSpec("nosuchnet", "nat", "10.78.0.1/24"))
    assert next(g for g in ihv.poll().guests if g.uuid == ghost).isolation == "NAT"
