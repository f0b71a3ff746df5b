"""Export a guest to one file (E on a guest) and import one or an OVA/OVF (J):
backend/archive.py and backend/ovf.py in a worker, with a progress bar; esc while it runs
cancels it (nothing is left behind)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, ProgressBar, Static

from vmtui.backend.archive import ExportResult, ImportResult, export_guest, import_guest
from vmtui.backend.ovf import import_ovf, is_ovf_file
from vmtui.control.services import services


@dataclass
class ArchiveProgress(Message):
    """Bytes done of the total (posted from the worker; the screen draws it)."""

    done: int
    total: int


class _ArchiveScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    _ArchiveScreen, ExportScreen, ImportScreen { align: center middle; }
    #archive-box { width: 70; height: auto; border: round $accent; padding: 0 1;
                   background: $surface; }
    #archive-box Input { margin-bottom: 1; }
    #archive-error { color: $error; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel / close")]

    def __init__(self) -> None:
        super().__init__()
        self.cancel = threading.Event()
        self.running = False

    def progress(self, done: int, total: int) -> None:
        """Called in the worker thread: only posts a message."""
        self.post_message(ArchiveProgress(done, total))

    def on_archive_progress(self, event: ArchiveProgress) -> None:
        self.query_one(ProgressBar).update(total=max(event.total, 1), progress=event.done)

    def say(self, text: str) -> None:
        self.query_one("#archive-error", Static).update(text)

    def action_cancel(self) -> None:
        if self.running:
            self.cancel.set()
            self.say("Cancelling; what was made is being removed…")
        else:
            self.dismiss(None)

    def failed(self, sentence: str) -> None:
        self.running = False
        self.cancel.clear()
        self.say(sentence)
        self.query_one("#archive-go", Button).disabled = False

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "archive-go" and not self.running:
            self.start()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if not self.running:
            self.start()

    def start(self) -> None:
        raise NotImplementedError


class ExportScreen(_ArchiveScreen):
    """Write one guest (shut off) to an archive on this machine."""

    def __init__(self, uuid: str, name: str) -> None:
        super().__init__()
        self.uuid = uuid
        self.guest_name = name

    def compose(self) -> ComposeResult:
        with Vertical(id="archive-box"):
            yield Label(f"Export guest {self.guest_name} to one file", markup=False)
            yield Input(os.path.join(os.getcwd(), f"{self.guest_name}.tar"), id="archive-file")
            yield ProgressBar(total=1, show_eta=False)
            yield Static("", id="archive-error", markup=False)
            yield Button("Export", id="archive-go", variant="primary")

    def start(self) -> None:
        path = os.path.expanduser(self.query_one("#archive-file", Input).value.strip())
        hv = services(self).hypervisor_for(self.uuid)
        self.running = True
        self.query_one("#archive-go", Button).disabled = True
        self.say("")

        def done(result: ExportResult) -> None:
            self.running = False
            self.dismiss(None)

        services(self).runner.run(
            lambda: export_guest(hv, self.uuid, path, progress=self.progress, cancel=self.cancel),
            done=done,
            failed=self.failed,
            what=f"export {self.guest_name}",
            success=lambda r: f"Guest {self.guest_name} exported to {r.path}.",
        )


class ImportScreen(_ArchiveScreen):
    """Check an archive, upload its disks into a pool of ``uri`` and define the guest."""

    def __init__(self, uri: str) -> None:
        super().__init__()
        self.uri = uri

    def compose(self) -> ComposeResult:
        with Vertical(id="archive-box"):
            yield Label(f"Import a guest archive into {self.uri}", markup=False)
            yield Input(
                placeholder="archive file (from vmtui export), or an OVA / OVF", id="archive-file"
            )
            yield Input("default", placeholder="storage pool", id="archive-pool")
            yield Input(placeholder="name (empty: the guest's own)", id="archive-name")
            yield Checkbox("Keep the UUID and MAC addresses", id="archive-keep")
            yield Input(
                placeholder="OVA/OVF: network for its NICs (empty: no NIC)", id="archive-network"
            )
            yield ProgressBar(total=1, show_eta=False)
            yield Static("", id="archive-error", markup=False)
            yield Button("Import", id="archive-go", variant="primary")

    def start(self) -> None:
        path = os.path.expanduser(self.query_one("#archive-file", Input).value.strip())
        pool = self.query_one("#archive-pool", Input).value.strip() or "default"
        name = self.query_one("#archive-name", Input).value.strip()
        keep = self.query_one("#archive-keep", Checkbox).value
        network = self.query_one("#archive-network", Input).value.strip()
        if not path:
            self.say("Give the archive's file name.")
            return
        hv = services(self).hypervisor_for_uri(self.uri)
        self.running = True
        self.query_one("#archive-go", Button).disabled = True
        self.say("")

        def call() -> ImportResult:
            if is_ovf_file(path):  # an OVA / OVF from VirtualBox or VMware (backend/ovf.py)
                return import_ovf(
                    hv,
                    path,
                    pool=pool,
                    name=name,
                    network=network,
                    progress=self.progress,
                    cancel=self.cancel,
                )
            return import_guest(
                hv,
                path,
                pool=pool,
                name=name,
                keep_ids=keep,
                progress=self.progress,
                cancel=self.cancel,
            )

        def done(result: ImportResult) -> None:
            self.running = False
            self.dismiss(None)

        def said(result: ImportResult) -> str:
            notes = "; ".join(result.warnings)
            return f"Guest {result.name} imported." + (f" Note: {notes}." if notes else "")

        services(self).runner.run(
            call,
            done=done,
            failed=self.failed,
            what=f"import {os.path.basename(path)}",
            success=said,
            command=("define", f"<from {os.path.basename(path)}>"),
            host=self.uri,
        )


def open_import(app: Any) -> None:
    """Push the import screen for the host in view (the first host when unsure)."""
    uri = services(app).uri
    if not uri:
        app.notify("No host is connected; add one with H (connections).", timeout=4)
        return
    app.push_screen(ImportScreen(uri))
