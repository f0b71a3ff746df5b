"""Waiting for something outside the app: a process, a daemon, a guest's state in libvirt.

Inside a running app use ``helpers.wait_for``, which lets the app run between checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], bool], timeout: float, *, step: float = 0.1) -> bool:
    """Check ``condition`` every ``step`` seconds until it holds or ``timeout`` seconds have
    passed; whether it held (checked once more at the deadline). The caller asserts, with
    its own sentence."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return condition()
        time.sleep(step)
    return True
