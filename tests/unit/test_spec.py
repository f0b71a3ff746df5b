"""GuestSpec: its checks, the domain XML it builds (accepted by libvirt's test driver), and
the virt-install line that does the same."""

from __future__ import annotations

import shlex
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import libvirt
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import host_uri
from vmtui.backend.devices import InvalidInput, NicSpec, RiskyPath, SharedFolderSpec
from vmtui.backend.spec import (
    CloudInitSpec,
    DiskSpec,
    GuestSpec,
    InstallSpec,
    build_domain_xml,
    command_line,
    virt_install_command,
)

ISO = InstallSpec(kind="iso", media_path="/srv/iso/debian.iso")
KERNEL = InstallSpec(kind="kernel", kernel="/boot/vmlinuz", initrd="/boot/initrd", cmdline="ro")


@pytest.fixture(scope="module")
def conn() -> Iterator[Any]:
    c = libvirt.open(host_uri("small_host"))
    yield c
    c.close()


def taken(conn: Any) -> set[str]:
    return {d.name() for d in conn.listAllDomains(0)}


def define_and_read(conn: Any, spec: GuestSpec) -> ET.Element:
    """Define the spec's XML on the test driver, read the domain back, undefine it."""
    dom = conn.defineXML(build_domain_xml(spec))
    try:
        return ET.fromstring(dom.XMLDesc(0))
    finally:
        dom.undefine()


# ---------------------------------------------------------------- properties

# Half the time any text at all; half the time text that is likely to be a usable name
# (markup, quotes, ampersands, non-Latin letters, emoji...), so both branches are exercised.
likely = st.text(
    alphabet=st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40
).filter(lambda s: s == s.strip() and "/" not in s and not s.startswith("."))
texts = st.one_of(st.text(max_size=40), likely)
disks = st.builds(
    DiskSpec,
    kind=st.sampled_from(["new", "volume", "path"]),
    pool=st.sampled_from(["default", "pool two"]),
    volume=st.sampled_from(["", "base.qcow2", "data.img"]),
    path=st.sampled_from(["/var/lib/img/a.qcow2", "/srv/b.raw"]),
    size_gib=st.sampled_from([0.5, 1.0, 20.0]),
    fmt=st.sampled_from(["qcow2", "raw", ""]),
    bus=st.sampled_from(["virtio", "sata", "scsi"]),
)
nics = st.builds(
    NicSpec,
    kind=st.sampled_from(["network", "bridge", "direct", "user", "none"]),
    source=st.sampled_from(["isolated", "br0", "eth0"]),
    model=st.sampled_from(["virtio", "e1000e", "rtl8139"]),
)
shares = st.builds(
    SharedFolderSpec,
    source=st.sampled_from(["/tmp", "/var/tmp"]),
    tag=st.sampled_from(["share", "data"]),
    driver=st.sampled_from(["9p", "virtiofs"]),
    readonly=st.booleans(),
)
installs = st.one_of(
    st.just(ISO),
    st.just(InstallSpec(kind="iso", media_pool="default", media_volume="x.iso")),
    st.just(KERNEL),
    st.just(InstallSpec(kind="import")),
    st.just(InstallSpec(kind="pxe")),
    st.just(InstallSpec(kind="cloud", seed_pool="default", cloud=CloudInitSpec(hostname="h"))),
)
specs = st.builds(
    GuestSpec,
    name=texts,
    title=texts,
    description=st.text(max_size=80),
    memory_mib=st.integers(16, 8192),
    max_memory_mib=st.sampled_from([0, 8192, 100]),
    vcpus=st.integers(1, 4),
    max_vcpus=st.sampled_from([0, 4, 16]),
    cpu_mode=st.sampled_from(["host-model", "host-passthrough", "custom"]),
    cpu_model=st.sampled_from(["", "Skylake-Client", "qemu64"]),
    domain_type=st.sampled_from(["kvm", "qemu"]),
    firmware=st.sampled_from(["bios", "uefi"]),
    install=installs,
    disks=st.lists(disks, max_size=3).map(tuple),
    nics=st.lists(nics, max_size=2).map(tuple),
    shares=st.lists(shares, max_size=2, unique_by=lambda s: s.tag).map(tuple),
    graphics=st.sampled_from(["none", "vnc", "spice"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs)
def test_any_spec_is_refused_with_a_sentence_or_accepted_by_libvirt(
    conn: Any, spec: GuestSpec
) -> None:
    try:
        valid = spec.validate(taken(conn))
    except InvalidInput as err:
        event("refused")
        assert err.message.endswith(".") and "Traceback" not in err.message
        return
    event("defined")
    back = define_and_read(conn, valid)
    assert back.findtext("name") == spec.name
    assert (back.findtext("title") or "") == spec.title
    expected = spec.description.replace("\r\n", "\n").replace("\r", "\n")
    assert (back.findtext("description") or "") == expected
    assert back.find("devices/serial") is not None
    assert back.find("devices/console/target").get("type") == "serial"  # type: ignore[union-attr]
    # The virt-install line is one valid shell line that names the same guest.
    words = shlex.split(command_line(valid).split(" && ")[-1])
    assert words[words.index("--name") + 1] == spec.name


@settings(max_examples=200, deadline=None)
@given(name=st.one_of(st.text(min_size=1, max_size=30), likely))
def test_names_with_any_characters_round_trip_or_are_refused(conn: Any, name: str) -> None:
    spec = GuestSpec(name=name, title=name.replace("\n", " "), install=KERNEL)
    problem = spec.problem(taken(conn))
    if problem is not None:
        event("refused")
        assert problem.endswith(".")
        return
    event("defined")
    back = define_and_read(conn, spec)
    assert back.findtext("name") == name
    assert back.findtext("title") == spec.title


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("spec", "sentence"),
    [
        (GuestSpec(name=""), "Give the guest a name."),
        # the one rule for guest names (core/names.py), said the same way everywhere
        (GuestSpec(name="a/b"), "The guest name 'a/b' cannot be used: a guest name is 1 to"),
        (GuestSpec(name=" web"), "The guest name ' web' cannot be used: a guest name is"),
        (GuestSpec(name="a\nb"), "The guest name 'a\\nb' cannot be used: a guest name is 1"),
        (GuestSpec(name="web <&>"), "The guest name 'web <&>' cannot be used: a guest name"),
        (GuestSpec(name="web", title="a\nb"), "The title must be one line"),
        (GuestSpec(name="web", memory_mib=4), "Memory must be between 16 MiB and 16 TiB."),
        (
            GuestSpec(name="web", memory_mib=2048, max_memory_mib=1024, install=ISO),
            "The maximum memory (1024 MiB) is below the memory (2048 MiB).",
        ),
        (
            GuestSpec(name="web", vcpus=4, max_vcpus=2, install=ISO),
            "The maximum vCPUs (2) must be at least the vCPUs (4).",
        ),
        (GuestSpec(name="web", install=InstallSpec(kind="iso")), "The ISO path is empty."),
        (
            GuestSpec(name="web", install=InstallSpec(kind="kernel", kernel="vmlinuz")),
            "The kernel path vmlinuz is relative",
        ),
        (
            GuestSpec(name="web", install=InstallSpec(kind="import")),
            "Importing needs the existing disk image",
        ),
        (
            GuestSpec(
                name="web", install=InstallSpec(kind="import"), disks=(DiskSpec("new", "p"),)
            ),
            "The first disk must be the existing image",
        ),
        (GuestSpec(name="web", install=InstallSpec(kind="pxe")), "Network boot needs a network"),
        (
            GuestSpec(name="web", install=ISO, disks=(DiskSpec("new", "p", size_gib=0),)),
            "Disk 1: the size must be more than 0",
        ),
        (GuestSpec(name="web", install=ISO, disks=(DiskSpec("new", ""),)), "Disk 1: choose the"),
        (
            GuestSpec(name="web", install=ISO, cpu_mode="custom", cpu_model="bad model"),
            "'bad model' is not a CPU model name",
        ),
        (
            GuestSpec(name="web", install=ISO, nics=(NicSpec("network", ""),)),
            "Choose the libvirt network to attach to.",
        ),
        (
            GuestSpec(
                name="web",
                install=InstallSpec(
                    kind="cloud", seed_pool="p", cloud=CloudInitSpec(password="secret")
                ),
                disks=(DiskSpec("volume", "p", "img.qcow2"),),
            ),
            "Give the user name the password or SSH key is for.",
        ),
    ],
)
def test_validation_says_what_is_wrong(spec: GuestSpec, sentence: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        spec.validate()
    assert caught.value.message.startswith(sentence)


def test_a_name_taken_on_the_host_is_refused(conn: Any) -> None:
    with pytest.raises(InvalidInput, match=r"A guest called alpha already exists on this host\."):
        GuestSpec(name="alpha", install=ISO).validate(taken(conn))


def test_a_risky_shared_folder_needs_consent() -> None:
    spec = GuestSpec(name="web", install=ISO, shares=(SharedFolderSpec("/etc", "etc"),))
    with pytest.raises(RiskyPath) as caught:
        spec.validate()
    assert "the host's configuration" in caught.value.message
    assert spec.validate(allow_risky=True).shares[0].source == "/etc"


# ---------------------------------------------------------------- XML details


def test_xml_for_a_direct_kernel_boot_guest(conn: Any) -> None:
    spec = GuestSpec(
        name="tiny",
        memory_mib=128,
        max_memory_mib=256,
        vcpus=1,
        max_vcpus=2,
        domain_type="qemu",
        install=KERNEL,
        shares=(SharedFolderSpec("/tmp", "tmp", driver="virtiofs"),),
        graphics="vnc",
    ).validate()
    back = define_and_read(conn, spec)
    assert back.get("type") == "qemu"
    assert back.findtext("os/kernel") == "/boot/vmlinuz"
    assert back.findtext("os/initrd") == "/boot/initrd"
    assert back.findtext("os/cmdline") == "ro"
    assert back.findtext("memory") == str(256 * 1024)
    assert back.findtext("currentMemory") == str(128 * 1024)
    assert back.findtext("vcpu") == "2" and back.find("vcpu").get("current") == "1"  # type: ignore[union-attr]
    assert back.find("memoryBacking/access").get("mode") == "shared"  # type: ignore[union-attr]
    graphics = back.find("devices/graphics")
    assert graphics is not None and graphics.get("type") == "vnc"
    assert graphics.get("listen") == "127.0.0.1"
    fs = back.find("devices/filesystem")
    assert fs is not None and fs.find("readonly") is not None


def test_disks_get_targets_per_bus_and_the_iso_is_a_readonly_cdrom() -> None:
    spec = GuestSpec(
        name="web",
        install=ISO,
        disks=(
            DiskSpec("new", "default", bus="virtio"),
            DiskSpec("new", "default", bus="virtio", fmt="raw"),
            DiskSpec("path", path="/srv/data.raw", bus="scsi", fmt=""),
        ),
    ).validate()
    dom = ET.fromstring(build_domain_xml(spec))
    targets = [
        (d.get("device"), t.get("dev"), t.get("bus"))
        for d in dom.iter("disk")
        for t in d.iter("target")
    ]
    assert targets == [
        ("disk", "vda", "virtio"),
        ("disk", "vdb", "virtio"),
        ("disk", "sda", "scsi"),
        ("cdrom", "sdb", "sata"),
    ]
    sources = [d.find("source").attrib for d in dom.iter("disk")]  # type: ignore[union-attr]
    assert sources[0] == {"pool": "default", "volume": "web.qcow2"}
    assert sources[1] == {"pool": "default", "volume": "web-1.img"}
    assert sources[3] == {"file": "/srv/iso/debian.iso"}
    cdrom = list(dom.iter("disk"))[3]
    assert cdrom.find("readonly") is not None
    assert [b.get("dev") for b in dom.iter("boot")] == ["cdrom", "hd"]
    assert dom.find("devices/controller").get("model") == "virtio-scsi"  # type: ignore[union-attr]


def test_virt_install_line_matches_the_spec() -> None:
    spec = GuestSpec(
        name="web.prod",  # guest names have no commas (core/names.py); titles may
        title="a, b",
        memory_mib=1024,
        max_memory_mib=2048,
        vcpus=2,
        max_vcpus=4,
        cpu_mode="host-passthrough",
        firmware="uefi",
        install=ISO,
        disks=(DiskSpec("new", "default", size_gib=1),),
        nics=(NicSpec("network", "isolated"),),
        graphics="spice",
        start=False,
    ).validate()
    line = command_line(spec, "qemu:///system")
    vol, install = line.split(" && ")
    assert shlex.split(vol) == [
        "virsh", "-c", "qemu:///system", "vol-create-as", "default", "web.prod.qcow2",
        f"{1024**3}B", "--format", "qcow2",
    ]  # fmt: skip
    words = virt_install_command(spec, "qemu:///system")
    assert install.startswith(shlex.join(words))
    assert install.endswith("| virsh -c qemu:///system define /dev/stdin")
    pairs = dict(zip(words[1::2], words[2::2], strict=False))
    assert words[words.index("--name") + 1] == "web.prod"
    assert "title=a,, b" in words  # commas doubled inside virt-install options
    assert "memory=2048,currentMemory=1024" in words
    assert "2,maxvcpus=4" in words
    assert pairs.get("--cpu") == "host-passthrough" or "host-passthrough" in words
    assert "uefi" in words and "--cdrom" in words
    assert "network=isolated,model=virtio" in words
    assert "spice,listen=127.0.0.1" in words
    assert "--print-xml" in words
