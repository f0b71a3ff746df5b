"""Shared folders and NICs: what the user types is resolved and checked before any XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from vmtui.backend import (
    InvalidInput,
    NicSpec,
    RiskyPath,
    SharedFolderSpec,
    filesystem_element,
    interface_element,
    resolve_share_path,
)
from vmtui.backend.devices import ensure_shared_memory


def test_dotdot_and_symlinks_are_resolved_before_the_deny_list(tmp_path: Path) -> None:
    link = tmp_path / "innocent"
    link.symlink_to("/etc")
    for raw in (str(link), str(tmp_path) + "/.." * 12 + "/etc", "/tmp/../root"):
        with pytest.raises(RiskyPath) as caught:
            resolve_share_path(raw)
        assert caught.value.path in (Path("/etc"), Path("/root"))
        assert "gives the guest access to" in caught.value.message


@pytest.mark.parametrize(
    "raw", ["/", "/etc", "/etc/ssl", "/root", "/boot", "/proc", "/sys", "/dev", "/var/lib/libvirt"]
)
def test_deny_listed_paths_need_the_users_consent(raw: str) -> None:
    with pytest.raises(RiskyPath):
        resolve_share_path(raw)
    assert resolve_share_path(raw, allow_risky=True) == Path(raw).resolve()


def test_a_plain_directory_is_accepted(tmp_path: Path) -> None:
    assert resolve_share_path(f"{tmp_path}/./") == tmp_path


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "Give the host directory"),
        ("relative/dir", "is relative"),
        ("/no/such/dir/anywhere", "does not exist"),
        ("/etc/hostname", "not a directory"),
    ],
)
def test_unusable_paths_are_refused_with_a_sentence(raw: str, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve_share_path(raw)
    assert says in caught.value.message
    assert not isinstance(caught.value, RiskyPath)


def test_shared_folder_xml_is_read_only_by_default(tmp_path: Path) -> None:
    spec = SharedFolderSpec(str(tmp_path), "data").validate()
    fs = filesystem_element(spec)
    assert fs.find("source").get("dir") == str(tmp_path)  # type: ignore[union-attr]
    assert fs.find("target").get("dir") == "data"  # type: ignore[union-attr]
    assert fs.find("readonly") is not None
    assert fs.find("driver").get("type") == "path"  # type: ignore[union-attr]


def test_bad_tags_are_refused(tmp_path: Path) -> None:
    for tag in ("", "a b", "x" * 32, "<x>"):
        with pytest.raises(InvalidInput):
            SharedFolderSpec(str(tmp_path), tag).validate()


def test_virtiofs_gets_shared_memory_once() -> None:
    domain = ET.fromstring(
        "<domain><memoryBacking><access mode='private'/></memoryBacking></domain>"
    )
    assert ensure_shared_memory(domain)
    assert not ensure_shared_memory(domain)
    backing = domain.find("memoryBacking")
    assert backing is not None
    assert backing.find("access").get("mode") == "shared"  # type: ignore[union-attr]
    assert backing.find("source").get("type") == "memfd"  # type: ignore[union-attr]


def test_nic_elements_per_kind() -> None:
    net = interface_element(NicSpec("network", "isolated1").validate())
    assert net is not None and net.get("type") == "network"
    assert net.find("source").get("network") == "isolated1"  # type: ignore[union-attr]
    br = interface_element(NicSpec("bridge", "br0", mac="52:54:00:AA:bb:01").validate())
    assert br is not None and br.find("mac").get("address") == "52:54:00:aa:bb:01"  # type: ignore[union-attr]
    direct = interface_element(NicSpec("direct", "eth0", direct_mode="vepa").validate())
    assert direct is not None
    assert direct.find("source").attrib == {"dev": "eth0", "mode": "vepa"}  # type: ignore[union-attr]
    assert interface_element(NicSpec("none").validate()) is None


@pytest.mark.parametrize(
    "spec",
    [
        NicSpec("network", ""),
        NicSpec("bridge", "br0; rm -rf /"),
        NicSpec("direct", "eth0", direct_mode="weird"),
        NicSpec("network", "n", mac="52:54:00"),
        NicSpec("network", "n", model="evil"),
        NicSpec("tap", "x"),
    ],
)
def test_bad_nics_are_refused(spec: NicSpec) -> None:
    with pytest.raises(InvalidInput):
        spec.validate()
