"""Moving a guest to another host: live (running guest) or offline (shut-off guest).

``migrate(source_hv, target_hv, uuid, spec, progress_cb, cancel_event)`` blocks until the
guest runs on the target (or is defined there, offline), and is meant for a thread worker:

* A running guest moves with ``virDomainMigrate3`` from this process, which holds both
  connections (libvirt's "managed direct" migration), or with ``virDomainMigrateToURI3`` and
  ``VIR_MIGRATE_PEER2PEER`` when ``spec.peer2peer`` is set: then the *source daemon* opens
  the target URI itself, so the URI must mean the target from the source host's point of view.
  The migration call runs in a thread of its own; the calling thread polls
  ``virDomainGetJobStats`` every ``poll_interval`` seconds and hands ``progress_cb`` a
  :class:`MigrationProgress`, and when ``cancel_event`` is set it calls
  ``virDomainAbortJob``.
* A shut-off guest is defined on the target from its XML, then (``undefine_source``)
  undefined on the source. What a definition alone cannot carry (a managed-save image, the
  metadata of snapshots and checkpoints) would be lost with the source's definition: such a
  move is refused before anything changes (:func:`offline_losses` says what is at stake). If
  the source's definition cannot be removed, the new one on the target is removed again: a
  guest is never left defined on both hosts by a move that asked to remove it.

A failed or cancelled migration leaves the guest where it was: libvirt resumes it on the
source. ``migrate`` checks that and says so in the error's sentence
(:class:`MigrationFailed`, :class:`MigrationCancelled`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import libvirt

from vmtui.backend.devices import InvalidInput
from vmtui.backend.errors import ActionFailed, VmtuiError, libvirt_message
from vmtui.backend.hypervisor import Hypervisor

MAX_BANDWIDTH_MIB = 1_000_000  # MiB/s: far above any link; guards against typos


class MigrationFailed(ActionFailed):
    """The migration did not complete; the message says where the guest is now."""


class MigrationCancelled(MigrationFailed):
    """The user cancelled the migration; the message says where the guest is now."""


def uri_host(uri: str) -> str:
    """The host part of a libvirt URI ("" for a local one such as qemu:///system)."""
    try:
        return urlsplit(uri).hostname or ""
    except ValueError:
        return ""


def _is_local(uri: str) -> bool:
    """The URI's daemon runs on this machine (no host, localhost or a loopback address)."""
    host = uri_host(uri)
    if host in ("", "localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def derive_migrate_uri(source_uri: str, target_uri: str) -> str:
    """Where QEMU should send the migration stream, or "" to let libvirt choose.

    The target URI's host ("tcp://hv2" for qemu+ssh://root@hv2/system): libvirt's own
    choice is the target's hostname, which need not resolve to the address the user reaches
    it by. A local target (no host in its URI) seen from a local source (two daemons on one
    machine, the source maybe reached by a loopback address): loopback. A local target seen from
    a remote source has no address we know: libvirt chooses."""
    host = uri_host(target_uri)
    if host and host != "localhost":
        return f"tcp://[{host}]" if ":" in host else f"tcp://{host}"
    if _is_local(source_uri):
        return "tcp://127.0.0.1"
    return ""


@dataclass(frozen=True)
class MigrationSpec:
    """What the user asked for. ``validate()`` refuses a combination that makes no sense."""

    target_uri: str
    live: bool = True  # a running guest keeps running while its memory is copied
    offline: bool = False  # the guest is shut off: move its definition only
    persistent: bool = True  # define it on the target (else it is transient there)
    undefine_source: bool = True  # remove the source's definition once it has moved
    copy_storage: bool = False  # copy disks that are not on shared storage (NON_SHARED_DISK)
    bandwidth_mib: int = 0  # MiB/s; 0 = no limit
    migrate_uri: str = ""  # where QEMU sends its stream; "" = derived (derive_migrate_uri)
    peer2peer: bool = False  # the source daemon talks to the target (it must reach the URI)

    def validate(self, source_uri: str) -> None:
        """Raise InvalidInput with a sentence when the spec cannot be used."""
        if not self.target_uri.strip():
            raise InvalidInput("Choose the host to move the guest to.")
        if self.target_uri == source_uri:
            raise InvalidInput("The guest already runs on that host; choose another one.")
        if self.bandwidth_mib < 0:
            raise InvalidInput("The bandwidth limit must be a positive number of MiB/s (or 0).")
        if self.bandwidth_mib > MAX_BANDWIDTH_MIB:
            raise InvalidInput(
                f"A bandwidth limit of {self.bandwidth_mib} MiB/s is not plausible; "
                "leave it at 0 for no limit."
            )
        if self.undefine_source and not self.persistent:
            raise InvalidInput(
                "Removing the guest's definition from the source while it is only transient "
                "on the target would lose it when it stops: keep it persistent on the target, "
                "or keep the source's definition."
            )
        if self.offline and self.copy_storage:
            raise InvalidInput(
                "Disks are copied only while the guest runs; an offline move copies its "
                "definition only (copy the disks yourself, or start the guest first)."
            )
        if self.offline and not self.persistent:
            raise InvalidInput(
                "An offline move defines the guest on the target: it must be persistent."
            )
        if self.migrate_uri:
            scheme = urlsplit(self.migrate_uri).scheme if "://" in self.migrate_uri else ""
            if scheme not in ("tcp", "rdma") or not uri_host(self.migrate_uri):
                raise InvalidInput(
                    f"The migration address {self.migrate_uri!r} is not of the form "
                    "tcp://HOST[:PORT]."
                )

    def flags(self) -> int:
        """The virDomainMigrate flags for a running guest."""
        flags = 0
        if self.live:
            flags |= libvirt.VIR_MIGRATE_LIVE
        if self.peer2peer:
            flags |= libvirt.VIR_MIGRATE_PEER2PEER
        if self.persistent:
            flags |= libvirt.VIR_MIGRATE_PERSIST_DEST
        if self.undefine_source:
            flags |= libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
        if self.copy_storage:
            flags |= libvirt.VIR_MIGRATE_NON_SHARED_DISK
        return flags

    def stream_uri(self, source_uri: str) -> str:
        return self.migrate_uri or derive_migrate_uri(source_uri, self.target_uri)

    def params(self, source_uri: str) -> dict[str, Any]:
        """The typed parameters of virDomainMigrate3 / MigrateToURI3."""
        params: dict[str, Any] = {}
        stream = self.stream_uri(source_uri)
        if stream:
            params[libvirt.VIR_MIGRATE_PARAM_URI] = stream
        if self.bandwidth_mib:
            params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = self.bandwidth_mib
        return params

    def virsh_words(self, name: str, source_uri: str) -> tuple[str, ...]:
        """The equivalent ``virsh migrate`` arguments (for the activity log)."""
        if self.offline:
            words = ["migrate", "--offline", "--persistent"]
            if self.undefine_source:
                words.append("--undefinesource")
            return (*words, name, self.target_uri)
        words = ["migrate"]
        if self.live:
            words.append("--live")
        if self.peer2peer:
            words.append("--p2p")
        if self.persistent:
            words.append("--persistent")
        if self.undefine_source:
            words.append("--undefinesource")
        if self.copy_storage:
            words.append("--copy-storage-all")
        if self.bandwidth_mib:
            words += ["--bandwidth", str(self.bandwidth_mib)]
        stream = self.stream_uri(source_uri)
        words += [name, self.target_uri]
        if stream:
            words += ["--migrateuri", stream]
        return tuple(words)


@dataclass(frozen=True)
class MigrationProgress:
    """One reading of the migration job (figures libvirt does not give are None)."""

    elapsed: float  # seconds since the migration started
    data_total: int | None = None  # bytes
    data_processed: int | None = None
    data_remaining: int | None = None
    memory_dirty_rate: int | None = None  # pages/s the guest dirties
    memory_bps: int | None = None  # bytes/s sent
    downtime_ms: int | None = None  # expected (while running) or real (at the end)
    iteration: int | None = None  # memory passes so far
    phase: str = "migrating"

    @property
    def fraction(self) -> float | None:
        """Share of the data sent (0..1), when known."""
        if not self.data_total or self.data_processed is None:
            return None
        if self.data_remaining is not None and self.data_remaining == 0:
            return 1.0
        return max(0.0, min(1.0, self.data_processed / self.data_total))


@dataclass(frozen=True)
class MigrationResult:
    name: str
    source_uri: str
    target_uri: str
    offline: bool
    seconds: float
    downtime_ms: int | None
    message: str  # one sentence for the user


def _int(stats: dict[str, Any], key: str) -> int | None:
    value = stats.get(key)
    return int(value) if isinstance(value, (int, float)) else None


def progress_from_stats(stats: dict[str, Any], elapsed: float) -> MigrationProgress:
    """A MigrationProgress from virDomainGetJobStats' dictionary."""
    job_ms = _int(stats, "time_elapsed")
    return MigrationProgress(
        elapsed=job_ms / 1000 if job_ms is not None else elapsed,
        data_total=_int(stats, "data_total"),
        data_processed=_int(stats, "data_processed"),
        data_remaining=_int(stats, "data_remaining"),
        memory_dirty_rate=_int(stats, "memory_dirty_rate"),
        memory_bps=_int(stats, "memory_bps"),
        downtime_ms=_int(stats, "downtime"),
        iteration=_int(stats, "memory_iteration"),
        phase="migrating" if _int(stats, "data_total") else "preparing",
    )


ProgressCallback = Callable[[MigrationProgress], None]


def migrate(
    source_hv: Hypervisor,
    target_hv: Hypervisor | None,
    uuid: str,
    spec: MigrationSpec,
    progress_cb: ProgressCallback | None = None,
    cancel_event: threading.Event | None = None,
    *,
    poll_interval: float = 0.5,
) -> MigrationResult:
    """Move guest ``uuid`` from ``source_hv`` to ``spec.target_uri`` (see the module doc).

    ``target_hv`` is the target's connection (needed unless ``spec.peer2peer``).
    Raises InvalidInput, MigrationFailed or MigrationCancelled with a sentence."""
    spec.validate(source_hv.uri)
    if not spec.peer2peer and target_hv is None:
        raise InvalidInput(f"{spec.target_uri} is not connected; connect it first.")
    conn = source_hv.writable_conn()
    dom = source_hv.lookup_domain(conn, uuid)
    try:
        name = dom.name()
        active = bool(dom.isActive())
    except libvirt.libvirtError as err:
        raise source_hv.wrap_error(err, "migrate", uuid) from None
    cancel = cancel_event or threading.Event()
    try:
        if active and spec.offline:
            raise InvalidInput(
                f"Guest {name} is running: move it live, or shut it down first to move it offline."
            )
        if not active:
            return _migrate_offline(source_hv, target_hv, dom, name, spec)
        return _migrate_running(
            source_hv, target_hv, dom, name, spec, progress_cb, cancel, poll_interval
        )
    finally:
        source_hv.touch(uuid)
        if target_hv is not None:
            target_hv.touch(uuid)


def _migrate_offline(
    source_hv: Hypervisor,
    target_hv: Hypervisor | None,
    dom: Any,
    name: str,
    spec: MigrationSpec,
) -> MigrationResult:
    if target_hv is None:
        raise InvalidInput(f"{spec.target_uri} is not connected; connect it first.")
    started = time.monotonic()
    tconn = target_hv.writable_conn()
    try:
        xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE | libvirt.VIR_DOMAIN_XML_INACTIVE)
    except libvirt.libvirtError as err:
        raise source_hv.wrap_error(err, "read the definition of", name) from None
    try:
        tconn.lookupByUUIDString(dom.UUIDString())
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
            raise target_hv.wrap_error(err, "migrate", name) from None
    else:
        raise MigrationFailed(
            f"{spec.target_uri} already has a guest with the UUID of {name}; nothing was "
            f"changed, {name} stays on {source_hv.uri}."
        )
    if spec.undefine_source:
        try:
            losses = offline_losses(dom)
        except libvirt.libvirtError as err:
            raise source_hv.wrap_error(err, "inspect", name) from None
        if losses:
            raise MigrationFailed(
                f"Guest {name} has {_and(losses)} on {source_hv.uri}, which an offline move "
                f"cannot take along: removing its definition there would lose them. Nothing "
                f"was changed. Start it and move it live, remove them first, or keep its "
                f"definition on {source_hv.uri} (untick 'Remove its definition')."
            )
    try:
        tdom = tconn.defineXML(xml)
    except libvirt.libvirtError as err:
        raise MigrationFailed(
            f"Could not define guest {name} on {spec.target_uri}: {libvirt_message(err)}. "
            f"Nothing was changed; {name} stays on {source_hv.uri}."
        ) from None
    kept = f"{source_hv.uri} keeps its definition too"
    if spec.undefine_source:
        try:
            source_hv_undefine(dom)
        except libvirt.libvirtError as err:
            undone = _undo_target(tdom, name, source_hv.uri, spec.target_uri, err)
            raise MigrationFailed(undone) from None
        kept = f"its definition was removed from {source_hv.uri}"
    nvram = _nvram_of(xml)
    if nvram and spec.undefine_source:
        kept += (
            f". Its NVRAM file {nvram} stays on {source_hv.uri}: copy it to the same path on "
            f"{spec.target_uri} to keep its UEFI settings"
        )
    seconds = time.monotonic() - started
    return MigrationResult(
        name,
        source_hv.uri,
        spec.target_uri,
        True,
        seconds,
        None,
        f"Guest {name} (shut off) is now defined on {spec.target_uri}; {kept}.",
    )


def offline_losses(dom: Any) -> list[str]:
    """What removing this guest's definition after an offline move would lose (phrases:
    "a saved memory state", "2 snapshots", ...); [] when nothing."""
    out = []
    if dom.hasManagedSaveImage(0):
        out.append("a saved memory state (managed save)")
    snapshots = dom.snapshotNum(0)
    if snapshots:
        out.append(f"{snapshots} snapshot{'s' if snapshots != 1 else ''}")
    with contextlib.suppress(libvirt.libvirtError, AttributeError):
        checkpoints = len(dom.listAllCheckpoints(0))
        if checkpoints:
            out.append(f"{checkpoints} checkpoint{'s' if checkpoints != 1 else ''}")
    return out


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _nvram_of(xml: str) -> str:
    with contextlib.suppress(ET.ParseError):
        elem = ET.fromstring(xml).find("os/nvram")
        if elem is not None:
            src = elem.find("source")
            return (src.get("file", "") if src is not None else (elem.text or "")).strip()
    return ""


def _undo_target(tdom: Any, name: str, source_uri: str, target_uri: str, err: Exception) -> str:
    """The source's definition could not be removed: remove the target's new one, so the
    guest is not defined on both hosts; the sentence says what happened."""
    why = libvirt_message(err) if isinstance(err, libvirt.libvirtError) else str(err)
    try:
        tdom.undefine()
    except libvirt.libvirtError as undo:
        return (
            f"Guest {name} is now defined on both {source_uri} and {target_uri}: its "
            f"definition on {source_uri} could not be removed ({why}), and the new one on "
            f"{target_uri} could not be removed either ({libvirt_message(undo)}). Remove one "
            "of them by hand before starting it."
        )
    return (
        f"Could not remove the definition of guest {name} from {source_uri} ({why}), so the "
        f"copy just defined on {target_uri} was removed again. Nothing was changed; {name} "
        f"stays on {source_uri}."
    )


def source_hv_undefine(dom: Any) -> None:
    """Undefine the source's copy after an offline move. No flag drops saved state (a
    managed-save image or snapshot metadata makes libvirt refuse, and ``offline_losses``
    refused such a move already); the NVRAM file is kept on disk."""
    try:
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_KEEP_NVRAM)
    except libvirt.libvirtError as err:
        if err.get_error_code() not in (
            libvirt.VIR_ERR_INVALID_ARG,
            libvirt.VIR_ERR_NO_SUPPORT,
            libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED,
        ):
            raise
        dom.undefine()


def _migrate_running(
    source_hv: Hypervisor,
    target_hv: Hypervisor | None,
    dom: Any,
    name: str,
    spec: MigrationSpec,
    progress_cb: ProgressCallback | None,
    cancel: threading.Event,
    poll_interval: float,
) -> MigrationResult:
    params = spec.params(source_hv.uri)
    flags = spec.flags()
    tconn = None if spec.peer2peer or target_hv is None else target_hv.writable_conn()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            if tconn is None:
                dom.migrateToURI3(spec.target_uri, params, flags)
            else:
                outcome["dom"] = dom.migrate3(tconn, params, flags)
        except libvirt.libvirtError as err:
            outcome["error"] = err
        except Exception as err:
            outcome["other"] = err

    started = time.monotonic()
    worker = threading.Thread(target=run, name=f"migrate-{name}", daemon=True)
    worker.start()
    last: MigrationProgress | None = None
    aborted = False
    while worker.is_alive():
        worker.join(poll_interval)
        if not worker.is_alive():
            break
        if cancel.is_set() and not aborted:
            try:
                dom.abortJob()
                aborted = True
            except libvirt.libvirtError:
                pass  # the job has not started yet (or just ended): try again next round
        try:
            stats = dom.jobStats()
        except libvirt.libvirtError:
            continue
        if stats.get("type", 0) in (0, libvirt.VIR_DOMAIN_JOB_NONE):
            continue
        now = progress_from_stats(stats, time.monotonic() - started)
        if aborted:
            if not now.data_total and last is not None:
                # Once aborted, libvirt may report the job with every figure zeroed: keep
                # showing the last figures known rather than a progress that fell to nothing.
                now = replace(last, elapsed=now.elapsed)
            now = replace(now, phase="cancelling")
        last = now
        if progress_cb is not None:
            progress_cb(last)
    seconds = time.monotonic() - started
    error = outcome.get("error")
    other = outcome.get("other")
    if error is not None or other is not None:
        where = _where_now(source_hv, target_hv, dom, name)
        if aborted or cancel.is_set():
            raise MigrationCancelled(f"Migration of {name} was cancelled. {where}")
        reason = libvirt_message(error) if error is not None else str(other)
        raise MigrationFailed(f"Could not migrate guest {name}: {reason}. {where}")
    completed = _completed_stats(target_hv, outcome.get("dom"), dom)
    downtime = _int(completed, "downtime")
    total = _int(completed, "data_total") or (last.data_total if last else None)
    if progress_cb is not None:
        done = MigrationProgress(
            elapsed=seconds,
            data_total=total,
            data_processed=total,
            data_remaining=0,
            downtime_ms=downtime,
            phase="done",
        )
        progress_cb(done)
    check = ""
    if target_hv is not None:
        check = _target_check(target_hv, dom.UUIDString(), name)
    pause = f", {downtime} ms paused" if downtime is not None else ""
    message = (
        f"Guest {name} moved to {spec.target_uri} in {seconds:.1f}s{pause}.{check}"
        if spec.live
        else f"Guest {name} moved to {spec.target_uri} in {seconds:.1f}s (paused while it "
        f"moved).{check}"
    )
    return MigrationResult(name, source_hv.uri, spec.target_uri, False, seconds, downtime, message)


def _completed_stats(target_hv: Hypervisor | None, moved: Any, dom: Any) -> dict[str, Any]:
    """The finished job's figures (data sent, real downtime): the target's copy remembers
    them (the source's may be gone when its definition was removed); {} when unknown."""
    candidates = [moved, dom]
    if moved is None and target_hv is not None:
        with contextlib.suppress(libvirt.libvirtError, VmtuiError):
            candidates.insert(0, target_hv.readable_conn().lookupByUUIDString(dom.UUIDString()))
    for one in candidates:
        if one is None:
            continue
        try:
            stats = one.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
        except libvirt.libvirtError:
            continue
        if stats and stats.get("type", 0) != libvirt.VIR_DOMAIN_JOB_NONE:
            return dict(stats)
    return {}


def _target_check(target_hv: Hypervisor, uuid: str, name: str) -> str:
    """ " It runs there." confirmed on the target, or a warning sentence."""
    try:
        tdom = target_hv.readable_conn().lookupByUUIDString(uuid)
        state = tdom.state()[0]
    except (libvirt.libvirtError, VmtuiError) as err:
        return f" (Could not check it on the target: {err}.)"
    if state == libvirt.VIR_DOMAIN_RUNNING:
        return ""
    return f" It is not running there (state {state}); check it."


def _where_now(source_hv: Hypervisor, target_hv: Hypervisor | None, dom: Any, name: str) -> str:
    """A sentence saying where the guest is after a failed migration (checked, not assumed)."""
    state: int | None = None
    for _ in range(20):  # libvirt resumes the source a moment after the job ends
        try:
            state = dom.state()[0]
        except libvirt.libvirtError:
            state = None
            break
        if state == libvirt.VIR_DOMAIN_RUNNING:
            break
        time.sleep(0.1)
    if state == libvirt.VIR_DOMAIN_RUNNING:
        return f"It is still running on {source_hv.uri}."
    if state == libvirt.VIR_DOMAIN_PAUSED:
        return f"It is paused on {source_hv.uri}; resume it there (u)."
    if target_hv is not None:
        try:
            tdom = target_hv.readable_conn().lookupByUUIDString(dom.UUIDString())
            if tdom.isActive():
                return f"It is running on {target_hv.uri}."
        except (libvirt.libvirtError, VmtuiError):
            pass
    if state is None:
        return f"It is no longer on {source_hv.uri}; check the target host."
    return f"It is not running on {source_hv.uri} any more (state {state}); check it."
