"""Storage against the real daemon: a dir pool of our own (``vmtui-test-<pid>-pool`` in a tmp
dir, removed afterwards), a qcow2 volume created through the backend and through the screen,
deleting a volume a defined tiny guest uses refused with its name, an unused one deleted."""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from textual.widgets import DataTable, Input

from vmtui.app import VmtuiApp
from vmtui.backend import ActionFailed, Hypervisor
from vmtui.backend.storage import (
    create_volume,
    delete_volume,
    list_pools,
    list_volumes,
    volume_spec,
)
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.storage import CreateVolumeScreen, StorageScreen

from .helpers import AppWatch, assert_exited_cleanly, pool_path, wait_for

DEADLINE = 60.0


def _disk_xml(path: str) -> str:
    disk = ET.Element("disk", type="file", device="disk")
    ET.SubElement(disk, "driver", name="qemu", type="qcow2")
    ET.SubElement(disk, "source", file=path)
    ET.SubElement(disk, "target", dev="vda", bus="virtio")
    return ET.tostring(disk, encoding="unicode")


def test_volumes_in_a_real_dir_pool(
    libvirtd: str,
    pool: Any,
    tiny_domain_factory: Callable[..., str],
) -> None:
    pool_name, pool_dir = pool.name(), pool_path(pool)
    hv = Hypervisor(libvirtd)
    hv.connect()
    try:
        listed = next(p for p in list_pools(hv) if p.name == pool_name)
        assert (listed.state, listed.kind, listed.path) == ("running", "dir", str(pool_dir))
        assert listed.capacity > 0

        made = create_volume(hv, pool_name, volume_spec("data.qcow2", "qcow2", "64M"))
        assert made.path == str(pool_dir / "data.qcow2")
        assert (made.format, made.capacity) == ("qcow2", 64 * 1024**2)
        # A real qcow2 image, sparse: its header says so, and it holds far less than 64 MiB.
        with open(made.path, "rb") as image:
            assert image.read(4) == b"QFI\xfb"
        assert os.stat(made.path).st_size < 64 * 1024**2
        info = subprocess.run(
            ["qemu-img", "info", "--output=json", made.path], capture_output=True, text=True
        )
        if info.returncode == 0:
            assert '"virtual-size": 67108864' in info.stdout

        guest = tiny_domain_factory("disk", extra_devices_xml=_disk_xml(made.path))
        (seen,) = [v for v in list_volumes(hv, pool_name) if v.name == "data.qcow2"]
        assert seen.used_by == (guest,)
        with pytest.raises(ActionFailed) as refused:
            delete_volume(hv, pool_name, "data.qcow2")
        assert f"used by guest {guest}; nothing was deleted" in refused.value.message
        assert os.path.exists(made.path)

        spare = create_volume(hv, pool_name, volume_spec("spare.img", "raw", "8M"))
        assert os.path.exists(spare.path)
        delete_volume(hv, pool_name, "spare.img")
        assert not os.path.exists(spare.path)
        assert [v.name for v in list_volumes(hv, pool_name)] == ["data.qcow2"]
    finally:
        hv.close()


async def test_the_storage_screen_on_the_real_daemon(
    libvirtd: str, pool: Any, tiny_domain_factory: Callable[..., str]
) -> None:
    pool_name, pool_dir = pool.name(), pool_path(pool)
    app = VmtuiApp(libvirtd, interval=0.5)
    watch = AppWatch()
    async with app.run_test(size=(80, 24), message_hook=watch) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, DEADLINE, what="first poll")
        await pilot.press("V")
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, StorageScreen)
                and any(p.name == pool_name for p in app.screen.pools)
            ),
            DEADLINE,
            what="our pool listed",
        )
        screen = app.screen
        assert isinstance(screen, StorageScreen)
        pools: DataTable[object] = screen.query_one("#pools", DataTable)
        pools.move_cursor(row=[p.name for p in screen.pools].index(pool_name), animate=False)
        await wait_for(pilot, lambda: screen.pool == pool_name, DEADLINE)

        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CreateVolumeScreen), DEADLINE)
        app.screen.query_one("#vol-name", Input).value = "screen.qcow2"
        app.screen.query_one("#vol-size", Input).value = "32M"
        app.screen.query_one("#vol-size", Input).focus()
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: [v.name for v in screen.volumes] == ["screen.qcow2"],
            DEADLINE,
            what="the new volume listed",
        )
        path = str(pool_dir / "screen.qcow2")
        assert os.path.exists(path)

        guest = tiny_domain_factory("scr", extra_devices_xml=_disk_xml(path))
        await pilot.press("r")  # refresh the pool: the list is read again with its users
        await wait_for(
            pilot,
            lambda: screen.volumes[0].used_by == (guest,) if screen.volumes else False,
            DEADLINE,
            what="the guest shown as the volume's user",
        )
        await pilot.press("D")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert any(guest in m for m in watch.errors()), watch.errors()
        assert os.path.exists(path)
        lines = [e.text for e in app.activity if e.kind == "action"]
        assert lines == [
            f"virsh -c {libvirtd} vol-create-as {pool_name} screen.qcow2 {32 * 1024**2}B "
            "--format qcow2",
            f"virsh -c {libvirtd} pool-refresh {pool_name}",
        ]
    assert_exited_cleanly(app, watch)
