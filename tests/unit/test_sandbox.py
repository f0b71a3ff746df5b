"""The sandbox's domain XML from its base's (pure) and the overlay marker (issue 17)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from vmtui.backend.domxml import parse_domain
from vmtui.backend.errors import ActionFailed
from vmtui.backend.sandbox import sandbox_name, sandbox_xml, writable_disks
from vmtui.backend.sandboxclean import overlay_name, owner
from vmtui.backend.verdict import domain_verdict, is_sealed

UUID = "12345678-1234-1234-1234-123456789abc"
BASE = """<domain type='kvm'>
  <name>web</name><uuid>aaaaaaaa-0000-0000-0000-000000000001</uuid>
  <metadata><vmtui:tags xmlns:vmtui="https://vmtui.dev/xmlns/1"><vmtui:tag>db</vmtui:tag></vmtui:tags></metadata>
  <os><type arch='x86_64'>hvm</type><loader readonly='yes' type='pflash'>/ovmf/CODE.fd</loader>
    <nvram>/var/lib/libvirt/qemu/nvram/web_VARS.fd</nvram></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/>
      <source file='/images/web.img'/><target dev='vda' bus='virtio'/></disk>
    <disk type='block' device='disk'><driver name='qemu' type='raw'/>
      <source dev='/dev/vg/data'/><target dev='vdb' bus='virtio'/><shareable/></disk>
    <disk type='file' device='cdrom'><source file='/isos/x.iso'/><target dev='sda'/>
      <readonly/></disk>
    <interface type='bridge'><source bridge='br0'/></interface>
    <filesystem type='mount'><source dir='/srv'/><target dir='srv'/></filesystem>
    <hostdev mode='subsystem' type='usb'>
      <source><vendor id='0x1'/><product id='0x2'/></source></hostdev>
    <channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <redirdev bus='usb' type='spicevmc'/>
    <serial type='tcp'><source mode='bind' host='0.0.0.0' service='2445'/>
      <target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <graphics type='spice' port='5900' listen='0.0.0.0'>
      <listen type='address' address='0.0.0.0'/></graphics>
    <graphics type='rdp' autoport='yes'/>
    <input type='evdev'><source dev='/dev/input/event1'/></input>
    <shmem name='x'><size unit='M'>4</size></shmem>
    <vsock model='virtio'><cid auto='yes'/></vsock>
  </devices>
</domain>"""


def _box(**kw: str) -> str:
    overlays = {"vda": "/pool/o-vda.qcow2", "vdb": "/pool/o-vdb.qcow2"}
    return sandbox_xml(BASE, "web-sandbox", UUID, overlays, **kw)


def test_sandbox_keeps_no_path_and_reads_sealed() -> None:
    xml = _box(nvram="/pool/n.fd")
    root = ET.fromstring(xml)
    devs = root.find("devices")
    assert devs is not None
    tags = [d.tag for d in devs]
    for gone in ("interface", "filesystem", "hostdev", "channel", "redirdev", "shmem", "vsock"):
        assert gone not in tags, gone
    assert [d.get("type") for d in devs.findall("input")] == []
    assert [g.get("type") for g in devs.findall("graphics")] == ["spice"]
    listens = devs.findall("graphics/listen")
    assert [(x.get("type")) for x in listens] == ["socket"]
    assert all(s.get("type") == "pty" and s.find("source") is None for s in devs.findall("serial"))
    cfg = parse_domain(xml)
    assert cfg.uuid == UUID and cfg.name == "web-sandbox"
    assert cfg.tags == ("db", "sandbox")
    assert is_sealed(cfg)
    assert domain_verdict(xml, {}) == "sealed"
    assert domain_verdict(BASE, {}) != "sealed"
    disks = {d.target: d for d in cfg.disks}
    assert disks["vda"].source == "/pool/o-vda.qcow2" and disks["vda"].format == "qcow2"
    assert disks["vdb"].source_type == "file" and not disks["vdb"].shareable
    assert disks["sda"].source == "/isos/x.iso"  # read-only: as it was
    nvram = root.find("os/nvram")
    assert nvram is not None and nvram.text == "/pool/n.fd"
    assert nvram.get("template") == "/var/lib/libvirt/qemu/nvram/web_VARS.fd"


def test_a_chosen_isolated_network_is_the_one_nic_and_is_not_sealed() -> None:
    xml = _box(network="lab")
    nics = parse_domain(xml).nics
    assert [(n.kind, n.source) for n in nics] == [("network", "lab")]
    assert domain_verdict(xml, {"lab": "isolated"}) == "guest-only"


def test_writable_disks_and_refusals() -> None:
    got = writable_disks(ET.fromstring(BASE))
    assert got == [
        ("vda", "file", "/images/web.img", "raw"),
        ("vdb", "block", "/dev/vg/data", "raw"),
    ]
    net = """<domain><devices><disk type='network' device='disk'>
      <source protocol='nbd' name='x'><host name='h'/></source><target dev='vda'/></disk>
      </devices></domain>"""
    with pytest.raises(ActionFailed, match="network disk"):
        writable_disks(ET.fromstring(net))


def test_marker_names_and_default_names() -> None:
    name = overlay_name(UUID, "vda")
    assert owner(name + ".qcow2") == UUID
    assert owner("vmtui-sandbox-not-a-uuid-vda") == "" and owner("base.qcow2") == ""
    assert overlay_name(UUID, "../x y").startswith(f"vmtui-sandbox-{UUID}-")
    assert "/" not in overlay_name(UUID, "../x y")
    assert sandbox_name("web", set()) == "web-sandbox"
    assert sandbox_name("web", {"web-sandbox", "web-sandbox2"}) == "web-sandbox3"
    assert sandbox_name("/images/deb.qcow2", set()) == "deb-sandbox"


def test_colon_sandbox_parses_base_name_and_network() -> None:
    from vmtui.core.commandline import CommandError, parse

    cmd = parse(":sandbox web box1 net=lab")
    assert (cmd.action, cmd.names, cmd.new_name, cmd.network) == (
        "sandbox",
        ("web",),
        "box1",
        "lab",
    )
    cmd = parse("sandbox /images/deb.qcow2")
    assert cmd.names == ("/images/deb.qcow2",) and cmd.new_name == "" and cmd.network == ""
    for bad in ("sandbox a b c", "sandbox a net=", "sandbox a net=x net=y"):
        with pytest.raises(CommandError):
            parse(bad)
