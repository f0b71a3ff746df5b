"""Keying the bulk stats records by UUID (backend/recordkeys.py): the names stand in for the
UUIDs only while nothing could have swapped a guest for another under the same name."""

from __future__ import annotations

import contextlib
import threading
import uuid as uuidlib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt

from benchmarks.testhost import write_host_xml
from tests.unit.test_hypervisor import ALPHA, BETA
from vmtui.backend import GuestEvent, Hypervisor
from vmtui.backend import hypervisor as hypervisor_module
from vmtui.backend.hypervisor import ROUND_BATCH
from vmtui.backend.recordkeys import RecordKeys, names_of, uuids_of


class Dom:
    """A domain double that counts how often it is asked for its UUID."""

    def __init__(self, name: str, uuid: str) -> None:
        self._name, self._uuid, self.asked = name, uuid, 0

    def name(self) -> str:
        return self._name

    def UUIDString(self) -> str:
        self.asked += 1
        return self._uuid


def pairs(*doms: Dom) -> list[tuple[Dom, dict[str, Any]]]:
    return [(d, {"state.state": 1, "state.reason": 1}) for d in doms]


def uuids_asked(ps: list[tuple[Dom, dict[str, Any]]]) -> int:
    return sum(d.asked for d, _ in ps)


@contextlib.contextmanager
def polled_with_events(uri: str, wanted: str) -> Iterator[tuple[Hypervisor, threading.Event]]:
    """A connection polled a few times (its event callbacks registered), and an event set
    when libvirt's ``wanted`` lifecycle event arrives."""
    seen = threading.Event()

    def sink(event: object) -> None:
        if isinstance(event, GuestEvent) and event.event == wanted:
            seen.set()

    hv = Hypervisor(uri, on_event=sink)
    hv.connect()
    try:
        for _ in range(3):
            hv.poll()
        yield hv, seen
    finally:
        hv.close()


def test_the_same_names_in_the_same_order_reuse_the_last_ticks_uuids() -> None:
    keys = RecordKeys()
    first = pairs(Dom("a", "U1"), Dom("b", "U2"))
    assert list(keys.key(first, events=True)) == ["U1", "U2"]
    again = pairs(Dom("a", "U1"), Dom("b", "U2"))  # new objects, as libvirt hands them out
    keyed = keys.key(again, events=True)
    assert uuids_asked(again) == 0
    assert keyed == {"U1": again[0], "U2": again[1]}


def test_a_name_added_removed_or_moved_reads_every_uuid() -> None:
    keys = RecordKeys()
    keys.key(pairs(Dom("a", "U1"), Dom("b", "U2")), events=True)
    for changed in (
        pairs(Dom("a", "U1"), Dom("b", "U2"), Dom("c", "U3")),  # added
        pairs(Dom("b", "U2")),  # removed
        pairs(Dom("b", "U2"), Dom("a", "U1")),  # another order
        pairs(Dom("a", "U1"), Dom("renamed", "U2")),  # renamed
    ):
        keyed = keys.key(changed, events=True)
        assert uuids_asked(changed) == len(changed)
        assert list(keyed) == [d.UUIDString() for d, _ in changed]


def test_after_an_event_a_guest_replaced_under_the_same_name_gets_its_own_uuid() -> None:
    keys = RecordKeys()
    keys.key(pairs(Dom("a", "U1"), Dom("b", "U2")), events=True)
    keys.invalidate()  # libvirt's lifecycle event: undefined, then defined
    replaced = pairs(Dom("a", "U1"), Dom("b", "NEW"))
    assert list(keys.key(replaced, events=True)) == ["U1", "NEW"]


def test_without_events_the_names_are_never_trusted() -> None:
    keys = RecordKeys()
    for _ in range(3):
        ps = pairs(Dom("a", "U1"))
        keys.key(ps, events=False)
        assert uuids_asked(ps) == 1


def test_every_uuid_is_read_again_after_full_every_ticks_whatever_the_events() -> None:
    keys = RecordKeys(full_every=3)
    full = []
    for _ in range(9):
        ps = pairs(Dom("a", "U1"))
        keys.key(ps, events=True)
        full.append(uuids_asked(ps) == 1)
    assert full == [True, False, False, False, True, False, False, False, True]


def test_libvirts_own_domains_are_read_through_the_c_functions(small_host: str) -> None:
    conn = libvirt.open(small_host)
    try:
        raw = conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE, 0)
        assert names_of(raw) == [dom.name() for dom, _ in raw]
        assert uuids_of(raw) == [dom.UUIDString() for dom, _ in raw]
    finally:
        conn.close()


def test_a_guest_undefined_and_redefined_under_its_name_shows_with_its_new_uuid(
    small_host: str,
) -> None:
    """The whole path: the poll trusts the names tick after tick, and the lifecycle events of
    another client's undefine + define make it read the UUIDs again."""
    with polled_with_events(small_host, "defined") as (hv, seen):
        before = {g.name: g.uuid for g in hv.poll().guests}
        assert before["beta"] == BETA
        # as another client would (the test driver's file host is one per connection): no
        # touch(), only the events tell the poll
        other = hv.readable_conn()
        dom = other.lookupByUUIDString(BETA)
        root = ET.fromstring(dom.XMLDesc(0))
        new_uuid = str(uuidlib.uuid4())
        uuid_el = root.find("uuid")
        assert uuid_el is not None
        uuid_el.text = new_uuid
        dom.undefine()
        other.defineXML(ET.tostring(root, encoding="unicode"))
        assert seen.wait(5), "no defined event within 5 s"
        after = {g.name: g.uuid for g in hv.poll().guests}
        assert after["beta"] == new_uuid
        assert BETA not in {g.uuid for g in hv.poll().guests}


def test_idle_ticks_on_a_big_host_read_the_round_robins_xml_in_batches(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """With events, the round robin's reads come ROUND_BATCH at a time every ROUND_BATCH
    ticks (one round trip together), and the ticks between read no XML."""
    xml = write_host_xml(tmp_path / "host400.xml", 400)
    hv = Hypervisor(f"test://{xml}")
    hv.connect()
    try:
        hv.poll()
        hv.poll()
        assert hv._events  # the test driver raises lifecycle events
        parsed: list[int] = []
        real = hypervisor_module.domxml.parse_domain

        def counting(text: str) -> Any:
            parsed[-1] += 1
            return real(text)

        monkeypatch.setattr(hypervisor_module.domxml, "parse_domain", counting)
        for _ in range(3 * ROUND_BATCH):
            parsed.append(0)
            hv.poll()
        reading = [n for n in parsed if n]
        assert reading == [ROUND_BATCH] * 3  # one guest a tick on average, in three batches
    finally:
        hv.close()


def test_any_lifecycle_event_makes_the_next_poll_read_every_uuid(small_host: str) -> None:
    with polled_with_events(small_host, "suspended") as (hv, suspended):
        readings = hv._keys.full_readings
        hv.poll()
        assert hv._keys.full_readings == readings  # idle: the names stand in for the uuids
        hv.readable_conn().lookupByUUIDString(ALPHA).suspend()
        assert suspended.wait(5), "no suspended event within 5 s"
        hv.poll()
        assert hv._keys.full_readings == readings + 1
        hv.poll()
        assert hv._keys.full_readings == readings + 1
