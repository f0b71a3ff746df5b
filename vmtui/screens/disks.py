"""A guest's disks with their backing chains: add, detach, resize; CD-ROM insert / eject
(key b on the dashboard and the guest screen)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Checkbox, DataTable, Footer, Input, Label, Select, Static

from vmtui.backend import Hypervisor
from vmtui.backend.disks import (
    CACHES,
    FORMATS,
    DiskSpec,
    GuestDisk,
    GuestDisks,
    ResizePlan,
    attach_disk,
    bus_choices,
    detach_disk,
    eject_media,
    insert_media,
    list_disks,
    resize_disk,
    resize_plan,
)
from vmtui.backend.extsnap import block_commit
from vmtui.control.services import services
from vmtui.core.format import size as fmt_size
from vmtui.core.safetext import safe_text
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.form import FormScreen
from vmtui.screens.hostview import GuestDataView
from vmtui.widgets.status_line import StatusLine

SOURCE_LABELS = (
    ("A new volume in a pool", "new"),
    ("An existing volume", "volume"),
    ("A file on the host", "file"),
    ("An empty CD-ROM drive", "cdrom"),
)


def chain_text(disk: GuestDisk) -> str:
    """``top.qcow2 ← base.qcow2`` (the source, then each backing file)."""
    parts = [disk.source or "(empty)", *disk.chain]
    return safe_text(" ← ".join(parts))  # paths are raw in the model: escaped when shown


class AddDiskScreen(FormScreen[DiskSpec]):
    """Where the new disk comes from, its bus and cache, live and/or at next boot."""

    OK_ID = "add"

    def __init__(self, disks: GuestDisks) -> None:
        super().__init__()
        self.disks = disks

    def compose(self) -> ComposeResult:
        running = self.disks.state.is_active
        buses = bus_choices(self.disks.machine, live=running)
        with Vertical(id="dialog", classes="dialog help"):
            yield Label(f"Add a disk to {self.disks.guest}", id="title", markup=False)
            yield Select(SOURCE_LABELS, value="new", allow_blank=False, id="source", compact=True)
            yield Input("", placeholder="storage pool (new volume / volume)", id="pool")
            yield Input("", placeholder="volume name, e.g. data.qcow2", id="volume")
            yield Input("10G", placeholder="size of a new volume", id="size")
            yield Select(
                [(f, f) for f in FORMATS],
                value="qcow2",
                allow_blank=False,
                id="format",
                compact=True,
            )
            yield Input("", placeholder="/path/to/image (file)", id="path")
            yield Select(
                [(b, b) for b in buses], value=buses[0], allow_blank=False, id="bus", compact=True
            )
            yield Select(
                [(f"cache {c}", c) for c in CACHES],
                value="default",
                allow_blank=False,
                id="cache",
                compact=True,
            )
            yield Checkbox(
                "Add to the running guest now", value=running, disabled=not running, id="live"
            )
            yield Checkbox("Keep it at next boot", value=True, id="config")
            if running:
                yield Static(
                    "A running guest takes virtio, scsi or usb disks; IDE and SATA only at next "
                    "boot.",
                    classes="dim",
                )
            yield from self.foot("Add disk", "Cancel (esc)", compact=False)

    def submit(self) -> None:
        def val(wid: str) -> str:
            return self.query_one(f"#{wid}", Input).value.strip()

        source = str(self.query_one("#source", Select).value)
        bus = str(self.query_one("#bus", Select).value)
        live = self.query_one("#live", Checkbox).value
        if source == "cdrom":  # no virtio CD-ROM: the first bus that takes one
            cd_buses = bus_choices(self.disks.machine, device="cdrom", live=live)
            bus = bus if bus in cd_buses else cd_buses[0]
        config = self.query_one("#config", Checkbox).value
        if not live and not config:
            self.say("Tick at least one: now, or at next boot.")
            return
        if source in ("new", "volume") and not val("pool"):
            self.say("Name the storage pool.", near="pool")
            return
        if source in ("new", "volume") and not val("volume"):
            self.say("Name the volume.", near="volume")
            return
        if source == "file" and not val("path").startswith("/"):
            self.say("Give the image's full path.", near="path")
            return
        self.dismiss(
            DiskSpec(
                source=source,
                pool=val("pool"),
                volume=val("volume"),
                size=val("size"),
                format=str(self.query_one("#format", Select).value),
                path=val("path"),
                bus=bus,
                cache=str(self.query_one("#cache", Select).value),
                live=live,
                config=config,
            )
        )


class OneFieldScreen(FormScreen[str]):
    """One line of input (a size, an ISO path)."""

    OK_ID = "ok"

    def __init__(self, title: str, value: str, placeholder: str, ok: str) -> None:
        super().__init__()
        self._title, self._value, self._placeholder, self._ok = title, value, placeholder, ok

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog help"):
            yield Label(self._title, id="title", markup=False)
            yield Input(self._value, placeholder=self._placeholder, id="field")
            yield from self.foot(self._ok, "Cancel (esc)", compact=False)

    def submit(self) -> None:
        value = self.query_one("#field", Input).value.strip()
        if not value:
            self.say("Type something first.", near="field")
            return
        self.dismiss(value)


class DisksScreen(GuestDataView[GuestDisks]):
    """The disks and CD-ROM drives of one guest."""

    BINDINGS = [
        Binding("n", "add", "Add disk"),
        Binding("x", "detach", "Detach"),
        Binding("z", "resize", "Resize"),
        Binding("i", "insert", "Insert ISO"),
        Binding("j", "eject", "Eject"),
        Binding("m", "merge", "Merge overlay"),
        Binding("escape", "back", "Back"),
    ]
    MUTATING = frozenset({"add", "detach", "resize", "insert", "eject", "merge"})

    DETAIL = "#disk-detail"

    def compose(self) -> ComposeResult:
        yield Label(f"Disks of {self.guest_name}", id="guest-title", markup=False)
        table: DataTable[str | Text] = DataTable(id="disk-table", cursor_type="row")
        yield table
        yield Static("", id="disk-detail", markup=False)
        yield StatusLine()
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#disk-table", DataTable)
        table.add_columns("disk", "kind", "bus", "size", "used", "format", "source ← backing")
        self.reload()

    def read(self, hv: Hypervisor) -> GuestDisks:
        return list_disks(hv, self.uuid)

    @property
    def reading(self) -> str:
        return f"read the disks of {self.guest_name}"

    def show_data(self, data: GuestDisks) -> None:
        table = self.query_one("#disk-table", DataTable)
        table.clear()
        for d in data.disks:
            table.add_row(
                Text(d.target),
                Text(d.device),
                Text(d.bus),
                Text(fmt_size(d.capacity) if d.capacity else "-"),
                Text(fmt_size(d.allocation) if d.allocation else "-"),
                Text(d.format),
                Text(chain_text(d)),
                key=d.target,
            )
        table.focus()
        self._update_detail()

    def selected(self) -> GuestDisk | None:
        if self.data is None or not self.data.disks:
            return None
        row = self.query_one("#disk-table", DataTable).cursor_row
        if 0 <= row < len(self.data.disks):
            return self.data.disks[row]
        return None

    def _update_detail(self) -> None:
        disk = self.selected()
        out = Text()
        if self.data is not None and not self.data.disks:
            out.append(f"Guest {self.data.guest} has no disks. Press n to add one.")
        elif disk is not None:
            out.append(f"{disk.target}", style="bold")
            out.append(f"  {disk.device} on {disk.bus}")
            if disk.cache:
                out.append(f", cache {disk.cache}")
            if disk.readonly:
                out.append(", read-only")
            out.append("\n" + chain_text(disk))
        self.query_one("#disk-detail", Static).update(out)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._update_detail()

    # ------------------------------------------------------------- actions
    def action_back(self) -> None:
        self.app.pop_screen()

    def _run_change(
        self, call: Callable[[Any], object], what: str, success: str, command: tuple[str, ...]
    ) -> None:
        hv = services(self).hypervisor_for(self.uuid)
        services(self).runner.run(
            lambda: call(hv),
            done=lambda _r: self.reload(),
            failed=self._action_failed,
            what=what,
            success=success,
            command=command,
            host=hv.uri,
        )

    def _action_failed(self, error: str) -> None:
        self.notify(error, markup=False, severity="error", timeout=10)
        self.reload()

    def action_add(self) -> None:
        data = self.data
        if data is None:
            return

        def add(spec: DiskSpec) -> None:
            self._run_change(
                lambda hv: attach_disk(hv, self.uuid, spec),
                f"add a disk to {data.guest}",
                f"Added a disk to {data.guest}.",
                ("attach-disk", data.guest),
            )

        AddDiskScreen(data).ask(self.app, add)

    def action_detach(self) -> None:
        data, disk = self.data, self.selected()
        if data is None or disk is None:
            self.notify("Choose a disk first.", timeout=3)
            return
        body = (
            f"Disk {disk.target} ({disk.source or 'empty'}) is taken out of guest {data.guest}"
            + (" now and at next boot." if data.state.is_active else ".")
            + " Its image stays on the host. A running guest may lose data it has not written "
            "yet: unmount it inside the guest first."
        )

        def detach() -> None:
            self._run_change(
                lambda hv: detach_disk(hv, self.uuid, disk.target),
                f"detach {disk.target} of {data.guest}",
                f"Detached {disk.target} of {data.guest}.",
                ("detach-disk", data.guest, disk.target),
            )

        ConfirmScreen(f"Detach {disk.target} from {data.guest}?", body, confirm="Detach").ask(
            self.app, detach
        )

    def action_resize(self) -> None:
        data, disk = self.data, self.selected()
        if data is None or disk is None:
            self.notify("Choose a disk first.", timeout=3)
            return
        hv = services(self).hypervisor_for(self.uuid)

        def planned(plan: ResizePlan) -> None:
            def go() -> None:
                self._run_change(
                    lambda h: resize_disk(
                        h, self.uuid, plan.target, plan.new, confirm_shrink=plan.shrink
                    ),
                    f"resize {plan.target} of {data.guest}",
                    f"Disk {plan.target} of {data.guest} is now {fmt_size(plan.new)}.",
                    ("blockresize", data.guest, plan.target, f"{plan.new}B"),
                )

            if plan.shrink:
                ConfirmScreen(f"Shrink {plan.target}?", plan.warning, confirm="Shrink").ask(
                    self.app, go
                )
            else:
                go()

        def asked(size: str) -> None:
            services(self).runner.run(
                lambda: resize_plan(hv, self.uuid, disk.target, size),
                done=planned,
                failed=self._action_failed,
                what=f"resize {disk.target}",
            )

        OneFieldScreen(
            f"New size of {disk.target} (now {fmt_size(disk.capacity)})",
            "",
            "e.g. 20G",
            "Resize",
        ).ask(self.app, asked)

    def action_insert(self) -> None:
        data = self.data
        if data is None:
            return
        drive = self.selected()
        target = drive.target if drive is not None and drive.is_cdrom else ""

        def insert(path: str) -> None:
            self._run_change(
                lambda hv: insert_media(hv, self.uuid, path, target),
                f"insert {path} into {data.guest}",
                f"Inserted {path} into {data.guest}.",
                ("change-media", data.guest, target or "CDROM", path, "--insert"),
            )

        OneFieldScreen(f"ISO image for {data.guest}", "", "/path/to/image.iso", "Insert").ask(
            self.app, insert
        )

    def action_eject(self) -> None:
        data = self.data
        if data is None:
            return
        drive = self.selected()
        target = drive.target if drive is not None and drive.is_cdrom else ""
        self._run_change(
            lambda hv: eject_media(hv, self.uuid, target),
            f"eject the CD-ROM of {data.guest}",
            f"Ejected the CD-ROM of {data.guest}.",
            ("change-media", data.guest, target or "CDROM", "--eject"),
        )

    def _merge_progress(self, cur: int, end: int) -> None:
        pct = 100 * cur // end if end else 0
        self.query_one("#disk-detail", Static).update(Text(f"Merging… {pct}%"))

    def action_merge(self) -> None:
        data, disk = self.data, self.selected()
        if data is None or disk is None:
            self.notify("Choose a disk first.", timeout=3)
            return
        if not disk.chain:
            self.notify(f"Disk {disk.target} has no image below it to merge into.", timeout=4)
            return
        body = (
            f"The writes kept in {disk.source} are merged into {disk.chain[0]}, and guest "
            f"{data.guest} goes on with that image. Snapshots made by that overlay can no "
            "longer be reverted to (their point in time is merged away)."
        )

        def merge() -> None:
            def report(cur: int, end: int) -> None:  # worker thread: hand over to the UI
                self.app.call_from_thread(self._merge_progress, cur, end)

            self._run_change(
                lambda hv: block_commit(hv, self.uuid, disk.target, progress=report),
                f"merge {disk.target} of {data.guest}",
                f"Merged {disk.target} of {data.guest} into {disk.chain[0]}.",
                ("blockcommit", data.guest, disk.target, "--active", "--shallow", "--pivot"),
            )

        ConfirmScreen(f"Merge the overlay of {disk.target}?", body, confirm="Merge").ask(
            self.app, merge
        )
