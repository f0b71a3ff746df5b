"""The XML editor (e) through Pilot on the test driver: diff, confirm, save; errors keep text."""

from __future__ import annotations

from textual.widgets import TextArea

from tests.conftest import host_uri
from tests.ui.helpers import ready, select, text_of, wait_for
from vmtui.app import VmtuiApp
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.xmledit import XmlDiffScreen, XmlEditScreen


async def open_editor(app: VmtuiApp, pilot: object, name: str) -> XmlEditScreen:
    select(app, name)
    await pilot.press("e")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, XmlEditScreen))  # type: ignore[arg-type]
    screen = app.screen
    assert isinstance(screen, XmlEditScreen)
    await wait_for(pilot, lambda: screen.doc is not None)  # type: ignore[arg-type]
    return screen


async def test_a_valid_change_is_shown_as_a_diff_then_saved() -> None:
    uri = host_uri("snap_host")
    app = VmtuiApp(uri, interval=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        screen = await open_editor(app, pilot, "db")
        editor = screen.query_one("#xml", TextArea)
        assert editor.language == "xml" and editor.is_syntax_aware  # tree-sitter-xml is there
        assert "<name>db</name>" in editor.text
        editor.text = editor.text.replace("the database", "the main database")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, XmlDiffScreen))
        diff = app.screen
        assert isinstance(diff, XmlDiffScreen)
        assert "+  <description>the main database</description>" in diff.diff
        assert "-  <description>the database</description>" in diff.diff
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.saves == 1)
        await wait_for(pilot, lambda: not isinstance(app.screen, XmlEditScreen))
        entry = [e for e in app.activity if e.kind == "action"][-1]
        assert entry.text == f"virsh -c {uri} edit db" and entry.ok
        await wait_for(
            pilot,
            lambda: any(
                g.description == "the main database"
                for g in app.snapshot.guests  # type: ignore[union-attr]
            ),
        )


async def test_libvirt_refusal_is_shown_and_the_text_is_kept() -> None:
    app = VmtuiApp(host_uri("snap_host"), interval=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        screen = await open_editor(app, pilot, "db")
        editor = screen.query_one("#xml", TextArea)
        broken = editor.text.replace("<vcpu", "<vcpux").replace("</vcpu>", "</vcpux>")
        editor.text = broken
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, XmlDiffScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: "libvirt refused" in screen.error)
        assert app.screen is screen
        assert "vcpux" in text_of(screen.query_one("#xml-error"))
        assert editor.text == broken  # nothing typed is lost


async def test_a_uuid_change_is_refused_before_any_diff() -> None:
    app = VmtuiApp(host_uri("snap_host"), interval=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        screen = await open_editor(app, pilot, "db")
        editor = screen.query_one("#xml", TextArea)
        editor.text = editor.text.replace("000000000002</uuid>", "000000000009</uuid>")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is screen
        assert "changes its UUID" in screen.error


async def test_leaving_with_unsaved_changes_asks_first() -> None:
    app = VmtuiApp(host_uri("snap_host"), interval=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        screen = await open_editor(app, pilot, "db")
        screen.query_one("#xml", TextArea).text += "\n<!-- note -->"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: not isinstance(app.screen, XmlEditScreen))


async def test_networks_and_pools_open_in_the_editor_from_their_screens() -> None:
    from textual.widgets import DataTable

    from vmtui.screens.networks import NetworksScreen
    from vmtui.screens.storage import StorageScreen

    app = VmtuiApp(host_uri("small_host"), interval=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("N")
        await wait_for(pilot, lambda: isinstance(app.screen, NetworksScreen))
        nets = app.screen
        assert isinstance(nets, NetworksScreen)
        await wait_for(pilot, lambda: nets.loaded and nets.query_one(DataTable).row_count > 0)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, XmlEditScreen))
        editor = app.screen
        assert isinstance(editor, XmlEditScreen) and editor.kind == "network"
        await wait_for(pilot, lambda: editor.doc is not None)
        assert editor.query_one("#xml", TextArea).text.startswith("<network")
        await pilot.press("escape")  # unchanged: leaves at once
        await wait_for(pilot, lambda: app.screen is nets)
        await pilot.press("escape")

        await pilot.press("V")
        await wait_for(pilot, lambda: isinstance(app.screen, StorageScreen))
        storage = app.screen
        assert isinstance(storage, StorageScreen)
        await wait_for(pilot, lambda: storage.pool is not None)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, XmlEditScreen))
        editor = app.screen
        assert isinstance(editor, XmlEditScreen) and editor.kind == "pool"
        await wait_for(pilot, lambda: editor.doc is not None)
        assert editor.query_one("#xml", TextArea).text.startswith("<pool")


async def test_end_and_ctrl_end_move_in_the_xml() -> None:
    """Issue 16 #8: End goes to the end of the line, ctrl+end to the end of the XML."""
    app = VmtuiApp(host_uri("snap_host"), interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        screen = await open_editor(app, pilot, "db")
        editor = screen.query_one("#xml", TextArea)
        editor.focus()
        await pilot.press("end")
        assert editor.cursor_location == (0, len(editor.document.get_line(0)))
        await pilot.press("ctrl+end")
        assert editor.cursor_location == editor.document.end
        assert editor.cursor_location[0] > 20
        await pilot.press("ctrl+home")
        assert editor.cursor_location == (0, 0)


async def test_tab_indents_in_the_xml_editor_instead_of_moving_the_focus() -> None:
    """The app's Tab moves the focus at once (burst typing, issue 16), but not out of an
    editor that indents with it."""
    app = VmtuiApp(host_uri("snap_host"), interval=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        screen = await open_editor(app, pilot, "db")
        editor = screen.query_one("#xml", TextArea)
        editor.focus()
        before = editor.text
        await pilot.press("tab")
        assert app.focused is editor
        assert editor.text != before and editor.text.lstrip(" \t") == before.lstrip(" \t")
