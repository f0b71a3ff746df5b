"""The dashboard's sort order, remembered across restarts in the config file's
``[dashboard]`` table (``sort = "cpu"``, ``descending = true``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from textual.dom import DOMNode
from textual.message import Message

from vmtui.control.runner import sentence
from vmtui.control.services import services
from vmtui.widgets.guest_sort import SORT_NAMES

SECTION = "dashboard"
T = TypeVar("T")


def sort_sentence(column: str, descending: bool, words: str = "") -> str:
    """What the table is sorted by now, said to the user (``words``: the column's name)."""
    what = words or SORT_NAMES.get(column, column)
    if column in ("name", "host", "tags"):
        way = "Z to A" if descending else "A to Z"
    elif column == "state":
        way = "stopped first" if descending else "running first"
    elif column == "iso":
        way = "most isolated first" if descending else "most exposed first"
    elif column == "auto":
        way = "autostarting first" if descending else "autostarting last"
    else:
        way = "biggest first" if descending else "smallest first"
    return f"Sorted by {what}, {way} (o: next column, O: reverse)."


def parse_sort(table: dict[str, Any]) -> tuple[str, bool] | None:
    """The sort a ``[dashboard]`` table holds; None when it holds none we know."""
    column = table.get("sort")
    descending = table.get("descending", False)
    # a column of this version, or one a later version added (sorted by its shown text)
    if not isinstance(column, str) or not (column.isidentifier() and len(column) <= 32):
        return None
    return column, descending if isinstance(descending, bool) else False


class SortStore:
    """Reads the saved sort once, and saves each change in a worker, one write at a time
    (the last change wins, however fast the keys come)."""

    def __init__(self, node: DOMNode) -> None:
        self._node = node
        self._writing = False
        self._pending: tuple[str, bool] | None = None
        self._chosen = False  # the user chose a sort before the saved one was read

    def load(self, apply: Callable[[str, bool], None]) -> None:
        store = services(self._node).connection_store()

        def read() -> tuple[str, bool] | None:
            return parse_sort(store.section(SECTION))

        def done(found: tuple[str, bool] | None) -> None:
            if found is not None and not self._chosen:
                apply(*found)

        # a config file that does not parse is reported by the connections screen; here
        # the table keeps its order by name
        self._in_worker(read, done, lambda _: None, "read the saved sort order")

    def save(self, column: str, descending: bool) -> None:
        self._chosen = True
        self._pending = (column, descending)
        if not self._writing:
            self._write()

    def _write(self) -> None:
        if self._pending is None:
            return
        column, descending = self._pending
        self._pending = None
        self._writing = True
        store = services(self._node).connection_store()
        self._in_worker(
            lambda: store.update_section(SECTION, {"sort": column, "descending": descending}),
            self._written,
            self._failed,
            "remember the sort order",
        )

    def _in_worker(
        self,
        call: Callable[[], T],
        done: Callable[[T], None],
        failed: Callable[[str], None],
        what: str,
    ) -> None:
        """``call`` in a thread worker, its outcome back on the UI thread (a SettingDone
        message to the screen). Not the app's runner: that asks every host for a poll after
        each call, which a setting does not need (at start, with thousands of guests, it
        would cost a second full poll)."""
        node = self._node

        def work() -> None:
            try:
                result = call()
            except Exception as err:  # never a traceback: a sentence
                said = sentence(err, f"Could not {what}: {{err}}.")
                node.post_message(SettingDone(lambda: failed(said)))
                return
            node.post_message(SettingDone(lambda: done(result)))

        node.app.run_worker(
            work, thread=True, exit_on_error=False, group="settings", description=what
        )

    def _written(self, _result: object) -> None:
        self._writing = False
        self._write()

    def _failed(self, said: str) -> None:
        self._writing = False
        self._node.app.notify(
            f"The sort order is not remembered: {said}",
            markup=False,
            severity="warning",
            timeout=6,
        )
        self._write()


@dataclass(eq=False)
class SettingDone(Message):
    """A setting was read or saved: ``callback`` goes on with it on the UI thread (the
    screen that owns the SortStore calls it)."""

    callback: Callable[[], None]
