"""Keeping the C allocator's idle memory small (issue 12: peak RSS at thousands of guests).

glibc's malloc gives every thread that allocates its own arena (up to eight per core), and
memory freed into an arena stays in that arena. vmtui's libvirt threads (the event loop, the
lanes reading XML and stats in parallel) each build and drop megabytes per tick at thousands
of guests (the bulk stats records, XML strings): measured at 5,000 guests over the socket,
the arenas held ~23 MiB free after three ticks, growing by ~3 MiB a tick before levelling
off. With two arenas the same run holds ~7 MiB free, and the peak with ten minutes of
history fell by ~10 MiB, with no measurable change in tick or first-frame time (the GIL
already serialises most of these threads). See benchmarks/README.md, "Memory, since ...".

Pure ctypes, no effect where the C library is not glibc (musl, macOS): every call here is a
best effort and never raises.
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading

ARENAS = 2  # the main thread's arena and one shared by every other thread
_M_ARENA_MAX = -8  # glibc's malloc.h

_lock = threading.Lock()
_done: bool | None = None  # None: not tried yet


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library already in the process (``dlopen(NULL)``: no ``ldconfig`` run), when
    it is glibc."""
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    if not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
        return None  # not glibc: its allocator has no arenas to limit this way
    return libc


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas (``mallopt(M_ARENA_MAX)``). Call it once, early, before
    threads start allocating (arenas already made stay). True when the cap is in place;
    later calls do nothing and return the first call's answer. A ``MALLOC_ARENA_MAX`` in
    the environment is the user's choice (glibc applied it at start): left as it is."""
    global _done
    with _lock:
        if _done is None and os.environ.get("MALLOC_ARENA_MAX"):
            _done = False
        if _done is None:
            libc = _libc()
            _done = bool(libc is not None and libc.mallopt(_M_ARENA_MAX, max(1, arenas)) == 1)
        return _done

