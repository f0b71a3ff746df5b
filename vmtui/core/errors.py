"""The one shape of every error vmtui shows a person: its text is a whole sentence."""

from __future__ import annotations


class Sentence(Exception):
    """Base of vmtui's errors: ``err.message`` (and ``str(err)``) is a complete sentence fit to
    show the user as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
