"""Who uses a file, by identity (backend/diskusers.py), and the two places that ask: a guest
delete (which disks may go) and the storage screen (which volumes may go). Issue 14, items 1
and 16. The host is tests/data/disk_users_host.xml: guests reaching "victim"'s disks and the
pool's volumes through a volume disk, a ``//`` path, backing files, kernel, initrd, DTB, NVRAM.
Local files (symlinks, hard links, qcow2 headers) use tmp_path; the real daemon's versions
are in tests/integration/test_disk_users_real.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from tests.conftest import connected_hypervisor, host_uri
from vmtui.backend import ActionFailed, Hypervisor, diskusers
from vmtui.backend.storage import delete_volume, list_volumes

VICTIM = "aaaaaaaa-0000-0000-0000-000000000001"
SHARER = "aaaaaaaa-0000-0000-0000-000000000007"


@pytest.fixture
def dhv() -> Iterator[Hypervisor]:
    yield from connected_hypervisor(host_uri("disk_users_host"))


def _volumes(hv: Hypervisor) -> set[str]:
    return set(hv.readable_conn().storagePoolLookupByName("pool").listVolumes())


# ----------------------------------------------------------------------------- delete (item 1)
def test_delete_plan_finds_every_other_user_of_each_disk(dhv: Hypervisor) -> None:
    plan = dhv.delete_plan(VICTIM)
    disks = {d.target: d for d in plan.disks}
    assert disks["vda"].used_by == ("volguest",)  # <disk type='volume'> pool + volume
    assert disks["vda"].uses == ("volguest (disk vda)",)
    assert disks["vdb"].used_by == ("slashguest",)  # "/pool//./slashes.img"
    assert disks["vdc"].uses == ("overlayguest (backing file of vda)",)  # volume's backingStore
    assert disks["vde"].uses == ("xmlchain (backing file of vda)",)  # domain XML backingStore
    for target in ("vda", "vdb", "vdc", "vde"):
        assert not disks[target].removable, target
        assert "also used by" in disks[target].why_kept
    assert disks["vdd"].removable and disks["vdd"].why_kept == ""
    # its own volume disk is offered too, by the volume's path
    assert disks["vdf"].path == "/pool/own.img" and disks["vdf"].in_pool
    assert disks["vdf"].removable


@pytest.mark.parametrize(
    "path",
    ["/pool/vol-disk.img", "/pool/slashes.img", "/pool/base.qcow2", "/pool/xml-base.img"],
)
def test_delete_refuses_a_disk_used_through_any_road_and_touches_nothing(
    dhv: Hypervisor, path: str
) -> None:
    with pytest.raises(ActionFailed, match=r"also used by .*; nothing was deleted"):
        dhv.delete(VICTIM, ["/pool/free.img", path])
    assert VICTIM in {g.uuid for g in dhv.poll().guests}
    assert {"free.img", path.rsplit("/", 1)[1]} <= _volumes(dhv)


def test_delete_removes_the_disks_nobody_else_uses(dhv: Hypervisor) -> None:
    result = dhv.delete(VICTIM, ["/pool/free.img", "/pool/own.img"])
    assert result.removed == ("/pool/free.img", "/pool/own.img") and result.failed == ()
    vols = _volumes(dhv)
    assert not {"free.img", "own.img"} & vols
    assert {"vol-disk.img", "slashes.img", "base.qcow2", "xml-base.img"} <= vols


def test_delete_plan_names_the_nvram_file_and_keeps_a_shared_one(dhv: Hypervisor) -> None:
    plan = dhv.delete_plan(VICTIM)
    assert (plan.nvram, plan.nvram_kept) == ("/pool/victim_VARS.fd", "")
    shared = dhv.delete_plan(SHARER)
    assert shared.nvram == "/pool/shared_VARS.fd"
    assert shared.nvram_kept == "also used by sharer2 (NVRAM)"
    dhv.delete(SHARER)  # the test driver keeps no files; the flags are what QEMU is given
    assert SHARER not in {g.uuid for g in dhv.poll().guests}


def test_delete_refuses_when_it_cannot_be_sure(
    dhv: Hypervisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As seen from a remote host: xmlchain's top image is outside every pool, so vmtui
    # cannot tell which file it is (a symlink to free.img?) nor what it is based on.
    monkeypatch.setattr(diskusers, "access_for", lambda is_local, driver: diskusers.REMOTE)
    plan = dhv.delete_plan(VICTIM)
    free = next(d for d in plan.disks if d.path == "/pool/free.img")
    assert not free.removable
    assert "cannot be sure" in free.why_kept and "/elsewhere/top.qcow2" in free.why_kept
    with pytest.raises(ActionFailed, match="cannot be sure no other guest uses it"):
        dhv.delete(VICTIM, ["/pool/free.img"])
    assert "free.img" in _volumes(dhv)
    assert "cannot be sure" in plan.nvram_kept  # and its NVRAM file stays


# ----------------------------------------------------------------------------- storage (item 16)
def test_volumes_list_every_kind_of_user(dhv: Hypervisor) -> None:
    vols = {v.name: v for v in list_volumes(dhv, "pool")}
    assert vols["base.qcow2"].used_by == ("overlayguest", "victim")
    assert "overlayguest (backing file of vda)" in vols["base.qcow2"].uses
    assert vols["vol-disk.img"].used_by == ("victim", "volguest")
    assert vols["slashes.img"].used_by == ("slashguest", "victim")
    assert vols["xml-base.img"].used_by == ("victim", "xmlchain")
    assert vols["vmlinuz"].uses == ("bootguest (kernel)",)
    assert vols["initrd.img"].uses == ("bootguest (initrd)",)
    assert vols["board.dtb"].uses == ("bootguest (DTB)",)
    assert vols["vars.fd"].uses == ("bootguest (NVRAM)",)
    assert vols["shared_VARS.fd"].used_by == ("sharer", "sharer2")


@pytest.mark.parametrize(
    ("volume", "how"),
    [
        ("base.qcow2", "overlayguest (backing file of vda)"),
        ("vmlinuz", "bootguest (kernel)"),
        ("initrd.img", "bootguest (initrd)"),
        ("board.dtb", "bootguest (DTB)"),
        ("vars.fd", "bootguest (NVRAM)"),
    ],
)
def test_a_volume_used_other_than_as_a_disk_is_never_deleted(
    dhv: Hypervisor, volume: str, how: str
) -> None:
    with pytest.raises(ActionFailed, match="nothing was deleted") as err:
        delete_volume(dhv, "pool", volume)
    assert how in str(err.value)
    assert volume in _volumes(dhv)


def test_a_volume_is_kept_when_vmtui_cannot_be_sure(
    dhv: Hypervisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    dhv.delete(VICTIM)  # free.img is now unused
    monkeypatch.setattr(diskusers, "access_for", lambda is_local, driver: diskusers.REMOTE)
    with pytest.raises(ActionFailed, match=r"cannot be sure no guest uses volume free\.img"):
        delete_volume(dhv, "pool", "free.img")
    assert "free.img" in _volumes(dhv)
    monkeypatch.undo()
    delete_volume(dhv, "pool", "free.img")
    assert "free.img" not in _volumes(dhv)


# ----------------------------------------------------------------------------- local identity
@pytest.fixture
def ident() -> Iterator[diskusers.Identities]:
    conn = libvirt.open("test:///default")
    yield diskusers.Identities(conn, diskusers.LOCAL)
    conn.close()


def _same(ident: diskusers.Identities, a: str, b: str) -> bool:
    return bool(ident.keys(a)[0] & ident.keys(b)[0])


def test_a_file_is_the_same_under_any_local_name(
    ident: diskusers.Identities, tmp_path: Path
) -> None:
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * 512)
    (tmp_path / "link.img").symlink_to(disk)
    os.link(disk, tmp_path / "hard.img")
    (tmp_path / "other.img").write_bytes(b"\0" * 512)
    assert _same(ident, str(disk), str(tmp_path / "link.img"))
    assert _same(ident, str(disk), str(tmp_path / "hard.img"))
    assert _same(ident, str(disk), f"{tmp_path}//sub/../disk.img".replace("/sub/..", "/."))
    assert not _same(ident, str(disk), str(tmp_path / "other.img"))


def _qcow2(path: Path, backing: str) -> None:
    """A qcow2 header naming its backing file (what ``qemu-img create -b`` writes)."""
    name = backing.encode()
    header = b"QFI\xfb" + (3).to_bytes(4, "big") + (512).to_bytes(8, "big")
    header += len(name).to_bytes(4, "big")
    path.write_bytes(header.ljust(512, b"\0") + name)


def test_backing_chains_are_read_from_image_headers(
    ident: diskusers.Identities, tmp_path: Path
) -> None:
    (tmp_path / "base.raw").write_bytes(b"\0" * 1024)
    _qcow2(tmp_path / "mid.qcow2", "base.raw")  # relative: next to the overlay
    _qcow2(tmp_path / "top.qcow2", str(tmp_path / "mid.qcow2"))
    assert ident.backing_of(str(tmp_path / "top.qcow2"), "qcow2") == (
        str(tmp_path / "mid.qcow2"),
        "",
    )
    assert ident.backing_of(str(tmp_path / "mid.qcow2"), "") == (str(tmp_path / "base.raw"), "")
    assert ident.backing_of(str(tmp_path / "base.raw"), "") == (None, "")
    assert ident.backing_of(str(tmp_path / "top.qcow2"), "raw") == (None, "")  # raw: no chain


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")
def test_backing_chain_of_a_real_qemu_img_overlay(
    ident: diskusers.Identities, tmp_path: Path
) -> None:
    base, top = tmp_path / "base.qcow2", tmp_path / "top.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "1M"], check=True)
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", "base.qcow2", str(top)],
        check=True,
    )
    assert ident.backing_of(str(top), "qcow2") == (str(base), "")


def test_an_unreadable_image_is_a_doubt_not_a_guess(
    ident: diskusers.Identities, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    top = tmp_path / "top.qcow2"
    _qcow2(top, "base.raw")

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")  # what a user gets for root's 0600

    monkeypatch.setattr(diskusers, "open", denied, raising=False)
    found, why = ident.backing_of(str(top), "qcow2")
    assert found is None and "cannot read" in why and "Permission denied" in why


def test_a_fifo_is_never_opened(ident: diskusers.Identities, tmp_path: Path) -> None:
    fifo = tmp_path / "disk.img"
    os.mkfifo(fifo)  # opening it to read a header would block the worker for ever
    assert ident.backing_of(str(fifo), "") == (None, "")
