"""backend/create.py: a host-path disk that does not exist is made (issue 16 #5), and the
usual default pool is made on a host that has none."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import host_uri
from vmtui.backend import Hypervisor
from vmtui.backend.create import (
    _Made,
    _undo,
    create_default_pool,
    default_pool_path,
    images_to_make,
    make_image_file,
)
from vmtui.backend.devices import InvalidInput
from vmtui.backend.spec import DiskSpec, GuestSpec, InstallSpec


class LocalHost:
    is_local = True
    driver = "qemu"


def spec_with(*disks: DiskSpec) -> GuestSpec:
    return GuestSpec(name="g", install=InstallSpec(kind="pxe"), disks=disks)


def test_only_missing_host_path_files_on_a_local_host_are_made(tmp_path: Path) -> None:
    there = tmp_path / "there.img"
    there.write_bytes(b"")
    missing = DiskSpec(kind="path", path=str(tmp_path / "new.img"), fmt="raw", size_gib=1)
    spec = spec_with(DiskSpec(kind="path", path=str(there)), missing)
    assert images_to_make(LocalHost(), spec) == [missing]  # type: ignore[arg-type]
    remote = type("Remote", (), {"is_local": False, "driver": "qemu"})()
    assert images_to_make(remote, spec) == []


def test_a_raw_image_is_sparse_of_the_size_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "new.img"
    disk = DiskSpec(kind="path", path=str(path), fmt="raw", size_gib=2)
    make_image_file(disk)
    assert path.stat().st_size == 2 * 1024**3
    assert path.stat().st_blocks * 512 < 1024**2  # sparse
    with pytest.raises(InvalidInput, match="Could not create"):
        make_image_file(disk)
    made = _Made(files=[str(path)])
    assert "image file" in _undo(made) and not path.exists()


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img is not installed")
def test_a_qcow2_image_is_made_with_qemu_img(tmp_path: Path) -> None:
    path = tmp_path / "new.qcow2"
    make_image_file(DiskSpec(kind="path", path=str(path), fmt="qcow2", size_gib=1))
    assert path.read_bytes()[:4] == b"QFI\xfb"


def test_the_default_pool_is_made_started_and_autostarted() -> None:
    hv = Hypervisor(host_uri("isolation_host"))  # a test host without any pool
    hv.connect()
    try:
        said = create_default_pool(hv)
        assert said.startswith("Created the storage pool 'default' (/var/lib/libvirt/images)")
        pool = hv.writable_conn().storagePoolLookupByName("default")
        assert pool.isActive() and pool.autostart()
        pool.destroy()
        assert create_default_pool(hv).startswith("Started the storage pool 'default'")
    finally:
        hv.close()
    assert default_pool_path("qemu:///session").endswith(".local/share/libvirt/images")
