"""A tiny bootable Linux guest for integration tests against a real libvirtd.

The guest is a Debian cloud kernel plus a ~3.9 MB initramfs that only holds a
static busybox, a handful of kernel modules and an ``/init`` script.  It boots
under plain TCG emulation (``<domain type='qemu'>``; KVM is not usable on the
CI machines) to an interactive root shell on the serial console in a few
seconds, and needs no disk image and no network.

Everything comes from Debian's package registry (``apt-get download``), is
built with the standard library only, and is cached:

* ``build_tiny_guest()`` returns the cached :class:`TinyGuest` (kernel and
  initrd paths) and builds it first when needed.  The cache key is a hash of
  the guest recipe (init script, module list, ...), so editing the recipe here
  rebuilds automatically.  Builds are atomic (a temporary directory is renamed
  into place) and serialised between processes with an ``fcntl`` lock.
* ``tiny_domain_xml()`` renders a persistent-domain XML that direct-boots it.
* :class:`ConsoleReader` talks to the guest's serial console through a libvirt
  console stream.

Where the files live, and why (qemu user / permissions)
-------------------------------------------------------
Debian's libvirt runs QEMU processes of ``qemu:///system`` as the unprivileged
user ``libvirt-qemu`` (the compiled-in default; ``user``/``group`` are
commented out in ``/etc/libvirt/qemu.conf``).  With ``dynamic_ownership = 1``
(the default) libvirt chowns the kernel and initrd to that user while the
domain runs (and, with ``remember_owner = 1``, restores the owner afterwards,
reference-counted through xattrs, so several domains can share the files),
but it never touches the *parent directories*.  ``/root`` is mode 0700, so a
kernel under ``/root/.cache`` fails with "Permission denied" when QEMU opens
it.  Therefore the default cache directory is

* ``$VMTUI_TEST_CACHE`` when set, otherwise
* ``/var/lib/libvirt/boot/vmtui-test`` when that can be created (root; the
  parent is ``0711`` on Debian, i.e. traversable by the QEMU user), otherwise
* ``~/.cache/vmtui-test``.

Directories are created ``0755`` and files ``0644``, so QEMU can read them even
without libvirt's relabelling.  :func:`check_qemu_can_read` is called after
each build/lookup and raises a clear error when a parent directory is not
traversable by "others".

The guest
---------
* Serial console ``ttyS0`` (``/dev/console``).  The kernel runs with ``quiet``;
  the first lines are the init's ``vmtui-tiny: ...`` progress messages.
* Every (re)start of the login shell prints :data:`READY_MARKER` on a line of
  its own right before the first prompt (``PS1`` is :data:`PROMPT`).  The shell
  is respawned when it exits.
* ACPI power button (``virDomainShutdown``, and libvirt's default
  ``virDomainReboot``) is handled by busybox ``acpid``: the guest powers off.
* virtio-balloon (with ``stats period``) and virtio-blk drivers are loaded, so
  memory statistics and hot-plugged virtio disks work.
* Adding ``vmtui.burn`` to the kernel command line (``extra_cmdline=``) makes
  the guest spin one busy loop per vCPU, for CPU-usage tests.
* The guest agent: Debian's ``qemu-guest-agent`` (``/usr/sbin/qemu-ga`` and the
  shared libraries ``ldd`` lists, copied from this machine) is in every initramfs,
  but it starts only when the domain has the agent's virtio-serial channel
  (``tiny_domain_xml(..., agent=True)``): init finds the port
  ``org.qemu.guest_agent.0`` in sysfs (no udev: it makes the
  ``/dev/virtio-ports/`` link itself) and runs ``qemu-ga`` on it. For the
  agent's commands: ``/sbin/shutdown`` (powers off or reboots at once), a
  ``chpasswd`` stand-in (busybox-static has none) writing ``/etc/shadow``, a
  busybox user ``tiny`` (locked password), ``/etc/os-release``.
* ``vmtui.hostname=NAME`` and ``vmtui.ip=ADDR/PREFIX`` on the command line set
  the hostname and put an address on ``eth0`` (a virtio NIC the caller adds
  with ``extra_devices_xml``; the virtio_net driver is loaded).
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "PROMPT",
    "READY_MARKER",
    "ConsoleReader",
    "TinyGuest",
    "build_tiny_guest",
    "cache_dir",
    "check_qemu_can_read",
    "start_with_console",
    "tiny_domain_xml",
]

READY_MARKER = "VMTUI-TINY-READY"
PROMPT = "tiny# "

KERNEL_METAPACKAGE = "linux-image-cloud-amd64"
BUSYBOX_PACKAGE = "busybox-static"
AGENT_PACKAGE = "qemu-guest-agent"
AGENT_PORT = "org.qemu.guest_agent.0"
TINY_USER = "tiny"  # a busybox user for set-password tests (its password starts locked)

# Loaded in this order (dependencies are resolved from the modules' .modinfo
# and loaded first).  Missing modules are skipped at build time.
GUEST_MODULES = (
    "button",
    "evdev",
    "virtio_pci",
    "virtio_balloon",
    "virtio_blk",
    "virtio_console",  # the guest agent's virtio-serial port
    "virtio_net",
    "virtio_scsi",  # CD-ROM tests: a scsi cdrom (sr0) on virtio-scsi, ISO 9660 readable
    "sr_mod",
    "isofs",
)

_SYSTEM_CACHE = Path("/var/lib/libvirt/boot/vmtui-test")

# Bump to force a rebuild when something not captured by the recipe hash
# (e.g. the cpio writer) changes.
_RECIPE_VERSION = "2"

_INIT_SCRIPT = r"""#!/bin/sh
# /init of the vmtui tiny test guest (runs as PID 1 from the initramfs).
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root TERM=vt100
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /tmp /run /var/log /root
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
hostname vmtui-tiny
echo "vmtui-tiny: init started (kernel $(uname -r))"
while read -r mod; do
    [ -n "$mod" ] && insmod "/lib/modules/$mod.ko" 2>/dev/null
done </lib/modules/load-order
# ACPI power button -> /etc/acpi/PWRF/00000080 (power off).
acpid -l /var/log/acpid.log
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        vmtui.hostname=*) hostname "${arg#vmtui.hostname=}" ;;
        vmtui.ip=*)
            ip link set eth0 up
            ip addr add "${arg#vmtui.ip=}" dev eth0
            echo "vmtui-tiny: eth0 has ${arg#vmtui.ip=}"
            ;;
    esac
done
# The guest agent, when the domain has its channel (no udev: find the port in sysfs).
for _ in 1 2 3 4 5 6 7 8 9 10; do
    for port in /sys/class/virtio-ports/*; do
        [ "$(cat "$port/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] || continue
        mkdir -p /dev/virtio-ports
        ln -sf "/dev/${port##*/}" /dev/virtio-ports/org.qemu.guest_agent.0
    done
    [ -e /dev/virtio-ports/org.qemu.guest_agent.0 ] && break
    [ -d /sys/class/virtio-ports ] || break
    sleep 0.2
done
if [ -e /dev/virtio-ports/org.qemu.guest_agent.0 ]; then
    qemu-ga -m virtio-serial -p /dev/virtio-ports/org.qemu.guest_agent.0 -t /run \
        -l /var/log/qemu-ga.log &
    echo "vmtui-tiny: guest agent started"
fi
if grep -q 'vmtui\.burn' /proc/cmdline; then
    for _ in $(seq "$(grep -c ^processor /proc/cpuinfo)"); do
        (while :; do :; done) &
    done
    echo "vmtui-tiny: burning CPU"
fi
if grep -q 'vmtui\.hostile' /proc/cmdline; then
    # Untrusted output a console must never pass to the user's terminal raw:
    # OSC 52 (clipboard: base64 of VMTUI-CLIPBOARD), OSC 0 (title), OSC 8 (hyperlink),
    # a full clear, bracketed paste on, then a 1 MB burst.
    printf '\033]52;c;Vk1UVUktQ0xJUEJPQVJE\007'
    printf '\033]0;VMTUI-EVIL-TITLE\007'
    printf '\033]8;;http://evil.invalid/VMTUI-LINK\007click-here\033]8;;\007\n'
    printf '\033[2J\033[H'
    printf 'visible-after-clear\n'
    printf '\033[?2004h'
    yes 'VMTUI-BURST-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789' | head -c 1000000
    printf '\nVMTUI-HOSTILE-DONE\n'
fi
echo "vmtui-tiny: starting shell"
while :; do
    # cttyhack opens the real console device (ttyS0) as controlling tty, so
    # job control and line editing work.
    setsid cttyhack sh -l
    sleep 1
done
"""

_PROFILE = f"""export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root TERM=vt100
PS1='{PROMPT}'
echo {READY_MARKER}
"""

_SHUTDOWN = """#!/bin/sh
# /sbin/shutdown for qemu-ga's guest-shutdown (-P/-H power off, -r reboot): at once.
echo "vmtui-tiny: shutdown $*" >/dev/console
sync
case " $* " in
    *" -r "*) reboot -f ;;
    *) poweroff -f ;;
esac
"""

_CHPASSWD = """#!/bin/sh
# chpasswd stand-in (busybox-static has none) for qemu-ga's guest-set-user-password:
# "user:password" lines on stdin; -e means the password is already hashed.
enc=0
[ "$1" = "-e" ] && enc=1
while IFS= read -r line; do
    user=${line%%:*}
    pw=${line#*:}
    grep -q "^$user:" /etc/shadow || { echo "chpasswd: no user $user" >&2; exit 1; }
    [ $enc = 1 ] || pw=$(mkpasswd -m sha512 "$pw") || exit 1
    sed -i "s|^$user:[^:]*:|$user:$pw:|" /etc/shadow
done
"""

_OS_RELEASE = """PRETTY_NAME="vmtui tiny guest 1"
NAME="vmtui tiny"
VERSION_ID="1"
VERSION="1 (busybox)"
ID=vmtui-tiny
"""

_POWER_BUTTON = """#!/bin/sh
echo "vmtui-tiny: ACPI power button, powering off" >/dev/console
sync
poweroff -f
"""


@dataclass(frozen=True)
class TinyGuest:
    """Paths of a built tiny guest (both readable by the QEMU user)."""

    kernel: Path
    initrd: Path
    kernel_version: str = ""


# --------------------------------------------------------------------------
# cache / build
# --------------------------------------------------------------------------


def cache_dir() -> Path:
    """Cache root, see the module docstring for the order of preference."""
    env = os.environ.get("VMTUI_TEST_CACHE")
    if env:
        return Path(env)
    with contextlib.suppress(OSError):
        _SYSTEM_CACHE.mkdir(mode=0o755, exist_ok=True)
    if _SYSTEM_CACHE.is_dir() and os.access(_SYSTEM_CACHE, os.W_OK | os.X_OK):
        return _SYSTEM_CACHE
    return Path.home() / ".cache" / "vmtui-test"


def _recipe_hash() -> str:
    h = hashlib.sha256()
    for part in (
        _RECIPE_VERSION,
        _INIT_SCRIPT,
        _PROFILE,
        _POWER_BUTTON,
        _SHUTDOWN,
        _CHPASSWD,
        _OS_RELEASE,
        AGENT_PACKAGE,
        TINY_USER,
        *GUEST_MODULES,
    ):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


def build_tiny_guest(cache: Path | None = None, *, rebuild: bool = False) -> TinyGuest:
    """Return the tiny guest, building it into the cache first if needed.

    The first build downloads about 30 MB from Debian's mirror and takes a few
    seconds; later calls only read a small manifest.
    """
    root = cache if cache is not None else cache_dir()
    final = root / f"tiny-{_recipe_hash()}"
    guest = None if rebuild else _load(final)
    if guest is None:
        _mkdirs(root)
        with _locked(root / ".lock"):
            guest = None if rebuild else _load(final)
            if guest is None:
                guest = _build(root, final)
    check_qemu_can_read(guest.kernel, guest.initrd)
    return guest


def _load(final: Path) -> TinyGuest | None:
    try:
        manifest = json.loads((final / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    guest = TinyGuest(
        kernel=final / "vmlinuz",
        initrd=final / "initrd.img",
        kernel_version=str(manifest.get("kernel_version", "")),
    )
    if guest.kernel.is_file() and guest.initrd.is_file():
        return guest
    return None


def _mkdirs(path: Path) -> None:
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            d.mkdir(mode=0o755)
        os.chmod(d, 0o755)


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _build(root: Path, final: Path) -> TinyGuest:
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
    try:
        kernel_pkg = _resolve_kernel_package()
        debs = _apt_download([kernel_pkg, BUSYBOX_PACKAGE, AGENT_PACKAGE], tmp / "debs")
        kx = tmp / "kernel"
        bx = tmp / "busybox"
        ax = tmp / "agent"
        _dpkg_x(debs[kernel_pkg], kx)
        _dpkg_x(debs[BUSYBOX_PACKAGE], bx)
        _dpkg_x(debs[AGENT_PACKAGE], ax)
        qemu_ga = ax / "usr" / "sbin" / "qemu-ga"
        if not qemu_ga.is_file():
            raise RuntimeError(f"no usr/sbin/qemu-ga in {debs[AGENT_PACKAGE]}")

        vmlinuz = sorted((kx / "boot").glob("vmlinuz-*"))
        if not vmlinuz:
            raise RuntimeError(f"no boot/vmlinuz-* in {debs[kernel_pkg]}")
        kernel_version = vmlinuz[-1].name.removeprefix("vmlinuz-")
        busybox = bx / "bin" / "busybox"
        if not busybox.is_file():
            raise RuntimeError(f"no bin/busybox in {debs[BUSYBOX_PACKAGE]}")

        out = tmp / "out"
        out.mkdir(mode=0o755)
        shutil.copyfile(vmlinuz[-1], out / "vmlinuz")
        mod_root = kx / "lib" / "modules" / kernel_version
        modules = _resolve_modules(mod_root, GUEST_MODULES)
        (out / "initrd.img").write_bytes(_initramfs(busybox, modules, qemu_ga))
        manifest = {
            "kernel_package": kernel_pkg,
            "kernel_version": kernel_version,
            "modules": [name for name, _ in modules],
            "recipe": _recipe_hash(),
            "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        for f in out.iterdir():
            os.chmod(f, 0o644)
        os.chmod(out, 0o755)
        if final.exists():  # rebuild=True: move the old one out of the way
            shutil.rmtree(final)
        os.rename(out, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    guest = _load(final)
    if guest is None:
        raise RuntimeError(f"tiny guest build in {final} is incomplete")
    return guest


def _run(cmd: Sequence[str], *, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        list(cmd),
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LC_ALL": "C"},
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr.strip()}"
        )
    return proc.stdout


def _sudo() -> list[str]:
    return [] if os.geteuid() == 0 else ["sudo", "-n"]


def _resolve_kernel_package() -> str:
    """``linux-image-cloud-amd64`` is a metapackage: find the versioned image."""
    for attempt in range(2):
        try:
            out = _run(["apt-cache", "depends", KERNEL_METAPACKAGE])
        except RuntimeError:
            out = ""
        deps = re.findall(r"^\s*Depends:\s*(linux-image-\S+-cloud-amd64)\s*$", out, re.M)
        if deps:
            return str(deps[0])
        if attempt == 0:  # empty package lists (fresh container): update once
            _run([*_sudo(), "apt-get", "update"])
    raise RuntimeError(f"cannot resolve the kernel package behind {KERNEL_METAPACKAGE}")


def _apt_download(packages: Sequence[str], dest: Path) -> dict[str, Path]:
    dest.mkdir(parents=True)
    cmd = ["apt-get", "download", "-q"]
    if os.geteuid() == 0:
        # The _apt sandbox user cannot write into our private temp dir.
        cmd += ["-o", "APT::Sandbox::User=root"]
    _run([*cmd, *packages], cwd=dest)
    found: dict[str, Path] = {}
    for pkg in packages:
        debs = sorted(dest.glob(f"{pkg}_*.deb"))
        if not debs:
            raise RuntimeError(f"apt-get download did not produce {pkg}_*.deb")
        found[pkg] = debs[-1]
    return found


def _dpkg_x(deb: Path, dest: Path) -> None:
    _run(["dpkg-deb", "-x", str(deb), str(dest)])


# --------------------------------------------------------------------------
# kernel modules
# --------------------------------------------------------------------------


def _modinfo_depends(ko: Path) -> list[str]:
    """The ``depends=`` entry of an (uncompressed, ELF64 LE) module."""
    data = ko.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise RuntimeError(f"{ko}: not an ELF64 little-endian module")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab_off = sections[shstrndx][4]
    for name_off, _type, _flags, _addr, off, size in sections:
        start = strtab_off + name_off
        name = data[start : data.index(b"\0", start)]
        if name == b".modinfo":
            for entry in data[off : off + size].split(b"\0"):
                if entry.startswith(b"depends="):
                    value = entry[len(b"depends=") :].decode()
                    return [d for d in value.split(",") if d]
            return []
    return []


def _resolve_modules(mod_root: Path, wanted: Sequence[str]) -> list[tuple[str, Path]]:
    """Wanted modules plus their dependencies, dependencies first."""
    index: dict[str, Path] = {}
    for ko in glob.glob(str(mod_root / "kernel" / "**" / "*.ko"), recursive=True):
        index[Path(ko).stem.replace("-", "_")] = Path(ko)
    ordered: list[tuple[str, Path]] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        name = name.replace("-", "_")
        if name in seen or name not in index:
            return
        seen.add(name)
        for dep in _modinfo_depends(index[name]):
            visit(dep)
        ordered.append((name, index[name]))

    for name in wanted:
        visit(name)
    return ordered


# --------------------------------------------------------------------------
# initramfs (cpio "newc", gzip)
# --------------------------------------------------------------------------


class _Cpio:
    def __init__(self) -> None:
        self._buf = io.BytesIO()
        self._ino = 1
        self._dirs: set[str] = set()

    def _entry(
        self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)
    ) -> None:
        name_b = name.encode() + b"\0"
        nlink = 2 if stat.S_ISDIR(mode) else 1
        # ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor
        # namesize check
        fields = (
            self._ino,
            mode,
            0,
            0,
            nlink,
            0,
            len(data),
            0,
            0,
            *rdev,
            len(name_b),
            0,
        )
        self._ino += 1
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        self._buf.write(header + name_b)
        self._pad()
        self._buf.write(data)
        self._pad()

    def _pad(self) -> None:
        self._buf.write(b"\0" * (-self._buf.tell() % 4))

    def dir(self, name: str) -> None:
        parts = name.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d and d not in self._dirs:
                self._dirs.add(d)
                self._entry(d, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self.dir(os.path.dirname(name))
        self._entry(name, stat.S_IFREG | mode, data)

    def chardev(self, name: str, major: int, minor: int, mode: int = 0o600) -> None:
        self.dir(os.path.dirname(name))
        self._entry(name, stat.S_IFCHR | mode, rdev=(major, minor))

    def symlink(self, name: str, target: str) -> None:
        self.dir(os.path.dirname(name))
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return self._buf.getvalue()


def _shared_libraries(binary: Path) -> list[tuple[str, Path]]:
    """(path in the guest, file here) of every library ``ldd`` lists, the loader too."""
    found: list[tuple[str, Path]] = []
    for line in _run(["ldd", str(binary)]).splitlines():
        m = re.search(r"=>\s*(/\S+)", line) or re.match(r"\s*(/\S+)\s+\(", line)
        if m:
            found.append((m.group(1).lstrip("/"), Path(m.group(1)).resolve()))
    if not any("ld-linux" in name for name, _ in found):
        raise RuntimeError(f"ldd {binary} names no loader")
    return found


def _initramfs(
    busybox: Path, modules: Sequence[tuple[str, Path]], qemu_ga: Path | None = None
) -> bytes:
    cpio = _Cpio()
    for d in ("dev", "proc", "sys", "tmp", "run", "root", "etc", "var/log", "mnt"):
        cpio.dir(d)
    # The kernel opens /dev/console for PID 1 before /init can mount devtmpfs.
    cpio.chardev("dev/console", 5, 1)
    cpio.file("bin/busybox", busybox.read_bytes(), 0o755)
    applets = _run([str(busybox), "--list-full"]).split()
    for path in applets:
        path = path.strip("/")
        if path and path != "bin/busybox":
            cpio.symlink(path, "/bin/busybox")
    cpio.file("init", _INIT_SCRIPT.encode(), 0o755)
    cpio.file("etc/profile", _PROFILE.encode())
    cpio.file("etc/hostname", b"vmtui-tiny\n")
    cpio.file(
        "etc/passwd",
        f"root:x:0:0:root:/root:/bin/sh\n{TINY_USER}:x:1000:1000::/tmp:/bin/sh\n".encode(),
    )
    cpio.file("etc/group", f"root:x:0:\n{TINY_USER}:x:1000:\n".encode())
    cpio.file(
        "etc/shadow",
        f"root:*:19000:0:99999:7:::\n{TINY_USER}:!:19000:0:99999:7:::\n".encode(),
        0o600,
    )
    cpio.file("etc/os-release", _OS_RELEASE.encode())
    cpio.file("sbin/shutdown", _SHUTDOWN.encode(), 0o755)
    cpio.file("usr/sbin/chpasswd", _CHPASSWD.encode(), 0o755)
    cpio.symlink("var/run", "/run")
    if qemu_ga is not None:
        cpio.file("usr/sbin/qemu-ga", qemu_ga.read_bytes(), 0o755)
        for name, lib in _shared_libraries(qemu_ga):
            cpio.file(name, lib.read_bytes(), 0o755)
    cpio.file("etc/acpi/PWRF/00000080", _POWER_BUTTON.encode(), 0o755)
    cpio.file("etc/acpid.conf", b"PWRF PWRF/00000080\n")
    for name, ko in modules:
        cpio.file(f"lib/modules/{name}.ko", ko.read_bytes())
    load_order = "".join(f"{name}\n" for name, _ in modules)
    cpio.file("lib/modules/load-order", load_order.encode())
    return gzip.compress(cpio.finish(), compresslevel=6, mtime=0)


def check_qemu_can_read(*files: Path) -> None:
    """Raise if QEMU (running as another user) could not open ``files``.

    Checks that every parent directory is traversable (``o+x``) and the files
    are readable by others (``o+r``).  libvirt's dynamic ownership would fix the
    files themselves but never the directories.
    """
    for f in files:
        f = f.resolve()
        if not f.stat().st_mode & stat.S_IROTH:
            raise PermissionError(f"{f} is not world-readable; QEMU runs as libvirt-qemu")
        for parent in f.parents:
            if not parent.stat().st_mode & stat.S_IXOTH:
                raise PermissionError(
                    f"{parent} is not traversable by others (mode "
                    f"{stat.filemode(parent.stat().st_mode)}), so QEMU (user libvirt-qemu) "
                    f"cannot open {f}. Set VMTUI_TEST_CACHE to a world-traversable directory."
                )


# --------------------------------------------------------------------------
# domain XML
# --------------------------------------------------------------------------


def tiny_domain_xml(
    name: str,
    guest: TinyGuest,
    *,
    memory_mib: int = 128,
    vcpus: int = 1,
    max_vcpus: int = 2,
    vga: bool = False,
    extra_devices_xml: str = "",
    extra_cmdline: str = "",
    uuid: str | None = None,
    balloon_stats_period: int = 5,
    agent: bool = False,
) -> str:
    """Domain XML that direct-boots the tiny guest under TCG, without any NIC.

    ``extra_devices_xml`` is parsed and appended to ``<devices>``; it may hold
    several sibling elements (e.g. two ``<disk>``).  With ``vga=True`` the guest
    also gets a VGA card and a VNC server on 127.0.0.1 (autoport), and the
    kernel writes its messages to the VGA console too. With ``agent=True`` it gets the
    guest agent's virtio-serial channel, and the guest starts ``qemu-ga`` on it.
    """
    if not 1 <= vcpus <= max_vcpus:
        raise ValueError(f"need 1 <= vcpus ({vcpus}) <= max_vcpus ({max_vcpus})")
    dom = ET.Element("domain", type="qemu")
    ET.SubElement(dom, "name").text = name
    if uuid is not None:
        ET.SubElement(dom, "uuid").text = uuid
    ET.SubElement(dom, "memory", unit="MiB").text = str(memory_mib)
    ET.SubElement(dom, "currentMemory", unit="MiB").text = str(memory_mib)
    ET.SubElement(dom, "vcpu", placement="static", current=str(vcpus)).text = str(max_vcpus)

    os_el = ET.SubElement(dom, "os")
    ET.SubElement(os_el, "type", arch="x86_64", machine="pc").text = "hvm"
    ET.SubElement(os_el, "kernel").text = str(guest.kernel)
    ET.SubElement(os_el, "initrd").text = str(guest.initrd)
    consoles = "console=tty0 console=ttyS0" if vga else "console=ttyS0"
    cmdline = f"{consoles} quiet panic=-1 mitigations=off {extra_cmdline}".strip()
    ET.SubElement(os_el, "cmdline").text = cmdline

    features = ET.SubElement(dom, "features")
    ET.SubElement(features, "acpi")
    ET.SubElement(features, "apic")
    ET.SubElement(dom, "clock", offset="utc")
    ET.SubElement(dom, "on_poweroff").text = "destroy"
    ET.SubElement(dom, "on_reboot").text = "restart"
    ET.SubElement(dom, "on_crash").text = "destroy"

    devices = ET.SubElement(dom, "devices")
    ET.SubElement(devices, "controller", type="usb", model="none")
    serial = ET.SubElement(devices, "serial", type="pty")
    ET.SubElement(serial, "target", port="0")
    console = ET.SubElement(devices, "console", type="pty")
    ET.SubElement(console, "target", type="serial", port="0")
    if vga:
        video = ET.SubElement(devices, "video")
        ET.SubElement(video, "model", type="vga")
        ET.SubElement(devices, "graphics", type="vnc", listen="127.0.0.1", autoport="yes")
    balloon = ET.SubElement(devices, "memballoon", model="virtio")
    if balloon_stats_period > 0:
        ET.SubElement(balloon, "stats", period=str(balloon_stats_period))
    if agent:
        channel = ET.SubElement(devices, "channel", type="unix")
        ET.SubElement(channel, "target", type="virtio", name=AGENT_PORT)
    if extra_devices_xml.strip():
        wrapper = ET.fromstring(f"<devices>{extra_devices_xml}</devices>")
        devices.extend(list(wrapper))

    ET.indent(dom)
    return ET.tostring(dom, encoding="unicode")


# --------------------------------------------------------------------------
# serial console over a libvirt stream
# --------------------------------------------------------------------------


class ConsoleReader:
    """Read/write a domain's serial console through ``virDomainOpenConsole``.

    A daemon thread does *blocking* ``virStream.recv`` calls and appends to a
    buffer.  Blocking receives work whether or not the process registered and
    runs a libvirt event loop (``virEventRegisterDefaultImpl``); non-blocking
    receives would only ever see data when an event loop is running, because
    without one nothing reads the connection's socket between API calls.

    ``open`` gives the stream a connection of its own. Measured (CI, 1 run in ~10): a
    blocking ``recv`` on the test session's shared connection, with the process' libvirt
    event loop running, deadlocked a ``resume()`` made on that connection meanwhile (both
    threads waiting inside libvirt's RPC client, the guest left paused).

    QEMU discards serial output while nobody is attached to the pty, so to see
    a guest from its very first line start it paused
    (``VIR_DOMAIN_START_PAUSED``), attach, then ``resume()``.  Only one console
    session per domain can be open; ``force=True`` steals it.

    ``read_until``/``wait_for_line`` consume the buffer up to the end of the
    match; ``text`` is everything received so far (for error messages).
    """

    def __init__(self, stream: Any, *, name: str = "console", conn: Any = None) -> None:
        """Wrap an already opened console ``virStream`` (blocking, flags 0); ``conn``, if
        given, is the stream's own connection, closed with the reader."""
        import libvirt  # local import: the module must be importable without it

        self._libvirt = libvirt
        self._stream: Any = stream
        self._conn: Any = conn
        self._cond = threading.Condition()
        self._chunks: list[str] = []
        self._all: list[str] = []
        self._eof = False
        self._error: BaseException | None = None
        self._closed = False
        self._decoder = _utf8_decoder()
        self._send_lock = threading.Lock()
        self._thread = threading.Thread(target=self._reader, name=f"console-{name}", daemon=True)
        self._thread.start()

    @classmethod
    def open(
        cls, domain: Any, *, force: bool = False, dev_name: str | None = None
    ) -> ConsoleReader:
        """Open ``domain``'s console (``force`` steals an existing session), on a
        connection of its own (see the class docstring)."""
        import libvirt

        conn = libvirt.open(domain.connect().getURI())
        try:
            own = conn.lookupByUUIDString(domain.UUIDString())
            stream = conn.newStream(0)
            flags = libvirt.VIR_DOMAIN_CONSOLE_FORCE if force else 0
            own.openConsole(dev_name, stream, flags)
        except BaseException:
            conn.close()
            raise
        return cls(stream, name=domain.name(), conn=conn)

    # -- background thread ---------------------------------------------------
    def _reader(self) -> None:
        while True:
            try:
                data = self._stream.recv(65536)
            except self._libvirt.libvirtError as exc:
                with self._cond:
                    if not self._closed:
                        self._error = exc
                    self._eof = True
                    self._cond.notify_all()
                return
            if isinstance(data, int):  # -2 = EAGAIN; only for non-blocking streams
                time.sleep(0.05)
                continue
            if not data:  # EOF: the domain stopped or the stream was aborted
                with self._cond:
                    self._eof = True
                    self._cond.notify_all()
                return
            text = self._decoder.decode(data)
            with self._cond:
                self._chunks.append(text)
                self._all.append(text)
                self._cond.notify_all()

    # -- API -------------------------------------------------------------------
    @property
    def text(self) -> str:
        """Everything received so far (including consumed output)."""
        with self._cond:
            return "".join(self._all)

    @property
    def eof(self) -> bool:
        with self._cond:
            return self._eof

    def write(self, data: str | bytes) -> None:
        raw = data.encode() if isinstance(data, str) else data
        with self._send_lock:
            while raw:
                sent = self._stream.send(raw)
                if sent == -2:
                    time.sleep(0.01)
                    continue
                if sent < 0:
                    raise OSError(f"console stream send failed ({sent})")
                raw = raw[sent:]

    def read_until(self, pattern: str | re.Pattern[str], timeout: float = 30.0) -> re.Match[str]:
        """Wait until ``pattern`` (regex) matches unconsumed output; consume it."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                pending = "".join(self._chunks)
                m = regex.search(pending)
                if m:
                    self._chunks = [pending[m.end() :]]  # consume through the match
                    return m
                self._chunks = [pending]
                if self._eof:
                    raise EOFError(self._fail_msg(regex, "console stream closed"))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self._fail_msg(regex, f"not seen within {timeout:g}s"))
                self._cond.wait(min(remaining, 0.5))

    def wait_for_line(self, line: str, timeout: float = 30.0) -> re.Match[str]:
        """Wait for ``line`` as a complete line of its own (CR/LF tolerant)."""
        return self.read_until(re.compile(rf"(?m)^{re.escape(line)}\r*\n"), timeout)

    def run(self, command: str, timeout: float = 30.0) -> str:
        """Run a shell command in the guest and return its output (CRs removed).

        The command is bracketed by two marker lines printed through a shell
        variable, so the echoed command line itself never matches and long
        commands that the line editor wraps do not matter.
        """
        tag = f"__vmtui{time.monotonic_ns()}__"
        self.write(f'm={tag}; echo "$m"BEGIN; {command}; echo "$m"END\n')
        t = re.escape(tag)
        m = self.read_until(re.compile(rf"(?s){t}BEGIN\r*\n(.*?){t}END\r*\n"), timeout)
        return m.group(1).replace("\r", "")

    def _fail_msg(self, regex: re.Pattern[str], why: str) -> str:
        tail = "".join(self._all)[-2000:]
        err = f" (stream error: {self._error})" if self._error else ""
        return f"console: {regex.pattern!r} {why}{err}; last output:\n{tail}"

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
        if not self.eof:  # aborting a finished stream only logs a libvirt error
            with contextlib.suppress(Exception):
                self._stream.abort()
        self._thread.join(timeout=5)
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()

    def __enter__(self) -> ConsoleReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def start_with_console(domain: Any, *, force: bool = False) -> ConsoleReader:
    """Start ``domain`` paused, attach a :class:`ConsoleReader`, then resume.

    This way no early console output is lost (QEMU drops serial output while
    nobody is attached).  The caller owns the reader and must ``close()`` it.
    """
    import libvirt

    domain.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
    reader = ConsoleReader.open(domain, force=force)
    try:
        domain.resume()
    except BaseException:
        reader.close()
        raise
    return reader


def _utf8_decoder() -> Any:
    import codecs

    return codecs.getincrementaldecoder("utf-8")(errors="replace")
