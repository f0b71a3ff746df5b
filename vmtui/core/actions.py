"""The one catalogue of guest actions: what each is called, its key, its virsh words, whether it
changes anything and whether it asks first.

Everything that offers or performs a guest action reads it: the key bindings of the guest
screens (and so the footer and `?`), the command palette, the `:` line, bulk actions on marked
guests and the activity log's virsh lines. Adding an action is one entry here plus, for a
screen-opening action, its ``action_<name>`` method on ``GuestActionScreen``.

Pure: no Textual, no libvirt. The power actions carry a typed call on ``PowerControl``, the
part of ``backend.Hypervisor`` they use (a Protocol, so this module needs no backend import).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class PowerControl(Protocol):
    """What a power action calls on a guest's connection (``backend.Hypervisor`` has it)."""

    def start(self, uuid: str) -> None: ...
    def shutdown(self, uuid: str) -> None: ...
    def reboot(self, uuid: str) -> None: ...
    def force_off(self, uuid: str) -> None: ...
    def pause(self, uuid: str) -> None: ...
    def resume(self, uuid: str) -> None: ...
    def set_autostart(self, uuid: str, on: bool) -> None: ...


Call = Callable[[PowerControl, str], None]


@dataclass(frozen=True)
class GuestAction:
    """One thing a user can do to a guest."""

    name: str  # the Textual action ("force_off": action_force_off), the catalogue key
    description: str  # the key's label in the footer and in `?`
    key: str = ""  # the binding on guest screens ("" : reached another way)
    show: bool = False  # in the footer (80 columns hold only a few)
    mutating: bool = True  # changes state: hidden and refused on a read-only connection
    asks_first: bool = False  # a confirmation names what is lost before it runs
    help: str = ""  # the command palette's line under the title
    palette: str = ""  # the palette's title before the guest's name ("" : the description)
    # --- power actions only: run as one backend call, logged as a virsh line
    call: Call | None = None
    virsh: tuple[str, ...] = ()  # the virsh words before the guest's name
    verb: str = ""  # "shut down": "Asking guest web to shut down…", "Could not shut down web"
    done: str = ""  # "asked to shut down": "Guest web asked to shut down."
    done_many: str = ""  # the bulk summary's word for each guest it worked on
    title: str = ""  # the bulk run's title ("Force off")

    @property
    def is_power(self) -> bool:
        return self.call is not None

    @property
    def palette_title(self) -> str:
        return self.palette or self.description


def power(
    name: str,
    description: str,
    call: Call,
    virsh: tuple[str, ...],
    verb: str,
    done: str,
    *,
    key: str = "",
    show: bool = False,
    asks_first: bool = False,
    done_many: str = "",
    title: str = "",
    help: str = "",
) -> GuestAction:
    """A power action: one backend call, logged as ``virsh <words> <name>``."""
    return GuestAction(
        name,
        description,
        key=key,
        show=show,
        asks_first=asks_first,
        help=help,
        call=call,
        virsh=virsh,
        verb=verb,
        done=done,
        done_many=done_many or done,
        title=title or description,
    )


# In binding order: the footer shows the `show` ones in this order.
CATALOGUE: tuple[GuestAction, ...] = (
    power(
        "start",
        "Start",
        lambda hv, uuid: hv.start(uuid),
        ("start",),
        "start",
        "started",
        key="s",
        show=True,
        help="Boot the guest (or restore its saved state)",
    ),
    power(
        "shutdown",
        "Shut down",
        lambda hv, uuid: hv.shutdown(uuid),
        ("shutdown",),
        "shut down",
        "asked to shut down",
        key="d",
        show=True,
        help="Ask the guest's OS to power off (ACPI)",
    ),
    power(
        "reboot",
        "Reboot",
        lambda hv, uuid: hv.reboot(uuid),
        ("reboot",),
        "reboot",
        "asked to reboot",
        key="r",
        help="Ask the guest's OS to restart",
    ),
    power(
        "force_off",
        "Force off",
        lambda hv, uuid: hv.force_off(uuid),
        ("destroy",),
        "force off",
        "forced off",
        key="F",
        show=True,
        asks_first=True,
        help="Cut the guest's power (asks first)",
    ),
    power(
        "pause",
        "Pause",
        lambda hv, uuid: hv.pause(uuid),
        ("suspend",),
        "pause",
        "paused",
        key="p",
        help="Freeze the guest's vCPUs",
    ),
    power(
        "resume",
        "Resume",
        lambda hv, uuid: hv.resume(uuid),
        ("resume",),
        "resume",
        "resumed",
        key="u",
        help="Let the paused guest run again",
    ),
    GuestAction(
        "autostart", "Autostart", key="a", help="Start the guest when the host boots, or not"
    ),
    GuestAction(
        "delete",
        "Delete",
        key="D",
        asks_first=True,
        help="Remove the guest, and the disks you tick (asks first)",
    ),
    # A console needs a read-write connection too: libvirt refuses it on a read-only one.
    GuestAction(
        "console",
        "Console",
        key="c",
        show=True,
        help="Attach to the guest's serial console (ctrl+] detaches)",
    ),
    GuestAction(
        "display",
        "Screen",
        key="v",
        mutating=False,
        help="Show the guest's display in the terminal",
    ),
    GuestAction("isolation", "Isolation", key="i", mutating=False),
    GuestAction("tags", "Tags", key="t"),
    GuestAction(
        "allocation",
        "Allocation",
        key="A",
        palette="Allocation of",
        help="vCPUs, memory, CPU pinning and limits",
    ),
    GuestAction("snapshots", "Snapshots", key="S", mutating=False),
    GuestAction("edit_xml", "Edit XML", key="e"),
    GuestAction("clone", "Clone", key="K"),
    GuestAction("migrate", "Migrate", key="m", help="Move the guest to another connected host"),
    # reached through `a` (on or off by the guest's state) and bulk actions on marked guests
    power(
        "autostart_on",
        "Autostart on",
        lambda hv, uuid: hv.set_autostart(uuid, True),
        ("autostart",),
        "enable autostart of",
        "will start when the host boots",
        done_many="starts at boot",
    ),
    power(
        "autostart_off",
        "Autostart off",
        lambda hv, uuid: hv.set_autostart(uuid, False),
        ("autostart", "--disable"),
        "disable autostart of",
        "will not start at boot",
        done_many="does not start at boot",
    ),
)

ACTIONS: dict[str, GuestAction] = {a.name: a for a in CATALOGUE}
POWER: dict[str, GuestAction] = {a.name: a for a in CATALOGUE if a.is_power}
MUTATING: frozenset[str] = frozenset(a.name for a in CATALOGUE if a.mutating)

# What deleting a guest's definition looks like to virsh (the disks ticked follow --storage).
DELETE_WORDS = ("--nvram", "--snapshots-metadata")


def delete_words(name: str, disks: tuple[str, ...] | list[str] = ()) -> list[str]:
    """``virsh undefine`` for deleting ``name`` with the chosen disks."""
    words = ["undefine", name, *DELETE_WORDS]
    if disks:
        words += ["--storage", ",".join(disks)]
    return words
