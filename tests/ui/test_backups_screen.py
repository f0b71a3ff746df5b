"""The backups screen (B) on the test driver: finished and half-written backups listed, a
half-written one never offered for restore, a finished one asks for the new guest's name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import DataTable

from tests.conftest import host_uri
from tests.ui.helpers import ready, select, text_of, wait_for
from vmtui.app import VmtuiApp
from vmtui.backend.backups import INCOMPLETE, MANIFEST
from vmtui.screens.backups import BackupsScreen, RestoreScreen


def fake_backup(folder: Path, name: str, *, complete: bool, started: float) -> None:
    path = folder / "db" / name
    path.mkdir(parents=True)
    (path / "vda.qcow2").write_bytes(b"QFI\xfb")
    manifest = {
        "guest": "db",
        "kind": "full",
        "complete": complete,
        "started": started,
        "disks": [{"target": "vda"}],
        "problem": "" if complete else "was cancelled",
    }
    (path / MANIFEST).write_text(json.dumps(manifest))
    if not complete:
        (path / INCOMPLETE).write_text("")


async def test_half_written_backups_are_marked_and_not_restorable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_backup(tmp_path, "20260101-000000-full", complete=True, started=1)
    fake_backup(tmp_path, "20260102-000000-full", complete=False, started=2)
    monkeypatch.setenv("VMTUI_BACKUP_DIR", str(tmp_path))
    app = VmtuiApp(host_uri("snap_host"), interval=0.2)
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        select(app, "db")
        await pilot.press("B")
        await wait_for(pilot, lambda: isinstance(app.screen, BackupsScreen))
        screen = app.screen
        assert isinstance(screen, BackupsScreen)
        await wait_for(pilot, lambda: screen.loads == 1)
        table = screen.query_one("#backup-table", DataTable)
        table.focus()
        assert table.row_count == 2
        states = [str(table.get_row_at(i)[3]) for i in range(2)]
        assert states == ["ok", "half-written"]

        await pilot.press("down")
        assert "was cancelled" in text_of(screen.query_one("#backup-detail"))
        await pilot.press("r")
        await wait_for(
            pilot, lambda: any("half-written" in str(n.message) for n in app._notifications)
        )
        assert app.screen is screen  # no restore form for it

        await pilot.press("up")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RestoreScreen))
