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
class Power:
    """How a power action runs: one backend call, logged as a virsh line, told in sentences."""

    call: Call
    virsh: tuple[str, ...]  # the virsh words before the guest's name
    verb: str  # "shut down": "Asking guest web to shut down…", "Could not shut down web"
    done: str  # "asked to shut down": "Guest web asked to shut down."
    done_many: str = ""  # the bulk summary's word for each guest ("" : ``done``)

    @property
    def summary_word(self) -> str:
        return self.done_many or self.done


@dataclass(frozen=True)
class GuestAction:
    """One thing a user can do to a guest."""

    name: str  # the Textual action ("force_off": action_force_off), the catalogue key
    description: str  # the key's label in the footer and in `?`; a bulk run's title
    key: str = ""  # the binding on guest screens ("" : reached another way)
    show: bool = False  # in the footer (80 columns hold only a few)
    mutating: bool = True  # changes state: hidden and refused on a read-only connection
    asks_first: bool = False  # a confirmation names what is lost before it runs
    help: str = ""  # the command palette's line under the title
    palette: str = ""  # the palette's title before the guest's name ("" : the description)
    power: Power | None = None  # set for power actions: one backend call

    @property
    def palette_title(self) -> str:
        return self.palette or self.description


START = Power(lambda hv, u: hv.start(u), ("start",), "start", "started")
SHUTDOWN = Power(lambda hv, u: hv.shutdown(u), ("shutdown",), "shut down", "asked to shut down")
REBOOT = Power(lambda hv, u: hv.reboot(u), ("reboot",), "reboot", "asked to reboot")
FORCE_OFF = Power(lambda hv, u: hv.force_off(u), ("destroy",), "force off", "forced off")
PAUSE = Power(lambda hv, u: hv.pause(u), ("suspend",), "pause", "paused")
RESUME = Power(lambda hv, u: hv.resume(u), ("resume",), "resume", "resumed")
AUTOSTART_ON = Power(
    lambda hv, u: hv.set_autostart(u, True),
    ("autostart",),
    "enable autostart of",
    "will start when the host boots",
    "starts at boot",
)
AUTOSTART_OFF = Power(
    lambda hv, u: hv.set_autostart(u, False),
    ("autostart", "--disable"),
    "disable autostart of",
    "will not start at boot",
    "does not start at boot",
)

# In binding order: the footer shows the `show` ones in this order.
CATALOGUE: tuple[GuestAction, ...] = (
    GuestAction(
        "start",
        "Start",
        "s",
        show=True,
        power=START,
        help="Boot the guest (or restore its saved state)",
    ),
    GuestAction(
        "shutdown",
        "Shut down",
        "d",
        show=True,
        power=SHUTDOWN,
        help="Ask the guest's OS to power off (ACPI)",
    ),
    GuestAction("reboot", "Reboot", "r", power=REBOOT, help="Ask the guest's OS to restart"),
    GuestAction(
        "force_off",
        "Force off",
        "F",
        show=True,
        asks_first=True,
        power=FORCE_OFF,
        help="Cut the guest's power (asks first)",
    ),
    GuestAction("pause", "Pause", "p", power=PAUSE, help="Freeze the guest's vCPUs"),
    GuestAction("resume", "Resume", "u", power=RESUME, help="Let the paused guest run again"),
    GuestAction("autostart", "Autostart", "a", help="Start the guest when the host boots, or not"),
    GuestAction(
        "delete",
        "Delete",
        "D",
        asks_first=True,
        help="Remove the guest, and the disks you tick (asks first)",
    ),
    # A console needs a read-write connection too: libvirt refuses it on a read-only one.
    GuestAction(
        "console",
        "Console",
        "c",
        show=True,
        help="Attach to the guest's serial console (ctrl+] detaches)",
    ),
    GuestAction(
        "display", "Screen", "v", mutating=False, help="Show the guest's display in the terminal"
    ),
    GuestAction("isolation", "Isolation", "i", mutating=False),
    GuestAction("tags", "Tags", "t"),
    GuestAction(
        "allocation",
        "Allocation",
        "A",
        palette="Allocation of",
        help="vCPUs, memory, CPU pinning and limits",
    ),
    GuestAction("snapshots", "Snapshots", "S", mutating=False),
    GuestAction("edit_xml", "Edit XML", "e"),
    GuestAction("clone", "Clone", "K"),
    GuestAction("migrate", "Migrate", "m", help="Move the guest to another connected host"),
    # reached through `a` (on or off by the guest's state) and bulk actions on marked guests
    GuestAction("autostart_on", "Autostart on", power=AUTOSTART_ON),
    GuestAction("autostart_off", "Autostart off", power=AUTOSTART_OFF),
)

ACTIONS: dict[str, GuestAction] = {a.name: a for a in CATALOGUE}
POWER: dict[str, Power] = {a.name: a.power for a in CATALOGUE if a.power is not None}
MUTATING: frozenset[str] = frozenset(a.name for a in CATALOGUE if a.mutating)

# What deleting a guest's definition looks like to virsh (the disks ticked follow --storage).
DELETE_WORDS = ("--nvram", "--snapshots-metadata")


def delete_words(name: str, disks: tuple[str, ...] | list[str] = ()) -> list[str]:
    """``virsh undefine`` for deleting ``name`` with the chosen disks."""
    words = ["undefine", name, *DELETE_WORDS]
    if disks:
        words += ["--storage", ",".join(disks)]
    return words
