"""Edit a guest's (or a network's, or a storage pool's) XML: key e.

ctrl+s shows a unified diff of what changes and asks; yes defines it with libvirt's schema
validation. A refused save shows libvirt's message above the editor and keeps the text:
nothing typed is lost. escape leaves (asking first when there are unsaved changes).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Static, TextArea

from vmtui.backend import Hypervisor, VmtuiError
from vmtui.backend.xmledit import (
    NOUNS,
    XmlDocument,
    check_edit,
    edit_words,
    read_xml,
    save_xml,
    unified_diff,
)
from vmtui.control.services import services
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.hostview import HostView
from vmtui.widgets.status_line import StatusLine


def diff_text(diff: str) -> Text:
    """The diff coloured line by line (plain text: the XML is never read as markup)."""
    out = Text(no_wrap=True, overflow="ellipsis")
    for line in diff.splitlines(keepends=True):
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("@@"):
            style = "cyan"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        else:
            style = "dim"
        out.append(line, style=style)
    return out


class XmlDiffScreen(ModalScreen[bool]):
    """Show what a save changes; True only on an explicit yes."""

    BINDINGS = [
        Binding("y", "answer(True)", "Save", show=False),
        Binding("n,escape", "answer(False)", "Back", show=False),
    ]

    def __init__(self, doc: XmlDocument, diff: str) -> None:
        super().__init__()
        self.doc = doc
        self.diff = diff

    def compose(self) -> ComposeResult:
        doc = self.doc
        note = f"Save these changes to {doc.noun} {doc.name}?"
        if doc.active:
            started = "running" if doc.kind == "domain" else "active"
            note += f" It is {started}: most changes apply from its next start."
        with Vertical(id="dialog", classes="dialog help"):
            yield Label(note, id="title", markup=False)
            with VerticalScroll(id="diff"):
                yield Static(diff_text(self.diff), markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Save (y)", variant="primary", id="yes")
                yield Button("Back to editing (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class XmlEditScreen(HostView):
    """The XML of one object in an editor with XML highlighting."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True),
        # priority: the editor would otherwise take the first escape to drop its focus
        Binding("escape", "back", "Back", priority=True),
        # End / Home move within the line (the editor's own); with ctrl, to the text's ends
        Binding("ctrl+end", "document_end", "End of the XML", show=False),
        Binding("ctrl+home", "document_start", "Start of the XML", show=False),
    ]

    def __init__(self, kind: str, uuid: str, name: str, host: str = "") -> None:
        super().__init__()
        self.kind = kind
        self.uuid = uuid
        self.object_name = name
        self.host = host
        self.doc: XmlDocument | None = None
        self.error = ""
        self.saves = 0

    def compose(self) -> ComposeResult:
        noun = NOUNS.get(self.kind, self.kind)
        yield Label(
            f"XML of {noun} {self.object_name} · ctrl+s save · esc back",
            id="guest-title",
            markup=False,
        )
        yield Static("", id="xml-error", markup=False)
        editor = TextArea.code_editor("", language="xml", id="xml", soft_wrap=False)
        editor.disabled = True  # until the XML is read
        yield editor
        yield StatusLine()
        yield Footer()

    def _hypervisor(self) -> Hypervisor:
        if self.kind == "domain" and not self.host:
            return services(self).hypervisor_for(self.uuid)
        return services(self).hypervisor_for_uri(self.host)

    def on_mount(self) -> None:
        try:
            hv = self._hypervisor()
        except VmtuiError as err:
            self._show_error(err.message)
            return
        services(self).runner.run(
            lambda: read_xml(hv, self.kind, self.uuid),
            done=self._loaded,
            failed=self._show_error,
            what=f"read the XML of {self.object_name}",
        )

    @property
    def editor(self) -> TextArea:
        return self.query_one("#xml", TextArea)

    def _loaded(self, doc: XmlDocument) -> None:
        self.doc = doc
        self.editor.load_text(doc.xml)
        self.editor.disabled = False
        self.editor.focus()

    def _show_error(self, error: str) -> None:
        self.error = error
        self.query_one("#xml-error", Static).update(Text(error, style="red"))

    @property
    def modified(self) -> bool:
        return self.doc is not None and self.editor.text != self.doc.xml

    def action_document_end(self) -> None:
        editor = self.editor
        editor.move_cursor(editor.document.end)
        editor.scroll_cursor_visible()

    def action_document_start(self) -> None:
        self.editor.move_cursor((0, 0))
        self.editor.scroll_cursor_visible()

    def unsaved_work(self) -> str | None:
        """What quitting would lose (control/work.py): the text not saved yet."""
        if not self.is_mounted or not self.modified:
            return None
        return f"unsaved changes to the XML of {NOUNS.get(self.kind, self.kind)} {self.object_name}"

    def action_save(self) -> None:
        doc = self.doc
        if doc is None:
            return
        edited = self.editor.text
        diff = unified_diff(doc, edited)
        if not diff:
            self.notify("Nothing changed.", timeout=3)
            return
        try:
            check_edit(doc, edited)
        except VmtuiError as err:
            self._show_error(err.message)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._save(doc, edited)

        self.app.push_screen(XmlDiffScreen(doc, diff), answered)

    def _save(self, doc: XmlDocument, edited: str) -> None:
        hv = self._hypervisor()
        self._show_error("")
        services(self).runner.run(
            lambda: save_xml(hv, doc, edited),
            done=self._saved,
            failed=self._show_error,  # the text stays in the editor
            what=f"save the XML of {doc.name}",
            success=f"Saved the XML of {doc.noun} {doc.name}.",
            command=edit_words(doc.kind, doc.name),
            host=hv.uri,
        )

    def _saved(self, doc: XmlDocument) -> None:
        self.saves += 1
        self.doc = doc
        if self.app.screen is self:
            self.app.pop_screen()

    def action_back(self) -> None:
        if not self.modified:
            self.app.pop_screen()
            return

        ConfirmScreen(
            f"Leave without saving {self.object_name}?",
            "Your changes to the XML are not saved and will be lost; "
            f"the {NOUNS.get(self.kind, self.kind)} stays as it is.",
            confirm="Discard",
        ).ask(self.app, self.app.pop_screen)
