"""Logging into a guest with ssh: its login settings, kept with the guest like the tags, and
the command line that reaches it.

The per-guest setting lives in the guest's own ``<metadata>``, in a namespace of its own (so
it never clobbers the tags)::

    <vmtui-ssh:login xmlns:vmtui-ssh="https://vmtui.dev/xmlns/ssh/1" user="admin" port="22"/>

The config file's ``[ssh]`` table gives the defaults: ``user`` (a login name) and ``options``
(a list of ssh arguments, e.g. ``["-i", "~/.ssh/lab"]``), passed as they are.
"""

from __future__ import annotations

import os
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libvirt

from vmtui.backend.addresses import read_addresses
from vmtui.backend.errors import ActionFailed, VmtuiError
from vmtui.backend.hypervisor import Hypervisor
from vmtui.backend.models import GuestAddresses
from vmtui.core.sshcmd import SshCommandError, command_line, ssh_command

NS = "https://vmtui.dev/xmlns/ssh/1"
KEY = "vmtui-ssh"


@dataclass(frozen=True)
class Login:
    user: str = ""
    port: int | None = None


@dataclass(frozen=True)
class SshDefaults:
    user: str = ""
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class SshTarget:
    """What the ssh key runs: the command, its shell line, and the address and its source."""

    argv: tuple[str, ...]
    line: str
    address: str
    source: str


def login_xml(login: Login) -> str:
    el = ET.Element("login")
    if login.user:
        el.set("user", login.user)
    if login.port:
        el.set("port", str(login.port))
    return ET.tostring(el, encoding="unicode")


def parse_login(xml: str) -> Login:
    try:
        el = ET.fromstring(xml)
    except ET.ParseError:
        return Login()
    port = el.get("port", "")
    return Login(el.get("user", ""), int(port) if port.isdigit() else None)


def read_login(hv: Hypervisor, uuid: str) -> Login:
    conn = hv.readable_conn()
    dom = hv.lookup_domain(conn, uuid)
    try:
        return parse_login(dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, NS, 0))
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_METADATA:
            return Login()
        raise hv.wrap_error(err, "read the login of", dom.name()) from None


def set_login(hv: Hypervisor, uuid: str, login: Login) -> None:
    """Store the guest's ssh login (an empty one removes it)."""
    if login.user:
        try:
            ssh_command("127.0.0.1", user=login.user, port=login.port)
        except SshCommandError as err:
            raise ActionFailed(err.message) from None
    _, dom, name = hv.lookup_guest(uuid, writable=True)
    flags = 0
    if dom.isPersistent():
        flags |= libvirt.VIR_DOMAIN_AFFECT_CONFIG
    if dom.isActive():
        flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
    xml = login_xml(login) if (login.user or login.port) else None
    try:
        dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, xml, KEY, NS, flags)
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, "set the login of", name) from None
    finally:
        hv.touch(uuid)


def ssh_defaults(path: Path | None) -> SshDefaults:
    """The config file's ``[ssh]`` table (missing file or table: no defaults)."""
    if path is None:
        return SshDefaults()
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return SshDefaults()
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ActionFailed(f"Could not read the ssh settings in {path}: {err}.") from None
    table = data.get("ssh", {})
    if not isinstance(table, dict):
        raise ActionFailed(f"In {path}, 'ssh' must be a table ([ssh]).")
    user = table.get("user", "")
    options = table.get("options", [])
    if not isinstance(user, str) or not (
        isinstance(options, list) and all(isinstance(o, str) for o in options)
    ):
        raise ActionFailed(f"In {path}, [ssh] user must be a string and options a list of strings.")
    return SshDefaults(user, tuple(os.path.expanduser(o) for o in options))


def _fresh_addresses(hv: Hypervisor, uuid: str, dom: Any) -> GuestAddresses:
    known = hv.known_guest(uuid)
    if known is not None and known.addresses is not None and known.addresses.all:
        return known.addresses
    agent = known.agent_connected if known is not None else False
    has_nics = bool(known.nics) if known is not None else True
    if not has_nics and not agent:
        return GuestAddresses("", (), "No address: the guest has no network card.")
    return read_addresses(dom, agent_connected=agent and not hv.readonly, has_nics=has_nics)


def ssh_target(hv: Hypervisor, uuid: str, config: Path | None = None) -> SshTarget:
    """The ssh command for the guest: its address (the last one read, or read now), its login
    (the guest's setting, else the config's default) and, over qemu+ssh, the jump host.
    Raises a sentence saying why when there is none (not running, no address known …)."""
    conn = hv.readable_conn()
    dom = hv.lookup_domain(conn, uuid)
    name = dom.name()
    if not dom.isActive():
        raise ActionFailed(f"Guest {name} is not running; start it (s) to log into it.")
    found = _fresh_addresses(hv, uuid, dom)
    if not found.all:
        why = found.why_none or "No address known."
        raise ActionFailed(f"Cannot ssh into guest {name}. {why}")
    address = found.first
    login = read_login(hv, uuid)
    defaults = ssh_defaults(config)
    try:
        argv = ssh_command(
            address,
            user=login.user or defaults.user,
            port=login.port,
            host_uri=hv.uri,
            options=defaults.options,
        )
    except SshCommandError as err:
        raise VmtuiError(f"Cannot ssh into guest {name}: {err.message}") from None
    return SshTarget(tuple(argv), command_line(argv), address, found.source)
