"""The QEMU guest agent: what it tells about a guest and what it does in one.

``guest_info`` reads ``virDomainGetGuestInfo`` (OS, hostname, timezone, users, filesystems);
the actions go through libvirt's own agent calls (shutdown/reboot with the agent flag, set a
user's password, set the clock, freeze/thaw filesystems); ``run_command`` uses the agent's
``guest-exec`` / ``guest-exec-status`` through ``libvirt_qemu.qemuAgentCommand``, with a
timeout, and keeps at most ``OUTPUT_LIMIT`` bytes of each stream (saying how much was cut).

Every function takes a ``Hypervisor`` and blocks (the UI runs them in workers). Errors are
``VmtuiError`` sentences: no agent, an agent that does not answer, a read-only connection.
A password is never put in an error, a log line or a repr.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import libvirt
import libvirt_qemu

from vmtui.backend.errors import ActionFailed, ReadOnlyConnection, VmtuiError, libvirt_message
from vmtui.backend.hypervisor import Hypervisor
from vmtui.core.safetext import safe_text

AGENT_TIMEOUT = 10  # seconds libvirt waits for one agent answer (qemuAgentCommand)
EXEC_TIMEOUT = 30.0  # seconds a command may run before we stop waiting for it
OUTPUT_LIMIT = 256 * 1024  # bytes of stdout / stderr kept per guest


class AgentUnavailable(ActionFailed):
    """The guest has no agent, or its agent does not answer."""


@dataclass(frozen=True)
class FilesystemUsage:
    mountpoint: str
    name: str  # device name in the guest (vda1, tmpfs ...)
    fstype: str
    total_bytes: int | None
    used_bytes: int | None


@dataclass(frozen=True)
class GuestUser:
    name: str
    domain: str = ""  # Windows domain
    login_time: float | None = None  # seconds since the epoch


@dataclass(frozen=True)
class AgentInfo:
    """What the agent says about its guest (``virDomainGetGuestInfo``); "" where it said
    nothing."""

    os_name: str = ""
    os_version: str = ""
    os_pretty: str = ""
    kernel: str = ""
    hostname: str = ""
    timezone: str = ""
    tz_offset: int | None = None  # seconds east of UTC
    users: tuple[GuestUser, ...] = ()
    filesystems: tuple[FilesystemUsage, ...] = ()


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return None


def parse_guest_info(params: Mapping[str, Any]) -> AgentInfo:
    """libvirt's typed parameters (``os.name``, ``user.0.name``, ``fs.1.used-bytes`` …) as an
    ``AgentInfo``; unknown or missing keys are left out. Pure."""

    def text(key: str) -> str:  # the guest's own words: never terminal bytes (issue 14 #4)
        value = params.get(key)
        return safe_text(str(value)) if value is not None else ""

    users = []
    for i in range(_int(params.get("user.count")) or 0):
        login = params.get(f"user.{i}.login-time")  # milliseconds
        users.append(
            GuestUser(
                name=text(f"user.{i}.name"),
                domain=text(f"user.{i}.domain"),
                login_time=(int(login) / 1000.0) if isinstance(login, int | float) else None,
            )
        )
    filesystems = []
    for i in range(_int(params.get("fs.count")) or 0):
        filesystems.append(
            FilesystemUsage(
                mountpoint=text(f"fs.{i}.mountpoint"),
                name=text(f"fs.{i}.name"),
                fstype=text(f"fs.{i}.fstype"),
                total_bytes=_int(params.get(f"fs.{i}.total-bytes")),
                used_bytes=_int(params.get(f"fs.{i}.used-bytes")),
            )
        )
    return AgentInfo(
        os_name=text("os.name"),
        os_version=text("os.version") or text("os.version-id"),
        os_pretty=text("os.pretty-name"),
        kernel=text("os.kernel-release"),
        hostname=text("hostname"),
        timezone=text("timezone.name"),
        tz_offset=_int(params.get("timezone.offset")),
        users=tuple(users),
        filesystems=tuple(filesystems),
    )


def agent_sentence(err: libvirt.libvirtError, doing: str, name: str) -> VmtuiError:
    """A libvirt error from an agent call as a sentence saying what to do."""
    code = err.get_error_code()
    msg = libvirt_message(err)
    if code == libvirt.VIR_ERR_AGENT_UNRESPONSIVE or "agent" in msg.lower():
        if "not connected" in msg or "not configured" in msg or "unable to find" in msg:
            return AgentUnavailable(
                f"Could not {doing} in guest {name}: it has no guest agent running ({msg}). "
                "Install and start qemu-guest-agent in the guest, with the "
                "org.qemu.guest_agent.0 channel in its XML."
            )
        return AgentUnavailable(
            f"Could not {doing} in guest {name}: its guest agent did not answer ({msg})."
        )
    if code == libvirt.VIR_ERR_OPERATION_INVALID and "read only" in msg.lower():
        return ActionFailed(f"Could not {doing} in guest {name}: the connection is read-only.")
    return ActionFailed(f"Could not {doing} in guest {name}: {msg}.")


READ_ONLY = (
    "libvirt refuses guest agent calls on a read-only connection: restart vmtui without "
    "--readonly to use the agent of {name}."
)


def _guest(hv: Hypervisor, uuid: str, *, writable: bool) -> tuple[Any, str]:
    if hv.readonly:
        known = hv.known_guest(uuid)
        raise ReadOnlyConnection(READ_ONLY.format(name=known.name if known else "this guest"))
    _, dom, name = hv.lookup_guest(uuid, writable=writable)
    bound_agent_wait(dom)
    return dom, name


def bound_agent_wait(dom: Any, seconds: int = AGENT_TIMEOUT) -> None:
    """Make libvirt give up on this guest's agent after ``seconds``: its default is to wait
    for ever, and an agent that never answers (stopped, hung, busy guest) would hold the
    call — and the worker — until the guest goes away. The setting is the daemon's, per
    running guest (virsh guest-agent-timeout); drivers without it are left as they are."""
    with contextlib.suppress(libvirt.libvirtError, AttributeError):
        dom.agentSetResponseTimeout(seconds, 0)


def guest_info(hv: Hypervisor, uuid: str) -> AgentInfo:
    """OS, hostname, timezone, users and filesystems, as the guest's agent reports them.
    libvirt refuses agent calls on a read-only connection (a sentence says so)."""
    dom, name = _guest(hv, uuid, writable=True)
    try:
        params = dom.guestInfo(0, 0)
    except libvirt.libvirtError as err:
        raise agent_sentence(err, "read the guest's details", name) from None
    return parse_guest_info(params or {})


def _call(hv: Hypervisor, uuid: str, doing: str, call: Callable[[Any], object]) -> object:
    dom, name = _guest(hv, uuid, writable=True)
    try:
        return call(dom)
    except libvirt.libvirtError as err:
        raise agent_sentence(err, doing, name) from None
    finally:
        hv.touch(uuid)


AGENT = "agent"
ACPI = "acpi"
_SHUTDOWN_FLAGS = {
    AGENT: libvirt.VIR_DOMAIN_SHUTDOWN_GUEST_AGENT,
    ACPI: libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN,
}
_REBOOT_FLAGS = {
    AGENT: libvirt.VIR_DOMAIN_REBOOT_GUEST_AGENT,
    ACPI: libvirt.VIR_DOMAIN_REBOOT_ACPI_POWER_BTN,
}


def shutdown(hv: Hypervisor, uuid: str, via: str = AGENT) -> None:
    """Power the guest off through its agent (``via="agent"``) or the ACPI power button."""
    flags = _SHUTDOWN_FLAGS[via]
    _call(hv, uuid, "shut down", lambda d: d.shutdownFlags(flags))


def reboot(hv: Hypervisor, uuid: str, via: str = AGENT) -> None:
    flags = _REBOOT_FLAGS[via]
    _call(hv, uuid, "reboot", lambda d: d.reboot(flags))


def power_words(action: str, name: str, via: str) -> list[str]:
    """``virsh shutdown NAME --mode agent`` (the activity log's line)."""
    return [action, name, "--mode", via]


def set_password(hv: Hypervisor, uuid: str, user: str, password: str) -> None:
    """Set ``user``'s password in the guest (the agent runs chpasswd there). The password is
    never put in a message."""
    if not user or ":" in user or "\n" in user:
        raise ActionFailed("A user name is needed, without ':' or line breaks.")
    if not password or "\n" in password:
        raise ActionFailed("The password must not be empty nor hold a line break.")
    _call(hv, uuid, f"set the password of {user}", lambda d: d.setUserPassword(user, password, 0))


def password_words(name: str, user: str) -> list[str]:
    """The activity log's line: the password itself is never written."""
    return ["set-user-password", name, user, "********"]


def sync_time(hv: Hypervisor, uuid: str) -> None:
    """Set the guest's clock from the host's (after a resume or a restore)."""
    _call(hv, uuid, "set the clock", lambda d: d.setTime(None, libvirt.VIR_DOMAIN_TIME_SYNC))


def freeze(hv: Hypervisor, uuid: str) -> int:
    """Freeze the guest's filesystems; how many the agent froze."""
    return _int(_call(hv, uuid, "freeze the filesystems", lambda d: d.fsFreeze(None, 0))) or 0


def thaw(hv: Hypervisor, uuid: str) -> int:
    return _int(_call(hv, uuid, "thaw the filesystems", lambda d: d.fsThaw(None, 0))) or 0


# ---------------------------------------------------------------- running commands


@dataclass(frozen=True)
class ExecResult:
    """One guest's answer to a command: output (at most OUTPUT_LIMIT bytes per stream, the
    rest counted in ``*_cut``), exit code, or why there is none."""

    uuid: str
    name: str
    command: str
    exit_code: int | None = None
    signal: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    stdout_cut: int = 0  # bytes left out
    stderr_cut: int = 0
    truncated_by_agent: bool = False  # the agent itself stopped capturing (its own limit)
    timed_out: bool = False
    error: str = ""  # a sentence when the command could not run or be followed
    seconds: float = 0.0
    pid: int | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return not self.error and not self.timed_out and self.exit_code == 0


# libvirt refuses an agent answer over 10 MiB ("No complete agent response found"), and
# guest-exec has no size limit of its own: the guest's shell cuts each stream to the limit
# (head -c), counts what it dropped (wc -c; busybox's head reads ahead a block, so the count
# may be a little short) and says so in a marker line on stderr; the command's own exit code
# comes back through fd 3 as the wrapper's. POSIX sh: busybox, dash, bash.
EXEC_WRAPPER = (
    'n=$2; lim() { head -c "$n"; c=$(wc -c); c=$((c)); [ "$c" -eq 0 ] || '
    'printf \'\\n\\036vmtui-cut %s %s\\n\' "$1" "$c" >&5; }; exec 4>&1 5>&2; '
    '{ { { sh -c "$1" 3>&- 4>&- 5>&- 6>&-; echo $? >&3; } 2>&1 1>&6 | lim err >&5; } '
    '6>&1 | lim out >&4; } 3>&1 | { read -r rc; exit "$rc"; }'
)
_CUT = re.compile(rb"\n?\x1evmtui-cut (out|err) (\d+)\n")


def exec_request(command: str, limit: int = OUTPUT_LIMIT) -> str:
    """The agent's guest-exec request running ``command`` with ``/bin/sh -c``, each output
    stream cut to ``limit`` bytes in the guest (EXEC_WRAPPER)."""
    args = ["-c", EXEC_WRAPPER, "vmtui-exec", command, str(limit)]
    return json.dumps(
        {
            "execute": "guest-exec",
            "arguments": {"path": "/bin/sh", "arg": args, "capture-output": True},
        },
        separators=(",", ":"),
    )


def exec_words(name: str, command: str, limit: int = OUTPUT_LIMIT) -> list[str]:
    """``virsh qemu-agent-command NAME '{"execute":"guest-exec",…}'`` for the activity log."""
    return ["qemu-agent-command", name, exec_request(command, limit)]


def split_cut_notes(stderr: bytes) -> tuple[bytes, dict[str, int]]:
    """The guest's stderr without the wrapper's marker lines, and the bytes each stream lost."""
    cut: dict[str, int] = {}

    def note(m: re.Match[bytes]) -> bytes:
        cut[m.group(1).decode()] = int(m.group(2))
        return b""

    return _CUT.sub(note, stderr), cut


def _bounded(data: str | None, limit: int) -> tuple[bytes, int]:
    raw = base64.b64decode(data) if data else b""
    if len(raw) <= limit:
        return raw, 0
    return raw[:limit], len(raw) - limit


def _agent(dom: Any, request: Mapping[str, Any] | str, timeout: int) -> Any:
    text = request if isinstance(request, str) else json.dumps(request)
    answer = libvirt_qemu.qemuAgentCommand(dom, text, timeout, 0)
    return json.loads(answer).get("return")


def run_command(
    hv: Hypervisor,
    uuid: str,
    command: str,
    *,
    timeout: float = EXEC_TIMEOUT,
    limit: int = OUTPUT_LIMIT,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ExecResult:
    """Run ``command`` in the guest through its agent and wait for it (at most ``timeout``
    seconds). Never raises for the guest's own failures: the result says what happened
    (so a bulk run shows every guest); a read-only connection raises."""
    dom, name = _guest(hv, uuid, writable=True)
    start = clock()
    base = ExecResult(uuid, name, command)
    try:
        started = _agent(dom, exec_request(command, limit), AGENT_TIMEOUT)
        pid = int(started["pid"])
    except libvirt.libvirtError as err:
        said = agent_sentence(err, "run the command", name)
        return _replace(base, error=said.message, seconds=clock() - start)
    except (ValueError, KeyError, TypeError) as err:
        return _replace(
            base,
            error=f"The agent in {name} gave an answer we cannot read ({err}).",
        )
    delay = 0.05
    while True:
        try:
            status = _agent(
                dom, {"execute": "guest-exec-status", "arguments": {"pid": pid}}, AGENT_TIMEOUT
            )
        except libvirt.libvirtError as err:
            said = agent_sentence(err, "follow the command", name)
            return _replace(base, pid=pid, error=said.message, seconds=clock() - start)
        if status.get("exited"):
            out, out_cut = _bounded(status.get("out-data"), limit)
            err_b, err_cut = _bounded(status.get("err-data"), limit + 200)
            err_b, cut = split_cut_notes(err_b)
            err_b, more = err_b[:limit], len(err_b) - limit
            out_cut += cut.get("out", 0)
            err_cut += cut.get("err", 0) + max(0, more)
            return _replace(
                base,
                pid=pid,
                exit_code=_int(status.get("exitcode")),
                signal=_int(status.get("signal")),
                stdout=out,
                stderr=err_b,
                stdout_cut=out_cut,
                stderr_cut=err_cut,
                truncated_by_agent=bool(status.get("out-truncated") or status.get("err-truncated")),
                seconds=clock() - start,
            )
        if clock() - start >= timeout:
            return _replace(base, pid=pid, timed_out=True, seconds=clock() - start)
        sleep(delay)
        delay = min(0.5, delay * 2)


def _replace(base: ExecResult, **changes: Any) -> ExecResult:
    return dataclasses.replace(base, **changes)
