"""The terminal driver, with one last filter on everything written to the terminal.

Strings from libvirt, guests and config files are made safe where they enter vmtui
(``core/safetext.py``) and escaped where raw paths are shown; this filter catches whatever a
screen still lets through: no C1 control (a single-character CSI, OSC, DCS), bidi override or
zero-width character ever reaches the user's terminal, whatever the widget (issue 14 #4).
Textual's own output never holds one of them, so nothing legitimate changes.
"""

from __future__ import annotations

from textual.driver import Driver

from vmtui.core.safetext import safe_output


def safe_driver(base: type[Driver]) -> type[Driver]:
    """``base`` (the platform's driver class) whose ``write`` filters with safe_output."""

    class SafeOutputDriver(base):  # type: ignore[valid-type,misc]
        def write(self, data: str) -> None:
            super().write(safe_output(data))

    SafeOutputDriver.__name__ = SafeOutputDriver.__qualname__ = f"Safe{base.__name__}"
    return SafeOutputDriver
