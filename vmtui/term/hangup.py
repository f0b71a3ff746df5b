"""Noticing that the terminal has gone (the ssh session dropped, the window closed).

SIGHUP normally says so, and vmtui then quits the way ``q`` does. A vmtui that gets no SIGHUP
(started with setsid, or outside the terminal's session) only sees its input hang up: read()
returns nothing forever, and Textual's input thread spins on it at 100% CPU, on a hypervisor
whose CPUs belong to its guests. So the app also asks the terminal once a second.
"""

from __future__ import annotations

import os
import select
import threading

HUNG_UP = select.POLLHUP | select.POLLERR | select.POLLNVAL
EXIT_CODE = 129  # 128 + SIGHUP, as a shell reports a process that SIGHUP ended
GRACE_SECONDS = 10.0  # to quit the normal way before the process ends itself


def hung_up(fd: int) -> bool:
    """Whether the terminal on ``fd`` has hung up (its other end closed)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return any(mask & HUNG_UP for _fd, mask in poller.poll(0))


def end_after_grace(seconds: float = GRACE_SECONDS) -> threading.Timer:
    """End the process in ``seconds`` unless it has ended by then: quitting the normal way
    may wait on a daemon that does not answer, and nobody is left to press a key."""
    timer = threading.Timer(seconds, os._exit, args=(EXIT_CODE,))
    timer.daemon = True
    timer.start()
    return timer
