"""How isolated a guest is, in one word: the mode of each path and the verdict they earn.

Pure reading (no Hypervisor): the poll gives every guest its verdict with :func:`verdict_of`
(network modes cached in :class:`NetworkModes`), and the isolation view and the networks view
read the modes, their explanations and the verdicts from here.

Paths, read from the domain XML (the live one while the guest runs, and the persistent one):

- NICs, each with a *mode*: for a libvirt network the mode comes from the network's own XML
  (``<forward mode=nat|route|open|bridge|private|vepa|passthrough|hostdev>``; no ``<forward>``
  is an isolated network: ``host-only`` when it has an ``<ip>`` — the host has an address on
  it — and ``isolated`` without one, where guests only reach each other); ``bridge`` and
  ``direct`` (macvtap) NICs put the guest on the host's LAN; ``user`` (SLIRP, passt) is a NAT
  through the host's own network stack; socket NICs (``server``, ``client``, ``udp``,
  ``mcast``) by their address.
- every other path, with what it leads to, from :mod:`vmtui.backend.paths`: shared folders,
  host devices, character devices over TCP/UDP/unix or to host devices and files, USB
  redirection, passthrough / host-block / NVMe / directory / vhost-user / network disks,
  shared memory, smartcards, TPM and evdev passthrough, vsock, forwarded ports.
- graphics listen addresses and the guest-agent channel are host-to-guest channels: they are
  listed (a graphics server on a non-loopback address is flagged as reachable from the
  network) but do not change the verdict.

The verdict is the first that applies, most exposed first (``VERDICTS``):

1. ``host-shared`` — the guest touches host files, hardware, memory or local sockets: a
   shared folder, a host device, a passthrough / host block / NVMe disk, a chardev on a host
   device, file, unix socket or loopback port, shared memory, vsock ...
2. ``listening`` — a port on the host's network leads into the guest (a serial port or USB
   redirection bound to a non-loopback address, a forwarded port, a socket NIC's server).
3. ``LAN-bridged`` — a NIC on a host bridge, macvtap, or a bridge/macvtap/hostdev network.
4. ``unknown`` — a NIC whose reach vmtui cannot tell (ethernet/vhostuser NICs, or a network
   whose XML cannot be read): it may be anything, so it ranks just below a LAN bridge.
5. ``routed`` — a routed (or ``open``) network: the guest's address is reachable from outside.
6. ``remote`` — the host connects to another machine for the guest: a network disk (iSCSI,
   NBD, RBD, HTTP ...), a serial port or USB redirection connected out.
7. ``NAT`` — a NAT network or user-mode networking: the guest reaches out, nothing reaches in.
8. ``host-only`` — an isolated network on which the host has an IP address.
9. ``guest-only`` — only isolated networks without an IP: the guest reaches other guests on
   the same network, never the host or beyond.
10. ``isolated`` — no path: no NIC (or only NICs on networks that do not exist), nothing else.
    It reads ``sealed`` (``SEALED``) for a throwaway sandbox (tagged ``sandbox``) with no NIC
    at all and nothing but a display on a local socket (:func:`is_sealed`).
"""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import libvirt

from vmtui.backend import paths
from vmtui.backend.domxml import DomainConfig, parse_domain
from vmtui.backend.models import GraphicsInfo, HostDevice, NicInfo, SharedFolder
from vmtui.backend.paths import HostPath

# Verdicts, most exposed first: a guest gets the first one any of its paths earns.
VERDICTS = (
    "host-shared",
    "listening",
    "LAN-bridged",
    "unknown",
    "routed",
    "remote",
    "NAT",
    "host-only",
    "guest-only",
    "isolated",
)
# ``isolated`` and a throwaway sandbox (tagged ``sandbox``, backend/sandbox.py) with no path at
# all: no NIC, no folder, no device, nothing but a display on a local socket (is_sealed).
SEALED = "sealed"
SANDBOX_TAG = "sandbox"

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
    "listening": "listening",
    "local": "host-shared",
    "remote": "remote",
    "multicast": "LAN-bridged",
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
    "listening": "a socket NIC listening on the host's network: other machines connect in",
    "local": "a socket NIC on a loopback address: host processes connect to it",
    "remote": "a socket NIC connected to another machine",
    "multicast": "a multicast socket NIC: every machine on the host's LAN can join",
}

AGENT_TARGET = paths.AGENT_TARGET


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
    if nic.kind in ("bridge", "direct", "hostdev", "user"):
        return nic.kind
    if nic.kind in ("server", "client", "udp", "mcast"):
        return _socket_nic_mode(nic)
    return "unknown"


def _socket_nic_mode(nic: NicInfo) -> str:
    """A QEMU socket NIC: ``server`` listens on its address, ``client`` and ``udp`` send to
    theirs, ``mcast`` joins a multicast group on the host's LAN."""
    if nic.kind == "mcast":
        return "multicast"
    host = nic.source.rpartition(":")[0] if ":" in nic.source else nic.source
    local = paths.is_loopback(host)
    if nic.kind == "server":
        return "local" if local else "listening"
    return "local" if local or host in ("", "0.0.0.0") else "remote"


def verdict(
    modes: Iterable[str],
    folders: Iterable[SharedFolder],
    hostdevs: Iterable[HostDevice],
    others: Iterable[HostPath] = (),
) -> str:
    """The one-word verdict (see the module's docstring for the precedence). ``others`` are
    the paths other than NICs (:func:`vmtui.backend.paths.device_paths`)."""
    if any(True for _ in folders) or any(True for _ in hostdevs):
        return "host-shared"
    earned = {_MODE_VERDICT.get(m, "unknown") for m in modes}
    earned |= {p.verdict for p in others if p.verdict}
    return paths.worst(earned, VERDICTS) or "isolated"


def domain_verdict(xml: str, net_modes: Mapping[str, str]) -> str:
    """The verdict of a domain's XML alone, given its networks' modes (pure)."""
    cfg = parse_domain(xml)
    found = verdict((nic_mode(n, net_modes) for n in cfg.nics), (), (), cfg.paths)
    return SEALED if found == "isolated" and is_sealed(cfg) else found


def sealed(found: str, cfg: DomainConfig) -> str:
    """``found`` (a verdict of ``cfg``), or ``sealed`` when it is ``isolated`` and cfg is a
    sandbox without any path."""
    return SEALED if found == "isolated" and is_sealed(cfg) else found


def is_sealed(cfg: DomainConfig) -> bool:
    """A sandbox with no path at all: tagged ``sandbox``, no NIC, shared folder or host
    device, and no path but graphics on the host itself (a local socket)."""
    return (
        SANDBOX_TAG in cfg.tags
        and not cfg.nics
        and not cfg.hostdevs
        and not cfg.shared_folders
        and all(p.kind == "graphics" and p.mode == "local" for p in cfg.paths)
    )


def graphics_exposed(g: GraphicsInfo) -> bool:
    """The graphics server listens on an address other hosts can reach."""
    return g.kind in ("vnc", "spice", "rdp") and paths.graphics_network(g.listen)


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
    if cfg.hostdevs or any(p.verdict == VERDICTS[0] for p in cfg.paths):
        return VERDICTS[0]  # the worst already: no network to look up
    names = [n.source for n in cfg.nics if n.kind == "network"]
    modes = cache.lookup(conn, names) if names else {}
    found = verdict((nic_mode(n, modes) for n in cfg.nics), (), (), cfg.paths)
    return SEALED if found == "isolated" and is_sealed(cfg) else found
