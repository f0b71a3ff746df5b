"""core/safetext: what may reach the terminal from a libvirt, guest or config string."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from vmtui.core.safetext import has_unsafe, safe_text


def test_plain_text_and_markup_looking_text_pass_unchanged() -> None:
    for name in ("web1", "[red]x[/]", "[@click=app.quit]", "-rf", "ünïcødé 名前 🙂", "a b"):
        assert safe_text(name) == name
        assert not has_unsafe(name)


def test_c0_c1_controls_become_visible_escapes() -> None:
    assert safe_text("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert safe_text("a\x9b31mb") == "a\\x9b31mb"  # C1 CSI
    assert safe_text("x\x9d0;title\x07") == "x\\x9d0;title\\x07"  # C1 OSC ... BEL
    assert safe_text("a\x00b\x7f") == "a\\x00b\\x7f"
    assert safe_text("line1\nline2\r") == "line1\\x0aline2\\x0d"


def test_bidi_and_zero_width_characters_are_shown() -> None:
    assert safe_text("evil\u202egnp.exe") == "evil\\u202egnp.exe"
    assert safe_text("web\u200b1") == "web\\u200b1"
    assert safe_text("a\u2066b\u2069") == "a\\u2066b\\u2069"
    assert safe_text("tag\U000e0041") == "tag\\U000e0041"  # a Unicode tag character
    # look-alikes stay apart once shown
    assert safe_text("web1") != safe_text("web\u200b1")


def test_multiline_keeps_line_feeds_only() -> None:
    assert safe_text("a\nb\tc\x1b", multiline=True) == "a\nb c\\x1b"


@given(st.text())
def test_output_is_safe_and_idempotent(text: str) -> None:
    shown = safe_text(text)
    assert safe_text(shown) == shown
    for ch in shown:
        assert unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp", "Cs"), repr(ch)
    assert not has_unsafe(shown)


def test_xml_char_refs_shows_the_same_document() -> None:
    import xml.etree.ElementTree as ET

    from vmtui.core.safetext import xml_char_refs

    xml = "<domain>\n\t<name>web\u202egnp\x9b</name><title a='\u200b'>ok é</title>\r\n</domain>"
    shown = xml_char_refs(xml)
    assert shown == (
        "<domain>\n\t<name>web&#x202e;gnp&#x9b;</name><title a='&#x200b;'>ok é</title>\r\n</domain>"
    )
    assert ET.tostring(ET.fromstring(shown)) == ET.tostring(ET.fromstring(xml))


@given(st.text())
def test_safe_output_leaves_no_c1_bidi_or_zero_width(text: str) -> None:
    from vmtui.core.safetext import OUTPUT_UNSAFE, safe_output

    out = safe_output(text)
    assert len(out) == len(text)
    assert not any(ord(c) in OUTPUT_UNSAFE for c in out)
    assert all(a == b for a, b in zip(out, text, strict=True) if ord(b) not in OUTPUT_UNSAFE)
