"""Command line: ``vmtui [-c URI ...] [--readonly] [--demo]``, like virsh; and
``vmtui stats [-c URI ...] [--interval S] [--count N] [--format csv|json|prometheus]``;
``vmtui export GUEST FILE`` and ``vmtui import FILE [--pool P] [--name N] [--keep-ids]``.

The entry point. It imports the rest of vmtui inside its functions, on purpose: importing the
backend loads libvirt-python and the app loads Textual, and when either is missing the user
gets a sentence saying how to fix it instead of a traceback; ``vmtui stats`` never loads
Textual at all.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vmtui.demo import DEMO_URI

if TYPE_CHECKING:
    from vmtui.backend.connections import ConnectionSpec

DEFAULT_URI = "qemu:///system"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="vmtui",
        description="A keyboard-driven terminal manager for libvirt/KVM virtual machines.",
        epilog="Headless figures (CSV, JSON lines, Prometheus): vmtui stats --help",
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
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="the saved-connections file (default: $VMTUI_CONFIG, else config.toml in the "
        "user config directory)",
    )
    parser.add_argument("--version", action="version", version="%(prog)s 0.1.0")
    args = parser.parse_args(argv)
    if args.interval < 0.2:
        parser.error("--interval must be at least 0.2 seconds")
    return args


def resolve_uris(args: argparse.Namespace, saved: Sequence[ConnectionSpec] = ()) -> list[str]:
    """The hosts to open: every -c in order (duplicates dropped) and the saved connections
    marked autoconnect; with neither, the default one."""
    from vmtui.backend.connections import merge_uris

    if args.demo:
        return [DEMO_URI]
    uris = merge_uris(args.connect or (), saved)
    if uris:
        return uris
    return [os.environ.get("LIBVIRT_DEFAULT_URI") or DEFAULT_URI]


def parse_stats_args(argv: Sequence[str]) -> argparse.Namespace:
    from vmtui.statsexport import FORMATS

    parser = argparse.ArgumentParser(
        prog="vmtui stats",
        description="Print every guest's CPU, memory, disk and network figures each interval "
        "(like virt-top -b), without the interface.",
    )
    parser.add_argument(
        "-c",
        "--connect",
        metavar="URI",
        action="append",
        help="libvirt URI; repeat for several hosts (default: $LIBVIRT_DEFAULT_URI or "
        "qemu:///system)",
    )
    parser.add_argument(
        "--interval", type=float, default=2.0, metavar="SECONDS", help="seconds between samples"
    )
    parser.add_argument(
        "--count", type=int, metavar="N", help="stop after N samples (default: run until ^C)"
    )
    parser.add_argument("--format", choices=FORMATS, default="csv", help="output format")
    args = parser.parse_args(argv)
    if args.interval < 0.2:
        parser.error("--interval must be at least 0.2 seconds")
    if args.count is not None and args.count < 1:
        parser.error("--count must be at least 1")
    return args


def stats_main(argv: Sequence[str]) -> int:
    """``vmtui stats``: headless samples on stdout; errors are one sentence on stderr."""
    args = parse_stats_args(argv)
    try:
        from vmtui.backend import VmtuiError
        from vmtui.statsexport import run
    except ImportError as err:
        print(
            f"vmtui cannot start: {err}. Run `make run` to install what it needs.", file=sys.stderr
        )
        return 1
    uris = (
        list(dict.fromkeys(args.connect))
        if args.connect
        else [os.environ.get("LIBVIRT_DEFAULT_URI") or DEFAULT_URI]
    )
    try:
        run(uris, interval=args.interval, count=args.count, fmt=args.format, out=sys.stdout)
    except VmtuiError as err:
        print(err.message, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # piped into head: the reader had enough
        sys.stderr.close()  # nothing more to say, and no "Exception ignored" on exit
        return 0
    return 0


def load_saved(path: Path) -> tuple[list[ConnectionSpec], str]:
    """The saved connections and "" or, when the file cannot be read, none and why."""
    from vmtui.backend.connections import ConnectionStore
    from vmtui.backend.errors import VmtuiError

    try:
        return ConnectionStore(path).load(), ""
    except VmtuiError as err:
        return [], err.message


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["stats"]:
        return stats_main(words[1:])
    if words[:1] == ["backup"]:
        from vmtui.backupcli import backup_main

        return backup_main(words[1:])
    if words[:1] in (["export"], ["import"]):
        from vmtui.archivecli import archive_main

        return archive_main(words[0], words[1:])
    args = parse_args(argv)
    try:
        from vmtui.app import VmtuiApp
        from vmtui.backend.connections import config_path
    except ImportError as err:  # libvirt-python or textual missing: say how to fix it
        print(
            f"vmtui cannot start: {err}. Run `make run` to install what it needs.", file=sys.stderr
        )
        return 1
    from vmtui.term import graphics

    # Ask the terminal about sixel / kitty graphics now: once Textual runs, it reads stdin.
    graphics.detect()
    config = Path(args.config).expanduser() if args.config else config_path()
    saved, problem = ([], "") if args.demo else load_saved(config)
    app = VmtuiApp(
        resolve_uris(args, saved),
        readonly=args.readonly,
        interval=args.interval,
        console_on_start=args.console,
    )
    app.config_file = config
    app.config_problem = problem
    app.run()
    return app.return_code or 0  # 129 when the terminal hung up
