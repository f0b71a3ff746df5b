"""Issue 14, "prove the class": hypothesis text typed and pasted into every input never raises.

One app (the hostile test host) per example; the example's texts go into the ``/`` filter, the
``:`` line, the tags prompt and every Input of each form: connections, clone, new snapshot, new
network, new volume, shared folder, allocation and the new-guest wizard. Printable characters
are typed as keys; the whole text (controls, bidi, markup and all) is also pasted, as a
terminal delivers a paste. Nothing is submitted: the point is that typing cannot crash vmtui.
"""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from textual import events
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input

from tests.conftest import host_uri
from tests.ui.helpers import table, wait_for
from tests.ui.rendered import screen_text, unsafe_characters
from vmtui.app import VmtuiApp
from vmtui.screens.allocation import AllocationScreen
from vmtui.screens.bulk import PromptScreen
from vmtui.screens.clone import CloneScreen
from vmtui.screens.command import CommandLineScreen
from vmtui.screens.confirm import ConfirmScreen
from vmtui.screens.connections import ConnectionForm, ConnectionsScreen
from vmtui.screens.create import CreateScreen
from vmtui.screens.dashboard import DashboardScreen
from vmtui.screens.form import FormScreen
from vmtui.screens.isolation import IsolationScreen
from vmtui.screens.networks import NetworksScreen
from vmtui.screens.snapshots import SnapshotsScreen
from vmtui.screens.storage import StorageScreen

RUNNING = "bad00000-0000-4000-8000-000000000001"
SHUT_OFF = "bad00000-0000-4000-8000-000000000006"
QCOW2_ONLY = "bad00000-0000-4000-8000-000000000003"

HOSTILE_CHARS = "[]/@=:;!-~\\\"'\x1b\x07\x00\x7f\x85\x9b\x9d\u202e\u2066\u200b\ufeff\n\t é名"
TEXT = st.text(
    alphabet=st.one_of(st.sampled_from(HOSTILE_CHARS), st.characters(codec="utf-8")),
    max_size=24,
)
MARKUP = st.sampled_from(["[/", "[red]", "[@click=app.quit]", "[/]x[", "\\[", "-" * 1500 + "x"])
TEXTS = st.lists(st.one_of(TEXT, MARKUP), min_size=3, max_size=3)


def _typable(text: str) -> list[str]:
    """The characters of ``text`` a person can type as keys (ASCII printable)."""
    return [c for c in text if c.isascii() and c.isprintable()][:6]


async def _fuzz_inputs(pilot: Pilot[None], app: VmtuiApp, texts: list[str], where: str) -> int:
    """Paste and type ``texts`` into every enabled Input of the current screen, then check
    that the app runs and that what it draws holds no unsafe character."""
    done = 0
    boxes = list(app.screen.query(Input))
    for i, box in enumerate(boxes):
        if box.disabled or not box.display:
            continue
        box.focus()
        await pilot.pause()
        if app.focused is not box:
            continue
        text = "".join(texts) if len(boxes) == 1 else texts[i % len(texts)]
        app.post_message(events.Paste(text))  # as the driver delivers a paste
        await pilot.pause()
        if app.focused is box:  # typing goes to the box only (keys elsewhere are actions)
            await pilot.press(*_typable(text))
        assert app.is_running, f"{where}: the app stopped after {text!r} in #{box.id}"
        done += 1
    await pilot.pause(0.05)
    assert app.is_running, f"{where}: the app stopped after {texts!r}"
    bad = unsafe_characters(screen_text(app))
    assert not bad, f"{where}: after {texts!r} the screen holds {bad}"
    return done


async def _open(pilot: Pilot[None], app: VmtuiApp, key: str, kind: type[Screen[object]]) -> None:
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, kind))
    await pilot.pause(0.1)


async def _back(pilot: Pilot[None], app: VmtuiApp) -> None:
    for _ in range(10):
        if isinstance(app.screen, DashboardScreen):
            return
        # a form with typed text asks before it drops it: drop it
        await pilot.press("y" if isinstance(app.screen, ConfirmScreen) else "escape")
        await pilot.pause(0.05)
    assert isinstance(app.screen, DashboardScreen), app.screen


def _select(app: VmtuiApp, uuid: str) -> None:
    t = table(app)
    t.move_cursor(row=t.get_row_index(uuid), animate=False)


async def _drive(texts: list[str]) -> None:
    app = VmtuiApp(host_uri("hostile_host"), interval=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and table(app).row_count >= 10)
        typed = 0
        await pilot.press("slash")
        typed += await _fuzz_inputs(pilot, app, texts, "/ filter")
        await pilot.press("escape")  # the filter is on the dashboard: esc leaves it
        await pilot.pause(0.05)
        await _open(pilot, app, "colon", CommandLineScreen)
        typed += await _fuzz_inputs(pilot, app, texts, ": line")
        await _back(pilot, app)
        _select(app, RUNNING)
        await _open(pilot, app, "t", PromptScreen)
        typed += await _fuzz_inputs(pilot, app, texts, "tags")
        await _back(pilot, app)
        await _open(pilot, app, "H", ConnectionsScreen)
        await _open(pilot, app, "a", ConnectionForm)
        typed += await _fuzz_inputs(pilot, app, texts, "connection form")
        await _back(pilot, app)
        _select(app, SHUT_OFF)
        await _open(pilot, app, "K", CloneScreen)
        typed += await _fuzz_inputs(pilot, app, texts, "clone")
        await _back(pilot, app)
        _select(app, QCOW2_ONLY)  # a raw disk would refuse snapshots (and the form)
        await _open(pilot, app, "S", SnapshotsScreen)
        await _open(pilot, app, "n", FormScreen)
        typed += await _fuzz_inputs(pilot, app, texts, "new snapshot")
        await _back(pilot, app)
        await _open(pilot, app, "N", NetworksScreen)
        await _open(pilot, app, "c", FormScreen)
        typed += await _fuzz_inputs(pilot, app, texts, "new network")
        await _back(pilot, app)
        await _open(pilot, app, "V", StorageScreen)
        await pilot.pause(0.3)
        await _open(pilot, app, "c", FormScreen)
        typed += await _fuzz_inputs(pilot, app, texts, "new volume")
        await _back(pilot, app)
        _select(app, SHUT_OFF)
        await _open(pilot, app, "i", IsolationScreen)
        await _open(pilot, app, "f", FormScreen)
        typed += await _fuzz_inputs(pilot, app, texts, "shared folder")
        await _back(pilot, app)
        _select(app, SHUT_OFF)
        await _open(pilot, app, "A", AllocationScreen)
        await pilot.pause(0.3)
        typed += await _fuzz_inputs(pilot, app, texts, "allocation")
        await _back(pilot, app)
        await _open(pilot, app, "n", CreateScreen)
        typed += await _fuzz_inputs(pilot, app, texts, "new guest")
        await _back(pilot, app)
        assert typed >= 20, typed  # every form's inputs were reached


# Each example starts an app and visits eleven screens (15-40 s on a busy 2-core machine):
# few examples, no shrinking (a failure names the texts as drawn: enough to reproduce it).
@settings(
    max_examples=2,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@example(["[/", "x\x9b[@click=app.quit]\u202e", "-" * 1300 + "web"])
@given(TEXTS)
def test_typing_anything_into_any_input_never_raises(texts: list[str]) -> None:
    asyncio.run(_drive(texts))
