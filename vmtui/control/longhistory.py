"""An hour of history for the guests being watched (issue 16: a chart window longer than the
backend's ten minutes). The backend keeps ten minutes for every guest; each poll ships the
watched guests' histories, and this keeps extending them, an hour long, for as long as a
guest stays watched (the guest screen is open). Pure bookkeeping on the UI thread.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from vmtui.backend import GuestHistory
from vmtui.backend.models import Series

KEEP_SECONDS = 3600.0
FIGURES = ("cpu", "memory", "disk_read", "disk_write", "net_rx", "net_tx")


class _Track:
    def __init__(self, history: GuestHistory, size: int) -> None:
        self.interval = history.interval
        self.series = {f: deque(getattr(history, f).values, maxlen=size) for f in FIGURES}
        self.units = {f: getattr(history, f).unit for f in FIGURES}
        self.names = {f: getattr(history, f).name for f in FIGURES}

    def add(self, history: GuestHistory) -> None:
        for figure in FIGURES:
            values = getattr(history, figure).values
            self.series[figure].append(values[-1] if values else None)


class LongHistory:
    """Up to an hour of each watched guest's figures, one sample per poll."""

    def __init__(self, keep_seconds: float = KEEP_SECONDS) -> None:
        self.keep_seconds = keep_seconds
        self._tracks: dict[str, _Track] = {}

    def polled(self, histories: Iterable[GuestHistory], watched: frozenset[str]) -> None:
        """After a poll: extend each watched guest's history by its newest sample (the first
        time, start from the ten minutes the backend has); forget the unwatched."""
        for gone in set(self._tracks) - watched:
            del self._tracks[gone]
        for history in histories:
            if history.uuid not in watched:
                continue
            track = self._tracks.get(history.uuid)
            if track is None or track.interval != history.interval:
                size = max(2, int(self.keep_seconds / max(history.interval, 0.001)) + 1)
                self._tracks[history.uuid] = _Track(history, size)
            else:
                track.add(history)

    def get(self, uuid: str) -> GuestHistory | None:
        """The guest's history as long as it was kept (None when it is not watched)."""
        track = self._tracks.get(uuid)
        if track is None:
            return None
        figures = {
            f: Series(track.names[f], tuple(track.series[f]), track.units[f]) for f in FIGURES
        }
        return GuestHistory(uuid=uuid, interval=track.interval, **figures)
