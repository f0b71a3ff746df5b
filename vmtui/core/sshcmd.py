"""The ``ssh`` command line that logs into a guest (pure: no Textual, no libvirt).

The guest's address is the one its host sees (a libvirt network's lease, the agent's report),
so when the host was reached over ``qemu+ssh://user@host:port`` the login goes through that
host as a jump host (``ssh -J user@host:port``). ssh's own host-key checks and prompts stay
the user's: no option here turns them off. Every word is checked first (a user, address or
host starting with ``-`` or holding spaces or shell characters could become an option), and
a problem is a sentence (``SshCommandError``).
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from vmtui.core.errors import Sentence

_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")
_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*$")


class SshCommandError(Sentence, ValueError):
    """Why no ssh command line can be built."""


@dataclass(frozen=True)
class Jump:
    """The host to go through: ``user@host:port`` (user and port may be empty)."""

    host: str
    user: str = ""
    port: int | None = None

    def spec(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{user}{host}{port}"


def jump_for(uri: str) -> Jump | None:
    """The jump host for a libvirt URI reached over ssh (``qemu+ssh://user@host:port/…``),
    None for a local or non-ssh connection."""
    parts = urllib.parse.urlsplit(uri)
    transport = parts.scheme.partition("+")[2]
    if transport != "ssh" or not parts.hostname:
        return None
    host = parts.hostname
    _check_host(host, "the host's name")
    user = urllib.parse.unquote(parts.username or "")
    if user:
        _check_user(user)
    try:
        port = parts.port
    except ValueError:
        raise SshCommandError(f"The port in {uri} is not a number.") from None
    return Jump(host, user, port)


def _check_user(user: str) -> None:
    if not _USER.match(user):
        raise SshCommandError(
            f"'{user}' cannot be a login name: use letters, digits, '.', '_' and '-', "
            "not starting with '-'."
        )


def _check_host(host: str, what: str) -> None:
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    if not _HOST.match(host):
        raise SshCommandError(f"'{host}' cannot be {what}: it is not a host name or address.")


def ssh_command(
    address: str,
    *,
    user: str = "",
    port: int | None = None,
    host_uri: str = "",
    options: Sequence[str] = (),
    ssh: str = "ssh",
) -> list[str]:
    """``ssh [options] [-p port] [-J jump] [user@]address``.

    ``address`` is the guest's (an IPv4 or IPv6 address, as libvirt reports it; a prefix
    length is dropped); ``user`` the login (empty: ssh's own default); ``host_uri`` the
    guest's connection, for the jump host; ``options`` the user's own ssh options from the
    config file, passed as they are (before the destination)."""
    addr = address.split("/")[0].strip()
    try:
        ipaddress.ip_address(addr.split("%")[0])
    except ValueError:
        raise SshCommandError(f"'{address}' is not an IP address.") from None
    if user:
        _check_user(user)
    if port is not None and not 1 <= port <= 65535:
        raise SshCommandError(f"Port {port} is not between 1 and 65535.")
    argv = [ssh, *options]
    if port is not None:
        argv += ["-p", str(port)]
    jump = jump_for(host_uri) if host_uri else None
    if jump is not None:
        argv += ["-J", jump.spec()]
    argv.append(f"{user}@{addr}" if user else addr)
    return argv


def command_line(argv: Sequence[str]) -> str:
    """The command as a shell would take it (the activity log's line)."""
    return shlex.join(argv)
