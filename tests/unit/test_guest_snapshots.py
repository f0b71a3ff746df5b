"""Guest snapshots on the test driver: the tree, create/revert/delete, and the refusals."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import host_uri
from vmtui.backend import ActionFailed, Hypervisor, InvalidInput
from vmtui.backend.snapshots import (
    create_snapshot,
    create_words,
    delete_snapshot,
    list_snapshots,
    revert_snapshot,
    snapshot_blocker,
    snapshot_xml,
    validate_snapshot_name,
)

WEB = "aaaaaaaa-0000-0000-0000-000000000001"  # running, qcow2 + read-only CD-ROM
DB = "aaaaaaaa-0000-0000-0000-000000000002"  # shut off, two qcow2 disks
RAW = "aaaaaaaa-0000-0000-0000-000000000003"  # shut off, a raw disk


@pytest.fixture
def shv() -> Iterator[Hypervisor]:
    h = Hypervisor(host_uri("snap_host"))
    h.connect()
    h.poll()
    yield h
    h.close()


def test_a_running_guest_snapshot_keeps_memory_and_becomes_current(shv: Hypervisor) -> None:
    snap = create_snapshot(shv, WEB, "before-upgrade", "kernel 6.1")
    assert snap.has_memory and snap.current and snap.state == "running"
    tree = list_snapshots(shv, WEB)
    assert [s.name for s in tree.snapshots] == ["before-upgrade"]
    assert tree.current is not None and tree.current.description == "kernel 6.1"
    assert tree.blocker == ""


def test_a_shut_off_guest_snapshot_holds_disks_only(shv: Hypervisor) -> None:
    snap = create_snapshot(shv, DB, "cold")
    assert not snap.has_memory and snap.state == "shutoff"
    with pytest.raises(InvalidInput, match="not running"):
        create_snapshot(shv, DB, "warm", memory=True)


def test_a_running_guest_cannot_have_a_disk_only_internal_snapshot(shv: Hypervisor) -> None:
    with pytest.raises(InvalidInput, match="must include its memory state"):
        create_snapshot(shv, WEB, "x", memory=False)
    assert list_snapshots(shv, WEB).snapshots == ()


def test_raw_disks_are_refused_before_libvirt_is_asked(shv: Hypervisor) -> None:
    # The test driver itself would take the snapshot; the refusal is ours.
    tree = list_snapshots(shv, RAW)
    assert "vda (/images/raw.img) is raw" in tree.blocker
    assert "qcow2" in tree.blocker and "--disk-only" in tree.blocker
    with pytest.raises(ActionFailed) as err:
        create_snapshot(shv, RAW, "nope")
    assert str(err.value) == tree.blocker
    assert list_snapshots(shv, RAW).snapshots == ()


def test_blocker_ignores_cdroms_readonly_and_excluded_disks() -> None:
    xml = """<domain><name>g</name><devices>
      <disk device="cdrom"><driver type="raw"/><target dev="sda"/></disk>
      <disk device="disk"><driver type="raw"/><target dev="vdb"/><readonly/></disk>
      <disk device="disk" snapshot="no"><driver type="raw"/><target dev="vdc"/></disk>
      <disk device="disk"><driver type="qcow2"/><target dev="vda"/></disk>
    </devices></domain>"""
    assert snapshot_blocker(xml) == ""
    no_driver = "<domain><name>g</name><devices><disk><target dev='vda'/></disk></devices></domain>"
    # no format in the XML is not "raw" (issue 15): it says the format is not given
    blocker = snapshot_blocker(no_driver)
    assert "vda has no format in its definition" in blocker and "raw" not in blocker


def test_names_are_validated_and_unique() -> None:
    assert validate_snapshot_name("  nightly 1 ") == "nightly 1"
    for bad in ("", "   ", "a/b", "-rf", "x" * 65, "tab\there", "<b>"):
        with pytest.raises(InvalidInput):
            validate_snapshot_name(bad)
    with pytest.raises(InvalidInput, match="already a snapshot called one"):
        validate_snapshot_name("one", ["one"])


def test_names_and_descriptions_round_trip_through_xml(shv: Hypervisor) -> None:
    assert "&lt;" in snapshot_xml("a", "<script>&", False)
    create_snapshot(shv, DB, "s", "<b>bold</b> & 'quotes'")
    assert list_snapshots(shv, DB).snapshots[0].description == "<b>bold</b> & 'quotes'"


def test_the_tree_orders_parents_before_children(shv: Hypervisor) -> None:
    create_snapshot(shv, DB, "base")
    create_snapshot(shv, DB, "child-1")
    revert_snapshot(shv, DB, "base")
    create_snapshot(shv, DB, "child-2")
    tree = list_snapshots(shv, DB)
    assert tree.snapshots[0].name == "base"
    assert {s.name: s.parent for s in tree.snapshots} == {
        "base": None,
        "child-1": "base",
        "child-2": "base",
    }
    assert [s.name for s in tree.descendants("base")] == ["child-1", "child-2"]
    assert tree.current is not None and tree.current.name == "child-2"


def test_revert_makes_the_snapshot_current_and_restores_its_state(shv: Hypervisor) -> None:
    create_snapshot(shv, WEB, "live")
    shv.force_off(WEB)
    state = revert_snapshot(shv, WEB, "live")
    assert state.is_active  # a snapshot with memory resumes the guest
    assert list_snapshots(shv, WEB).current.name == "live"  # type: ignore[union-attr]


def test_delete_one_keeps_its_children_and_delete_subtree_removes_them(shv: Hypervisor) -> None:
    for name in ("a", "b", "c"):
        create_snapshot(shv, DB, name)
    delete_snapshot(shv, DB, "b")
    tree = list_snapshots(shv, DB)
    assert {s.name: s.parent for s in tree.snapshots} == {"a": None, "c": "a"}
    delete_snapshot(shv, DB, "a", children=True)
    assert list_snapshots(shv, DB).snapshots == ()


def test_a_vanished_snapshot_is_a_sentence(shv: Hypervisor) -> None:
    with pytest.raises(ActionFailed, match="has no snapshot called ghost"):
        revert_snapshot(shv, DB, "ghost")
    with pytest.raises(ActionFailed, match="has no snapshot called ghost"):
        delete_snapshot(shv, DB, "ghost")


def test_create_words_are_virsh_snapshot_create_as() -> None:
    assert create_words("db", "s1", " why ") == (
        "snapshot-create-as",
        "db",
        "s1",
        "--description",
        "why",
    )
    assert create_words("db", "s1", "") == ("snapshot-create-as", "db", "s1")


def test_read_only_connections_refuse(small_host: str) -> None:
    from vmtui.backend import ReadOnlyConnection

    h = Hypervisor(host_uri("snap_host"), readonly=True)
    h.connect()
    try:
        with pytest.raises(ReadOnlyConnection):
            create_snapshot(h, DB, "x")
        assert list_snapshots(h, DB).snapshots == ()
    finally:
        h.close()


def test_a_guest_without_a_disk_is_told_before_n() -> None:
    """Issue 16 #15: said by vmtui up front, not as libvirt's error after n."""
    diskless = "<domain><name>g</name><devices><disk device='cdrom'/></devices></domain>"
    blocker = snapshot_blocker(diskless)
    assert blocker.startswith("Guest g has no disk, so there is nothing to snapshot")
