"""Generate libvirt test-driver hosts (``test:///path/to/host.xml``) with many guests.

The XML is built with ElementTree, like every other piece of domain XML in vmtui. Output is
deterministic for a given ``n`` and ``running_fraction`` so runs are comparable.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"
ET.register_namespace("test", TEST_NS)

RUNNING, PAUSED, SHUTOFF = 1, 3, 5
_UUID_NS = uuid.UUID("6f1d2c1e-6d6b-4c53-9d1f-6a1b1e0c7a11")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def guest_state(i: int, running_fraction: float) -> int:
    """The state of guest ``i``: ``running_fraction`` of all guests run, spread evenly through
    the name order; of the rest, two in three are shut off and one in three paused."""
    # Bresenham-style: guest i runs when the running count steps up between i and i + 1.
    if int((i + 1) * running_fraction) > int(i * running_fraction):
        return RUNNING
    stopped_before = i - int(i * running_fraction)  # guests 0..i-1 that do not run
    return PAUSED if stopped_before % 3 == 2 else SHUTOFF


def _domain(node: ET.Element, i: int, running_fraction: float, prefix: str = "guest") -> None:
    name = f"{prefix}-{i:05d}"
    dom = _sub(node, "domain", type="test")
    _sub(dom, "name", name)
    _sub(dom, "uuid", str(uuid.uuid5(_UUID_NS, name)))
    mem = str(512 * (1 + i % 8))
    _sub(dom, "memory", mem, unit="MiB")
    _sub(dom, "currentMemory", mem, unit="MiB")
    _sub(dom, "vcpu", str(1 + i % 4))
    os_el = _sub(dom, "os")
    _sub(os_el, "type", "hvm", arch="x86_64")
    devices = _sub(dom, "devices")
    disk = _sub(devices, "disk", type="file", device="disk")
    _sub(disk, "driver", name="qemu", type="qcow2")
    _sub(disk, "source", file=f"/var/lib/libvirt/images/{name}.qcow2")
    _sub(disk, "target", dev="vda", bus="virtio")
    nic = _sub(devices, "interface", type="network")
    mac = f"52:54:00:{(i >> 16) & 0xFF:02x}:{(i >> 8) & 0xFF:02x}:{i & 0xFF:02x}"
    _sub(nic, "mac", address=mac)
    _sub(nic, "source", network="default")
    _sub(nic, "model", type="virtio")
    state = guest_state(i, running_fraction)
    if state != RUNNING:
        _sub(dom, f"{{{TEST_NS}}}runstate", str(state))


def host_xml(
    n: int, running_fraction: float = 0.7, prefix: str = "guest"
) -> ET.ElementTree[ET.Element]:
    """A ``<node>`` with ``n`` guests (1-4 vCPUs, one disk, one NIC each) and a network."""
    if not 0.0 <= running_fraction <= 1.0:
        raise ValueError("running_fraction must be between 0 and 1")
    node = ET.Element("node")
    cpu = _sub(node, "cpu")
    for tag, value in (
        ("nodes", "2"),
        ("sockets", "2"),
        ("cores", "32"),
        ("threads", "2"),
        ("active", "128"),
        ("mhz", "2600"),
        ("model", "x86_64"),
    ):
        _sub(cpu, tag, value)
    _sub(node, "memory", str(2 * 1024 * 1024 * 1024))  # KiB: 2 TiB, room for the guests
    for i in range(n):
        _domain(node, i, running_fraction, prefix)
    net = _sub(node, "network")
    _sub(net, "name", "default")
    _sub(net, "bridge", name="virbr0")
    return ET.ElementTree(node)


def write_host_xml(
    path: str | Path, n: int, running_fraction: float = 0.7, prefix: str = "guest"
) -> Path:
    """Write a test-driver host with ``n`` guests to ``path``; open it as ``test://<path>``.
    Guests are named (and their UUIDs derived from) ``<prefix>-00000`` ...: give each host of
    a multi-host run its own prefix."""
    path = Path(path)
    tree = host_xml(n, running_fraction, prefix)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=False)
    return path


def host_uri(path: str | Path) -> str:
    return f"test://{Path(path).resolve()}"
