"""Every path a domain's XML opens from the guest to its host or beyond, and what each leads to.

Pure: ElementTree only (no libvirt connection, no Textual). :func:`device_paths` reads the
``<devices>`` of a domain and returns one :class:`HostPath` per path other than a NIC's own
link (NIC links need the networks' modes: :mod:`vmtui.backend.verdict`); the verdict module
folds them into the one-word verdict, the isolation view lists them.

What counts, each with the verdict it earns (:data:`vmtui.backend.verdict.VERDICTS`):

- character devices (serial, parallel, console, channel, and an RNG's or a smartcard's
  chardev): a TCP/UDP socket bound to a non-loopback address is ``listening`` (a port on the
  host's network leads into the guest); one that connects to another machine is ``remote``;
  a loopback port, a unix socket, a host device (``/dev/ttyS2``, a parport), a file or a pipe
  is ``host-shared``. ``pty``, ``null``, ``vc`` and SPICE channels are the console and the
  display: not paths. The guest-agent channel is listed, and does not count.
- USB redirection (``<redirdev>``): spicevmc (the viewer's USB devices), tcp, unix.
- disks: SCSI passthrough (``device='lun'``), host block devices, NVMe, a host directory
  as a FAT disk (``type='dir'``), vhost-user: ``host-shared``; network disks (iSCSI, NBD,
  RBD, HTTP ...): the host reaches out, ``remote`` (``host-shared`` when every server is
  on the host itself).
- shared folders (``<filesystem>``), host devices (``<hostdev>``), shared memory
  (``<shmem>``), smartcards in host or certificate mode, TPM passthrough (and an external
  TPM's socket), evdev input passthrough, vsock, NVDIMM / virtio-pmem backed by host files:
  ``host-shared``.
- ports a NIC's host-side backend forwards into the guest (user/passt ``<portForward>``):
  ``listening`` (``host-shared`` when bound to a loopback address).
- graphics servers are listed (``network`` when other hosts can connect) and do not change
  the verdict, as before; ``<listen type='address'/>`` without an address is libvirt's
  default, which is local.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass

from vmtui.backend.models import sanitise_fields

AGENT_TARGET = "org.qemu.guest_agent.0"
_LOOPBACK_PREFIXES = ("127.", "::1", "localhost", "0:0:0:0:0:0:0:1", "[::1]")
_ANY_ADDRESS = ("", "0.0.0.0", "::", "[::]", "*")
# Character device types that are the console or the display, not a path.
_QUIET_CHARDEVS = frozenset(
    {"pty", "null", "vc", "stdio", "spicevmc", "spiceport", "qemu-vdagent", "dbus"}
)


@dataclass(frozen=True)
class HostPath:
    """One path from the guest: a row of the isolation view.

    ``verdict`` is the verdict word it earns ("" for channels that do not count: a display,
    the guest agent, a folder in the guest's own RAM); ``ref`` identifies the device for the
    view's actions (a NIC's MAC, a folder's mount tag)."""

    kind: str  # serial, disk, redirdev, shmem, folder, hostdev, graphics, agent ...
    what: str  # "serial 0 (tcp)"
    to: str  # "listens on 0.0.0.0:2445"
    mode: str  # network, local, remote, host file, host device, host socket, share rw ...
    verdict: str
    ref: str = ""

    def __post_init__(self) -> None:
        # paths, names and addresses come from the domain XML: shown as text, never bytes
        sanitise_fields(self, "what", "to")


def is_loopback(host: str) -> bool:
    return host.strip("[]").lower().startswith(_LOOPBACK_PREFIXES) or host.lower() in (
        "localhost",
        "localhost.localdomain",
    )


def _hostport(host: str, port: str) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{shown}:{port}" if port else shown


def _listen_path(host: str, port: str, what: str, kind: str) -> HostPath:
    """A socket the host listens on for the guest."""
    if host in _ANY_ADDRESS:
        where = _hostport(host or "0.0.0.0", port)
        return HostPath(kind, what, f"listens on {where} (every address)", "network", "listening")
    if is_loopback(host):
        return HostPath(kind, what, f"listens on {_hostport(host, port)}", "local", "host-shared")
    return HostPath(kind, what, f"listens on {_hostport(host, port)}", "network", "listening")


def _connect_path(host: str, port: str, what: str, kind: str) -> HostPath:
    """A socket the host connects out of for the guest."""
    where = _hostport(host or "localhost", port)
    if host in _ANY_ADDRESS or is_loopback(host):
        return HostPath(kind, what, f"connects to {where}", "local", "host-shared")
    return HostPath(kind, what, f"connects to {where}", "remote", "remote")


# ---------------------------------------------------------------- character devices
def chardev_paths(elem: ET.Element, what: str, kind: str) -> list[HostPath]:
    """The paths of one character device (``elem`` has the chardev ``type`` and
    ``<source>`` children: serial, channel, redirdev, an RNG's backend, a smartcard)."""
    ctype = elem.get("type", "pty")
    if ctype in _QUIET_CHARDEVS:
        return []
    label = f"{what} ({ctype})"
    sources = elem.findall("source")
    src = sources[0] if sources else None

    def attr(name: str, default: str = "") -> str:
        return src.get(name, default) if src is not None else default

    if ctype == "tcp":
        host, port = attr("host"), attr("service")
        if attr("mode", "connect") == "bind":
            return [_listen_path(host, port, label, kind)]
        return [_connect_path(host, port, label, kind)]
    if ctype == "udp":
        out: list[HostPath] = []
        for s in sources:
            host, port = s.get("host", ""), s.get("service", "")
            if s.get("mode", "connect") == "bind":
                out.append(_listen_path(host, port, label, kind))
            else:
                out.append(_connect_path(host, port, label, kind))
        return out or [HostPath(kind, label, "sends to localhost (udp)", "local", "host-shared")]
    if ctype == "unix":
        path = attr("path")
        where = path or "a socket libvirt makes"
        verb = "listens on" if attr("mode", "bind") == "bind" else "connects to"
        return [HostPath(kind, label, f"{verb} {where}", "host socket", "host-shared")]
    if ctype in ("dev", "nmdm"):
        path = attr("path") or attr("master") or "?"
        return [HostPath(kind, label, path, "host device", "host-shared")]
    if ctype in ("file", "pipe"):
        return [HostPath(kind, label, attr("path") or "?", "host file", "host-shared")]
    # an unknown chardev type: it may lead anywhere
    return [HostPath(kind, label, attr("path") or ctype, "unknown", "unknown")]


def is_serial_alias(elem: ET.Element, has_serial: bool = True) -> bool:
    """A ``<console>`` that is a serial port again: libvirt adds one with a serial target
    for the first serial port, and a console with no target type on a guest with serial
    ports is that port too. Not a second path."""
    if elem.tag != "console":
        return False
    target = elem.find("target")
    kind = target.get("type", "") if target is not None else ""
    return kind == "serial" or (not kind and has_serial)


def _chardev_what(elem: ET.Element, index: int) -> str:
    target = elem.find("target")
    port = target.get("port") if target is not None else None
    name = target.get("name") if target is not None else None
    if elem.tag == "channel":
        return f"channel {name}" if name else f"channel {index}"
    return f"{elem.tag} {port if port is not None else index}"


# ---------------------------------------------------------------- disks
def network_source(src: ET.Element) -> tuple[str, list[tuple[str, str, str]]]:
    """A network disk's shown source ("nbd://example.org:6000/bar") and its servers as
    (transport, host-or-socket, port)."""
    protocol = src.get("protocol", "") or "network"
    name = src.get("name", "")
    servers = [
        (h.get("transport", "tcp"), h.get("name") or h.get("socket") or "", h.get("port", ""))
        for h in src.findall("host")
    ]
    if not servers:  # RBD, Gluster ...: the servers come from the storage's own config
        return f"{protocol} {name} (servers from its configuration)".replace("  ", " "), servers
    transport, host, port = servers[0]
    where = f"unix:{host}" if transport == "unix" else _hostport(host, port)
    more = f" (+{len(servers) - 1} more)" if len(servers) > 1 else ""
    shown = f"{protocol}://{where}"
    if name:
        shown += name if name.startswith("/") else f"/{name}"
    return shown + more, servers


def _pci(addr: ET.Element | None) -> str:
    if addr is None:
        return ""
    if addr.get("domain") is None and addr.get("bus") is None:
        return ":".join(f"{k}={v}" for k, v in sorted(addr.attrib.items()))
    dom, bus = addr.get("domain", "0"), addr.get("bus", "0")
    slot, fn = addr.get("slot", "0"), addr.get("function", "0")
    try:
        return f"{int(dom, 0):04x}:{int(bus, 0):02x}:{int(slot, 0):02x}.{int(fn, 0):x}"
    except ValueError:
        return f"{dom}:{bus}:{slot}.{fn}"


def disk_source(elem: ET.Element) -> str:
    """What a disk reads and writes, as the user would name it ("" when empty)."""
    stype = elem.get("type", "file")
    src = elem.find("source")
    if src is None:
        return ""
    if stype == "volume":
        pool, vol = src.get("pool", ""), src.get("volume", "")
        return f"{pool}/{vol}" if pool or vol else ""
    if stype == "network":
        return network_source(src)[0]
    if stype == "nvme":
        ns = src.get("namespace", "")
        pci = _pci(src.find("address"))
        return f"nvme {pci}" + (f" namespace {ns}" if ns else "")
    if stype == "vhostuser":
        return src.get("path", "") or "vhost-user socket"
    if stype == "dir":
        return src.get("dir", "")
    return src.get("file") or src.get("dev") or src.get("dir") or src.get("name") or ""


def disk_paths(elem: ET.Element, index: int) -> list[HostPath]:
    stype = elem.get("type", "file")
    device = elem.get("device", "disk")
    if device != "lun" and stype in ("file", "volume"):
        return []  # an image of the guest's own: not a path (the common case: return early)
    target = elem.find("target")
    dev = (target.get("dev", "") if target is not None else "") or str(index)
    src = elem.find("source")
    if src is None:
        return []
    source = disk_source(elem)
    what = f"disk {dev} ({device})" if device != "disk" else f"disk {dev}"
    if stype == "network":
        _shown, servers = network_source(src)
        local = bool(servers) and all(
            t == "unix" or is_loopback(h) or not h for t, h, _p in servers
        )
        if local:
            return [HostPath("disk", what, source, "host socket", "host-shared")]
        return [HostPath("disk", what, source, "remote", "remote")]
    if device == "lun":
        return [HostPath("disk", what, source, "passthrough", "host-shared")]
    if stype == "block":
        return [HostPath("disk", what, source, "host device", "host-shared")]
    if stype == "nvme":
        return [HostPath("disk", what, source, "host device", "host-shared")]
    if stype == "dir":
        return [HostPath("disk", what, f"{source} (as a FAT disk)", "host dir", "host-shared")]
    if stype == "vhostuser":
        return [HostPath("disk", what, source, "host socket", "host-shared")]
    return []


# ---------------------------------------------------------------- folders and host devices
def folder_source(elem: ET.Element) -> str:
    src = elem.find("source")
    if src is None:
        return ""
    ftype = elem.get("type", "mount")
    if ftype == "ram":
        usage = src.get("usage", "")
        return f"RAM ({usage} {src.get('units', 'KiB')})" if usage else "RAM"
    if ftype == "volume" or (src.get("pool") and src.get("volume")):
        return f"{src.get('pool', '')}/{src.get('volume', '')}"
    return (
        src.get("dir")
        or src.get("file")
        or src.get("dev")
        or src.get("name")
        or (f"virtiofsd socket {src.get('socket')}" if src.get("socket") else "")
    )


def folder_driver(elem: ET.Element, domain_type: str) -> str:
    """The folder's driver; with none given, QEMU's default is 9p and LXC bind-mounts."""
    driver = elem.find("driver")
    found = driver.get("type", "") if driver is not None else ""
    if found:
        return found
    if elem.get("type") == "ram":
        return "ram"
    if domain_type in ("lxc", "openvz", "vz"):
        return "bind"
    return "9p" if domain_type in ("qemu", "kvm", "test", "") else "default"


def hostdev_address(elem: ET.Element) -> str:
    """Where a host device is on the host ("" when the XML does not say)."""
    src = elem.find("source")
    if src is None:
        return ""
    vendor, product = src.find("vendor"), src.find("product")
    parts: list[str] = []
    if vendor is not None or product is not None:
        ids = (x.get("id", "") if x is not None else "" for x in (vendor, product))
        parts.append(":".join(i.removeprefix("0x") for i in ids))
    if src.get("protocol") and src.get("protocol") != "vhost":  # iSCSI: the LUN and its server
        host = src.find("host")
        server = _hostport(host.get("name", ""), host.get("port", "")) if host is not None else ""
        parts.append(f"{src.get('protocol')}://{server}/{src.get('name', '')}")
    adapter = src.find("adapter")
    if adapter is not None:
        parts.append(adapter.get("name", "") or adapter.get("wwpn", "") or "adapter")
    addr = src.find("address")
    if addr is not None:
        if adapter is not None:  # SCSI: bus:target:unit on that adapter
            parts.append(":".join(addr.get(k, "?") for k in ("bus", "target", "unit")))
        elif elem.get("type") == "usb":  # tells two identical sticks apart
            parts.append(f"bus {addr.get('bus', '?')} device {addr.get('device', '?')}")
        elif elem.get("type") == "mdev" or addr.get("uuid"):
            parts.append(f"mdev {addr.get('uuid', '')}")
        else:
            parts.append(_pci(addr))
    for tag in ("block", "char", "interface"):  # LXC capabilities mode
        found = src.findtext(tag)
        if found:
            parts.append(found.strip())
    if src.get("wwpn"):  # scsi_host (vhost-scsi)
        parts.append(f"wwpn {src.get('wwpn')}")
    return " ".join(p for p in parts if p)


# ---------------------------------------------------------------- graphics
def graphics_listen(elem: ET.Element) -> str:
    """The address a graphics server listens on: "" for libvirt's default (local)."""
    listen = elem.get("listen", "")
    if listen:
        return listen
    lst = elem.find("listen")
    if lst is None:
        return ""
    ltype = lst.get("type", "address")
    if ltype == "address":
        return lst.get("address", "")  # no address: the default (local, from qemu.conf)
    if ltype == "socket":
        return lst.get("socket", "") or "socket"
    if ltype == "network":
        return lst.get("address", "") or f"network {lst.get('network', '?')}"
    return ltype  # none


# ---------------------------------------------------------------- the walk
_AGENT = HostPath("agent", "guest agent", "channel to the host", "host->guest", "")
_PATH_TAGS = frozenset(
    {
        "serial",
        "parallel",
        "console",
        "channel",
        "redirdev",
        "disk",
        "filesystem",
        "hostdev",
        "shmem",
        "smartcard",
        "tpm",
        "input",
        "vsock",
        "memory",
        "rng",
        "interface",
        "graphics",
    }
)


def device_paths(root: ET.Element, domain_type: str | None = None) -> tuple[HostPath, ...]:
    """Every path of the domain ``root`` other than its NICs' links, in document order."""
    dtype = root.get("type", "") if domain_type is None else domain_type
    devices = root.find("devices")
    if devices is None:
        return ()
    out: list[HostPath] = []
    index: dict[str, int] = {}
    has_serial = devices.find("serial") is not None
    for elem in devices:
        tag = elem.tag
        if tag not in _PATH_TAGS:
            continue  # controllers, video, balloon ...: cheap to skip (this runs every poll)
        i = index.get(tag, 0)
        index[tag] = i + 1
        if tag in ("serial", "parallel", "console", "channel"):
            target = elem.find("target")
            if tag == "console" and is_serial_alias(elem, has_serial):
                continue
            if tag == "channel" and target is not None and target.get("name") == AGENT_TARGET:
                out.append(_AGENT)
                continue
            if elem.get("type", "pty") not in _QUIET_CHARDEVS:
                out.extend(chardev_paths(elem, _chardev_what(elem, i), tag))
        elif tag == "redirdev":
            out.extend(_redirdev(elem, i))
        elif tag == "disk":
            out.extend(disk_paths(elem, i))
        elif tag == "filesystem":
            out.append(_folder(elem, dtype))
        elif tag == "hostdev":
            out.append(_hostdev(elem))
        elif tag == "shmem":
            out.extend(_shmem(elem))
        elif tag == "smartcard":
            out.extend(_smartcard(elem, i))
        elif tag == "tpm":
            out.extend(_tpm(elem))
        elif tag == "input":
            out.extend(_input(elem))
        elif tag == "vsock":
            cid = elem.find("cid")
            auto = cid is None or cid.get("auto", "yes") == "yes"
            number = "" if cid is None else cid.get("address", "")
            shown = f"CID {number}" if number and not auto else "CID chosen by libvirt"
            out.append(
                HostPath(
                    "vsock", "vsock", f"host vsock services ({shown})", "host socket", "host-shared"
                )
            )
        elif tag == "memory":
            out.extend(_memory(elem, i))
        elif tag == "rng":
            backend = elem.find("backend")
            if backend is not None and backend.get("model") == "egd":
                out.extend(chardev_paths(backend, f"rng {i}", "rng"))
        elif tag == "interface":
            out.extend(_port_forwards(elem))
        elif tag == "graphics":
            out.append(_graphics(elem, i))
    return tuple(out)


def _redirdev(elem: ET.Element, i: int) -> list[HostPath]:
    what = f"USB redirection {i}"
    if elem.get("type") == "spicevmc":
        return [
            HostPath(
                "redirdev",
                f"{what} (spice)",
                "USB devices of the SPICE viewer's machine",
                "viewer USB",
                "host-shared",
            )
        ]
    return chardev_paths(elem, what, "redirdev")


def _folder(elem: ET.Element, dtype: str) -> HostPath:
    target = elem.find("target")
    tag = target.get("dir", "") if target is not None else ""
    driver = folder_driver(elem, dtype)
    access = "ro" if elem.find("readonly") is not None else "rw"
    source = folder_source(elem)
    earns = "" if elem.get("type") == "ram" else "host-shared"
    return HostPath("folder", f"folder {tag} ({driver})", source, f"share {access}", earns, tag)


def _hostdev(elem: ET.Element) -> HostPath:
    kind = elem.get("type", "") or elem.tag
    address = hostdev_address(elem)
    return HostPath("hostdev", f"host {kind} device", address, "device", "host-shared")


def _shmem(elem: ET.Element) -> list[HostPath]:
    name = elem.get("name", "")
    server = elem.find("server")
    size = elem.find("size")
    shown = f"shared memory '{name}'"
    if size is not None and size.text:
        shown += f" ({size.text.strip()} {size.get('unit', 'M')})"
    out = [HostPath("shmem", f"shmem {name}", shown, "shared mem", "host-shared", name)]
    if server is not None:
        path = server.get("path", "") or f"/var/lib/libvirt/shmem-{name}-sock"
        out.append(
            HostPath(
                "shmem",
                f"shmem {name} server",
                f"connects to {path}",
                "host socket",
                "host-shared",
                name,
            )
        )
    return out


def _smartcard(elem: ET.Element, i: int) -> list[HostPath]:
    mode = elem.get("mode", "")
    what = f"smartcard {i} ({mode})"
    if mode == "host":
        return [
            HostPath("smartcard", what, "the host's card readers", "host device", "host-shared")
        ]
    if mode == "host-certificates":
        db = elem.findtext("database") or "/etc/pki/nssdb"
        certs = ", ".join((c.text or "").strip() for c in elem.findall("certificate"))
        return [
            HostPath(
                "smartcard",
                what,
                f"certificates {certs} in {db.strip()}",
                "host file",
                "host-shared",
            )
        ]
    if mode == "passthrough":
        if elem.get("type") == "spicevmc":
            return [
                HostPath(
                    "smartcard",
                    what,
                    "the SPICE viewer's card reader",
                    "viewer card",
                    "host-shared",
                )
            ]
        return chardev_paths(elem, f"smartcard {i}", "smartcard")
    return []


def _tpm(elem: ET.Element) -> list[HostPath]:
    backend = elem.find("backend")
    if backend is None:
        return []
    btype = backend.get("type", "")
    if btype == "passthrough":
        device = backend.find("device")
        path = device.get("path", "/dev/tpm0") if device is not None else "/dev/tpm0"
        return [HostPath("tpm", "TPM passthrough", path, "host device", "host-shared")]
    if btype == "external":
        src = backend.find("source")
        path = src.get("path", "?") if src is not None else "?"
        return [
            HostPath("tpm", "TPM (external)", f"connects to {path}", "host socket", "host-shared")
        ]
    return []  # emulator: a private swtpm


def _input(elem: ET.Element) -> list[HostPath]:
    itype = elem.get("type", "")
    src = elem.find("source")
    if src is None or itype not in ("evdev", "passthrough"):
        return []
    path = src.get("dev") or src.get("evdev") or "?"
    return [HostPath("input", f"input {itype}", path, "host device", "host-shared")]


def _memory(elem: ET.Element, i: int) -> list[HostPath]:
    model = elem.get("model", "")
    path = elem.findtext("source/path") or elem.findtext("source/pmem") or ""
    if model in ("nvdimm", "virtio-pmem") and path.strip():
        return [HostPath("memory", f"{model} {i}", path.strip(), "host file", "host-shared")]
    return []


def _port_forwards(elem: ET.Element) -> list[HostPath]:
    """Ports a NIC's host-side backend (user/passt) forwards into the guest."""
    out: list[HostPath] = []
    mac = elem.find("mac")
    ref = mac.get("address", "") if mac is not None else ""
    for fwd in elem.findall("portForward"):
        proto = fwd.get("proto", "tcp")
        address = fwd.get("address", "")
        ranges = [
            ("^" if r.get("exclude") == "yes" else "")
            + r.get("start", "")
            + (f"-{r.get('end')}" if r.get("end") else "")
            + (f"→{r.get('to')}" if r.get("to") else "")
            for r in fwd.findall("range")
        ]
        port = ",".join(ranges) or "?"
        path = _listen_path(address, port, f"port forward ({proto})", "portforward")
        out.append(HostPath(path.kind, path.what, path.to, path.mode, path.verdict, ref))
    return out


def _graphics(elem: ET.Element, i: int) -> HostPath:
    kind = elem.get("type", "")
    listen = graphics_listen(elem)
    port = elem.get("port", "")
    if elem.get("autoport") == "yes" or port in ("", "-1", "0"):
        port = ""
    exposed = kind in ("vnc", "spice", "rdp") and graphics_network(listen)
    shown = f"{listen or 'default (local)'}" + (f":{port}" if port else "")
    return HostPath("graphics", f"{kind} display", shown, "network" if exposed else "local", "")


def graphics_network(listen: str) -> bool:
    """A graphics server on this listen address is reachable from other hosts."""
    if not listen or listen in ("none", "socket") or listen.startswith("/"):
        return False
    return not is_loopback(listen)


def worst(verdicts: Iterable[str], order: tuple[str, ...]) -> str:
    """The first of ``order`` that ``verdicts`` holds ("" when none)."""
    found = set(verdicts)
    return next((v for v in order if v in found), "")
