"""A second libvirt host on this machine, for migration and multi-host tests.

:class:`SecondHost` starts a private ``libvirtd`` (plus its ``virtlogd``) in a mount
namespace of its own (``unshare -m --propagation private``) where tmpfs hides the system
daemon's state: ``/run/libvirt``, ``/var/lib/libvirt``, ``/var/cache/libvirt`` and
``/var/log/libvirt`` are empty, and ``/etc/libvirt`` is a copy whose ``libvirtd.conf`` gives the
daemon another ``host_uuid`` (libvirt refuses to migrate a guest to the host it runs on) and
makes it listen on plain TCP, without authentication, on ``127.0.0.2`` only. The copy holds
no guest, network or pool definitions and no hooks, so nothing is autostarted (in particular
not libvirt's ``default`` network). The system libvirtd is never touched.

The tiny guest's kernel and initrd live under ``/var/lib/libvirt/boot/vmtui-test`` (see
``tinyguest.py``); the tmpfs hides that directory, so it is bind-mounted back in: the same
domain XML boots on both hosts and a migrated guest finds its files.

One ``unshare`` runs a bash script that mounts, starts both daemons and then sleeps: that
sleeping process (the *holder*) keeps the namespace alive while ``libvirtd`` is stopped,
killed and started again (``kill()``, ``start_daemon()``, ``restart()`` enter it with
``nsenter``). QEMU processes started by the second daemon live in the same namespace;
``close()`` destroys its guests, stops both daemons and kills whatever is left there.

The URI is ``qemu+tcp://127.0.0.2/system``; migrating to it needs
``migrateuri tcp://127.0.0.2`` so QEMU's migration stream goes to the right address.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .tinyguest import TinyGuest, cache_dir
from .waiting import wait_until

ADDRESS = "127.0.0.2"
URI = f"qemu+tcp://{ADDRESS}/system"
MIGRATE_URI = f"tcp://{ADDRESS}"
PORT = 16509
STATE_FILE = Path("/run/vmtui-test-secondhost.json")
# Fixed, so a leftover daemon is recognisable; differs from any real host's UUID.
HOST_UUID = "5ec0d405-7e57-4a11-9000-00000000beef"

_HOLDER_SCRIPT = r"""
set -euo pipefail
ETC="$1"; BOOT="$2"; KEEP="$3"
mkdir -p /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt
if [[ -n "$BOOT" ]]; then
    # Keep a handle on the tiny guest's files before the tmpfs hides them (this mount is
    # private to the namespace), then put them back at the same path.
    mount --bind "$BOOT" "$KEEP"
fi
mount -t tmpfs -o mode=0755 vmtui-secondhost /run/libvirt
mount -t tmpfs -o mode=0755 vmtui-secondhost /var/lib/libvirt
mount -t tmpfs -o mode=0755 vmtui-secondhost /var/cache/libvirt
mount -t tmpfs -o mode=0700 vmtui-secondhost /var/log/libvirt
if [[ -n "$BOOT" ]]; then
    mkdir -p "$BOOT"
    chmod 0711 /var/lib/libvirt/boot
    mount --bind "$KEEP" "$BOOT"
fi
mount --bind "$ETC" /etc/libvirt
virtlogd -d -p /run/libvirt/virtlogd.pid
libvirtd -d --listen -p /run/libvirt/libvirtd.pid
echo ready
exec sleep infinity
"""


def _port_open(address: str = ADDRESS, port: int = PORT) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((address, port)) == 0


def _mount_ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _pids_in_ns(ns: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _mount_ns(int(entry)) == ns:
            pids.append(int(entry))
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _wait_gone(pid: int, timeout: float) -> bool:
    return wait_until(lambda: not _alive(pid), timeout, step=0.05)


def _kill_ns(ns: str) -> None:
    """SIGKILL every process living in mount namespace ``ns`` (never ours)."""
    own = _mount_ns(os.getpid())
    if ns == own:
        raise RuntimeError("refusing to kill the processes of our own mount namespace")
    pids = _pids_in_ns(ns)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid in pids:
        _wait_gone(pid, 10)


def clean_leftover() -> None:
    """Remove a second host left behind by a test session that died (its pytest is gone)."""
    if not STATE_FILE.exists():
        return
    try:
        state = json.loads(STATE_FILE.read_text())
    except (OSError, ValueError):
        STATE_FILE.unlink(missing_ok=True)
        return
    owner = int(state.get("owner", 0))
    if owner and owner != os.getpid() and _alive(owner):
        raise RuntimeError(
            f"another test session (pid {owner}) is using the second libvirt host on {ADDRESS}"
        )
    ns = state.get("ns")
    holder = int(state.get("holder", 0))
    if ns and holder and _mount_ns(holder) == ns:
        _kill_ns(ns)
    STATE_FILE.unlink(missing_ok=True)


class SecondHost:
    """A second libvirtd in its own mount namespace, answering on ``qemu+tcp://127.0.0.2``."""

    uri = URI
    migrate_uri = MIGRATE_URI

    def __init__(self, boot_dir: Path | None = None) -> None:
        self.boot_dir = boot_dir  # the tiny guest's cache, bind-mounted back when hidden
        self.workdir = Path(tempfile.mkdtemp(prefix="vmtui-secondhost-"))
        self.holder: subprocess.Popen[str] | None = None
        self.ns: str | None = None

    # ---------------------------------------------------------------- set-up
    def _etc_copy(self) -> Path:
        etc = self.workdir / "etc-libvirt"
        shutil.copytree("/etc/libvirt", etc, symlinks=True)
        # No guests, networks, pools, secrets or hooks of the system host: nothing to
        # autostart, nothing shared by mistake.
        for sub in ("qemu", "storage", "secrets", "hooks"):
            shutil.rmtree(etc / sub, ignore_errors=True)
        (etc / "qemu").mkdir()
        conf = (etc / "libvirtd.conf").read_text()
        conf += (
            "\n# vmtui test: the second host\n"
            f'host_uuid = "{HOST_UUID}"\n'
            "listen_tcp = 1\n"
            "listen_tls = 0\n"
            'auth_tcp = "none"\n'
            f'listen_addr = "{ADDRESS}"\n'
        )
        (etc / "libvirtd.conf").write_text(conf)
        return etc

    def start(self, timeout: float = 60.0) -> None:
        """Mount the namespace, start virtlogd + libvirtd, wait until the URI answers."""
        clean_leftover()
        if not wait_until(lambda: not _port_open(), 5):
            raise RuntimeError(
                f"something already listens on {ADDRESS}:{PORT}; is another libvirtd there?"
            )
        etc = self._etc_copy()
        boot, keep = "", self.workdir / "boot"
        keep.mkdir()
        if self.boot_dir is not None and Path("/var/lib/libvirt") in self.boot_dir.parents:
            boot = str(self.boot_dir)
        self.holder = subprocess.Popen(
            [
                "unshare",
                "-m",
                "--propagation",
                "private",
                "bash",
                "-c",
                _HOLDER_SCRIPT,
                "holder",
                str(etc),
                boot,
                str(keep),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self.holder.stdout is not None
        line = self.holder.stdout.readline().strip()
        if line != "ready":
            err = self.holder.stderr.read() if self.holder.stderr else ""
            self.holder.kill()
            raise RuntimeError(f"the second host did not start: {err.strip() or line}")
        self.ns = _mount_ns(self.holder.pid)
        STATE_FILE.write_text(
            json.dumps({"owner": os.getpid(), "holder": self.holder.pid, "ns": self.ns})
        )
        self.wait_answering(timeout)

    def wait_answering(self, timeout: float = 60.0) -> None:
        import libvirt

        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                conn = libvirt.open(self.uri)
            except libvirt.libvirtError as err:
                last = str(err)
                time.sleep(0.2)
                continue
            conn.close()
            return
        raise RuntimeError(f"the second host did not answer within {timeout:.0f}s: {last}")

    # ---------------------------------------------------------------- daemon control
    def _nsenter(self, *cmd: str) -> None:
        assert self.holder is not None
        subprocess.run(
            ["nsenter", "-t", str(self.holder.pid), "-m", "--", *cmd],
            check=True,
            capture_output=True,
            timeout=30,
        )

    def _pid(self, name: str) -> int | None:
        if self.holder is None:
            return None
        path = Path(f"/proc/{self.holder.pid}/root/run/libvirt/{name}.pid")
        try:
            pid = int(path.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) and _mount_ns(pid) == self.ns else None

    @property
    def libvirtd_pid(self) -> int | None:
        return self._pid("libvirtd")

    def kill(self) -> None:
        """SIGKILL the second libvirtd (its guests keep running), like a crash."""
        pid = self.libvirtd_pid
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 10)

    def stop_daemon(self, timeout: float = 30.0) -> None:
        """SIGTERM the second libvirtd and wait for it to exit."""
        pid = self.libvirtd_pid
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, timeout):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 5)

    def start_daemon(self, timeout: float = 60.0) -> None:
        """Start the second libvirtd again in the namespace (after kill/stop_daemon)."""
        if self.libvirtd_pid is None:
            self._nsenter("libvirtd", "-d", "--listen", "-p", "/run/libvirt/libvirtd.pid")
        self.wait_answering(timeout)

    stop = stop_daemon  # the host's daemon; close() ends the whole second host

    def restart(self, timeout: float = 60.0) -> None:
        self.stop_daemon()
        self.start_daemon(timeout)

    # ---------------------------------------------------------------- teardown
    def destroy_guests(self) -> None:
        """Destroy and undefine every guest of the second host."""
        import libvirt

        try:
            conn = libvirt.open(self.uri)
        except libvirt.libvirtError:
            return
        try:
            for dom in conn.listAllDomains(0):
                with contextlib.suppress(libvirt.libvirtError):
                    if dom.isActive():
                        dom.destroy()
                with contextlib.suppress(libvirt.libvirtError):
                    dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
        finally:
            conn.close()

    def close(self) -> None:
        """Destroy its guests, stop both daemons, end the namespace, remove the files."""
        if self.holder is not None:
            if self.libvirtd_pid is not None:
                self.destroy_guests()
                self.stop_daemon(timeout=15)
            logd = self._pid("virtlogd")
            if logd is not None:
                os.kill(logd, signal.SIGTERM)
                _wait_gone(logd, 5)
            if self.ns is not None and _mount_ns(self.holder.pid) == self.ns:
                _kill_ns(self.ns)  # whatever is left (QEMU of a guest a test abandoned)
            with contextlib.suppress(ProcessLookupError):
                self.holder.kill()
            self.holder.wait(timeout=10)
            self.holder = None
            STATE_FILE.unlink(missing_ok=True)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> SecondHost:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@pytest.fixture(scope="module")
def second_host(libvirtd: str, tiny_guest_files: TinyGuest) -> Iterator[SecondHost]:
    """A second libvirt host (``qemu+tcp://127.0.0.2/system``) for this test module.

    Import it into a test module (``from .secondhost import second_host``); it is torn down
    (guests destroyed, daemons stopped, namespace gone) after the module's last test."""
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("nsenter") is None:
        pytest.skip("a second libvirtd needs root and unshare/nsenter (util-linux)")
    host = SecondHost(cache_dir())
    try:
        host.start()
    except RuntimeError as err:
        pytest.fail(str(err), pytrace=False)
    try:
        yield host
    finally:
        host.close()
