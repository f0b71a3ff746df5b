"""Guest addresses (backend/addresses.py): the sources, the pick per guest, the background
book, and the poll that carries them — against recorded answers and the test driver."""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest

from tests.conftest import connected_hypervisor
from vmtui import statsexport
from vmtui.backend import Hypervisor
from vmtui.backend.addresses import (
    AddressBook,
    domifaddr_words,
    parse_interfaces,
    read_addresses,
)
from vmtui.backend.models import GuestAddresses, NicAddresses

DATA = Path(__file__).resolve().parents[1] / "data"
INSIDE = f"test://{DATA / 'inside_host.xml'}"
WEB = "d1000000-0000-0000-0000-000000000001"
MAIL = "d1000000-0000-0000-0000-000000000002"
BARE = "d1000000-0000-0000-0000-000000000003"
SLEEPER = "d1000000-0000-0000-0000-000000000004"

# Recorded from libvirt-python (virsh domifaddr --source lease / agent), addresses replaced
# by documentation ranges.
LEASE_ANSWER = {
    "vnet3": {
        "hwaddr": "52:54:00:6c:1d:2e",
        "addrs": [
            {"type": libvirt.VIR_IP_ADDR_TYPE_IPV4, "addr": "192.0.2.77", "prefix": 24},
        ],
    }
}
AGENT_ANSWER = {
    "lo": {
        "hwaddr": "00:00:00:00:00:00",
        "addrs": [
            {"type": libvirt.VIR_IP_ADDR_TYPE_IPV4, "addr": "127.0.0.1", "prefix": 8},
            {"type": libvirt.VIR_IP_ADDR_TYPE_IPV6, "addr": "::1", "prefix": 128},
        ],
    },
    "eth0": {
        "hwaddr": "52:54:00:6c:1d:2e",
        "addrs": [
            {"type": libvirt.VIR_IP_ADDR_TYPE_IPV6, "addr": "2001:db8::45", "prefix": 64},
            {"type": libvirt.VIR_IP_ADDR_TYPE_IPV4, "addr": "192.0.2.45", "prefix": 24},
        ],
    },
    "eth1": {"hwaddr": "52:54:00:00:00:09", "addrs": []},
}


class FakeDomain:
    """Answers interfaceAddresses per source from a table; an exception is raised."""

    def __init__(self, answers: dict[int, Any]) -> None:
        self.answers = answers
        self.asked: list[int] = []

    def interfaceAddresses(self, source: int, flags: int = 0) -> Any:
        self.asked.append(source)
        answer = self.answers.get(source, {})
        if isinstance(answer, BaseException):
            raise answer
        return answer


def libvirt_error(message: str) -> libvirt.libvirtError:
    err = libvirt.libvirtError(message)
    err.err = (libvirt.VIR_ERR_AGENT_UNRESPONSIVE, 0, message, 0, "", "", "", 0, 0)
    return err


AGENT = libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT
LEASE = libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE
ARP = libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP


def test_parse_a_lease_answer() -> None:
    nics = parse_interfaces(LEASE_ANSWER)
    assert nics == (NicAddresses("vnet3", "52:54:00:6c:1d:2e", ("192.0.2.77/24",)),)


def test_the_agent_answer_leaves_out_loopback_and_keeps_every_address_per_nic() -> None:
    nics = parse_interfaces(AGENT_ANSWER, agent=True)
    assert [n.name for n in nics] == ["eth0", "eth1"]
    assert nics[0].addresses == ("2001:db8::45/64", "192.0.2.45/24")
    assert nics[1].addresses == ()
    found = GuestAddresses("agent", nics)
    assert found.first == "192.0.2.45"  # IPv4 first, even when listed second
    assert found.all == ("2001:db8::45", "192.0.2.45")


def test_first_is_ipv6_when_there_is_no_ipv4() -> None:
    found = GuestAddresses("agent", (NicAddresses("eth0", "", ("fe80::1/64",)),))
    assert found.first == "fe80::1"
    assert GuestAddresses("").first == ""


def test_the_agent_comes_first_when_it_is_connected() -> None:
    dom = FakeDomain({AGENT: AGENT_ANSWER, LEASE: LEASE_ANSWER})
    found = read_addresses(dom, agent_connected=True)
    assert found.source == "agent" and found.first == "192.0.2.45"
    assert dom.asked == [AGENT]


def test_an_agent_that_fails_falls_back_to_the_lease() -> None:
    dom = FakeDomain({AGENT: libvirt_error("Guest agent is not responding"), LEASE: LEASE_ANSWER})
    found = read_addresses(dom, agent_connected=True)
    assert found.source == "lease" and found.first == "192.0.2.77"
    assert dom.asked == [AGENT, LEASE]


def test_without_an_agent_the_lease_then_arp() -> None:
    dom = FakeDomain({LEASE: {}, ARP: LEASE_ANSWER})
    found = read_addresses(dom, agent_connected=False)
    assert found.source == "arp"
    assert dom.asked == [LEASE, ARP]


def test_no_source_says_why_in_a_sentence() -> None:
    dom = FakeDomain({})
    found = read_addresses(dom, agent_connected=False)
    assert found.source == "" and found.all == ()
    assert found.why_none == (
        "No address known: no guest agent is connected; no DHCP lease; not in the host's ARP table."
    )


def test_a_guest_without_a_nic_is_not_asked() -> None:
    dom = FakeDomain({LEASE: LEASE_ANSWER})
    found = read_addresses(dom, agent_connected=False, has_nics=False)
    assert dom.asked == []
    assert "no network card" in found.why_none


def test_domifaddr_words() -> None:
    assert domifaddr_words("web", "lease") == ["domifaddr", "web", "--source", "lease"]


# ---------------------------------------------------------------- the book


def test_the_book_reads_in_the_background_and_reports_changes() -> None:
    now = [0.0]
    gate = threading.Event()

    def reader(dom: Any, *, agent_connected: bool, has_nics: bool) -> GuestAddresses:
        gate.wait(5)
        return GuestAddresses("lease", (NicAddresses("vnet0", "", (f"192.0.2.{dom}/24",)),))

    book = AddressBook(clock=lambda: now[0], every=30, reader=reader)
    asked: list[set[str] | None] = []

    def candidates(only: set[str] | None) -> list[tuple[str, Any, bool, bool]]:
        asked.append(only)
        return [("u1", 1, False, True), ("u2", 2, False, True)]

    assert book.tick(candidates)  # the first tick starts a whole round
    assert asked == [None]
    assert not book.tick(candidates)  # one refresh at a time
    gate.set()
    book.wait()
    assert book.take_changed() == {"u1", "u2"}
    assert book.get("u1") is not None and book.get("u1").first == "192.0.2.1"  # type: ignore[union-attr]
    assert not book.tick(candidates)  # nothing due: no call at all
    assert asked == [None]
    book.mark("u2")  # an event
    assert book.tick(candidates)
    assert asked[-1] == {"u2"}
    book.wait()
    assert book.take_changed() == set()  # read again, unchanged
    now[0] = 31.0
    assert book.tick(candidates) and asked[-1] is None  # the next round


# ---------------------------------------------------------------- through the poll


@pytest.fixture
def inside() -> Iterator[Hypervisor]:
    yield from connected_hypervisor(INSIDE)


def wait_for_addresses(hv: Hypervisor, uuid: str) -> GuestAddresses:
    deadline = time.monotonic() + 10
    while True:
        hv.poll()
        info = hv.known_guest(uuid)
        if info is not None and info.addresses is not None:
            return info.addresses
        assert time.monotonic() < deadline, "no addresses"
        hv.addresses.wait()


def test_the_poll_carries_the_test_drivers_lease_addresses(inside: Hypervisor) -> None:
    web = wait_for_addresses(inside, WEB)
    assert web.source == "lease" and web.first == "127.0.0.1"
    mail = wait_for_addresses(inside, MAIL)
    assert mail.first == "192.0.2.21"
    bare = inside.known_guest(BARE)
    assert bare is not None and bare.addresses is None  # no NIC: never asked
    sleeper = inside.known_guest(SLEEPER)
    assert sleeper is not None and sleeper.addresses is None  # not running


def test_a_steady_poll_asks_for_addresses_once_per_round(
    inside: Hypervisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    wait_for_addresses(inside, WEB)
    inside.addresses.wait()
    calls: list[int] = []
    real = libvirt.virDomain.interfaceAddresses

    def counting(self: Any, source: int, flags: int = 0) -> Any:
        calls.append(source)
        return real(self, source, flags)

    monkeypatch.setattr(libvirt.virDomain, "interfaceAddresses", counting)
    for _ in range(20):
        inside.poll()
        inside.addresses.wait()
    assert calls == []  # the next round is ADDRESS_EVERY (30 s) away: no call per tick


def test_unchanged_addresses_keep_the_same_info_objects(inside: Hypervisor) -> None:
    wait_for_addresses(inside, MAIL)
    inside.addresses.wait()
    first = inside.poll().guests
    inside.addresses.mark(MAIL)
    inside.poll()
    inside.addresses.wait()
    second = inside.poll().guests
    assert all(a is b for a, b in zip(first, second, strict=True))


def test_a_read_only_connection_never_asks_the_agent() -> None:
    hv = Hypervisor(INSIDE, readonly=True)
    hv.connect()
    try:
        candidates = hv._address_candidates(
            {u: (hv.readable_conn().lookupByUUIDString(u), {}) for u in (WEB,)}
        )
        hv.poll()
        # the test driver has no agent; pretend web's is connected
        info = hv.known_guest(WEB)
        assert info is not None
        hv._infos[WEB] = dataclasses.replace(info, agent_state="connected")
        assert [agent for _, _, agent, _ in candidates({WEB})] == [False]
    finally:
        hv.close()


def test_the_test_driver_answers_every_source(inside: Hypervisor) -> None:
    dom = inside.readable_conn().lookupByUUIDString(MAIL)
    for source in (LEASE, ARP):
        nics = parse_interfaces(dom.interfaceAddresses(source, 0))
        assert nics == (NicAddresses("testnet0", "52:54:00:13:00:02", ("192.0.2.21/24",)),)


def test_vmtui_stats_prints_the_addresses() -> None:
    out = io.StringIO()
    statsexport.run([INSIDE], interval=0.01, count=1, fmt="json", out=out, sleep=lambda s: None)
    guests = {g["guest"]: g for g in json.loads(out.getvalue())["guests"]}
    assert guests["web"]["ip"] == "127.0.0.1"
    assert guests["web"]["addresses"] == ["127.0.0.1/8"]
    assert guests["web"]["address_source"] == "lease"
    assert guests["bare"]["addresses"] == [] and guests["bare"]["ip"] == ""


def test_a_stopped_guest_forgets_its_addresses(inside: Hypervisor) -> None:
    wait_for_addresses(inside, MAIL)
    assert inside.addresses.get(MAIL) is not None
    inside.force_off(MAIL)
    deadline = time.monotonic() + 10
    while inside.addresses.get(MAIL) is not None:  # the lifecycle event, from libvirt's thread
        assert time.monotonic() < deadline, "still remembered"
        time.sleep(0.02)
    inside.poll()
    info = inside.known_guest(MAIL)
    assert info is not None and info.addresses is None and info.ip == ""
