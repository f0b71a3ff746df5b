"""Cloning on the real daemon: the copy is a full one, the clone has its own identity, and both
guests boot and answer on their consoles."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import libvirt
import pytest

from vmtui.backend import ActionFailed, Hypervisor
from vmtui.backend.clone import CloneCancelled, CloneProgress, clone_guest, plan_clone

from .helpers import pool_path
from .tinyguest import READY_MARKER, ConsoleReader, start_with_console


def _source_guest(
    pool: Any, network: str, factory: Callable[..., str], tag: str
) -> tuple[str, Path]:
    vol = pool.createXML(
        "<volume><name>tiny.qcow2</name><capacity unit='MiB'>16</capacity>"
        "<target><format type='qcow2'/></target></volume>",
        0,
    )
    image = Path(vol.path())
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", "write -P 0x42 0 1M", str(image)],
        check=True,
        capture_output=True,
    )
    devices = (
        f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        f"<source file='{image}'/><target dev='vda' bus='virtio'/></disk>"
        f"<interface type='network'><source network='{network}'/><model type='virtio'/>"
        f"</interface>"
    )
    return factory(tag, extra_devices_xml=devices), image


def _holds_pattern(image: str, byte: int) -> bool:
    out = subprocess.run(
        ["qemu-io", "-r", "-U", "-f", "qcow2", "-c", f"read -P {byte:#x} 0 1M", image],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.returncode == 0 and "Pattern verification failed" not in out.stdout + out.stderr


def test_clone_is_a_full_copy_with_its_own_identity_and_both_boot(
    hv: Hypervisor,
    libvirt_conn: Any,
    tiny_domain_factory: Callable[..., str],
    pool: Any,
    isolated_network: str,
    guest_names: Callable[[str], str],
) -> None:
    name, image = _source_guest(pool, isolated_network, tiny_domain_factory, "clonesrc")
    source = libvirt_conn.lookupByName(name)
    new_name = guest_names("clone")

    plan = plan_clone(hv, source.UUIDString(), new_name)
    assert [(d.target, d.pool) for d in plan.disks] == [("vda", pool.name())]
    review = "\n".join(plan.review())
    assert f"kernel: {ET.fromstring(source.XMLDesc(0)).findtext('os/kernel')}" in review
    seen: list[CloneProgress] = []
    new_uuid = clone_guest(hv, plan, seen.append)
    assert seen and seen[-1].fraction == 1.0

    clone = libvirt_conn.lookupByName(new_name)
    assert clone.UUIDString() == new_uuid != source.UUIDString()
    src_xml, new_xml = ET.fromstring(source.XMLDesc(0)), ET.fromstring(clone.XMLDesc(0))

    def mac(x: ET.Element) -> str:
        return x.find("./devices/interface/mac").get("address", "")  # type: ignore[union-attr]

    def disk(x: ET.Element) -> str:
        return x.find("./devices/disk/source").get("file", "")  # type: ignore[union-attr]

    assert mac(new_xml) != mac(src_xml)
    assert disk(new_xml) != disk(src_xml) == str(image)
    assert Path(disk(new_xml)).parent == image.parent
    assert _holds_pattern(disk(new_xml), 0x42)  # the data came along: a full copy
    assert new_xml.findtext("os/kernel") == src_xml.findtext("os/kernel")
    info = subprocess.run(
        ["qemu-img", "info", "-U", disk(new_xml)], capture_output=True, text=True, check=True
    )
    assert "compat: 1.1" in info.stdout  # the same qcow2 level as the original, not 0.10

    readers: list[ConsoleReader] = []
    try:
        for dom in (source, clone):
            readers.append(start_with_console(dom))
        for reader in readers:
            reader.wait_for_line(READY_MARKER, timeout=180)
            assert "alive" in reader.run("echo alive", timeout=60)
        # Each guest writes to its own disk: the clone's write does not reach the original.
        readers[1].run("printf XXXXXXXX | dd of=/dev/vda bs=8 count=1 conv=fsync", timeout=60)
    finally:
        for reader in readers:
            reader.close()
    for dom in (source, clone):
        with contextlib.suppress(libvirt.libvirtError):
            dom.destroy()
    assert _holds_pattern(str(image), 0x42)
    assert not _holds_pattern(disk(new_xml), 0x42)


def test_cancelled_clone_leaves_nothing(
    hv: Hypervisor,
    libvirt_conn: Any,
    tiny_domain_factory: Callable[..., str],
    pool: Any,
    isolated_network: str,
    guest_names: Callable[[str], str],
) -> None:
    name, _image = _source_guest(pool, isolated_network, tiny_domain_factory, "clonecancel")
    source = libvirt_conn.lookupByName(name)
    new_name = guest_names("clone")
    plan = plan_clone(hv, source.UUIDString(), new_name)
    before = set(pool.listVolumes())
    cancel = threading.Event()
    cancel.set()  # pressed before the first disk: nothing is copied
    with pytest.raises(CloneCancelled, match="nothing was made"):
        clone_guest(hv, plan, None, cancel)
    pool.refresh(0)
    assert set(pool.listVolumes()) == before
    with pytest.raises(libvirt.libvirtError):
        libvirt_conn.lookupByName(new_name)


def test_a_paused_guest_whose_disk_qemu_locks_is_refused_clearly(
    hv: Hypervisor,
    libvirt_conn: Any,
    tiny_domain_factory: Callable[..., str],
    pool: Any,
    isolated_network: str,
    guest_names: Callable[[str], str],
) -> None:
    name, _image = _source_guest(pool, isolated_network, tiny_domain_factory, "clonepaused")
    source = libvirt_conn.lookupByName(name)
    source.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
    new_name = guest_names("clone")
    plan = plan_clone(hv, source.UUIDString(), new_name)  # paused is allowed to plan
    before = set(pool.listVolumes())
    with pytest.raises(ActionFailed, match="locked while the guest is paused"):
        clone_guest(hv, plan)
    pool.refresh(0)
    assert set(pool.listVolumes()) == before
    with pytest.raises(libvirt.libvirtError):
        libvirt_conn.lookupByName(new_name)


async def test_cancel_through_the_screen_removes_the_copies(
    libvirt_conn: Any,
    tiny_domain_factory: Callable[..., str],
    pool: Any,
    guest_names: Callable[[str], str],
) -> None:
    from textual.widgets import Input

    from vmtui.app import VmtuiApp
    from vmtui.screens.clone import CloneScreen

    from .helpers import guest_table, wait_for

    devices = ""
    for dev in ("vda", "vdb"):
        vol = pool.createXML(
            f"<volume><name>{dev}.qcow2</name><capacity unit='MiB'>512</capacity>"
            "<target><format type='qcow2'/></target></volume>",
            0,
        )
        subprocess.run(  # real data, so each copy takes a moment
            ["qemu-io", "-f", "qcow2", "-c", "write -P 0x42 0 384M", vol.path()],
            check=True,
            capture_output=True,
        )
        devices += (
            f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
            f"<source file='{vol.path()}'/><target dev='{dev}' bus='virtio'/></disk>"
        )
    pool.refresh(0)
    name = tiny_domain_factory("clonecancelui", extra_devices_xml=devices)
    before = set(pool.listVolumes())
    new_name = guest_names("clone")

    app = VmtuiApp("qemu:///system", interval=0.5)
    async with app.run_test(size=(100, 34)) as pilot:
        await wait_for(
            pilot,
            lambda: app.snapshot is not None and any(g.name == name for g in app.snapshot.guests),
            what="guest listed",
        )
        assert app.snapshot is not None
        uuid = next(g.uuid for g in app.snapshot.guests if g.name == name)
        table = guest_table(app)
        table.move_cursor(row=table.get_row_index(uuid), animate=False)
        await pilot.press("K")
        await wait_for(pilot, lambda: isinstance(app.screen, CloneScreen), what="clone screen")
        screen = app.screen
        assert isinstance(screen, CloneScreen)
        screen.query_one("#name", Input).value = new_name
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.plan is not None, what="review")
        await pilot.click("#clone")
        await wait_for(pilot, lambda: bool(screen.progress_seen), what="copy started")
        await pilot.press("escape")  # cancel: stops after the disk being copied
        await wait_for(pilot, lambda: screen.result is not None, what="clone ended")
        assert screen.result is not None and screen.result.cancelled, screen.error
        assert "cancelled" in screen.error and app.screen is screen
        entry = [e for e in app.activity if e.kind == "action"][-1]
        assert entry.text.startswith("virt-clone") and not entry.ok
    pool.refresh(0)
    assert set(pool.listVolumes()) == before
    with pytest.raises(libvirt.libvirtError):
        libvirt_conn.lookupByName(new_name)


def test_clone_into_another_pool(
    hv: Hypervisor,
    libvirt_conn: Any,
    tiny_domain_factory: Callable[..., str],
    pool: Any,
    make_pool: Callable[..., Any],
    isolated_network: str,
    guest_names: Callable[[str], str],
) -> None:
    other_pool = make_pool("other")
    name, image = _source_guest(pool, isolated_network, tiny_domain_factory, "cloneother")
    source = libvirt_conn.lookupByName(name)
    new_name = guest_names("clone")
    plan = plan_clone(hv, source.UUIDString(), new_name, other_pool.name())
    assert [d.pool for d in plan.disks] == [other_pool.name()]
    clone_guest(hv, plan)
    clone = ET.fromstring(libvirt_conn.lookupByName(new_name).XMLDesc(0))
    path = clone.find("./devices/disk/source").get("file", "")  # type: ignore[union-attr]
    assert Path(path).parent == pool_path(other_pool) and path != str(image)
    assert _holds_pattern(path, 0x42)
