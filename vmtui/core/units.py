"""Sizes: the one table of units, the one parser, and the text that reads back exactly.

Pure (no Textual, no libvirt). Two readings share the same table of binary prefixes:

* what a person types (:data:`UNITS`, read by :func:`parse_size`): ``K``, ``M``, ``G``, ``T``,
  ``P``, each alone or with ``i``, ``iB`` or ``B`` after it (``2G``, ``2Gi``, ``2GiB`` and
  ``2GB`` are all 2 GiB: people write "GB" and mean binary), and ``b`` or ``bytes``;
* libvirt's XML ``unit=`` attribute (:data:`XML_UNITS`, read by :func:`xml_kib`), where
  ``KiB``, ``k`` and ``K`` are 1024 bytes but ``KB`` is 1000 (likewise ``MB``, ``GB`` ...).

Every figure is in bytes; callers divide by :data:`KIB` or :data:`MIB` for their own unit.
"""

from __future__ import annotations

import re

# Unit symbols, smallest first: SYMBOLS[n] is 1024**n bytes (format.size shows these too).
SYMBOLS = ("B", "K", "M", "G", "T", "P")
KIB = 1024
MIB = 1024**2
GIB = 1024**3


def _table(decimal_b: bool) -> dict[str, int]:
    """Lower-case unit name -> bytes. ``decimal_b``: "KB" is 1000 (libvirt's XML)."""
    table = {"b": 1, "bytes": 1}
    for power, symbol in enumerate(SYMBOLS[1:], start=1):
        prefix = symbol.lower()
        binary = 1024**power
        table[prefix] = table[f"{prefix}i"] = table[f"{prefix}ib"] = binary
        table[f"{prefix}b"] = 1000**power if decimal_b else binary
    return table


UNITS: dict[str, int] = _table(decimal_b=False)  # what a person types: all binary
XML_UNITS: dict[str, int] = _table(decimal_b=True)  # libvirt's unit= attribute

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


class SizeError(ValueError):
    """Text that is not a size. ``unit`` is the unit as typed when only the unit is unknown
    (the number was fine), else None. The message is neutral ("'x' is not a size"): callers
    say it in their own sentence."""

    def __init__(self, reason: str, text: str, unit: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.text = text
        self.unit = unit


def parse_size(text: str, default_unit: str) -> float:
    """``512M``, ``2G``, ``1.5 GiB``, ``4k``, ``100b`` in bytes; a bare number is in
    ``default_unit`` (a name from :data:`UNITS`, any case). Raises :class:`SizeError`."""
    m = _SIZE.match(text)
    if not m:
        raise SizeError(f"'{text.strip()}' is not a size", text)
    number, unit = m.group(1), m.group(2)
    factor = UNITS.get((unit or default_unit).lower())
    if factor is None:
        raise SizeError(f"'{unit}' is not a unit", text, unit)
    return float(number) * factor


def xml_kib(number: int, unit: str | None) -> int:
    """A figure of libvirt's XML with its ``unit=`` attribute in KiB (no attribute is KiB,
    and so is a unit vmtui does not know)."""
    factor = XML_UNITS.get((unit or "KiB").lower(), KIB)
    if factor % KIB == 0:
        return number * (factor // KIB)
    return int(number * factor / KIB)


def exact_size(n_bytes: int, smallest: str = "B", largest: str = "P") -> str:
    """The largest unit (from ``smallest`` to ``largest``) that holds ``n_bytes`` a whole
    number of times: ``2G``, ``1536K``; :func:`parse_size` reads it back exactly."""
    low, high = SYMBOLS.index(smallest), SYMBOLS.index(largest)
    for power in range(high, low, -1):
        if n_bytes % 1024**power == 0:
            return f"{n_bytes // 1024**power}{SYMBOLS[power]}"
    return f"{n_bytes // 1024**low}{SYMBOLS[low]}"
