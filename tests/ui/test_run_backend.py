"""App.run_backend: the one way screens run a blocking backend call."""

from __future__ import annotations

from vmtui.app import VmtuiApp
from vmtui.backend import ActionFailed

from .helpers import wait_for


async def test_result_reaches_done_on_the_ui_thread(small_host: str) -> None:
    app = VmtuiApp(small_host)
    got: list[int] = []
    async with app.run_test() as pilot:
        app.run_backend(lambda: 6 * 7, done=got.append, success="Worked.")
        await wait_for(pilot, lambda: got == [42])
        assert any(n.message == "Worked." for n in app._notifications)


async def test_a_backend_error_is_a_sentence_not_a_traceback(small_host: str) -> None:
    app = VmtuiApp(small_host)
    errors: list[str] = []

    def boom() -> None:
        raise ActionFailed("The pool default is full.")

    def crash() -> None:
        raise KeyError("x")

    async with app.run_test() as pilot:
        app.run_backend(boom, failed=errors.append)
        app.run_backend(crash, failed=errors.append, what="read the pool")
        await wait_for(pilot, lambda: len(errors) == 2)
        assert "The pool default is full." in errors
        assert "Could not read the pool: 'x'." in errors
