"""The clone review says what the copy shares with the original (issue 15): fixed display
ports, host devices, custom tap names, shared memory, fixed vsock CIDs, chardev files and
sockets; the copy gets a new genid; a target pool without room refuses before any copy."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from tests.conftest import host_uri
from vmtui.backend import ActionFailed, Hypervisor
from vmtui.backend.clone import clone_guest, plan_clone

SHARER = "cccccccc-0000-0000-0000-000000000001"
BIG = "cccccccc-0000-0000-0000-000000000002"


@pytest.fixture
def chv() -> Iterator[Hypervisor]:
    h = Hypervisor(host_uri("clone_share_host"))
    h.connect()
    yield h
    h.close()


def test_the_review_lists_what_the_copy_shares(chv: Hypervisor) -> None:
    plan = plan_clone(chv, SHARER, "sharer2", "spare")
    review = "\n".join(plan.review())
    for words in (
        "vnc display on fixed port 5907",
        "host usb device 0781:5567",
        "NIC host device name mytap0",
        "shared memory 'sharer-shm'",
        "vsock CID 7",
        "serial (file) writes to /var/log/sharer-serial.log",
        "channel (unix) socket /run/sharer.chan",
        "A new VM generation ID (genid)",
        "Pool spare: the copies need about 3.0 GiB; 100.0 GiB free.",
    ):
        assert words in review, words
    # the serial port's console alias is the same device: said once
    assert review.count("sharer-serial.log") == 1


def test_the_clone_gets_a_new_genid(chv: Hypervisor) -> None:
    plan = plan_clone(chv, SHARER, "sharer2")  # the test driver copies within one pool
    new = clone_guest(chv, plan)
    conn = chv.readable_conn()
    old_id = ET.fromstring(conn.lookupByUUIDString(SHARER).XMLDesc(0)).findtext("genid")
    new_id = ET.fromstring(conn.lookupByUUIDString(new).XMLDesc(0)).findtext("genid")
    assert old_id == "43dc0cf8-809b-4adb-9bea-a9abb5f3d90e"
    assert new_id and new_id != old_id


def test_a_pool_without_room_refuses_before_the_copy(chv: Hypervisor) -> None:
    spare = chv.readable_conn().storagePoolLookupByName("spare")
    with pytest.raises(ActionFailed, match=r"Pool spare has 100.0 GiB free .* about 150.0 GiB"):
        plan_clone(chv, BIG, "big2", "spare")
    assert spare.listVolumes() == []


def test_the_clone_checks_the_room_again_before_copying(chv: Hypervisor) -> None:
    plan = plan_clone(chv, SHARER, "sharer2", "spare")
    # the pool fills up between the review and the clone
    fill = chv.writable_conn().storagePoolLookupByName("spare")
    fill.createXML(
        "<volume><name>filler</name><capacity unit='GiB'>99</capacity>"
        "<allocation unit='GiB'>99</allocation></volume>",
        0,
    )
    with pytest.raises(ActionFailed, match="Pool spare has"):
        clone_guest(chv, plan)
    assert sorted(fill.listVolumes()) == ["filler"]
