"""Smoke test of the real-guest fixture: boot the tiny guest, talk to its shell."""

from __future__ import annotations

import time
from typing import Any

import libvirt

from .tinyguest import READY_MARKER, ConsoleReader


def test_tiny_guest_boots_to_a_shell_on_the_serial_console(
    libvirt_conn: Any, tiny_domain: str
) -> None:
    dom = libvirt_conn.lookupByName(tiny_domain)
    started = time.monotonic()
    # Start paused and attach before the CPU runs: QEMU drops serial output
    # while nobody is connected to the pty.
    dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
    stream = libvirt_conn.newStream(0)
    dom.openConsole(None, stream, 0)
    with ConsoleReader(stream, name=tiny_domain) as console:
        dom.resume()
        console.wait_for_line(READY_MARKER, timeout=60)
        boot_s = time.monotonic() - started
        console.write("echo $((6*7))\n")
        console.wait_for_line("42", timeout=15)
        print(f"tiny guest: shell ready after {boot_s:.1f}s")

        dom.destroy()
        assert not dom.isActive()
