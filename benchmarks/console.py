"""Console benchmarks: emulator throughput, and on a real guest, 1 MB burst and key-to-echo.

    python -m benchmarks.console [--repeat N] [--no-guest]

Figures are medians. The synthetic figure feeds 1 MB of shell-like output to the emulator and
draws the view once per 64 KiB (what the UI does at most). The real-guest figures need root and
libvirtd (scripts/ensure-libvirtd.sh) and boot the tiny test guest under TCG: the burst is
bounded by QEMU's emulated serial port, so the emulator figure is the one vmtui controls.
Targets: >= 1 MB/s rendered, echo <= 20 ms on a local daemon.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from vmtui.backend import Emulator, Hypervisor

LINE = b"drwxr-xr-x  2 root root 4096 Nov 25 10:00 \x1b[01;34mvmtui-benchmark-dir\x1b[0m\r\n"


def emulator_mb_per_s(size: int = 1_000_000) -> float:
    data = (LINE * (size // len(LINE) + 1))[:size]
    emu = Emulator(120, 40)
    t0 = time.perf_counter()
    for i in range(0, size, 65536):
        emu.feed(data[i : i + 65536])
        emu.view()
    return size / (time.perf_counter() - t0) / 1e6


def real_guest(repeat: int) -> dict[str, float]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import libvirt

    from tests.integration.tinyguest import build_tiny_guest, tiny_domain_xml

    conn = libvirt.open("qemu:///system")
    name = "vmtui-test-bench-console"
    for old in [d for d in conn.listAllDomains() if d.name() == name]:
        if old.isActive():
            old.destroy()
        old.undefine()
    dom = conn.defineXML(tiny_domain_xml(name, build_tiny_guest(), extra_cmdline="vmtui.hostile"))
    hv = Hypervisor("qemu:///system")
    hv.connect()
    try:
        dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
        emu = Emulator(120, 40, history=5000)
        changed = threading.Event()
        session = hv.open_console(dom.UUIDString(), emu, changed.set, lambda _r: None)
        emu.set_responder(session.send)
        dom.resume()
        t0 = time.perf_counter()
        while "VMTUI-HOSTILE-DONE" not in emu.text() and time.perf_counter() - t0 < 300:
            time.sleep(0.02)
        burst = time.perf_counter() - t0
        fed = emu.bytes_fed
        while "tiny#" not in emu.text() and time.perf_counter() - t0 < 400:
            session.send(b"\r")
            time.sleep(0.5)
        latencies = []
        for i in range(repeat * 10):
            ch = "abcdefghij"[i % 10]
            before = emu.generation
            t1 = time.perf_counter()
            session.send(ch.encode())
            while emu.generation == before and time.perf_counter() - t1 < 5:
                time.sleep(0.0005)
            latencies.append(time.perf_counter() - t1)
            session.send(b"\x7f")  # rub it out again
            time.sleep(0.05)
        session.close()
        return {
            "burst_seconds": burst,
            "burst_mb_per_s": fed / burst / 1e6,
            "echo_ms_median": statistics.median(latencies) * 1000,
            "echo_ms_max": max(latencies) * 1000,
        }
    finally:
        if dom.isActive():
            dom.destroy()
        dom.undefine()
        hv.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.console", description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-guest", action="store_true", help="skip the real-guest figures")
    args = parser.parse_args(argv)
    rates = [emulator_mb_per_s() for _ in range(args.repeat)]
    mbps = statistics.median(rates)
    print(
        f"emulator: 1 MB fed and drawn          {mbps:6.2f} MB/s  (target >= 1 MB/s: "
        f"{'PASS' if mbps >= 1 else 'FAIL'})"
    )
    if not args.no_guest:
        r = real_guest(args.repeat)
        print(
            f"real guest: 1 MB burst over serial    {r['burst_seconds']:6.1f} s "
            f"({r['burst_mb_per_s']:.2f} MB/s, bounded by QEMU's emulated UART under TCG)"
        )
        print(
            f"real guest: key to echo               {r['echo_ms_median']:6.1f} ms median, "
            f"{r['echo_ms_max']:.1f} ms max  (target <= 20 ms: "
            f"{'PASS' if r['echo_ms_median'] <= 20 else 'FAIL'})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
