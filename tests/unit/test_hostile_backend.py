"""Issue 14 #4 at the backend boundary: every string from libvirt enters vmtui made safe
(core/safetext), and an action on an object whose name was escaped still finds it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from tests.conftest import host_uri
from tests.ui.rendered import unsafe_characters
from vmtui.backend import GuestInfo, GuestState, Hypervisor
from vmtui.backend.networks import list_networks, set_network_active
from vmtui.backend.snapshots import delete_snapshot, list_snapshots
from vmtui.backend.storage import list_pools, list_volumes
from vmtui.core.errors import Sentence

EVIL = "bad00000-0000-4000-8000-000000000001"


@pytest.fixture
def hv() -> Iterator[Hypervisor]:
    h = Hypervisor(host_uri("hostile_host"))
    h.connect()
    yield h
    h.close()


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(k) + _strings(v)]
    if isinstance(value, list | tuple | set | frozenset):
        return [s for item in value for s in _strings(item)]
    return []


def _texts(obj: object) -> str:
    """Every string of a dataclass, as it is (not repr: repr escapes what we look for)."""
    return " ".join(_strings(dataclasses.asdict(obj)))  # type: ignore[call-overload]


def test_a_guest_info_is_safe_however_it_is_built() -> None:
    g = GuestInfo(
        "u", "a\x9b2J\u202e", GuestState.RUNNING, description="l1\nl2\x07", tags=("x\u200b",)
    )
    assert (g.name, g.description, g.tags) == ("a\\x9b2J\\u202e", "l1\nl2\\x07", ("x\\u200b",))
    assert dataclasses.replace(g, name="b\x1b").name == "b\\x1b"


def test_every_guest_of_the_hostile_host_is_safe(hv: Hypervisor) -> None:
    snap = hv.poll()
    names = {g.name for g in snap.guests}
    assert "web\\u202egnp.exe" in names and "web\\u200b1" in names and "web1" in names
    for guest in snap.guests:
        # paths (disk sources, shared folders) stay raw: they are what a delete removes,
        # escaped where they are shown (the walk-through test checks the screens)
        shown = [guest.name, guest.title, guest.description, guest.reason, *guest.tags]
        assert not unsafe_characters(" ".join(shown).replace("\n", " ")), guest.name


def test_networks_pools_and_volumes_are_safe_and_still_found_by_their_shown_name(
    hv: Hypervisor,
) -> None:
    nets = {n.name: n for n in list_networks(hv)}
    assert set(nets) == {"[red]net", "[b]n\\x9bet\\u202e"}
    set_network_active(hv, "[b]n\\x9bet\\u202e", False)  # found by the escaped name
    assert not {n.name: n for n in list_networks(hv)}["[b]n\\x9bet\\u202e"].active
    pools = list_pools(hv)
    assert [p.name for p in pools] == ["[@click=app.quit]pool\\u200b"]
    vols = {v.name for v in list_volumes(hv, pools[0].name)}
    assert "[i]v\\x9bol\\u202e.qcow2" in vols
    for obj in (*nets.values(), *pools):
        assert not unsafe_characters(_texts(obj))


def test_a_snapshot_with_a_hostile_name_is_listed_safe_and_deleted_by_it(hv: Hypervisor) -> None:
    dom = hv.writable_conn().lookupByUUIDString(EVIL)
    dom.snapshotCreateXML(
        "<domainsnapshot><name>s\u009b\u202e</name><description>d\u009d</description>"
        "</domainsnapshot>",
        0,
    )
    tree = list_snapshots(hv, EVIL)
    assert [(s.name, s.description) for s in tree.snapshots] == [("s\\x9b\\u202e", "d\\x9d")]
    delete_snapshot(hv, EVIL, "s\\x9b\\u202e")
    assert list_snapshots(hv, EVIL).snapshots == ()


def test_error_sentences_never_carry_control_characters() -> None:
    assert Sentence("Guest \x9b2J\u202e failed.\nWhy: \x1b]0;x\x07").message == (
        "Guest \\x9b2J\\u202e failed.\nWhy: \\x1b]0;x\\x07"
    )


def test_the_guest_agents_words_are_safe() -> None:
    """The guest agent is the guest's own program: its hostname, OS name, users and
    filesystems are guest data."""
    from vmtui.backend.agent import parse_guest_info

    info = parse_guest_info(
        {
            "hostname": "h\x1b]0;pwned\x07",
            "os.pretty-name": "\u202eSXO",
            "user.count": 1,
            "user.0.name": "r\x9boot",
            "fs.count": 1,
            "fs.0.mountpoint": "/\u200b",
            "fs.0.name": "vda1",
            "fs.0.fstype": "ext4",
        }
    )
    assert info.hostname == "h\\x1b]0;pwned\\x07"
    assert not unsafe_characters(_texts(info))
    assert info.users[0].name == "r\\x9boot" and info.filesystems[0].mountpoint == "/\\u200b"
