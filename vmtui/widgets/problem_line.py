"""A line that says what is wrong, and takes no room while nothing is."""

from __future__ import annotations

from textual.widgets import Static


class ProblemLine(Static):
    """Hidden until ``say`` gets a sentence; ``say("")`` hides it again. Text is never markup
    (it comes from libvirt, a config file or the user's own input)."""

    DEFAULT_CSS = "ProblemLine { display: none; }"

    def __init__(self, *, id: str) -> None:
        super().__init__("", id=id, markup=False)

    def say(self, text: str) -> None:
        self.update(text)
        self.display = bool(text)
