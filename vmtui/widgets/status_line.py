"""One line saying what the connection is doing: connecting, connected, lost (retrying in Ns)."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget


class StatusLine(Widget):
    DEFAULT_CSS = """
    StatusLine { height: 1; padding: 0 1; background: $panel; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = Text()

    @property
    def plain(self) -> str:
        return self._text.plain

    def set_status(self, symbol: str, message: str, style: str = "") -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(symbol + " ", style=style)
        text.append(message)
        if text.plain != self._text.plain:
            self._text = text
            self.refresh()

    def render(self) -> Text:
        return self._text
