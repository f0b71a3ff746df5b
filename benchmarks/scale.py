"""Thousands of guests (issue 12): the first guest on screen against libvirt's own open,
the stats tick against the bare bulk call, a ``/`` query, memory with ten minutes of history;
and the same over ``test+ssh://`` through a relay adding 40 ms each way.

    python -m benchmarks.scale [--sizes 1000,5000,10000] [--modes local,socket]
                               [--ssh 20,200] [--no-ssh] [--repeat 1]
    python -m benchmarks.run --thousands      # the same, from the main benchmark

Modes: ``local`` is the test driver in-process (``test:///host.xml``); ``socket`` the same
host served by the system libvirtd over its Unix socket (``test+unix:///host.xml``), where
every call is a round trip to the daemon; ``ssh`` goes through the loopback sshd (the recipe of
tests/integration/test_ssh_connection.py) behind ``benchmarks.sockproxy --tcp`` (40 ms each
way). Each (mode, size) runs in a worker process of its own (peak RSS stays apart). The floor
is libvirt alone opening the host and listing it (``open`` + ``listAllDomains``), measured in
the same worker just before the app starts. See benchmarks/README.md, "Thousands of guests".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks.run import SCREEN, _peak_rss_mib, _rss_with_history
from benchmarks.testhost import write_host_xml

LIBVIRT_SOCK = "/var/run/libvirt/libvirt-sock"
DELAY = 0.04  # each way: an 80 ms round trip
SSHD = "/usr/sbin/sshd"
TIMEOUT = 300.0
QUERIES = ("name:guest-01", "state:running name~^guest-0[0-4]", "tag:db")


# --------------------------------------------------------------------------- worker side
def _floor(uri: str) -> float:
    import libvirt

    t0 = time.perf_counter()
    conn = libvirt.open(uri)
    conn.listAllDomains(0)
    took = time.perf_counter() - t0
    conn.close()
    return took


async def _app_figures(uri: str, n: int, ticks: int, history: bool) -> dict[str, Any]:
    from textual.css.query import NoMatches

    from vmtui.app import VmtuiApp
    from vmtui.core import query
    from vmtui.widgets.guest_table import GuestTable

    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    app = VmtuiApp(uri, interval=3600.0, clock=time.perf_counter)
    frame = FirstGuestFrame(app)
    async with app.run_test(size=SCREEN) as pilot:
        rows = -1
        while rows <= 0 or frame.at is None:
            try:
                rows = app.screen.query_one(GuestTable).row_count
            except NoMatches:
                rows = -1
            if time.perf_counter() - t0 > TIMEOUT:
                raise RuntimeError(f"no guest on screen after {TIMEOUT:.0f} s")
            await pilot.pause(0.005)
        out["first_guest_s"] = frame.at - t0
        out["first_rows"] = rows
        link = app.hosts.primary
        assert link is not None and link.hv.opened_at is not None
        # the app's own libvirt open: from constructing the app (it starts the open) to
        # libvirt.open returning, and the open alone
        out["app_opened_s"] = link.hv.opened_at - t0
        out["app_open_s"] = link.hv.open_seconds
        while link.polling or app.snapshot is None or app.snapshot.loading:
            if time.perf_counter() - t0 > TIMEOUT:
                raise RuntimeError(f"details not read after {TIMEOUT:.0f} s")
            await pilot.pause(0.01)
        out["all_details_s"] = time.perf_counter() - t0
        snap = app.snapshot
        out["guests"] = len(snap.guests)
        out["first_poll_s"] = snap.poll_seconds

        # stats tick vs the bare bulk call on the same connection, interleaved (as run.py)
        hv = app.hv
        hv.poll()  # warm-up
        polls: list[float] = []
        bares: list[float] = []
        for _ in range(ticks):
            t1 = time.perf_counter()
            hv.poll()
            polls.append(time.perf_counter() - t1)
            bares.append(hv.bare_stats_call())
        out["tick_s"] = statistics.median(polls)
        out["bare_s"] = statistics.median(bares)
        out["tick_ratio"] = out["tick_s"] / out["bare_s"]

        # "/" query: parsing and filtering every guest (pure), and the dashboard's whole
        # set_filter (parse, filter, table.show) on the UI thread
        screen: Any = app.screen
        for text in QUERIES:
            pred = query.parse(text)
            subjects = [screen_subject(screen, g, snap) for g in snap.guests]
            pure = []
            for _ in range(5):
                t1 = time.perf_counter()
                query.parse(text)
                sum(1 for s in subjects if pred(s))
                pure.append(time.perf_counter() - t1)
            whole = []
            for _ in range(5):
                t1 = time.perf_counter()
                screen.set_filter(text)
                whole.append(time.perf_counter() - t1)
                screen.set_filter("")
            out[f"query_pure_s[{text}]"] = statistics.median(pure)
            out[f"query_set_filter_s[{text}]"] = statistics.median(whole)
        await pilot.pause()
    out["rss_mib"] = _peak_rss_mib()
    if history:
        out["rss_history_mib"] = _rss_with_history(snap)
    return out


class FirstGuestFrame:
    """When the app composes the first frame that shows a guest: ``App._display`` wrapped,
    each frame turned into the bytes a terminal would get (the headless driver skips that)
    until they hold a guest's name (the test hosts' guests are all called ``guest-…``).

    This is "the first guest on screen" as a terminal would show it. (Waiting for the app to
    be idle instead, ``pilot.pause()``, also waits for every partial snapshot that arrives
    while the details are read: that counted up to a second more at 5,000 guests.)"""

    def __init__(self, app: Any) -> None:
        from textual._compositor import CompositorUpdate

        self.at: float | None = None
        real = app._display

        def display(screen: Any, renderable: Any) -> None:
            if (
                self.at is None
                and isinstance(renderable, CompositorUpdate)
                and "guest-" in renderable.render_segments(app.console)
            ):
                self.at = time.perf_counter()
            real(screen, renderable)

        app._display = display


def screen_subject(screen: Any, guest: Any, snap: Any) -> Any:
    from vmtui.control.subjects import subject_of

    return subject_of(guest, snap.stats.get(guest.uuid), "")


def worker(uri: str, n: int, ticks: int, history: bool) -> dict[str, Any]:
    # its config is the one benchmarks/__init__.py gave the run, never the user's
    return asyncio.run(_app_figures(uri, n, ticks, history))


# --------------------------------------------------------------------------- ssh
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _keygen(path: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vmtui-bench", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


@contextlib.contextmanager
def ssh_link(directory: Path, delay: float) -> Iterator[tuple[int, Path]]:
    """A loopback sshd (key auth, as tests/integration/test_ssh_connection.py starts it)
    behind a relay adding ``delay`` each way: (the relay's port, the client key)."""
    host_key = _keygen(directory / "host_ed25519")
    key = _keygen(directory / "client_ed25519")
    authorized = directory / "authorized_keys"
    authorized.write_text(Path(f"{key}.pub").read_text())
    authorized.chmod(0o600)
    port = _free_port()
    config = directory / "sshd_config"
    config.write_text(
        f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {host_key}\n"
        f"PidFile {directory / 'sshd.pid'}\nAuthorizedKeysFile {authorized}\n"
        "PermitRootLogin prohibit-password\nPubkeyAuthentication yes\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nX11Forwarding no\nAllowTcpForwarding no\n"
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log_path = directory / "sshd.log"
    with log_path.open("w") as log:
        sshd = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=log)
    relay_port = _free_port()
    relay = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.sockproxy",
            "--tcp",
            str(relay_port),
            str(port),
            "--delay",
            str(delay),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while "Server listening" not in log_path.read_text():
            if sshd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sshd did not start: {log_path.read_text()}")
            time.sleep(0.05)
        assert relay.stdout is not None
        if relay.stdout.readline().strip() != "ready":
            raise RuntimeError("the delaying relay did not start")
        yield relay_port, key
    finally:
        for proc in (relay, sshd):
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        known = Path.home() / ".ssh" / "known_hosts"
        if known.exists():
            for p in (port, relay_port):
                subprocess.run(
                    ["ssh-keygen", "-R", f"[127.0.0.1]:{p}", "-f", str(known)],
                    check=False,
                    capture_output=True,
                )
            with contextlib.suppress(OSError):
                Path(f"{known}.old").unlink()


# --------------------------------------------------------------------------- parent side
def run_worker(uri: str, n: int, ticks: int, history: bool) -> dict[str, Any]:
    """The floor (libvirt alone: open + list, in a process of its own so its memory does
    not count), then the app's figures in a fresh worker, one right after the other."""
    floor = subprocess.run(
        [sys.executable, "-m", "benchmarks.scale", "--floor", uri],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    cmd = [sys.executable, "-m", "benchmarks.scale", "--worker", uri, "--n", str(n)]
    cmd += ["--ticks", str(ticks)] + (["--history"] if history else [])
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    if done.returncode != 0:
        raise RuntimeError(f"worker for {uri} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["floor_s"] = float(floor.stdout.strip().splitlines()[-1])
    return result


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the runs (the first-guest margin over the floor taken per
    run, then its median, as the floor varies from run to run); ``runs`` says how many."""
    out: dict[str, Any] = {}
    for key, value in runs[0].items():
        if isinstance(value, (int, float)):
            out[key] = statistics.median(r[key] for r in runs)
        else:
            out[key] = value
    out["above_floor_s"] = statistics.median(r["first_guest_s"] - r["floor_s"] for r in runs)
    out["above_floor_all_s"] = [round(r["first_guest_s"] - r["floor_s"], 3) for r in runs]
    out["tick_ratio_all"] = [round(r["tick_ratio"], 3) for r in runs]
    out["runs"] = len(runs)
    return out


def _uri(mode: str, xml: Path, ssh: tuple[int, Path] | None = None) -> str:
    if mode == "local":
        return f"test://{xml.resolve()}"
    if mode == "socket":
        return f"test+unix://{xml.resolve()}?socket={LIBVIRT_SOCK}"
    assert ssh is not None
    port, key = ssh
    return f"test+ssh://root@127.0.0.1:{port}{xml.resolve()}?keyfile={key}&no_verify=1&no_tty=1"


def _ms(s: float) -> str:
    return f"{s * 1000:.1f} ms"


def report(rows: list[tuple[str, int, dict[str, Any]]]) -> None:
    print(
        f"{'mode':<7}{'guests':>7}{'floor':>9}{'first':>9}{'-floor':>9}{'details':>9}"
        f"{'tick':>10}{'bare':>10}{'ratio':>7}{'RSS':>7}{'+hist':>7}"
    )
    for mode, n, r in rows:
        print(
            f"{mode:<7}{n:>7}{r['floor_s']:>8.3f}s{r['first_guest_s']:>8.3f}s"
            f"{r.get('above_floor_s', r['first_guest_s'] - r['floor_s']):>8.3f}s"
            f"{r['all_details_s']:>8.3f}s"
            f"{_ms(r['tick_s']):>10}{_ms(r['bare_s']):>10}{r['tick_ratio']:>6.2f}x"
            f"{r['rss_mib']:>6.0f}M{r.get('rss_history_mib', 0):>6.0f}M"
        )
        after_open = r["first_guest_s"] - r["app_opened_s"]
        print(
            f"{'':<14}the app's own open took {r['app_open_s']:.3f} s (done at "
            f"{r['app_opened_s']:.3f} s); first guest {after_open:.3f} s after it"
        )
        if mode == "ssh":
            rtt = 2 * DELAY
            print(
                f"{'':<14}first guest = floor + {(r['first_guest_s'] - r['floor_s']) / rtt:.1f} "
                f"round trips, = the app's open + {after_open / rtt:.1f}; "
                f"idle tick = {r['tick_s'] / rtt:.1f} round trips"
            )
    for mode, n, r in rows:
        qs = [k for k in r if k.startswith("query_")]
        if qs and n == max(m for _, m, _ in rows):
            for k in qs:
                print(f"{mode} {n} {k}: {_ms(r[k])}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000,10000")
    parser.add_argument("--modes", default="local,socket")
    parser.add_argument("--ssh", default="20,200", help="guest counts over ssh")
    parser.add_argument("--no-ssh", action="store_true")
    parser.add_argument("--ticks", type=int, default=9)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per (mode, size); figures are their medians"
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--floor", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--history", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.floor:
        print(_floor(args.floor))
        return 0
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.ticks, args.history)))
        return 0
    rows: list[tuple[str, int, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="vmtui-scale-") as tmp:
        tmpdir = Path(tmp)
        os.chmod(tmpdir, 0o755)  # libvirtd reads the host files
        for n in [int(x) for x in args.sizes.split(",") if x]:
            xml = write_host_xml(tmpdir / f"host{n}.xml", n)
            for mode in args.modes.split(","):
                if mode == "socket" and not os.path.exists(LIBVIRT_SOCK):
                    print("no libvirtd socket: skipping socket mode", file=sys.stderr)
                    continue
                runs = [
                    run_worker(_uri(mode, xml), n, args.ticks, True) for _ in range(args.repeat)
                ]
                rows.append((mode, n, median_run(runs)))
                print(f"done: {mode} {n}: {json.dumps(rows[-1][2])}", file=sys.stderr)
        if not args.no_ssh and shutil.which("ssh") and os.path.exists(SSHD):
            with ssh_link(tmpdir, DELAY) as link:
                for n in [int(x) for x in args.ssh.split(",") if x]:
                    xml = write_host_xml(tmpdir / f"ssh{n}.xml", n)
                    rows.append(("ssh", n, run_worker(_uri("ssh", xml, link), n, 5, False)))
                    print(f"done: ssh {n}: {json.dumps(rows[-1][2])}", file=sys.stderr)
    report(rows)
    if args.json:
        args.json.write_text(json.dumps([{"mode": m, "n": n, **r} for m, n, r in rows]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
