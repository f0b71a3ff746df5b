"""The new-guest wizard (n on the dashboard): basics, install source, disks, network, shared
folders, graphics, review. Keyboard first: Tab moves between fields, ctrl+n / page down goes
on, ctrl+b / page up goes back, escape leaves. Errors are shown in the wizard as sentences and
nothing typed is lost. The review shows the domain XML and the equivalent virt-install line;
creating runs in a worker (``Services.runner``) and undoes itself if a step fails.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, ContentSwitcher, Footer, Input, Label, Select, Static

from vmtui.backend.create import (
    CreateResult,
    HostChoices,
    create_default_pool,
    create_guest,
    default_pool_path,
    host_choices,
    install_file_problem,
)
from vmtui.backend.devices import (
    NIC_KINDS,
    NIC_MODELS,
    InvalidInput,
    MissingFolder,
    NicSpec,
    RiskyPath,
    SharedFolderSpec,
    check_share_host,
    make_share_folder,
)
from vmtui.backend.spec import (
    INSTALL_KINDS,
    INSTALL_LABELS,
    CloudInitSpec,
    DiskSpec,
    GuestSpec,
    InstallSpec,
    build_domain_xml,
    check_name,
    command_line,
    parse_mib,
)
from vmtui.control.services import services
from vmtui.core.format import short_uri
from vmtui.screens.confirm import ConfirmScreen
from vmtui.widgets.problem_line import ProblemLine

STEPS = (
    ("basics", "Basics"),
    ("install", "Install source"),
    ("disks", "Disks"),
    ("network", "Network"),
    ("shares", "Shared folders"),
    ("graphics", "Graphics"),
    ("review", "Review"),
)


# The install step's field for each InstallSpec file field (install_file_problem).
INSTALL_FIELDS = {"media_path": "iso-path", "kernel": "kernel", "initrd": "initrd"}


class _Step(VerticalScroll, can_focus=False):
    """One step's fields: Tab goes from field to field, never to the step itself (a stop
    with nothing highlighted); it scrolls to the focused field."""


def _row(label: str, widget: Widget, row_id: str | None = None) -> Horizontal:
    if isinstance(widget, Input | Select):
        widget.compact = True  # one line per field: the wizard fits in 80x24
    return Horizontal(Label(label, classes="field-label"), widget, classes="field", id=row_id)


def _select(options: list[tuple[str, str]], value: str, wid: str) -> Select[str]:
    return Select(options, value=value, allow_blank=False, id=wid)


class CreateScreen(Screen[None]):
    """Dismisses with None; the new guest shows up on the dashboard at the next poll."""

    CSS_PATH = "create.tcss"
    BINDINGS = [
        Binding("ctrl+n", "next", "Next", priority=True),
        Binding("ctrl+b", "back", "Back", priority=True),
        # Not a priority binding: an open drop-down closes on escape first.
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, uri: str) -> None:
        super().__init__()
        self.uri = uri
        self.step = 0
        self.choices: HostChoices | None = None
        self.disks: list[DiskSpec] = []
        self.nics: list[NicSpec] = []
        self.shares: list[SharedFolderSpec] = []
        self.risky_ok: set[str] = set()  # resolved share paths the user agreed to
        self.spec: GuestSpec | None = None  # the checked spec shown on the review step
        self.creating = False
        self.checking = False  # the install step's files are being checked
        self._typed_for = ""  # the host whose defaults the fields were set from
        self._typed: dict[str, str] = {}  # each text field's value when the wizard opened
        self.result: CreateResult | None = None
        self.error_text = ""  # the sentence shown in the wizard's error line

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Label("", id="create-title", markup=False)
        with ContentSwitcher(initial="basics", id="steps"):
            with _Step(id="basics"):
                hosts = list(services(self).hosts)
                if len(hosts) > 1:
                    yield _row("Host", _select([(h, h) for h in hosts], self.uri, "host"))
                yield _row(
                    "Name", Input(placeholder="letters, digits, _ . + - (up to 64)", id="name")
                )
                yield _row("Title", Input(placeholder="optional, one line", id="title"))
                yield _row("Description", Input(placeholder="optional", id="description"))
                yield _row("Memory", Input("1024", placeholder="MiB, or 2G", id="memory"))
                yield _row("Max memory", Input(placeholder="same as memory", id="max-memory"))
                yield _row("vCPUs", Input("1", id="vcpus", type="integer"))
                yield _row("Max vCPUs", Input(placeholder="same as vCPUs", id="max-vcpus"))
                modes = [
                    ("host-model", "host-model"),
                    ("host-passthrough", "host-passthrough"),
                    ("named model", "custom"),
                ]
                yield _row("CPU mode", _select(modes, "host-model", "cpu-mode"))
                yield _row("CPU model", Input(placeholder="e.g. qemu64", id="cpu-model"))
                types = [("kvm (hardware)", "kvm"), ("qemu (TCG emulation)", "qemu")]
                yield _row("Domain type", _select(types, "kvm", "domain-type"))
                firmwares = [("BIOS", "bios"), ("UEFI (OVMF)", "uefi")]
                yield _row("Firmware", _select(firmwares, "bios", "firmware"))
                yield Static("", id="host-facts", classes="dim", markup=False)
            with _Step(id="install"):
                kinds = [(INSTALL_LABELS[k], k) for k in INSTALL_KINDS]
                yield _row("Source", _select(kinds, "iso", "install-kind"))
                with Vertical(id="install-iso", classes="group"):
                    yield _row("ISO path", Input(placeholder="/path/on/host.iso", id="iso-path"))
                    yield _row("…or pool", _select([("(a path)", "")], "", "iso-pool"))
                    yield _row("ISO volume", Input(placeholder="volume name", id="iso-volume"))
                    yield Static("", id="iso-pool-volumes", classes="dim", markup=False)
                with Vertical(id="install-kernel", classes="group"):
                    yield _row("Kernel", Input(placeholder="/path/to/vmlinuz", id="kernel"))
                    yield _row("Initrd", Input(placeholder="optional", id="initrd"))
                    yield _row("Command line", Input("console=ttyS0", id="cmdline"))
                with Vertical(id="install-cloud", classes="group"):
                    yield _row("Seed pool", _select([("(no pool)", "")], "", "seed-pool"))
                    yield _row("Host name", Input(id="ci-hostname"))
                    yield _row("User", Input(id="ci-user"))
                    yield _row("Password", Input(password=True, id="ci-password"))
                    yield _row("SSH key", Input(placeholder="ssh-ed25519 AAAA…", id="ci-key"))
                    yield _row("User-data", Input(placeholder="optional file", id="ci-file"))
                yield Static("", id="install-hint", classes="dim", markup=False)
            with _Step(id="disks"):
                disk_kinds = [
                    ("new volume", "new"),
                    ("existing volume", "volume"),
                    ("host path", "path"),
                ]
                yield _row("Kind", _select(disk_kinds, "new", "disk-kind"))
                yield _row("Pool", _select([("(no pool)", "")], "", "disk-pool"))
                yield _row("Volume", Input(placeholder="name (new: optional)", id="disk-volume"))
                yield Static("", id="disk-pool-volumes", classes="dim", markup=False)
                yield _row("Path", Input(placeholder="/path/to/image", id="disk-path"))
                yield _row("Size", Input("10G", id="disk-size"))
                fmts = [("qcow2", "qcow2"), ("raw", "raw"), ("as it is (existing)", "")]
                yield _row("Format", _select(fmts, "qcow2", "disk-format"))
                buses = [("virtio", "virtio"), ("sata", "sata"), ("scsi", "scsi")]
                yield _row("Bus", _select(buses, "virtio", "disk-bus"))
                with Horizontal(classes="list-buttons"):
                    yield Button("Add disk", id="add-disk")
                    yield Button("Remove last", id="remove-disk")
                    # shown only on a host without a running pool (a fresh install)
                    yield Button("Make pool 'default'", id="make-pool")
                yield Static("No disks.", id="disk-list", markup=False)
            with _Step(id="network"):
                yield _row("Kind", _select([(k, k) for k in NIC_KINDS], "network", "nic-kind"))
                yield _row("Source", Input(placeholder="network / bridge / device", id="nic-src"))
                yield _row("Model", _select([(m, m) for m in NIC_MODELS], "virtio", "nic-model"))
                with Horizontal(classes="list-buttons"):
                    yield Button("Add NIC", id="add-nic")
                    yield Button("Remove last", id="remove-nic")
                yield Static("No network card.", id="nic-list", markup=False)
            with _Step(id="shares"):
                yield _row("Host folder", Input(placeholder="/srv/share", id="share-src"))
                yield _row("Mount tag", Input("share", id="share-tag"))
                drivers = [("9p", "9p"), ("virtiofs", "virtiofs")]
                yield _row("Type", _select(drivers, "9p", "share-driver"))
                yield Checkbox("Read-only", value=True, id="share-ro")
                with Horizontal(classes="list-buttons"):
                    yield Button("Add folder", id="add-share")
                    yield Button("Remove last", id="remove-share")
                yield Static("No shared folder.", id="share-list", markup=False)
            with _Step(id="graphics"):
                kinds_g = [
                    ("none (serial console only)", "none"),
                    ("VNC", "vnc"),
                    ("SPICE", "spice"),
                ]
                yield _row("Graphics", _select(kinds_g, "none", "graphics-kind"))
                yield _row("Listen on", Input("127.0.0.1", id="listen"))
                yield Checkbox("Start the guest when it is created", value=True, id="start")
                yield Static(
                    "Every guest gets a serial console (c on the dashboard).", classes="dim"
                )
            with Vertical(id="review"):
                # The Create button stays under the scroll, on screen whatever the error says.
                with VerticalScroll(id="review-body"):
                    yield Label("Domain XML", classes="heading")
                    yield Static("", id="review-xml", markup=False)
                    yield Label("Equivalent commands", classes="heading")
                    yield Static("", id="review-command", markup=False)
                yield Button("Create (ctrl+n)", variant="success", id="create")
        yield Static("", id="create-progress", markup=False)
        yield ProblemLine(id="create-error")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._typed = {box.id or "": box.value for box in self.query(Input)}  # the defaults
        self._show_step()
        self._load_choices()
        self.query_one("#name", Input).focus()

    # ------------------------------------------------------------------ host facts
    def _load_choices(self) -> None:
        uri = self.uri
        self.choices = None
        self._say_progress(f"Reading what {uri} offers…")
        services(self).runner.run(
            lambda: host_choices(services(self).hypervisor_for_uri(uri)),
            done=self._got_choices,
            failed=self._error,
            what="read the host's pools and networks",
        )

    def _got_choices(self, choices: HostChoices) -> None:
        if choices.uri != self.uri:
            return
        self.choices = choices
        self._say_progress("")
        if self._typed_for != choices.uri:  # a re-read (after making a pool) keeps the choice
            self._typed_for = choices.uri
            self.query_one("#domain-type", Select).value = choices.default_domain_type
        pools = [(p.name if p.active else f"{p.name} (stopped)", p.name) for p in choices.pools]
        first = next((p.name for p in choices.pools if p.active), "")
        for wid, blank in (("#iso-pool", "(a path)"), ("#seed-pool", ""), ("#disk-pool", "")):
            select = cast("Select[str]", self.query_one(wid, Select))
            opts = ([(blank, "")] if blank else []) + pools
            select.set_options(opts or [("(no pool)", "")])
            select.value = "" if blank or not opts else first
        kvm = "usable" if choices.kvm else "not usable (qemu/TCG is the default)"
        why = f" ({choices.kvm_reason})" if choices.kvm_reason else ""
        uefi = ", ".join(choices.uefi_loaders) or "none found"
        nets = ", ".join(choices.networks) or "none"
        self.query_one("#host-facts", Static).update(
            f"KVM on this host: {kvm}{why}. UEFI firmware: {uefi}. Networks: {nets}."
        )
        if choices.default_max_vcpus:
            self.query_one(
                "#max-vcpus", Input
            ).placeholder = f"{choices.default_max_vcpus} (host CPUs): add vCPUs while it runs"
        self._show_pool_volumes("iso")
        self._show_pool_volumes("disk")
        no_pool = not any(p.active for p in choices.pools)
        self.query_one("#make-pool", Button).display = no_pool
        if no_pool:
            self.query_one("#disk-pool-volumes", Static).update(
                "This host has no running storage pool yet: “Make pool 'default'” makes the "
                f"usual one ({default_pool_path(choices.uri)}). Or choose kind “host path”: "
                "a file that does not exist is made with the size and format given."
            )

    # ------------------------------------------------------------------ steps
    def _show_step(self) -> None:
        key, title = STEPS[self.step]
        self.query_one(ContentSwitcher).current = key
        self.query_one("#create-title", Label).update(
            f"Step {self.step + 1}/{len(STEPS)}: {title} · new guest on {short_uri(self.uri)}"
        )
        self._update_install_groups()

    def action_next(self) -> None:
        if self.creating or self.checking:
            return
        self._error("")
        if STEPS[self.step][0] == "review":
            self._create()
            return
        try:
            self._check_step(STEPS[self.step][0])
        except InvalidInput as err:
            self._error(err.message)
            return
        if STEPS[self.step][0] == "install":
            self._check_install_files()
            return
        self._go_on()

    def _check_install_files(self) -> None:
        """The kernel, initrd or ISO must exist (on a local host): said here, at the install
        step, next to its field, not at Create."""
        install, uri, step = self._install(), self.uri, self.step
        self.checking = True

        def checked(problem: tuple[str, str] | None) -> None:
            self.checking = False
            if self.step != step or not self.is_attached:
                return
            if problem is None:
                self._go_on()
                return
            field, sentence = problem
            self._error(sentence)
            self.query_one(f"#{INSTALL_FIELDS.get(field, field)}", Input).focus()

        def failed(sentence: str) -> None:
            self.checking = False
            self._error(sentence)

        services(self).runner.run(
            lambda: install_file_problem(services(self).hypervisor_for_uri(uri), install),
            done=checked,
            failed=failed,
            what="check the install files",
        )

    def _go_on(self) -> None:
        if STEPS[self.step + 1][0] == "review":
            self._prepare_review()
            return
        self.step += 1
        self._show_step()
        self._focus_first()

    def action_back(self) -> None:
        if self.creating or self.step == 0:
            return
        self._error("")
        self.step -= 1
        self._show_step()
        self._focus_first()

    def unsaved_work(self) -> str | None:
        """What quitting would lose (control/work.py): the wizard part-way, or the create."""
        if self.creating and self.spec is not None:
            return f"the creation of guest {self.spec.name}, still running"
        typed = any(box.value != self._typed.get(box.id or "", "") for box in self.query(Input))
        if self.step or typed or self.disks or self.nics or self.shares:
            return (
                f"the new-guest wizard, at step {self.step + 1} of {len(STEPS)} "
                "(nothing created yet)"
            )
        return None

    def action_cancel(self) -> None:
        if self.creating:
            self.notify("The guest is being created; wait for it to finish.", timeout=3)
            return
        if not self.unsaved_work():
            self.dismiss(None)
            return

        ConfirmScreen(
            "Leave the new-guest wizard?",
            "Nothing has been created; what you typed in the wizard is dropped.",
            confirm="Leave",
        ).ask(self.app, lambda: self.dismiss(None))

    def _focus_first(self) -> None:
        pane = self.query_one(f"#{STEPS[self.step][0]}")
        for widget in pane.query("Input, Select, Checkbox, Button"):
            if widget.display and widget.focusable:
                widget.focus()
                return

    def _check_step(self, step: str) -> None:
        if step == "basics":
            taken = self.choices.taken_names if self.choices else frozenset()
            check_name(self._value("name"), taken)
            spec = self._basics()
            if self.choices and not self.choices.cpu_mode_usable(spec.domain_type, spec.cpu_mode):
                raise InvalidInput(
                    f"CPU mode {spec.cpu_mode} does not work with domain type "
                    f"{spec.domain_type} on this host; choose another."
                )
            choices = self.choices
            if (
                spec.firmware == "uefi"
                and choices is not None
                and not choices.uefi
                and choices.uri.startswith("qemu")
            ):
                raise InvalidInput(
                    "This host has no UEFI firmware (OVMF) that libvirt knows of; "
                    "choose BIOS or install the ovmf package."
                )
        elif step == "install":
            self._install().validate()

    # ------------------------------------------------------------------ reading fields
    def _value(self, wid: str) -> str:
        return self.query_one(f"#{wid}", Input).value

    def _choice(self, wid: str) -> str:
        value = self.query_one(f"#{wid}", Select).value
        return value if isinstance(value, str) else ""

    def _basics(self) -> GuestSpec:
        memory = int(parse_mib(self._value("memory"), "Memory"))
        max_text = self._value("max-memory").strip()
        max_memory = int(parse_mib(max_text, "Max memory")) if max_text else 0
        try:
            vcpus = int(self._value("vcpus") or "0")
            max_vcpus = int(self._value("max-vcpus").strip() or "0")
        except ValueError:
            raise InvalidInput("The vCPU counts must be whole numbers.") from None
        if not max_vcpus and self.choices is not None and vcpus > 0:
            # room to add vCPUs while it runs: the host's CPUs (capped), at least its vCPUs
            max_vcpus = max(vcpus, self.choices.default_max_vcpus)
        mode = self._choice("cpu-mode")
        spec = GuestSpec(
            name=self._value("name"),
            title=self._value("title"),
            description=self._value("description"),
            memory_mib=memory,
            max_memory_mib=max_memory,
            vcpus=vcpus,
            max_vcpus=max_vcpus,
            cpu_mode=mode,
            cpu_model=self._value("cpu-model").strip() if mode == "custom" else "",
            domain_type=self._choice("domain-type"),
            firmware=self._choice("firmware"),
            install=InstallSpec(kind="kernel", kernel="/k"),
        )
        # Check what this step asked (the install source and devices come later).
        spec.validate(self.choices.taken_names if self.choices else ())
        return spec

    def _install(self) -> InstallSpec:
        kind = self._choice("install-kind")
        cloud = CloudInitSpec()
        if kind == "cloud":
            user_data = ""
            path = self._value("ci-file").strip()
            if path:
                try:
                    user_data = Path(path).expanduser().read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as err:
                    raise InvalidInput(
                        f"Could not read the user-data file {path}: {err}."
                    ) from None
            cloud = CloudInitSpec(
                hostname=self._value("ci-hostname").strip(),
                user=self._value("ci-user").strip(),
                password=self._value("ci-password"),
                ssh_key=self._value("ci-key").strip(),
                user_data=user_data,
            )
        return InstallSpec(
            kind=kind,
            media_path=self._value("iso-path").strip() if kind == "iso" else "",
            media_pool=self._choice("iso-pool") if kind == "iso" else "",
            media_volume=self._value("iso-volume").strip() if kind == "iso" else "",
            kernel=self._value("kernel").strip(),
            initrd=self._value("initrd").strip(),
            cmdline=self._value("cmdline").strip(),
            cloud=cloud,
            seed_pool=self._choice("seed-pool"),
        )

    def _full_spec(self) -> GuestSpec:
        basics = self._basics()
        return replace(
            basics,
            install=self._install(),
            disks=tuple(self.disks),
            nics=tuple(self.nics),
            shares=tuple(self.shares),
            graphics=self._choice("graphics-kind"),
            listen=self._value("listen").strip(),
            start=self.query_one("#start", Checkbox).value,
        )

    def _update_install_groups(self) -> None:
        kind = self._choice("install-kind")
        for group in ("iso", "kernel", "cloud"):
            self.query_one(f"#install-{group}").display = kind == group
        hint = {
            "import": "Add the existing image as the first disk on the next step.",
            "cloud": "Add the cloud image as the first disk (existing volume or path).",
            "pxe": "Add a network card on the Network step.",
        }.get(kind, "")
        self.query_one("#install-hint", Static).update(hint)

    def _show_pool_volumes(self, which: str) -> None:
        """Under a pool choice, the volumes in it (so an existing one can be typed)."""
        pool = self._choice(f"{which}-pool")
        found = (
            next((p for p in self.choices.pools if p.name == pool), None) if self.choices else None
        )
        text = ""
        if found is not None:
            vols = ", ".join(found.volumes[:20]) + (" …" if len(found.volumes) > 20 else "")
            text = f"In {pool}: {vols or 'no volumes'}."
        self.query_one(f"#{which}-pool-volumes", Static).update(text)

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id in ("iso-pool", "disk-pool"):
            self._show_pool_volumes((event.select.id or "").split("-")[0])
        elif event.select.id == "install-kind":
            self._update_install_groups()
        elif event.select.id == "host" and isinstance(event.value, str) and event.value != self.uri:
            self.uri = event.value
            self._show_step()
            self._load_choices()

    # ------------------------------------------------------------------ lists
    def on_button_pressed(self, event: Button.Pressed) -> None:
        self._error("")
        handler = {
            "add-disk": self._add_disk,
            "remove-disk": lambda: self._remove(self.disks),
            "add-nic": self._add_nic,
            "remove-nic": lambda: self._remove(self.nics),
            "add-share": self._add_share,
            "remove-share": lambda: self._remove(self.shares),
            "create": self._create,
            "make-pool": self._make_pool,
        }.get(event.button.id or "")
        if handler is not None:
            try:
                handler()
            except InvalidInput as err:
                self._error(err.message)
            self._show_lists()

    def _remove(self, items: list[Any]) -> None:
        if items:
            items.pop()

    def _make_pool(self) -> None:
        """A fresh host has no storage pool: make the usual one (as virt-manager does)."""
        uri = self.uri
        path = default_pool_path(uri)

        def make() -> None:
            self._say_progress("Making the storage pool 'default'…")
            services(self).runner.run(
                lambda: create_default_pool(services(self).hypervisor_for_uri(uri)),
                done=lambda _said: self._load_choices(),
                failed=self._create_failed_quietly,
                what="make the storage pool 'default'",
                success=lambda said: said,
                command=("pool-define-as", "default", "dir", "--target", path),
                host=uri,
            )

        ConfirmScreen(
            "Make the storage pool 'default'?",
            f"This host has no running storage pool, so new disks cannot be made. Make the "
            f"usual one: a folder pool called 'default' at {path}, started now and with the "
            "host (as virt-manager does on first use).",
            confirm="Make it",
        ).ask(self.app, make)

    def _create_failed_quietly(self, error: str) -> None:
        self._say_progress("")
        self._error(error)

    def _add_disk(self) -> None:
        kind = self._choice("disk-kind")
        if kind != "path" and not self._choice("disk-pool"):
            raise InvalidInput(
                "This host has no running storage pool: make one with the button "
                "“Make pool 'default'”, or choose kind “host path”."
            )
        sized = kind in ("new", "path")
        size = parse_mib(self._value("disk-size"), "Disk size", "g") / 1024 if sized else 0
        disk = DiskSpec(
            kind=kind,
            pool=self._choice("disk-pool") if kind != "path" else "",
            volume=self._value("disk-volume").strip() if kind != "path" else "",
            path=self._value("disk-path").strip() if kind == "path" else "",
            size_gib=size or 10.0,
            fmt=self._choice("disk-format"),
            bus=self._choice("disk-bus"),
        )
        self.disks.append(disk.validate(len(self.disks)))

    def _add_nic(self) -> None:
        nic = NicSpec(
            kind=self._choice("nic-kind"),
            source=self._value("nic-src").strip(),
            model=self._choice("nic-model"),
        ).validate()
        self.nics.append(nic)

    def _add_share(self, allow_risky: bool = False) -> None:
        check_share_host(self.uri)  # as the isolation view: never the local disk for a remote
        share = SharedFolderSpec(
            source=self._value("share-src"),
            tag=self._value("share-tag").strip(),
            driver=self._choice("share-driver"),
            readonly=self.query_one("#share-ro", Checkbox).value,
        )
        try:
            checked = share.validate(allow_risky=allow_risky)
        except MissingFolder as missing:
            self._offer_share_folder(missing, allow_risky)
            raise
        except RiskyPath as risk:
            risky = str(risk.path)

            def share_anyway() -> None:
                self.risky_ok.add(risky)
                self._add_share(allow_risky=True)
                self._show_lists()

            ConfirmScreen(
                f"Share {risk.path} with the guest?",
                f"{risk.message} Only do this for a guest you fully trust.",
                confirm="Share it",
            ).ask(self.app, share_anyway)
            return
        self.shares.append(checked)

    def _offer_share_folder(self, missing: MissingFolder, allow_risky: bool) -> None:
        """The folder to share does not exist: offer to make it, then add the share."""
        path = missing.path

        def make() -> None:
            try:
                make_share_folder(path)
                self._add_share(allow_risky=allow_risky)
                self._error("")
            except InvalidInput as err:
                self._error(err.message)
            self._show_lists()

        ConfirmScreen(
            f"Create {path}?",
            f"The host directory {path} does not exist. Create it (and any missing folder "
            "above it) on this machine, then share it?",
            confirm="Create",
        ).ask(self.app, make)

    def _show_lists(self) -> None:
        def describe_disk(d: DiskSpec) -> str:
            if d.kind == "new":
                return f"new {d.fmt} volume, {d.size_gib:g} GiB in pool {d.pool}, {d.bus}"
            if d.kind == "volume":
                return f"volume {d.volume} in pool {d.pool}, {d.bus}"
            how = f"{d.fmt}, made with {d.size_gib:g} GiB if missing" if d.fmt else "as it is"
            return f"{d.path} ({how}), {d.bus}"

        lines = [f"{i + 1}. {describe_disk(d)}" for i, d in enumerate(self.disks)]
        self.query_one("#disk-list", Static).update("\n".join(lines) or "No disks.")
        nics = [f"{i + 1}. {n.kind} {n.source} ({n.model})" for i, n in enumerate(self.nics)]
        self.query_one("#nic-list", Static).update("\n".join(nics) or "No network card.")
        shares = [
            f"{i + 1}. {s.source} as {s.tag} ({s.driver}, "
            f"{'read-only' if s.readonly else 'read-write'})"
            for i, s in enumerate(self.shares)
        ]
        self.query_one("#share-list", Static).update("\n".join(shares) or "No shared folder.")

    # ------------------------------------------------------------------ review and create
    def _prepare_review(self) -> None:
        try:
            spec = self._full_spec()
            taken = self.choices.taken_names if self.choices else ()
            for share in spec.shares:
                share.validate(allow_risky=share.source in self.risky_ok)
            spec = spec.validate(taken, allow_risky=True)
        except InvalidInput as err:
            self._error(err.message)
            return
        self.spec = spec
        self.query_one("#review-xml", Static).update(build_domain_xml(spec))
        self.query_one("#review-command", Static).update(command_line(spec, self.uri))
        self.step = len(STEPS) - 1
        self._show_step()
        self.query_one("#create", Button).focus()

    def _create(self) -> None:
        spec = self.spec
        if spec is None or self.creating:
            return
        uri = self.uri
        self.creating = True
        self._error("")
        self._say_progress(f"Creating guest {spec.name}…")

        def progress(text: str) -> None:
            # Runs in the worker; a progress line is not worth failing the create over.
            with contextlib.suppress(Exception):
                self.app.call_from_thread(self._say_progress, text)

        def call() -> CreateResult:
            hv = services(self).hypervisor_for_uri(uri)
            return create_guest(hv, spec, progress, allow_risky=True)

        started = " and started it" if spec.start else ""
        services(self).runner.run(
            call,
            done=self._created,
            failed=self._create_failed,
            what=f"create guest {spec.name}",
            success=f"Created guest {spec.name}{started}.",
            command=command_line(spec, uri),
            host=uri,
        )

    def _created(self, result: CreateResult) -> None:
        self.creating = False
        self.result = result
        services(self).request_poll(self.uri)
        self.dismiss(None)

    def _create_failed(self, error: str) -> None:
        self.creating = False
        self._say_progress("")
        self._error(error)
        # The user's input stays; refresh the names in use (a guest may have appeared).
        self._load_choices()

    # ------------------------------------------------------------------ messages
    def _error(self, text: str) -> None:
        self.error_text = text
        self.query_one("#create-error", ProblemLine).say(text)

    def _say_progress(self, text: str) -> None:
        box = self.query_one("#create-progress", Static)
        box.update(text)
        box.display = bool(text)
