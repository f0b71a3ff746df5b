"""How a guest boots (key M): boot order and menu, firmware BIOS / UEFI / secure boot as the
host offers them, an emulated TPM 2.0, a managed save to discard. Changes apply at next boot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Label, Static

from vmtui.backend.machine import (
    FIRMWARE_WORDS,
    MachineSettings,
    add_tpm,
    discard_managed_save,
    read_settings,
    remove_tpm,
    set_boot_order,
    set_firmware,
)
from vmtui.control.services import services
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.hostview import HostView
from vmtui.widgets.status_line import StatusLine


def summary(s: MachineSettings) -> Text:
    out = Text()
    out.append("Firmware ", style="bold")
    out.append(FIRMWARE_WORDS.get(s.firmware, s.firmware))
    offered = ", ".join(FIRMWARE_WORDS[f] for f in s.firmware_choices)
    out.append(f"  (this host offers: {offered})\n", style="dim")
    out.append("TPM ", style="bold")
    out.append(s.tpm or ("none" + ("" if s.tpm_possible else " (swtpm missing on the host)")))
    out.append("\nBoot menu ", style="bold")
    out.append("shown" if s.boot_menu else "hidden")
    if s.has_managed_save:
        out.append("\nSaved state: ", style="bold")
        out.append("the next start resumes it (X discards it)")
    if s.direct_kernel:
        out.append(
            "\nThis guest boots a kernel directly (<kernel> in its definition): the boot order "
            "does not apply.",
            style="yellow",
        )
    out.append("\nExternal snapshots work for UEFI guests; internal ones (S) do not.", style="dim")
    return out


class MachineScreen(HostView):
    """Boot order (move with + / -), boot menu, firmware, TPM of one guest."""

    BINDINGS = [
        Binding("plus,equals_sign", "move(-1)", "Earlier"),
        Binding("minus", "move(1)", "Later"),
        Binding("space", "toggle_boot", "Boot on/off"),
        Binding("m", "menu", "Boot menu"),
        Binding("f", "firmware", "Firmware"),
        Binding("t", "tpm", "TPM"),
        Binding("X", "discard", "Discard saved state", show=False),
        Binding("escape", "back", "Back"),
    ]
    MUTATING = frozenset({"move", "toggle_boot", "menu", "firmware", "tpm", "discard"})

    def __init__(self, uuid: str, name: str) -> None:
        super().__init__()
        self.uuid = uuid
        self.guest_name = name
        self.data: MachineSettings | None = None
        self.loads = 0

    def compose(self) -> ComposeResult:
        yield Label(f"Boot and firmware of {self.guest_name}", id="guest-title", markup=False)
        table: DataTable[str | Text] = DataTable(id="boot-table", cursor_type="row")
        yield table
        yield Static("", id="machine-detail", markup=False)
        yield StatusLine()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#boot-table", DataTable).add_columns("boot", "device")
        self.reload()

    def reload(self) -> None:
        hv = services(self).hypervisor_for(self.uuid)
        services(self).runner.run(
            lambda: read_settings(hv, self.uuid),
            done=self._show,
            what=f"read the boot settings of {self.guest_name}",
        )

    def _show(self, data: MachineSettings) -> None:
        self.data = data
        self.loads += 1
        table = self.query_one("#boot-table", DataTable)
        row = table.cursor_row
        table.clear()
        for d in data.devices:
            table.add_row(Text(str(d.order) if d.order else "-"), Text(d.label), key=d.key)
        if data.devices:
            table.move_cursor(row=min(row, len(data.devices) - 1))
        table.focus()
        self.query_one("#machine-detail", Static).update(summary(data))

    def _change(self, call: Callable[[Any], object], what: str, success: str) -> None:
        hv = services(self).hypervisor_for(self.uuid)

        def failed(error: str) -> None:
            self.notify(error, markup=False, severity="error", timeout=10)
            self.reload()

        services(self).runner.run(
            lambda: call(hv),
            done=lambda _r: self.reload(),
            failed=failed,
            what=what,
            success=success,
            command=("edit", self.guest_name, f"# {what}"),
            host=hv.uri,
        )

    def _order(self) -> list[str]:
        assert self.data is not None
        return [d.key for d in self.data.devices if d.order]

    def action_move(self, step: int) -> None:
        data = self.data
        if data is None or not data.devices:
            return
        table = self.query_one("#boot-table", DataTable)
        dev = data.devices[table.cursor_row]
        order = self._order()
        if dev.key not in order:
            order.append(dev.key)
        i = order.index(dev.key)
        j = max(0, min(len(order) - 1, i + step))
        order[i], order[j] = order[j], order[i]
        table.move_cursor(row=j)
        self._change(
            lambda hv: set_boot_order(hv, self.uuid, order, data.boot_menu),
            "change the boot order",
            f"{self.guest_name} boots from {', '.join(order)} next time.",
        )

    def action_toggle_boot(self) -> None:
        data = self.data
        if data is None or not data.devices:
            return
        dev = data.devices[self.query_one("#boot-table", DataTable).cursor_row]
        order = self._order()
        order = [k for k in order if k != dev.key] if dev.key in order else [*order, dev.key]
        self._change(
            lambda hv: set_boot_order(hv, self.uuid, order, data.boot_menu),
            "change the boot order",
            "Boot order changed (next boot).",
        )

    def action_menu(self) -> None:
        data = self.data
        if data is None:
            return
        order = self._order()
        self._change(
            lambda hv: set_boot_order(hv, self.uuid, order, not data.boot_menu),
            "change the boot menu",
            "The boot menu is " + ("hidden" if data.boot_menu else "shown") + " from next boot.",
        )

    def action_firmware(self) -> None:
        data = self.data
        if data is None:
            return
        choices = data.firmware_choices
        nxt = (
            choices[(choices.index(data.firmware) + 1) % len(choices)]
            if (data.firmware in choices)
            else choices[0]
        )
        if nxt == data.firmware:
            self.notify("This host offers no other firmware for this guest.", timeout=4)
            return
        body = (
            f"{self.guest_name} will start with {FIRMWARE_WORDS[nxt]} instead of "
            f"{FIRMWARE_WORDS[data.firmware]}. An operating system installed for one firmware "
            "usually does not boot on the other; its UEFI variables (boot entries) start "
            "afresh. Press f again to cycle through the choices."
        )
        ConfirmScreen(f"Switch firmware to {FIRMWARE_WORDS[nxt]}?", body, confirm="Switch").ask(
            self.app,
            lambda: self._change(
                lambda hv: set_firmware(hv, self.uuid, nxt),
                "change the firmware",
                f"{self.guest_name} starts with {FIRMWARE_WORDS[nxt]} next time.",
            ),
        )

    def action_tpm(self) -> None:
        data = self.data
        if data is None:
            return
        if not data.tpm:
            self._change(
                lambda hv: add_tpm(hv, self.uuid),
                "add a TPM",
                f"{self.guest_name} gets a TPM 2.0 at next boot.",
            )
            return
        ConfirmScreen(
            f"Remove the TPM of {self.guest_name}?",
            "Keys the guest sealed in its TPM (disk encryption, Windows BitLocker) cannot be "
            "unsealed without it: such a guest may not boot or may ask for recovery keys.",
            confirm="Remove",
        ).ask(
            self.app,
            lambda: self._change(
                lambda hv: remove_tpm(hv, self.uuid),
                "remove the TPM",
                f"{self.guest_name} has no TPM from next boot.",
            ),
        )

    def action_discard(self) -> None:
        data = self.data
        if data is None or not data.has_managed_save:
            self.notify("This guest has no saved state.", timeout=3)
            return
        ConfirmScreen(
            f"Discard the saved state of {self.guest_name}?",
            "What the guest was doing when it was saved (open programs, unsaved work) is lost; "
            "the next start boots afresh.",
            confirm="Discard",
        ).ask(
            self.app,
            lambda: self._change(
                lambda hv: discard_managed_save(hv, self.uuid),
                "discard the saved state",
                "Saved state discarded.",
            ),
        )

    def action_back(self) -> None:
        self.app.pop_screen()
