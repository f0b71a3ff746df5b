"""Archives that must be refused before anything is created (issue 17, section 2), on the
test driver: not an archive, cut short, member names outside the archive, a flipped byte, a
manifest naming odd paths, disks larger than the pool's free space."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import connected_hypervisor, host_uri
from vmtui.backend import Hypervisor, archive
from vmtui.backend.archive import (
    _REC,
    ArchiveError,
    DiskEntry,
    Manifest,
    import_guest,
    read_manifest,
)

DOMAIN_XML = b"""<domain type='test'><name>moved</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'>
<driver name='qemu' type='raw'/><source file='/old/place.img'/><target dev='vda'/></disk>
</devices></domain>"""


@pytest.fixture
def hv() -> Iterator[Hypervisor]:
    yield from connected_hypervisor(host_uri("sandbox_host"))


def _write(path: Path, members: list[tuple[str, bytes]]) -> None:
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _archive(
    path: Path, *, member: str = "disks/vda.raw.vsp", data_claim: int = 4, extra=()
) -> None:
    disk = _REC.pack(b"D", 4) + b"data" + _REC.pack(b"H", 1 << 20) + _REC.pack(b"E", 0)
    manifest = Manifest(
        name="moved",
        uuid="cccccccc-0000-0000-0000-000000000001",
        source="elsewhere",
        cpu_model="",
        cpu_mode="",
        guest_cpu_model="",
        machine="",
        arch="x86_64",
        domain_type="test",
        domain_sha256=hashlib.sha256(DOMAIN_XML).hexdigest(),
        disks=(
            DiskEntry(
                "vda",
                member,
                "raw",
                (1 << 20) + 4,
                data_claim,
                len(disk),
                hashlib.sha256(disk).hexdigest(),
            ),
        ),
    )
    _write(
        path,
        [
            *extra,
            ("disks/vda.raw.vsp", disk),
            ("domain.xml", DOMAIN_XML),
            ("manifest.json", manifest.to_json().encode()),
        ],
    )


def _nothing_made(hv: Hypervisor) -> None:
    conn = hv.readable_conn()
    assert "moved" not in {d.name() for d in conn.listAllDomains(0)}
    assert conn.storagePoolLookupByName("pool").listVolumes() == ["base.qcow2"]


def test_a_good_archive_reads(tmp_path: Path) -> None:
    _archive(tmp_path / "a.tar")
    m = read_manifest(str(tmp_path / "a.tar"))
    assert m.name == "moved" and m.disks[0].target == "vda"


def test_not_an_archive(tmp_path: Path, hv: Hypervisor) -> None:
    (tmp_path / "x.tar").write_bytes(b"hello, I am not a tar file" * 100)
    with pytest.raises(ArchiveError, match="not a vmtui export archive"):
        import_guest(hv, str(tmp_path / "x.tar"), pool="pool")
    _nothing_made(hv)


def test_cut_short(tmp_path: Path, hv: Hypervisor) -> None:
    _archive(tmp_path / "a.tar")
    data = (tmp_path / "a.tar").read_bytes()
    (tmp_path / "cut.tar").write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveError):
        import_guest(hv, str(tmp_path / "cut.tar"), pool="pool")
    _nothing_made(hv)


@pytest.mark.parametrize("evil", ["../evil", "disks/../../evil", "/tmp/vmtui-evil-abs"])
def test_member_names_outside_the_archive(tmp_path: Path, hv: Hypervisor, evil: str) -> None:
    target = tmp_path / "in"
    target.mkdir()
    _archive(target / "a.tar", extra=[(evil, b"pwned")])
    with pytest.raises(ArchiveError, match="outside the archive"):
        import_guest(hv, str(target / "a.tar"), pool="pool")
    assert not (tmp_path / "evil").exists() and not Path("/tmp/vmtui-evil-abs").exists()
    _nothing_made(hv)


def test_manifest_naming_a_path_outside(tmp_path: Path, hv: Hypervisor) -> None:
    _archive(tmp_path / "a.tar", member="disks/../../etc/passwd.vsp")
    with pytest.raises(ArchiveError, match="names a disk it may not"):
        import_guest(hv, str(tmp_path / "a.tar"), pool="pool")
    _nothing_made(hv)


def test_flipped_byte(tmp_path: Path, hv: Hypervisor, monkeypatch: pytest.MonkeyPatch) -> None:
    # disks are hashed as they upload, after the capability check, which the test driver
    # cannot answer: let it pass, so the import makes its volume and must delete it again
    monkeypatch.setattr(archive, "_capability_problems", lambda conn, m: ([], []))
    _archive(tmp_path / "a.tar")
    raw = bytearray((tmp_path / "a.tar").read_bytes())
    raw[512 + 10] ^= 0x20  # inside the disk member's data
    (tmp_path / "a.tar").write_bytes(bytes(raw))
    with pytest.raises(ArchiveError, match="checksum"):
        import_guest(hv, str(tmp_path / "a.tar"), pool="pool")
    _nothing_made(hv)


def test_disk_larger_than_the_pools_free_space(tmp_path: Path, hv: Hypervisor) -> None:
    _archive(tmp_path / "a.tar", data_claim=200 << 30)  # the pool has 100 GiB free
    with pytest.raises(ArchiveError, match="free"):
        import_guest(hv, str(tmp_path / "a.tar"), pool="pool")
    _nothing_made(hv)


def test_cli_import_of_a_damaged_archive_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vmtui.cli import main

    (tmp_path / "x.tar").write_bytes(b"\0garbage" * 50)
    code = main(["import", str(tmp_path / "x.tar"), "-c", host_uri("sandbox_host"), "-q"])
    err = capsys.readouterr().err
    assert code == 1 and "not a vmtui export archive" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "head",
    [_REC.pack(b"D", 1 << 60), _REC.pack(b"X", 4)],  # a length past the end, an unknown kind
)
def test_records_that_do_not_add_up_end_as_damaged_and_are_still_hashed(
    tmp_path: Path, head: bytes
) -> None:
    body = _REC.pack(b"D", 4) + b"data" + head + b"rest" * 1000
    _write(tmp_path / "m.tar", [("disks/vda.raw.vsp", body)])
    with tarfile.open(tmp_path / "m.tar") as tar:
        member = archive._MemberStream(tar, tar.getmember("disks/vda.raw.vsp"))
        got: list[bytes | int] = []
        with pytest.raises(archive._Damaged):
            got.extend(member.records())
        assert got == [b"data"]
        assert member.digest() == hashlib.sha256(body).hexdigest()  # the whole member


def test_records_hand_out_data_and_holes_and_hash_the_member(tmp_path: Path) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB: four 256 KiB pieces
    body = _REC.pack(b"D", len(data)) + data + _REC.pack(b"H", 1 << 30) + _REC.pack(b"E", 0)
    _write(tmp_path / "m.tar", [("disks/vda.raw.vsp", body)])
    with tarfile.open(tmp_path / "m.tar") as tar:
        member = archive._MemberStream(tar, tar.getmember("disks/vda.raw.vsp"))
        got = list(member.records())
        assert got[-1] == 1 << 30 and b"".join(got[:-1]) == data  # type: ignore[arg-type]
        assert member.digest() == hashlib.sha256(body).hexdigest()
