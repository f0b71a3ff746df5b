"""A chart of one figure over time (issue 16): a time axis in minutes before now, a value axis
in the figure's unit (%, bytes, bytes/s), and the current value in the title.

Drawn by plotext through textual-plotext (terminal cells, no graphics protocol: it works over
SSH at 80x24). Every label is ours; plotext's output is read as ANSI text, never as markup.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual_plotext import PlotextPlot

from vmtui.core import format as fmt

KINDS = ("percent", "kib", "rate")  # of the whole guest's vCPUs; KiB; bytes per second


def show_value(kind: str, value: float | None) -> str:
    """A value as the chart says it (same words as the dashboard's columns)."""
    if kind == "percent":
        return f"{fmt.percent(value)}%"
    if kind == "kib":
        return fmt.kib(value)
    return f"{fmt.rate(value)}/s"


def points(
    values: Sequence[float | None], interval: float, per: float = 60.0
) -> tuple[list[float], list[float]]:
    """(time before now, in units of ``per`` seconds; value) of the known samples, oldest
    first; the newest at 0."""
    n = len(values)
    xs: list[float] = []
    ys: list[float] = []
    for i, value in enumerate(values):
        if value is not None:
            xs.append(-(n - 1 - i) * interval / per)
            ys.append(float(value))
    return xs, ys


def value_ticks(kind: str, top: float) -> tuple[list[float], list[str]]:
    """Three ticks on the value axis (0, half, top), labelled in the figure's unit."""
    if top <= 0:
        top = 100.0 if kind == "percent" else 1.0
    ticks = [0.0, top / 2, top]
    return ticks, [show_value(kind, t) for t in ticks]


class Chart(PlotextPlot):
    """One figure's history: ``show`` draws it again (only when its data changed)."""

    DEFAULT_CSS = "Chart { height: 9; }"

    def __init__(self, title: str, kind: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        assert kind in KINDS, kind
        self.title = title
        self.kind = kind
        self.caption = title  # what the chart says above the plot (tests read it)
        self._drawn: object = None

    def show(self, values: Sequence[float | None], interval: float) -> None:
        key = (tuple(values), interval)
        if key == self._drawn:
            return  # an idle tick writes nothing new (SSH-friendly)
        self._drawn = key
        span = interval * max(1, len(values) - 1)
        per, axis = (1.0, "seconds ago") if span <= 120 else (60.0, "minutes ago")
        xs, ys = points(values, interval, per)
        now = next((v for v in reversed(values) if v is not None), None)
        peak = max(ys) if ys else None
        window = fmt.duration(interval * max(1, len(values) - 1))
        self.caption = (
            f"{self.title}: {show_value(self.kind, now)} now, peak "
            f"{show_value(self.kind, peak)} over {window}"
        )
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.caption)
        plt.xlabel(axis)
        if xs:
            plt.plot(xs, ys, marker="braille")
            left = min(xs) if len(xs) > 1 else -1.0
            plt.xlim(left, 0.0)
        top = max(ys) if ys else 0.0
        if self.kind == "percent":
            top = max(top, 100.0) if top > 50 else max(top * 1.2, 10.0)
        else:
            top = top * 1.2
        ticks, labels = value_ticks(self.kind, top)
        plt.ylim(0.0, ticks[-1])
        plt.yticks(ticks, labels)
        self.refresh()
