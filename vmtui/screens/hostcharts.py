"""A host's load as charts (dashboard key P, issue 16): CPU and memory in use in per cent,
disk and network in bytes per second, over the last 10 minutes, 30 minutes or an hour (z),
each with a time axis, its unit and the value now.

The figures are the ones each poll already brings (control/hostfigures.py keeps an hour of
them per host): nothing here calls libvirt. ``h`` moves to the next host of the session.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from vmtui.backend import Snapshot
from vmtui.control.hostfigures import FIGURES
from vmtui.control.services import services
from vmtui.core import format as fmt
from vmtui.screens.hostview import HostView
from vmtui.widgets.chart import Chart
from vmtui.widgets.status_line import StatusLine

WINDOWS = (600.0, 1800.0, 3600.0)  # what z cycles through (as on the guest screen)


def window_values(
    values: tuple[float | None, ...], interval: float, window: float
) -> tuple[float | None, ...]:
    """The samples of the last ``window`` seconds (both ends: 10 min at 2 s is 301)."""
    count = max(2, int(window / max(interval, 0.001)) + 1)
    return values[-count:]


class HostChartsScreen(HostView):
    BINDINGS = [
        Binding("escape,backspace", "back", "Back"),
        Binding("z", "window", "Window 10m/30m/1h"),
        Binding("h", "next_host", "Next host"),
    ]

    DEFAULT_CSS = """
    HostChartsScreen #host-charts-title { height: 1; padding: 0 1; text-style: bold; }
    """

    def __init__(self, uri: str) -> None:
        super().__init__()
        self.uri = uri
        self.window = WINDOWS[0]

    def compose(self) -> ComposeResult:
        yield Static("", id="host-charts-title", markup=False)
        with VerticalScroll():
            for name, title, kind in FIGURES:
                yield Chart(title, kind, id=f"h-{name}")
        yield StatusLine(id="status")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.show_snapshot(services(self).snapshot)

    def show_snapshot(self, snapshot: Snapshot | None) -> None:
        link = services(self).hosts.get(self.uri)
        title = self.query_one("#host-charts-title", Static)
        if link is None:
            title.update(f"{fmt.short_uri(self.uri)} is no longer connected.")
            return
        info = link.host_info
        name = info.hostname if info is not None else fmt.short_uri(self.uri)
        figures = link.figures
        title.update(f"{name} ({fmt.short_uri(self.uri)}): the last {fmt.duration(self.window)}")
        if not len(figures):
            return  # no answer yet: the charts stay empty until the first poll
        if all(v is None for v in figures.values("cpu") + figures.values("memory")):
            title.update(f"{name}: host load is not reported by this driver.")
        for figure, _title, _kind in FIGURES:
            values = window_values(figures.values(figure), figures.interval, self.window)
            self.query_one(f"#h-{figure}", Chart).show(values, figures.interval)

    def action_window(self) -> None:
        """z: 10 minutes → 30 minutes → 1 hour (kept since the session connected the host)."""
        self.window = WINDOWS[(WINDOWS.index(self.window) + 1) % len(WINDOWS)]
        self.show_snapshot(services(self).snapshot)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_host" and len(services(self).hosts) < 2:
            return False  # one host: h has nowhere to go (and leaves the footer)
        return super().check_action(action, parameters)

    def action_next_host(self) -> None:
        uris = list(services(self).hosts)
        if len(uris) > 1 and self.uri in uris:
            self.uri = uris[(uris.index(self.uri) + 1) % len(uris)]
            self.show_snapshot(services(self).snapshot)

    def action_back(self) -> None:
        self.dismiss()
