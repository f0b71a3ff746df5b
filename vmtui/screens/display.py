"""A guest's graphical display, drawn in the terminal from libvirt's screenshot API.

Refreshes a few times a second while shown. Keys typed here go to the guest's keyboard
(``virDomainSendKey``); ctrl+] returns, ctrl+k offers Ctrl+Alt+Del, Ctrl+Alt+F1..F12 and an
external viewer, ctrl+g switches between half-block cells and real pixels (sixel or kitty
graphics, when the terminal said at start-up that it shows them: ``vmtui.term.graphics``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from rich.segment import Segment
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from vmtui.backend import VmtuiError
from vmtui.backend.keys import CTRL_ALT_DEL, ctrl_alt_f, key_combo
from vmtui.control.messages import DisplayImage
from vmtui.control.services import services
from vmtui.core import format as fmt
from vmtui.screens.hostview import HostView
from vmtui.term import graphics
from vmtui.widgets.screen_view import PixelView, ScreenView, encode_sixel, half_block_rows

REFRESH_SECONDS = 0.4
# Pixels cost more to draw (a sixel encode is 0.2-0.6 s of the UI thread: benchmarks/display.py)
# and more bytes: a changed picture is fetched at most once a second in that mode.
PIXEL_REFRESH_SECONDS = 1.0
DETACH = "ctrl+right_square_bracket"
MENU = "ctrl+k"
TOGGLE = "ctrl+g"  # half-blocks <-> pixels
HALF, PIXEL = "half", "pixel"


class DisplayFrame(DisplayImage):
    """A screenshot and, when drawn as half-blocks, its cells for this many (cols, rows)."""

    def __init__(
        self,
        uuid: str,
        image: bytes,
        *,
        rows: list[list[Segment]] | None = None,
        cells: tuple[int, int] | None = None,
        sixel: tuple[str, int, int] | None = None,
    ) -> None:
        super().__init__(uuid, image)
        self.rows = rows
        self.cells = cells
        self.sixel = sixel  # (data, cols, rows) encoded in the worker


class SpecialKeysScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "close", "Back")]

    def __init__(self, toggle_label: str = "") -> None:
        super().__init__()
        self.toggle_label = toggle_label

    def compose(self) -> ComposeResult:
        options = [Option("Ctrl+Alt+Del", id="cad")]
        options += [Option(f"Ctrl+Alt+F{n}", id=f"f{n}") for n in range(1, 13)]
        options.append(Option("Open in external viewer (virt-viewer)", id="viewer"))
        if self.toggle_label:
            options.append(Option(self.toggle_label, id="toggle"))
        with Vertical(id="dialog", classes="dialog help"):
            yield Label("Send to the guest", id="title")
            yield OptionList(*options)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_close(self) -> None:
        self.dismiss(None)


def viewer_command(uri: str, uuid: str) -> tuple[list[str] | None, str]:
    """The external viewer to run, or why none can run here (a sentence).

    The guest goes by its UUID after ``--``: a name starting with ``-`` was read as an option,
    and a numeric name as another guest's ID (issue 14 #12)."""
    viewer = shutil.which("virt-viewer")
    if viewer is None:
        return None, (
            "No external viewer is installed: install virt-viewer (apt-get install "
            "virt-viewer) on the machine you run vmtui on."
        )
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return None, (
            "virt-viewer needs a graphical session and this terminal has none "
            "(DISPLAY is not set); the in-terminal view is what works over plain SSH."
        )
    return [viewer, "--connect", uri, "--", uuid], ""


class DisplayScreen(HostView):
    def __init__(self, uuid: str, name: str) -> None:
        super().__init__()
        self.uuid = uuid
        self.guest_name = name
        self._fetching = False
        self.frames = 0
        self.error = ""
        # Pixels by default where the terminal shows them; half-blocks everywhere else.
        self.protocol = graphics.protocol()
        self.mode = PIXEL if self.protocol else HALF
        self._last_image = b""
        self._last_fetch = 0.0

    def compose(self) -> ComposeResult:
        yield Static("", id="display-bar", markup=False)
        view = ScreenView(id="display")
        view.display = self.mode == HALF
        yield view
        if self.protocol:
            pixels = PixelView(self.protocol, id="display-pixels")
            pixels.display = self.mode == PIXEL
            yield pixels

    @property
    def mode_label(self) -> str:
        if self.mode == PIXEL and self.protocol:
            return graphics.NAMES[self.protocol]
        return "half-blocks"

    def toggle_mode(self) -> None:
        """Switch between half-block cells and pixels (when the terminal has pixels)."""
        if not self.protocol:
            self.notify(
                "This terminal did not say it shows sixel or kitty graphics, so the screen "
                "is drawn with half-blocks (set VMTUI_GRAPHICS=sixel or kitty to force it).",
                markup=False,
                timeout=5,
            )
            return
        self.mode = HALF if self.mode == PIXEL else PIXEL
        half = self.query_one(ScreenView)
        pixels = self.query_one(PixelView)
        half.display = self.mode == HALF
        pixels.display = self.mode == PIXEL
        self._update_bar()
        if self._last_image and not self._draw(self._last_image):
            self._refresh_image()  # sixel is encoded in the worker: fetch and encode anew

    def on_mount(self) -> None:
        self._update_bar()
        self.set_interval(REFRESH_SECONDS, self._refresh_image)
        self._refresh_image()

    def _update_bar(self) -> None:
        bar = Text(no_wrap=True, overflow="ellipsis")
        bar.append(f" {self.guest_name} ", style="bold reverse")
        if self.error:
            bar.append(f" {self.error} ", style="red")
        else:
            bar.append(f" screen · {self.mode_label} ", style="green")
        hint = " · ctrl+g pixels/half-blocks" if self.protocol else ""
        bar.append(f" keys go to the guest · ctrl+k special keys{hint} · ctrl+] back", style="dim")
        self.query_one("#display-bar", Static).update(bar)

    def _refresh_image(self) -> None:
        now = time.monotonic()
        if self.mode == PIXEL and now - self._last_fetch < PIXEL_REFRESH_SECONDS - 0.05:
            return
        if not self._fetching:
            self._fetching = True
            self._last_fetch = now
            size = self.query_one(ScreenView).size
            cells = (size.width, size.height) if self.mode == HALF else None
            sixel_box = None
            if self.mode == PIXEL and self.protocol == "sixel":
                pixels = self.query_one(PixelView)
                sixel_box = (pixels.size.width, pixels.size.height, pixels.background_rgba())
            self._fetch(cells, sixel_box)

    @work(thread=True, exit_on_error=False, group="display", description="screenshot")
    def _fetch(
        self,
        cells: tuple[int, int] | None,
        sixel_box: tuple[int, int, tuple[int, int, int, int]] | None = None,
    ) -> None:
        """Fetch the picture and draw it for the current mode here too (half-block cells, or
        sixel data): off the UI thread, which only swaps the result in."""
        try:
            image, _mime = services(self).hypervisor_for(self.uuid).screenshot(self.uuid)
        except VmtuiError as err:
            self.post_message(DisplayImage(self.uuid, b"", err.message))
            return
        except Exception as err:
            self.post_message(DisplayImage(self.uuid, b"", f"Could not read the screen: {err}"))
            return
        rows = None
        if cells is not None and cells[0] > 0 and cells[1] > 0:
            try:
                rows = half_block_rows(image, *cells)
            except Exception:  # unreadable: said when the UI thread tries to draw it
                rows = None
        sixel = None
        if sixel_box is not None and sixel_box[0] > 0 and sixel_box[1] > 0:
            try:
                sixel = encode_sixel(image, *sixel_box)
            except Exception as err:
                self.post_message(DisplayImage(self.uuid, b"", f"Could not draw the screen: {err}"))
                return
        self.post_message(DisplayFrame(self.uuid, image, rows=rows, cells=cells, sixel=sixel))

    def on_display_image(self, message: DisplayImage) -> None:
        self._fetching = False
        if message.error != self.error:
            self.error = message.error
            self._update_bar()
        if message.image:
            self._last_image = message.image
            frame = message if isinstance(message, DisplayFrame) else None
            if self._draw(message.image, frame):
                self.frames += 1

    def on_display_frame(self, message: DisplayFrame) -> None:
        self.on_display_image(message)

    def _draw(self, image: bytes, frame: DisplayFrame | None = None) -> bool:
        """Hand the picture to the widget of the current mode (only that one draws it)."""
        try:
            if self.mode == PIXEL and self.protocol == "sixel":
                if frame is None or frame.sixel is None:
                    self._last_fetch = 0.0  # encoded for another mode or size: fetch anew
                    return False
                self.query_one(PixelView).show_sixel(image, *frame.sixel)
            elif self.mode == PIXEL:
                self.query_one(PixelView).show_image(image)
            elif frame is not None and frame.rows is not None and frame.cells is not None:
                self.query_one(ScreenView).show_rows(image, frame.rows, frame.cells)
            else:
                self.query_one(ScreenView).show_image(image)
        except Exception as err:  # a picture Pillow cannot read: say so, keep going
            self.error = f"Could not draw the screen: {err}"
            self._update_bar()
            return False
        return True

    def send(self, keys: tuple[int, ...], what: str) -> None:
        self._send_worker(keys, what)

    @work(thread=True, exit_on_error=False, group="display-keys", description="send keys")
    def _send_worker(self, keys: tuple[int, ...], what: str) -> None:
        try:
            services(self).hypervisor_for(self.uuid).send_keys(self.uuid, keys)
        except VmtuiError as err:
            self.app.call_from_thread(self.notify, err.message, severity="error", markup=False)

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        if event.key == DETACH:
            self.dismiss()
        elif event.key == MENU:
            label = ""
            if self.protocol:
                other = "half-blocks" if self.mode == PIXEL else graphics.NAMES[self.protocol]
                label = f"Draw the screen with {other}"
            self.app.push_screen(SpecialKeysScreen(label), self._special)
        elif event.key == TOGGLE:
            self.toggle_mode()
        else:
            keys = key_combo(event.key, event.character)
            if keys is not None:
                self.send(keys, event.key)

    def on_paste(self, event: events.Paste) -> None:
        for ch in event.text[:2000]:
            keys = key_combo(ch, ch)
            if keys is not None:
                self.send(keys, ch)

    def _special(self, choice: str | None) -> None:
        if choice == "cad":
            self.send(CTRL_ALT_DEL, "Ctrl+Alt+Del")
            self.notify("Sent Ctrl+Alt+Del.", timeout=2)
        elif choice == "toggle":
            self.toggle_mode()
        elif choice and choice.startswith("f"):
            self.send(ctrl_alt_f(int(choice[1:])), f"Ctrl+Alt+F{choice[1:]}")
        elif choice == "viewer":
            uri = services(self).hypervisor_for(self.uuid).uri
            cmd, why = viewer_command(uri, self.uuid)
            if cmd is None:
                self.notify(why, severity="warning", markup=False, timeout=8)
                return
            subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            self.notify(
                f"Started virt-viewer for {self.guest_name} ({fmt.short_uri(uri)}).",
                markup=False,
                timeout=4,
            )
