"""Saved connections: spec <-> URI, the safety checks, ~/.ssh/config hosts, the config file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from vmtui.backend.connections import (
    ConfigCorrupt,
    ConnectionSpec,
    ConnectionStore,
    InvalidConnection,
    config_path,
    merge_uris,
    parse_uri,
    ssh_config_hosts,
    ssh_failure_sentence,
)


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "id_ed25519"
    path.write_text("not really a key\n")
    return path


# ----------------------------------------------------------------------------- URIs
def test_an_ssh_spec_builds_its_uri_with_no_tty_and_reads_back_the_same(key: Path) -> None:
    spec = ConnectionSpec(
        name="hv2",
        transport="ssh",
        user="root",
        host="hv2.example.org",
        port=2222,
        keyfile=str(key),
        params=(("no_verify", "1"),),
        autoconnect=True,
    )
    uri = spec.uri()
    assert uri == f"qemu+ssh://root@hv2.example.org:2222/system?keyfile={key}&no_verify=1&no_tty=1"
    assert parse_uri(uri, name="hv2", autoconnect=True) == spec
    assert spec.problems() == []


@pytest.mark.parametrize(
    "uri",
    [
        "qemu:///system",
        "qemu:///session",
        "lxc:///",
        "test:///default",
        "test:///tmp/some/host.xml",
        "qemu+tls://hv3/system?pkipath=/etc/pki/libvirt",
        "qemu+tcp://10.0.0.5:16509/system",
        "qemu+ssh://[2001:db8::1]:22/system?no_tty=1",
        "qemu+libssh2://me@hv4/system?known_hosts=/tmp/kh&sshauth=agent,privkey",
    ],
)
def test_uris_round_trip(uri: str) -> None:
    spec = parse_uri(uri)
    assert spec.uri() == uri
    assert parse_uri(spec.uri()) == spec


def test_the_ipv6_host_is_kept_without_brackets() -> None:
    spec = parse_uri("qemu+ssh://root@[::1]:2022/system")
    assert (spec.host, spec.port, spec.user) == ("::1", 2022, "root")
    assert spec.problems(check_files=False) == []


def test_no_tty_is_added_to_ssh_uris_only() -> None:
    assert "no_tty=1" in ConnectionSpec("a", transport="ssh", host="h").uri()
    assert "no_tty" not in ConnectionSpec("a", transport="tls", host="h").uri()
    assert "no_tty" not in ConnectionSpec("a").uri()


def test_text_that_is_not_a_uri_is_refused_with_a_sentence() -> None:
    with pytest.raises(InvalidConnection, match="is not a libvirt URI"):
        parse_uri("hv2")
    with pytest.raises(InvalidConnection, match="is not a number"):
        parse_uri("qemu+ssh://hv2:ssh/system")


# ----------------------------------------------------------------------------- checks
INJECTIONS = [
    "a;reboot",
    "$(reboot)",
    "`reboot`",
    "a|b",
    "a&&b",
    "a b",
    "a\nb",
    "a>x",
    "x?command=sh",
    "x&netcat=nc",
    "x&proxy=netcat",
]


@pytest.mark.parametrize("bad", INJECTIONS)
@pytest.mark.parametrize("field", ["name", "user", "host", "path", "driver", "transport"])
def test_shell_metacharacters_are_refused_in_every_field(field: str, bad: str) -> None:
    base = ConnectionSpec(name="ok", transport="ssh", host="hv2", user="root")
    if field == "name" and bad == "a b":
        return  # spaces are fine in a name: it never reaches a command line
    spec = base.__class__(**{**base.__dict__, field: bad})
    problems = spec.problems(check_files=False)
    assert problems, f"{field}={bad!r} was accepted"
    assert any(field in p for p in problems), problems
    with pytest.raises(InvalidConnection):
        spec.check(check_files=False)


@pytest.mark.parametrize("bad", INJECTIONS)
def test_shell_metacharacters_are_refused_in_keyfile_and_parameters(bad: str) -> None:
    spec = ConnectionSpec(name="ok", transport="ssh", host="hv2", keyfile=f"/tmp/{bad}")
    assert any("key" in p for p in spec.problems(check_files=False))
    spec = ConnectionSpec(name="ok", transport="ssh", host="hv2", params=(("known_hosts", bad),))
    assert spec.problems(check_files=False)
    spec = ConnectionSpec(name="ok", transport="ssh", host="hv2", params=((bad, "1"),))
    assert spec.problems(check_files=False)


@pytest.mark.parametrize(
    "query, why",
    [
        ("command=/bin/sh", "replaces the ssh command"),
        ("netcat=nc%20-e%20/bin/sh", "through the remote host's shell"),
        ("netcat=nc", "through the remote host's shell"),
        ("proxy=netcat", "through the remote host's shell"),
        ("socket=/run/x", "refused on a remote connection"),
        ("name=qemu:///session", "behind the URI's back"),
        ("unknown=1", "is not one vmtui allows"),
        ("no_verify=yes", "takes 0 or 1"),
        ("mode=$(id)", "contains '$'"),
        ("sshauth=agent,magic", "takes agent or privkey"),
    ],
)
def test_dangerous_or_unknown_query_parameters_are_refused(query: str, why: str) -> None:
    spec = parse_uri(f"qemu+ssh://root@hv2/system?{query}")
    problems = spec.problems(check_files=False)
    assert any(why in p for p in problems), problems


def test_the_socket_parameter_is_fine_on_a_local_connection() -> None:
    assert parse_uri("qemu:///system?socket=/run/libvirt/libvirt-sock").problems() == []


@pytest.mark.parametrize(
    "host, ok",
    [
        ("hv2", True),
        ("hv2.example.org", True),
        ("192.168.1.20", True),
        ("::1", True),
        ("2001:db8::7", True),
        ("-oProxyCommand=x", False),
        ("bad-.example", False),
        ("a" * 64, False),
        ("fe80::1%eth0", False),
        ("999.1.1.1", False),
        ("10.1.1", False),
        ("", False),
    ],
)
def test_the_host_must_be_a_hostname_or_an_ip_address(host: str, ok: bool) -> None:
    problems = ConnectionSpec("x", transport="ssh", host=host).problems()
    assert (problems == []) is ok, problems


@pytest.mark.parametrize("port, ok", [(1, True), (65535, True), (0, False), (65536, False)])
def test_the_port_is_between_1_and_65535(port: int, ok: bool) -> None:
    problems = ConnectionSpec("x", transport="ssh", host="h", port=port).problems()
    assert (problems == []) is ok
    if not ok:
        assert problems == [f"The port {port} is not between 1 and 65535."]


def test_the_key_file_must_exist_and_be_a_file(tmp_path: Path, key: Path) -> None:
    def problems(keyfile: str) -> list[str]:
        return ConnectionSpec("x", transport="ssh", host="h", keyfile=keyfile).problems()

    assert problems(str(key)) == []
    assert problems(str(tmp_path / "missing")) == [
        f"The key file {tmp_path / 'missing'} does not exist."
    ]
    assert problems(str(tmp_path)) == [f"The key file {tmp_path} is not a file."]
    assert problems("id_ed25519") == ["The key file must be an absolute path, not 'id_ed25519'."]


def test_a_local_connection_has_no_host_and_a_remote_one_needs_one() -> None:
    assert ConnectionSpec("x", host="h").problems() == [
        "A local connection has no host, user or port; choose the ssh, tls or tcp transport "
        "to reach another machine."
    ]
    assert ConnectionSpec("x", transport="ssh").problems() == ["A ssh connection needs a host."]


def test_qemu_paths_are_system_or_session() -> None:
    assert ConnectionSpec("x", path="../../etc").problems()
    assert ConnectionSpec("x", path="other").problems() == [
        "The path of a qemu connection is system or session, not 'other'."
    ]


# ----------------------------------------------------------------------------- ssh
def test_ssh_failures_become_sentences_that_say_what_to_do() -> None:
    uri = "qemu+ssh://root@hv2:2222/system?no_tty=1"
    denied = ssh_failure_sentence(
        uri,
        "Cannot recv data: root@hv2: Permission denied (publickey,password).: "
        "Connection reset by peer",
    )
    assert denied == (
        "root@hv2:2222 needs key authentication (vmtui cannot answer ssh's password prompt); "
        "add your key with ssh-copy-id or set the connection's key file."
    )
    unknown = "Cannot recv data: ssh: Could not resolve hostname hv9: Name or service not known"
    assert ssh_failure_sentence(uri, unknown) == (
        "ssh cannot find the host of root@hv2:2222: no such hostname."
    )
    refused = "Cannot recv data: ssh: connect to host hv2 port 2222: Connection refused"
    assert "connection refused" in (ssh_failure_sentence(uri, refused) or "")
    assert ssh_failure_sentence("qemu:///system", "Permission denied") is None


def test_hosts_come_from_ssh_config_without_wildcards(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "lab").write_text("Host lab1\n  HostName 10.1.1.1\n")
    config = tmp_path / "config"
    config.write_text(
        "# my hosts\n"
        "Include conf.d/*\n"
        "Host hv2 hv2-alt\n"
        "    HostName hv2.example.org\n"
        "    User root\n"
        "    Port 2222\n"
        "    IdentityFile ~/.ssh/hv2\n"
        "Host *.internal web-?? !skip\n"
        "    User admin\n"
        "Host=db1\n"
        "    Port=2200\n"
        "Host evil;reboot\n"
        "Match host foo\n"
        "    User nobody\n"
        "Host *\n"
        "    ServerAliveInterval 30\n"
    )
    hosts = ssh_config_hosts(config)
    assert [h.alias for h in hosts] == ["lab1", "hv2", "hv2-alt", "db1"]
    hv2 = hosts[1]
    assert (hv2.hostname, hv2.user, hv2.port, hv2.identity_file) == (
        "hv2.example.org",
        "root",
        2222,
        "~/.ssh/hv2",
    )
    assert hosts[3].port == 2200
    assert hv2.spec().uri() == "qemu+ssh://hv2/system?no_tty=1"
    assert ssh_config_hosts(tmp_path / "none") == []


# ----------------------------------------------------------------------------- config file
def test_the_config_path_comes_from_vmtui_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VMTUI_CONFIG", str(tmp_path / "c.toml"))
    assert config_path() == tmp_path / "c.toml"
    monkeypatch.delenv("VMTUI_CONFIG")
    assert config_path().name == "config.toml" and "vmtui" in str(config_path())


def test_saved_connections_load_back_and_the_file_is_private(tmp_path: Path, key: Path) -> None:
    store = ConnectionStore(tmp_path / "sub" / "config.toml")
    assert store.load() == []
    specs = [
        ConnectionSpec("local"),
        ConnectionSpec(
            "hv2",
            transport="ssh",
            user="root",
            host="hv2",
            port=2222,
            keyfile=str(key),
            params=(("no_verify", "1"),),
            autoconnect=True,
        ),
        ConnectionSpec("fake", driver="test", path="/tmp/h.xml"),
    ]
    store.save(specs)
    assert ConnectionStore(store.path).load() == specs
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert "[[connection]]" in store.path.read_text()
    assert [p.name for p in store.path.parent.iterdir()] == ["config.toml"]  # no temp left


def test_saving_keeps_other_settings_and_follows_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.toml"
    real.write_text('theme = "dark"\n')
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    ConnectionStore(link).add(ConnectionSpec("local"))
    assert link.is_symlink()
    assert 'theme = "dark"' in real.read_text()
    assert ConnectionStore(link).load() == [ConnectionSpec("local")]


def test_add_refuses_a_second_connection_with_the_same_name(tmp_path: Path) -> None:
    store = ConnectionStore(tmp_path / "c.toml")
    store.add(ConnectionSpec("a"))
    with pytest.raises(InvalidConnection, match="exists already"):
        store.add(ConnectionSpec("a", path="session"))
    store.add(ConnectionSpec("b", path="session"), replace="a")
    assert store.load() == [ConnectionSpec("b", path="session")]
    assert store.remove("b") == []


def test_a_uri_entry_written_by_hand_is_read(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[[connection]]\nname = "x"\nuri = "qemu+ssh://root@hv2/system"\n')
    (spec,) = ConnectionStore(path).load()
    assert (spec.name, spec.host, spec.transport) == ("x", "hv2", "ssh")


@pytest.mark.parametrize(
    "text, says",
    [
        ('[[connection]]\nname = "a"\nport = \n', "line 3"),
        ('[[connection]]\nname = "a"\n\n[[connection]\n', "line 4"),
        ('[[connection]]\nname = "a"\nport = "22"\n', "port must be a whole number"),
        ('[[connection]]\nname = "a"\ncolour = "red"\n', "unknown key 'colour'"),
        ("connection = 3\n", "must be [[connection]] tables"),
        ('[[connection]]\nname = "a"\n[[connection]]\nname = "a"\n', "two connections named"),
    ],
)
def test_a_broken_file_is_reported_and_never_overwritten(
    tmp_path: Path, text: str, says: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    os.chmod(path, 0o644)
    before = path.read_bytes()
    store = ConnectionStore(path)
    with pytest.raises(ConfigCorrupt) as caught:
        store.load()
    assert says in caught.value.message
    assert str(path) in caught.value.message
    with pytest.raises(ConfigCorrupt):
        store.save([ConnectionSpec("new")])
    with pytest.raises(ConfigCorrupt):
        store.add(ConnectionSpec("new"))
    assert path.read_bytes() == before
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_the_line_of_a_toml_error_is_given(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[connection]]\nname = "a"\nhost = hv2\n')
    with pytest.raises(ConfigCorrupt) as caught:
        ConnectionStore(path).load()
    assert caught.value.line == 3
    assert "not valid TOML at line 3" in caught.value.message


def test_autoconnect_connections_join_the_command_line_ones() -> None:
    saved = [
        ConnectionSpec("a", driver="test", path="/tmp/a.xml", autoconnect=True),
        ConnectionSpec("b", driver="test", path="/tmp/b.xml"),
        ConnectionSpec("bad", transport="ssh", host="h;x", autoconnect=True),
        ConnectionSpec("dup", driver="test", path="/tmp/c.xml", autoconnect=True),
    ]
    assert merge_uris(["test:///tmp/c.xml"], saved) == ["test:///tmp/c.xml", "test:///tmp/a.xml"]


def test_lasting_ssh_failures_are_retried_after_a_long_wait() -> None:
    from vmtui.backend.connections import SSH_LASTING_RETRY, ssh_failure_is_lasting
    from vmtui.backend.hypervisor import Backoff

    assert ssh_failure_is_lasting("root@hv2: Permission denied (publickey).")
    assert ssh_failure_is_lasting("Host key verification failed.")
    assert not ssh_failure_is_lasting("ssh: connect to host hv2 port 22: Connection refused")
    backoff = Backoff()
    backoff.hold(SSH_LASTING_RETRY)
    assert [backoff.next(), backoff.next(), backoff.next()] == [SSH_LASTING_RETRY, 0.5, 1.0]


def test_saves_from_several_workers_at_once_lose_nothing(tmp_path: Path) -> None:
    import threading

    store = ConnectionStore(tmp_path / "c.toml")
    threads = [
        threading.Thread(target=store.add, args=(ConnectionSpec(f"h{i}", path="session"),))
        for i in range(12)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s.name for s in store.load()) == sorted(f"h{i}" for i in range(12))


@pytest.mark.parametrize(
    "uri",
    [
        "qemu+ssh://$(reboot)@hv2/system",
        "qemu+ssh://root@hv2;reboot/system",
        "qemu+ssh://root@`reboot`/system",
        "qemu+ssh://root@hv2/system;reboot",
        "qemu+ssh://root@hv2/system?keyfile=/tmp/k;reboot",
        "qemu+ssh://root@hv2/system?command=reboot",
        "qemu+ssh://root@hv2/system?netcat=reboot",
        "qemu+ssh://root@hv2/system?no_verify=1&netcat=%24(reboot)",
        "qemu+ssh://root@hv2/system?socket=/tmp/s%3Breboot",
    ],
)
def test_a_parsed_uri_with_an_injection_anywhere_is_refused(uri: str) -> None:
    spec = parse_uri(uri)
    assert spec.problems(check_files=False), uri
    with pytest.raises(InvalidConnection):
        spec.check(check_files=False)
    assert merge_uris([], [ConnectionSpec(**{**spec.__dict__, "autoconnect": True})]) == []


@pytest.mark.parametrize(
    "text",
    ["x = " + "[" * 3000 + "]" * 3000 + "\n", "x = " + "{a = " * 3000 + "1" + "}" * 3000],
    ids=["arrays", "inline-tables"],
)
def test_a_deeply_nested_config_is_a_sentence_not_a_traceback(tmp_path: Path, text: str) -> None:
    """Issue 14 #11: tomllib recursed into a RecursionError at start-up."""
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigCorrupt) as caught:
        ConnectionStore(path).load()
    assert "nests arrays or tables too deeply" in caught.value.message
    assert str(path) in caught.value.message
    with pytest.raises(ConfigCorrupt):
        ConnectionStore(path).add(ConnectionSpec("new", path="session"))
    assert path.read_text() == text


_SLOW_ADDER = """
import sys, time
from pathlib import Path
from vmtui.backend import connections as c

path, marker = Path(sys.argv[1]), Path(sys.argv[2])
load = c.ConnectionStore.load

def slow_load(self):
    specs = load(self)
    marker.write_text("read")  # the parent adds its own connection now
    time.sleep(1.5)
    return specs

c.ConnectionStore.load = slow_load
c.ConnectionStore(path).add(c.ConnectionSpec("from-child", path="session"))
"""


def test_two_processes_saving_at_once_lose_no_update(tmp_path: Path) -> None:
    """Issue 14 #11: the lock was per process, so a second vmtui's save overwrote the first's
    change made between its load and its save."""
    import subprocess
    import sys
    import time

    path, marker = tmp_path / "config.toml", tmp_path / "marker"
    store = ConnectionStore(path)
    store.add(ConnectionSpec("first", path="session"))
    child = subprocess.Popen([sys.executable, "-c", _SLOW_ADDER, str(path), str(marker)])
    try:
        for _ in range(300):  # the child has read the file and holds it
            if marker.exists() or child.poll() is not None:
                break
            time.sleep(0.05)
        assert marker.exists(), "the child never read the file"
        store.add(ConnectionSpec("from-parent", path="session"))  # waits for the child
    finally:
        assert child.wait(timeout=30) == 0
    names = sorted(s.name for s in store.load())
    assert names == ["first", "from-child", "from-parent"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "marker"]
