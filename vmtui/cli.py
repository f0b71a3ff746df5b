"""Command line: ``vmtui [-c URI ...] [--readonly] [--demo]``, like virsh."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

DEFAULT_URI = "qemu:///system"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="vmtui",
        description="A keyboard-driven terminal manager for libvirt/KVM virtual machines.",
    )
    parser.add_argument(
        "-c",
        "--connect",
        metavar="URI",
        action="append",
        help="libvirt URI; repeat for several hosts at once "
        "(default: $LIBVIRT_DEFAULT_URI or qemu:///system)",
    )
    parser.add_argument(
        "-r",
        "--readonly",
        action="store_true",
        help="open the connection read-only (libvirt enforces it; actions are hidden)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="look around a bundled fake host (libvirt's test driver); needs no hypervisor",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="seconds between stats updates (default 2)",
    )
    parser.add_argument(
        "--console",
        metavar="GUEST",
        help="open this guest's serial console at once (like virsh console; ctrl+] detaches)",
    )
    parser.add_argument("--version", action="version", version="%(prog)s 0.1.0")
    args = parser.parse_args(argv)
    if args.interval < 0.2:
        parser.error("--interval must be at least 0.2 seconds")
    return args


def resolve_uris(args: argparse.Namespace) -> list[str]:
    """The hosts to open: every -c in order (duplicates dropped), else the default one."""
    from vmtui.app import DEMO_URI

    if args.demo:
        return [DEMO_URI]
    if args.connect:
        return list(dict.fromkeys(args.connect))
    return [os.environ.get("LIBVIRT_DEFAULT_URI") or DEFAULT_URI]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        from vmtui.app import VmtuiApp
    except ImportError as err:  # libvirt-python or textual missing: say how to fix it
        print(
            f"vmtui cannot start: {err}. Run `make run` to install what it needs.", file=sys.stderr
        )
        return 1
    from vmtui import graphics

    # Ask the terminal about sixel / kitty graphics now: once Textual runs, it reads stdin.
    graphics.detect()
    app = VmtuiApp(
        resolve_uris(args),
        readonly=args.readonly,
        interval=args.interval,
        console_on_start=args.console,
    )
    app.run()
    return 0
