"""How isolated a guest is, in one word: the mode of each path and the verdict they earn.

Pure reading (no Hypervisor): the poll gives every guest its verdict with :func:`verdict_of`
(network modes cached in :class:`NetworkModes`), and the isolation view and the networks view
read the modes, their explanations and the verdicts from here.

Paths, read from the domain XML (the live one while the guest runs, and the persistent one):

- NICs, each with a *mode*: for a libvirt network the mode comes from the network's own XML
  (``<forward mode=nat|route|open|bridge|private|vepa|passthrough|hostdev>``; no ``<forward>``
  is an isolated network: ``host-only`` when it has an ``<ip>`` — the host has an address on
  it — and ``isolated`` without one, where guests only reach each other); ``bridge`` and
  ``direct`` (macvtap) NICs put the guest on the host's LAN; ``user`` (SLIRP) is a NAT through
  the host's own network stack.
- shared folders (``<filesystem>``): host path, driver, read-only or read-write;
- host devices (``<hostdev>``): USB / PCI / SCSI passthrough;
- graphics listen addresses and the guest-agent channel. These are host-to-guest channels:
  they are listed (a graphics server on a non-loopback address is flagged as reachable from
  the network) but do not change the verdict.

The verdict is the first that applies, most exposed first (``VERDICTS``):

1. ``host-shared`` — a shared folder or a host device: the guest touches host files/hardware.
2. ``LAN-bridged`` — a NIC on a host bridge, macvtap, or a bridge/macvtap/hostdev network.
3. ``unknown`` — a NIC whose reach vmtui cannot tell (ethernet/vhostuser/socket NICs, or a
   network whose XML cannot be read): it may be anything, so it ranks just below a LAN bridge.
4. ``routed`` — a routed (or ``open``) network: the guest's address is reachable from outside.
5. ``NAT`` — a NAT network or user-mode networking: the guest reaches out, nothing reaches in.
6. ``host-only`` — an isolated network on which the host has an IP address.
7. ``guest-only`` — only isolated networks without an IP: the guest reaches other guests on
   the same network, never the host or beyond.
8. ``isolated`` — no path: no NIC (or only NICs on networks that do not exist).
"""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import libvirt

from vmtui.backend.domxml import DomainConfig
from vmtui.backend.models import GraphicsInfo, HostDevice, NicInfo, SharedFolder

# Verdicts, most exposed first: a guest gets the first one any of its paths earns.
VERDICTS = (
    "host-shared",
    "LAN-bridged",
    "unknown",
    "routed",
    "NAT",
    "host-only",
    "guest-only",
    "isolated",
)

# NIC modes -> the verdict they earn.
_MODE_VERDICT = {
    "bridge": "LAN-bridged",
    "direct": "LAN-bridged",
    "hostdev": "LAN-bridged",
    "unknown": "unknown",
    "routed": "routed",
    "open": "routed",
    "NAT": "NAT",
    "user": "NAT",
    "host-only": "host-only",
    "isolated": "guest-only",
    "missing": "isolated",
}

MODE_HELP = {
    "bridge": "on a host bridge: the guest is on the host's LAN",
    "direct": "macvtap on a host device: the guest is on the host's LAN",
    "hostdev": "a host network card passed through: the guest is on that card's LAN",
    "unknown": "vmtui cannot tell where this NIC leads",
    "routed": "routed: the guest's address is reachable from the host's networks",
    "open": "open forwarding: the host routes the guest's traffic without firewall rules",
    "NAT": "NAT: the guest reaches out through the host; nothing reaches in",
    "user": "user-mode networking: NAT through the host's own network stack",
    "host-only": "isolated network with a host address: the guest reaches the host",
    "isolated": "isolated network without an IP: the guest reaches only other guests on it",
    "missing": "the network does not exist: the guest cannot start with this NIC",
}

AGENT_TARGET = "org.qemu.guest_agent.0"
_LOOPBACK = ("127.", "::1", "localhost")


def network_mode(xml: str) -> str:
    """A libvirt network's mode from its XML: NAT, routed, open, bridge, direct, hostdev,
    host-only or isolated."""
    root = ET.fromstring(xml)
    fwd = root.find("forward")
    if fwd is None:
        return "host-only" if root.find("ip") is not None else "isolated"
    mode = fwd.get("mode", "nat")
    return {
        "nat": "NAT",
        "route": "routed",
        "open": "open",
        "bridge": "bridge",
        "private": "direct",
        "vepa": "direct",
        "passthrough": "direct",
        "hostdev": "hostdev",
    }.get(mode, "unknown")


def nic_mode(nic: NicInfo, net_modes: Mapping[str, str]) -> str:
    """The mode of one NIC; ``net_modes`` maps network names to ``network_mode``."""
    if nic.kind == "network":
        return net_modes.get(nic.source, "unknown")
    if nic.kind == "bridge":
        return "bridge"
    if nic.kind == "direct":
        return "direct"
    if nic.kind == "hostdev":
        return "hostdev"
    if nic.kind == "user":
        return "user"
    return "unknown"


def verdict(
    modes: Iterable[str], folders: Iterable[SharedFolder], hostdevs: Iterable[HostDevice]
) -> str:
    """The one-word verdict (see the module's docstring for the precedence)."""
    if any(True for _ in folders) or any(True for _ in hostdevs):
        return "host-shared"
    earned = {_MODE_VERDICT.get(m, "unknown") for m in modes}
    for word in VERDICTS[1:]:
        if word in earned:
            return word
    return "isolated"


def graphics_exposed(g: GraphicsInfo) -> bool:
    """The graphics server listens on an address other hosts can reach."""
    listen = g.listen
    if g.kind not in ("vnc", "spice", "rdp"):
        return False
    if not listen or listen in ("none", "socket") or listen.startswith("/"):
        return False
    return not listen.startswith(_LOOPBACK)


class NetworkModes:
    """Network name -> mode, cached for ``ttl`` seconds (one lookup per network, not per
    guest). ``forget()`` after changing a network."""

    def __init__(self, ttl: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._modes: dict[str, tuple[str, float]] = {}

    def forget(self, name: str | None = None) -> None:
        with self._lock:
            if name is None:
                self._modes.clear()
            else:
                self._modes.pop(name, None)

    def lookup(self, conn: Any, names: Iterable[str]) -> dict[str, str]:
        now = self.clock()
        out: dict[str, str] = {}
        for name in set(names):
            with self._lock:
                cached = self._modes.get(name)
            if cached is not None and now - cached[1] < self.ttl:
                out[name] = cached[0]
                continue
            try:
                mode = network_mode(conn.networkLookupByName(name).XMLDesc(0))
            except libvirt.libvirtError as err:
                mode = "missing" if err.get_error_code() == libvirt.VIR_ERR_NO_NETWORK else ""
            except ET.ParseError:
                mode = "unknown"
            if not mode:
                continue  # a transient error: do not cache; the NIC shows as unknown
            with self._lock:
                self._modes[name] = (mode, now)
            out[name] = mode
        return out


def verdict_of(cfg: DomainConfig, conn: Any, cache: NetworkModes) -> str:
    """The verdict of a parsed domain, looking its networks' modes up (cached)."""
    if cfg.shared_folders or cfg.hostdevs:
        return "host-shared"
    names = [n.source for n in cfg.nics if n.kind == "network"]
    modes = cache.lookup(conn, names) if names else {}
    return verdict((nic_mode(n, modes) for n in cfg.nics), (), ())
