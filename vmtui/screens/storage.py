"""Storage pools and volumes of one host (V): refresh a pool, create and delete volumes.

Every read and change runs through ``Services.runner``; changes carry their virsh words.
A volume a guest uses cannot be deleted: the screen says which guest, and so does the backend.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import (
    DataTable,
    Footer,
    Input,
    Label,
    RadioButton,
    RadioSet,
    Static,
)

from vmtui.backend import Hypervisor
from vmtui.backend.devices import InvalidInput
from vmtui.backend.storage import (
    VOLUME_FORMATS,
    PoolInfo,
    VolumeInfo,
    VolumeSpec,
    create_volume,
    delete_volume,
    list_pools,
    list_volumes,
    refresh_pool,
    volume_spec,
)
from vmtui.control.services import services
from vmtui.core import format as fmt
from vmtui.screens import poolforms
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.form import FormScreen
from vmtui.screens.onehost import OneHostScreen
from vmtui.widgets.status_line import StatusLine
from vmtui.widgets.tables import cursor_key


def pool_row(pool: PoolInfo) -> tuple[Text, ...]:
    return (
        Text(pool.name),
        Text(pool.state, style="green" if pool.active else "dim"),
        Text(pool.kind),
        Text(fmt.size(pool.capacity) if pool.active else fmt.DASH),
        Text(fmt.size(pool.allocation) if pool.active else fmt.DASH),
        Text(fmt.size(pool.available) if pool.active else fmt.DASH),
        Text("yes" if pool.autostart else "no"),
    )


def volume_row(vol: VolumeInfo) -> tuple[Text, ...]:
    return (
        Text(vol.name),
        Text(vol.format or "?"),
        Text(fmt.size(vol.capacity)),
        Text(fmt.size(vol.allocation)),
        Text(", ".join(vol.used_by) or fmt.DASH, style="yellow" if vol.used_by else "dim"),
        Text(vol.path),
    )


class CreateVolumeScreen(FormScreen[VolumeSpec]):
    """Name, format and size of a new volume; checked here before anything is sent."""

    CSS = """
    CreateVolumeScreen { align: center middle; }
    CreateVolumeScreen Input { margin-bottom: 1; }
    CreateVolumeScreen #vol-error { color: $error; }
    """
    OK_ID = "yes"
    ERROR_ID = "vol-error"

    def __init__(self, pool: str) -> None:
        super().__init__()
        self.pool = pool

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog help"):
            yield Label(f"New volume in pool {self.pool}", id="title", markup=False)
            yield Input(placeholder="name, like data.qcow2", id="vol-name")
            yield Input(placeholder="size, like 10G or 512M", id="vol-size")
            with RadioSet(id="vol-format", compact=True):
                for i, name in enumerate(VOLUME_FORMATS):
                    yield RadioButton(name, value=i == 0, id=f"fmt-{name}")
            yield from self.foot("Create", "Cancel (esc)", compact=False)

    def on_mount(self) -> None:
        self.query_one("#vol-name", Input).focus()

    def chosen_format(self) -> str:
        for name in VOLUME_FORMATS:
            if self.query_one(f"#fmt-{name}", RadioButton).value:
                return name
        return VOLUME_FORMATS[0]

    def submit(self) -> None:
        try:
            spec = volume_spec(
                self.query_one("#vol-name", Input).value,
                self.chosen_format(),
                self.query_one("#vol-size", Input).value,
            )
        except InvalidInput as err:
            self.say(err.message)
            return
        self.dismiss(spec)


class StorageScreen(OneHostScreen):
    """Pools on top, the highlighted pool's volumes below."""

    CSS = """
    StorageScreen #st-title, StorageScreen #vol-title {
        padding: 0 1; text-style: bold; background: $boost;
    }
    StorageScreen #pools { height: auto; max-height: 7; }
    StorageScreen #volumes { height: 1fr; }
    StorageScreen #st-detail { padding: 0 1; height: auto; max-height: 3; }
    """

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("c", "create", "New volume"),
        Binding("D,delete", "delete", "Delete volume"),
        Binding("r", "refresh", "Refresh pool"),
        Binding("h", "next_host", "Host", show=False),
        Binding("e", "edit_xml", "Edit pool XML", show=False),
        Binding("z", "resize", "Resize volume", show=False),
        Binding("P", "create_pool", "New pool", show=False),
    ]
    MUTATING = frozenset({"create", "delete", "refresh", "edit_xml", "resize", "create_pool"})

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self.pools: tuple[PoolInfo, ...] = ()
        self.volumes: tuple[VolumeInfo, ...] = ()
        self.pool: str | None = None  # the pool whose volumes are shown
        self.gone = False  # left (unmounted): late answers are dropped

    def compose(self) -> ComposeResult:
        yield Static("", id="st-title", markup=False)
        pools: DataTable[Text] = DataTable(id="pools", cursor_type="row", zebra_stripes=True)
        pools.add_columns("Pool", "State", "Type", "Size", "Used", "Free", "Autostart")
        yield pools
        yield Static("Volumes", id="vol-title", markup=False)
        volumes: DataTable[Text] = DataTable(id="volumes", cursor_type="row", zebra_stripes=True)
        volumes.add_columns("Volume", "Format", "Size", "Alloc", "Used by", "Path")
        yield volumes
        yield Static("", id="st-detail", markup=False)
        yield StatusLine(id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._show_title()
        self.query_one("#pools", DataTable).focus()
        self.load_pools()

    def _show_title(self) -> None:
        link = services(self).hosts.get(self.uri)
        label = link.label if link else fmt.short_uri(self.uri)
        self.query_one("#st-title", Static).update(f"Storage on {label}")

    # ------------------------------------------------------------ reading
    def load_pools(self) -> None:
        if self.gone:
            return  # the user left while a change was being made
        try:
            hv = self._hv()
        except Exception as err:  # NotConnected: a sentence
            self.query_one("#st-detail", Static).update(str(err))
            return
        uri = self.uri
        services(self).runner.run(
            partial(list_pools, hv),
            done=lambda pools: self.show_pools(uri, pools),
            failed=self._failed,
            what="list the storage pools",
        )

    def _failed(self, error: str) -> None:
        if not self.gone:
            self.query_one("#st-detail", Static).update(error)

    def show_pools(self, uri: str, pools: tuple[PoolInfo, ...]) -> None:
        if self.gone or uri != self.uri:
            return
        self.pools = pools
        table: DataTable[Text] = self.query_one("#pools", DataTable)
        keep = self.pool
        table.clear()
        for pool in pools:
            table.add_row(*pool_row(pool), key=pool.name)
        if not pools:
            self.pool = None
            self.show_volumes(uri, "", ())
            self.query_one("#st-detail", Static).update("This host has no storage pool.")
            return
        names = [p.name for p in pools]
        index = names.index(keep) if keep in names else 0
        table.move_cursor(row=index, animate=False)
        self.load_volumes(names[index])

    def load_volumes(self, pool: str) -> None:
        self.pool = pool
        info = next((p for p in self.pools if p.name == pool), None)
        title = f"Volumes of pool {pool}"
        if info is not None and info.path:
            title += f" ({info.path})"
        if info is not None and not info.active:
            title += f": the pool is {info.state}"
        self.query_one("#vol-title", Static).update(title)
        uri = self.uri
        services(self).runner.run(
            partial(list_volumes, self._hv(), pool),
            done=lambda vols: self.show_volumes(uri, pool, vols),
            failed=self._failed,
            what=f"list the volumes of pool {pool}",
        )

    def show_volumes(self, uri: str, pool: str, volumes: tuple[VolumeInfo, ...]) -> None:
        if self.gone or uri != self.uri or (pool and pool != self.pool):
            return  # an answer for a pool (or host) no longer shown
        table: DataTable[Text] = self.query_one("#volumes", DataTable)
        keep = self.selected_volume()
        self.volumes = volumes
        table.clear()
        for vol in volumes:
            table.add_row(*volume_row(vol), key=vol.name)
        names = [v.name for v in volumes]
        if keep is not None and keep.name in names:
            table.move_cursor(row=names.index(keep.name), animate=False)
        self._show_detail()

    def selected_volume(self) -> VolumeInfo | None:
        key = cursor_key(self.query_one("#volumes", DataTable))
        return next((v for v in self.volumes if v.name == key), None)

    def _show_detail(self) -> None:
        vol = self.selected_volume()
        if vol is None:
            text = "No volume." if self.pool else ""
        else:
            users = ", ".join(vol.used_by) if vol.used_by else "no guest on this host"
            text = f"{vol.path} · {vol.format or 'unknown format'} · used by {users}"
        self.query_one("#st-detail", Static).update(text)

    @on(DataTable.RowHighlighted, "#pools")
    def _pool_highlighted(self, event: DataTable.RowHighlighted) -> None:
        name = event.row_key.value
        if name is not None and name != self.pool:
            self.load_volumes(name)

    @on(DataTable.RowHighlighted, "#volumes")
    def _volume_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    # ------------------------------------------------------------ changing
    def _change(
        self,
        call: Callable[[Hypervisor], object],
        *,
        what: str,
        success: str,
        command: Sequence[str],
    ) -> None:
        """One change to this host's storage, logged with its virsh words; the pools are
        read again after it (sizes and free space move with every change)."""
        hv = self._hv()
        services(self).runner.run(
            lambda: call(hv),
            done=lambda _r: self.load_pools(),
            what=what,
            success=success,
            command=command,
            host=hv.uri,
        )

    def action_edit_xml(self) -> None:
        self.edit_xml("pool", next((p for p in self.pools if p.name == self.pool), None))

    def action_refresh(self) -> None:
        pool = self.pool
        if pool is None:
            return
        self._change(
            lambda hv: refresh_pool(hv, pool),
            what=f"refresh pool {pool}",
            success=f"Refreshed pool {pool}.",
            command=("pool-refresh", pool),
        )

    def action_create_pool(self) -> None:
        poolforms.ask_create_pool(self.app, self._change)

    def action_resize(self) -> None:
        vol = self.selected_volume()
        if vol is None:
            self.notify("No volume is selected.", timeout=3)
            return
        poolforms.ask_resize_volume(
            self.app, vol, self._hv(), services(self).runner.run, self._change
        )

    def action_create(self) -> None:
        pool = self.pool
        if pool is None:
            self.notify("There is no pool to create a volume in.", timeout=3)
            return

        def create(spec: VolumeSpec) -> None:
            self._change(
                lambda hv: create_volume(hv, pool, spec),
                what=f"create volume {spec.name}",
                success=f"Created volume {spec.name} in pool {pool}.",
                command=spec.virsh(pool),
            )

        CreateVolumeScreen(pool).ask(self.app, create)

    def action_delete(self) -> None:
        vol = self.selected_volume()
        if vol is None:
            self.notify("No volume is selected.", timeout=3)
            return
        if vol.used_by:
            which = "guest" if len(vol.used_by) == 1 else "guests"
            self.notify(
                f"Volume {vol.name} is used by {which} {', '.join(vol.used_by)}; it cannot be "
                "deleted. Remove the disk from the guest first.",
                markup=False,
                severity="error",
                timeout=6,
            )
            return

        def delete() -> None:
            self._change(
                lambda hv: delete_volume(hv, vol.pool, vol.name),
                what=f"delete volume {vol.name}",
                success=f"Deleted volume {vol.name}.",
                command=("vol-delete", vol.name, "--pool", vol.pool),
            )

        ConfirmScreen(
            f"Delete volume {vol.name}?",
            f"{vol.path} ({fmt.size(vol.capacity)}, {vol.format or 'unknown format'}) is "
            "deleted for good. No guest on this host uses it.",
            confirm="Delete",
        ).ask(self.app, delete)

    def action_next_host(self) -> None:
        uris = list(services(self).hosts)
        if len(uris) < 2:
            self.notify("Only one host is connected.", timeout=2)
            return
        i = uris.index(self.uri) if self.uri in uris else -1
        self.uri = uris[(i + 1) % len(uris)]
        self.pool = None
        self.pools, self.volumes = (), ()
        self.query_one("#pools", DataTable).clear()
        self.query_one("#volumes", DataTable).clear()
        self._show_title()
        self.load_pools()

    def on_unmount(self) -> None:
        self.gone = True
