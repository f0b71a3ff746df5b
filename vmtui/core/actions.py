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

import shlex
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
    def managed_save(self, uuid: str) -> None: ...


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
MANAGED_SAVE = Power(
    lambda hv, u: hv.managed_save(u), ("managedsave",), "save the state of", "saved and stopped"
)
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
    GuestAction(
        "managed_save",
        "Save state",
        "Z",
        power=MANAGED_SAVE,
        help="Save the guest's memory to disk and stop it; start resumes it (virsh managedsave)",
    ),
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
    GuestAction(
        "disks",
        "Disks",
        "b",
        mutating=False,
        palette="Disks of",
        help="Add, detach and resize disks, backing chains, insert or eject a CD-ROM",
    ),
    GuestAction(
        "backups",
        "Backups",
        "B",
        mutating=False,
        palette="Backups of",
        help="Full and incremental backups of a running guest; restore one as a new guest",
    ),
    GuestAction(
        "machine",
        "Boot and firmware",
        "M",
        mutating=False,
        palette="Boot and firmware of",
        help="Boot order and menu, BIOS / UEFI / secure boot, TPM 2.0, saved state",
    ),
    GuestAction("edit_xml", "Edit XML", "e"),
    GuestAction("clone", "Clone", "K"),
    GuestAction("migrate", "Migrate", "m", help="Move the guest to another connected host"),
    GuestAction(
        "host_devices",
        "Host devices",
        "U",  # G is the table's last row
        palette="Host devices for",
        help="PCI / USB devices and GPUs of the host: who holds each, attach, detach",
    ),
    GuestAction(
        "export",
        "Export",
        "E",
        palette="Export to a file:",
        help="Write this shut-off guest (XML, every disk, a manifest) to one archive",
    ),
    GuestAction(
        "sandbox",
        "Sandbox",
        "X",
        palette="Throwaway sandbox of",
        help="Start a sealed copy-on-write copy of this shut-off guest; gone when it stops",
    ),
    # inside the guest (screens/inside.py): refused with a sentence on a read-only connection
    # where they would change the guest, rather than hidden (the agent's screen reads too)
    GuestAction(
        "exec",
        "Run command",
        "x",
        mutating=False,
        palette="Run a command in",
        help="Run a shell command through the guest agent (marked guests: in each)",
    ),
    GuestAction(
        "ssh",
        "SSH login",
        "w",
        mutating=False,
        palette="ssh into",
        help="Log into the guest with ssh; vmtui comes back when ssh exits",
    ),
    GuestAction(
        "ssh_login",
        "SSH login user",
        "W",
        palette="ssh login user of",
        help="The user (and port) w logs in as, kept with the guest like its tags",
    ),
    GuestAction(
        "agent",
        "Guest agent",
        "I",
        mutating=False,
        palette="Guest agent of",
        help="OS, users, filesystems; shut down, reboot, passwords, clock, freeze",
    ),
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


# When each keyed action makes sense (the palette offers those, in catalogue order; issue 16):
# "off" shut off, "running" running, "paused", "active" running or paused, "graphics" active
# with a display, "agent" active with a guest agent answering; any other action: always.
WHEN: dict[str, str] = {
    "start": "off",
    "sandbox": "off",
    "export": "off",
    "shutdown": "running",
    "reboot": "running",
    "pause": "running",
    "managed_save": "active",
    "resume": "paused",
    "force_off": "active",
    "console": "active",
    "display": "graphics",
    "ssh": "active",
    "exec": "agent",
    "agent": "agent",
}


def offered(
    *, active: bool, running: bool, paused: bool, graphics: bool, agent: bool
) -> list[str]:
    """Every keyed catalogue action that makes sense for a guest in this state, in order."""
    fits = {
        "off": not active,
        "running": running,
        "paused": paused,
        "active": active,
        "graphics": active and graphics,
        "agent": active and agent,
    }
    return [a.name for a in CATALOGUE if a.key and fits.get(WHEN.get(a.name, ""), True)]


def delete_line(uri: str, name: str, disks: tuple[str, ...] | list[str], running: bool) -> str:
    """The virsh line of a delete, for the activity log: a running guest is forced off first
    (``virsh destroy``), and the log says so."""
    undefine = shlex.join(["virsh", *(["-c", uri] if uri else []), *delete_words(name, disks)])
    if not running:
        return undefine
    destroy = shlex.join(["virsh", *(["-c", uri] if uri else []), "destroy", name])
    return f"{destroy} && {undefine}"
