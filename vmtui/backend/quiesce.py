"""Quiesced snapshots: freeze a running guest's filesystems through its agent while a snapshot
is taken, and thaw them afterwards — always, also when the snapshot fails.

libvirt's own ``VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE`` works only with external disk-only
snapshots; vmtui takes internal ones, so it calls ``virDomainFSFreeze`` before and
``virDomainFSThaw`` after (``virsh domfsfreeze`` / ``domfsthaw``). ``Quiesce`` says which was
used, for the UI. A running guest's internal snapshot also holds its memory, so a guest
reverted to a quiesced one comes back with its filesystems frozen: ``thaw_after_revert``
thaws them (a no-op when none are frozen).

Blocking; never imports Textual.
"""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import libvirt

from vmtui.backend.agent import AGENT_TIMEOUT, agent_sentence, bound_agent_wait
from vmtui.backend.errors import ActionFailed, libvirt_message

T = TypeVar("T")
AGENT_PORT = "org.qemu.guest_agent.0"


@dataclass(frozen=True)
class Quiesce:
    """How a snapshot treated the guest's filesystems.

    ``frozen`` is how many filesystems the agent froze (None: they were not frozen, and
    ``why_not`` says why); ``thaw_problem`` is a sentence when thawing failed (they may still
    be frozen)."""

    frozen: int | None
    why_not: str = ""
    thaw_problem: str = ""

    @property
    def quiesced(self) -> bool:
        return self.frozen is not None

    @property
    def sentence(self) -> str:
        if self.frozen is None:
            return f"Not quiesced: {self.why_not}"
        if self.thaw_problem:
            return (
                f"Quiesced through the guest agent ({self.frozen} frozen), but {self.thaw_problem}"
            )
        return (
            f"Quiesced through the guest agent: {self.frozen} filesystem(s) frozen while it was "
            "taken, thawed after."
        )


def agent_channel(domain_xml: str) -> str | None:
    """The agent channel's state in the live XML: "connected", "disconnected", "" (present,
    state unknown), or None when the guest has no agent channel."""
    root = ET.fromstring(domain_xml)
    for target in root.findall("./devices/channel/target"):
        if target.get("name") == AGENT_PORT:
            return target.get("state", "")
    return None


def why_not_quiesced(domain_xml: str, running: bool) -> str:
    """Why the agent cannot be asked to freeze ("" when it can be)."""
    if not running:  # off or paused: nothing in it writes, and a paused agent cannot answer
        return "the guest is not running, so nothing in it writes to its disks now."
    channel = agent_channel(domain_xml)
    if channel is None:
        return "the guest has no guest agent channel (org.qemu.guest_agent.0)."
    if channel == "disconnected":
        return "its guest agent is not connected (not installed or not running in the guest)."
    return ""


def _thaw(dom: Any, name: str) -> str:
    """Thaw, trying twice; a sentence when it could not (never raises)."""
    last = ""
    for _ in range(2):
        try:
            dom.fsThaw(None, 0)
            return ""
        except libvirt.libvirtError as err:
            last = libvirt_message(err)
    return (
        f"its filesystems could not be thawed ({last}): writes in {name} wait until they are; "
        "thaw them from the guest agent's screen (I, then T) or with virsh domfsthaw."
    )


def quiesced(
    dom: Any,
    name: str,
    take: Callable[[], T],
    *,
    domain_xml: str,
    running: bool,
    want: bool | None = None,
) -> tuple[T, Quiesce]:
    """``take()`` (the snapshot) with the guest's filesystems frozen through its agent.

    ``want`` None: freeze when the agent can be asked, else take it anyway and say why not;
    True: refuse (ActionFailed) when they cannot be frozen; False: do not freeze. The thaw
    runs whatever ``take`` does; when ``take`` fails and the thaw fails too, the error says
    both."""
    if want is False:
        return take(), Quiesce(None, "quiescing was not asked for.")
    why = why_not_quiesced(domain_xml, running)
    if not why:
        bound_agent_wait(dom, AGENT_TIMEOUT)
        try:
            count = int(dom.fsFreeze(None, 0))
        except libvirt.libvirtError as err:
            why = agent_sentence(err, "freeze the filesystems", name).message
            # a freeze that timed out may still have happened in the guest
            with contextlib.suppress(libvirt.libvirtError):
                dom.fsThaw(None, 0)
    if why:
        if want:
            raise ActionFailed(f"Cannot take a quiesced snapshot of {name}: {why}")
        return take(), Quiesce(None, why)
    try:
        result = take()
    except libvirt.libvirtError as err:
        problem = _thaw(dom, name)
        if problem:
            raise ActionFailed(
                f"Could not take the snapshot of {name}: {libvirt_message(err)}; and {problem}"
            ) from None
        raise
    except BaseException:
        _thaw(dom, name)
        raise
    return result, Quiesce(count, thaw_problem=_thaw(dom, name))


def thaw_after_revert(dom: Any) -> int | None:
    """After a revert to a running snapshot: thaw what a quiesced snapshot left frozen.
    How many were thawed; None when the agent could not be asked (never raises)."""
    try:
        xml = dom.XMLDesc(0)
        state = dom.state()[0]
    except libvirt.libvirtError:
        return None
    if state != libvirt.VIR_DOMAIN_RUNNING or agent_channel(xml) in (None, "disconnected"):
        return None
    bound_agent_wait(dom, AGENT_TIMEOUT)
    try:
        return int(dom.fsThaw(None, 0))
    except libvirt.libvirtError:
        return None
