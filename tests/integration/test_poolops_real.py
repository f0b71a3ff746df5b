"""Storage screen changes on the real daemon: a directory pool created (built and started),
a volume grown, shrunk only when confirmed, and never below the data it holds."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from typing import Any

import libvirt
import pytest

from vmtui.backend import Hypervisor
from vmtui.backend.devices import InvalidInput
from vmtui.backend.poolops import create_dir_pool, resize_plan, resize_volume

from .conftest import QEMU_DIR_PARENT, _remove_pool, unique_domain_name

MIB = 1024 * 1024


def test_create_pool_and_resize_a_volume(hv: Hypervisor, libvirt_conn: Any) -> None:
    name = unique_domain_name("pool-made")
    path = QEMU_DIR_PARENT / name / "sub"
    try:
        create_dir_pool(hv, name, str(path))
        pool = libvirt_conn.storagePoolLookupByName(name)
        assert pool.isActive() and pool.autostart() and path.is_dir()
        with pytest.raises(InvalidInput, match="already a storage pool"):
            create_dir_pool(hv, name, str(path))

        pool.createXML(
            "<volume><name>v.raw</name><capacity unit='M'>16</capacity>"
            "<allocation unit='M'>0</allocation><target><format type='raw'/></target></volume>",
            0,
        )
        vol = path / "v.raw"
        subprocess.run(
            ["qemu-io", "-f", "raw", "-c", "write -P 0x61 0 6M", str(vol)],
            check=True,
            capture_output=True,
        )
        pool.refresh(0)
        resize_volume(hv, name, "v.raw", "24M")
        assert vol.stat().st_size == 24 * MIB
        with pytest.raises(InvalidInput, match=r"holds .* of data"):
            resize_plan(hv, name, "v.raw", "2M")
        plan = resize_plan(hv, name, "v.raw", "20M")
        assert plan.shrink and "last 4.0M" in plan.warning
        with pytest.raises(InvalidInput, match="Confirm to shrink"):
            resize_volume(hv, name, "v.raw", "20M")
        assert vol.stat().st_size == 24 * MIB
        resize_volume(hv, name, "v.raw", "20M", confirm_shrink=True)
        assert vol.stat().st_size == 20 * MIB
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            _remove_pool(libvirt_conn.storagePoolLookupByName(name))
        shutil.rmtree(QEMU_DIR_PARENT / name, ignore_errors=True)
