"""UI tests never read nor write the user's own config file: the dashboard reads its saved
sort order from it at start (screens/sortsetting.py), and a developer's saved sort would
change the order every other test expects. A test that wants a config sets
``app.config_file`` (or VMTUI_CONFIG) itself."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _own_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VMTUI_CONFIG", str(tmp_path / "vmtui-config.toml"))
