"""libvirt networks: list (with the guests using each), create, start/stop, autostart, delete.

Network XML is built with ElementTree. A network in use by a guest (live or persistent
configuration) is never deleted: the refusal names the guests.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import libvirt

from vmtui.backend import domxml, shown
from vmtui.backend.devices import InvalidInput
from vmtui.backend.errors import ActionFailed, VmtuiError
from vmtui.backend.models import sanitise_fields, sanitise_tuple
from vmtui.backend.verdict import network_mode

if TYPE_CHECKING:
    from vmtui.backend.hypervisor import Hypervisor

# What the create form offers: mode -> (label, needs IP, may have IP)
CREATE_MODES: dict[str, str] = {
    "nat": "NAT (guests reach out through the host)",
    "isolated": "isolated, no IP (guests reach only each other)",
    "host-only": "isolated with an IP (guests reach the host too)",
    "route": "routed (the host routes the guests' subnet)",
    "bridge": "bridge to an existing host bridge (guests on the LAN)",
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,49}$")
_BRIDGE = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")


@dataclass(frozen=True)
class NetworkInfo:
    name: str
    uuid: str
    active: bool
    autostart: bool
    persistent: bool
    mode: str  # verdict.network_mode: NAT, routed, host-only, isolated, bridge ...
    bridge: str
    ip: str  # "192.168.100.1/24" or ""
    dhcp: str  # "192.168.100.10-192.168.100.99" or ""
    used_by: tuple[str, ...]  # guests with a NIC on it (live or persistent config)

    def __post_init__(self) -> None:  # names from libvirt: shown, never terminal bytes
        sanitise_fields(self, "name", "bridge", "mode")
        sanitise_tuple(self, "used_by")

    @property
    def ip_range(self) -> str:
        if not self.ip:
            return ""
        return f"{self.ip} dhcp {self.dhcp}" if self.dhcp else self.ip


@dataclass(frozen=True)
class NetworkSpec:
    """A network to create. ``cidr`` is the host's address with its prefix
    (``192.168.100.1/24``); ``dhcp_start``/``dhcp_end`` optional, inside the subnet."""

    name: str
    mode: str = "isolated"
    cidr: str = ""
    dhcp_start: str = ""
    dhcp_end: str = ""
    bridge: str = ""  # the host bridge (mode "bridge") or the bridge name to create (others)

    def validate(self) -> NetworkSpec:
        name = self.name.strip()
        if not _NAME.match(name):
            raise InvalidInput(
                f"The network name {name!r} must be 1-50 letters, digits, '_', '.', '+' or '-', "
                "starting with a letter or digit."
            )
        if self.mode not in CREATE_MODES:
            raise InvalidInput(f"Unknown network mode {self.mode!r}.")
        bridge = self.bridge.strip()
        if bridge and not _BRIDGE.match(bridge):
            raise InvalidInput(f"{bridge!r} is not a valid bridge name (1-15 characters).")
        if self.mode == "bridge":
            if not bridge:
                raise InvalidInput("Give the host bridge to connect guests to (e.g. br0).")
            if self.cidr.strip() or self.dhcp_start.strip() or self.dhcp_end.strip():
                raise InvalidInput(
                    "A bridged network takes its addresses from the LAN: leave IP and DHCP empty."
                )
            return NetworkSpec(name, self.mode, "", "", "", bridge)
        cidr = self.cidr.strip()
        if self.mode == "isolated":
            if cidr or self.dhcp_start.strip() or self.dhcp_end.strip():
                raise InvalidInput(
                    "An isolated network without IP has no address or DHCP; choose "
                    "'isolated with an IP' to give the host an address on it."
                )
            return NetworkSpec(name, self.mode, "", "", "", bridge)
        if not cidr:
            raise InvalidInput("Give the host's IPv4 address on the network, like 10.20.0.1/24.")
        try:
            iface = ipaddress.IPv4Interface(cidr)
        except ValueError:
            raise InvalidInput(
                f"{cidr!r} is not an IPv4 address with a prefix, like 10.20.0.1/24."
            ) from None
        net = iface.network
        if "/" not in cidr or net.prefixlen > 30 or net.prefixlen < 8:
            raise InvalidInput("Give a prefix between /8 and /30, like 10.20.0.1/24.")
        if iface.ip in (net.network_address, net.broadcast_address):
            raise InvalidInput(
                f"{iface.ip} is the subnet's network or broadcast address; use a host address "
                f"such as {next(net.hosts())}."
            )
        start, end = self.dhcp_start.strip(), self.dhcp_end.strip()
        if bool(start) != bool(end):
            raise InvalidInput("Give both ends of the DHCP range, or neither.")
        if start:
            try:
                first, last = ipaddress.IPv4Address(start), ipaddress.IPv4Address(end)
            except ValueError:
                raise InvalidInput(
                    f"The DHCP range {start} - {end} is not two IPv4 addresses."
                ) from None
            for addr in (first, last):
                if addr not in net or addr in (net.network_address, net.broadcast_address):
                    raise InvalidInput(f"The DHCP address {addr} is not a host address of {net}.")
            if first > last:
                raise InvalidInput(f"The DHCP range starts ({first}) after it ends ({last}).")
            if first <= iface.ip <= last:
                raise InvalidInput(f"The DHCP range {first} - {last} holds the host's {iface.ip}.")
        return NetworkSpec(name, self.mode, str(iface), start, end, bridge)


def network_xml(spec: NetworkSpec) -> str:
    """The <network> XML for a (validated) spec."""
    root = ET.Element("network")
    ET.SubElement(root, "name").text = spec.name
    if spec.mode == "bridge":
        ET.SubElement(root, "forward", {"mode": "bridge"})
        ET.SubElement(root, "bridge", {"name": spec.bridge})
        return ET.tostring(root, encoding="unicode")
    if spec.mode in ("nat", "route"):
        ET.SubElement(root, "forward", {"mode": spec.mode})
    if spec.bridge:
        ET.SubElement(root, "bridge", {"name": spec.bridge})
    if spec.cidr:
        iface = ipaddress.IPv4Interface(spec.cidr)
        ip = ET.SubElement(
            root, "ip", {"address": str(iface.ip), "prefix": str(iface.network.prefixlen)}
        )
        if spec.dhcp_start:
            dhcp = ET.SubElement(ip, "dhcp")
            ET.SubElement(dhcp, "range", {"start": spec.dhcp_start, "end": spec.dhcp_end})
    return ET.tostring(root, encoding="unicode")


def _parse_network(xml: str) -> tuple[str, str, str, str]:
    """(mode, bridge, ip, dhcp) from a network's XML."""
    root = ET.fromstring(xml)
    br = root.find("bridge")
    ip_text = dhcp_text = ""
    ip = root.find("ip")
    if ip is not None and ip.get("family", "ipv4") == "ipv4":
        addr = ip.get("address", "")
        prefix = ip.get("prefix")
        if prefix is None and ip.get("netmask"):
            try:
                prefix = str(ipaddress.IPv4Network(f"0.0.0.0/{ip.get('netmask')}").prefixlen)
            except ValueError:
                prefix = None
        ip_text = f"{addr}/{prefix}" if prefix else addr
        rng = ip.find("dhcp/range")
        if rng is not None:
            dhcp_text = f"{rng.get('start', '')}-{rng.get('end', '')}"
    return network_mode(xml), br.get("name", "") if br is not None else "", ip_text, dhcp_text


def network_users(conn: Any) -> dict[str, set[str]]:
    """Network name -> names of the guests with a NIC on it (live or persistent XML)."""
    users: dict[str, set[str]] = {}
    for dom in conn.listAllDomains(0):
        try:
            xmls = [dom.XMLDesc(0)]
            if dom.isActive() and dom.isPersistent():
                xmls.append(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        except libvirt.libvirtError:
            continue  # vanished meanwhile
        for xml in xmls:
            cfg = domxml.parse_domain(xml)
            for nic in cfg.nics:
                if nic.kind == "network" and nic.source:
                    users.setdefault(nic.source, set()).add(cfg.name)
    return users


def _wrap(hv: Hypervisor, err: libvirt.libvirtError, verb: str, name: str) -> VmtuiError:
    return hv.wrap_failure(err, f"Could not {verb} network {name}", verb, name)


def list_networks(hv: Hypervisor) -> tuple[NetworkInfo, ...]:
    conn = hv.readable_conn()
    try:
        users = network_users(conn)
        out = []
        for net in conn.listAllNetworks(0):
            name = net.name()
            try:
                mode, bridge, ip, dhcp = _parse_network(net.XMLDesc(0))
                autostart = bool(net.autostart())
                out.append(
                    NetworkInfo(
                        name=name,
                        uuid=net.UUIDString(),
                        active=bool(net.isActive()),
                        autostart=autostart,
                        persistent=bool(net.isPersistent()),
                        mode=mode,
                        bridge=bridge,
                        ip=ip,
                        dhcp=dhcp,
                        used_by=tuple(sorted(users.get(name, ()))),
                    )
                )
            except libvirt.libvirtError as err:
                if err.get_error_code() == libvirt.VIR_ERR_NO_NETWORK:
                    continue
                raise
    except libvirt.libvirtError as err:
        raise _wrap(hv, err, "list", "s") from None
    return tuple(sorted(out, key=lambda n: n.name))


def _lookup(hv: Hypervisor, name: str) -> tuple[Any, Any]:
    """The writable connection and the network called ``name`` on it."""
    conn = hv.writable_conn()
    try:
        # by the name vmtui shows: an escaped one finds its network too (backend/shown.py)
        return conn, shown.lookup(
            conn.networkLookupByName, lambda: conn.listAllNetworks(0), lambda n: n.name(), name
        )
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_NETWORK:
            raise ActionFailed(f"The network {name} no longer exists on {hv.uri}.") from None
        raise _wrap(hv, err, "find", name) from None


@contextlib.contextmanager
def _net_call(hv: Hypervisor, verb: str, name: str) -> Iterator[None]:
    """libvirt errors inside become "Could not <verb> network <name>: …" (_wrap)."""
    try:
        yield
    except libvirt.libvirtError as err:
        raise _wrap(hv, err, verb, name) from None


def _changed(hv: Hypervisor, name: str) -> None:
    """A network's mode may have changed: re-read the verdicts of every guest."""
    hv.net_modes.forget(name)
    for guest in hv.known_guests():
        if any(n.kind == "network" and n.source == name for n in guest.nics):
            hv.touch(guest.uuid)


def create_network(
    hv: Hypervisor, spec: NetworkSpec, *, start: bool = True, autostart: bool = False
) -> NetworkInfo:
    """Define (and by default start) a network. Nothing is left defined if starting fails."""
    spec = spec.validate()
    conn = hv.writable_conn()
    try:
        conn.networkLookupByName(spec.name)
    except libvirt.libvirtError:
        pass
    else:
        raise InvalidInput(f"A network named {spec.name} already exists on {hv.uri}.")
    try:
        net = conn.networkDefineXML(network_xml(spec))
    except libvirt.libvirtError as err:
        raise _wrap(hv, err, "create", spec.name) from None
    try:
        if start:
            net.create()
        if autostart:
            net.setAutostart(1)
    except libvirt.libvirtError as err:
        error = _wrap(hv, err, "start", spec.name)
        with contextlib.suppress(libvirt.libvirtError):
            net.undefine()
        raise ActionFailed(f"{error.message} It was not kept.") from None
    _changed(hv, spec.name)
    return next(n for n in list_networks(hv) if n.name == spec.name)


def set_network_active(hv: Hypervisor, name: str, active: bool) -> None:
    _conn, net = _lookup(hv, name)
    with _net_call(hv, "start" if active else "stop", name):
        if bool(net.isActive()) == active:
            raise ActionFailed(
                f"The network {name} is already {'running' if active else 'stopped'}."
            )
        if active:
            net.create()
        else:
            net.destroy()
    _changed(hv, name)


def set_network_autostart(hv: Hypervisor, name: str, enabled: bool) -> None:
    _conn, net = _lookup(hv, name)
    with _net_call(hv, "change autostart of", name):
        if not net.isPersistent():
            raise ActionFailed(f"The network {name} is transient: it cannot start at boot.")
        net.setAutostart(1 if enabled else 0)


def delete_network(hv: Hypervisor, name: str) -> None:
    """Stop and undefine a network; refused while any guest has a NIC on it."""
    conn, net = _lookup(hv, name)
    with _net_call(hv, "delete", name):
        users = sorted(network_users(conn).get(name, ()))
        if users:
            who = ", ".join(users)
            raise ActionFailed(
                f"The network {name} is used by {who}; remove or move their NICs first "
                "(isolation view, i). Nothing was deleted."
            )
        if net.isActive():
            net.destroy()
        if net.isPersistent():
            net.undefine()
    _changed(hv, name)
