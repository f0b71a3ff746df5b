"""One line saying what the connection is doing: connecting, connected, lost (retrying in Ns).

A status sentence can be longer than the line: libvirt's reasons for a lost connection run
to 60 characters and more. The line then shortens the *first* sentence, which carries that
detail, and keeps what follows it whole: the countdown ("Retrying in 0.2s.") and the host
count ("· 2/3 hosts connected") are what the user acts on, and cutting them off the end
would lose exactly those.
"""

from __future__ import annotations

import re

from rich.text import Text
from textual.events import Resize
from textual.widget import Widget

# The end of the first sentence: a full stop followed by a new sentence or a "· " part.
_FIRST_SENTENCE_END = re.compile(r"\.(?= [A-Z·])")
MIN_DETAIL = 12  # below this many cells for the first sentence, shorten the end instead


def fit_status(symbol: str, message: str, width: int) -> str:
    """``message`` shortened to fit ``width`` cells after the symbol (unchanged when it
    fits): its first sentence ends in "…" and the rest follows whole, or, when the rest
    leaves too little room, the end is cut with "…"."""
    text = Text(f"{symbol} {message}")
    if width <= 0 or text.cell_len <= width:
        return message
    match = _FIRST_SENTENCE_END.search(message)
    if match is not None:
        head, tail = message[: match.end()], message[match.end() :]
        room = width - Text(f"{symbol} {tail}").cell_len
        if room >= MIN_DETAIL:
            short = Text(head)
            short.truncate(room, overflow="ellipsis")
            return short.plain + tail
    short = Text(message)
    short.truncate(max(1, width - Text(f"{symbol} ").cell_len), overflow="ellipsis")
    return short.plain


class StatusLine(Widget):
    DEFAULT_CSS = """
    StatusLine { height: 1; padding: 0 1; background: $panel; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._symbol = ""
        self._message = ""
        self._style = ""

    @property
    def plain(self) -> str:
        """The line as drawn at its present width."""
        return self._text().plain

    @property
    def full(self) -> str:
        """The whole status sentence, before any shortening."""
        return f"{self._symbol} {self._message}" if self._symbol else self._message

    def set_status(self, symbol: str, message: str, style: str = "") -> None:
        if (symbol, message, style) != (self._symbol, self._message, self._style):
            self._symbol, self._message, self._style = symbol, message, style
            self.tooltip = self.full  # the whole sentence, when the line had to shorten it
            self.refresh()

    def on_resize(self, event: Resize) -> None:
        self.refresh()

    def _text(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        if not self._symbol and not self._message:
            return text
        text.append(self._symbol + " ", style=self._style)
        text.append(fit_status(self._symbol, self._message, self.content_size.width))
        return text

    def render(self) -> Text:
        return self._text()
