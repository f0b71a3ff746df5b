"""Editing XML on the test driver: what is refused before libvirt, what libvirt refuses, diffs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from tests.conftest import host_uri
from vmtui.backend import ActionFailed, Hypervisor, InvalidInput
from vmtui.backend.xmledit import check_edit, edit_words, read_xml, save_xml, unified_diff

DB = "aaaaaaaa-0000-0000-0000-000000000002"
NET = "aaaaaaaa-1111-0000-0000-000000000001"
POOL = "aaaaaaaa-2222-0000-0000-000000000002"


@pytest.fixture
def shv() -> Iterator[Hypervisor]:
    h = Hypervisor(host_uri("snap_host"))
    h.connect()
    h.poll()
    yield h
    h.close()


def test_a_valid_edit_is_defined_and_read_back(shv: Hypervisor) -> None:
    doc = read_xml(shv, "domain", DB)
    assert doc.name == "db" and not doc.active and "<description>the database<" in doc.xml
    edited = doc.xml.replace("the database", "the &lt;big&gt; &amp; 'bold' database")
    after = save_xml(shv, doc, edited)
    assert ET.fromstring(after.xml).findtext("description") == "the <big> & 'bold' database"
    assert "the database" not in read_xml(shv, "domain", DB).xml


def test_the_diff_shows_only_what_changes(shv: Hypervisor) -> None:
    doc = read_xml(shv, "domain", DB)
    diff = unified_diff(doc, doc.xml.replace("the database", "the new database"))
    changed = [line for line in diff.splitlines() if line[:1] in "+-"]
    assert changed == [
        "--- db (now)",
        "+++ db (edited)",
        "-  <description>the database</description>",
        "+  <description>the new database</description>",
    ]
    assert unified_diff(doc, doc.xml) == ""


def test_libvirt_schema_errors_come_back_as_its_message(shv: Hypervisor) -> None:
    doc = read_xml(shv, "domain", DB)
    bad = doc.xml.replace("<vcpu", "<vcpux").replace("</vcpu>", "</vcpux>")
    with pytest.raises(ActionFailed) as err:
        save_xml(shv, doc, bad)
    assert "libvirt refused the XML of guest db" in str(err.value)
    assert "vcpux" in str(err.value)  # libvirt's own words: the schema names the element
    assert read_xml(shv, "domain", DB).xml == doc.xml  # nothing changed


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda x: x[: len(x) // 2], "not well-formed at line"),
        (lambda x: "", "is empty"),
        (lambda x: x.replace("<name>db</name>", "<name>db2</name>"), "renames guest db to db2"),
        (lambda x: x.replace(DB, DB.replace("2", "7")), "changes its UUID"),
        (lambda x: x.replace(f"<uuid>{DB}</uuid>", ""), "removes its <uuid>"),
        (lambda x: "<network><name>db</name></network>", "must start with <domain>"),
    ],
)
def test_edits_that_must_not_reach_libvirt_are_refused(
    shv: Hypervisor, change: object, expected: str
) -> None:
    doc = read_xml(shv, "domain", DB)
    edited = change(doc.xml)  # type: ignore[operator]
    with pytest.raises(InvalidInput, match=expected):
        check_edit(doc, edited)
    with pytest.raises(InvalidInput, match=expected):
        save_xml(shv, doc, edited)
    assert read_xml(shv, "domain", DB).xml == doc.xml


def test_a_change_made_elsewhere_is_not_overwritten(shv: Hypervisor) -> None:
    doc = read_xml(shv, "domain", DB)
    save_xml(shv, doc, doc.xml.replace("the database", "changed by someone else"))
    with pytest.raises(ActionFailed, match="changed elsewhere"):
        save_xml(shv, doc, doc.xml.replace("the database", "my change"))
    assert "changed by someone else" in read_xml(shv, "domain", DB).xml


def test_networks_and_pools_use_the_same_editor(shv: Hypervisor) -> None:
    net = read_xml(shv, "network", NET)
    assert net.name == "isolated" and net.noun == "network" and net.xml.startswith("<network")
    pool = read_xml(shv, "pool", POOL)
    assert pool.name == "other" and pool.noun == "storage pool"
    with pytest.raises(InvalidInput, match="renames storage pool other"):
        check_edit(pool, pool.xml.replace("<name>other</name>", "<name>x</name>"))
    # A broken pool definition is libvirt's to refuse: its message comes back.
    with pytest.raises(ActionFailed, match="libvirt refused the XML of storage pool other"):
        save_xml(shv, pool, pool.xml.replace("type='dir'", "type='nosuchtype'"))


def test_edit_words_are_virsh_edit_commands() -> None:
    assert edit_words("domain", "db") == ("edit", "db")
    assert edit_words("network", "n") == ("net-edit", "n")
    assert edit_words("pool", "p") == ("pool-edit", "p")


def test_unknown_kinds_are_refused(shv: Hypervisor) -> None:
    with pytest.raises(InvalidInput):
        read_xml(shv, "secret", DB)
