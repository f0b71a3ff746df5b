"""Pure parts of issue 13: the ssh command line (jump host), escaping guest output, the
``ip:`` query term, addresses in ``vmtui stats``."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from vmtui.backend.models import GuestAddresses, GuestInfo, GuestState, NicAddresses
from vmtui.control.subjects import subject_of
from vmtui.core.escape import escape_output, is_binary
from vmtui.core.query import QueryError, parse
from vmtui.core.sshcmd import SshCommandError, command_line, jump_for, ssh_command
from vmtui.statsexport import format_csv, format_json, guest_sample

# ---------------------------------------------------------------- ssh


def test_a_qemu_ssh_host_becomes_the_jump_host() -> None:
    argv = ssh_command(
        "192.0.2.45/24", user="admin", host_uri="qemu+ssh://ops@hv1.example:2222/system"
    )
    assert argv == ["ssh", "-J", "ops@hv1.example:2222", "admin@192.0.2.45"]
    assert command_line(argv) == "ssh -J ops@hv1.example:2222 admin@192.0.2.45"


def test_jump_host_without_user_or_port_and_ipv6() -> None:
    assert ssh_command("10.0.0.5", host_uri="qemu+ssh://hv2/system") == [
        "ssh",
        "-J",
        "hv2",
        "10.0.0.5",
    ]
    jump = jump_for("qemu+ssh://root@[2001:db8::1]:22/system?keyfile=/k")
    assert jump is not None and jump.spec() == "root@[2001:db8::1]:22"


def test_local_and_tls_connections_have_no_jump_host() -> None:
    assert jump_for("qemu:///system") is None
    assert jump_for("qemu+tls://hv3/system") is None
    argv = ssh_command("fe80::1", user="u", port=2200, host_uri="qemu:///system")
    assert argv == ["ssh", "-p", "2200", "u@fe80::1"]


def test_config_options_come_before_the_destination() -> None:
    argv = ssh_command("127.0.0.1", options=("-F", "/tmp/cfg"), user="root")
    assert argv == ["ssh", "-F", "/tmp/cfg", "root@127.0.0.1"]


@pytest.mark.parametrize(
    ("address", "user", "uri"),
    [
        ("-oProxyCommand=x", "", ""),  # not an address
        ("192.0.2.1", "-oProxyCommand=x", ""),  # an option as a user
        ("192.0.2.1", "a b", ""),
        ("192.0.2.1", "", "qemu+ssh://-oProxyCommand=x@hv/system"),
        ("192.0.2.1", "", "qemu+ssh://hv;rm/system"),
    ],
)
def test_words_that_could_become_options_are_refused(address: str, user: str, uri: str) -> None:
    with pytest.raises(SshCommandError) as err:
        ssh_command(address, user=user, host_uri=uri)
    assert err.value.message.endswith(".")


# ---------------------------------------------------------------- escaping


def test_escape_sequences_and_binary_are_shown_escaped() -> None:
    raw = b"\x1b]52;c;SGVsbG8=\x07\x1b[31mred\r\n\xff\xfeok\ttab \xe2\x80\xaeevil\n"
    shown = escape_output(raw)
    assert shown == "\\x1b]52;c;SGVsbG8=\\x07\\x1b[31mred\\x0d\n\\xff\\xfeok\ttab \\u202eevil\n"
    assert "\x1b" not in shown and "\x07" not in shown
    assert is_binary(raw) and not is_binary("plain ünïcode\n".encode())


# ---------------------------------------------------------------- query


def guest(name: str, *addresses: str) -> GuestInfo:
    nics = (NicAddresses("eth0", "52:54:00:00:00:01", tuple(addresses)),) if addresses else ()
    return GuestInfo(
        uuid=name,
        name=name,
        state=GuestState.RUNNING,
        addresses=GuestAddresses("agent", nics) if addresses else None,
    )


def matching(query: str, guests: list[GuestInfo]) -> list[str]:
    pred = parse(query)
    return [g.name for g in guests if pred(subject_of(g, None))]


def test_ip_query_term() -> None:
    guests = [
        guest("web", "10.0.3.4/24", "fe80::5/64"),
        guest("db", "192.0.2.7/24"),
        guest("bare"),
    ]
    assert matching("ip:10.0.", guests) == ["web"]
    assert matching("ip:192.0.2.0/24", guests) == ["db"]
    assert matching("ip:fe80:", guests) == ["web"]
    assert matching("-ip:10.", guests) == ["db", "bare"]
    with pytest.raises(QueryError) as err:
        parse("ip:300.1.0.0/8")
    assert "not a network" in err.value.message


# ---------------------------------------------------------------- vmtui stats


def test_addresses_in_stats_json_and_csv() -> None:
    g = guest("web", "192.0.2.45/24", "2001:db8::45/64")
    row = guest_sample(g, None)
    assert row.ip == "192.0.2.45" and row.address_source == "agent"
    at = datetime(2026, 12, 5, tzinfo=UTC)
    record = json.loads(format_json(at, [row]))
    assert record["guests"][0]["addresses"] == ["192.0.2.45/24", "2001:db8::45/64"]
    assert record["guests"][0]["ip"] == "192.0.2.45"
    header, line = format_csv(at, [row], header=True).splitlines()
    cells = dict(zip(header.split(","), line.split(","), strict=True))
    assert cells["ip"] == "192.0.2.45"
    assert cells["addresses"] == "192.0.2.45/24 2001:db8::45/64"
    assert cells["address_source"] == "agent"
