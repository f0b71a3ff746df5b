"""A guest's allocation: vCPUs, memory, CPU pinning, CPU tuning and memory limits.

Two columns show what the guest has now (live) and at its next boot (config); the inputs
start from the live values when it runs. Only edited fields change; the radio set says when
(now, at next boot, or both). Nothing reaches libvirt before every field is valid and the
user confirmed the list of changes; each change is one backend call with its virsh words.
"""

from __future__ import annotations

from functools import partial
from typing import cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, RadioButton, RadioSet, Static

from vmtui.backend import Hypervisor, VmtuiError
from vmtui.backend.allocation import (
    Allocation,
    AllocationForm,
    AllocationInfo,
    Change,
    apply_change,
    base_form,
    cpu_list_text,
    form_for,
    plan_changes,
    read_allocation,
    set_domain_type,
)
from vmtui.backend.devices import InvalidInput
from vmtui.control.services import services
from vmtui.core import format as fmt
from vmtui.screens.confirm import ConfirmScreen
from vmtui.widgets.status_line import StatusLine

# (field, label, placeholder)
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("vcpus", "vCPUs", "a number"),
    ("max_vcpus", "Max vCPUs", "running: next boot"),
    ("memory", "Memory", "512M, 2G…"),
    ("max_memory", "Max memory", "running: next boot"),
    ("shares", "CPU shares", "2-262144"),
    ("period", "CPU period µs", "1000-1000000"),
    ("quota", "CPU quota µs", "-1 = none"),
    ("hard_limit", "Mem hard limit", "2G, unlimited"),
    ("soft_limit", "Mem soft limit", "1G, unlimited"),
)

# form field -> Allocation attribute, where the names differ
ATTRIBUTES = {
    "memory": "memory_kib",
    "max_memory": "max_memory_kib",
    "hard_limit": "hard_limit_kib",
    "soft_limit": "soft_limit_kib",
}

WHEN = (("both", "now and at next boot"), ("live", "now only"), ("config", "at next boot only"))


def side_text(alloc: Allocation | None, field: str) -> str:
    """How one side shows a field in its column."""
    if alloc is None:
        return fmt.DASH
    if field.startswith("pin-"):
        pins = alloc.pins.get(int(field[4:]))
        if pins:
            return cpu_list_text(pins)
        # a cpuset vmtui could not fully read is shown as written, never as "any"
        return alloc.pin_text.get(int(field[4:]), "any")
    value = getattr(alloc, ATTRIBUTES.get(field, field))
    if field in ("memory", "max_memory"):
        return fmt.kib(value)
    if field in ("hard_limit", "soft_limit"):
        return "unlimited" if value is None else fmt.kib(value)
    return fmt.DASH if value is None else str(value)


def host_line(info: AllocationInfo) -> str:
    host = info.host
    state = "running" if info.running else info.state.label
    kind = "" if info.persistent else ", transient"
    return (
        f"Guest {info.name} is {state}{kind}. Host: {host.count} CPUs "
        f"(online {host.online_text}), {fmt.kib(host.memory_kib)} memory."
    )


def hotplug_note(changes: list[Change], running_vcpus: int | None) -> str:
    """After vCPUs were added to a running guest: the guest may have to bring them online."""
    if running_vcpus is not None and any(
        c.kind == "vcpus" and c.live and c.number > running_vcpus for c in changes
    ):
        return (
            " A guest without CPU hotplug rules may need to bring new vCPUs online itself "
            "(echo 1 > /sys/devices/system/cpu/cpuN/online)."
        )
    return ""


class AllocationScreen(Screen[None]):
    """Reads the allocation in a worker, shows it, and applies confirmed changes in order."""

    CSS = """
    AllocationScreen #alloc-title { padding: 0 1; text-style: bold; background: $boost; }
    AllocationScreen #alloc-host { padding: 0 1; }
    AllocationScreen #alloc-form { height: 1fr; padding: 0 1; }
    AllocationScreen .row { height: 1; }
    AllocationScreen .row .name { width: 16; }
    AllocationScreen .row .now, AllocationScreen .row .boot { width: 12; color: $text-muted; }
    AllocationScreen .row Input { width: 1fr; }
    AllocationScreen .head { text-style: bold; }
    AllocationScreen #alloc-note { color: $text-muted; padding: 0 1; }
    AllocationScreen #alloc-error { color: $error; padding: 0 1; height: auto; }
    AllocationScreen #alloc-bottom { height: auto; padding: 0 1; }
    AllocationScreen #alloc-bottom Button { margin-left: 2; }
    """

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+s", "apply", "Apply"),
        Binding("ctrl+r", "reload", "Reload", show=False),
        Binding("T", "domain_type", "KVM / QEMU"),
    ]

    def __init__(self, uuid: str, name: str) -> None:
        super().__init__()
        self.uuid = uuid
        self.guest_name = name
        self.info: AllocationInfo | None = None
        self.base: AllocationForm | None = None
        self.applying = False
        self.host = ""
        self.gone = False  # left (unmounted): late answers are dropped
        self.header_text = ""

    def compose(self) -> ComposeResult:
        yield Static(f"Allocation of {self.guest_name}", id="alloc-title", markup=False)
        yield Static("Reading…", id="alloc-host", markup=False)
        yield VerticalScroll(id="alloc-form")
        yield Static("", id="alloc-note", markup=False)
        yield Static("", id="alloc-error", markup=False)
        with Horizontal(id="alloc-bottom"):
            with RadioSet(id="alloc-when", compact=True):
                for key, label in WHEN:
                    yield RadioButton(label, id=f"when-{key}")
            yield Button("Apply", id="apply", variant="primary", compact=True)
        yield StatusLine(id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.host = services(self).uri_of(self.uuid) or ""  # changes go to this host only
        self.action_reload()
        # the host's committed vCPUs and memory follow the polls (a change made here too)
        self.set_interval(max(1.0, services(self).interval), self.refresh_header)

    def refresh_header(self) -> None:
        """The guest's state and the host's CPUs, memory and what running guests commit,
        as of the host's last poll."""
        info = self.info
        if info is None or self.gone:
            return
        link = services(self).hosts.get(self.host)
        stats = link.snapshot.host if link is not None and link.snapshot is not None else None
        committed = ""
        if stats is not None and not stats.committed_vcpus:
            committed = " No guest runs on this host now."
        elif stats is not None:
            committed = (
                f" Running guests commit {stats.committed_vcpus} "
                f"vCPU{'' if stats.committed_vcpus == 1 else 's'} and "
                f"{fmt.kib(stats.committed_mem_kib)} memory."
            )
        header = self.query_one("#alloc-host", Static)
        kind = {
            "kvm": " Runs under KVM (T: switch).",
            "qemu": " Runs under QEMU emulation (T: switch).",
        }
        text = host_line(info) + kind.get(self._domain_type(), "") + committed
        if text != self.header_text:
            self.header_text = text
            header.update(text)

    def _hv(self) -> Hypervisor:
        app = services(self)
        return app.hypervisor_for_uri(self.host) if self.host else app.hypervisor_for(self.uuid)

    # ------------------------------------------------------------ reading
    def action_reload(self) -> None:
        if self.gone:
            return
        try:
            hv = self._hv()
        except VmtuiError as err:  # the host was disconnected
            self._read_failed(err.message)
            return
        services(self).runner.run(
            partial(read_allocation, hv, self.uuid),
            done=self.show_info,
            failed=self._read_failed,
            what=f"read the allocation of {self.guest_name}",
        )

    def _read_failed(self, error: str) -> None:
        if not self.gone:
            self.query_one("#alloc-host", Static).update(error)

    def show_info(self, info: AllocationInfo) -> None:
        """Fill the form from a fresh reading (drops what was typed)."""
        if self.gone:
            return
        self.info = info
        self.base = form_for(info.shown)  # _set_when switches it to the chosen side
        self.query_one("#alloc-title", Static).update(f"Allocation of {info.name}")
        self.refresh_header()
        form = self.query_one("#alloc-form", VerticalScroll)
        form.remove_children()
        rows = [self._row("", "now", "next boot", None, head=True)]
        for field, label, hint in FIELDS:
            rows.append(self._row(field, label, hint, info))
        for n in range(info.shown.max_vcpus):
            rows.append(self._row(f"pin-{n}", f"vCPU {n} on CPUs", "0-3,6", info))
        form.mount_all(rows)
        notes = []
        if info.running:
            notes.append("Max vCPUs and max memory of a running guest change at its next boot.")
        notes.append("Only the fields you edit change; memory sizes take K, M, G.")
        self.query_one("#alloc-note", Static).update(" ".join(notes))
        self._set_when(info)

    def _row(
        self, field: str, label: str, hint: str, info: AllocationInfo | None, head: bool = False
    ) -> Horizontal:
        if head or info is None:
            return Horizontal(
                Label("", classes="name"),
                Label(label, classes="now head"),
                Label(hint, classes="boot head"),
                Label("new value", classes="head"),
                classes="row",
            )
        assert self.base is not None
        if field.startswith("pin-"):
            value = self.base.pins.get(int(field[4:]), "")
        else:
            value = cast(str, getattr(self.base, field))
        box = Input(value, placeholder=hint, id=f"f-{field}", compact=True)
        return Horizontal(
            Label(label, classes="name", markup=False),
            Label(side_text(info.live, field), classes="now", markup=False),
            Label(side_text(info.config, field), classes="boot", markup=False),
            box,
            classes="row",
        )

    def _set_when(self, info: AllocationInfo) -> None:
        allowed = {
            "both": info.running and info.persistent,
            "live": info.running,
            "config": info.persistent,
        }
        choice = next(k for k in ("both", "live", "config") if allowed[k])
        for key, _label in WHEN:
            button = self.query_one(f"#when-{key}", RadioButton)
            button.disabled = not allowed[key]
            button.value = key == choice

    # ------------------------------------------------------------ applying
    @on(RadioSet.Changed, "#alloc-when")
    def _when_changed(self) -> None:
        """Start the untouched fields from the side that changes: the next boot's values
        for "at next boot only", else the running ones. Edited fields keep what was typed."""
        info, old = self.info, self.base
        if info is None or old is None:
            return
        live, config = self.when()
        new = base_form(info, live=live, config=config)
        for field, _label, _hint in FIELDS:
            box = self.query_one(f"#f-{field}", Input)
            if box.value == getattr(old, field):
                box.value = cast(str, getattr(new, field))
        for n in range(info.shown.max_vcpus):
            box = self.query_one(f"#f-pin-{n}", Input)
            if box.value == old.pins.get(n, ""):
                box.value = new.pins.get(n, "")
        self.base = new

    def when(self) -> tuple[bool, bool]:
        """(live, config) from the radio set."""
        for key, _label in WHEN:
            if self.query_one(f"#when-{key}", RadioButton).value:
                return key in ("both", "live"), key in ("both", "config")
        return False, False

    def form(self) -> AllocationForm:
        """What the inputs hold now."""
        assert self.info is not None
        values = {field: self.query_one(f"#f-{field}", Input).value for field, _l, _h in FIELDS}
        pins = {
            n: self.query_one(f"#f-pin-{n}", Input).value for n in range(self.info.shown.max_vcpus)
        }
        return AllocationForm(pins=pins, **values)

    def show_error(self, text: str) -> None:
        if not self.gone:
            self.query_one("#alloc-error", Static).update(text)
        elif text:  # the user left the screen while changes were being applied
            self.app.notify(text, markup=False, severity="error", timeout=8)

    @on(Button.Pressed, "#apply")
    def _apply_pressed(self) -> None:
        self.action_apply()

    def action_apply(self) -> None:
        info = self.info
        if info is None or self.applying:
            return
        live, config = self.when()
        try:
            changes = plan_changes(info, self.form(), live=live, config=config, base=self.base)
        except InvalidInput as err:
            self.show_error(err.message)
            return
        if not changes:
            self.show_error("Nothing to change: edit a field first.")
            return
        self.show_error("")
        body = "\n".join(f"• {c.describe()}" for c in changes)

        def apply() -> None:
            self.applying = True
            self._apply_next(changes, 0)

        ConfirmScreen(f"Change the allocation of {info.name}?", body, confirm="Apply").ask(
            self.app, apply
        )

    def _apply_next(self, changes: list[Change], index: int) -> None:
        """One change at a time, in order (a maximum before the value it allows)."""
        if index == len(changes):
            self.applying = False
            live = self.info.live if self.info is not None else None
            note = hotplug_note(changes, live.vcpus if live is not None else None)
            self.notify(
                f"Changed the allocation of {self.guest_name}.{note}",
                markup=False,
                timeout=8 if note else 3,
            )
            self.action_reload()
            services(self).request_poll(self.host or None)  # the header's committed figures
            return
        change = changes[index]

        def failed(error: str) -> None:
            self.applying = False
            done = f" ({index} of {len(changes)} changes were made.)" if index else ""
            self.show_error(error + done)
            self.action_reload()

        try:
            hv = self._hv()
        except VmtuiError as err:  # the host was disconnected
            failed(err.message)
            return
        services(self).runner.run(
            partial(apply_change, hv, self.uuid, change),
            done=lambda _r: self._apply_next(changes, index + 1),
            failed=failed,
            what=f"change the allocation of {self.guest_name}",
            command=change.virsh(self.guest_name),
            host=hv.uri,
        )

    def _domain_type(self) -> str:
        snapshot = services(self).snapshot
        guest = (
            next((g for g in snapshot.guests if g.uuid == self.uuid), None) if snapshot else None
        )
        return guest.domain_type if guest is not None else ""

    def action_domain_type(self) -> None:
        """T: switch between KVM and QEMU emulation (TCG) from the next start: the way out
        when KVM is present but broken and a guest spins with a blank console."""
        current = self._domain_type()
        if current not in ("kvm", "qemu"):
            self.show_error(
                f"Guest {self.guest_name} runs under '{current or '?'}': only "
                "KVM and QEMU emulation can be switched here."
            )
            return
        new = "qemu" if current == "kvm" else "kvm"
        why = (
            "QEMU emulation (TCG) needs no KVM: slower, but it runs where KVM is missing or "
            "broken. A host CPU mode becomes QEMU's own CPU model."
            if new == "qemu"
            else "KVM runs the guest on the host's CPU, much faster, where /dev/kvm works."
        )
        hv = self._hv()
        uuid, name = self.uuid, self.guest_name

        def switch() -> None:
            services(self).runner.run(
                lambda: set_domain_type(hv, uuid, new),
                done=lambda _said: self.action_reload(),
                failed=self.show_error,
                what=f"change the domain type of {name}",
                success=lambda said: said,
                command=("edit", name),
                host=hv.uri,
            )

        ConfirmScreen(
            f"Run {name} under {'QEMU emulation' if new == 'qemu' else 'KVM'}?",
            f"It runs under {current} now. {why} It applies from the guest's next start.",
            confirm="Switch",
        ).ask(self.app, switch)

    def on_unmount(self) -> None:
        self.gone = True

    def action_back(self) -> None:
        self.dismiss()
