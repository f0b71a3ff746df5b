"""libvirt's default event loop: registered once, before any connection, run by one daemon thread.

Keepalive, close callbacks and domain events all need it. Callbacks run on that thread and must
only hand data on (the UI posts a message); they never call back into libvirt.
"""

from __future__ import annotations

import threading

import libvirt

_lock = threading.Lock()
_started = False


def _run() -> None:
    while True:
        try:
            libvirt.virEventRunDefaultImpl()
        except libvirt.libvirtError:  # pragma: no cover - a broken loop iteration; keep going
            continue


def ensure_event_loop() -> bool:
    """Register and start the event loop once per process. Returns True when it runs."""
    global _started
    with _lock:
        if _started:
            return True
        try:
            libvirt.virEventRegisterDefaultImpl()
        except libvirt.libvirtError:
            return False
        threading.Thread(target=_run, name="libvirt-events", daemon=True).start()
        _started = True
        return True
