"""Saved connections: a spec per host, its libvirt URI, checks, ~/.ssh/config hosts, the file.

Blocking, no Textual. A :class:`ConnectionSpec` is what the user fills in (driver, transport,
user, host, port, path, key file, a few query parameters, autoconnect); :meth:`uri` builds the
libvirt URI and :func:`parse_uri` reads one back.

Why the checks are strict: libvirt's ssh transport runs ``ssh`` locally and a shell command on
the remote host, and some URI parameters (``command``, ``netcat``, ``socket``, ``proxy``...)
end up in those command lines. Every field is therefore refused when it holds a shell
metacharacter, the host must be a hostname or an IP address, and query parameters come from an
allow-list. ``no_tty=1`` is added to every ``ssh`` URI so that ssh never asks for a password on
the terminal (it would scribble over the screen): key authentication only.

The config file is TOML (``[[connection]]`` tables) under ``user_config_dir("vmtui")``, or
``$VMTUI_CONFIG``. It is written atomically (temporary file in the same directory, fsync,
``os.replace``, mode 0600). A file that does not parse is never overwritten: saving refuses,
with the file's path and the line of the error, until the user fixes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import glob
import ipaddress
import os
import re
import stat
import tempfile
import threading
import tomllib
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
from platformdirs import user_config_dir

from vmtui.backend.errors import VmtuiError
from vmtui.backend.models import sanitise_fields
from vmtui.core.safetext import has_unsafe, safe_text

DRIVERS = ("qemu", "lxc", "test", "xen", "libxl", "ch", "bhyve", "vbox")
TRANSPORTS = ("local", "ssh", "libssh", "libssh2", "tls", "tcp")
SSH_TRANSPORTS = ("ssh", "libssh", "libssh2")
PATHS = ("system", "session")

# Query parameters vmtui accepts, with the values each may take (None: a path, checked apart).
ALLOWED_PARAMS: dict[str, tuple[str, ...] | None] = {
    "no_verify": ("0", "1"),
    "keyfile": None,
    "known_hosts": None,
    "known_hosts_verify": ("normal", "auto", "ignore"),
    "sshauth": ("agent", "privkey", "password", "keyboard-interactive"),  # a comma list
    "mode": ("auto", "legacy", "direct"),
    "socket": None,  # local transport only
    "no_tty": ("1",),
    "pkipath": None,
}
# Parameters refused outright, with why (each reaches a shell or replaces the command run).
REFUSED_PARAMS: dict[str, str] = {
    "command": "it replaces the ssh command vmtui runs on this machine",
    "netcat": "it names a program libvirt runs through the remote host's shell",
    "proxy": "it changes the program libvirt runs through the remote host's shell",
    "name": "it changes which hypervisor the remote daemon opens behind the URI's back",
    "tls_priority": "vmtui does not need it and it is passed on unchecked",
}

# Characters a shell treats specially, plus whitespace and control characters.
_META = re.compile(r"[;&|$`<>(){}\[\]*?!~'\"\\#%=\s\x00-\x1f\x7f]")
_META_NAME = re.compile(r"[;&|$`<>(){}\[\]*?!~'\"\\#%=\t\n\r\x00-\x1f\x7f]")
_LABEL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_PATH = re.compile(r"^[A-Za-z0-9_./+,:@-]*$")


class InvalidConnection(VmtuiError):
    """A connection spec or URI vmtui refuses; the message says what and why."""


class ConfigError(VmtuiError):
    """The config file cannot be read or written; the message names the file."""


class ConfigCorrupt(ConfigError):
    """The config file does not parse (or holds values of the wrong kind); it is left as is
    and saving refuses until the user fixes it."""

    def __init__(self, message: str, path: Path, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


def _show(value: str) -> str:
    return repr(value) if value else "''"


def _meta_problem(what: str, value: str, pattern: re.Pattern[str] = _META) -> str | None:
    found = pattern.search(value)
    if found is None:
        return None
    char = found.group(0)
    shown = {" ": "a space", "\n": "a line break", "\t": "a tab"}.get(char, repr(char))
    return (
        f"The {what} {_show(value)} contains {shown}; shell special characters are refused "
        "because libvirt passes this field to ssh and the remote shell."
    )


def host_problem(host: str) -> str | None:
    """None when ``host`` is a hostname, an IPv4 or an IPv6 address; else the sentence."""
    bad = _meta_problem("host", host)
    if bad:
        return bad
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return None
    labels = host.split(".")
    if all(label.isdigit() for label in labels):
        return f"The host {_show(host)} is not a valid IPv4 address."
    if len(host) <= 253 and all(_LABEL.match(label) for label in labels):
        return None
    return (
        f"The host {_show(host)} is not a hostname, an IPv4 or an IPv6 address "
        "(letters, digits, dots and dashes; no dash at either end of a part)."
    )


@dataclass(frozen=True)
class ConnectionSpec:
    """One saved (or typed) connection. ``uri()`` builds its libvirt URI."""

    name: str
    driver: str = "qemu"
    transport: str = "local"
    user: str = ""
    host: str = ""
    port: int | None = None
    path: str = "system"
    keyfile: str = ""
    params: tuple[tuple[str, str], ...] = ()  # other query parameters, in order
    autoconnect: bool = False

    def __post_init__(self) -> None:
        # Text from the config file or the form: no control, bidi or zero-width character
        # reaches the screen (issue 14 #4); such a spec is refused by problems() anyway.
        sanitise_fields(self, "name", "driver", "transport", "user", "host", "path", "keyfile")
        if self.params and has_unsafe("".join(k + v for k, v in self.params)):
            safe = tuple((safe_text(k), safe_text(v)) for k, v in self.params)
            object.__setattr__(self, "params", safe)

    # ------------------------------------------------------------------ URI
    @property
    def scheme(self) -> str:
        return self.driver if self.transport == "local" else f"{self.driver}+{self.transport}"

    @property
    def remote(self) -> bool:
        return self.transport != "local"

    def query(self) -> list[tuple[str, str]]:
        """The query parameters the URI gets: key file, the others, then ``no_tty=1`` (ssh)."""
        out: list[tuple[str, str]] = []
        if self.keyfile:
            out.append(("keyfile", self.keyfile))
        out += [(k, v) for k, v in self.params if k != "keyfile"]
        if self.transport == "ssh" and not any(k == "no_tty" for k, _ in out):
            out.append(("no_tty", "1"))
        return out

    def uri(self) -> str:
        """The libvirt URI, e.g. ``qemu+ssh://root@hv2:2222/system?keyfile=/k&no_tty=1``."""
        authority = ""
        if self.host:
            host = f"[{self.host}]" if ":" in self.host else self.host
            user = f"{urllib.parse.quote(self.user, safe='')}@" if self.user else ""
            port = f":{self.port}" if self.port is not None else ""
            authority = f"{user}{host}{port}"
        path = "/" + self.path.lstrip("/") if self.path else "/"
        query = "&".join(f"{k}={urllib.parse.quote(v, safe='/,:@+-._')}" for k, v in self.query())
        return f"{self.scheme}://{authority}{urllib.parse.quote(path, safe='/,:@+-._')}" + (
            f"?{query}" if query else ""
        )

    # ------------------------------------------------------------------ checks
    def problems(self, *, check_files: bool = True) -> list[str]:
        """Every reason this spec cannot be used, one sentence each ([] when it is fine).

        ``check_files`` also checks that the key file (and other path parameters) exist."""
        out: list[str] = []
        if not self.name.strip():
            out.append("Give the connection a name.")
        else:
            bad = _meta_problem("name", self.name, _META_NAME)
            if bad:
                out.append(bad)
        if self.driver not in DRIVERS:
            bad = _meta_problem("driver", self.driver)
            out.append(
                bad or f"The driver {_show(self.driver)} is not one of {', '.join(DRIVERS)}."
            )
        if self.transport not in TRANSPORTS:
            bad = _meta_problem("transport", self.transport)
            out.append(
                bad
                or f"The transport {_show(self.transport)} is not one of {', '.join(TRANSPORTS)}."
            )
        if self.remote:
            if not self.host:
                out.append(f"A {self.transport} connection needs a host.")
            else:
                bad = host_problem(self.host)
                if bad:
                    out.append(bad)
        elif self.host or self.user or self.port is not None:
            out.append(
                "A local connection has no host, user or port; choose the ssh, tls or tcp "
                "transport to reach another machine."
            )
        if self.user:
            bad = _meta_problem("user", self.user)
            if bad:
                out.append(bad)
            elif not _USER.match(self.user):
                out.append(
                    f"The user {_show(self.user)} is not a user name (letters, digits, dots, "
                    "dashes and underscores, not starting with a dash or a dot)."
                )
        if self.port is not None and not 1 <= self.port <= 65535:
            out.append(f"The port {self.port} is not between 1 and 65535.")
        out += self._path_problems()
        out += self._param_problems(check_files)
        return out

    def _path_problems(self) -> list[str]:
        bad = _meta_problem("path", self.path)
        if bad:
            return [bad]
        if not _PATH.match(self.path) or ".." in self.path.split("/"):
            return [f"The path {_show(self.path)} is not a plain path."]
        if self.driver == "qemu" and self.path.strip("/") not in PATHS:
            return [f"The path of a qemu connection is system or session, not {_show(self.path)}."]
        return []

    def _param_problems(self, check_files: bool) -> list[str]:
        out: list[str] = []
        seen: set[str] = set()
        params = ([("keyfile", self.keyfile)] if self.keyfile else []) + list(self.params)
        for key, value in params:
            bad = _meta_problem("parameter name", key)
            if bad:
                out.append(bad)
                continue
            if key in REFUSED_PARAMS:
                out.append(f"The parameter {key}= is refused: {REFUSED_PARAMS[key]}.")
                continue
            bad = _meta_problem(f"value of {key}", value)
            if bad:
                out.append(bad)
                continue
            if key in seen:
                out.append(f"The parameter {key} is given twice.")
                continue
            seen.add(key)
            if key not in ALLOWED_PARAMS:
                allowed = ", ".join(k for k in ALLOWED_PARAMS)
                out.append(f"The parameter {key}= is not one vmtui allows ({allowed}).")
                continue
            if key == "socket" and self.remote:
                out.append(
                    "The parameter socket= is refused on a remote connection: libvirt puts it "
                    "in the command it runs through the remote host's shell."
                )
                continue
            if key == "no_tty" and self.transport != "ssh":
                out.append("The parameter no_tty= only applies to the ssh transport.")
                continue
            choices = ALLOWED_PARAMS[key]
            if choices is not None:
                values = value.split(",") if key == "sshauth" else [value]
                if not value or any(v not in choices for v in values):
                    out.append(
                        f"The parameter {key}= takes {' or '.join(choices)}, not {_show(value)}."
                    )
                continue
            out += _path_param_problems(key, value, check_files)
        return out

    def check(self, *, check_files: bool = True) -> ConnectionSpec:
        """Raise :class:`InvalidConnection` with the first problem; return self when fine."""
        found = self.problems(check_files=check_files)
        if found:
            raise InvalidConnection(found[0])
        return self

    # ------------------------------------------------------------------ file form
    def to_table(self) -> dict[str, Any]:
        """The ``[[connection]]`` table for the config file (empty fields left out)."""
        table: dict[str, Any] = {"name": self.name, "driver": self.driver}
        table["transport"] = self.transport
        for key in ("user", "host", "path", "keyfile"):
            if getattr(self, key):
                table[key] = getattr(self, key)
        if self.port is not None:
            table["port"] = self.port
        if self.params:
            table["params"] = dict(self.params)
        table["autoconnect"] = self.autoconnect
        return table


def _path_param_problems(key: str, value: str, check_files: bool) -> list[str]:
    what = {"keyfile": "key file", "known_hosts": "known-hosts file", "pkipath": "PKI directory"}
    label = what.get(key, "socket")
    if not value.startswith("/"):
        return [f"The {label} must be an absolute path, not {_show(value)}."]
    if not _PATH.match(value) or ".." in value.split("/"):
        return [f"The {label} {_show(value)} is not a plain path."]
    if not check_files:
        return []
    path = Path(value)
    if key == "keyfile":
        if not path.exists():
            return [f"The key file {value} does not exist."]
        if not path.is_file():
            return [f"The key file {value} is not a file."]
    elif key == "pkipath" and not path.is_dir():
        return [f"The PKI directory {value} is not a directory."]
    elif key == "known_hosts" and not path.parent.is_dir():
        return [f"The directory of the known-hosts file {value} does not exist."]
    return []


def parse_uri(uri: str, name: str = "", autoconnect: bool = False) -> ConnectionSpec:
    """Read a libvirt URI into a spec (``problems()`` says whether it is safe to use).

    Raises :class:`InvalidConnection` when it is not a URI at all."""
    if "://" not in uri:
        raise InvalidConnection(
            f"{_show(uri)} is not a libvirt URI (driver[+transport]://[user@][host][:port]/path)."
        )
    scheme, rest = uri.split("://", 1)
    driver, _, transport = scheme.partition("+")
    rest, _, fragment = rest.partition("#")
    if fragment:
        raise InvalidConnection(f"The URI {uri} has a #fragment; libvirt URIs have none.")
    rest, _, query = rest.partition("?")
    authority, slash, path = rest.partition("/")
    user = host = ""
    port: int | None = None
    if "@" in authority:
        user, authority = authority.rsplit("@", 1)
        user = urllib.parse.unquote(user)
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise InvalidConnection(f"The URI {uri} has an IPv6 address without its closing ].")
        host, tail = authority[1:end], authority[end + 1 :]
        port_text = tail[1:] if tail.startswith(":") else ""
        if tail and not tail.startswith(":"):
            raise InvalidConnection(f"The URI {uri} has text after its IPv6 address.")
    else:
        host, _, port_text = authority.partition(":")
    if port_text:
        if not port_text.isdigit():
            raise InvalidConnection(f"The port {_show(port_text)} in {uri} is not a number.")
        port = int(port_text)
    params: list[tuple[str, str]] = []
    keyfile = ""
    for item in query.split("&") if query else []:
        key, _, value = item.partition("=")
        key, value = urllib.parse.unquote(key), urllib.parse.unquote(value)
        if key == "keyfile" and not keyfile:
            keyfile = value
        elif key == "no_tty" and value == "1" and transport == "ssh":
            continue  # implied for ssh: uri() adds it again
        else:
            params.append((key, value))
    path = urllib.parse.unquote(path)
    if driver == "test" and path and path != "default":
        path = "/" + path  # test:///abs/file.xml: the file's absolute path
    return ConnectionSpec(
        name=name or host or f"{driver} {path}".strip(),
        driver=driver,
        transport=transport or "local",
        user=user,
        host=host,
        port=port,
        path=path if slash else "",
        keyfile=keyfile,
        params=tuple(params),
        autoconnect=autoconnect,
    )


# --------------------------------------------------------------------------- ssh errors
def ssh_failure_sentence(uri: str, message: str) -> str | None:
    """A sentence for an ssh-transport failure libvirt reported, or None (not one we know).

    With ``no_tty=1`` ssh cannot ask for a password, so a host that wants one fails with
    "Permission denied"; say how to fix it rather than showing ssh's words alone."""
    scheme = uri.split("://", 1)[0]
    if "+" not in scheme or scheme.split("+", 1)[1] not in SSH_TRANSPORTS:
        return None
    target = uri.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0] or "the host"
    low = message.lower()
    if "permission denied" in low or "authentication failed" in low or "auth fail" in low:
        return (
            f"{target} needs key authentication (vmtui cannot answer ssh's password prompt); "
            "add your key with ssh-copy-id or set the connection's key file."
        )
    if "could not resolve hostname" in low or "name or service not known" in low:
        return f"ssh cannot find the host of {target}: no such hostname."
    if "connection refused" in low:
        return f"Nothing accepts ssh connections at {target} (connection refused)."
    if "host key verification failed" in low or "host key for" in low:
        return (
            f"The ssh host key of {target} is not known or has changed; check it with ssh "
            "once, or set no_verify=1 on a host you trust."
        )
    if "no route to host" in low or "timed out" in low:
        return f"{target} cannot be reached over ssh ({message.strip().rstrip('.')})."
    return None


# Seconds before trying again after an ssh failure that retrying will not fix by itself.
SSH_LASTING_RETRY = 30.0


def ssh_failure_is_lasting(message: str) -> bool:
    """A refused key, an unknown hostname or a bad host key: retried every two seconds, a
    refused key could get this machine banned (fail2ban), so the app waits longer."""
    low = message.lower()
    return any(
        s in low
        for s in (
            "permission denied",
            "authentication failed",
            "could not resolve hostname",
            "host key verification failed",
        )
    )


# --------------------------------------------------------------------------- ~/.ssh/config
@dataclass(frozen=True)
class SshHost:
    """A concrete ``Host`` entry of ~/.ssh/config (wildcard patterns are skipped)."""

    alias: str
    hostname: str = ""
    user: str = ""
    port: int | None = None
    identity_file: str = ""

    def spec(self) -> ConnectionSpec:
        """A qemu+ssh connection to this alias; ssh applies the rest of the entry itself."""
        return ConnectionSpec(name=self.alias, transport="ssh", host=self.alias)


def default_ssh_config() -> Path:
    return Path.home() / ".ssh" / "config"


def ssh_config_hosts(path: Path | None = None) -> list[SshHost]:
    """The hosts named in an OpenSSH client config, in file order.

    A small parser (not paramiko's): vmtui only offers the names; ssh itself applies the
    options when libvirt runs it. ``Include`` is followed (globs, relative to ~/.ssh);
    ``Match`` blocks are skipped; the first value of an option wins, as in ssh."""
    path = path or default_ssh_config()
    hosts: dict[str, dict[str, str]] = {}
    _read_ssh_config(path, path.parent, hosts, depth=0)
    out = []
    for alias, opts in hosts.items():
        port = opts.get("port", "")
        out.append(
            SshHost(
                alias=alias,
                hostname=opts.get("hostname", ""),
                user=opts.get("user", ""),
                port=int(port) if port.isdigit() else None,
                identity_file=opts.get("identityfile", ""),
            )
        )
    return out


def _read_ssh_config(path: Path, base: Path, hosts: dict[str, dict[str, str]], depth: int) -> None:
    if depth > 8:
        return
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    current: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"^(\S+?)(?:\s*=\s*|\s+)(.*)$", line)
        if match is None:
            continue
        key, value = match.group(1).lower(), match.group(2).strip()
        if key == "host":
            current = [
                name
                for name in value.split()
                if not any(c in name for c in "*?!") and host_problem(name) is None
            ]
            for name in current:
                hosts.setdefault(name, {})
        elif key == "match":
            current = []
        elif key == "include":
            for pattern in value.split():
                pattern = os.path.expanduser(pattern)
                full = pattern if os.path.isabs(pattern) else str(base / pattern)
                for found in sorted(glob.glob(full)):
                    _read_ssh_config(Path(found), base, hosts, depth + 1)
        else:
            for name in current:
                hosts[name].setdefault(key, value.strip('"'))


# --------------------------------------------------------------------------- config file
def config_path() -> Path:
    """``$VMTUI_CONFIG``, else ``config.toml`` in the platform's user config directory."""
    env = os.environ.get("VMTUI_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path(user_config_dir("vmtui")) / "config.toml"


_TABLE_KEYS = {
    "name": str,
    "driver": str,
    "transport": str,
    "user": str,
    "host": str,
    "port": int,
    "path": str,
    "keyfile": str,
    "params": dict,
    "autoconnect": bool,
    "uri": str,
}


_KINDS = {str: "text", int: "a whole number", dict: "a table", bool: "true or false"}


def _spec_from_table(table: Any, index: int, path: Path) -> ConnectionSpec:
    where = f"connection #{index} in {path}"
    if not isinstance(table, dict):
        raise ConfigCorrupt(f"The {where} is not a table.", path)
    for key, value in table.items():
        kind = _TABLE_KEYS.get(key)
        if kind is None:
            raise ConfigCorrupt(
                f"The {where} has an unknown key {key!r} (known: {', '.join(_TABLE_KEYS)}); "
                "fix the file, vmtui will not overwrite it.",
                path,
            )
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigCorrupt(
                f"In the {where}, {key} must be {_KINDS[kind]}, not {value!r}; fix the "
                "file, vmtui will not overwrite it.",
                path,
            )
    name = str(table.get("name", ""))
    autoconnect = bool(table.get("autoconnect", False))
    if "uri" in table:
        if set(table) - {"uri", "name", "autoconnect"}:
            raise ConfigCorrupt(
                f"The {where} has both uri and separate fields; keep one of them.", path
            )
        try:
            return parse_uri(table["uri"], name=name, autoconnect=autoconnect)
        except InvalidConnection as err:
            raise ConfigCorrupt(f"In the {where}: {err.message}", path) from None
    params = table.get("params", {})
    if not all(isinstance(v, str) for v in params.values()):
        raise ConfigCorrupt(f"In the {where}, every params value must be a string.", path)
    return ConnectionSpec(
        name=name,
        driver=table.get("driver", "qemu"),
        transport=table.get("transport", "local"),
        user=table.get("user", ""),
        host=table.get("host", ""),
        port=table.get("port"),
        path=table.get("path", ""),
        keyfile=table.get("keyfile", ""),
        params=tuple(params.items()),
        autoconnect=autoconnect,
    )


# Load-change-save of the file by two workers at once would lose one change: one at a time,
# within this process (a re-entrant lock) and across vmtui processes (two vmtui saving at once
# lost an update, issue 14 #11): flock on the config's directory, which the atomic replace
# leaves in place (a lock on the file itself would stay with the replaced inode), and which
# leaves no lock file behind.
_FILE_LOCK = threading.RLock()
_held = 0  # how deep this process holds the file lock (guarded by _FILE_LOCK)


def lock_path(path: Path) -> Path:
    """What :func:`config_lock` flocks: the directory of the file the config's symlink names."""
    return Path(os.path.realpath(path)).parent


@contextlib.contextmanager
def config_lock(path: Path) -> Iterator[None]:
    """Hold the config file for a load-change-save: other threads and other processes wait."""
    global _held
    with _FILE_LOCK:
        fd = None
        if _held == 0:
            lock = lock_path(path)
            try:
                lock.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(lock, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as err:
                if fd is not None:
                    os.close(fd)
                raise ConfigError(
                    f"Could not lock the config file {path} (its directory {lock}): {err}."
                ) from None
        _held += 1
        try:
            yield
        finally:
            _held -= 1
            if fd is not None:
                os.close(fd)  # closing drops the flock


@dataclass
class ConnectionStore:
    """The saved connections in one TOML file. Blocking; call it from a worker."""

    path: Path = field(default_factory=config_path)

    def _read(self) -> dict[str, Any] | None:
        """The parsed file (None when there is none); ConfigCorrupt when it does not parse."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise ConfigError(f"Could not read the config file {self.path}: {err}.") from None
        try:
            return tomllib.loads(data.decode("utf-8"))
        except RecursionError:  # tomllib recurses once per nested array or inline table
            raise ConfigCorrupt(
                f"The config file {self.path} nests arrays or tables too deeply to read; vmtui "
                "leaves it as it is and will not save connections until it is fixed.",
                self.path,
            ) from None
        except UnicodeDecodeError as err:
            raise ConfigCorrupt(
                f"The config file {self.path} is not UTF-8 text ({err.reason}); vmtui leaves "
                "it as it is and will not save connections until it is fixed.",
                self.path,
            ) from None
        except tomllib.TOMLDecodeError as err:
            line = _error_line(err)
            at = f" at line {line}" if line else ""
            raise ConfigCorrupt(
                f"The config file {self.path} is not valid TOML{at} ({_error_reason(err)}); "
                "vmtui leaves it as it is and will not save connections until it is fixed.",
                self.path,
                line,
            ) from None

    def load(self) -> list[ConnectionSpec]:
        """The saved connections (none when the file does not exist yet)."""
        doc = self._read()
        return [] if doc is None else self._specs(doc)

    def _specs(self, doc: dict[str, Any]) -> list[ConnectionSpec]:
        tables = doc.get("connection", [])
        if not isinstance(tables, list):
            raise ConfigCorrupt(
                f"In the config file {self.path}, connection must be [[connection]] tables; "
                "fix the file, vmtui will not overwrite it.",
                self.path,
            )
        specs = [_spec_from_table(t, i, self.path) for i, t in enumerate(tables, 1)]
        names = [s.name for s in specs]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup is not None:
            raise ConfigCorrupt(
                f"The config file {self.path} has two connections named {dup!r}; rename one "
                "(vmtui will not overwrite the file until then).",
                self.path,
            )
        return specs

    def save(self, specs: Sequence[ConnectionSpec]) -> None:
        """Write the connections atomically (mode 0600). Refuses, leaving the file untouched,
        when the file on disk does not parse: the user's text is never overwritten."""
        with config_lock(self.path):
            self._save(specs)

    def _save(self, specs: Sequence[ConnectionSpec]) -> None:
        doc = self._read()  # raises ConfigCorrupt for a broken file
        if doc is not None:
            self._specs(doc)  # and for entries it cannot read back
        other = {k: v for k, v in (doc or {}).items() if k != "connection"}
        names = [s.name for s in specs]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup is not None:
            raise InvalidConnection(f"Two connections are named {dup!r}; names must differ.")
        other["connection"] = [s.to_table() for s in specs]
        atomic_write(self.path, tomli_w.dumps(other).encode("utf-8"))

    def add(self, spec: ConnectionSpec, replace: str | None = None) -> list[ConnectionSpec]:
        """Load, add ``spec`` (replacing the one named ``replace``), save; the new list."""
        with config_lock(self.path):
            return self._add(spec, replace)

    def _add(self, spec: ConnectionSpec, replace: str | None) -> list[ConnectionSpec]:
        specs = self.load()
        if replace is not None:
            specs = [spec if s.name == replace else s for s in specs]
            if spec not in specs:
                specs.append(spec)
        else:
            if any(s.name == spec.name for s in specs):
                raise InvalidConnection(
                    f"A connection named {spec.name!r} exists already; choose another name."
                )
            specs.append(spec)
        self.save(specs)
        return specs

    def remove(self, name: str) -> list[ConnectionSpec]:
        with config_lock(self.path):
            specs = [s for s in self.load() if s.name != name]
            self.save(specs)
            return specs

    def section(self, name: str) -> dict[str, Any]:
        """A top-level table of the file beside the connections (``[dashboard]``: the sort
        order…); {} when there is none."""
        value = (self._read() or {}).get(name)
        return dict(value) if isinstance(value, dict) else {}

    def update_section(self, name: str, values: dict[str, Any]) -> None:
        """Set these keys of one top-level table, leaving its other keys, the connections
        and the rest of the file as they are (and, like ``save``, a file that does not
        parse untouched)."""
        with config_lock(self.path):
            doc = self._read() or {}
            table = doc.get(name)
            doc[name] = {**(table if isinstance(table, dict) else {}), **values}
            atomic_write(self.path, tomli_w.dumps(doc).encode("utf-8"))


def _error_line(err: tomllib.TOMLDecodeError) -> int | None:
    line = getattr(err, "lineno", None)  # Python 3.14 has it; older ones say it in words
    if isinstance(line, int):
        return line
    found = re.search(r"\(at line (\d+)", str(err))
    return int(found.group(1)) if found else None


def _error_reason(err: tomllib.TOMLDecodeError) -> str:
    msg = getattr(err, "msg", None)
    text = msg if isinstance(msg, str) else str(err)
    return re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", text).rstrip(".")


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` all at once: a crash leaves the old file or the new one.

    A symlinked config is written where the link points (the link stays)."""
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise ConfigError(f"Could not write the config file {path}: {err}.") from None
        raise
    try:
        dir_fd = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def file_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def merge_uris(given: Iterable[str], saved: Iterable[ConnectionSpec]) -> list[str]:
    """The URIs to open at start: the ``-c`` ones in order, then saved autoconnect ones
    that are valid, without duplicates."""
    out = list(dict.fromkeys(given))
    for spec in saved:
        if spec.autoconnect and not spec.problems():
            uri = spec.uri()
            if uri not in out:
                out.append(uri)
    return out


def replace_spec(spec: ConnectionSpec, **changes: Any) -> ConnectionSpec:
    return dataclasses.replace(spec, **changes)
