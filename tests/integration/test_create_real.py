"""Creating guests on the real daemon: direct kernel boot (boots, console answers), importing a
qcow2 made by qemu-img, cloud-init seed upload, and creates that fail midway leave nothing."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import libvirt
import pytest

from vmtui.backend import Hypervisor
from vmtui.backend import create as create_mod
from vmtui.backend.cloudinit import read_seed_iso
from vmtui.backend.create import CreateFailed, create_guest, host_choices
from vmtui.backend.devices import InvalidInput
from vmtui.backend.spec import CloudInitSpec, DiskSpec, GuestSpec, InstallSpec

from .helpers import pool_path
from .tinyguest import ConsoleReader, TinyGuest

URI = "qemu:///system"


def volumes(pool: Any) -> list[str]:
    pool.refresh(0)
    return sorted(v.name() for v in pool.listAllVolumes(0))


def defined(conn: Any, name: str) -> bool:
    try:
        conn.lookupByName(name)
    except libvirt.libvirtError:
        return False
    return True


def kernel_spec(name: str, tiny: TinyGuest, **kw: Any) -> GuestSpec:
    return GuestSpec(
        name=name,
        title="made by vmtui's create test",
        memory_mib=128,
        domain_type="qemu",
        cpu_mode="custom",
        cpu_model="qemu64",
        install=InstallSpec(
            kind="kernel",
            kernel=str(tiny.kernel),
            initrd=str(tiny.initrd),
            cmdline="console=ttyS0 quiet panic=-1",
        ),
        **kw,
    )


def test_host_choices_read_pools_and_kvm(hv: Hypervisor, pool: Any) -> None:
    choices = host_choices(hv)
    names = [p.name for p in choices.pools]
    assert pool.name() in names
    assert choices.default_domain_type in ("kvm", "qemu")
    assert choices.default_domain_type == ("kvm" if choices.kvm else "qemu")


def test_direct_kernel_boot_with_a_new_volume_boots_and_its_console_answers(
    hv: Hypervisor,
    libvirt_conn: Any,
    pool: Any,
    tiny_guest_files: TinyGuest,
    guest_names: Callable[[str], str],
) -> None:
    name = guest_names("create-kernel")
    steps: list[str] = []
    spec = kernel_spec(
        name, tiny_guest_files, disks=(DiskSpec("new", pool.name(), size_gib=0.0625),)
    )
    result = create_guest(hv, spec, steps.append)
    assert result.started and result.name == name
    assert volumes(pool) == [f"{name}.qcow2"]
    assert steps[0] == "Checking the settings…"
    assert steps[-1] == f"Starting guest {name}…"
    dom = libvirt_conn.lookupByName(name)
    assert dom.isActive()
    assert dom.UUIDString() == result.uuid
    back = ET.fromstring(dom.XMLDesc(0))
    assert back.findtext("title") == "made by vmtui's create test"
    with ConsoleReader.open(dom, force=True) as console:
        console.write("\n")
        output = ""
        for _ in range(30):  # the guest may still be booting; ask until the shell answers
            try:
                output = console.run("echo $((6*7))", timeout=5)
                break
            except TimeoutError:
                continue
        assert output.strip() == "42", console.text[-2000:]


def test_import_a_qcow2_made_by_qemu_img(
    hv: Hypervisor, libvirt_conn: Any, pool: Any, guest_names: Callable[[str], str]
) -> None:
    path = pool_path(pool) / "base.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "64M"], check=True)
    pool.refresh(0)
    name = guest_names("create-import")
    spec = GuestSpec(
        name=name,
        domain_type="qemu",
        install=InstallSpec(kind="import"),
        disks=(DiskSpec("volume", pool.name(), "base.qcow2", fmt=""),),
        start=False,
    )
    result = create_guest(hv, spec)
    assert not result.started and result.volumes == ()
    dom = libvirt_conn.lookupByName(name)
    assert not dom.isActive()
    disk = ET.fromstring(dom.XMLDesc(0)).find("devices/disk")
    assert disk is not None
    assert disk.find("driver").get("type") == "qcow2"  # type: ignore[union-attr]  # read from the volume
    assert disk.find("source").attrib == {"pool": pool.name(), "volume": "base.qcow2"}  # type: ignore[union-attr]
    assert volumes(pool) == ["base.qcow2"]


def test_invalid_xml_after_the_volume_step_leaves_no_volume(
    hv: Hypervisor,
    libvirt_conn: Any,
    pool: Any,
    tiny_guest_files: TinyGuest,
    guest_names: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = guest_names("create-badxml")
    monkeypatch.setattr(create_mod, "build_domain_xml", lambda _spec: "<domain type='qemu'><nam")
    spec = kernel_spec(name, tiny_guest_files, disks=(DiskSpec("new", pool.name(), size_gib=1),))
    with pytest.raises(CreateFailed) as caught:
        create_guest(hv, spec)
    assert caught.value.step == "define the guest"
    message = caught.value.message
    assert message.startswith(f"Could not create guest {name}: the step 'define the guest' failed")
    assert f"Removed what this create had made: volume {name}.qcow2." in message
    assert volumes(pool) == []
    assert not defined(libvirt_conn, name)


def test_a_too_big_second_volume_removes_the_first(
    hv: Hypervisor,
    libvirt_conn: Any,
    pool: Any,
    tiny_guest_files: TinyGuest,
    guest_names: Callable[[str], str],
) -> None:
    name = guest_names("create-toobig")
    disks = (
        DiskSpec("new", pool.name(), size_gib=1),
        DiskSpec("new", pool.name(), size_gib=1024 * 1024, fmt="raw"),  # 1 PiB: no file system
    )
    with pytest.raises(CreateFailed) as caught:
        create_guest(hv, kernel_spec(name, tiny_guest_files, disks=disks))
    assert caught.value.step == f"create volume {name}-1.img in pool {pool.name()}"
    assert f"volume {name}.qcow2" in caught.value.message
    assert volumes(pool) == []
    assert not defined(libvirt_conn, name)


def test_a_guest_that_cannot_start_is_undefined_and_its_volume_removed(
    hv: Hypervisor,
    libvirt_conn: Any,
    pool: Any,
    qemu_dir: Path,
    guest_names: Callable[[str], str],
) -> None:
    name = guest_names("create-nostart")
    spec = GuestSpec(
        name=name,
        memory_mib=64,
        domain_type="qemu",
        cpu_mode="custom",
        cpu_model="no-such-cpu-model",  # passes our checks, QEMU refuses it at start
        install=InstallSpec(kind="pxe"),
        nics=(),
        disks=(DiskSpec("new", pool.name(), size_gib=0.0625),),
    )
    # PXE needs a NIC; check that sentence first, then boot from the disk instead.
    with pytest.raises(InvalidInput, match="Network boot needs a network card"):
        create_guest(hv, spec)
    spec = GuestSpec(**{**spec.__dict__, "install": InstallSpec(kind="import")})
    with pytest.raises(InvalidInput, match="The first disk must be the existing image"):
        create_guest(hv, spec)
    assert volumes(pool) == []
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "raw", str(qemu_dir / "boot.img"), "1M"], check=True
    )
    spec = GuestSpec(
        **{
            **spec.__dict__,
            "disks": (
                DiskSpec("path", path=str(qemu_dir / "boot.img"), fmt="raw"),
                DiskSpec("new", pool.name(), size_gib=0.0625),
            ),
        }
    )
    with pytest.raises(CreateFailed) as caught:
        create_guest(hv, spec)
    assert caught.value.step == "start the guest"
    assert "no-such-cpu-model" in caught.value.message
    assert "its definition" in caught.value.message
    assert volumes(pool) == []
    assert not defined(libvirt_conn, name)


def test_an_existing_volume_of_the_same_name_is_never_touched(
    hv: Hypervisor, pool: Any, tiny_guest_files: TinyGuest, guest_names: Callable[[str], str]
) -> None:
    name = guest_names("create-clash")
    spec = kernel_spec(name, tiny_guest_files, disks=(DiskSpec("new", pool.name(), size_gib=1),))
    el = ET.Element("volume")
    ET.SubElement(el, "name").text = f"{name}.qcow2"
    ET.SubElement(el, "capacity").text = "1048576"
    pool.createXML(ET.tostring(el, encoding="unicode"), 0)
    with pytest.raises(InvalidInput, match="already has a volume called"):
        create_guest(hv, spec)
    assert volumes(pool) == [f"{name}.qcow2"]


def test_cloud_init_seed_is_uploaded_as_a_volume_and_reads_back(
    hv: Hypervisor,
    libvirt_conn: Any,
    pool: Any,
    guest_names: Callable[[str], str],
) -> None:
    path = pool_path(pool) / "cloud.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "64M"], check=True)
    pool.refresh(0)
    name = guest_names("create-cloud")
    spec = GuestSpec(
        name=name,
        domain_type="qemu",
        install=InstallSpec(
            kind="cloud",
            seed_pool=pool.name(),
            cloud=CloudInitSpec(hostname="web1", user="alice", ssh_key="ssh-ed25519 AAAAC3 a@b"),
        ),
        disks=(DiskSpec("volume", pool.name(), "cloud.qcow2", fmt=""),),
        start=False,
    )
    result = create_guest(hv, spec)
    seed = next(p for p in result.volumes if p.endswith("-cidata.iso"))
    files = read_seed_iso(Path(seed).read_bytes())
    assert files["label"] == b"cidata"
    assert b'"local-hostname": "web1"' in files["meta-data"]
    assert files["user-data"].startswith(b"#cloud-config\n")
    assert b"ssh-ed25519 AAAAC3 a@b" in files["user-data"]
    cdrom = [
        d
        for d in ET.fromstring(libvirt_conn.lookupByName(name).XMLDesc(0)).iter("disk")
        if d.get("device") == "cdrom"
    ]
    assert cdrom[0].find("source").get("volume") == f"{spec.file_stem}-cidata.iso"  # type: ignore[union-attr]


# ---------------------------------------------------------------- through the wizard


async def _type_into(pilot: Any, screen: Any, field: str, text: str) -> None:
    from textual.widgets import Input

    box = screen.query_one(f"#{field}", Input)
    box.focus()
    await pilot.press("ctrl+u", "end", "ctrl+k")
    for ch in text:
        await pilot.press(ch)
    assert box.value == text


async def _pick(pilot: Any, screen: Any, field: str, value: str) -> None:
    """Choose an option of a Select with the keyboard: open it, move down to it, enter."""
    from textual.widgets import Select

    select = screen.query_one(f"#{field}", Select)
    select.focus()
    for _ in range(8):
        if select.value == value:
            return
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("down", "enter")
        await pilot.pause()
    raise AssertionError(f"could not choose {value} in {field}: it shows {select.value}")


async def test_wizard_creates_the_tiny_guest_by_kernel_boot_and_its_console_answers(
    libvirt_conn: Any,
    pool: Any,
    tiny_guest_files: TinyGuest,
    guest_names: Callable[[str], str],
) -> None:
    from vmtui.app import VmtuiApp
    from vmtui.screens.create import CreateScreen
    from vmtui.screens.dashboard import DashboardScreen

    from .helpers import wait_for
    from .test_console_real import _open_console, _select, _type

    name = guest_names("wizard")
    app = VmtuiApp(URI, interval=0.5)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, what="first poll")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, CreateScreen), what="wizard")
        screen = app.screen
        assert isinstance(screen, CreateScreen)
        await wait_for(pilot, lambda: screen.choices is not None, what="host choices")
        await _type_into(pilot, screen, "name", name)
        await _type_into(pilot, screen, "memory", "128")
        await _pick(pilot, screen, "domain-type", "qemu")  # TCG: runs wherever QEMU does
        await pilot.press("ctrl+n")
        assert screen.error_text == ""
        await _pick(pilot, screen, "install-kind", "kernel")
        await _type_into(pilot, screen, "kernel", str(tiny_guest_files.kernel))
        await _type_into(pilot, screen, "initrd", str(tiny_guest_files.initrd))
        await _type_into(pilot, screen, "cmdline", "console=ttyS0 quiet panic=-1")
        await pilot.press("ctrl+n")  # disks: a small new volume in the test pool
        await _pick(pilot, screen, "disk-pool", pool.name())
        await _type_into(pilot, screen, "disk-size", "64M")
        await pilot.click("#add-disk")
        assert [d.pool for d in screen.disks] == [pool.name()], screen.error_text
        await pilot.press("ctrl+n", "ctrl+n", "ctrl+n", "ctrl+n")  # network, shares, graphics
        await wait_for(pilot, lambda: screen.spec is not None, what="review")
        assert screen.error_text == ""
        await pilot.press("ctrl+n")  # create
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, DashboardScreen),
            what="created",
            describe=lambda: screen.error_text,
        )
        assert volumes(pool) == [f"{name}.qcow2"]
        logged = next(e for e in app.activity if e.kind == "action")
        assert logged.ok and logged.outcome == f"Created guest {name} and started it."
        assert f"vol-create-as {pool.name()} {name}.qcow2 67108864B" in logged.text
        assert f"virt-install --connect {URI} --name {name}" in logged.text
        dom = libvirt_conn.lookupByName(name)
        assert ET.fromstring(dom.XMLDesc(0)).get("type") == "qemu"
        uuid = await _select(pilot, app, name)
        await wait_for(
            pilot,
            lambda: any(g.uuid == uuid and g.is_active for g in app.snapshot.guests),  # type: ignore[union-attr]
            what="running",
        )
        await _open_console(pilot, app, uuid)
        emu = app.consoles[uuid].emulator
        for _ in range(60):  # TCG on a busy machine: the shell may take a while to come up
            await pilot.press("enter")
            await pilot.pause(2)
            if "tiny#" in emu.all_text():
                break
        else:
            raise AssertionError(f"no shell prompt; the console shows: {emu.all_text()!r}")
        await _type(pilot, "echo $((6*7))\n")
        await wait_for(
            pilot,
            lambda: "42" in [line.strip() for line in emu.text().splitlines()],
            what="42 on the console",
        )
        await pilot.press("ctrl+right_square_bracket")


def test_uefi_iso_guest_with_spice_and_a_read_only_share_is_defined(
    hv: Hypervisor,
    libvirt_conn: Any,
    qemu_dir: Path,
    guest_names: Callable[[str], str],
) -> None:
    from vmtui.backend.devices import SharedFolderSpec

    choices = host_choices(hv)
    if not choices.uefi:
        pytest.skip("no OVMF firmware known to libvirt on this host")
    iso = qemu_dir / "install.iso"
    iso.write_bytes(b"\0" * 2048)
    name = guest_names("create-uefi")
    spec = GuestSpec(
        name=name,
        domain_type="qemu",
        firmware="uefi",
        graphics="spice",
        install=InstallSpec(kind="iso", media_path=str(iso)),
        shares=(SharedFolderSpec(str(qemu_dir), "data"),),
        start=False,
    )
    create_guest(hv, spec)
    back = ET.fromstring(libvirt_conn.lookupByName(name).XMLDesc(0))
    assert back.find("os").get("firmware") == "efi"  # type: ignore[union-attr]
    graphics = back.find("devices/graphics")
    assert graphics is not None and graphics.get("type") == "spice"
    assert graphics.find("listen").get("address") == "127.0.0.1"  # type: ignore[union-attr]
    cdrom = next(d for d in back.iter("disk") if d.get("device") == "cdrom")
    assert cdrom.find("source").get("file") == str(iso)  # type: ignore[union-attr]
    assert cdrom.find("readonly") is not None
    fs = back.find("devices/filesystem")
    assert fs is not None and fs.find("readonly") is not None
    assert fs.find("source").get("dir") == str(qemu_dir)  # type: ignore[union-attr]
    assert [b.get("dev") for b in back.iter("boot")] == ["cdrom", "hd"]
