"""Several hosts at once: per-host tick and repaint, and one host hung (SIGSTOP).

    python -m benchmarks.multihost [--hosts 3] [--guests 1000] [--window 10]

Each "host" is a libvirt test-driver host of N guests served by the system libvirtd over its
socket (``test+unix:///abs/host.xml?socket=...``) through its own one-process relay
(benchmarks/sockproxy.py). The app runs in-process (Pilot) with a 1 s interval. Phase 1: all
hosts healthy. Phase 2: the last host's relay is SIGSTOPped (that host hangs, as a frozen
remote daemon would). For each phase and host it prints the median poll time (the tick), the
median time between two updates of that host on screen, and how many updates arrived; the
tick ratio is against a bare ``getAllDomainStats`` over the same socket, timed right after each
of that host's ticks (target ≤ 1.5x). Needs libvirtd.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.run import SCREEN, _changed_stats, _peak_rss_mib
from benchmarks.testhost import write_host_xml

LIBVIRT_SOCK = "/var/run/libvirt/libvirt-sock"
INTERVAL = 1.0


def _start_relay(listen: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.sockproxy", str(listen), LIBVIRT_SOCK],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError("the socket relay did not start")
    return proc


async def _watch(app: Any, pilot: Any, seconds: float) -> dict[str, dict[str, Any]]:
    """Record every host's on-screen updates for ``seconds``; also the UI loop's worst stall.

    Right after each update of a host (its next poll is an interval away) one bare
    ``getAllDomainStats`` is timed on that host's connection in a thread, so each tick has a
    baseline taken under the same load as itself."""
    last = {uri: link.snapshot for uri, link in app.hosts.items()}
    seen: dict[str, list[tuple[float, float]]] = {uri: [] for uri in app.hosts}
    bare: dict[str, list[asyncio.Task[float]]] = {uri: [] for uri in app.hosts}
    stall = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        await pilot.pause(0.01)
        stall = max(stall, time.perf_counter() - t - 0.01)
        for uri, link in app.hosts.items():
            if link.snapshot is not last[uri]:
                last[uri] = link.snapshot
                seen[uri].append((time.perf_counter(), link.snapshot.poll_seconds))
                if not any(not task.done() for task in bare[uri]):
                    call = asyncio.to_thread(link.hv.bare_stats_call)
                    bare[uri].append(asyncio.ensure_future(call))
    out: dict[str, dict[str, Any]] = {}
    for uri, updates in seen.items():
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(updates)]
        bares = [await task for task in bare[uri]]
        out[uri] = {
            "updates": len(updates),
            "tick_s": statistics.median(u[1] for u in updates) if updates else None,
            "bare_s": statistics.median(bares) if bares else None,
            "gap_s": statistics.median(gaps) if gaps else None,
            "stall_s": stall,
        }
    return out


async def measure(n_hosts: int, guests: int, window: float, tmp: Path) -> dict[str, Any]:
    from vmtui.app import VmtuiApp
    from vmtui.widgets.guest_table import GuestTable

    relays: list[subprocess.Popen[str]] = []
    uris: list[str] = []
    for i in range(n_hosts):
        xml = write_host_xml(tmp / f"host{i}.xml", guests, prefix=f"h{i}")
        sock = tmp / f"relay{i}.sock"
        relays.append(_start_relay(sock))
        uris.append(f"test+unix://{xml.resolve()}?socket={sock}")
    result: dict[str, Any] = {"uris": uris}
    try:
        app = VmtuiApp(uris, interval=INTERVAL)
        async with app.run_test(size=SCREEN) as pilot:
            t0 = time.perf_counter()
            while app.snapshot is None or len(app.snapshot.guests) < n_hosts * guests:
                if time.perf_counter() - t0 > 120:
                    raise RuntimeError("the hosts did not all show within 120 s")
                await pilot.pause(0.02)
            result["first_frame_s"] = time.perf_counter() - t0
            await pilot.pause(2 * INTERVAL)
            result["healthy"] = await _watch(app, pilot, window)

            screen: Any = app.screen
            table = screen.query_one(GuestTable)
            snap = app.snapshot
            variants = [_changed_stats(snap, 0), _changed_stats(snap, 1)]
            repaints = []
            for k in range(6):
                t1 = time.perf_counter()
                screen.show_snapshot(variants[k % 2])
                await pilot.pause()
                repaints.append(time.perf_counter() - t1)
            result["repaint_changed_s"] = statistics.median(repaints)
            result["rows"] = table.row_count

            hung = relays[-1]
            os.kill(hung.pid, signal.SIGSTOP)
            try:
                await pilot.pause(INTERVAL)
                result["one_hung"] = await _watch(app, pilot, window)
                result["status_while_hung"] = app.status()[1]
            finally:
                os.kill(hung.pid, signal.SIGCONT)
        result["rss_mib"] = _peak_rss_mib()
    finally:
        for proc in relays:
            proc.kill()
            proc.wait()
    return result


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f} ms"


def report(result: dict[str, Any]) -> None:
    uris = result["uris"]
    print(f"first frame with every host: {result['first_frame_s']:.2f} s")
    print(
        f"repaint, every guest changed ({result['rows']} rows): "
        f"{_ms(result['repaint_changed_s'])} (target ≤ 100 ms at 1,000 per host)"
    )
    print(f"peak RSS: {result['rss_mib']:.0f} MiB")
    print(f"status while the last host hangs: {result['status_while_hung']}")
    print()
    print(f"{'host':<8}{'phase':<10}{'updates':>8}{'tick':>11}{'bare':>10}{'ratio':>7}{'gap':>11}")
    for i, uri in enumerate(uris):
        for phase in ("healthy", "one_hung"):
            fig = result[phase][uri]
            tick, bare = fig["tick_s"], fig["bare_s"]
            ratio = f"{tick / bare:.2f}x" if tick and bare else "-"
            print(
                f"{'host' + str(i):<8}{phase:<10}{fig['updates']:>8}{_ms(tick):>11}"
                f"{_ms(bare):>10}{ratio:>7}{_ms(fig['gap_s']):>11}"
            )
    worst = max(result[p][uris[0]]["stall_s"] for p in ("healthy", "one_hung"))
    print(f"\nworst UI event-loop stall while watching: {_ms(worst)}")
    ratios = [
        result[p][u]["tick_s"] / result[p][u]["bare_s"]
        for p in ("healthy", "one_hung")
        for u in uris
        if result[p][u]["tick_s"] and result[p][u]["bare_s"]
    ]
    if ratios:
        verdict = "PASS" if max(ratios) <= 1.5 else "FAIL"
        print(f"tick ≤ 1.5x bare on every host and phase: {verdict} (worst {max(ratios):.2f}x)")
    verdict = "PASS" if result["repaint_changed_s"] <= 0.100 else "FAIL"
    print(f"repaint ≤ 100 ms: {verdict}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--guests", type=int, default=1000)
    parser.add_argument("--window", type=float, default=10.0, help="seconds per phase")
    args = parser.parse_args(argv)
    if not os.path.exists(LIBVIRT_SOCK):
        print(f"No libvirtd socket at {LIBVIRT_SOCK}: run scripts/ensure-libvirtd.sh.")
        return 1
    with tempfile.TemporaryDirectory(prefix="vmtui-multihost-") as tmp:
        result = asyncio.run(measure(args.hosts, args.guests, args.window, Path(tmp)))
    report(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
