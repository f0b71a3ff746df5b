"""Display benchmarks: per frame, the screenshot fetch, the half-block render and the sixel
encode, and the bytes a frame costs on the terminal.

    python -m benchmarks.display [--frames N] [--no-guest]

Figures are medians over N frames. "test driver" takes the screenshot of libvirt's test driver
(an in-process PNG: no RPC, no QEMU); "real guest" boots the tiny test guest with a VGA card
under TCG (needs root and libvirtd: scripts/ensure-libvirtd.sh) and fetches QEMU's real
screenshot through libvirtd, as the display screen does. Sizes: 100x34 cells (the display area
of a 100x36 terminal) of 10x20 pixels. Target: fetch + draw well under the 0.4 s refresh.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image
from rich.color import ColorSystem
from rich.segment import Segment

from vmtui.backend import Hypervisor
from vmtui.widgets.screen_view import half_block_rows, is_blank

ROOT = Path(__file__).resolve().parents[1]
COLS, ROWS = 100, 34
CELL = (10, 20)  # pixels per cell, for the sixel picture
REFRESH = 0.4  # DisplayScreen.REFRESH_SECONDS


def median_ms(call: Callable[[], object], frames: int) -> float:
    times = []
    for _ in range(frames):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def half_block_bytes(rows: list[list[Segment]]) -> int:
    """Bytes of a full half-block frame as a truecolor terminal gets them (no diffing)."""
    text = "\n".join(
        "".join(
            seg.style.render(seg.text, color_system=ColorSystem.TRUECOLOR)
            if seg.style
            else seg.text
            for seg in row
        )
        for row in rows
    )
    return len(text.encode())


def sixel_frame(image: bytes) -> str:
    from textual_image._sixel import image_to_sixels

    picture = Image.open(io.BytesIO(image)).convert("RGB")
    picture.thumbnail((COLS * CELL[0], ROWS * CELL[1]))
    return image_to_sixels(picture)


def measure(label: str, fetch: Callable[[], bytes], frames: int) -> dict[str, float]:
    image = fetch()
    size = Image.open(io.BytesIO(image)).size
    fetch_ms = median_ms(fetch, frames)
    render_ms = median_ms(lambda: half_block_rows(image, COLS, ROWS), frames)
    sixel_ms = median_ms(lambda: sixel_frame(image), max(3, frames // 4))
    rows = half_block_rows(image, COLS, ROWS)
    figures = {
        "fetch_ms": fetch_ms,
        "half_block_ms": render_ms,
        "sixel_encode_ms": sixel_ms,
        "half_block_kb": half_block_bytes(rows) / 1024,
        "sixel_kb": len(sixel_frame(image).encode()) / 1024,
        "image_kb": len(image) / 1024,
    }
    frame = fetch_ms + render_ms
    print(f"{label}: {size[0]}x{size[1]} screenshot, {figures['image_kb']:.0f} KiB")
    print(f"  fetch (virDomainScreenshot)     {fetch_ms:7.1f} ms median")
    print(f"  half-block render {COLS}x{ROWS}     {render_ms:7.1f} ms median")
    print(
        f"  fetch + half-block per frame    {frame:7.1f} ms  (target < {REFRESH * 1000:.0f} ms: "
        f"{'PASS' if frame < REFRESH * 1000 else 'FAIL'})"
    )
    print(f"  sixel encode                    {sixel_ms:7.1f} ms median")
    print(
        f"  terminal bytes per frame        half-blocks {figures['half_block_kb']:.0f} KiB, "
        f"sixel {figures['sixel_kb']:.0f} KiB"
    )
    return figures


def test_driver(frames: int) -> dict[str, float]:
    uri = f"test://{ROOT / 'tests' / 'data' / 'small_host.xml'}"
    hv = Hypervisor(uri)
    hv.connect()
    try:
        uuid = "11111111-1111-1111-1111-111111111111"  # alpha: running, with a VNC display
        return measure("test driver", lambda: hv.screenshot(uuid)[0], frames)
    finally:
        hv.close()


def real_guest(frames: int) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    import libvirt

    from tests.integration.tinyguest import build_tiny_guest, tiny_domain_xml

    conn = libvirt.open("qemu:///system")
    name = f"vmtui-test-{os.getpid()}-bench-display"
    dom = conn.defineXML(tiny_domain_xml(name, build_tiny_guest(), vga=True))
    hv = Hypervisor("qemu:///system")
    hv.connect()
    try:
        dom.create()
        uuid = dom.UUIDString()
        hv.poll()
        deadline = time.monotonic() + 120
        while True:  # until the kernel has written on the VGA screen
            try:
                image = hv.screenshot(uuid)[0]
                if not is_blank(image):
                    break
            except Exception:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the guest's screen stayed blank for 120 s")
            time.sleep(1)
        return measure("real guest (QEMU VGA, TCG)", lambda: hv.screenshot(uuid)[0], frames)
    finally:
        if dom.isActive():
            dom.destroy()
        dom.undefine()
        hv.close()
        conn.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.display", description=__doc__)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--no-guest", action="store_true", help="skip the real-guest figures")
    args = parser.parse_args(argv)
    test_driver(args.frames)
    if not args.no_guest:
        real_guest(args.frames)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
