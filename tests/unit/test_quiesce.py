"""Quiesced snapshots (backend/quiesce.py, issue 13): the filesystems are frozen through the
guest agent while a snapshot is taken and always thawed after — also when the snapshot fails.

The test driver has a pretend agent: ``fsFreeze`` freezes "/" and "/boot" (2) and answers 0
while they are frozen, so "a freeze answers 2 again" proves they were thawed. Host:
tests/data/quiesce_host.xml. A fake domain checks the order of the calls and the failures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import libvirt
import pytest

from tests.conftest import connected_hypervisor, host_uri
from vmtui.backend import ActionFailed, Hypervisor
from vmtui.backend.bulk import take_snapshot
from vmtui.backend.quiesce import agent_channel, quiesced, thaw_after_revert, why_not_quiesced
from vmtui.backend.snapshots import create_snapshot, list_snapshots, revert_snapshot

AGENT = "bbbbbbbb-0000-0000-0000-000000000001"
PLAIN = "bbbbbbbb-0000-0000-0000-000000000002"
NAPPING = "bbbbbbbb-0000-0000-0000-000000000003"


@pytest.fixture
def qhv() -> Iterator[Hypervisor]:
    yield from connected_hypervisor(host_uri("quiesce_host"))


def dom_of(hv: Hypervisor, uuid: str) -> Any:
    return hv.lookup_guest(uuid)[1]


def thawed(dom: Any) -> bool:
    """The test driver's pretend agent freezes its two filesystems only when they are thawed."""
    count = dom.fsFreeze(None, 0)
    dom.fsThaw(None, 0)
    return bool(count == 2)


def libvirt_error(message: str, code: int = libvirt.VIR_ERR_INTERNAL_ERROR) -> libvirt.libvirtError:
    err = libvirt.libvirtError(message)
    err.err = (code, 0, message, 0, "", "", "", 0, 0)
    return err


def test_a_running_guest_with_an_agent_is_frozen_and_thawed(qhv: Hypervisor) -> None:
    snap = create_snapshot(qhv, AGENT, "quiet")
    assert snap.quiesce is not None and snap.quiesce.quiesced
    assert snap.quiesce.frozen == 2 and snap.quiesce.thaw_problem == ""
    assert "2 filesystem(s) frozen" in snap.quiesce.sentence
    assert thawed(dom_of(qhv, AGENT))
    assert [s.name for s in list_snapshots(qhv, AGENT).snapshots] == ["quiet"]


def test_the_thaw_happens_when_the_snapshot_fails(
    qhv: Hypervisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []

    def refuse(dom: Any, xml: str, flags: int = 0) -> Any:
        seen.append(dom.fsFreeze(None, 0))  # 0: already frozen when the snapshot is taken
        raise libvirt_error("internal error: savevm failed")

    monkeypatch.setattr(libvirt.virDomain, "snapshotCreateXML", refuse)
    with pytest.raises(ActionFailed) as err:
        create_snapshot(qhv, AGENT, "doomed")
    assert "savevm failed" in err.value.message
    assert seen == [0]  # frozen while libvirt was asked
    monkeypatch.undo()
    assert thawed(dom_of(qhv, AGENT))  # and thawed although it failed
    assert list_snapshots(qhv, AGENT).snapshots == ()


def test_without_an_agent_channel_the_snapshot_says_it_was_not_quiesced(qhv: Hypervisor) -> None:
    snap = create_snapshot(qhv, PLAIN, "loud")
    assert snap.quiesce is not None and not snap.quiesce.quiesced
    assert snap.quiesce.sentence.startswith("Not quiesced: the guest has no guest agent channel")
    with pytest.raises(ActionFailed, match="Cannot take a quiesced snapshot of plain"):
        create_snapshot(qhv, PLAIN, "insisted", quiesce=True)
    assert [s.name for s in list_snapshots(qhv, PLAIN).snapshots] == ["loud"]


def test_quiesce_false_never_freezes(qhv: Hypervisor) -> None:
    snap = create_snapshot(qhv, AGENT, "unfrozen", quiesce=False)
    assert snap.quiesce is not None and not snap.quiesce.quiesced


def test_a_paused_guest_is_not_frozen(qhv: Hypervisor) -> None:
    snap = create_snapshot(qhv, NAPPING, "asleep")
    assert snap.quiesce is not None and snap.quiesce.frozen is None
    assert "not running" in snap.quiesce.why_not
    assert thawed(dom_of(qhv, NAPPING))  # never frozen


def test_a_revert_thaws_what_a_quiesced_snapshot_left_frozen(qhv: Hypervisor) -> None:
    create_snapshot(qhv, AGENT, "base")
    dom = dom_of(qhv, AGENT)
    assert dom.fsFreeze(None, 0) == 2  # as a quiesced snapshot's memory would bring back
    revert_snapshot(qhv, AGENT, "base")
    assert thawed(dom)


# ------------------------------------------------------------------ a fake domain


class FakeDom:
    def __init__(
        self,
        *,
        freeze: int | Exception = 1,
        thaw_fails: int = 0,
        take_fails: bool = False,
    ) -> None:
        self.calls: list[str] = []
        self._freeze = freeze
        self._thaw_fails = thaw_fails
        self.take_fails = take_fails

    def agentSetResponseTimeout(self, seconds: int, flags: int) -> int:
        self.calls.append(f"timeout {seconds}")
        return 0

    def fsFreeze(self, mounts: Any, flags: int) -> int:
        self.calls.append("freeze")
        if isinstance(self._freeze, Exception):
            raise self._freeze
        return self._freeze

    def fsThaw(self, mounts: Any, flags: int) -> int:
        self.calls.append("thaw")
        if self._thaw_fails:
            self._thaw_fails -= 1
            raise libvirt_error("Guest agent is not responding: timeout", 86)
        return 1

    def take(self) -> str:
        self.calls.append("snapshot")
        if self.take_fails:
            raise libvirt_error("savevm failed")
        return "snap"


XML_CONNECTED = (
    "<domain><devices><channel type='unix'><target type='virtio' "
    "name='org.qemu.guest_agent.0' state='connected'/></channel></devices></domain>"
)
XML_DISCONNECTED = XML_CONNECTED.replace("'connected'", "'disconnected'")


def test_the_order_is_freeze_snapshot_thaw() -> None:
    dom = FakeDom()
    result, how = quiesced(dom, "g", dom.take, domain_xml=XML_CONNECTED, running=True)
    assert result == "snap" and how.frozen == 1
    assert [c for c in dom.calls if not c.startswith("timeout")] == ["freeze", "snapshot", "thaw"]
    assert "timeout 10" in dom.calls  # an agent that never answers cannot hold the worker


def test_a_failed_snapshot_and_a_failed_thaw_are_both_said() -> None:
    dom = FakeDom(thaw_fails=2, take_fails=True)
    with pytest.raises(ActionFailed) as err:
        quiesced(dom, "g", dom.take, domain_xml=XML_CONNECTED, running=True)
    assert "savevm failed" in err.value.message
    assert "could not be thawed" in err.value.message and "domfsthaw" in err.value.message
    assert dom.calls.count("thaw") == 2  # tried twice


def test_a_thaw_that_fails_once_is_retried() -> None:
    dom = FakeDom(thaw_fails=1)
    _, how = quiesced(dom, "g", dom.take, domain_xml=XML_CONNECTED, running=True)
    assert how.thaw_problem == "" and dom.calls.count("thaw") == 2


def test_a_snapshot_that_raises_anything_else_still_thaws() -> None:
    dom = FakeDom()

    def boom() -> str:
        dom.calls.append("snapshot")
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        quiesced(dom, "g", boom, domain_xml=XML_CONNECTED, running=True)
    assert dom.calls[-2:] == ["snapshot", "thaw"]


def test_a_disconnected_agent_is_not_asked() -> None:
    dom = FakeDom()
    _, how = quiesced(dom, "g", dom.take, domain_xml=XML_DISCONNECTED, running=True)
    assert dom.calls == ["snapshot"] and "not connected" in how.why_not


def test_a_freeze_the_agent_refuses_takes_the_snapshot_anyway_unless_insisted() -> None:
    refused = libvirt_error("Guest agent is not responding: timeout", 86)
    dom = FakeDom(freeze=refused)
    _, how = quiesced(dom, "g", dom.take, domain_xml=XML_CONNECTED, running=True)
    assert how.frozen is None and "did not answer" in how.why_not
    assert "snapshot" in dom.calls and dom.calls[-1] == "snapshot"
    dom = FakeDom(freeze=refused)
    with pytest.raises(ActionFailed, match="did not answer"):
        quiesced(dom, "g", dom.take, domain_xml=XML_CONNECTED, running=True, want=True)
    assert "snapshot" not in dom.calls


def test_agent_channel_states() -> None:
    assert agent_channel(XML_CONNECTED) == "connected"
    assert agent_channel(XML_DISCONNECTED) == "disconnected"
    assert agent_channel("<domain><devices/></domain>") is None
    assert why_not_quiesced(XML_CONNECTED, running=False).startswith("the guest is not running")


def test_thaw_after_revert_leaves_a_paused_guest_alone() -> None:
    class Paused(FakeDom):
        def XMLDesc(self, flags: int) -> str:
            return XML_CONNECTED

        def state(self) -> list[int]:
            return [libvirt.VIR_DOMAIN_PAUSED, 0]

    dom = Paused()
    assert thaw_after_revert(dom) is None and "thaw" not in dom.calls


def test_the_bulk_snapshot_command_quiesces_too(qhv: Hypervisor) -> None:
    """``:snapshot agent nightly`` (backend/bulk.py) goes through the same freeze and thaw."""
    name, how = take_snapshot(qhv, AGENT, "nightly")
    assert name == "nightly" and how.frozen == 2 and how.thaw_problem == ""
    assert thawed(dom_of(qhv, AGENT))
    _, how = take_snapshot(qhv, PLAIN, "nightly")
    assert how.frozen is None and "no guest agent channel" in how.sentence
