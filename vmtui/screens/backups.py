"""A guest's backups (key B): make a full or incremental one with progress and cancel, list
them (half-written ones marked, never offered for restore), restore one into a new guest."""

from __future__ import annotations

import os
import threading
import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Input, Label, ProgressBar, Static

from vmtui.backend.backups import (
    DEFAULT_DIR,
    BackupInfo,
    Progress,
    backup_words,
    list_backups,
    restore_backup,
    run_backup,
)
from vmtui.control.services import services
from vmtui.core.format import size as fmt_size
from vmtui.screens.form import FormScreen
from vmtui.screens.hostview import HostView
from vmtui.widgets.status_line import StatusLine


class RestoreScreen(FormScreen[tuple[str, str]]):
    """The new guest's name and where its disks go."""

    OK_ID = "restore"

    def __init__(self, backup: BackupInfo, into: str) -> None:
        super().__init__()
        self.backup = backup
        self.into = into

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog help"):
            yield Label(f"Restore backup {self.backup.name}", id="title", markup=False)
            yield Input(f"{self.backup.guest}-restored", placeholder="new guest's name", id="name")
            yield Input(self.into, placeholder="folder for its disks", id="into")
            yield Static(
                "A new guest is defined (not started); the backed-up guest is not touched.",
                classes="dim",
            )
            yield from self.foot("Restore", "Cancel (esc)", compact=False)

    def submit(self) -> None:
        name = self.query_one("#name", Input).value.strip()
        into = self.query_one("#into", Input).value.strip()
        if not name:
            self.say("Give the new guest a name.", near="name")
            return
        if not into.startswith("/"):
            self.say("Give the folder's full path.", near="into")
            return
        self.dismiss((name, into))


class BackupsScreen(HostView):
    """The backups of one guest in one folder."""

    BINDINGS = [
        Binding("f", "full", "Full backup"),
        Binding("i", "incremental", "Incremental"),
        Binding("c", "cancel_backup", "Cancel backup"),
        Binding("r", "restore", "Restore"),
        Binding("escape", "back", "Back"),
    ]
    MUTATING = frozenset({"full", "incremental", "restore"})

    def __init__(self, uuid: str, name: str) -> None:
        super().__init__()
        self.uuid = uuid
        self.guest_name = name
        self.backups: tuple[BackupInfo, ...] = ()
        self.loads = 0
        self.running = False
        self._cancel = threading.Event()

    def compose(self) -> ComposeResult:
        yield Label(f"Backups of {self.guest_name}", id="guest-title", markup=False)
        yield Input(os.environ.get("VMTUI_BACKUP_DIR", DEFAULT_DIR), id="dir")
        table: DataTable[str | Text] = DataTable(id="backup-table", cursor_type="row")
        yield table
        yield ProgressBar(total=100, id="backup-progress", show_eta=False)
        yield Static("", id="backup-detail", markup=False)
        yield StatusLine()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#backup-table", DataTable).add_columns("backup", "kind", "size", "state")
        self.reload()

    @property
    def folder(self) -> str:
        return self.query_one("#dir", Input).value.strip()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.reload()
        self.query_one("#backup-table", DataTable).focus()

    def reload(self) -> None:
        folder, guest = self.folder, self.guest_name
        services(self).runner.run(
            lambda: list_backups(folder, guest),
            done=self._show,
            what=f"read the backups of {guest}",
        )

    def _show(self, backups: tuple[BackupInfo, ...]) -> None:
        self.backups = backups
        self.loads += 1
        table = self.query_one("#backup-table", DataTable)
        table.clear()
        for b in backups:
            state = Text("ok", style="green") if b.restorable else Text("half-written", "red")
            table.add_row(Text(b.name), Text(b.kind), Text(fmt_size(b.size)), state, key=b.name)
        self._update_detail()

    def selected(self) -> BackupInfo | None:
        row = self.query_one("#backup-table", DataTable).cursor_row
        return self.backups[row] if 0 <= row < len(self.backups) else None

    def _update_detail(self) -> None:
        b = self.selected()
        out = Text()
        if not self.backups:
            out.append(f"No backups of {self.guest_name} in {self.folder}. f makes a full one.")
        elif b is not None:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(b.started))
            out.append(f"{b.kind} backup of {', '.join(b.disks)} started {when}")
            if b.parent:
                out.append(f", builds on {b.parent}")
            if b.problem:
                out.append("\n" + b.problem, style="red")
        self.query_one("#backup-detail", Static).update(out)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._update_detail()

    # ------------------------------------------------------------- actions
    def action_back(self) -> None:
        if self.running:
            self.notify("A backup is running: cancel it (c) or wait.", timeout=4)
            return
        self.app.pop_screen()

    def _progress(self, p: Progress) -> None:
        bar = self.query_one("#backup-progress", ProgressBar)
        bar.update(total=max(p.total, 1), progress=p.processed)

    def _backup(self, incremental: bool) -> None:
        if self.running:
            self.notify("A backup of this guest is already running.", timeout=3)
            return
        hv = services(self).hypervisor_for(self.uuid)
        folder, guest = self.folder, self.guest_name
        self._cancel = threading.Event()
        cancel = self._cancel
        self.running = True
        self.query_one("#backup-progress", ProgressBar).update(total=100, progress=0)

        def report(p: Progress) -> None:  # on the worker thread: hand over to the UI
            self.app.call_from_thread(self._progress, p)

        def finished(_info: object = None) -> None:
            self.running = False
            self.reload()

        def failed(error: str) -> None:
            self.notify(error, markup=False, severity="error", timeout=10)
            finished()

        kind = "incremental" if incremental else "full"
        services(self).runner.run(
            lambda: run_backup(
                hv, self.uuid, folder, incremental=incremental, progress=report, cancel=cancel
            ),
            done=finished,
            failed=failed,
            what=f"back up {guest}",
            success=f"Made a {kind} backup of {guest} in {folder}.",
            command=backup_words(guest, folder, incremental),
            host=hv.uri,
        )

    def action_full(self) -> None:
        self._backup(False)

    def action_incremental(self) -> None:
        self._backup(True)

    def action_cancel_backup(self) -> None:
        if not self.running:
            self.notify("No backup is running.", timeout=3)
            return
        self._cancel.set()
        self.notify("Cancelling the backup…", timeout=3)

    def action_restore(self) -> None:
        b = self.selected()
        if b is None:
            self.notify("Choose a backup first.", timeout=3)
            return
        if not b.restorable:
            self.notify(b.problem, markup=False, severity="error", timeout=8)
            return
        hv = services(self).hypervisor_for(self.uuid)

        def restore(answer: tuple[str, str]) -> None:
            name, into = answer
            services(self).runner.run(
                lambda: restore_backup(hv, b.path, name, into),
                what=f"restore backup {b.name}",
                success=f"Restored backup {b.name} as the new guest {name}.",
                command=("define", f"# {name} from backup {b.name}"),
                host=hv.uri,
            )

        RestoreScreen(b, os.path.join(self.folder, "restored")).ask(self.app, restore)
