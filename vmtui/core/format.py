"""Turning figures into short text for cells (pure functions, no Textual, no libvirt)."""

from __future__ import annotations

from collections.abc import Sequence

from vmtui.core.units import SYMBOLS

_BARS = " ▁▂▃▄▅▆▇█"
DASH = "–"  # noqa: RUF001 - an en dash reads as "no figure"


def size(n: float | None, *, base_unit: str = "B") -> str:
    """Compact binary size: 512B, 1.5K, 20M, 1.0G (one decimal below 10, none above)."""
    if n is None:
        return DASH
    value = float(n)
    if value == 0:
        return "0"
    idx = SYMBOLS.index(base_unit)
    while abs(value) >= 1024 and idx < len(SYMBOLS) - 1:
        value /= 1024
        idx += 1
    if idx == 0 or value >= 10:
        return f"{value:.0f}{SYMBOLS[idx]}"
    return f"{value:.1f}{SYMBOLS[idx]}"


def kib(n: float | None) -> str:
    return size(n, base_unit="K")


def rate(n: float | None) -> str:
    """Bytes per second, compact (the column header says /s)."""
    if n is None:
        return DASH
    if n < 1:
        return "0"
    return size(n)


def pair(a: float | None, b: float | None) -> str:
    if a is None and b is None:
        return DASH
    return f"{rate(a)}/{rate(b)}"


def percent(p: float | None) -> str:
    if p is None:
        return DASH
    if p >= 99.95:
        return "100"
    return f"{p:.1f}"


def sparkline(values: Sequence[float | None], width: int, maximum: float | None = None) -> str:
    """Block-character sparkline of the last ``width`` values (unknown values as blanks)."""
    if width <= 0:
        return ""
    tail = list(values)[-width:]
    known = [v for v in tail if v is not None]
    top = maximum if maximum is not None else (max(known) if known else 0.0)
    chars = []
    for v in tail:
        if v is None or top <= 0:
            chars.append(" ")
            continue
        level = max(0.0, min(1.0, v / top))
        chars.append(_BARS[1 + round(level * (len(_BARS) - 2))] if v > 0 else _BARS[1])
    return "".join(chars).rjust(width)


def short_uri(uri: str) -> str:
    """A URI as shown on screen: a test-driver host file by its name, not its whole path."""
    if uri.startswith("test:///") and "/" in uri[len("test:///") :]:
        return "test:///…/" + uri.rsplit("/", 1)[1]
    return uri


def duration(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"
