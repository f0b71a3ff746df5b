"""Finding a libvirt object by the name vmtui shows for it.

Names from libvirt are made safe once, where they enter vmtui (``core/safetext.py``): a name
holding a control, bidi or zero-width character is shown, and handed back by the UI, with that
character escaped (``net\\x1b``). An action on such an object must still find it: when libvirt
knows no object by the given name and the name holds an escape, the object whose own name
shows as the given one is taken. ``safe_text`` is idempotent, so a plain name matches itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import libvirt

from vmtui.core.safetext import safe_text

T = TypeVar("T")


def lookup(
    by_name: Callable[[str], T],
    listing: Callable[[], Iterable[T]],
    name_of: Callable[[T], str],
    name: str,
) -> T:
    """``by_name(name)``; or, when that fails and ``name`` is an escaped (shown) name, the
    object of ``listing()`` whose name shows as ``name``; else libvirt's own error."""
    try:
        return by_name(name)
    except libvirt.libvirtError:
        if "\\" in name:
            for obj in listing():
                if safe_text(name_of(obj)) == name:
                    return obj
        raise
