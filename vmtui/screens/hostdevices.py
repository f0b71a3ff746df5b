"""The host's devices, seen from one guest (U on a guest): PCI devices (vendor, product,
class, IOMMU group and its other members, bound driver, ready for passthrough), USB devices,
mediated device types, and which guest holds each; ``a`` attaches the selected device to the
guest (at next boot), ``A`` now too, ``x`` detaches it. A refusal (another guest holds it, its
IOMMU group would be split) is a sentence naming that guest (backend/hostdevices.py)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from vmtui.backend.hostdevices import (
    HostDevices,
    attach_host_device,
    detach_host_device,
    list_host_devices,
)
from vmtui.control.services import services
from vmtui.widgets.tables import cursor_key

COLUMNS = ("Device", "Vendor / product", "Class", "IOMMU", "Driver", "Ready", "Held by")


class HostDevicesScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("a", "attach(False)", "Attach at boot"),
        Binding("A", "attach(True)", "Attach now + boot"),
        Binding("x", "detach", "Detach"),
        Binding("R", "refresh", "Refresh"),
    ]

    def __init__(self, uuid: str, name: str) -> None:
        super().__init__()
        self.uuid = uuid
        self.guest_name = name
        self.devices: HostDevices | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"Host devices, for guest {self.guest_name}", id="hd-title", markup=False)
        table: DataTable[str] = DataTable(cursor_type="row", id="hd-table")
        table.add_columns(*COLUMNS)
        yield table
        yield Static("", id="hd-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        hv = services(self).hypervisor_for(self.uuid)
        services(self).runner.run(
            lambda: list_host_devices(hv), done=self.show, what="list host devices"
        )

    def show(self, devices: HostDevices) -> None:
        self.devices = devices
        table = self.query_one(DataTable)
        table.clear()
        for d in devices.pci:
            group = str(d.iommu_group) if d.iommu_group is not None else "-"
            if d.group_members:
                group += " +" + ",".join(m.split(":", 1)[1] for m in d.group_members)
            table.add_row(
                f"PCI {d.address}",
                f"{d.vendor} {d.product}",
                d.klass,
                group,
                d.driver or "-",
                "yes" if d.ready else "no",
                ", ".join(d.holders) or "-",
                key=d.name,
            )
        for u in devices.usb:
            table.add_row(
                f"USB {u.bus:03d}:{u.device:03d}",
                f"{u.vendor} {u.product}",
                "usb",
                "-",
                "-",
                "yes",
                ", ".join(u.holders) or "-",
                key=u.name,
            )
        for m in devices.mdev_types:
            table.add_row(
                f"mdev {m.type_id}",
                f"{m.name} on {m.parent}",
                m.api,
                "-",
                "-",
                f"{m.available} free",
                "-",
                key=f"mdev:{m.parent}:{m.type_id}",
            )
        self.query_one("#hd-status", Static).update(
            f"{len(devices.pci)} PCI, {len(devices.usb)} USB, {len(devices.mdev_types)} "
            "mediated device types"
        )

    def _selected(self) -> str | None:
        key = cursor_key(self.query_one(DataTable))
        if key is None or key.startswith("mdev:"):
            self.notify("Select a PCI or USB device.", timeout=3)
            return None
        return key

    def action_attach(self, live: bool) -> None:
        device = self._selected()
        if device is None:
            return
        hv = services(self).hypervisor_for(self.uuid)
        flags = ("--config", "--live") if live else ("--config",)
        services(self).runner.run(
            lambda: attach_host_device(hv, self.uuid, device, live=live, config=True),
            done=lambda _xml: self.action_refresh(),
            what=f"attach {device} to {self.guest_name}",
            success=f"{device} attached to {self.guest_name}.",
            command=("attach-device", self.guest_name, f"<hostdev {device}>", *flags),
            host=hv.uri,
        )

    def action_detach(self) -> None:
        device = self._selected()
        if device is None:
            return
        hv = services(self).hypervisor_for(self.uuid)
        services(self).runner.run(
            lambda: detach_host_device(hv, self.uuid, device, config=True),
            done=lambda _none: self.action_refresh(),
            what=f"detach {device} from {self.guest_name}",
            success=f"{device} detached from {self.guest_name}.",
            command=("detach-device", self.guest_name, f"<hostdev {device}>", "--config"),
            host=hv.uri,
        )
