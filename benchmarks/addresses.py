"""Guest addresses at thousands of guests (issue 13): what reading them costs the poll, and
what a whole round costs the background reader.

    python -m benchmarks.addresses [--guests 1000] [--ticks 30] [--repeat 5]

A test-driver host of N guests (benchmarks/testhost.py, 70 % running), its network given a
NAT ``<ip>`` so the test driver answers ``interfaceAddresses`` with a lease address per NIC.

- poll tick: ``Hypervisor.poll()`` on idle ticks (no round due, nothing marked), median, beside
  the bare bulk stats call (the poll-cost target: ≤ 1.5x) and beside the same tick with the
  address book's ``tick`` switched off, interleaved (the book adds a clock read and a lock);
- tick that starts a round: the poll tick whose ``AddressBook.tick`` lists the running guests
  and starts the reader thread (once every ADDRESS_EVERY = 30 s);
- libvirt address calls during the idle ticks (must be 0: never a call per guest per tick);
- one whole round in the background: ``AddressBook.refresh`` over every running guest
  (``interfaceAddresses`` per guest, lease source; WORKERS threads), wall time and per guest.

The test driver runs in-process (no RPC): a real daemon's lease call adds a round trip per
guest, which the background thread absorbs (the poll never waits for it).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import libvirt

from benchmarks.testhost import host_uri, host_xml
from vmtui.backend import Hypervisor


def write_host(path: Path, n: int) -> Path:
    tree = host_xml(n)
    net = tree.getroot().find("network")
    assert net is not None
    ET.SubElement(net, "forward", mode="nat")
    ET.SubElement(net, "ip", address="10.0.0.0", prefix="8")
    ET.indent(tree)
    tree.write(path, encoding="utf-8")
    return path


def measure(n: int, ticks: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        uri = host_uri(write_host(Path(tmp) / "host.xml", n))
        hv = Hypervisor(uri)
        hv.connect()
        try:
            hv.poll()  # first poll: every XML; starts the first round
            hv.addresses.wait(120)
            hv.poll()  # applies it
            known = sum(1 for g in hv.known_guests() if g.addresses is not None)
            calls = [0]
            real = libvirt.virDomain.interfaceAddresses

            def counting(self: Any, source: int, flags: int = 0) -> Any:
                calls[0] += 1
                return real(self, source, flags)

            libvirt.virDomain.interfaceAddresses = counting  # type: ignore[method-assign]
            polls, bare, without = [], [], []
            book = hv.addresses
            try:
                for _ in range(ticks):
                    t0 = time.perf_counter()
                    hv.poll()
                    polls.append(time.perf_counter() - t0)
                    bare.append(hv.bare_stats_call())
                    book.tick = lambda _c: False  # type: ignore[method-assign]
                    t0 = time.perf_counter()
                    hv.poll()
                    without.append(time.perf_counter() - t0)
                    del book.tick
            finally:
                libvirt.virDomain.interfaceAddresses = real  # type: ignore[method-assign]
            idle_calls = calls[0]
            # a tick that starts a round (its candidate listing on the poll thread)
            hv.addresses._next_round = 0.0
            t0 = time.perf_counter()
            hv.poll()
            round_tick = time.perf_counter() - t0
            hv.addresses.wait(120)
            # one whole round, timed in the foreground
            records = {d.UUIDString(): (d, {}) for d in hv.readable_conn().listAllDomains(0)}
            todo = hv._address_candidates(records)(None)
            t0 = time.perf_counter()
            hv.addresses.refresh(todo)
            round_seconds = time.perf_counter() - t0
        finally:
            hv.close()
    return {
        "guests": n,
        "running with addresses": known,
        "poll tick median ms": statistics.median(polls) * 1000,
        "bare stats call median ms": statistics.median(bare) * 1000,
        "ratio": statistics.median(polls) / statistics.median(bare),
        "poll tick, address book switched off, ms": statistics.median(without) * 1000,
        "interfaceAddresses calls in idle ticks": idle_calls,
        "tick that starts a round ms": round_tick * 1000,
        "whole round (background) ms": round_seconds * 1000,
        "per guest us": round_seconds / max(1, len(todo)) * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guests", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = [measure(args.guests, args.ticks) for _ in range(args.repeat)]
    for key in runs[0]:
        values = [r[key] for r in runs]
        print(
            f"{key:42} {statistics.median(values):10.2f}   (runs: "
            + ", ".join(f"{v:.2f}" for v in values)
            + ")"
        )


if __name__ == "__main__":
    main()
