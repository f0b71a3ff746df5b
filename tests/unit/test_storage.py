"""Storage pools and volumes against libvirt's test driver (small_host: pool "pool" at /pool)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from vmtui.backend import ActionFailed, Hypervisor, InvalidInput, ReadOnlyConnection
from vmtui.backend.storage import (
    VolumeSpec,
    create_volume,
    delete_volume,
    list_pools,
    list_volumes,
    parse_size_bytes,
    refresh_pool,
    volume_spec,
    volume_xml,
)


def test_sizes_for_volumes() -> None:
    assert parse_size_bytes("10G") == 10 * 1024**3
    assert parse_size_bytes("512M") == 512 * 1024**2
    assert parse_size_bytes("1.5T") == int(1.5 * 1024**4)
    assert parse_size_bytes("20") == 20 * 1024**3  # a bare number is GiB
    with pytest.raises(InvalidInput, match="write it like 10G"):
        parse_size_bytes("big")


@pytest.mark.parametrize(
    ("name", "format", "size", "why"),
    [
        ("", "qcow2", "1G", "Give the new volume a name"),
        ("../etc/x", "qcow2", "1G", "must not contain '/'"),
        (".hidden", "qcow2", "1G", "must not start with '.'"),
        ("a b", "qcow2", "1G", "may hold letters, digits"),
        ("ok.img", "vmdk", "1G", "use qcow2 or raw"),
        ("ok.img", "raw", "10K", "at least 1M"),
        ("ok.img", "raw", "ten", "is not a size"),
    ],
)
def test_new_volumes_are_checked(name: str, format: str, size: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        volume_spec(name, format, size)


def test_volume_xml_escapes_and_round_trips() -> None:
    spec = volume_spec("data+1.qcow2", "qcow2", "2G")
    assert spec.virsh("default") == (
        "vol-create-as", "default", "data+1.qcow2", f"{2 * 1024**3}B", "--format", "qcow2",
    )  # fmt: skip
    root = ET.fromstring(volume_xml(spec))
    assert root.findtext("name") == "data+1.qcow2"
    assert root.findtext("capacity") == str(2 * 1024**3)
    assert root.find("target/format").get("type") == "qcow2"  # type: ignore[union-attr]


def test_pools_and_volumes_with_the_guests_that_use_them(hv: Hypervisor) -> None:
    (pool,) = list_pools(hv)
    assert (pool.name, pool.state, pool.kind, pool.path) == ("pool", "running", "dir", "/pool")
    assert pool.capacity == 100 * 1024**3 and pool.active and not pool.autostart
    vols = {v.name: v for v in list_volumes(hv, "pool")}
    assert set(vols) == {"alpha.qcow2", "beta.qcow2", "shared.img", "install.iso"}
    assert vols["alpha.qcow2"].format == "qcow2"
    assert vols["alpha.qcow2"].capacity == 10 * 1024**3
    assert vols["alpha.qcow2"].path == "/pool/alpha.qcow2"
    assert vols["shared.img"].used_by == ("alpha", "beta")
    assert vols["install.iso"].used_by == ("alpha",)


def test_create_then_delete_an_unused_volume(hv: Hypervisor) -> None:
    made = create_volume(hv, "pool", VolumeSpec("new.qcow2", "qcow2", 2 * 1024**3))
    assert (made.path, made.format, made.capacity, made.used_by) == (
        "/pool/new.qcow2",
        "qcow2",
        2 * 1024**3,
        (),
    )
    assert "new.qcow2" in {v.name for v in list_volumes(hv, "pool")}
    with pytest.raises(ActionFailed, match=r"already has a volume new\.qcow2"):
        create_volume(hv, "pool", VolumeSpec("new.qcow2", "raw", 1024**3))
    delete_volume(hv, "pool", "new.qcow2")
    assert "new.qcow2" not in {v.name for v in list_volumes(hv, "pool")}
    refresh_pool(hv, "pool")


def test_a_used_volume_is_never_deleted(hv: Hypervisor) -> None:
    with pytest.raises(ActionFailed, match="used by guests alpha, beta; nothing was deleted"):
        delete_volume(hv, "pool", "shared.img")
    assert "shared.img" in {v.name for v in list_volumes(hv, "pool")}
    with pytest.raises(ActionFailed, match=r"has no volume nope\.img"):
        delete_volume(hv, "pool", "nope.img")
    with pytest.raises(ActionFailed, match="no storage pool elsewhere"):
        list_volumes(hv, "elsewhere")


def test_read_only_connections_change_nothing(small_host: str) -> None:
    ro = Hypervisor(small_host, readonly=True)
    ro.connect()
    try:
        assert list_pools(ro)
        with pytest.raises(ReadOnlyConnection):
            create_volume(ro, "pool", VolumeSpec("x.img", "raw", 1024**2))
        with pytest.raises(ReadOnlyConnection):
            delete_volume(ro, "pool", "beta.qcow2")
    finally:
        ro.close()
