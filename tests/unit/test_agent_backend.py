"""The guest agent's backend (backend/agent.py) without a guest: recorded answers, a fake
agent channel, the shell wrapper that bounds output, and the sentences."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest

from tests.conftest import connected_hypervisor
from vmtui.backend import Hypervisor, ReadOnlyConnection
from vmtui.backend import agent as agent_calls
from vmtui.backend.agent import (
    EXEC_WRAPPER,
    AgentUnavailable,
    agent_sentence,
    exec_request,
    exec_words,
    parse_guest_info,
    password_words,
    split_cut_notes,
)
from vmtui.core.activity import virsh

DATA = Path(__file__).resolve().parents[1] / "data"
INSIDE = f"test://{DATA / 'inside_host.xml'}"
WEB = "d1000000-0000-0000-0000-000000000001"

# virsh guestinfo from the tiny guest (qemu-ga 7.2), as libvirt-python's guestInfo() gives it
RECORDED = {
    "user.count": 1,
    "user.0.name": "root",
    "user.0.login-time": 1764967200123,
    "os.id": "vmtui-tiny",
    "os.name": "vmtui tiny",
    "os.pretty-name": "vmtui tiny guest 1",
    "os.version": "1 (busybox)",
    "os.version-id": "1",
    "os.kernel-release": "6.1.0-57-cloud-amd64",
    "timezone.name": "CET",
    "timezone.offset": 3600,
    "hostname": "agenthost",
    "fs.count": 2,
    "fs.0.name": "vda1",
    "fs.0.mountpoint": "/",
    "fs.0.fstype": "ext4",
    "fs.0.total-bytes": 10737418240,
    "fs.0.used-bytes": 2147483648,
    "fs.1.name": "tmpfs",
    "fs.1.mountpoint": "/tmp",
    "fs.1.fstype": "tmpfs",
}


def test_guest_info_from_recorded_parameters() -> None:
    info = parse_guest_info(RECORDED)
    assert info.hostname == "agenthost"
    assert info.os_pretty == "vmtui tiny guest 1" and info.os_version == "1 (busybox)"
    assert info.timezone == "CET" and info.tz_offset == 3600
    assert [u.name for u in info.users] == ["root"]
    assert info.users[0].login_time == pytest.approx(1764967200.123)
    assert [f.mountpoint for f in info.filesystems] == ["/", "/tmp"]
    assert info.filesystems[0].used_bytes == 2147483648
    assert info.filesystems[1].total_bytes is None  # not reported: unknown, not 0


def test_guest_info_with_nothing_reported() -> None:
    info = parse_guest_info({})
    assert info.hostname == "" and info.users == () and info.filesystems == ()


def error(code: int, message: str) -> libvirt.libvirtError:
    err = libvirt.libvirtError(message)
    err.err = (code, 0, message, 0, "", "", "", 0, 0)
    return err


def test_sentences_for_no_agent_and_a_silent_one() -> None:
    none = agent_sentence(
        error(libvirt.VIR_ERR_AGENT_UNRESPONSIVE, "QEMU guest agent is not connected"),
        "run the command",
        "web",
    )
    assert isinstance(none, AgentUnavailable)
    assert none.message.startswith("Could not run the command in guest web: it has no guest")
    silent = agent_sentence(
        error(
            libvirt.VIR_ERR_AGENT_UNRESPONSIVE,
            "Guest agent is not responding: Guest agent not available for now",
        ),
        "read the guest's details",
        "web",
    )
    assert "did not answer" in silent.message


def test_the_password_is_never_in_the_log_line() -> None:
    words = password_words("web", "root")
    assert words == ["set-user-password", "web", "root", "********"]


def test_exec_is_logged_as_its_virsh_line() -> None:
    line = virsh("qemu:///system", *exec_words("web", "echo $((6*7))"))
    assert line.startswith('virsh -c qemu:///system qemu-agent-command web \'{"execute":')
    request = json.loads(exec_request("echo $((6*7))"))
    assert request["execute"] == "guest-exec"
    args = request["arguments"]["arg"]
    assert (
        args[0] == "-c" and args[3] == "echo $((6*7))" and args[4] == str(agent_calls.OUTPUT_LIMIT)
    )
    assert request["arguments"]["capture-output"] is True


@pytest.mark.parametrize("shell", ["dash", "bash", "busybox"])
def test_the_wrapper_bounds_each_stream_and_keeps_the_exit_code(shell: str) -> None:
    exe = {"dash": ["dash"], "bash": ["bash"], "busybox": ["busybox", "sh"]}[shell]
    try:
        proc = subprocess.run(
            [
                *exe,
                "-c",
                EXEC_WRAPPER,
                "vmtui-exec",
                "head -c 5000 /dev/zero | tr '\\0' o; printf 'e%.0s' $(seq 300) >&2; exit 7",
                "1000",
            ],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except FileNotFoundError:
        pytest.skip(f"{shell} is not installed")
    assert proc.returncode == 7
    assert proc.stdout == b"o" * 1000
    err, cut = split_cut_notes(proc.stderr)
    assert err == b"e" * 300
    assert 0 < cut["out"] <= 4000  # busybox's head may read a block ahead
    assert "err" not in cut


def test_split_cut_notes() -> None:
    err, cut = split_cut_notes(b"oops\n\n\x1evmtui-cut out 123\n\n\x1evmtui-cut err 9\n")
    assert err == b"oops\n" and cut == {"out": 123, "err": 9}


# ---------------------------------------------------------------- a fake agent


class FakeAgent:
    """Answers guest-exec / guest-exec-status like qemu-ga."""

    def __init__(self, status: list[dict[str, Any]]) -> None:
        self.status = status
        self.requests: list[dict[str, Any]] = []

    def __call__(self, dom: Any, request: Any, timeout: int) -> Any:
        parsed = json.loads(request) if isinstance(request, str) else request
        self.requests.append(parsed)
        if parsed["execute"] == "guest-exec":
            return {"pid": 4242}
        answer = self.status.pop(0) if len(self.status) > 1 else self.status[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer


@pytest.fixture
def inside() -> Iterator[Hypervisor]:
    yield from connected_hypervisor(INSIDE)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_run_command_waits_for_the_exit(
    inside: Hypervisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeAgent(
        [
            {"exited": False},
            {"exited": True, "exitcode": 0, "out-data": b64(b"42\n")},
        ]
    )
    monkeypatch.setattr(agent_calls, "_agent", fake)
    result = agent_calls.run_command(inside, WEB, "echo $((6*7))", sleep=lambda s: None)
    assert result.ok and result.stdout == b"42\n" and result.pid == 4242
    assert [r["execute"] for r in fake.requests] == [
        "guest-exec",
        "guest-exec-status",
        "guest-exec-status",
    ]


def test_run_command_that_never_ends_times_out(
    inside: Hypervisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr(agent_calls, "_agent", FakeAgent([{"exited": False}]))
    result = agent_calls.run_command(
        inside, WEB, "sleep 1000", timeout=5, clock=lambda: now[0], sleep=sleep
    )
    assert result.timed_out and result.exit_code is None and not result.ok
    assert 5 <= result.seconds < 6


def test_run_command_output_over_the_limit_is_cut_and_counted(
    inside: Hypervisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = b"x" * 5000
    note = b"\n\x1evmtui-cut out 10000000\n"
    monkeypatch.setattr(
        agent_calls,
        "_agent",
        FakeAgent([{"exited": True, "exitcode": 0, "out-data": b64(big), "err-data": b64(note)}]),
    )
    result = agent_calls.run_command(inside, WEB, "yes", limit=1000, sleep=lambda s: None)
    assert result.stdout == b"x" * 1000
    assert result.stdout_cut == 4000 + 10000000
    assert result.stderr == b""


def test_run_command_agent_errors_become_the_results_sentence(
    inside: Hypervisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(dom: Any, request: Any, timeout: int) -> Any:
        raise error(libvirt.VIR_ERR_AGENT_UNRESPONSIVE, "QEMU guest agent is not connected")

    monkeypatch.setattr(agent_calls, "_agent", refuse)
    result = agent_calls.run_command(inside, WEB, "true")
    assert "has no guest agent running" in result.error and not result.ok


def test_read_only_refuses_with_a_sentence() -> None:
    hv = Hypervisor(INSIDE, readonly=True)
    hv.connect()
    try:
        hv.poll()
        with pytest.raises(ReadOnlyConnection) as err:
            agent_calls.run_command(hv, WEB, "true")
        assert "read-only" in err.value.message and "web" in err.value.message
        with pytest.raises(ReadOnlyConnection):
            agent_calls.set_password(hv, WEB, "root", "pw")
    finally:
        hv.close()


def test_set_password_refuses_bad_input_without_echoing_the_password(
    inside: Hypervisor,
) -> None:
    with pytest.raises(agent_calls.ActionFailed) as err:
        agent_calls.set_password(inside, WEB, "root", "line\nbreak-secret")
    assert "secret" not in err.value.message
    with pytest.raises(agent_calls.ActionFailed):
        agent_calls.set_password(inside, WEB, "a:b", "pw")
