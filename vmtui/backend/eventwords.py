"""libvirt's lifecycle event details in words, for the activity log ("Guest web stopped
(destroyed).", never "stopped (1)"). Pure: the numbers are libvirt's
VIR_DOMAIN_EVENT_<EVENT>_<DETAIL> values, stable across releases."""

from __future__ import annotations

# event number (VIR_DOMAIN_EVENT_*) -> detail number -> words
DETAILS: dict[int, dict[int, str]] = {
    0: {0: "added", 1: "updated", 2: "renamed", 3: "from a snapshot"},  # defined
    1: {0: "removed", 1: "renamed"},  # undefined
    2: {0: "booted", 1: "migrated in", 2: "restored", 3: "from a snapshot", 4: "woken up"},
    3: {  # suspended
        0: "paused",
        1: "for migration",
        2: "disk I/O error",
        3: "watchdog",
        4: "restored paused",
        5: "from a snapshot",
        6: "libvirt API error",
        7: "post-copy migration",
        8: "post-copy migration failed",
    },
    4: {
        0: "unpaused",
        1: "migration done",
        2: "from a snapshot",
        3: "post-copy",
        4: "post-copy failed",
    },
    5: {  # stopped
        0: "shut down",
        1: "forced off",
        2: "crashed",
        3: "migrated away",
        4: "saved",
        5: "failed to start or run",
        6: "a snapshot was restored",
    },
    6: {0: "finished", 1: "by the guest", 2: "by the host"},  # shutdown
    7: {0: "to memory", 1: "to disk"},  # pmsuspended
    8: {0: "panicked", 1: "crashed and was loaded again"},  # crashed
}


def detail_words(event: int, detail: int) -> str:
    """The detail of a lifecycle event in words ("" when there is nothing to add)."""
    return DETAILS.get(event, {}).get(detail, "")
