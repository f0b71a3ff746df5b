"""A guest's display: half-block cells (each cell shows two pixels, ▀: fg over bg), which
every colour terminal shows, or real pixels (sixel / kitty graphics) where the terminal has them."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from rich.color import Color
from rich.control import Control
from rich.segment import ControlType, Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.dom import NoScreen
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

if TYPE_CHECKING:
    from PIL.Image import Image as Picture

UPPER_HALF = "▀"


def decode(image_bytes: bytes) -> Picture:
    """A screenshot as a Pillow image, read in full (a picture Pillow cannot read fails here).

    Pillow is imported on the first picture, not with the app: about 2 MiB that a session
    which never shows a guest's screen does not need."""
    from PIL import Image

    picture = Image.open(io.BytesIO(image_bytes))
    picture.load()
    return picture


def half_block_rows(image_bytes: bytes, width: int, height: int) -> list[list[Segment]]:
    """Scale the image to ``width`` x ``2*height`` pixels (aspect kept, centred), as segments.

    Runs of cells with the same two colours become one segment; one ``Style`` per colour pair
    is made per picture (a screen has few colours): about 5x faster than a style per cell."""
    from PIL.Image import Resampling  # loaded by decode() already

    img = decode(image_bytes).convert("RGB")
    w, h = img.size
    scale = min(width / w, (2 * height) / h)
    tw, th = max(1, int(w * scale)), max(2, int(h * scale) // 2 * 2)
    data = img.resize((tw, th), Resampling.BILINEAR).tobytes()
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
    img = decode(image_bytes).convert("RGB")
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


def encode_sixel(
    image_bytes: bytes, cols: int, rows: int, background: tuple[int, int, int, int]
) -> tuple[str, int, int]:
    """The picture scaled to fit ``cols`` x ``rows`` cells (aspect kept) as sixel data, and the
    cells it covers. The slow part of pixel drawing (0.2-0.6 s a frame here): for a worker
    thread, so the UI never waits for it. Needs ``vmtui.term.graphics`` to have found sixel."""
    from textual_image._sixel import image_to_sixels
    from textual_image._terminal import get_cell_size

    cell = get_cell_size()
    source = decode(image_bytes)
    scale = min(cols * cell.width / source.width, rows * cell.height / source.height)
    w_cells = max(1, min(cols, round(source.width * scale / cell.width)))
    h_cells = max(1, min(rows, round(source.height * scale / cell.height)))
    picture = source.convert("RGB").resize((w_cells * cell.width, h_cells * cell.height))
    return image_to_sixels(picture, None, background), w_cells, h_cells


class SixelCanvas(Widget, can_focus=False):
    """Draws sixel data encoded elsewhere (``encode_sixel`` in a worker): the UI thread only
    writes the bytes out. Drawn only when wholly visible (a toast over it hides it until it
    goes), since a sixel picture cannot be cropped without encoding it again."""

    DEFAULT_CSS = "SixelCanvas { width: auto; height: auto; }"

    def __init__(self, *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self.data = ""
        self.cells = (0, 0)

    def set_sixel(self, data: str, cols: int, rows: int) -> None:
        resized = (cols, rows) != self.cells
        self.data, self.cells = data, (cols, rows)
        self.refresh(layout=resized)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return self.cells[0]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return self.cells[1]

    def render_lines(self, crop: Region) -> list[Strip]:
        blank = [Strip.blank(crop.width)] * crop.height
        try:
            if not self.data or not self.screen.is_active or crop.size != self.size:
                return blank
            region = self.screen.find_widget(self).visible_region
        except (NoScreen, Exception):
            return blank
        if region.size != self.size:
            return blank
        null = Style()
        segments = [
            Segment(Control.move_to(region.x, region.y).segment.text, style=null),
            Segment(self.data, style=null, control=((ControlType.CURSOR_FORWARD, 0),)),
            Segment(Control.move_to(region.right, region.bottom).segment.text, style=null),
        ]
        return [Strip([])] * (crop.height - 1) + [Strip(segments, cell_length=crop.width)]


class PixelView(Widget):
    """The same picture in real pixels: sixel or kitty graphics, through textual-image.

    Only composed when the terminal said it shows them (``vmtui.term.graphics``), since
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
        from textual_image.widget import TGPImage

        # Sixel: our canvas, fed data encoded in the screenshot worker (textual-image's own
        # sixel widget encodes on the UI thread while drawing). Kitty: textual-image's widget
        # (it sends the PNG as is: cheap).
        picture: Widget
        if self.protocol == "sixel":
            picture = SixelCanvas(classes="pixels")
        else:
            picture = TGPImage(classes="pixels")
        self._picture = picture
        yield picture

    def show_sixel(self, image: bytes, data: str, cols: int, rows: int) -> None:
        """Sixel: show data encoded off the UI thread (``encode_sixel``)."""
        self.image = image
        self.frames += 1
        self.query_one(SixelCanvas).set_sixel(data, cols, rows)

    def background_rgba(self) -> tuple[int, int, int, int]:
        color = self.background_colors[1]
        return (color.r, color.g, color.b, int(color.a * 255))

    def show_image(self, image: bytes) -> None:
        if self.protocol == "sixel":
            return  # sixel pictures arrive encoded (show_sixel): never encoded here
        if image == self.image:
            return
        picture = decode(image)  # fails here (not while drawing) on a picture Pillow cannot read
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
