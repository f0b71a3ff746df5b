"""Queries that depend on what guests' XML says, while that XML is still being read.

A host's first poll shows its guests from the listing and bulk stats alone; their tags and
isolation verdicts come from their XML a moment later. A ``/`` query on those terms can
miss guests until then, and says so.
"""

from __future__ import annotations

import re

# query terms whose answer comes from the guests' XML (tags, the isolation verdict)
_XML_TERMS = re.compile(r"(?:^|[\s,(!-])(?:tags?|iso|isolation)\s*[:~=]", re.IGNORECASE)


def needs_details(query: str) -> bool:
    """The query asks about something read from the guests' XML."""
    return bool(_XML_TERMS.search(query))


def incomplete_note(query: str, loading: int) -> str:
    """What to say under the filter while ``loading`` guests' XML is still being read
    ("" when the answer is complete)."""
    if loading <= 0 or not needs_details(query):
        return ""
    guests = "guest's" if loading == 1 else "guests'"
    return f"incomplete: still reading {loading:,} {guests} details"
