"""control/longhistory.py and widgets/chart.py's pure parts: an hour kept for a watched guest,
points on a minutes-ago axis, value ticks in the figure's unit."""

from __future__ import annotations

from vmtui.backend import GuestHistory
from vmtui.backend.models import Series
from vmtui.control.longhistory import LongHistory
from vmtui.widgets.chart import points, value_ticks


def history(uuid: str, values: list[float | None], interval: float = 2.0) -> GuestHistory:
    s = Series("x", tuple(values), "")
    return GuestHistory(uuid, interval, s, s, s, s, s, s)


def test_an_hour_is_kept_for_a_watched_guest_beyond_the_backends_ten_minutes() -> None:
    long = LongHistory()
    ten_minutes = [1.0] * 300  # what the backend ships at a 2 s tick
    long.polled([history("a", ten_minutes)], frozenset({"a"}))
    for tick in range(1600):  # 53 more minutes, one new sample a poll
        long.polled([history("a", [*ten_minutes[1:], float(tick)])], frozenset({"a"}))
    kept = long.get("a")
    assert kept is not None and len(kept.cpu.values) == 1801  # an hour at 2 s, both ends
    assert kept.cpu.values[-1] == 1599.0  # the oldest went: an hour, not more
    long.polled([history("a", ten_minutes)], frozenset())  # no longer watched: forgotten
    assert long.get("a") is None


def test_points_put_now_at_zero_and_skip_unknown_samples() -> None:
    xs, ys = points([1.0, None, 3.0], 30.0)
    assert xs == [-1.0, 0.0] and ys == [1.0, 3.0]


def test_value_ticks_are_labelled_in_the_unit() -> None:
    assert value_ticks("percent", 100.0)[1] == ["0.0%", "50.0%", "100%"]
    assert value_ticks("rate", 2048.0)[1][-1].endswith("/s")
