"""The shared-folder deny list refuses parents of what it denies (issue 14, item 5): /var
holds other guests' disks, /run libvirt's sockets, /home users' SSH keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmtui.backend import RiskyPath, resolve_share_path
from vmtui.backend.devices import path_risk


@pytest.mark.parametrize("raw", ["/var", "/var/lib", "/run", "/home", "/usr", "/usr/lib"])
def test_a_directory_holding_a_denied_one_is_refused(raw: str) -> None:
    assert path_risk(Path(raw)) is not None
    if Path(raw).is_dir():
        with pytest.raises(RiskyPath):
            resolve_share_path(raw)


def test_the_reason_names_what_lies_below() -> None:
    why = path_risk(Path("/var/lib"))
    assert why is not None and "/var/lib/libvirt" in why


def test_a_symlink_to_a_parent_of_a_denied_directory_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "harmless"
    link.symlink_to("/var/lib")
    with pytest.raises(RiskyPath) as caught:
        resolve_share_path(str(link))
    assert caught.value.path == Path("/var/lib")
    assert "really /var/lib" in caught.value.message


def test_a_home_with_keys_below_it_is_refused_and_a_project_is_not(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "alice" / ".ssh").mkdir(parents=True)
    (home / "alice" / "projects").mkdir()
    assert path_risk(home) is not None  # /home/*/.ssh one level below
    assert path_risk(home / "alice") is not None  # ~/.ssh in it
    assert path_risk(home / "alice" / "projects") is None
    with pytest.raises(RiskyPath, match=r"\.ssh"):
        resolve_share_path(str(home))


@pytest.mark.parametrize("raw", ["/var/tmp", "/srv", "/tmp"])
def test_plain_directories_beside_denied_ones_stay_accepted(raw: str) -> None:
    assert path_risk(Path(raw)) is None


# ---------------------------------------------------------------- remote hosts
def test_shares_are_refused_for_a_remote_host_before_any_local_check() -> None:
    from vmtui.backend import InvalidInput
    from vmtui.backend.devices import check_share_host

    check_share_host("qemu:///system")
    check_share_host("test:///default")
    with pytest.raises(InvalidInput, match="Run vmtui on that host"):
        check_share_host("qemu+ssh://root@example.org/system")


def test_create_guest_on_a_remote_host_does_not_check_shares_on_this_machine() -> None:
    """Regression (issue 14, item 5): the wizard's create checked /etc on the local machine
    (RiskyPath) for a guest on another host; it must refuse as the isolation view does."""
    from tests.conftest import host_uri
    from vmtui.backend import Hypervisor, InvalidInput, SharedFolderSpec
    from vmtui.backend.create import create_guest
    from vmtui.backend.spec import GuestSpec, InstallSpec

    hv = Hypervisor(host_uri("small_host"))
    hv.connect()
    try:
        hv.uri = "qemu+ssh://root@example.org/system"  # the same calls, as a remote host
        spec = GuestSpec(
            name="remote-share",
            install=InstallSpec(kind="pxe"),
            shares=(SharedFolderSpec("/etc", "etc"),),
            start=False,
        )
        with pytest.raises(InvalidInput) as caught:
            create_guest(hv, spec)
        assert not isinstance(caught.value, RiskyPath)
        assert "only on the machine vmtui runs on" in caught.value.message
    finally:
        hv.close()
