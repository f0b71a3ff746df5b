"""Fixtures for integration tests against a real libvirtd and tiny TCG guests.

* ``libvirtd`` (session): makes sure libvirtd answers (``scripts/ensure-libvirtd.sh``),
  removes ``vmtui-test-*`` domains left behind by crashed earlier runs, and returns
  the URI ``qemu:///system``.
* ``libvirt_conn`` (session): an open ``virConnect`` to that URI.
* ``tiny_guest_files`` (session): the cached :class:`TinyGuest` kernel + initrd.
* ``tiny_domain_factory`` (function): ``make(**tiny_domain_xml_kwargs) -> name``
  defines persistent tiny domains; all of them are destroyed and undefined on
  teardown.
* ``tiny_domain`` (function): the name of one defined (not started) tiny domain.

Every test in this directory is marked ``integration`` automatically.
Guests never get a NIC, and libvirt's ``default`` network is never started.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .helpers import pid_alive
from .tinyguest import TinyGuest, build_tiny_guest, tiny_domain_xml

ROOT = Path(__file__).resolve().parents[2]
URI = "qemu:///system"
DOMAIN_PREFIX = "vmtui-test-"
_OWNED = re.compile(rf"^{re.escape(DOMAIN_PREFIX)}(\d+)-")

_HERE = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "restarts_libvirtd: stops, freezes or restarts the system libvirtd (run last in the "
        "session: the session's libvirt_conn does not survive it)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees the items of the whole session: only mark our directory.
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.integration)
    # Tests that restart libvirtd break every connection opened before, including the
    # session-scoped ``libvirt_conn``: run them after everything else (stable order).
    items.sort(key=lambda item: item.get_closest_marker("restarts_libvirtd") is not None)


def _remove_domain(dom: Any) -> None:
    """Destroy (if running) and undefine a domain, ignoring all errors."""
    import libvirt

    try:
        if dom.isActive():
            dom.destroy()
    except libvirt.libvirtError:
        pass
    try:
        flags = (
            libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
            | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
            | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
        )
        dom.undefineFlags(flags)
    except libvirt.libvirtError:
        pass


def _cleanup_leftovers(conn: Any) -> None:
    """Remove ``vmtui-test-<pid>-*`` domains whose creating process is gone.

    Domains of a still-running pytest process (a concurrent session) are left
    alone; names without a pid are always removed.
    """
    for dom in conn.listAllDomains(0):
        name = dom.name()
        if not name.startswith(DOMAIN_PREFIX):
            continue
        m = _OWNED.match(name)
        if m and int(m.group(1)) != os.getpid() and pid_alive(int(m.group(1))):
            continue
        _remove_domain(dom)


@pytest.fixture(scope="session")
def libvirtd() -> str:
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ensure-libvirtd.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"libvirtd is not available (scripts/ensure-libvirtd.sh exited "
            f"{proc.returncode}):\n{proc.stderr}",
            pytrace=False,
        )
    import libvirt

    conn = libvirt.open(URI)
    try:
        _cleanup_leftovers(conn)
    finally:
        conn.close()
    return URI


@pytest.fixture(scope="session")
def libvirt_conn(libvirtd: str) -> Iterator[Any]:
    import libvirt

    conn = libvirt.open(libvirtd)
    yield conn
    with contextlib.suppress(libvirt.libvirtError):
        conn.close()


@pytest.fixture(scope="session")
def tiny_guest_files() -> TinyGuest:
    return build_tiny_guest()


def unique_domain_name(tag: str = "") -> str:
    """``vmtui-test-<pid>-<tag-><random>``; the pid makes leftover cleanup safe."""
    tag = re.sub(r"[^A-Za-z0-9_.-]+", "-", tag)[:24].strip("-")
    return f"{DOMAIN_PREFIX}{os.getpid()}-{tag + '-' if tag else ''}{uuid.uuid4().hex[:8]}"


@pytest.fixture
def tiny_domain_factory(
    libvirt_conn: Any, tiny_guest_files: TinyGuest
) -> Iterator[Callable[..., str]]:
    """``make(tag="", **tiny_domain_xml_kwargs) -> name`` (defined, not started)."""
    names: list[str] = []

    def make(tag: str = "", **kwargs: Any) -> str:
        name = unique_domain_name(tag)
        libvirt_conn.defineXML(tiny_domain_xml(name, tiny_guest_files, **kwargs))
        names.append(name)
        return name

    yield make

    import libvirt

    for name in names:
        try:
            dom = libvirt_conn.lookupByName(name)
        except libvirt.libvirtError:
            continue
        _remove_domain(dom)


@pytest.fixture
def tiny_domain(tiny_domain_factory: Callable[..., str]) -> str:
    """Name of a defined (not running) persistent tiny domain; removed afterwards."""
    return tiny_domain_factory()
