"""qemu+ssh:// for real: an sshd on 127.0.0.1 (key auth only), libvirt's ssh transport, the app.

The fixture starts its own ``sshd`` on a free loopback port with a throwaway ed25519 host key
and client key, its own sshd_config (``ListenAddress 127.0.0.1``, root by key only, no
passwords, ``AuthorizedKeysFile`` in the test's temporary directory). ``StrictModes no``:
sshd would otherwise refuse an authorized_keys file under /tmp (a world-writable parent);
the daemon listens on loopback only and lives for this module. libvirt's ssh client records
the host key in root's known_hosts (``no_verify=1``); the fixture removes that entry again.

No DNS lookup is made (an unknown hostname would query the machine's resolver): that case is
covered by the unit tests of the error sentences.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Select, Static

from vmtui.app import VmtuiApp
from vmtui.backend import ConnectionFailed, Hypervisor
from vmtui.backend.connections import ConnectionSpec, ConnectionStore
from vmtui.screens.connections import ConnectionForm, ConnectionsScreen
from vmtui.screens.console import ConsoleScreen
from vmtui.screens.dashboard import DashboardScreen

from ..ui.helpers import text_of
from .helpers import AppWatch, guest_table, select_guest, wait_for

SSHD = "/usr/sbin/sshd"
SIZE = (100, 30)


@dataclass(frozen=True)
class SshServer:
    port: int
    key: Path  # authorized
    bad_key: Path  # not authorized
    directory: Path

    def uri(self, key: Path | None = None) -> str:
        return (
            f"qemu+ssh://root@127.0.0.1:{self.port}/system"
            f"?keyfile={key or self.key}&no_verify=1&no_tty=1"
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _keygen(path: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vmtui-test", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def _forget_host_key(port: int) -> None:
    known = Path.home() / ".ssh" / "known_hosts"
    if known.exists():
        subprocess.run(
            ["ssh-keygen", "-R", f"[127.0.0.1]:{port}", "-f", str(known)],
            check=False,
            capture_output=True,
        )
        with contextlib.suppress(OSError):
            Path(f"{known}.old").unlink()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    if not Path(SSHD).exists() or shutil.which("ssh") is None:
        pytest.fail("openssh-server/openssh-client are missing: run `make setup`.", pytrace=False)
    directory = tmp_path_factory.mktemp("sshd")
    host_key = _keygen(directory / "host_ed25519")
    key = _keygen(directory / "client_ed25519")
    bad_key = _keygen(directory / "stranger_ed25519")
    authorized = directory / "authorized_keys"
    authorized.write_text(Path(f"{key}.pub").read_text())
    authorized.chmod(0o600)
    port = free_port()
    config = directory / "sshd_config"
    config.write_text(
        f"ListenAddress 127.0.0.1\n"
        f"Port {port}\n"
        f"HostKey {host_key}\n"
        f"PidFile {directory / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {authorized}\n"
        "PermitRootLogin prohibit-password\n"
        "PubkeyAuthentication yes\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
        "StrictModes no\n"
        "X11Forwarding no\n"
        "AllowTcpForwarding no\n"
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    log = (directory / "sshd.log").open("w")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while "Server listening" not in (directory / "sshd.log").read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"sshd did not start: {(directory / 'sshd.log').read_text()}", pytrace=False
                )
            time.sleep(0.05)
        yield SshServer(port, key, bad_key, directory)
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        _forget_host_key(port)


def shown_state(app: VmtuiApp, uuid: str) -> str | None:
    """The state cell of the guest's row (the table has a host column: two hosts)."""
    return guest_table(app).shown_cell(uuid, "state")


def _screen(app: VmtuiApp) -> ConnectionsScreen:
    assert isinstance(app.screen, ConnectionsScreen), app.screen
    return app.screen


def _rows(app: VmtuiApp) -> list[tuple[str, ...]]:
    grid = _screen(app).query_one(DataTable)
    return [tuple(str(c) for c in grid.get_row_at(i)) for i in range(grid.row_count)]


async def _add_through_form(pilot: Any, app: VmtuiApp, spec: ConnectionSpec) -> None:
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(app.screen, ConnectionForm), what="form")
    form = app.screen
    form.query_one("#name", Input).value = spec.name
    form.query_one("#driver", Select).value = spec.driver
    form.query_one("#transport", Select).value = spec.transport
    form.query_one("#user", Input).value = spec.user
    form.query_one("#host", Input).value = spec.host
    form.query_one("#port", Input).value = str(spec.port)
    form.query_one("#path", Input).value = spec.path
    form.query_one("#keyfile", Input).value = spec.keyfile
    form.query_one("#params", Input).value = "&".join(f"{k}={v}" for k, v in spec.params)
    await pilot.pause()
    preview = text_of(form.query_one("#uri-preview", Static)).strip()
    assert preview == f"URI: {spec.uri()}"
    assert text_of(form.query_one("#problem", Static)).strip() == "✓ Ready."
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: isinstance(app.screen, ConnectionsScreen), what="list")


async def test_a_guest_over_ssh_is_listed_started_seen_on_its_console_and_forced_off(
    sshd: SshServer, libvirt_conn: Any, tiny_domain: str, small_host: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    spec = ConnectionSpec(
        name="loopback",
        transport="ssh",
        user="root",
        host="127.0.0.1",
        port=sshd.port,
        keyfile=str(sshd.key),
        params=(("no_verify", "1"),),
    )
    uri = spec.uri()
    assert uri == sshd.uri()
    watch = AppWatch()
    app = VmtuiApp(small_host, interval=0.5)  # the tiny guest is reachable only through ssh
    app.config_file = config
    async with app.run_test(size=SIZE, message_hook=watch) as pilot:
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionsScreen), what="H")
        await wait_for(pilot, lambda: _screen(app).loaded, what="config read")
        await _add_through_form(pilot, app, spec)
        await wait_for(pilot, lambda: len(_rows(app)) == 2, what="saved row")
        assert ConnectionStore(config).load() == [spec]
        _screen(app).query_one(DataTable).move_cursor(row=0)
        await pilot.press("c")
        await wait_for(
            pilot,
            lambda: _rows(app)[0][1] == "connected",
            what="connected over ssh",
            describe=lambda: repr(_rows(app)) + " " + app.status()[1],
        )
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen), what="dashboard")

        def tiny() -> Any:
            guests = app.snapshot.guests if app.snapshot else ()
            return next((g for g in guests if g.name == tiny_domain), None)

        await wait_for(pilot, lambda: tiny() is not None, what="the tiny guest listed")
        guest = tiny()
        assert guest.host == uri
        assert app.hypervisor_for(guest.uuid).uri == uri
        select_guest(app, guest.uuid)
        await pilot.press("s")
        await wait_for(
            pilot,
            lambda: shown_state(app, guest.uuid) == "running",
            what="running",
            describe=lambda: f"{shown_state(app, guest.uuid)} {watch.messages()}",
        )
        assert libvirt_conn.lookupByName(tiny_domain).isActive()

        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConsoleScreen), what="console")
        console = app.consoles[guest.uuid]
        await wait_for(pilot, lambda: console.connected, what="console attached over ssh")
        for _ in range(120):  # the guest boots under TCG: press enter until its shell answers
            if "tiny#" in console.emulator.all_text():
                break
            await pilot.press("enter")
            await pilot.pause(0.5)
        assert "tiny#" in console.emulator.all_text(), console.emulator.text()
        await pilot.press("ctrl+right_square_bracket")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen), what="detached")

        select_guest(app, guest.uuid)
        await pilot.press("F")
        await pilot.press("y")
        await wait_for(pilot, lambda: shown_state(app, guest.uuid) == "shut off", what="off")
        assert not libvirt_conn.lookupByName(tiny_domain).isActive()
        commands = [e.text for e in app.activity if e.kind == "action"]
        assert any(uri in c and " destroy " in f"{c} " for c in commands), commands
    watch.assert_no_worker_errors()


def test_bad_key_and_refused_port_give_sentences(sshd: SshServer, libvirtd: str) -> None:
    bad = Hypervisor(sshd.uri(sshd.bad_key))
    with pytest.raises(ConnectionFailed) as caught:
        bad.connect()
    assert caught.value.message == (
        f"root@127.0.0.1:{sshd.port} needs key authentication (vmtui cannot answer ssh's "
        "password prompt); add your key with ssh-copy-id or set the connection's key file."
    )
    assert bad.backoff.next() == 30  # a refused key is not retried every 2 s (fail2ban)
    closed = free_port()
    refused = Hypervisor(sshd.uri().replace(f":{sshd.port}/", f":{closed}/"))
    with pytest.raises(ConnectionFailed) as caught:
        refused.connect()
    assert caught.value.message == (
        f"Nothing accepts ssh connections at root@127.0.0.1:{closed} (connection refused)."
    )
    assert refused.backoff.next() < 1  # a daemon restarting comes back soon: retry soon


async def test_a_failing_ssh_connection_shows_why_and_leaves_the_file_alone(
    sshd: SshServer, libvirtd: str, small_host: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    bad = ConnectionSpec(
        name="wrong-key",
        transport="ssh",
        user="root",
        host="127.0.0.1",
        port=sshd.port,
        keyfile=str(sshd.bad_key),
        params=(("no_verify", "1"),),
    )
    ConnectionStore(config).save([bad])
    before = config.read_bytes()
    app = VmtuiApp(small_host, interval=0.5)
    app.config_file = config
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, ConnectionsScreen), what="H")
        await wait_for(pilot, lambda: len(_rows(app)) == 2, what="rows")
        _screen(app).query_one(DataTable).move_cursor(row=0)
        await pilot.press("c")
        await wait_for(pilot, lambda: _rows(app)[0][1] == "lost", what="refused")
        detail = text_of(_screen(app).query_one("#conn-detail", Static))
        assert "needs key authentication" in detail and "ssh-copy-id" in detail, detail
        await pilot.press("x")
        await wait_for(pilot, lambda: _rows(app)[0][1] == "not connected", what="dropped")
        assert bad.uri() not in app.hosts
    assert config.read_bytes() == before
