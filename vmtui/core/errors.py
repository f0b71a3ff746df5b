"""The one shape of every error vmtui shows a person: its text is a whole sentence."""

from __future__ import annotations

from vmtui.core.safetext import safe_text


class Sentence(Exception):
    """Base of vmtui's errors: ``err.message`` (and ``str(err)``) is a complete sentence fit to
    show the user as it is."""

    def __init__(self, message: str) -> None:
        # an error quotes names and libvirt's words (guest data): no control characters
        message = safe_text(message, multiline=True)
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
