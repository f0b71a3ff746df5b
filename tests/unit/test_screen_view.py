"""The fast half-block drawing gives exactly the cells of the plain per-pixel one."""

from __future__ import annotations

import io

from PIL import Image
from rich.color import Color
from rich.segment import Segment
from rich.style import Style

from tests.conftest import host_uri
from vmtui.backend import Hypervisor
from vmtui.widgets.screen_view import UPPER_HALF, half_block_rows


def reference_rows(image_bytes: bytes, width: int, height: int) -> list[list[Segment]]:
    """One style per cell, read pixel by pixel, then merged: the obvious (slow) way."""
    img = Image.open(io.BytesIO(image_bytes)).convert("RGB")
    w, h = img.size
    scale = min(width / w, (2 * height) / h)
    tw, th = max(1, int(w * scale)), max(2, int(h * scale) // 2 * 2)
    img = img.resize((tw, th), Image.Resampling.BILINEAR)
    pad = (width - tw) // 2
    rows = []
    for y in range(0, th, 2):
        segs = [Segment(" " * pad)] if pad else []
        for x in range(tw):
            top, bottom = img.getpixel((x, y)), img.getpixel((x, y + 1))
            assert isinstance(top, tuple) and isinstance(bottom, tuple)
            style = Style(color=Color.from_rgb(*top[:3]), bgcolor=Color.from_rgb(*bottom[:3]))
            segs.append(Segment(UPPER_HALF, style))
        rows.append(list(Segment.simplify(segs)))
    return rows


def noise_png(w: int, h: int) -> bytes:
    img = Image.new("RGB", (w, h))
    img.putdata(
        [((x * 37) % 256, (y * 91) % 256, (x * y) % 256) for y in range(h) for x in range(w)]
    )
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def test_fast_rows_equal_the_reference_on_a_real_screenshot_and_on_noise() -> None:
    hv = Hypervisor(host_uri("small_host"))
    hv.connect()
    try:
        shot = hv.screenshot("11111111-1111-1111-1111-111111111111")[0]  # alpha's screen
    finally:
        hv.close()
    for picture, (cols, rows) in (
        (shot, (100, 34)),
        (shot, (37, 9)),
        (noise_png(64, 48), (30, 20)),
    ):
        assert half_block_rows(picture, cols, rows) == reference_rows(picture, cols, rows)
