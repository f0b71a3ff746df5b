"""Backend calls in thread workers, their outcome reported on the UI thread.

The one place where an exception from a worker becomes a sentence for the user (never a
traceback) and where a changing call is written to the activity log as its virsh line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from textual.app import App

from vmtui.backend import VmtuiError
from vmtui.control.messages import CallFinished
from vmtui.core.activity import ActivityLog, virsh
from vmtui.core.safetext import safe_text

T = TypeVar("T")


def sentence(err: Exception, unexpected: str) -> str:
    """What to tell the user about ``err``: the backend's own sentence (VmtuiError), else
    ``unexpected`` followed by the error (a bug or a library's surprise, said plainly)."""
    if isinstance(err, VmtuiError):
        return err.message
    return safe_text(unexpected.format(err=err), multiline=True)  # may quote guest data


class Runner:
    """Runs backend calls for the app; ``finished`` is called with each outcome on the UI
    thread (the app routes ``CallFinished`` to it)."""

    def __init__(
        self,
        app: App[Any],
        activity: ActivityLog,
        request_poll: Callable[[str | None], None],
    ) -> None:
        self._app = app
        self._activity = activity
        self._request_poll = request_poll

    def run(
        self,
        call: Callable[[], T],
        *,
        done: Callable[[T], None] | None = None,
        failed: Callable[[str], None] | None = None,
        what: str = "finish that",
        success: str | Callable[[T], str] | None = None,
        command: Sequence[str] | str = (),
        host: str = "",
    ) -> None:
        """Run a blocking backend call in a thread worker; then, on the UI thread, call
        ``done(result)`` (and notify ``success``, a sentence or one made from the result),
        or ``failed(sentence)`` — by default a red notification. The sentence is the
        backend's own (VmtuiError), or "Could not <what>: <error>." for anything unexpected.

        A call that changes state passes ``command``: the equivalent virsh arguments
        (``("setvcpus", name, "2", "--live")``) or a whole command line, and ``host``, the
        connection URI; the activity log records it with its outcome."""
        line = command if isinstance(command, str) else (virsh(host, *command) if command else "")

        def work() -> None:
            try:
                result = call()
                said = success(result) if callable(success) else success
            except Exception as err:  # never a traceback on screen
                error = sentence(err, f"Could not {what}: {{err}}.")
                self._app.post_message(
                    CallFinished(done, error=error, failed=failed, command=line, host=host)
                )
                return
            self._app.post_message(
                CallFinished(done, result=result, success=said or "", command=line, host=host)
            )

        self._app.run_worker(
            work, thread=True, exit_on_error=False, group="backend", description=what
        )

    def finished(self, message: CallFinished) -> None:
        """On the UI thread: log, tell the user, hand the result on, poll soon."""
        if message.command:
            outcome = message.error or message.success or "Done."
            self._activity.action(message.host, message.command, not message.error, outcome)
        if message.error:
            if message.failed is not None:
                message.failed(message.error)
            else:
                self._app.notify(message.error, markup=False, severity="error", timeout=8)
        else:
            if message.success:
                self._app.notify(message.success, markup=False, timeout=3)
            if message.done is not None:
                message.done(message.result)
        self._request_poll(None)

    def close_quietly(self, close: Callable[[], None], what: str) -> None:
        """Close something (a connection, a console session) without waiting for it."""
        self._app.run_worker(
            close, thread=True, exit_on_error=False, group="close", description=what
        )
