"""A guest's snapshots as a tree: take one, revert to one, delete one or a subtree (key S)."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Checkbox, Footer, Input, Label, Static, Tree
from textual.widgets.tree import TreeNode

from vmtui.backend import GuestState, Hypervisor, VmtuiError
from vmtui.backend.extsnap import revert_external
from vmtui.backend.snapshots import (
    GuestSnapshot,
    SnapshotTree,
    create_snapshot,
    create_words,
    delete_snapshot,
    list_snapshots,
    revert_snapshot,
    validate_snapshot_name,
)
from vmtui.control.services import services
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.extsnap import ask_external
from vmtui.screens.form import FormScreen
from vmtui.screens.hostview import GuestDataView, HostView
from vmtui.widgets.status_line import StatusLine


def when(created: int) -> str:
    if not created:
        return "?"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(created))


def node_label(snap: GuestSnapshot) -> Text:
    """One tree line: name, time, state, and a mark on the current one (all plain text)."""
    label = Text(snap.name, style="bold")
    label.append(f"  {when(snap.created)}  {snap.state}", style="dim")
    if snap.has_memory:
        label.append(" +memory", style="dim")
    if snap.current:
        label.append("  ◀ current", style="green")
    return label


def lost_by_revert(tree: SnapshotTree, snap: GuestSnapshot) -> str:
    """The confirmation text for reverting: what is lost, in words."""
    guest = tree.guest
    text = (
        f"Guest {guest} goes back to how it was at {when(snap.created)}, when snapshot "
        f"{snap.name} was taken. Everything it changed on its disks since then is lost"
    )
    if tree.state.is_active:
        text += ", and so is what it is doing now (its memory, open programs, unsaved work)"
    text += "."
    if snap.has_memory:
        text += f" It resumes {snap.state} from the snapshot's memory state."
    elif tree.state.is_active:
        text += " The snapshot has no memory state: the guest is shut off."
    text += " Unless you take a snapshot of the current state first, there is no way back."
    return text


def agent_seen(screen: HostView, uuid: str) -> bool:
    """The guest has an agent channel that the last poll did not see disconnected."""
    snapshot = services(screen).snapshot
    guest = next((g for g in snapshot.guests if g.uuid == uuid), None) if snapshot else None
    return guest is not None and guest.has_agent and guest.agent_state != "disconnected"


def quiesce_words(snap: GuestSnapshot) -> str:
    """Whether the snapshot was taken with the filesystems frozen, in a sentence."""
    return snap.quiesce.sentence if snap.quiesce is not None else ""


class CreateSnapshotScreen(FormScreen[tuple[str, str, bool, bool | None]]):
    """Ask for a name, a description and (running guests) whether to keep memory and whether
    to freeze the filesystems through the guest agent meanwhile (quiesce). Dismisses with
    (name, description, memory, quiesce): quiesce True insists, False declines, None when
    no agent was seen (taken without, and the result says why)."""

    OK_ID = "yes"

    def __init__(self, tree: SnapshotTree, agent: bool = False) -> None:
        super().__init__()
        self.snaps = tree
        self.agent = agent  # a guest agent channel that is not known to be disconnected

    def compose(self) -> ComposeResult:
        running = self.snaps.state.is_active
        default = time.strftime("snap-%Y%m%d-%H%M%S")
        with Vertical(id="dialog", classes="dialog help"):
            yield Label(f"New snapshot of {self.snaps.guest}", id="title", markup=False)
            yield Input(default, placeholder="name", id="name")
            yield Input("", placeholder="description (optional)", id="description")
            yield Checkbox(
                "Keep the memory state (the guest resumes where it was)",
                value=running,
                disabled=not running,
                id="memory",
            )
            if not running:
                yield Static("The guest is off: the snapshot holds its disks.", classes="dim")
            else:  # a paused guest writes nothing, and its agent cannot answer
                can = self.agent and self.snaps.state is GuestState.RUNNING
                yield Checkbox(
                    "Freeze its filesystems through the guest agent meanwhile (quiesce)",
                    value=can,
                    disabled=not can,
                    id="quiesce",
                )
                if not can:
                    why = "It is paused" if self.agent else "No guest agent is connected"
                    yield Static(
                        f"{why}: the snapshot is taken without freezing the filesystems.",
                        classes="dim",
                    )
            yield from self.foot("Take snapshot", "Cancel (esc)", compact=False)

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def submit(self) -> None:
        raw = self.query_one("#name", Input).value
        try:
            name = validate_snapshot_name(raw, [s.name for s in self.snaps.snapshots])
        except VmtuiError as err:
            self.say(Text(err.message, style="red"))
            return
        description = self.query_one("#description", Input).value
        quiesce: bool | None = None
        for box in self.query("#quiesce").results(Checkbox):
            quiesce = box.value if not box.disabled else None
        self.dismiss((name, description, self.query_one("#memory", Checkbox).value, quiesce))


class SnapshotsScreen(GuestDataView[SnapshotTree]):
    """The snapshot tree of one guest."""

    BINDINGS = [
        Binding("n", "create", "New"),
        Binding("r", "revert", "Revert"),
        Binding("d", "delete", "Delete"),
        Binding("x", "delete_tree", "Delete subtree", show=False),
        Binding("E", "create_external", "External"),
        Binding("escape", "back", "Back"),
    ]
    MUTATING = frozenset({"create", "revert", "delete", "delete_tree", "create_external"})

    DETAIL = "#snap-detail"

    def __init__(self, uuid: str, name: str) -> None:
        super().__init__(uuid, name)
        self.error = ""

    def compose(self) -> ComposeResult:
        yield Label(f"Snapshots of {self.guest_name}", id="guest-title", markup=False)
        tree: Tree[str] = Tree("snapshots", id="snap-tree")
        tree.show_root = False
        yield tree
        yield Static("", id="snap-detail", markup=False)
        yield StatusLine()
        yield Footer()

    def on_mount(self) -> None:
        self.reload()

    # ------------------------------------------------------------- data
    def read(self, hv: Hypervisor) -> SnapshotTree:
        return list_snapshots(hv, self.uuid)

    @property
    def reading(self) -> str:
        return f"read the snapshots of {self.guest_name}"

    def _failed(self, error: str) -> None:
        self.error = error
        super()._failed(error)

    def show_data(self, data: SnapshotTree) -> None:
        tree = self.query_one("#snap-tree", Tree)
        selected = self.selected()
        keep = selected.name if selected else (data.current.name if data.current else None)
        tree.clear()
        nodes: dict[str, TreeNode[str]] = {}
        for snap in data.snapshots:
            parent = nodes.get(snap.parent, tree.root) if snap.parent else tree.root
            node = parent.add(node_label(snap), data=snap.name, expand=True)
            nodes[snap.name] = node
        for node in nodes.values():
            if not node.children:
                node.allow_expand = False
        if keep in nodes:
            tree.move_cursor(nodes[keep])
        tree.focus()
        self._update_detail()

    def selected(self) -> GuestSnapshot | None:
        if self.data is None:
            return None
        node = self.query_one("#snap-tree", Tree).cursor_node
        if node is None or node.data is None:
            return None
        return self.data.get(str(node.data))

    def _update_detail(self) -> None:
        data = self.data
        if data is None:
            return
        out = Text()
        snap = self.selected()
        if not data.snapshots:
            take = "" if data.blocker else " Press n to take one."
            out.append(f"Guest {data.guest} has no snapshots.{take}\n")
        elif snap is not None:
            out.append(f"{snap.name}", style="bold")
            out.append(f"  taken {when(snap.created)} while {snap.state}")
            out.append(", with memory" if snap.has_memory else ", disks only")
            if snap.current:
                out.append(" · current")
            out.append("\n")
            if snap.description:
                out.append(snap.description + "\n")
        if data.blocker:
            out.append(data.blocker, style="yellow")
        self.query_one("#snap-detail", Static).update(out)

    def on_tree_node_highlighted(self, _event: Tree.NodeHighlighted[str]) -> None:
        self._update_detail()

    # ------------------------------------------------------------- actions
    def action_back(self) -> None:
        self.app.pop_screen()

    def action_create(self) -> None:
        data = self.data
        if data is None:
            return
        if data.blocker:
            self.notify(data.blocker, markup=False, severity="error", timeout=10)
            return

        def take(answer: tuple[str, str, bool, bool | None]) -> None:
            name, description, memory, quiesce = answer
            hv = services(self).hypervisor_for(self.uuid)
            self.notify(f"Taking snapshot {name} of {data.guest}…", markup=False, timeout=3)
            services(self).runner.run(
                lambda: create_snapshot(hv, self.uuid, name, description, memory, quiesce),
                done=lambda _s: self.reload(),
                what=f"take a snapshot of {data.guest}",
                success=lambda s: f"Took snapshot {name} of {data.guest}. " + quiesce_words(s),
                command=create_words(data.guest, name, description),
                host=hv.uri,
            )

        CreateSnapshotScreen(data, agent_seen(self, self.uuid)).ask(self.app, take)

    def action_revert(self) -> None:
        data, snap = self.data, self.selected()
        if data is None or snap is None:
            self.notify("Choose a snapshot first.", timeout=3)
            return

        def revert() -> None:
            hv = services(self).hypervisor_for(self.uuid)
            services(self).runner.run(
                lambda: (
                    revert_external(hv, self.uuid, snap.name).state
                    if snap.external
                    else revert_snapshot(hv, self.uuid, snap.name)
                ),
                done=lambda _state: self.reload(),
                failed=self._action_failed,
                what=f"revert {data.guest}",
                success=f"Guest {data.guest} is back at snapshot {snap.name}.",
                command=("snapshot-revert", data.guest, snap.name),
                host=hv.uri,
            )

        ConfirmScreen(
            f"Revert {data.guest} to snapshot {snap.name}?",
            lost_by_revert(data, snap),
            confirm="Revert",
        ).ask(self.app, revert)

    def _delete(self, children: bool) -> None:
        data, snap = self.data, self.selected()
        if data is None or snap is None:
            self.notify("Choose a snapshot first.", timeout=3)
            return
        below = data.descendants(snap.name)
        if children and not below:
            children = False
        if children:
            names = ", ".join(s.name for s in below)
            body = (
                f"Snapshot {snap.name} and the {len(below)} snapshot(s) below it ({names}) are "
                "deleted for good: the guest can no longer go back to any of them."
            )
        else:
            body = (
                f"Snapshot {snap.name} is deleted for good: the guest can no longer go back to it."
            )
            if below:
                body += " The snapshots below it stay (they hang from its parent)."
        body += f" The current state of {data.guest} is not touched."
        words = ["snapshot-delete", data.guest, snap.name] + (["--children"] if children else [])

        def delete() -> None:
            hv = services(self).hypervisor_for(self.uuid)
            services(self).runner.run(
                lambda: delete_snapshot(hv, self.uuid, snap.name, children),
                done=lambda _r: self.reload(),
                failed=self._action_failed,
                what=f"delete snapshot {snap.name}",
                success=f"Deleted snapshot {snap.name}"
                + (f" and {len(below)} below it." if children else "."),
                command=words,
                host=hv.uri,
            )

        title = f"Delete snapshot {snap.name}" + (" and its subtree?" if children else "?")
        ConfirmScreen(title, body, confirm="Delete").ask(self.app, delete)

    def action_create_external(self) -> None:
        if self.data is not None:  # no internal-snapshot blocker: overlays work on any disk
            ask_external(self, self.uuid, self.data, self.reload)

    def _action_failed(self, error: str) -> None:
        self.notify(error, markup=False, severity="error", timeout=10)
        self.reload()

    def action_delete(self) -> None:
        self._delete(children=False)

    def action_delete_tree(self) -> None:
        self._delete(children=True)
