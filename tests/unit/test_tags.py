"""Tags (vmtui/tagtext.py rules, vmtui/backend/tags.py metadata) on the test driver."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from vmtui.backend import ActionFailed, Hypervisor
from vmtui.backend.domxml import parse_domain
from vmtui.backend.tags import edit_tags, read_tags, set_tags
from vmtui.backend.tagxml import NS
from vmtui.core.tagtext import TagEdit, TagError, normalize, parse_tag_edit, validate_tag

ALPHA = "11111111-1111-1111-1111-111111111111"  # running, persistent
BETA = "22222222-2222-2222-2222-222222222222"  # shut off
TEMP = "55555555-5555-5555-5555-555555555555"  # running, transient


@pytest.mark.parametrize("tag", ["db", "web-1", "team@ops", "a.b_c", "prod/eu", "_x", "Ünïcode"])
def test_good_tags(tag: str) -> None:
    assert validate_tag(tag) == tag


@pytest.mark.parametrize(
    ("tag", "says"),
    [
        ("", "cannot be empty"),
        ("two words", "a space or a comma"),
        ("a,b", "a space or a comma"),
        ("x" * 33, "longer than 32"),
        ("-old", "character tags cannot have"),
        ("<b>", "character tags cannot have"),
        ("a&b", "character tags cannot have"),
    ],
)
def test_bad_tags_say_why(tag: str, says: str) -> None:
    with pytest.raises(TagError, match=says):
        validate_tag(tag)


@pytest.mark.parametrize(
    ("text", "current", "result"),
    [
        ("+db", ("web",), ("web", "db")),
        ("+DB", ("db",), ("db",)),  # case-insensitive duplicates are one tag
        ("-web", ("web", "db"), ("db",)),
        ("-WEB", ("web", "db"), ("db",)),
        ("+ci -web", ("web", "db"), ("db", "ci")),
        ("a b", ("web",), ("a", "b")),  # plain words replace
        ("a, b", ("web",), ("a", "b")),
        ("a +c -a", ("web",), ("c",)),
    ],
)
def test_tag_edits(text: str, current: tuple[str, ...], result: tuple[str, ...]) -> None:
    assert parse_tag_edit(text).apply(current) == result


def test_plain_words_add_when_asked_to() -> None:
    assert parse_tag_edit("a -b", replace_when_plain=False).apply(("b", "c")) == ("c", "a")


def test_normalize_refuses_too_many() -> None:
    with pytest.raises(TagError, match="at most"):
        normalize(f"t{i}" for i in range(40))


@pytest.mark.parametrize("child", ["vmtui:tag", "tag"])
def test_domain_xml_tags_are_read_qualified_or_not(child: str) -> None:
    xml = (
        f'<domain><name>x</name><metadata><vmtui:tags xmlns:vmtui="{NS}">'
        f"<{child}>db</{child}><{child}>a&amp;b</{child}></vmtui:tags>"
        '<other:tags xmlns:other="urn:other"><tag>not-ours</tag></other:tags>'
        "</metadata></domain>"
    )
    assert parse_domain(xml).tags == ("db", "a&b")


def metadata_of(hv: Hypervisor, uuid: str, inactive: bool = False) -> list[str]:
    dom = hv.readable_conn().lookupByUUIDString(uuid)
    root = ET.fromstring(dom.XMLDesc(2 if inactive else 0))  # 2 = VIR_DOMAIN_XML_INACTIVE
    return [t.text or "" for t in root.iterfind(f"metadata/{{{NS}}}tags/{{{NS}}}tag")]


def test_set_tags_on_a_running_persistent_guest_changes_live_and_config(hv: Hypervisor) -> None:
    assert set_tags(hv, ALPHA, ["db", "web"]) == ("db", "web")
    assert metadata_of(hv, ALPHA) == ["db", "web"]
    assert metadata_of(hv, ALPHA, inactive=True) == ["db", "web"]
    assert read_tags(hv, ALPHA) == ("db", "web")
    # the next poll re-reads the guest: GuestInfo carries the tags
    guest = next(g for g in hv.poll().guests if g.uuid == ALPHA)
    assert guest.tags == ("db", "web")


def test_set_tags_on_shut_off_and_transient_guests(hv: Hypervisor) -> None:
    set_tags(hv, BETA, ["ci"])  # definition only: it does not run
    assert metadata_of(hv, BETA) == ["ci"]
    set_tags(hv, TEMP, ["scratch"])  # live only: it has no definition
    assert metadata_of(hv, TEMP) == ["scratch"]


def test_edit_and_clear_tags(hv: Hypervisor) -> None:
    set_tags(hv, BETA, ["a", "b"])
    assert edit_tags(hv, BETA, TagEdit(add=("c",), remove=("a",))) == ("b", "c")
    assert set_tags(hv, BETA, []) == ()
    assert metadata_of(hv, BETA) == []
    root = ET.fromstring(hv.readable_conn().lookupByUUIDString(BETA).XMLDesc(0))
    assert root.find(f"metadata/{{{NS}}}tags") is None


def test_a_bad_tag_never_reaches_the_guest(hv: Hypervisor) -> None:
    set_tags(hv, BETA, ["keep"])
    with pytest.raises(ActionFailed, match="a space or a comma"):
        set_tags(hv, BETA, ["keep", "bad tag"])
    assert metadata_of(hv, BETA) == ["keep"]
