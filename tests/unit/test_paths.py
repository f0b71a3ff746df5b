"""Every path a domain's XML opens, and the verdict it earns: one fixture per path kind
(tests/data/paths/*.xml, small domains in the style of libvirt's qemuxml2argvdata), read
without Textual and without a libvirt connection; then the same fixtures defined on the test
driver and read back through the backend (read_isolation), as the view reads them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from tests.conftest import host_uri
from vmtui.backend import Hypervisor
from vmtui.backend.domxml import parse_domain
from vmtui.backend.isolation import exposure, read_isolation
from vmtui.backend.paths import HostPath
from vmtui.backend.verdict import VERDICTS, domain_verdict, nic_mode, verdict

DATA = Path(__file__).parent.parent / "data" / "paths"

# fixture -> (verdict, the row it must show: (what, leads to, mode))
PATH_ROWS: dict[str, tuple[str, tuple[str, str, str]]] = {
    # character devices
    "serial-tcp-any": (
        "listening",
        ("serial 0 (tcp)", "listens on 0.0.0.0:2445 (every address)", "network"),
    ),
    "serial-tcp-loopback": (
        "host-shared",
        ("serial 0 (tcp)", "listens on 127.0.0.1:4555", "local"),
    ),
    "serial-tcp-connect": ("remote", ("serial 0 (tcp)", "connects to 192.0.2.10:2445", "remote")),
    "serial-udp": ("listening", ("serial 0 (udp)", "connects to 192.0.2.7:2445", "remote")),
    "serial-dev": ("host-shared", ("serial 0 (dev)", "/dev/ttyS2", "host device")),
    "serial-file": ("host-shared", ("serial 0 (file)", "/tmp/serial.log", "host file")),
    "parallel-dev": ("host-shared", ("parallel 0 (dev)", "/dev/parport0", "host device")),
    "console-pipe": ("host-shared", ("console 0 (pipe)", "/tmp/console.pipe", "host file")),
    "channel-unix": (
        "host-shared",
        ("channel org.example.channel.0 (unix)", "listens on /tmp/channel.sock", "host socket"),
    ),
    "rng-egd-tcp": ("remote", ("rng 0 (tcp)", "connects to 192.0.2.50:1234", "remote")),
    # USB redirection
    "redirdev-spicevmc": (
        "host-shared",
        ("USB redirection 0 (spice)", "USB devices of the SPICE viewer's machine", "viewer USB"),
    ),
    "redirdev-tcp": (
        "remote",
        ("USB redirection 0 (tcp)", "connects to 192.0.2.20:4000", "remote"),
    ),
    "redirdev-unix": (
        "host-shared",
        ("USB redirection 0 (unix)", "connects to /tmp/usbredir.sock", "host socket"),
    ),
    # disks
    "disk-lun": (
        "host-shared",
        ("disk sda (lun)", "/dev/disk/by-path/pci-0000:00:07.0-scsi-0:0:0:0", "passthrough"),
    ),
    "disk-block": ("host-shared", ("disk vda", "/dev/HostVG/QEMUGuest1", "host device")),
    "disk-nvme": ("host-shared", ("disk vda", "nvme 0000:01:00.0 namespace 1", "host device")),
    "disk-dir": ("host-shared", ("disk hda", "/var/somefiles (as a FAT disk)", "host dir")),
    "disk-vhostuser": ("host-shared", ("disk vda", "/tmp/vhost-blk.sock", "host socket")),
    "disk-iscsi": (
        "remote",
        ("disk vda", "iscsi://example.org:6000/iqn.1992-01.com.example/1", "remote"),
    ),
    "disk-nbd": ("remote", ("disk vda", "nbd://example.org:6000", "remote")),
    "disk-nbd-unix": (
        "host-shared",
        ("disk vda", "nbd://unix:/var/run/nbdsock/bar", "host socket"),
    ),
    "disk-rbd": (
        "remote",
        ("disk vda", "rbd://mon1.example.org:6321/pool/image (+1 more)", "remote"),
    ),
    "disk-http": ("remote", ("disk hdc (cdrom)", "http://example.org:80/my-file.img", "remote")),
    # memory, cards, TPM, input, vsock
    "shmem": ("host-shared", ("shmem shmem0", "shared memory 'shmem0' (4 M)", "shared mem")),
    "shmem-doorbell": (
        "host-shared",
        ("shmem shmem1 server", "connects to /tmp/ivshmem_socket", "host socket"),
    ),
    "memory-nvdimm": ("host-shared", ("nvdimm 0", "/tmp/nvdimm", "host file")),
    "smartcard-host": (
        "host-shared",
        ("smartcard 0 (host)", "the host's card readers", "host device"),
    ),
    "smartcard-passthrough-tcp": (
        "remote",
        ("smartcard 0 (tcp)", "connects to 192.0.2.30:2001", "remote"),
    ),
    "tpm-passthrough": ("host-shared", ("TPM passthrough", "/dev/tpm0", "host device")),
    "input-evdev": ("host-shared", ("input evdev", "/dev/input/event1234", "host device")),
    "input-passthrough": (
        "host-shared",
        ("input passthrough", "/dev/input/event1234", "host device"),
    ),
    "vsock": ("host-shared", ("vsock", "host vsock services (CID 4)", "host socket")),
    # forwarded ports
    "nic-user-portforward": (
        "listening",
        ("port forward (tcp)", "listens on 0.0.0.0:2222→22 (every address)", "network"),
    ),
    # host devices: every one its own row, with where it is
    "hostdev-iscsi": (
        "host-shared",
        (
            "host scsi device",
            "iscsi://example.org:3260/iqn.1992-01.com.example:storage/1",
            "device",
        ),
    ),
    "hostdev-usb-twins": ("host-shared", ("host usb device", "0781:5567 bus 1 device 4", "device")),
    "hostdev-scsi-adapters": ("host-shared", ("host scsi device", "scsi_host1 0:0:0", "device")),
    # folders: the real source, the real driver
    "fs-virtiofs-socket": (
        "host-shared",
        ("folder mount_tag (virtiofs)", "virtiofsd socket /tmp/virtiofsd.sock", "share rw"),
    ),
    "lxc-fs-mount": ("host-shared", ("folder /srv/www (bind)", "/srv/www", "share ro")),
    "lxc-fs-block": ("host-shared", ("folder /mnt/block (bind)", "/dev/sda1", "share rw")),
    "lxc-fs-volume": ("host-shared", ("folder /mnt/vol (bind)", "pool/vol", "share rw")),
    "lxc-fs-ram": ("isolated", ("folder /mnt/ram (ram)", "RAM (1024 KiB)", "share rw")),
    # displays and the agent: listed, never counted
    "graphics-listen-default": ("isolated", ("vnc display", "default (local)", "local")),
    "graphics-listen-any": ("isolated", ("vnc display", "0.0.0.0:5903", "network")),
    "agent-only": ("isolated", ("guest agent", "channel to the host", "host->guest")),
}

# NIC fixtures -> (verdict, (kind, shown source, mode))
NIC_ROWS: dict[str, tuple[str, tuple[str, str, str]]] = {
    "nic-vhostuser": ("unknown", ("vhostuser", "/tmp/vhost0.sock", "unknown")),
    "nic-server": ("listening", ("server", "0.0.0.0:5558", "listening")),
    "nic-mcast": ("LAN-bridged", ("mcast", "230.144.17.1:5558", "multicast")),
    "nic-udp": ("remote", ("udp", "192.0.2.40:5555", "remote")),
    "nic-user-portforward": ("listening", ("user", "", "user")),
}


def _xml(name: str) -> str:
    return (DATA / f"{name}.xml").read_text()


def _rows(paths: tuple[HostPath, ...]) -> list[tuple[str, str, str]]:
    return [(p.what, p.to, p.mode) for p in paths]


def test_every_fixture_is_in_the_table() -> None:
    names = {p.stem for p in DATA.glob("*.xml")}
    assert names == set(PATH_ROWS) | set(NIC_ROWS)


@pytest.mark.parametrize("name", sorted(PATH_ROWS))
def test_each_path_kind_earns_its_verdict_and_names_where_it_leads(name: str) -> None:
    want_verdict, want_row = PATH_ROWS[name]
    xml = _xml(name)
    assert domain_verdict(xml, {}) == want_verdict
    cfg = parse_domain(xml)
    assert want_row in _rows(cfg.paths)
    assert exposure(cfg, {}).verdict == want_verdict


@pytest.mark.parametrize("name", sorted(NIC_ROWS))
def test_each_socket_and_backend_nic_shows_its_real_source(name: str) -> None:
    want_verdict, (kind, source, mode) = NIC_ROWS[name]
    xml = _xml(name)
    nic = parse_domain(xml).nics[0]
    assert (nic.kind, nic.source, nic_mode(nic, {})) == (kind, source, mode)
    assert domain_verdict(xml, {}) == want_verdict


def test_identical_devices_are_separate_paths() -> None:
    usb = parse_domain(_xml("hostdev-usb-twins"))
    assert [p.to for p in usb.paths] == ["0781:5567 bus 1 device 3", "0781:5567 bus 1 device 4"]
    scsi = parse_domain(_xml("hostdev-scsi-adapters"))
    assert [p.to for p in scsi.paths] == ["scsi_host0 0:0:0", "scsi_host1 0:0:0"]
    iscsi = parse_domain(_xml("hostdev-iscsi"))
    assert iscsi.hostdevs[0].address  # not "" (every iSCSI device had the same empty key)


def test_a_listen_element_without_an_address_is_the_local_default() -> None:
    cfg = parse_domain(_xml("graphics-listen-default"))
    assert cfg.graphics[0].listen == ""
    from vmtui.backend.verdict import graphics_exposed

    assert not graphics_exposed(cfg.graphics[0])
    assert graphics_exposed(parse_domain(_xml("graphics-listen-any")).graphics[0])


def test_the_worst_path_wins_whatever_the_nics_say() -> None:
    def hp(word: str) -> HostPath:
        return HostPath("serial", "serial 0 (tcp)", "x", "m", word)

    # a loopback serial port on a NAT guest: not "NAT — nothing reaches in"
    assert verdict(["NAT"], [], [], [hp("host-shared")]) == "host-shared"
    assert verdict(["bridge"], [], [], [hp("listening")]) == "listening"
    assert verdict(["NAT"], [], [], [hp("remote")]) == "remote"
    assert verdict(["routed"], [], [], [hp("remote")]) == "routed"
    assert verdict([], [], [], [hp("")]) == "isolated"  # a display or the agent: not a path
    assert VERDICTS.index("listening") < VERDICTS.index("LAN-bridged")
    assert VERDICTS.index("remote") < VERDICTS.index("NAT")


def test_sources_shown_for_disks_nics_and_folders_are_the_real_ones() -> None:
    disks = {n: parse_domain(_xml(n)).disks[0].source for n in ("disk-nvme", "disk-vhostuser")}
    assert disks == {
        "disk-nvme": "nvme 0000:01:00.0 namespace 1",
        "disk-vhostuser": "/tmp/vhost-blk.sock",
    }
    assert parse_domain(_xml("disk-http")).disks[0].source == "http://example.org:80/my-file.img"
    assert parse_domain(_xml("disk-nbd")).disks[0].source == "nbd://example.org:6000"
    folders = {
        n: parse_domain(_xml(n)).shared_folders[0]
        for n in ("fs-virtiofs-socket", "lxc-fs-ram", "lxc-fs-block", "lxc-fs-volume")
    }
    assert folders["fs-virtiofs-socket"].source == "virtiofsd socket /tmp/virtiofsd.sock"
    assert folders["lxc-fs-ram"].source == "RAM (1024 KiB)"
    assert folders["lxc-fs-block"].source == "/dev/sda1"
    assert folders["lxc-fs-volume"].source == "pool/vol"
    # no driver on an LXC guest: a bind mount, not 9p
    assert parse_domain(_xml("lxc-fs-mount")).shared_folders[0].driver == "bind"


# ---------------------------------------------------------------- on the test driver
@pytest.fixture(scope="module")
def defined() -> Iterator[tuple[Hypervisor, dict[str, str]]]:
    """Every fixture defined on one test-driver host (as a 'test' domain)."""
    hv = Hypervisor(host_uri("isolation_host"))
    hv.connect()
    conn = hv.writable_conn()
    uuids: dict[str, str] = {}
    for path in sorted(DATA.glob("*.xml")):
        xml = path.read_text()
        for kind in ("qemu", "lxc"):
            xml = xml.replace(f"<domain type='{kind}'>", "<domain type='test'>")
        try:
            uuids[path.stem] = conn.defineXML(xml).UUIDString()
        except libvirt.libvirtError as err:  # pragma: no cover - says which fixture
            raise AssertionError(f"{path.name}: {err}") from None
    yield hv, uuids
    hv.close()


@pytest.mark.parametrize("name", sorted(PATH_ROWS))
def test_the_backend_reads_the_same_paths_from_the_driver(
    defined: tuple[Hypervisor, dict[str, str]], name: str
) -> None:
    hv, uuids = defined
    want_verdict, want_row = PATH_ROWS[name]
    report = read_isolation(hv, uuids[name])
    assert report.current.verdict == want_verdict
    if name.startswith("lxc-"):  # defined as a 'test' domain: its folders' default driver is 9p
        assert want_row[1:] in [r[1:] for r in _rows(report.current.paths)]
    else:
        assert want_row in _rows(report.current.paths)


def test_the_poll_gives_every_fixture_its_verdict(
    defined: tuple[Hypervisor, dict[str, str]],
) -> None:
    hv, _uuids = defined
    found = {g.name: g.isolation for g in hv.poll().guests}
    for name, (want, _row) in {**PATH_ROWS, **NIC_ROWS}.items():
        assert found[name] == want, name


def test_hostdev_and_ethernet_nics_show_where_they_lead() -> None:
    cfg = parse_domain(
        "<domain type='qemu'><name>n</name><devices>"
        "<interface type='hostdev' managed='yes'><mac address='52:54:00:6d:90:02'/>"
        "<source><address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>"
        "</source></interface>"
        "<interface type='ethernet'><mac address='52:54:00:6d:90:03'/>"
        "<target dev='mytap0' managed='no'/></interface>"
        "</devices></domain>"
    )
    assert [(n.kind, n.source) for n in cfg.nics] == [
        ("hostdev", "0000:00:07.0"),
        ("ethernet", "mytap0"),
    ]
    assert [nic_mode(n, {}) for n in cfg.nics] == ["hostdev", "unknown"]


def test_vhost_scsi_and_mdev_host_devices_say_which() -> None:
    cfg = parse_domain(
        "<domain type='kvm'><name>h</name><devices>"
        "<hostdev mode='subsystem' type='scsi_host'>"
        "<source protocol='vhost' wwpn='naa.50014057667280d8'/></hostdev>"
        "<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source>"
        "<address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>"
        "</devices></domain>"
    )
    assert [(d.kind, d.address) for d in cfg.hostdevs] == [
        ("scsi_host", "wwpn naa.50014057667280d8"),
        ("mdev", "mdev c2177883-f1bb-47f0-914d-32a22e3a8804"),
    ]


def test_a_console_mirroring_the_serial_port_is_one_path_not_two() -> None:
    # as in libvirt's serial-tcp-telnet-chardev test: a console with no target type
    cfg = parse_domain(
        "<domain type='qemu'><name>c</name><devices>"
        "<serial type='tcp'><source mode='bind' host='127.0.0.1' service='9999'/>"
        "<protocol type='telnet'/><target port='0'/></serial>"
        "<console type='tcp'><source mode='bind' host='127.0.0.1' service='9999'/>"
        "<protocol type='telnet'/><target port='0'/></console>"
        "</devices></domain>"
    )
    assert _rows(cfg.paths) == [("serial 0 (tcp)", "listens on 127.0.0.1:9999", "local")]
    # a virtio console is a device of its own
    virtio = parse_domain(
        "<domain type='qemu'><name>c</name><devices>"
        "<console type='file'><source path='/tmp/c.log'/><target type='virtio'/></console>"
        "</devices></domain>"
    )
    assert _rows(virtio.paths) == [("console 0 (file)", "/tmp/c.log", "host file")]


def test_passt_forwards_and_a_network_disk_without_servers() -> None:
    # shaped like libvirt's net-user-passt and disk-network-rbd tests
    cfg = parse_domain(
        "<domain type='qemu'><name>p</name><devices>"
        "<disk type='network' device='disk'><driver name='qemu' type='raw'/>"
        "<source protocol='rbd' name='pool/image'><config file='/blah/test.conf'/></source>"
        "<target dev='vda' bus='virtio'/></disk>"
        "<interface type='user'><mac address='00:11:22:33:44:55'/>"
        "<portForward proto='tcp' address='2001:db8:ac10:fd01::1:10'>"
        "<range start='22' to='2022'/><range start='1000' end='1050'/>"
        "<range start='1020' exclude='yes'/></portForward>"
        "<portForward proto='tcp' address='127.0.0.1'><range start='80'/></portForward>"
        "<backend type='passt'/></interface>"
        "</devices></domain>"
    )
    assert _rows(cfg.paths) == [
        ("disk vda", "rbd pool/image (servers from its configuration)", "remote"),
        (
            "port forward (tcp)",
            "listens on [2001:db8:ac10:fd01::1:10]:22→2022,1000-1050,^1020",
            "network",
        ),
        ("port forward (tcp)", "listens on 127.0.0.1:80", "local"),
    ]
    assert [p.ref for p in cfg.paths[1:]] == ["00:11:22:33:44:55"] * 2
