"""The storage screen's resize-volume (z) and new-pool (P) dialogs and their calls."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label

from vmtui.backend.poolops import create_dir_pool, resize_plan, resize_volume
from vmtui.backend.storage import VolumeInfo
from vmtui.core.format import size as fmt_size
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.disks import OneFieldScreen
from vmtui.screens.form import FormScreen

# the storage screen's _change(call, what=, success=, command=)
Change = Callable[..., None]


class CreatePoolScreen(FormScreen[tuple[str, str]]):
    OK_ID = "create"

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog help"):
            yield Label("New directory storage pool", id="title", markup=False)
            yield Input("", placeholder="pool name", id="name")
            yield Input("/var/lib/libvirt/images/", placeholder="directory", id="path")
            yield from self.foot("Create pool", "Cancel (esc)", compact=False)

    def submit(self) -> None:
        name = self.query_one("#name", Input).value.strip()
        path = self.query_one("#path", Input).value.strip()
        if not name:
            self.say("Give the pool a name.", near="name")
            return
        if not path.startswith("/"):
            self.say("Give the directory's full path.", near="path")
            return
        self.dismiss((name, path))


def ask_create_pool(app: App[Any], change: Change) -> None:
    def create(answer: tuple[str, str]) -> None:
        name, path = answer
        change(
            lambda hv: create_dir_pool(hv, name, path),
            what=f"create storage pool {name}",
            success=f"Created and started storage pool {name} in {path}.",
            command=("pool-define-as", name, "dir", "--target", path),
        )

    CreatePoolScreen().ask(app, create)


def ask_resize_volume(
    app: App[Any], vol: VolumeInfo, hv: Any, run: Callable[..., None], change: Change
) -> None:
    """Ask the new size; a shrink asks again, naming what is lost."""

    def go(size: str, shrink: bool) -> None:
        words: Sequence[str] = ("vol-resize", vol.name, size, "--pool", vol.pool)
        change(
            lambda h: resize_volume(h, vol.pool, vol.name, size, confirm_shrink=shrink),
            what=f"resize volume {vol.name}",
            success=f"Volume {vol.name} is now {size}.",
            command=(*words, "--shrink") if shrink else words,
        )

    def asked(size: str) -> None:
        def planned(plan: Any) -> None:
            if plan.shrink:
                ConfirmScreen(f"Shrink {vol.name}?", plan.warning, confirm="Shrink").ask(
                    app, lambda: go(size, True)
                )
            else:
                go(size, False)

        run(
            lambda: resize_plan(hv, vol.pool, vol.name, size),
            done=planned,
            what=f"resize volume {vol.name}",
        )

    OneFieldScreen(
        f"New size of {vol.name} (now {fmt_size(vol.capacity)})", "", "e.g. 20G", "Resize"
    ).ask(app, asked)
