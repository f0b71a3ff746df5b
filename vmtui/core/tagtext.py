"""Tag rules and tag edits as typed by a person: pure (no Textual, no libvirt).

A tag is 1 to 32 characters: letters, digits and ``_ . - + @ /``, starting with a letter, digit
or ``_`` (so ``-old`` can mean "remove old" and tags never need quoting). Tags compare
case-insensitively and keep the case they were first typed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vmtui.core.errors import Sentence

MAX_TAG = 32
MAX_TAGS = 32
_TAG = re.compile(r"^[\w][\w.+@/-]*$")


class TagError(Sentence, ValueError):
    """A tag that breaks the rules; ``message`` says which and why."""


def validate_tag(tag: str) -> str:
    """The tag, checked (TagError with a sentence when it is not acceptable)."""
    if not tag:
        raise TagError("A tag cannot be empty.")
    if len(tag) > MAX_TAG:
        raise TagError(f"Tag '{tag[:40]}' is longer than {MAX_TAG} characters.")
    if any(c.isspace() for c in tag) or "," in tag:
        raise TagError(f"Tag '{tag}' contains a space or a comma; tags are single words.")
    if not _TAG.match(tag):
        raise TagError(
            f"Tag '{tag}' has a character tags cannot have; use letters, digits and _ . - + @ /"
            " (not first)."
        )
    return tag


def normalize(tags: Iterable[str]) -> tuple[str, ...]:
    """Validated, without case-insensitive duplicates, in order."""
    out: list[str] = []
    seen: set[str] = set()
    for tag in tags:
        validate_tag(tag)
        if tag.lower() not in seen:
            seen.add(tag.lower())
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise TagError(f"A guest can carry at most {MAX_TAGS} tags.")
    return tuple(out)


@dataclass(frozen=True)
class TagEdit:
    """``+db -old`` (add/remove), or plain words: replace the tags with exactly these."""

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    replace: tuple[str, ...] | None = None

    def apply(self, current: Sequence[str]) -> tuple[str, ...]:
        base = list(self.replace) if self.replace is not None else list(current)
        gone = {t.lower() for t in self.remove}
        kept = [t for t in base if t.lower() not in gone]
        return normalize([*kept, *(t for t in self.add if t.lower() not in gone)])

    @property
    def empty(self) -> bool:
        return not self.add and not self.remove and self.replace is None

    def describe(self) -> str:
        parts = [f"+{t}" for t in self.add] + [f"-{t}" for t in self.remove]
        if self.replace is not None:
            parts.insert(0, " ".join(self.replace) if self.replace else "(no tags)")
        return " ".join(parts)


def parse_tag_edit(text: str, *, replace_when_plain: bool = True) -> TagEdit:
    """``+a -b`` adds a and removes b; plain words replace every tag (or add them, when
    ``replace_when_plain`` is false). TagError names a bad tag."""
    add: list[str] = []
    remove: list[str] = []
    plain: list[str] = []
    for word in text.replace(",", " ").split():
        if word[0] == "+":
            add.append(validate_tag(word[1:]))
        elif word[0] == "-":
            remove.append(validate_tag(word[1:]))
        else:
            plain.append(validate_tag(word))
    if plain and not replace_when_plain:
        add = plain + add
        plain = []
    replace = tuple(plain) if plain else None
    return TagEdit(tuple(add), tuple(remove), replace)
