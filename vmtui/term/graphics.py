"""Does the user's terminal show real pixels (sixel or kitty graphics)?

The answer comes from asking the terminal (textual-image sends DA1 and a kitty graphics query
and reads the replies from stdin), which only works *before* Textual takes the terminal over:
``vmtui.cli`` calls :func:`detect` just before ``App.run``. Until then, and whenever stdin or
stdout is not a terminal (tests, pipes, headless runs), the answer is "no": guests' screens
are drawn with half-block cells, which every colour terminal shows.

``VMTUI_GRAPHICS`` overrides the question: ``off`` (never pixels, and never ask), ``sixel`` or
``kitty`` (trust the user; for terminals that support it but do not say so).
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import select
import struct
import sys
import termios
import time
import tty
from typing import Literal

Protocol = Literal["sixel", "kitty"]

NAMES: dict[str, str] = {"sixel": "sixel", "kitty": "kitty graphics"}

_protocol: Protocol | None = None


def protocol() -> Protocol | None:
    """The pixel protocol this terminal understands, or None (half-blocks only)."""
    return _protocol


def set_protocol(value: Protocol | None) -> None:
    """Set the answer by hand (tests; the ``VMTUI_GRAPHICS`` override)."""
    global _protocol
    _protocol = value


def _interactive() -> bool:
    out, inp = sys.__stdout__, sys.__stdin__
    try:
        return bool(out and inp and out.isatty() and inp.isatty())
    except (ValueError, OSError):  # a closed stream
        return False


# Kitty's graphics query (a 1x1 image, "query only"), the cell size in pixels, then DA1. Every
# terminal answers DA1, and answers in order: so once the DA1 reply is in, every answer that
# is coming has come, with no fixed short timeout (an SSH round trip can take 100 ms or more).
KITTY_QUERY = "\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\"
CELL_QUERY = "\x1b[16t"
DA1_QUERY = "\x1b[c"
DA1_REPLY = re.compile(r"\x1b\[\?([0-9;]*)c")
CELL_REPLY = re.compile(r"\x1b\[6;([0-9]+);([0-9]+)t")
KITTY_OK = re.compile(r"\x1b_Gi=31;OK\x1b\\")


def parse_replies(replies: str) -> tuple[Protocol | None, tuple[int, int] | None]:
    """(protocol, (cell width, cell height) in pixels) from what the terminal answered."""
    found: Protocol | None = None
    da1 = DA1_REPLY.search(replies)
    if da1 and "4" in da1.group(1).split(";"):
        found = "sixel"  # DA1 lists 4: sixel graphics
    elif KITTY_OK.search(replies):
        found = "kitty"
    cell = CELL_REPLY.search(replies)
    size = (int(cell.group(2)), int(cell.group(1))) if cell else None
    return found, size


def _ask_terminal(timeout: float) -> str:
    """Send the queries and collect the replies up to DA1's (raw, no echo, meanwhile)."""
    fd_in, out = sys.__stdin__.fileno(), sys.__stdout__  # type: ignore[union-attr]
    assert out is not None
    saved = termios.tcgetattr(fd_in)
    replies = ""
    try:
        tty.setcbreak(fd_in, termios.TCSANOW)
        out.write(KITTY_QUERY + CELL_QUERY + DA1_QUERY)
        out.flush()
        deadline = time.monotonic() + timeout
        while not DA1_REPLY.search(replies):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd_in], [], [], left)[0]:
                break
            chunk = os.read(fd_in, 4096)
            if not chunk:  # end of input: nobody will answer
                break
            replies += chunk.decode("latin-1")
    finally:
        termios.tcsetattr(fd_in, termios.TCSANOW, saved)
    return replies


def _prepare_textual_image(cell: tuple[int, int] | None) -> None:
    """Import textual-image without letting it ask the terminal again (it would, at import
    time, with 0.1 s timeouts), and give it the cell size we learnt."""
    import textual_image._terminal as terminal

    if cell is not None and cell[0] > 0 and cell[1] > 0:
        terminal.get_cell_size._result = terminal.CellSize(*cell)  # type: ignore[attr-defined]
    real = sys.__stdout__
    sys.__stdout__ = io.StringIO()  # type: ignore[assignment,misc]  # not a tty: no queries
    try:
        import textual_image.renderable
        import textual_image.widget  # noqa: F401
    finally:
        sys.__stdout__ = real  # type: ignore[misc]


def detect(timeout: float = 1.5) -> Protocol | None:
    """Ask the terminal (once, before the app starts) and remember the answer."""
    wanted = os.environ.get("VMTUI_GRAPHICS", "").strip().lower()
    if wanted in ("off", "no", "none", "0", "halfblock", "half"):
        set_protocol(None)
        return None
    if not _interactive():
        set_protocol(None)  # never write queries into a pipe or a test's captured output
        return None
    try:
        found, cell = parse_replies(_ask_terminal(timeout))
        if wanted in ("sixel", "kitty"):
            found = "sixel" if wanted == "sixel" else "kitty"
        if found is not None:
            _prepare_textual_image(_ioctl_cell_size() or cell)
    except Exception:  # textual-image missing, or a terminal that answered nonsense
        found = None
    set_protocol(found)
    return found


def _ioctl_cell_size() -> tuple[int, int] | None:
    try:
        packed = fcntl.ioctl(sys.__stdout__, termios.TIOCGWINSZ, b"\0" * 8)  # type: ignore[arg-type]
    except OSError:
        return None
    rows, cols, xpix, ypix = struct.unpack("HHHH", packed)
    if rows and cols and xpix and ypix:
        return xpix // cols, ypix // rows
    return None
