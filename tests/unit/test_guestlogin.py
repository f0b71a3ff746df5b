"""ssh into a guest, the backend part (backend/guestlogin.py): the login kept in the guest's
metadata, the config's defaults, the command built from the guest's address."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import connected_hypervisor
from vmtui.backend import Hypervisor
from vmtui.backend.errors import ActionFailed, VmtuiError
from vmtui.backend.guestlogin import (
    Login,
    read_login,
    set_login,
    ssh_defaults,
    ssh_target,
)
from vmtui.backend.tags import read_tags, set_tags

DATA = Path(__file__).resolve().parents[1] / "data"
INSIDE = f"test://{DATA / 'inside_host.xml'}"
WEB = "d1000000-0000-0000-0000-000000000001"
BARE = "d1000000-0000-0000-0000-000000000003"
SLEEPER = "d1000000-0000-0000-0000-000000000004"


@pytest.fixture
def inside() -> Iterator[Hypervisor]:
    yield from connected_hypervisor(INSIDE)


def test_the_login_is_kept_in_the_guests_metadata_beside_the_tags(inside: Hypervisor) -> None:
    assert read_login(inside, WEB) == Login()
    set_tags(inside, WEB, ["db"])
    set_login(inside, WEB, Login("admin", 2222))
    assert read_login(inside, WEB) == Login("admin", 2222)
    assert read_tags(inside, WEB) == ("db",)  # its own namespace: the tags are untouched
    set_login(inside, WEB, Login())
    assert read_login(inside, WEB) == Login()


def test_a_bad_login_is_refused(inside: Hypervisor) -> None:
    with pytest.raises(ActionFailed):
        set_login(inside, WEB, Login("-oProxyCommand=x"))


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_the_command_uses_the_guests_address_login_and_the_config(
    inside: Hypervisor, tmp_path: Path
) -> None:
    inside.poll()
    cfg = config(tmp_path, '[ssh]\nuser = "ops"\noptions = ["-i", "/keys/lab"]\n')
    target = ssh_target(inside, WEB, cfg)
    assert target.argv == ("ssh", "-i", "/keys/lab", "ops@127.0.0.1")
    assert target.source == "lease" and target.address == "127.0.0.1"
    set_login(inside, WEB, Login("admin", 2200))
    target = ssh_target(inside, WEB, cfg)
    assert target.line == "ssh -i /keys/lab -p 2200 admin@127.0.0.1"


def test_no_address_says_why(inside: Hypervisor) -> None:
    inside.poll()
    with pytest.raises(VmtuiError) as err:
        ssh_target(inside, BARE, None)
    assert err.value.message == (
        "Cannot ssh into guest bare. No address: the guest has no network card."
    )
    with pytest.raises(VmtuiError) as err:
        ssh_target(inside, SLEEPER, None)
    assert "not running" in err.value.message


def test_config_defaults(tmp_path: Path) -> None:
    assert ssh_defaults(None).user == ""
    assert ssh_defaults(tmp_path / "missing.toml").options == ()
    with pytest.raises(ActionFailed) as err:
        ssh_defaults(config(tmp_path, "[ssh]\noptions = 3\n"))
    assert "list of strings" in err.value.message
