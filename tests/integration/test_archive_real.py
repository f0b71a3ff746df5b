"""Export on this host, import on the second libvirtd (issue 17, section 2).

A tiny guest with a qcow2 data disk (a marker at its start) in a pool is exported to one
archive; imported on the second host (secondhost.py) it boots and answers over its console,
reading the marker from its disk. The same archive with one flipped byte is refused and
creates nothing; an import and an export cancelled midway leave nothing on either side.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest

from vmtui.backend import Hypervisor, archive
from vmtui.backend.archive import (
    ArchiveCancelled,
    ArchiveError,
    export_guest,
    import_guest,
    read_manifest,
)

from .conftest import unique_domain_name
from .secondhost import SecondHost, second_host  # noqa: F401 - the fixture
from .tinyguest import READY_MARKER, ConsoleReader

MARKER = b"VMTUI-ARCHIVE-ANSWER-42\n"


def _qemu_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"vmtui-test-{os.getpid()}-", dir="/var/tmp"))
    path.chmod(0o755)
    return path


def _make_pool(conn: Any, folder: Path) -> Any:
    el = ET.Element("pool", type="dir")
    ET.SubElement(el, "name").text = unique_domain_name("pool-arch")
    ET.SubElement(ET.SubElement(el, "target"), "path").text = str(folder)
    return conn.storagePoolCreateXML(ET.tostring(el, encoding="unicode"), 0)


def _drop_pool(pool: Any) -> None:
    for vol in pool.listAllVolumes(0):
        vol.delete(0)
    pool.destroy()


@pytest.fixture
def target(second_host: SecondHost) -> Iterator[tuple[Hypervisor, Any, Any]]:  # noqa: F811
    """(vmtui's connection to the second host, a raw one, a running pool there)."""
    hv = Hypervisor(second_host.uri)
    hv.connect()
    conn = libvirt.open(second_host.uri)
    folder = _qemu_dir()
    try:
        pool = _make_pool(conn, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    yield hv, conn, pool
    for dom in conn.listAllDomains(0):
        if dom.name().startswith(f"vmtui-test-{os.getpid()}-"):
            if dom.isActive():
                dom.destroy()
            dom.undefine()
    _drop_pool(pool)
    conn.close()
    hv.close()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def exported(
    libvirt_conn: Any, hv: Hypervisor, pool: Any, tiny_domain_factory: Callable[..., str]
) -> Iterator[tuple[str, str]]:
    """(the source guest's name, its archive's path)."""
    folder = Path(pool.XMLDesc(0).split("<path>")[1].split("</path>")[0])
    raw = folder / "data.raw"
    raw.write_bytes(MARKER + os.urandom(3 << 20))  # data to stream, a hole after
    with open(raw, "r+b") as f:
        f.truncate(16 << 20)
    subprocess.run(
        ["qemu-img", "convert", "-O", "qcow2", str(raw), str(folder / "data.qcow2")], check=True
    )
    raw.unlink()
    pool.refresh(0)
    disk = ET.Element("disk", type="file", device="disk")
    ET.SubElement(disk, "driver", name="qemu", type="qcow2")
    ET.SubElement(disk, "source", file=str(folder / "data.qcow2"))
    ET.SubElement(disk, "target", dev="vda", bus="virtio")
    name = tiny_domain_factory("arch", extra_devices_xml=ET.tostring(disk, encoding="unicode"))
    out = _qemu_dir()
    path = str(out / "guest.tar")
    try:
        export_guest(hv, name, path)
        yield name, path
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _volumes(pool: Any) -> list[str]:
    pool.refresh(0)
    return sorted(pool.listVolumes())


def test_export_import_on_the_second_host_boots_and_answers(
    exported: tuple[str, str], target: tuple[Hypervisor, Any, Any]
) -> None:
    name, path = exported
    thv, tconn, tpool = target
    manifest = read_manifest(path)
    assert [d.target for d in manifest.disks] == ["vda"] and manifest.machine
    assert manifest.disks[0].format == "qcow2"
    # tar lists it: a plain archive
    listing = subprocess.run(["tar", "tf", path], capture_output=True, text=True, check=True)
    assert listing.stdout.split() == ["disks/vda.qcow2.vsp", "domain.xml", "manifest.json"]

    # one flipped byte in the disk: refused with a sentence, nothing created there
    bad = path + ".flipped"
    shutil.copyfile(path, bad)
    with open(bad, "r+b") as f:
        f.seek(512 + 40)  # inside the first member's data
        byte = f.read(1)
        f.seek(512 + 40)
        f.write(bytes([byte[0] ^ 0x01]))
    with pytest.raises(ArchiveError, match="checksum"):
        import_guest(thv, bad, pool=tpool.name())
    assert _volumes(tpool) == [] and name not in {d.name() for d in tconn.listAllDomains(0)}

    # cancelled midway through the upload: nothing left either
    cancel = threading.Event()

    def stop_soon(done: int, total: int) -> None:
        if done > total // 2:
            cancel.set()

    with pytest.raises(ArchiveCancelled):
        import_guest(thv, path, pool=tpool.name(), progress=stop_soon, cancel=cancel)
    assert _volumes(tpool) == [] and name not in {d.name() for d in tconn.listAllDomains(0)}

    result = import_guest(thv, path, pool=tpool.name())
    assert result.name == name
    dom = tconn.lookupByUUIDString(result.uuid)
    xml = dom.XMLDesc(0)
    assert result.volumes[0] in xml and result.uuid != manifest.uuid  # a new UUID
    dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
    with ConsoleReader.open(dom) as console:
        dom.resume()
        console.wait_for_line(READY_MARKER, timeout=180)
        answer = console.run(f"dd if=/dev/vda bs={len(MARKER)} count=1 2>/dev/null", 60)
    assert answer.strip() == MARKER.decode().strip()  # ... ANSWER-42, from its own disk
    dom.destroy()


def test_cancelled_export_leaves_no_file(exported: tuple[str, str], hv: Hypervisor) -> None:
    name, path = exported
    folder = os.path.dirname(path)
    before = sorted(os.listdir(folder))
    cancel = threading.Event()
    with pytest.raises(ArchiveCancelled):
        export_guest(
            hv,
            name,
            os.path.join(folder, "second.tar"),
            progress=lambda done, total: cancel.set(),
            cancel=cancel,
        )
    assert sorted(os.listdir(folder)) == before  # no archive, no partial file


def test_cli_export_then_import_with_a_new_name(
    tiny_domain_factory: Callable[..., str],
    pool: Any,
    target: tuple[Hypervisor, Any, Any],
    second_host: SecondHost,  # noqa: F811
    tmp_path: Path,
) -> None:
    _, tconn, tpool = target
    folder = Path(pool.XMLDesc(0).split("<path>")[1].split("</path>")[0])
    vol = pool.createXML(
        "<volume><name>d.qcow2</name><capacity unit='MiB'>8</capacity>"
        "<target><format type='qcow2'/></target></volume>",
        0,
    )
    disk = (
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        f"<source file='{vol.path()}'/><target dev='vdb' bus='virtio'/></disk>"
    )
    name = tiny_domain_factory("cli", extra_devices_xml=disk)
    out = str(folder / "cli.tar")
    py = [sys.executable, "-m", "vmtui"]
    done = subprocess.run(
        [*py, "export", name, out, "-c", "qemu:///system"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    new = unique_domain_name("cli-imp")
    args = ["import", out, "-c", second_host.uri, "--pool", tpool.name(), "--name", new]
    done = subprocess.run([*py, *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert new in done.stdout
    assert tconn.lookupByName(new).isPersistent()
    assert f"{new}-vdb.qcow2" in _volumes(tpool)
    again = subprocess.run([*py, *args], capture_output=True, text=True)
    assert again.returncode == 1 and "already exists" in again.stderr  # name taken: refused


def test_a_sparse_raw_disk_stays_sparse_and_equal(
    libvirt_conn: Any, hv: Hypervisor, pool: Any, guest_names: Callable[[str], str]
) -> None:
    vol = pool.createXML(
        "<volume><name>sparse.img</name><capacity unit='MiB'>64</capacity>"
        "<allocation>0</allocation><target><format type='raw'/></target></volume>",
        0,
    )
    with open(vol.path(), "r+b") as f:
        f.write(os.urandom(1 << 20))
        f.seek(40 << 20)
        f.write(b"middle of nowhere")
    name = guest_names("sparse")
    libvirt_conn.defineXML(
        f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory>"
        "<os><type arch='x86_64'>hvm</type></os><devices>"
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
        f"<source file='{vol.path()}'/><target dev='vda' bus='virtio'/></disk>"
        "<interface type='network'><source network='default'/>"
        "<mac address='52:54:00:12:34:56'/></interface></devices></domain>"
    )
    folder = Path(vol.path()).parent
    out = str(folder / "sparse.tar")
    export_guest(hv, name, out)
    assert os.path.getsize(out) < 4 << 20  # the holes are not in the archive
    copy = guest_names("sparse-copy")
    result = import_guest(hv, out, pool=pool.name(), name=copy)
    new = pool.storageVolLookupByName(f"{copy}-vda.raw")
    assert new.info()[1] == 64 << 20 and new.info()[2] < 8 << 20  # same size, still sparse
    same = subprocess.run(["cmp", vol.path(), new.path()], capture_output=True)
    assert same.returncode == 0, same.stdout
    xml = libvirt_conn.lookupByUUIDString(result.uuid).XMLDesc(0)
    assert "52:54:00:12:34:56" not in xml and "<interface" in xml  # a new MAC


def test_a_checksum_mismatch_found_mid_upload_removes_the_volumes_already_uploaded(
    libvirt_conn: Any,
    hv: Hypervisor,
    pool: Any,
    guest_names: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Disks are hashed while they upload: vda uploads whole and matches, vdb carries a
    flipped byte. vda's volume exists when vdb's upload starts, and is gone afterwards; no
    guest is defined."""
    disks = ""
    for dev in ("vda", "vdb"):
        vol = pool.createXML(
            f"<volume><name>{dev}.img</name><capacity unit='MiB'>4</capacity>"
            "<allocation>0</allocation><target><format type='raw'/></target></volume>",
            0,
        )
        with open(vol.path(), "r+b") as f:
            f.write(os.urandom(2 << 20))
        disks += (
            "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
            f"<source file='{vol.path()}'/><target dev='{dev}' bus='virtio'/></disk>"
        )
    name = guest_names("midway")
    libvirt_conn.defineXML(
        f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory>"
        f"<os><type arch='x86_64'>hvm</type></os><devices>{disks}</devices></domain>"
    )
    folder = Path(pool.XMLDesc(0).split("<path>")[1].split("</path>")[0])
    out = str(folder / "midway.tar")
    export_guest(hv, name, out)
    with tarfile.open(out) as tar:
        start = tar.getmember("disks/vdb.raw.vsp").offset_data
    with open(out, "r+b") as f:
        f.seek(start + 9 + 1000)  # inside vdb's first data record
        byte = f.read(1)
        f.seek(start + 9 + 1000)
        f.write(bytes([byte[0] ^ 0x01]))
    before = _volumes(pool)
    copy = guest_names("midway-copy")
    seen: dict[str, list[str]] = {}
    upload = archive._upload

    def spy(conn: Any, vol: Any, member: Any, d: Any, stop: Any) -> None:
        seen[d.target] = _volumes(pool)
        upload(conn, vol, member, d, stop)

    monkeypatch.setattr(archive, "_upload", spy)
    with pytest.raises(ArchiveError, match=r"Disk vdb .* does not match its checksum"):
        import_guest(hv, out, pool=pool.name(), name=copy)
    assert f"{copy}-vda.raw" in seen["vdb"]  # vda was uploaded when vdb's turn came
    assert _volumes(pool) == before  # ... and is gone again, with vdb's
    assert copy not in {d.name() for d in libvirt_conn.listAllDomains(0)}
