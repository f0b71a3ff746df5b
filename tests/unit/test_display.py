"""Keys for sendKey, and pictures drawn as half-block cells."""

from __future__ import annotations

import io

from PIL import Image

from vmtui.backend.keys import CTRL_ALT_DEL, KEY_LEFTCTRL, KEY_LEFTSHIFT, char_keys, key_combo
from vmtui.screens.display import viewer_command
from vmtui.widgets.screen_view import UPPER_HALF, half_block_rows, is_blank


def test_characters_become_us_layout_keycodes() -> None:
    assert char_keys("a") == (30,)
    assert char_keys("A") == (KEY_LEFTSHIFT, 30)
    assert char_keys("1") == (2,)
    assert char_keys("$") == (KEY_LEFTSHIFT, 5)
    assert char_keys(" ") == (57,)
    assert char_keys("é") is None


def test_textual_keys_become_combos() -> None:
    assert key_combo("ctrl+c", None) == (KEY_LEFTCTRL, 46)
    assert key_combo("enter", "\r") == (28,)
    assert key_combo("f2", None) == (60,)
    assert key_combo("question_mark", "?") == (KEY_LEFTSHIFT, 53)
    assert CTRL_ALT_DEL == (29, 56, 111)


def png(pixels: list[list[tuple[int, int, int]]]) -> bytes:
    img = Image.new("RGB", (len(pixels[0]), len(pixels)))
    for y, row in enumerate(pixels):
        for x, p in enumerate(row):
            img.putpixel((x, y), p)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def test_each_cell_shows_two_pixels_top_as_foreground() -> None:
    red, blue = (255, 0, 0), (0, 0, 255)
    rows = half_block_rows(png([[red, red], [blue, blue]]), width=2, height=1)
    assert len(rows) == 1
    seg = rows[0][0]
    assert seg.text == UPPER_HALF * 2  # equal cells merged
    assert seg.style is not None
    assert seg.style.color is not None and seg.style.color.triplet == red
    assert seg.style.bgcolor is not None and seg.style.bgcolor.triplet == blue


def test_blank_pictures_are_recognised() -> None:
    black = (0, 0, 0)
    assert is_blank(png([[black, black], [black, black]]))
    assert not is_blank(png([[black, (200, 200, 200)], [black, black]]))


def test_external_viewer_explains_when_it_cannot_run(monkeypatch: object) -> None:
    import shutil

    mp = monkeypatch  # type: ignore[assignment]
    mp.setattr(shutil, "which", lambda _name: None)  # type: ignore[attr-defined]
    cmd, why = viewer_command("qemu:///system", "web1")
    assert cmd is None and "install virt-viewer" in why


def test_external_viewer_gets_the_uuid_after_a_double_dash(monkeypatch: object) -> None:
    """Issue 14 #12: the guest's name went as a bare argument (a name starting with '-' is an
    option to virt-viewer, a numeric one another guest's ID)."""
    import shutil

    mp = monkeypatch  # type: ignore[assignment]
    mp.setattr(shutil, "which", lambda _name: "/usr/bin/virt-viewer")  # type: ignore[attr-defined]
    mp.setenv("DISPLAY", ":0")  # type: ignore[attr-defined]
    uuid = "6695eb01-f6a4-8304-79aa-97f2502e193f"
    cmd, why = viewer_command("qemu:///system", uuid)
    assert why == ""
    assert cmd == ["/usr/bin/virt-viewer", "--connect", "qemu:///system", "--", uuid]
