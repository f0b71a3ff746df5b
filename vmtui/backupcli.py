"""``vmtui backup GUEST DIR [--incremental] [-c URI] [--quiet]``: one backup, for cron.

Exit codes: 0 the backup finished; 1 it did not (one line on stderr says why, and a folder
left half-written is marked so and never offered for restore); 2 bad arguments; 130 ^C
(the backup job is cancelled first).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Sequence

DEFAULT_URI = "qemu:///system"


def parse_backup_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="vmtui backup",
        description="Back up a running guest's disks into DIR/<guest>/ (full, or incremental "
        "since the last backup there), for cron. Exit 0 when it finished, 1 when not.",
    )
    parser.add_argument("guest", help="the guest's name or UUID")
    parser.add_argument("dir", help="the folder that keeps the backups")
    parser.add_argument(
        "--incremental",
        action="store_true",
        help="only what changed since the last finished backup in DIR",
    )
    parser.add_argument(
        "-c",
        "--connect",
        metavar="URI",
        help="libvirt URI (default: $LIBVIRT_DEFAULT_URI or qemu:///system); local only",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    return parser.parse_args(argv)


def backup_main(argv: Sequence[str]) -> int:
    args = parse_backup_args(argv)
    try:
        from vmtui.backend import Hypervisor, VmtuiError
        from vmtui.backend.backups import run_backup
    except ImportError as err:
        print(
            f"vmtui cannot start: {err}. Run `make run` to install what it needs.", file=sys.stderr
        )
        return 1
    uri = args.connect or os.environ.get("LIBVIRT_DEFAULT_URI") or DEFAULT_URI
    cancel = threading.Event()
    hv = Hypervisor(uri)
    try:
        hv.connect()
        # the guest looked up by UUID or name (not a poll: that reads every guest's XML)
        dom = hv.find_domain(hv.readable_conn(), args.guest)
        if dom is None:
            print(f"There is no guest called {args.guest} on {uri}.", file=sys.stderr)
            return 1
        info = run_backup(
            hv, dom.UUIDString(), args.dir, incremental=args.incremental, cancel=cancel
        )
    except VmtuiError as err:
        print(" ".join(err.message.split()), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        cancel.set()
        print("Interrupted; the backup was cancelled.", file=sys.stderr)
        return 130
    finally:
        hv.close()
    if not args.quiet:
        print(f"{info.kind} backup of {info.guest} written to {info.path}")
    return 0
