"""Shared fixtures: fake hosts for libvirt's test driver live in tests/data, one per scenario."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vmtui.backend import Hypervisor

DATA = Path(__file__).parent / "data"


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
