"""Shared fixtures: fake hosts for libvirt's test driver live in tests/data, one per scenario."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vmtui.backend import Hypervisor

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _own_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads or writes the user's own config file: the dashboard reads its saved sort
    order from it at start (screens/sortsetting.py) and saves a new one, so a developer's
    saved sort would change the order tests expect, and a test sorting by CPU (unit, UI or
    integration) would leave its sort in the developer's file (found: a stray
    ``sort = "vcpus"`` skewed the benchmarks). A test that wants a config sets
    ``app.config_file`` (or VMTUI_CONFIG) itself."""
    monkeypatch.setenv("VMTUI_CONFIG", str(tmp_path / "vmtui-config.toml"))


def host_uri(name: str) -> str:
    """A test-driver URI for tests/data/NAME.xml. Each open parses the file anew: a fresh host."""
    path = DATA / f"{name}.xml"
    assert path.exists(), path
    return f"test://{path}"


@pytest.fixture
def small_host() -> str:
    return host_uri("small_host")


def connected_hypervisor(uri: str) -> Iterator[Hypervisor]:
    """vmtui's own connection to ``uri``, connected; closed when the generator ends."""
    h = Hypervisor(uri)
    h.connect()
    yield h
    h.close()


@pytest.fixture
def hv(small_host: str) -> Iterator[Hypervisor]:
    yield from connected_hypervisor(small_host)
