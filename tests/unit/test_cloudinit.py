"""The cloud-init NoCloud seed: an ISO labelled cidata with meta-data and user-data, read back
with pycdlib; what the user typed cannot change the documents' structure."""

from __future__ import annotations

import json

from vmtui.backend.cloudinit import build_seed_iso, read_seed_iso, seed_files
from vmtui.backend.spec import CloudInitSpec


def test_seed_iso_holds_meta_data_and_user_data_under_the_cidata_label() -> None:
    spec = CloudInitSpec(
        hostname="web1",
        user="alice",
        password='p"a: ss\nword',
        ssh_key="ssh-ed25519 AAAAC3Nza alice@laptop",
    ).validate()
    files = read_seed_iso(build_seed_iso(seed_files(spec, "iid-42")))
    assert files["label"] == b"cidata"
    assert json.loads(files["meta-data"]) == {"instance-id": "iid-42", "local-hostname": "web1"}
    header, body = files["user-data"].decode().split("\n", 1)
    assert header == "#cloud-config"
    config = json.loads(body)  # JSON is YAML: cloud-init reads it as written
    assert config["hostname"] == "web1"
    user = config["users"][1]
    assert user["name"] == "alice"
    assert user["plain_text_passwd"] == 'p"a: ss\nword'
    assert user["ssh_authorized_keys"] == ["ssh-ed25519 AAAAC3Nza alice@laptop"]
    assert user["lock_passwd"] is False
    assert config["ssh_pwauth"] is True


def test_the_users_own_user_data_file_is_used_as_is() -> None:
    own = "#cloud-config\npackages: [htop]\n"
    spec = CloudInitSpec(hostname="db", user_data=own).validate()
    files = read_seed_iso(build_seed_iso(seed_files(spec, "iid-1")))
    assert files["user-data"] == own.encode()
    assert set(files) == {"label", "meta-data", "user-data"}


def test_key_only_user_has_a_locked_password() -> None:
    spec = CloudInitSpec(user="bob", ssh_key="ssh-rsa AAAAB3 bob").validate()
    files = read_seed_iso(build_seed_iso(seed_files(spec, "iid-2", default_hostname="guest")))
    config = json.loads(files["user-data"].decode().split("\n", 1)[1])
    assert config["users"][1]["lock_passwd"] is True
    assert "plain_text_passwd" not in config["users"][1]
    assert config["ssh_pwauth"] is False
    assert json.loads(files["meta-data"])["local-hostname"] == "guest"
