"""The host's devices, seen from one guest (U on a guest): PCI devices (vendor, product,
class, IOMMU group and its other members, bound driver, ready for passthrough), USB devices,
mediated device types, and which guest holds each; ``a`` attaches the selected device to the
guest (at next boot), ``A`` now too, ``x`` detaches it. A refusal (another guest holds it, its
IOMMU group would be split) is a sentence naming that guest (backend/hostdevices.py).

Opened for a host (``U`` in the host view, ``f``) it has no guest: attach and detach are
hidden, the list is the same."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from vmtui.backend import Hypervisor
from vmtui.backend.hostdevices import (
    HostDevices,
    attach_host_device,
    detach_host_device,
    list_host_devices,
)
from vmtui.backend.mdev import create_mdev, list_mdevs, remove_mdev
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
        Binding("c", "create_mdev", "New mediated device"),
        Binding("k", "remove_mdev", "Remove mediated device"),
    ]

    def __init__(self, uuid: str = "", name: str = "", *, uri: str = "", host: str = "") -> None:
        """For guest ``uuid`` (attach / detach), or, with ``uuid`` empty, for host ``uri``
        (shown as ``host``): no guest, no attach or detach."""
        super().__init__()
        self.uuid = uuid
        self.guest_name = name
        self.uri = uri
        self.host_label = host or uri
        self.devices: HostDevices | None = None
        self.mdevs: list[tuple[str, str, str, str]] = []  # backend/mdev.py list_mdevs

    def _hv(self) -> Hypervisor:
        if self.uuid:
            return services(self).hypervisor_for(self.uuid)
        return services(self).hypervisor_for_uri(self.uri)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # a host's view: there is no guest to attach to
        return not (action in ("attach", "detach") and not self.uuid)

    def compose(self) -> ComposeResult:
        title = (
            f"Host devices, for guest {self.guest_name}"
            if self.uuid
            else f"Host devices of {self.host_label}"
        )
        yield Static(title, id="hd-title", markup=False)
        table: DataTable[str] = DataTable(cursor_type="row", id="hd-table")
        table.add_columns(*COLUMNS)
        yield table
        yield Static("", id="hd-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        hv = self._hv()
        services(self).runner.run(
            lambda: (list_host_devices(hv), list_mdevs(hv)),
            done=self._listed,
            what="list host devices",
        )

    def _listed(self, found: tuple[HostDevices, list[tuple[str, str, str, str]]]) -> None:
        self.mdevs = found[1]
        self.show(found[0])

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
        for name, parent, type_id, uuid in self.mdevs:
            table.add_row(
                f"mdev {uuid or name}",
                f"{type_id} on {parent}",
                "mdev",
                "-",
                "-",
                "-",
                "-",
                key=f"mdevdev:{name}",
            )
        self.query_one("#hd-status", Static).update(
            f"{len(devices.pci)} PCI, {len(devices.usb)} USB, {len(devices.mdev_types)} "
            f"mediated device types, {len(self.mdevs)} mediated devices"
        )

    def action_create_mdev(self) -> None:
        """c on a mediated device type: make one instance (transient) of it."""
        key = cursor_key(self.query_one(DataTable))
        if key is None or not key.startswith("mdev:"):
            self.notify("Select a mediated device type (an mdev row).", timeout=3)
            return
        _, parent, type_id = key.split(":", 2)
        hv = self._hv()
        services(self).runner.run(
            lambda: create_mdev(hv, parent, type_id),
            done=lambda _name: self.action_refresh(),
            what=f"create a {type_id} mediated device",
            success=lambda name: f"Mediated device {name} created.",
            command=("nodedev-create", f"<mdev {type_id} on {parent}>"),
            host=hv.uri,
        )

    def action_remove_mdev(self) -> None:
        """k on a mediated device: destroy (and undefine) it."""
        key = cursor_key(self.query_one(DataTable))
        if key is None or not key.startswith("mdevdev:"):
            self.notify("Select a mediated device (not a type).", timeout=3)
            return
        name = key.split(":", 1)[1]
        hv = self._hv()
        services(self).runner.run(
            lambda: remove_mdev(hv, name),
            done=lambda _none: self.action_refresh(),
            what=f"remove mediated device {name}",
            success=f"Mediated device {name} removed.",
            command=("nodedev-destroy", name),
            host=hv.uri,
        )

    def _selected(self) -> str | None:
        key = cursor_key(self.query_one(DataTable))
        if key is None or key.startswith("mdev"):
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
