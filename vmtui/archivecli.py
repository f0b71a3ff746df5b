"""``vmtui export GUEST FILE [-c URI]`` and ``vmtui import FILE [-c URI] [--pool P]
[--name N] [--keep-ids]``: a guest as one file (backend/archive.py).

Exit codes: 0 done; 1 not done (one sentence on stderr; nothing is left behind: no partial
file, no volume, no definition); 2 bad arguments; 130 ^C (cancelled, cleaned up).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable, Sequence

DEFAULT_URI = "qemu:///system"


def _uri_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--connect",
        metavar="URI",
        help="libvirt URI (default: $LIBVIRT_DEFAULT_URI or qemu:///system); qemu+ssh works",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress, no summary")


def parse_export_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="vmtui export",
        description="Write a shut-off guest (its XML and every disk, sparse, in its own "
        "format, with a manifest of sizes and sha256) to one tar archive.",
    )
    parser.add_argument("guest", help="the guest's name or UUID")
    parser.add_argument("file", help="the archive to write (must not exist)")
    _uri_arg(parser)
    return parser.parse_args(argv)


def parse_import_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="vmtui import",
        description="Check an archive from `vmtui export` (checksums, free space, what the "
        "host can run), upload its disks into a pool and define the guest. An OVA or OVF "
        "(VirtualBox, VMware) is converted with qemu-img and mapped; what was not mapped is "
        "listed.",
    )
    parser.add_argument("file", help="the archive")
    _uri_arg(parser)
    parser.add_argument("--pool", default="default", help="the storage pool (default: default)")
    parser.add_argument("--name", default="", help="the guest's name here (default: its own)")
    parser.add_argument(
        "--keep-ids", action="store_true", help="keep the guest's UUID and MAC addresses"
    )
    parser.add_argument(
        "--network",
        default="",
        help="OVA/OVF only: the network for its NICs (default: none, the guest has no NIC)",
    )
    return parser.parse_args(argv)


def _progress(quiet: bool, what: str) -> Callable[[int, int], None] | None:
    if quiet or not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        pct = 100 * done // total if total else 100
        print(f"\r{what}: {pct:3d}%", end="", file=sys.stderr, flush=True)

    return show


def archive_main(command: str, argv: Sequence[str]) -> int:
    """``command`` is "export" or "import"."""
    args = parse_export_args(argv) if command == "export" else parse_import_args(argv)
    try:
        from vmtui.backend import Hypervisor, VmtuiError
        from vmtui.backend.archive import export_guest, import_guest
        from vmtui.backend.ovf import import_ovf, is_ovf_file
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
        if command == "export":
            done = export_guest(
                hv, args.guest, args.file, progress=_progress(args.quiet, "export"), cancel=cancel
            )
            said = f"{done.manifest.name} written to {done.path} ({done.bytes} bytes)."
            notes = list(done.manifest.not_carried)
        elif is_ovf_file(args.file):  # an OVA / OVF from VirtualBox or VMware
            result = import_ovf(
                hv,
                args.file,
                pool=args.pool,
                name=args.name,
                network=args.network,
                progress=_progress(args.quiet, "import"),
                cancel=cancel,
            )
            said = f"Guest {result.name} ({result.uuid}) defined on {uri} from the OVF."
            notes = list(result.warnings)
        else:
            result = import_guest(
                hv,
                args.file,
                pool=args.pool,
                name=args.name,
                keep_ids=args.keep_ids,
                progress=_progress(args.quiet, "import"),
                cancel=cancel,
            )
            said = f"Guest {result.name} ({result.uuid}) defined on {uri}."
            notes = list(result.warnings)
    except VmtuiError as err:
        print(" ".join(err.message.split()), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        cancel.set()
        print(f"\nInterrupted; the {command} was cancelled and nothing was left.", file=sys.stderr)
        return 130
    finally:
        hv.close()
    if not args.quiet:
        print(("\n" if sys.stderr.isatty() else "") + said)
        for note in notes:
            print(f"  not carried / not mapped / differs: {note}")
    return 0
