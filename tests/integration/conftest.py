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
* ``guest_names`` (function): ``name(tag)`` gives a fresh guest name; any guest of that name
  is removed afterwards (for guests the code under test defines).
* ``hv`` (function): vmtui's own ``Hypervisor`` on the daemon, connected.
* ``qemu_dir`` (function): a fresh directory QEMU (user libvirt-qemu) can read.
* ``make_pool`` / ``pool`` (function): running dir storage pools, each in its own such
  directory; removed with their volumes afterwards.
* ``make_isolated_network`` / ``isolated_network`` (function): running libvirt networks with
  no ``<forward>`` and no ``<ip>`` (nothing leaves them); removed afterwards.

Objects named ``vmtui-test-<pid>-…`` (guests, pools, networks) whose test process is gone
are removed when the session starts.

Every test in this directory is marked ``integration`` automatically.
Guests never get a NIC, and libvirt's ``default`` network is never started.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import connected_hypervisor
from vmtui.backend import Hypervisor

from .helpers import pid_alive, pool_path
from .tinyguest import TinyGuest, build_tiny_guest, tiny_domain_xml

ROOT = Path(__file__).resolve().parents[2]
URI = "qemu:///system"
DOMAIN_PREFIX = "vmtui-test-"
_OWNED = re.compile(rf"^{re.escape(DOMAIN_PREFIX)}(\d+)-")

_HERE = Path(__file__).resolve().parent
QEMU_DIR_PARENT = Path("/var/tmp")  # not /root, not pytest's 0700 tmp dirs: QEMU reads there


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


def _remove_pool(pool: Any) -> None:
    """Delete a storage pool's volumes, stop it and undefine it, ignoring all errors."""
    import libvirt

    with contextlib.suppress(libvirt.libvirtError):
        for vol in pool.listAllVolumes(0):
            with contextlib.suppress(libvirt.libvirtError):
                vol.delete(0)
    with contextlib.suppress(libvirt.libvirtError):
        pool.destroy()
    with contextlib.suppress(libvirt.libvirtError):
        pool.undefine()


def _remove_network(net: Any) -> None:
    import libvirt

    with contextlib.suppress(libvirt.libvirtError):
        net.destroy()
    with contextlib.suppress(libvirt.libvirtError):
        net.undefine()


def _left_behind(name: str) -> bool:
    """A ``vmtui-test-…`` name not owned by a test process still running (a concurrent
    session's objects are left alone; names without a pid are always removed)."""
    if not name.startswith(DOMAIN_PREFIX):
        return False
    m = _OWNED.match(name)
    return not (m and int(m.group(1)) != os.getpid() and pid_alive(int(m.group(1))))


def _cleanup_leftovers(conn: Any) -> None:
    """Remove the guests, storage pools and networks of crashed earlier runs."""
    for dom in conn.listAllDomains(0):
        if _left_behind(dom.name()):
            _remove_domain(dom)
    for pool in conn.listAllStoragePools(0):
        if _left_behind(pool.name()):
            path = pool_path(pool)
            _remove_pool(pool)
            if path.parent == QEMU_DIR_PARENT and path.name.startswith(DOMAIN_PREFIX):
                shutil.rmtree(path, ignore_errors=True)
    for net in conn.listAllNetworks(0):
        if _left_behind(net.name()):
            _remove_network(net)


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


@pytest.fixture
def guest_names(libvirt_conn: Any) -> Iterator[Callable[[str], str]]:
    """``name(tag)``: a fresh ``vmtui-test-<pid>-…`` name; any guest by that name is removed."""
    names: list[str] = []

    def make(tag: str) -> str:
        names.append(unique_domain_name(tag))
        return names[-1]

    yield make
    import libvirt

    for name in names:
        with contextlib.suppress(libvirt.libvirtError):
            _remove_domain(libvirt_conn.lookupByName(name))


@pytest.fixture
def hv(libvirtd: str) -> Iterator[Hypervisor]:
    """vmtui's own connection to the real daemon (this directory's, not the test driver's)."""
    yield from connected_hypervisor(libvirtd)


def _new_qemu_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"{DOMAIN_PREFIX}{os.getpid()}-", dir=QEMU_DIR_PARENT))
    path.chmod(0o755)
    return path


@pytest.fixture
def qemu_dir() -> Iterator[Path]:
    """A fresh directory QEMU (user libvirt-qemu) can traverse; removed afterwards."""
    path = _new_qemu_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_pool(libvirt_conn: Any) -> Iterator[Callable[..., Any]]:
    """``make(tag="") -> virStoragePool``: a defined, running dir pool
    ``vmtui-test-<pid>-pool-…`` in its own directory QEMU can read; each is removed with its
    volumes and directory afterwards."""
    made: list[Any] = []

    def make(tag: str = "") -> Any:
        el = ET.Element("pool", type="dir")
        ET.SubElement(el, "name").text = unique_domain_name(f"pool-{tag}" if tag else "pool")
        ET.SubElement(ET.SubElement(el, "target"), "path").text = str(_new_qemu_dir())
        pool = libvirt_conn.storagePoolDefineXML(ET.tostring(el, encoding="unicode"), 0)
        made.append(pool)
        pool.create(0)
        return pool

    yield make
    for pool in made:
        path = pool_path(pool)
        _remove_pool(pool)
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def pool(make_pool: Callable[..., Any]) -> Any:
    """One running dir pool (see ``make_pool``)."""
    return make_pool()


@pytest.fixture
def make_isolated_network(libvirt_conn: Any) -> Iterator[Callable[..., str]]:
    """``make(tag="") -> name``: a defined, running network with no ``<forward>`` and no
    ``<ip>`` (guests on it reach only each other); each is removed afterwards."""
    made: list[Any] = []

    def make(tag: str = "") -> str:
        root = ET.Element("network")
        ET.SubElement(root, "name").text = unique_domain_name(f"net-{tag}" if tag else "net")
        net = libvirt_conn.networkDefineXML(ET.tostring(root, encoding="unicode"))
        made.append(net)
        net.create()
        xml = net.XMLDesc(0)
        assert "<ip" not in xml and "<forward" not in xml, xml
        return str(net.name())

    yield make
    for net in made:
        _remove_network(net)


@pytest.fixture
def isolated_network(make_isolated_network: Callable[..., str]) -> str:
    """One running isolated network's name (see ``make_isolated_network``)."""
    return make_isolated_network()
