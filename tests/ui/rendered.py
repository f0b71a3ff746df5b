"""What reaches the terminal: the text of the current screen as the compositor renders it."""

from __future__ import annotations

import unicodedata

from textual.app import App

from vmtui.core.safetext import BIDI, INVISIBLE


def screen_text(app: App[object]) -> str:
    """Every line the current screen's compositor draws (segments' text, no styles)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


def unsafe_characters(text: str) -> list[str]:
    """Characters in rendered text that must never reach a terminal (line feeds between the
    lines aside): C0/C1 controls, bidi controls, zero-width characters, separators."""
    found = []
    for ch in text:
        if ch == "\n":
            continue
        if ch in BIDI or ch in INVISIBLE or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            found.append(f"U+{ord(ch):04X}")
    return found
