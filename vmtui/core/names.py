"""The one rule for guest names: the wizard, clone and every other place that names a guest
ask it, and say it the same way.

libvirt takes almost any name (not '/', for QEMU); vmtui also makes volume files, virsh lines
and shell words from a guest's name, so a name is what is safe in all of them: 1 to 64
letters (a-z, A-Z), digits and ``_ . + -``, starting with a letter, a digit or ``_``. Names
made elsewhere that break it are still shown and handled (as data); only new names follow it.
"""

from __future__ import annotations

import re
from collections.abc import Collection

MAX_GUEST_NAME = 64
GUEST_NAME_RULE = (
    f"1 to {MAX_GUEST_NAME} letters, digits and _ . + -, starting with a letter, a digit or _"
)
_GUEST_NAME = re.compile(rf"^[A-Za-z0-9_][A-Za-z0-9_.+-]{{0,{MAX_GUEST_NAME - 1}}}$")


def guest_name_problem(name: str, taken: Collection[str] = ()) -> str | None:
    """What is wrong with ``name`` for a new guest, as a sentence; None when it is fine."""
    if not name.strip():
        return "Give the guest a name."
    if not _GUEST_NAME.match(name):
        shown = name if len(name) <= 40 else name[:40] + "…"
        return f"The guest name {shown!r} cannot be used: a guest name is {GUEST_NAME_RULE}."
    if name in taken:
        return f"A guest called {name} already exists on this host."
    return None
