"""The / query on the dashboard, driven with Pilot against the test driver."""

from __future__ import annotations

from textual.widgets import Input

from tests.conftest import host_uri
from tests.ui.helpers import ready, table, wait_for
from vmtui.app import VmtuiApp

SIZE = (100, 30)


def make_app() -> VmtuiApp:
    return VmtuiApp(host_uri("small_host"), interval=0.2)


def shown_names(app: VmtuiApp) -> list[str]:
    t = table(app)
    return [t.shown_text(u)[0] for u in t.shown_uuids]  # type: ignore[index]


async def type_query(pilot: object, app: VmtuiApp, text: str) -> None:
    box = app.screen.query_one("#filter", Input)
    box.value = text
    await pilot.pause(0.05)  # type: ignore[attr-defined]


async def test_query_terms_filter_the_table() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("/")
        await pilot.press(*"state:running")
        await wait_for(pilot, lambda: shown_names(app) == ["alpha", "temp"])
        await type_query(pilot, app, "state:paused, beta")
        await wait_for(pilot, lambda: shown_names(app) == ["beta", "gamma"])
        await type_query(pilot, app, "mem>300M")
        await wait_for(pilot, lambda: shown_names(app) == ["alpha", "beta"])
        await type_query(pilot, app, "name~^(al|ga)")
        await wait_for(pilot, lambda: shown_names(app) == ["alpha", "gamma"])
        await type_query(pilot, app, "state:off -saved")
        await wait_for(pilot, lambda: shown_names(app) == ["beta"])


async def test_a_bad_query_says_what_is_wrong_and_keeps_the_table() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("/")
        await pilot.press(*"state:paused")
        await wait_for(pilot, lambda: shown_names(app) == ["gamma"])
        box = app.screen.query_one("#filter", Input)
        await type_query(pilot, app, "state:paused cpu>lots")
        # the previous filter still holds, and the box says what is wrong and where
        assert shown_names(app) == ["gamma"]
        assert "'lots' is not a number" in str(box.border_subtitle)
        assert "column 14" in str(box.border_subtitle)
        assert box.has_class("error")
        await pilot.press("enter")  # submitting it explains again, and stays in the box
        await wait_for(
            pilot, lambda: any("is not a number" in n.message for n in app._notifications)
        )
        assert box.has_focus
        assert shown_names(app) == ["gamma"]
        # fixing it applies it and clears the complaint
        await type_query(pilot, app, "state:paused, vcpus>=2")
        await wait_for(pilot, lambda: shown_names(app) == ["alpha", "gamma"])
        assert not box.border_subtitle
        assert not box.has_class("error")
        await pilot.press("escape")
        await wait_for(pilot, lambda: table(app).row_count == 5)


async def test_host_terms_pick_one_host_of_several() -> None:
    from vmtui.demo import DEMO_URI

    small = host_uri("small_host")
    app = VmtuiApp([DEMO_URI, small], interval=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.guests) >= 18)
        await pilot.press("/")
        await type_query(pilot, app, "host:small_host")
        await wait_for(pilot, lambda: table(app).row_count == 5)
        assert shown_names(app) == ["alpha", "beta", "gamma", "saved", "temp"]
        await type_query(pilot, app, "host:small_host state:running, host:nowhere")
        await wait_for(pilot, lambda: shown_names(app) == ["alpha", "temp"])
        demo = len([g for g in app.snapshot.guests if g.host == DEMO_URI])  # type: ignore[union-attr]
        await type_query(pilot, app, "-host:small_host")
        await wait_for(pilot, lambda: table(app).row_count == demo)


async def test_markup_typed_in_the_filter_is_shown_as_text_not_parsed() -> None:
    """Issue 14 #6: a query error quoting '[/' went into the border subtitle as markup and
    crashed the app with a MarkupError."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("/")
        await pilot.press(*"cpu>[/")
        await pilot.pause(0.1)
        box = app.screen.query_one("#filter", Input)
        assert box.has_class("error")
        assert "[/" in box._border_subtitle.plain  # type: ignore[union-attr]
        await pilot.press("backspace", *"x][@click=app.quit]")
        await pilot.pause(0.1)
        assert app.is_running


def burst(app: VmtuiApp, keys: str) -> None:
    """Hand keys to the app back to back, as a terminal does with a paste or a fast typist
    over ssh: none waits for the one before it to be handled (Pilot.press would)."""
    from textual import events

    driver = app._driver
    assert driver is not None
    for ch in keys:
        event = events.Key({"/": "slash", " ": "space"}.get(ch, ch), ch)
        event.set_sender(app)
        driver.send_message(event)  # as the terminal driver hands a key over


async def test_keys_typed_right_after_slash_go_to_the_filter_not_the_table() -> None:
    """'/st' typed in one burst with a shut-off guest under the cursor: the filter gets "st"
    and the guest is not started ('s' is the table's start key)."""
    from tests.ui.helpers import select, state_of

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        select(app, "beta")
        assert state_of(app, "beta") == "shut off"
        burst(app, "/st")
        box = app.screen.query_one("#filter", Input)
        await wait_for(pilot, lambda: box.value == "st")
        await pilot.pause(0.5)  # a start, had it been asked, would show by now (0.2 s polls)
        snap = app.snapshot
        assert snap is not None
        assert next(g for g in snap.guests if g.name == "beta").state.label == "shut off"
        assert "started" not in " ".join(str(n.message) for n in app._notifications).lower()


async def test_a_slash_typed_in_the_query_is_part_of_it() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("/")
        await pilot.press(*"name~al/")
        box = app.screen.query_one("#filter", Input)
        await wait_for(pilot, lambda: box.value == "name~al/")
        assert box.has_class("shown")
