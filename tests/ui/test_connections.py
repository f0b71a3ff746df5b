"""The connections screen (H): add, connect, disconnect, edit, remove; the file stays sound."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.widgets import Checkbox, DataTable, Input, Select, Static

from vmtui.app import VmtuiApp
from vmtui.backend.connections import ConnectionSpec, ConnectionStore
from vmtui.cli import load_saved, parse_args, resolve_uris
from vmtui.demo import DEMO_HOST, DEMO_URI
from vmtui.screens.connections import ConnectionForm, ConnectionsScreen
from vmtui.widgets.guest_table import GuestTable

from .helpers import click, guest_named, table, text_of, wait_for
from .rendered import screen_text


def make_app(uri: str, config: Path) -> VmtuiApp:
    app = VmtuiApp(uri)
    app.config_file = config
    return app


def screen(app: VmtuiApp) -> ConnectionsScreen:
    assert isinstance(app.screen, ConnectionsScreen), app.screen
    return app.screen


def form(app: VmtuiApp) -> ConnectionForm:
    assert isinstance(app.screen, ConnectionForm), app.screen
    return app.screen


def shown_rows(app: VmtuiApp) -> list[tuple[str, str, str]]:
    grid = screen(app).query_one(DataTable)
    return [tuple(str(c) for c in grid.get_row_at(i)) for i in range(grid.row_count)]  # type: ignore[misc]


async def fill(app: VmtuiApp, **fields: str) -> None:
    f = form(app)
    for key, value in fields.items():
        if key in ("driver", "transport"):
            f.query_one(f"#{key}", Select).value = value
        else:
            f.query_one(f"#{key}", Input).value = value


async def test_a_second_test_host_is_added_connected_shown_and_disconnected(
    small_host: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    app = make_app(small_host, config)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.guests) == 5)
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionsScreen))
        await wait_for(pilot, lambda: screen(app).loaded)
        # the session's own host is listed, connected, though not saved
        assert shown_rows(app) == [("small_host", "connected", small_host)]

        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionForm))
        await fill(app, name="demo", driver="test", transport="local", path=str(DEMO_HOST))
        await pilot.pause()
        assert text_of(form(app).query_one("#uri-preview", Static)).strip() == f"URI: {DEMO_URI}"
        assert text_of(form(app).query_one("#problem", Static)).strip() == "✓ Ready."
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionsScreen))
        await wait_for(pilot, lambda: len(shown_rows(app)) == 2)
        assert ConnectionStore(config).load() == [
            ConnectionSpec("demo", driver="test", transport="local", path=str(DEMO_HOST))
        ]
        assert shown_rows(app)[0] == ("demo", "not connected", DEMO_URI)

        screen(app).query_one(DataTable).move_cursor(row=0)
        await pilot.press("c")
        await wait_for(pilot, lambda: shown_rows(app)[0][1] == "connected")
        assert list(app.hosts) == [small_host, DEMO_URI]

        await pilot.press("escape")  # the dashboard shows the guests of both hosts
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.guests) >= 18)
        assert "host" in table(app).column_keys
        assert table(app).shown_cell(guest_named(app, "web1").uuid, "host") == "demo-host"

        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionsScreen))
        await wait_for(pilot, lambda: len(shown_rows(app)) == 2)
        screen(app).query_one(DataTable).move_cursor(row=0)
        await pilot.press("x")
        await wait_for(pilot, lambda: shown_rows(app)[0][1] == "not connected")
        assert list(app.hosts) == [small_host]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.guests) == 5)
        assert "host" not in app.screen.query_one(GuestTable).column_keys


async def test_the_form_says_why_an_injection_is_refused_and_saves_nothing(
    small_host: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    app = make_app(small_host, config)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionsScreen))
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionForm))
        for fields, says in [
            ({"name": "hv2", "host": "hv2;reboot"}, "The host 'hv2;reboot' contains ';'"),
            ({"host": "hv2", "user": "$(reboot)"}, "The user '$(reboot)' contains '$'"),
            ({"user": "root", "keyfile": "/tmp/`id`"}, "contains '`'"),
            ({"keyfile": "", "params": "command=/bin/sh"}, "The parameter command= is refused"),
            ({"params": "netcat=nc"}, "The parameter netcat= is refused"),
            ({"params": "no_verify=1", "port": "70000"}, "The port 70000 is not between"),
        ]:
            await fill(app, **fields)
            await pilot.pause()
            problem = text_of(form(app).query_one("#problem", Static))
            assert says in problem, problem
            await pilot.press("ctrl+s")  # refused: the form stays open
            await pilot.pause()
            assert isinstance(app.screen, ConnectionForm)
        await fill(app, port="2222")
        await pilot.pause()
        assert text_of(form(app).query_one("#uri-preview", Static)).strip() == (
            "URI: qemu+ssh://root@hv2:2222/system?no_verify=1&no_tty=1"
        )
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionsScreen))
    assert not config.exists()


async def test_a_broken_file_is_shown_with_its_line_and_left_untouched(
    small_host: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[[connection]]\nname = "hv2"\nhost = hv2\n')
    before = config.read_bytes()
    app = make_app(small_host, config)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionsScreen))
        await wait_for(pilot, lambda: screen(app).loaded)
        problem = text_of(screen(app).query_one("#conn-problem", Static))
        assert f"The config file {config} is not valid TOML at line 3" in problem
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionForm))
        await fill(app, name="demo", driver="test", transport="local", path=str(DEMO_HOST))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionsScreen))
        await wait_for(
            pilot,
            lambda: "will not save" in text_of(screen(app).query_one("#conn-detail", Static)),
        )
    assert config.read_bytes() == before


async def test_edit_and_remove_a_saved_connection(small_host: str, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    ConnectionStore(config).save(
        [ConnectionSpec("hv2", transport="ssh", host="hv2", user="root", port=22)]
    )
    app = make_app(small_host, config)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionsScreen))
        await wait_for(pilot, lambda: len(shown_rows(app)) == 2)
        assert shown_rows(app)[0] == (
            "hv2",
            "not connected",
            "qemu+ssh://root@hv2:22/system?no_tty=1",
        )
        screen(app).query_one(DataTable).move_cursor(row=0)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionForm))
        assert form(app).query_one("#host", Input).value == "hv2"
        await fill(app, name="hv2-lab", port="2222")
        form(app).query_one("#autoconnect", Checkbox).value = True
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionsScreen))
        await wait_for(pilot, lambda: shown_rows(app)[0][0] == "hv2-lab")
        (saved,) = ConnectionStore(config).load()
        assert (saved.name, saved.port, saved.autoconnect) == ("hv2-lab", 2222, True)

        screen(app).query_one(DataTable).move_cursor(row=0)
        await pilot.press("D")
        await pilot.press("y")
        await wait_for(pilot, lambda: len(shown_rows(app)) == 1)
        assert ConnectionStore(config).load() == []


async def test_autoconnect_connections_open_at_start_with_the_command_line_ones(
    small_host: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    ConnectionStore(config).save(
        [
            ConnectionSpec("demo", driver="test", path=str(DEMO_HOST), autoconnect=True),
            ConnectionSpec("other", driver="test", path="/nowhere.xml"),
        ]
    )
    saved = ConnectionStore(config).load()
    assert resolve_uris(parse_args(["-c", small_host]), saved) == [small_host, DEMO_URI]
    assert resolve_uris(parse_args([]), saved) == [DEMO_URI]
    assert resolve_uris(parse_args([]), []) == [
        os.environ.get("LIBVIRT_DEFAULT_URI") or "qemu:///system"
    ]
    app = VmtuiApp(resolve_uris(parse_args(["-c", small_host]), saved))
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.guests) >= 18)
        assert list(app.hosts) == [small_host, DEMO_URI]


async def test_hosts_of_ssh_config_are_offered_in_the_form(
    small_host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text("Host *\n  User x\nHost lab7\n  HostName 10.9.9.9\n")
    app = make_app(small_host, tmp_path / "config.toml")
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionsScreen))
        await wait_for(pilot, lambda: screen(app).ssh_hosts != [])
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionForm))
        choice = form(app).query_one("#from-ssh", Select)
        assert [text for text, _ in choice._options[1:]] == ["lab7"]  # no wildcard entry
        choice.value = "lab7"
        await pilot.pause()
        assert form(app).current_spec() == ConnectionSpec("lab7", transport="ssh", host="lab7")
        assert text_of(form(app).query_one("#uri-preview", Static)).strip() == (
            "URI: qemu+ssh://lab7/system?no_tty=1"
        )


async def test_a_hand_written_unsafe_entry_is_listed_as_invalid_and_never_connected(
    small_host: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[[connection]]\nname = "evil"\nuri = "qemu+ssh://hv2/system?command=/tmp/x"\n'
        "autoconnect = true\n"
    )
    saved = ConnectionStore(config).load()
    assert resolve_uris(parse_args(["-c", small_host]), saved) == [small_host]
    app = make_app(small_host, config)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionsScreen))
        await wait_for(pilot, lambda: len(shown_rows(app)) == 2)
        assert shown_rows(app)[0][:2] == ("evil", "invalid")
        screen(app).query_one(DataTable).move_cursor(row=0)
        await pilot.pause()
        detail = text_of(screen(app).query_one("#conn-detail", Static))
        assert "The parameter command= is refused" in detail
        await pilot.press("c")
        await pilot.pause(0.3)
        assert list(app.hosts) == [small_host]


async def test_a_broken_file_at_start_is_said_at_once(small_host: str, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[[connection]\n")
    saved, problem = load_saved(config)
    assert saved == [] and "line 1" in problem and str(config) in problem
    app = make_app(small_host, config)
    app.config_problem = problem
    notes: list[str] = []
    app.notify = lambda message, **_kw: notes.append(str(message))  # type: ignore[method-assign]
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: notes != [])
    assert notes[0] == problem


async def test_connect_once_opens_the_host_without_saving_it(
    small_host: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    app = make_app(small_host, config)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionsScreen))
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionForm))
        await fill(app, name="demo", driver="test", transport="local", path=str(DEMO_HOST))
        await click(pilot, "#connect-once")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionsScreen))
        await wait_for(pilot, lambda: ("demo-host", "connected", DEMO_URI) in shown_rows(app))
        assert list(app.hosts) == [small_host, DEMO_URI]
    assert not config.exists()


async def test_markup_in_a_saved_name_and_an_ipv6_host_are_shown_as_written(
    small_host: str, tmp_path: Path
) -> None:
    """Issue 14 #10: a saved name holding markup crashed the screen (MarkupError), and an IPv6
    host in brackets showed as empty (read as a tag)."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[[connection]]\nname = "[/oops][@click=app.quit]x"\ndriver = "qemu"\n'
        'transport = "ssh"\nhost = "fe80::1"\npath = "system"\n'
    )
    app = make_app(small_host, config)
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionsScreen))
        await wait_for(pilot, lambda: len(shown_rows(app)) == 2)
        # the name as written in its cell; on screen the 16-wide Name column shows its start
        # (the whole name was seen only while a toast naming it happened to be up)
        assert "[/oops][@click=app.quit]x" in [row[0] for row in shown_rows(app)]
        await wait_for(pilot, lambda: "[/oops][@click=a" in screen_text(app))
        assert "[fe80::1]" in screen_text(app)
        assert app.is_running


async def test_an_ipv6_host_typed_in_brackets_is_the_host(small_host: str, tmp_path: Path) -> None:
    """Issue 14 #10: ``[fe80::1]`` (as written in a URI) was refused for its brackets."""
    app = make_app(small_host, tmp_path / "config.toml")
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionsScreen))
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionForm))
        await fill(app, name="v6", transport="ssh", host="[fe80::1]", path="system")
        await pilot.pause()
        assert form(app).current_spec().host == "fe80::1"
        preview = text_of(form(app).query_one("#uri-preview", Static)).strip()
        assert preview == "URI: qemu+ssh://[fe80::1]/system?no_tty=1"
        assert text_of(form(app).query_one("#problem", Static)).strip() == "✓ Ready."
