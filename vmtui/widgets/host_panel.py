"""The host panel: who the host is, its load with sparklines, and how much the guests commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.widget import Widget

from vmtui.backend import HostHistory, HostInfo, HostStats
from vmtui.core import format as fmt


def host_lines(
    info: HostInfo | None, stats: HostStats | None, history: HostHistory | None, width: int
) -> Text:
    """The panel's text: pure, so it is tested without a screen."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if info is None:
        text.append("no host yet", style="dim")
        return text
    text.append(info.hostname, style="bold")
    text.append(
        f" · {info.hypervisor} · libvirt {info.libvirt_version} · {info.cpus} CPUs · "
        f"{fmt.kib(info.memory_kib)} · {fmt.short_uri(info.uri)}",
        style="dim",
    )
    text.append("\n")
    spark_w = max(4, (width - 34) // 2)
    if stats is not None and stats.cpu_percent is not None:
        cpu_hist = history.cpu.values if history else ()
        mem_hist = history.memory.values if history else ()
        mem_pct = (
            100.0 * stats.mem_used_kib / stats.mem_total_kib
            if stats.mem_used_kib is not None and stats.mem_total_kib
            else None
        )
        text.append("CPU ")
        text.append(f"{fmt.percent(stats.cpu_percent):>5}% ", style="bold")
        text.append(fmt.sparkline(cpu_hist, spark_w, 100.0), style="green")
        text.append("  Mem ")
        text.append(f"{fmt.percent(mem_pct):>5}% ", style="bold")
        text.append(fmt.sparkline(mem_hist, spark_w, 100.0), style="blue")
        text.append("\n")
        parts = []
        if stats.load is not None:
            parts.append("load " + " ".join(f"{x:.2f}" for x in stats.load))
        parts.append(f"disk r/w {fmt.pair(stats.disk_read_bps, stats.disk_write_bps)}/s")
        parts.append(f"net rx/tx {fmt.pair(stats.net_rx_bps, stats.net_tx_bps)}/s")
        text.append(" · ".join(parts), style="dim")
    else:
        text.append("host load: not reported by this driver", style="dim")
    text.append("\n")
    if stats is not None:
        text.append(f"guests {stats.guests_running}/{stats.guests_total} running · ")
        over = stats.vcpu_overcommit
        text.append(f"committed vCPUs {stats.committed_vcpus}/{stats.host_cpus}")
        if over is not None:
            text.append(f" ({over * 100:.0f}%)", style="bold red" if over > 1 else "")
        mem_over = stats.mem_overcommit
        text.append(f" · memory {fmt.kib(stats.committed_mem_kib)}/{fmt.kib(stats.mem_total_kib)}")
        if mem_over is not None:
            text.append(f" ({mem_over * 100:.0f}%)", style="bold red" if mem_over > 1 else "")
    return text


@dataclass(frozen=True)
class HostRow:
    """One host's line in the multi-host panel."""

    label: str
    symbol: str  # ● connected, ✖ lost, ⌛ not answering, ◌ connecting
    style: str
    stats: HostStats | None
    history: HostHistory | None


def hosts_lines(rows: Sequence[HostRow], width: int, narrowed: str | None = None) -> Text:
    """Several hosts: one summary line each (state, CPU, memory, guests, commitment)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    label_w = min(16, max((len(r.label) for r in rows), default=4))
    spark_w = max(0, min(12, (width - 76) // 2))
    for i, row in enumerate(rows):
        if i:
            text.append("\n")
        text.append(row.symbol + " ", style=row.style)
        shown = row.label if len(row.label) <= label_w else row.label[: label_w - 1] + "…"
        text.append(f"{shown:<{label_w}} ", style="bold" if row.label == narrowed else "")
        stats = row.stats
        if stats is None:
            text.append("no figures yet" if row.symbol != "✖" else "lost (guests stale)", "dim")
            continue
        mem_pct = (
            100.0 * stats.mem_used_kib / stats.mem_total_kib
            if stats.mem_used_kib is not None and stats.mem_total_kib
            else None
        )
        text.append(f"CPU {fmt.percent(stats.cpu_percent):>5}% ")
        if spark_w and row.history is not None:
            text.append(fmt.sparkline(row.history.cpu.values, spark_w, 100.0) + " ", "green")
        text.append(f"Mem {fmt.percent(mem_pct):>5}% ")
        if spark_w and row.history is not None:
            text.append(fmt.sparkline(row.history.memory.values, spark_w, 100.0) + " ", "blue")
        text.append(f"guests {stats.guests_running}/{stats.guests_total} ")
        over = stats.vcpu_overcommit
        text.append(
            f"vCPU {stats.committed_vcpus}/{stats.host_cpus} ",
            "bold red" if over is not None and over > 1 else "",
        )
        mem_over = stats.mem_overcommit
        text.append(
            f"mem {fmt.kib(stats.committed_mem_kib)}/{fmt.kib(stats.mem_total_kib)}",
            "bold red" if mem_over is not None and mem_over > 1 else "",
        )
        if row.symbol == "✖":
            text.append(" (stale)", style="bold red")
    return text


class HostPanel(Widget):
    DEFAULT_CSS = """
    HostPanel { height: auto; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._info: HostInfo | None = None
        self._stats: HostStats | None = None
        self._history: HostHistory | None = None
        self._text = Text()
        self._rows: Sequence[HostRow] = ()
        self._narrowed: str | None = None

    def update_hosts(self, rows: Sequence[HostRow], narrowed: str | None = None) -> None:
        """Show one line per host (used when more than one host is connected)."""
        self._rows, self._narrowed = rows, narrowed
        self._redraw()

    def update_host(
        self, info: HostInfo | None, stats: HostStats | None, history: HostHistory | None
    ) -> None:
        self._info, self._stats, self._history = info, stats, history
        self._rows = ()
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        width = self.size.width - 2
        if self._rows:
            text = hosts_lines(self._rows, width, self._narrowed)
        else:
            text = host_lines(self._info, self._stats, self._history, width)
        if text.plain != self._text.plain:  # write to the terminal only when it changes
            lines_changed = text.plain.count("\n") != self._text.plain.count("\n")
            self._text = text
            self.refresh(layout=lines_changed)

    def render(self) -> Text:
        return self._text
