"""Bytes from a guest shown as text that cannot act on the terminal (pure).

A command's output in a guest is untrusted: escape sequences (colours, titles, OSC 52
clipboard writes, cursor moves), control characters, bidi overrides and invalid UTF-8 are
shown as ``\\xNN`` / ``\\uNNNN``, so what reaches the screen is only printable text, line
breaks and tabs.
"""

from __future__ import annotations

import re

# C0 controls but \t and \n, DEL, C1 controls, bidi/format characters (Cf in the ranges people
# abuse), line/paragraph separators; lone surrogates come from undecodable bytes.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb"
    "\udc80-\udcff]"
)


def _one(m: re.Match[str]) -> str:
    code = ord(m.group(0))
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def escape_output(data: bytes) -> str:
    """``data`` as UTF-8 text with everything unsafe written as an escape."""
    return _UNSAFE.sub(_one, data.decode("utf-8", errors="surrogateescape"))


def is_binary(data: bytes) -> bool:
    """Whether the output holds bytes that had to be escaped (shown as a note)."""
    return _UNSAFE.search(data.decode("utf-8", errors="surrogateescape")) is not None
