"""The XML editor on the real daemon, through the screen: a valid change is defined with
validation; an invalid one shows libvirt's error and keeps the text."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import libvirt
from textual.widgets import TextArea

from vmtui.app import VmtuiApp
from vmtui.screens.xmledit import XmlDiffScreen, XmlEditScreen

from .helpers import guest_table, wait_for

URI = "qemu:///system"


async def _open_editor(pilot: Any, app: VmtuiApp, name: str) -> XmlEditScreen:
    await wait_for(
        pilot,
        lambda: app.snapshot is not None and any(g.name == name for g in app.snapshot.guests),
        what=f"{name} listed",
    )
    assert app.snapshot is not None
    uuid = next(g.uuid for g in app.snapshot.guests if g.name == name)
    table = guest_table(app)
    table.move_cursor(row=table.get_row_index(uuid), animate=False)
    await pilot.press("e")
    await wait_for(pilot, lambda: isinstance(app.screen, XmlEditScreen), what="editor")
    screen = app.screen
    assert isinstance(screen, XmlEditScreen)
    await wait_for(pilot, lambda: screen.doc is not None, what="XML loaded")
    return screen


async def test_memory_change_is_defined(
    libvirtd: str, libvirt_conn: Any, tiny_domain_factory: Callable[..., str]
) -> None:
    name = tiny_domain_factory("xml", memory_mib=128)
    app = VmtuiApp(URI, interval=0.5)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open_editor(pilot, app, name)
        editor = screen.query_one("#xml", TextArea)
        root = ET.fromstring(editor.text)
        assert root.findtext("memory") == str(128 * 1024)
        text = editor.text.replace(
            "<memory unit='KiB'>131072</memory>", "<memory unit='KiB'>196608</memory>"
        ).replace(
            "<currentMemory unit='KiB'>131072</currentMemory>",
            "<currentMemory unit='KiB'>196608</currentMemory>",
        )
        assert text != editor.text
        editor.text = text
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, XmlDiffScreen), what="diff")
        await pilot.press("y")
        await wait_for(
            pilot, lambda: screen.saves == 1, what="saved", describe=lambda: screen.error
        )
    dom = libvirt_conn.lookupByName(name)
    defined = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    assert defined.findtext("memory") == "196608"
    assert defined.findtext("currentMemory") == "196608"


async def test_invalid_xml_shows_libvirts_error_and_keeps_the_text(
    libvirtd: str, libvirt_conn: Any, tiny_domain_factory: Callable[..., str]
) -> None:
    name = tiny_domain_factory("xmlbad")
    before = libvirt_conn.lookupByName(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    app = VmtuiApp(URI, interval=0.5)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open_editor(pilot, app, name)
        editor = screen.query_one("#xml", TextArea)
        # Well-formed, but not a valid domain: only libvirt's schema check can say so.
        broken = editor.text.replace("<on_crash>destroy</on_crash>", "<on_crash>explode</on_crash>")
        assert broken != editor.text
        editor.text = broken
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, XmlDiffScreen), what="diff")
        await pilot.press("y")
        await wait_for(pilot, lambda: bool(screen.error), what="an error")
        assert "libvirt refused the XML of guest" in screen.error
        assert "on_crash" in screen.error or "validate" in screen.error
        assert app.screen is screen and editor.text == broken
    after = libvirt_conn.lookupByName(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    assert after == before
