"""vmtui benchmarks: speed and memory at 100 / 1,000 / 5,000 test-driver guests.

    python -m benchmarks.run [--sizes 100,1000,5000] [--repeat N] [--no-idle]

Every repeat of every size runs in a fresh worker process (``--worker``) so peak RSS figures do
not mix; the parent prints medians over the repeats and the targets beside them. The idle
output figure runs the real ``vmtui`` on a pseudo-terminal. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import errno
import fcntl
import json
import os
import resource
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.testhost import host_uri, write_host_xml

DEFAULT_SIZES = (100, 1000, 5000)
SCREEN = (120, 40)  # columns, rows
# The app polls once at start-up; a long interval keeps later polls out of the repaint and
# tick measurements (which drive the same objects by hand). Nothing else depends on it.
APP_INTERVAL = 3600.0
FIRST_FRAME_TIMEOUT = 120.0
IDLE_SIZE = 1000
IDLE_SETTLE, IDLE_WINDOW = 5.0, 10.0

# (figure, limit, unit, size it applies to or None for every size)
TARGETS: tuple[tuple[str, float, str, int | None], ...] = (
    ("first_frame_s", 1.0, "s", 1000),
    ("tick_ratio", 1.5, "x", None),
    ("repaint_changed_s", 0.100, "s", 1000),
    ("rss_mib", 120.0, "MiB", None),
)


# --------------------------------------------------------------------------- worker side
def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _changed_stats(snapshot: Any, variant: int) -> Any:
    """A copy of ``snapshot`` in which every guest has new figures (two distinct variants)."""
    from vmtui.backend import GuestStats

    stats = {}
    for i, guest in enumerate(snapshot.guests):
        k = 1 + variant
        mem = guest.memory_kib or 1_048_576
        stats[guest.uuid] = GuestStats(
            uuid=guest.uuid,
            time=snapshot.time + k,
            cpu_percent=(3.0 * k + i % 50) % 100,
            cpu_percent_per_vcpu=(7.0 * k + i % 50) % 100,
            mem_current_kib=mem,
            mem_used_kib=mem // (2 + k),
            mem_available_kib=mem,
            disk_read_bps=float(1_048_576 * k * (1 + i % 7)),
            disk_write_bps=float(65_536 * k * (1 + i % 5)),
            net_rx_bps=float(2_097_152 * k * (1 + i % 3)),
            net_tx_bps=float(524_288 * k * (1 + i % 11)),
        )
    return dataclasses.replace(snapshot, stats=stats)


async def _app_figures(
    uri: str, n: int, ticks: int, repaints: int, history: bool
) -> dict[str, Any]:
    from textual.css.query import NoMatches

    from vmtui.app import VmtuiApp
    from vmtui.widgets.guest_table import GuestTable

    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    app = VmtuiApp(uri, interval=APP_INTERVAL)
    async with app.run_test(size=SCREEN) as pilot:
        # 1. time to first full frame
        while True:
            try:
                rows = app.screen.query_one(GuestTable).row_count
            except NoMatches:
                rows = -1
            if rows == n:
                break
            if time.perf_counter() - t0 > FIRST_FRAME_TIMEOUT:
                limit = FIRST_FRAME_TIMEOUT
                raise RuntimeError(f"the table showed {rows} of {n} rows after {limit:.0f} s")
            await pilot.pause(0.01)
        out["first_frame_s"] = time.perf_counter() - t0
        await pilot.pause()  # the table measures its new rows when idle, then paints
        out["first_paint_s"] = time.perf_counter() - t0
        snap = app.snapshot
        assert snap is not None
        out["first_poll_s"] = snap.poll_seconds

        # 3. repaint: every guest's figures changed, then an unchanged snapshot
        screen: Any = app.screen
        table = screen.query_one(GuestTable)
        variants = [_changed_stats(snap, 0), _changed_stats(snap, 1)]
        changed: list[float] = []
        changed_cpu: list[float] = []
        changed_call: list[float] = []
        updates: list[int] = []
        for k in range(repaints):
            before = table.cell_updates
            c1, t1 = time.process_time(), time.perf_counter()
            screen.show_snapshot(variants[k % 2])
            t2 = time.perf_counter()
            await pilot.pause()
            changed.append(time.perf_counter() - t1)
            changed_cpu.append(time.process_time() - c1)
            changed_call.append(t2 - t1)
            updates.append(table.cell_updates - before)
        same = variants[(repaints - 1) % 2]
        unchanged: list[float] = []
        unchanged_updates = 0
        for _ in range(repaints):
            before = table.cell_updates
            t1 = time.perf_counter()
            screen.show_snapshot(same)
            await pilot.pause()
            unchanged.append(time.perf_counter() - t1)
            unchanged_updates += table.cell_updates - before
        floor: list[float] = []
        for _ in range(repaints):
            t1 = time.perf_counter()
            await pilot.pause()
            floor.append(time.perf_counter() - t1)
        out["repaint_changed_s"] = statistics.median(changed)
        out["repaint_changed_cpu_s"] = statistics.median(changed_cpu)
        out["repaint_changed_call_s"] = statistics.median(changed_call)
        out["repaint_cell_updates"] = int(statistics.median(updates))
        out["repaint_unchanged_s"] = statistics.median(unchanged)
        out["repaint_unchanged_updates"] = unchanged_updates
        out["pause_floor_s"] = statistics.median(floor)

        # 2. one stats tick end to end against a bare bulk stats call, interleaved
        hv = app.hv
        hv.poll()  # warm-up (the app's own first poll read every guest's XML)
        poll_s: list[float] = []
        bare_s: list[float] = []
        for _ in range(ticks):
            t1 = time.perf_counter()
            hv.poll()
            poll_s.append(time.perf_counter() - t1)
            bare_s.append(hv.bare_stats_call())
        out["tick_s"] = statistics.median(poll_s)
        out["bare_s"] = statistics.median(bare_s)
        out["tick_ratio"] = out["tick_s"] / out["bare_s"] if out["bare_s"] > 0 else float("inf")
        await pilot.pause()
    # 4. peak RSS of this process: the app at N guests, its libvirt connection included
    out["rss_mib"] = _peak_rss_mib()
    if history:
        out["rss_history_mib"] = _rss_with_history(snap)
    return out


def _rss_with_history(snapshot: Any) -> float:
    """Peak RSS once ten minutes of history are kept at the default 2 s tick.

    The benchmark app polls once (its interval is long), and the test driver reports no
    CPU / disk / network counters, so its history stays empty. A real host fills every
    guest's six series with a fresh float per tick: this feeds a ``StatsHistory`` such
    ticks through its public ``add()`` and reads the peak again.
    """
    from vmtui.backend import GuestStats
    from vmtui.backend.stats import DEFAULT_INTERVAL, StatsHistory, history_length

    history = StatsHistory(DEFAULT_INTERVAL)
    guests = [(g.uuid, g.is_active) for g in snapshot.guests]
    keep = {uuid for uuid, _ in guests}
    for tick in range(history_length(DEFAULT_INTERVAL)):
        stats = [
            GuestStats(
                uuid=uuid,
                time=float(tick),
                cpu_percent_per_vcpu=(i * 0.37 + tick) % 100,
                mem_used_kib=1_000_000 + i + tick,
                disk_read_bps=i * 1.5 + tick,
                disk_write_bps=i * 2.5 + tick,
                net_rx_bps=i * 3.5 + tick,
                net_tx_bps=i * 4.5 + tick,
            )
            if active
            else GuestStats(uuid=uuid, time=float(tick))
            for i, (uuid, active) in enumerate(guests)
        ]
        history.add(stats, None, keep)
    return _peak_rss_mib()


def worker(uri: str, n: int, ticks: int, repaints: int, history: bool) -> dict[str, Any]:
    return asyncio.run(_app_figures(uri, n, ticks, repaints, history))


def baseline(uri: str, repeat: int) -> dict[str, Any]:
    """Without vmtui's app: RSS with everything imported, and libvirt alone opening the host
    (``open`` + ``listAllDomains``), in a process of its own."""
    import libvirt

    import vmtui.app  # noqa: F401 - the same imports as the app worker

    out: dict[str, Any] = {"rss_imports_mib": _peak_rss_mib()}
    opens = []
    for i in range(repeat):
        t0 = time.perf_counter()
        conn = libvirt.open(uri)
        conn.listAllDomains(0)
        opens.append(time.perf_counter() - t0)
        if i == 0:
            out["rss_base_mib"] = _peak_rss_mib()
        conn.close()
    out["open_s"] = statistics.median(opens)
    return out


# --------------------------------------------------------------------------- idle output
def _set_winsize(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def idle_bytes(uri: str, settle: float, window: float, dump: Path | None) -> dict[str, Any]:
    """Run the real vmtui on a pty (120x40, xterm-256color, --interval 1) and count what it
    writes: from when the first guest row is drawn plus ``settle`` seconds, for ``window``."""
    master, slave = os.openpty()
    _set_winsize(slave, *SCREEN)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTUAL")}
    env.update(TERM="xterm-256color", COLUMNS=str(SCREEN[0]), LINES=str(SCREEN[1]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "vmtui", "--interval", "1", "-c", uri],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        close_fds=True,
    )
    os.close(slave)
    seen = bytearray()
    counted = bytearray()
    per_second = [0] * int(window)
    start = time.monotonic()
    drawn_at: float | None = None
    count_from: float | None = None
    try:
        while True:
            now = time.monotonic()
            if drawn_at is None and now - start > FIRST_FRAME_TIMEOUT:
                raise RuntimeError("vmtui drew no guest row on the pty")
            if count_from is not None and now >= count_from + window:
                break
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                if proc.poll() is not None:
                    raise RuntimeError(f"vmtui exited early with status {proc.returncode}")
                continue
            try:
                data = os.read(master, 65536)
            except OSError as err:
                if err.errno == errno.EIO:  # the child closed the terminal
                    raise RuntimeError(f"vmtui exited early: {bytes(seen[-400:])!r}") from None
                raise
            now = time.monotonic()
            if count_from is not None and now >= count_from:
                counted += data
                per_second[min(int(now - count_from), len(per_second) - 1)] += len(data)
            elif drawn_at is None:
                seen += data
                if b"guest-00000" in seen:
                    drawn_at = now
                    count_from = now + settle
    finally:
        _stop(proc, master)
    if dump is not None:
        dump.write_bytes(bytes(counted))
    return {
        "idle_bytes_per_s": len(counted) / window,
        "idle_per_second": per_second,
        "idle_start_s": (drawn_at or start) - start,
    }


def _stop(proc: subprocess.Popen[bytes], master: int) -> None:
    """Quit vmtui with its own key; terminate it (our child, by pid) if it does not go."""
    try:
        os.write(master, b"q")
        deadline = time.monotonic() + 5
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.05)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
    finally:
        os.close(master)


# --------------------------------------------------------------------------- parent side
def run_worker(path: Path, n: int, *options: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.run", "--host", str(path), *options]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"worker for {n} guests failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _median(runs: Sequence[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def _ms(s: float) -> str:
    return f"{s * 1000:.1f} ms"


def _verdict(value: float, limit: float) -> str:
    return "PASS" if value <= limit else "FAIL"


def print_table(
    results: dict[int, dict[str, float]],
    repeat: int,
    idle: dict[str, Any] | None,
    elapsed: float,
    out: Callable[[str], None] = print,
) -> None:
    sizes = sorted(results)
    rows: list[tuple[str, Callable[[dict[str, float]], str]]] = [
        ("time to first full frame (N rows)", lambda r: f"{r['first_frame_s']:.3f} s"),
        ("  then painted (after the next pause)", lambda r: f"{r['first_paint_s']:.3f} s"),
        ("  baseline: libvirt alone opens the host", lambda r: f"{r['open_s']:.3f} s"),
        ("  first poll after connecting (all XML)", lambda r: f"{r['first_poll_s']:.3f} s"),
        ("stats tick: Hypervisor.poll()", lambda r: _ms(r["tick_s"])),
        ("stats tick: bare getAllDomainStats", lambda r: _ms(r["bare_s"])),
        ("stats tick: ratio poll / bare", lambda r: f"{r['tick_ratio']:.2f}x"),
        ("repaint, every guest changed", lambda r: _ms(r["repaint_changed_s"])),
        ("  CPU time of it", lambda r: _ms(r["repaint_changed_cpu_s"])),
        ("  of which show_snapshot() call", lambda r: _ms(r["repaint_changed_call_s"])),
        ("  cells updated", lambda r: f"{r['repaint_cell_updates']:.0f}"),
        ("repaint, unchanged snapshot", lambda r: _ms(r["repaint_unchanged_s"])),
        ("  cells updated (must be 0)", lambda r: f"{r['repaint_unchanged_updates']:.0f}"),
        ("  bare pilot.pause() floor", lambda r: _ms(r["pause_floor_s"])),
        ("peak RSS", lambda r: f"{r['rss_mib']:.1f} MiB"),
        ("  baseline: imports only", lambda r: f"{r['rss_imports_mib']:.1f} MiB"),
        ("  baseline: imports + host opened", lambda r: f"{r['rss_base_mib']:.1f} MiB"),
        ("  + 10 min of history at 2 s (1 run)", lambda r: f"{r['rss_history_mib']:.1f} MiB"),
    ]
    label_w = max(len(label) for label, _ in rows)
    col_w = 12
    out(
        f"vmtui benchmarks: libvirt test driver, {SCREEN[0]}x{SCREEN[1]}, "
        f"medians of {repeat} run(s) per size, each in a fresh process"
    )
    out("")
    out(f"{'guests':<{label_w}}" + "".join(f"{n:>{col_w},}" for n in sizes))
    out("-" * (label_w + col_w * len(sizes)))
    for label, show in rows:
        out(f"{label:<{label_w}}" + "".join(f"{show(results[n]):>{col_w}}" for n in sizes))
    if idle is not None:
        out("")
        if "error" in idle:
            out(f"idle output at {IDLE_SIZE:,} guests: not measured ({idle['error']})")
        else:
            per_s = " ".join(str(b) for b in idle["idle_per_second"])
            out(
                f"idle output at {IDLE_SIZE:,} guests (real vmtui on a pty, --interval 1): "
                f"{idle['idle_bytes_per_s']:.0f} bytes/s  (per second: {per_s})"
            )
    out("")
    out("targets")
    for key, limit, unit, at in TARGETS:
        applies = [n for n in sizes if at is None or n == at]
        if not applies:
            out(f"  {key}: not measured (needs {at:,} guests)" if at else f"  {key}: -")
            continue
        for n in applies:
            value = results[n][key]
            if unit == "s":
                shown, lim = _ms(value), _ms(limit)
            else:
                shown, lim = f"{value:.2f} {unit}", f"{limit:g} {unit}"
            name = {
                "first_frame_s": "first frame",
                "tick_ratio": "tick / bare call",
                "repaint_changed_s": "repaint (all changed)",
                "rss_mib": "peak RSS",
            }[key]
            out(f"  {name:<22} at {n:>5,}: {shown:>12}  <= {lim:<9} {_verdict(value, limit)}")
    out("")
    out(f"total time {elapsed:.1f} s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument(
        "--sizes",
        default=",".join(str(n) for n in DEFAULT_SIZES),
        help="guest counts, comma-separated (default 100,1000,5000)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (default 3)")
    parser.add_argument("--ticks", type=int, default=15, help="stats ticks timed per run")
    parser.add_argument("--repaints", type=int, default=6, help="repaints timed per run")
    parser.add_argument("--no-idle", action="store_true", help="skip the idle output figure")
    parser.add_argument("--idle-dump", type=Path, help="save the idle bytes to this file")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--history", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--host", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--thousands",
        action="store_true",
        help="run benchmarks.scale instead (1,000-10,000 guests, socket, ssh; other options "
        "after -- go to it)",
    )
    parser.add_argument(
        "--sort-keys",
        action="store_true",
        help="run benchmarks.sortkeys instead (key -> frame, re-sort repaint at 5,000 guests; "
        "other options after -- go to it)",
    )
    args, rest = parser.parse_known_args(argv)
    if args.sort_keys:
        keys = [sys.executable, "-m", "benchmarks.sortkeys", *[a for a in rest if a != "--"]]
        return subprocess.call(keys)
    if args.thousands:
        scale = [sys.executable, "-m", "benchmarks.scale", *[a for a in rest if a != "--"]]
        return subprocess.call(scale)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")

    if args.baseline is not None:
        print(json.dumps(baseline(host_uri(args.host), args.baseline)))
        return 0
    if args.worker is not None:
        figures = worker(host_uri(args.host), args.worker, args.ticks, args.repaints, args.history)
        print(json.dumps(figures))
        return 0

    started = time.perf_counter()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    results: dict[int, dict[str, float]] = {}
    idle: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="vmtui-bench-") as tmp:
        for n in sizes:
            path = write_host_xml(Path(tmp) / f"host-{n}.xml", n)
            print(f"... {n:,} guests, baseline", file=sys.stderr, flush=True)
            base = run_worker(path, n, "--baseline", str(args.repeat))
            runs = []
            for i in range(args.repeat):
                print(f"... {n:,} guests, run {i + 1}/{args.repeat}", file=sys.stderr, flush=True)
                runs.append(
                    run_worker(
                        path,
                        n,
                        "--worker",
                        str(n),
                        "--ticks",
                        str(args.ticks),
                        "--repaints",
                        str(args.repaints),
                        # ten minutes of history take seconds to fill: the first run only
                        *(["--history"] if i == 0 else []),
                    )
                )
            medians = {key: _median(runs, key) for key in runs[-1]}
            results[n] = medians | {"rss_history_mib": runs[0]["rss_history_mib"]} | base
        if not args.no_idle:
            print(f"... idle output at {IDLE_SIZE:,} guests", file=sys.stderr, flush=True)
            path = write_host_xml(Path(tmp) / f"host-{IDLE_SIZE}.xml", IDLE_SIZE)
            try:
                idle = idle_bytes(host_uri(path), IDLE_SETTLE, IDLE_WINDOW, args.idle_dump)
            except (RuntimeError, OSError) as err:
                idle = {"error": str(err)}
    print_table(results, args.repeat, idle, time.perf_counter() - started)
    if args.json is not None:
        args.json.write_text(json.dumps({"sizes": results, "idle": idle}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
