"""A guest's display: half-block cells (each cell shows two pixels, ▀: fg over bg), which
every colour terminal shows, or real pixels (sixel / kitty graphics) where the terminal has them."""

from __future__ import annotations

import io

from PIL import Image
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.strip import Strip
from textual.widget import Widget

UPPER_HALF = "▀"


def half_block_rows(image_bytes: bytes, width: int, height: int) -> list[list[Segment]]:
    """Scale the image to ``width`` x ``2*height`` pixels (aspect kept, centred), as segments.

    Runs of cells with the same two colours become one segment; one ``Style`` per colour pair
    is made per picture (a screen has few colours): about 5x faster than a style per cell."""
    img = Image.open(io.BytesIO(image_bytes)).convert("RGB")
    w, h = img.size
    scale = min(width / w, (2 * height) / h)
    tw, th = max(1, int(w * scale)), max(2, int(h * scale) // 2 * 2)
    data = img.resize((tw, th), Image.Resampling.BILINEAR).tobytes()
    styles: dict[bytes, Style] = {}
    pad = (width - tw) // 2
    stride = 3 * tw
    rows: list[list[Segment]] = []
    for y in range(0, th, 2):
        top_row = data[y * stride : (y + 1) * stride]
        bottom_row = data[(y + 1) * stride : (y + 2) * stride]
        segs = [Segment(" " * pad)] if pad else []
        run_key = b""
        run_len = 0
        for x in range(0, stride, 3):
            key = top_row[x : x + 3] + bottom_row[x : x + 3]
            if key == run_key:
                run_len += 1
                continue
            if run_len:
                segs.append(Segment(UPPER_HALF * run_len, _style(styles, run_key)))
            run_key, run_len = key, 1
        if run_len:
            segs.append(Segment(UPPER_HALF * run_len, _style(styles, run_key)))
        rows.append(segs)
    return rows


def _style(cache: dict[bytes, Style], key: bytes) -> Style:
    style = cache.get(key)
    if style is None:
        style = cache[key] = Style(
            color=Color.from_rgb(key[0], key[1], key[2]),
            bgcolor=Color.from_rgb(key[3], key[4], key[5]),
        )
    return style


def is_blank(image_bytes: bytes) -> bool:
    """True when every pixel has the same colour (a display showing nothing)."""
    img = Image.open(io.BytesIO(image_bytes)).convert("RGB")
    extrema = img.getextrema()
    return all(lo == hi for lo, hi in extrema)  # type: ignore[misc]


class ScreenView(Widget):
    """Shows the last screenshot it was given; redraws only when the picture changed."""

    DEFAULT_CSS = """
    ScreenView { width: 1fr; height: 1fr; background: black; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.image: bytes = b""
        self._rows: list[list[Segment]] = []
        self._drawn_size: tuple[int, int] = (0, 0)

    def show_image(self, image: bytes) -> None:
        if image == self.image and self._drawn_size == (self.size.width, self.size.height):
            return
        self.image = image
        self._render_rows()

    def show_rows(self, image: bytes, rows: list[list[Segment]], cells: tuple[int, int]) -> None:
        """Show cells drawn elsewhere (a worker) for ``cells`` = (cols, rows); redrawn here
        only if the widget's size changed meanwhile."""
        if cells != (self.size.width, self.size.height):
            self.show_image(image)
            return
        if image == self.image and self._drawn_size == cells:
            return
        self.image = image
        self._drawn_size = cells
        self._rows = rows
        self.refresh()

    def on_resize(self) -> None:
        self._render_rows()

    def _render_rows(self) -> None:
        width, height = self.size.width, self.size.height
        self._drawn_size = (width, height)
        if not self.image or width <= 0 or height <= 0:
            self._rows = []
        else:
            self._rows = half_block_rows(self.image, width, height)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        if y >= len(self._rows):
            return Strip.blank(self.size.width)
        return Strip(self._rows[y]).crop_extend(0, self.size.width, None)


class PixelView(Widget):
    """The same picture in real pixels: sixel or kitty graphics, through textual-image.

    Only composed when the terminal said it shows them (``vmtui.graphics``), since
    textual-image's widgets read the terminal's cell size when first imported."""

    DEFAULT_CSS = """
    PixelView { width: 1fr; height: 1fr; background: black; align: center middle; }
    PixelView > .pixels { width: auto; height: auto; }
    """

    def __init__(self, protocol: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.protocol = protocol
        self.image: bytes = b""
        self.frames = 0  # pictures handed to the pixel widget
        self._picture: Widget | None = None

    def compose(self) -> ComposeResult:
        from textual_image.widget import SixelImage, TGPImage

        picture: Widget = (
            SixelImage(classes="pixels") if self.protocol == "sixel" else TGPImage(classes="pixels")
        )
        self._picture = picture
        yield picture

    def show_image(self, image: bytes) -> None:
        if image == self.image:
            return
        picture = Image.open(io.BytesIO(image))
        picture.load()  # fail here (not while drawing) on a picture Pillow cannot read
        self.image = image
        self.frames += 1
        target = self.query_one(".pixels")
        target.image = picture  # type: ignore[attr-defined]

    def on_unmount(self) -> None:
        # Kitty keeps every image it was sent until told to delete it: delete ours on leaving
        # (textual-image deletes the previous one at each new picture, not the last one).
        renderable = getattr(self._picture, "_renderable", None)
        if self.protocol == "kitty" and renderable is not None:
            renderable.cleanup()
