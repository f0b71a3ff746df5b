"""Cloning on the test driver: the plan and its review, new identity, cancel and failure
clean-up (the copies are made through the storage API, so the test driver's pool sees them)."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from tests.conftest import host_uri
from vmtui.backend import ActionFailed, Hypervisor, InvalidInput
from vmtui.backend.clone import (
    CloneCancelled,
    CloneProgress,
    clone_guest,
    clone_words,
    plan_clone,
    pool_names,
    suggest_name,
    validate_clone_name,
)

WEB = "aaaaaaaa-0000-0000-0000-000000000001"  # running
DB = "aaaaaaaa-0000-0000-0000-000000000002"  # shut off: 2 qcow2 disks, NIC, share, kernel
RAW = "aaaaaaaa-0000-0000-0000-000000000003"


@pytest.fixture
def shv() -> Iterator[Hypervisor]:
    h = Hypervisor(host_uri("snap_host"))
    h.connect()
    h.poll()
    yield h
    h.close()


def volumes(h: Hypervisor, pool: str = "images") -> set[str]:
    return set(h.readable_conn().storagePoolLookupByName(pool).listVolumes())


def test_the_plan_lists_copies_and_what_is_carried_over(shv: Hypervisor) -> None:
    plan = plan_clone(shv, DB, "db-copy")
    assert [(d.target, d.source, d.pool, d.volume) for d in plan.disks] == [
        ("vda", "/images/db.qcow2", "images", "db-copy.qcow2"),
        ("vdb", "/images/db-data.qcow2", "images", "db-copy-data.qcow2"),
    ]
    review = "\n".join(plan.review())
    assert "Shared folder carried over as it is: /srv/dbshare." in review
    assert "kernel: /boot/vmlinuz-db" in review and "initrd: /boot/initrd-db" in review
    assert "1 network card(s), each with a new MAC address." in review
    assert volumes(shv) == {"web.qcow2", "db.qcow2", "db-data.qcow2", "raw.img", "install.iso"}


def test_read_only_disks_are_shared_not_copied(shv: Hypervisor) -> None:
    shv.readable_conn().lookupByUUIDString(WEB).destroy()
    plan = plan_clone(shv, WEB, "web2")
    assert [d.target for d in plan.disks] == ["vda"]
    assert plan.kept_disks == ("sda: /images/install.iso (cdrom)",)


def test_the_clone_has_its_own_uuid_macs_and_disks(shv: Hypervisor) -> None:
    plan = plan_clone(shv, DB, "db-copy")
    seen: list[CloneProgress] = []
    new_uuid = clone_guest(shv, plan, seen.append)
    conn = shv.readable_conn()
    clone = ET.fromstring(conn.lookupByUUIDString(new_uuid).XMLDesc(0))
    original = ET.fromstring(conn.lookupByUUIDString(DB).XMLDesc(0))
    assert clone.findtext("name") == "db-copy" and new_uuid != DB
    assert [s.get("file") for s in clone.findall("./devices/disk/source")] == [
        "/images/db-copy.qcow2",
        "/images/db-copy-data.qcow2",
    ]
    old_mac = original.find("./devices/interface/mac").get("address")  # type: ignore[union-attr]
    new_mac = clone.find("./devices/interface/mac").get("address")  # type: ignore[union-attr]
    assert new_mac != old_mac and new_mac.startswith("52:54:00:")  # type: ignore[union-attr]
    assert clone.find("./devices/filesystem/source").get("dir") == "/srv/dbshare"  # type: ignore[union-attr]
    assert clone.findtext("os/kernel") == "/boot/vmlinuz-db"
    assert {"db-copy.qcow2", "db-copy-data.qcow2"} <= volumes(shv)
    assert seen[-1].disk == 2 and seen[-1].fraction == 1.0


def test_cancel_between_disks_removes_what_was_made(shv: Hypervisor) -> None:
    plan = plan_clone(shv, DB, "db-copy")
    cancel = threading.Event()

    def progress(p: CloneProgress) -> None:
        if p.disk == 1 and p.copied == p.total:
            cancel.set()  # the user presses esc while the first disk is copied

    before = volumes(shv)
    with pytest.raises(CloneCancelled, match="1 disk copy"):
        clone_guest(shv, plan, progress, cancel)
    assert volumes(shv) == before
    names = {d.name() for d in shv.readable_conn().listAllDomains(0)}
    assert "db-copy" not in names


def test_a_failed_copy_removes_the_earlier_ones(shv: Hypervisor) -> None:
    plan = plan_clone(shv, DB, "db-copy")
    # Someone else takes the second copy's name between the review and the clone.
    pool = shv.readable_conn().storagePoolLookupByName("images")
    pool.createXML("<volume><name>db-copy-data.qcow2</name><capacity>1024</capacity></volume>", 0)
    with pytest.raises(ActionFailed, match="Could not copy disk vdb"):
        clone_guest(shv, plan)
    assert "db-copy.qcow2" not in volumes(shv)
    assert "db-copy" not in {d.name() for d in shv.readable_conn().listAllDomains(0)}


def test_running_guests_and_bad_names_are_refused(shv: Hypervisor) -> None:
    with pytest.raises(ActionFailed, match="shut it down or pause it"):
        plan_clone(shv, WEB, "web2")
    # the one rule for guest names (core/names.py), said as the wizard says it
    for bad, why in (
        ("", "Give the guest a name"),
        ("a b", "a guest name is 1 to 64"),
        ("db", "already"),
    ):
        with pytest.raises(InvalidInput, match=why):
            plan_clone(shv, DB, bad)
    assert validate_clone_name(" ok ", set()) == "ok"
    assert suggest_name("db", {"db", "db-clone"}) == "db-clone2"


def test_pools_and_the_virt_clone_line(shv: Hypervisor) -> None:
    assert pool_names(shv) == ("images", "other")
    plan = plan_clone(shv, RAW, "raw2", "images")
    assert plan.disks[0].fmt == "raw" and plan.disks[0].volume == "raw2-vda.img"
    assert clone_words(plan, "test:///x") == (
        "virt-clone",
        "--connect",
        "test:///x",
        "--original",
        "rawguest",
        "--name",
        "raw2",
        "--auto-clone",
    )
    with pytest.raises(ActionFailed, match="nosuch"):
        plan_clone(shv, DB, "db2", "nosuch")


def test_a_disk_outside_any_pool_is_refused_with_the_fix(shv: Hypervisor) -> None:
    conn = shv.readable_conn()
    xml = conn.lookupByUUIDString(RAW).XMLDesc(0).replace("/images/raw.img", "/elsewhere/x.img")
    xml = xml.replace("<name>rawguest</name>", "<name>loose</name>").replace(
        f"<uuid>{RAW}</uuid>", ""
    )
    loose = conn.defineXML(xml)
    with pytest.raises(ActionFailed, match=r"\(/elsewhere/x.img\) is not in a storage pool"):
        plan_clone(shv, loose.UUIDString(), "loose2")


def test_a_paused_guest_can_be_planned_and_the_review_warns(shv: Hypervisor) -> None:
    shv.readable_conn().lookupByUUIDString(WEB).suspend()
    plan = plan_clone(shv, WEB, "web2")
    assert "The guest is paused" in plan.review()[-1]
