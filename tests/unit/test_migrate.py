"""MigrationSpec: what is refused (with a sentence), the flags and parameters sent to libvirt,
the virsh line logged; progress figures from job stats; and the offline path on the test driver
(which defines and undefines guests but cannot migrate a running one)."""

from __future__ import annotations

import libvirt
import pytest

from tests.conftest import host_uri
from vmtui.backend import HostHistory, Hypervisor, Snapshot
from vmtui.backend import migrate as migration
from vmtui.backend.devices import InvalidInput
from vmtui.backend.migrate import (
    MigrationCancelled,
    MigrationFailed,
    MigrationProgress,
    MigrationSpec,
    _migrate_running,
    derive_migrate_uri,
    migrate,
    progress_from_stats,
)
from vmtui.control.messages import Polled
from vmtui.demo import DEMO_URI

SRC = "qemu:///system"
DST = "qemu+tcp://127.0.0.2/system"


def test_default_spec_is_live_persistent_and_undefines_the_source() -> None:
    spec = MigrationSpec(DST)
    spec.validate(SRC)
    assert spec.flags() == (
        libvirt.VIR_MIGRATE_LIVE
        | libvirt.VIR_MIGRATE_PERSIST_DEST
        | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
    )
    assert spec.params(SRC) == {libvirt.VIR_MIGRATE_PARAM_URI: "tcp://127.0.0.2"}


def test_options_map_to_their_flags_and_parameters() -> None:
    spec = MigrationSpec(
        DST,
        live=False,
        persistent=True,
        undefine_source=False,
        copy_storage=True,
        bandwidth_mib=25,
        peer2peer=True,
        migrate_uri="tcp://10.1.1.1:49200",
    )
    spec.validate(SRC)
    assert spec.flags() == (
        libvirt.VIR_MIGRATE_PEER2PEER
        | libvirt.VIR_MIGRATE_PERSIST_DEST
        | libvirt.VIR_MIGRATE_NON_SHARED_DISK
    )
    assert not spec.flags() & libvirt.VIR_MIGRATE_LIVE
    assert spec.params(SRC) == {
        libvirt.VIR_MIGRATE_PARAM_URI: "tcp://10.1.1.1:49200",
        libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: 25,
    }
    assert spec.virsh_words("web 1", SRC) == (
        "migrate", "--p2p", "--persistent", "--copy-storage-all", "--bandwidth", "25",
        "web 1", DST, "--migrateuri", "tcp://10.1.1.1:49200",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("source", "target", "stream"),
    [
        (SRC, "qemu+ssh://root@hv2:2222/system", "tcp://hv2"),
        (SRC, "qemu+tcp://[fd00::2]/system", "tcp://[fd00::2]"),
        ("qemu+tcp://127.0.0.2/system", "qemu:///system", "tcp://127.0.0.1"),
        ("qemu+ssh://hv2/system", "qemu:///system", ""),  # libvirt chooses
    ],
)
def test_the_stream_goes_to_the_address_the_target_is_reached_by(
    source: str, target: str, stream: str
) -> None:
    assert derive_migrate_uri(source, target) == stream


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        (MigrationSpec(""), "Choose the host"),
        (MigrationSpec(SRC), "already runs on that host"),
        (MigrationSpec(DST, bandwidth_mib=-1), "positive number of MiB/s"),
        (MigrationSpec(DST, bandwidth_mib=10**9), "not plausible"),
        (MigrationSpec(DST, persistent=False), "would lose it when it stops"),
        (MigrationSpec(DST, offline=True, copy_storage=True), "Disks are copied only while"),
        (
            MigrationSpec(DST, offline=True, persistent=False, undefine_source=False),
            "must be persistent",
        ),
        (MigrationSpec(DST, migrate_uri="127.0.0.2"), "tcp://HOST[:PORT]"),
        (MigrationSpec(DST, migrate_uri="http://x"), "tcp://HOST[:PORT]"),
    ],
)
def test_unusable_specs_are_refused_with_a_sentence(spec: MigrationSpec, says: str) -> None:
    with pytest.raises(InvalidInput, match=None) as err:
        spec.validate(SRC)
    assert says in str(err.value)
    assert str(err.value).endswith(".")


def test_a_transient_copy_that_keeps_the_source_definition_is_fine() -> None:
    MigrationSpec(DST, persistent=False, undefine_source=False).validate(SRC)


def test_progress_from_job_stats() -> None:
    p = progress_from_stats(
        {
            "type": 2,
            "time_elapsed": 2500,
            "data_total": 200,
            "data_processed": 50,
            "data_remaining": 150,
            "memory_dirty_rate": 12,
            "memory_bps": 1000,
            "downtime": 300,
            "memory_iteration": 1,
        },
        9.0,
    )
    assert (p.elapsed, p.fraction, p.memory_dirty_rate, p.downtime_ms) == (2.5, 0.25, 12, 300)
    assert p.phase == "migrating"
    waiting = progress_from_stats({"type": 2, "data_total": 0}, 1.5)
    assert waiting.phase == "preparing" and waiting.fraction is None and waiting.elapsed == 1.5


def _hosts() -> tuple[Hypervisor, Hypervisor]:
    a = Hypervisor(host_uri("small_host"))
    b = Hypervisor(DEMO_URI)
    a.connect()
    b.connect()
    return a, b


BETA = "22222222-2222-2222-2222-222222222222"  # shut off on small_host
ALPHA = "11111111-1111-1111-1111-111111111111"  # running on small_host


def test_offline_move_defines_on_the_target_then_removes_from_the_source() -> None:
    a, b = _hosts()
    result = migrate(a, b, BETA, MigrationSpec(b.uri, offline=True))
    assert result.offline
    assert [g.name for g in a.poll().guests if g.uuid == BETA] == []
    moved = [g for g in b.poll().guests if g.uuid == BETA]
    assert [(g.name, g.persistent, g.is_active) for g in moved] == [("beta", True, False)]


def test_offline_move_refuses_a_uuid_the_target_already_has() -> None:
    a, b = _hosts()
    migrate(a, b, BETA, MigrationSpec(b.uri, offline=True, undefine_source=False))
    with pytest.raises(MigrationFailed, match="already has a guest with the UUID of beta"):
        migrate(a, b, BETA, MigrationSpec(b.uri, offline=True))
    assert [g.name for g in a.poll().guests if g.uuid == BETA] == ["beta"]  # untouched


def test_a_running_guest_cannot_be_moved_offline_and_stays_put() -> None:
    a, b = _hosts()
    with pytest.raises(InvalidInput, match="alpha is running"):
        migrate(a, b, ALPHA, MigrationSpec(b.uri, offline=True))
    assert [g.is_active for g in a.poll().guests if g.uuid == ALPHA] == [True]


def test_a_poll_of_one_host_never_replaces_the_pending_poll_of_another() -> None:
    def polled(uri: str) -> Polled:
        return Polled(Snapshot(uri=uri, time=0.0, guests=()), {}, _empty_history())

    assert polled("test:///a").can_replace(polled("test:///a"))
    assert not polled("test:///a").can_replace(polled("test:///b"))


def _empty_history() -> HostHistory:
    return Hypervisor(host_uri("small_host")).host_history()


class _AbortableJob:
    """A guest whose live migration sends data until aborted; once aborted, libvirt's job
    stats report every figure as zero (seen on the real daemon), then the call fails."""

    def __init__(self) -> None:
        import threading

        self.aborted = threading.Event()
        self.sent = 0

    def migrate3(self, _tconn: object, _params: object, _flags: int) -> None:
        self.aborted.wait(10)
        raise libvirt.libvirtError("operation aborted: migration out job: canceled by client")

    def abortJob(self) -> None:
        self.aborted.set()

    def jobStats(self) -> dict[str, int]:
        if self.aborted.is_set():
            return {"type": libvirt.VIR_DOMAIN_JOB_UNBOUNDED, "data_total": 0}
        self.sent += 1_048_576
        return {
            "type": libvirt.VIR_DOMAIN_JOB_UNBOUNDED,
            "data_total": 134_217_728,
            "data_processed": self.sent,
            "data_remaining": 134_217_728 - self.sent,
        }

    def state(self) -> list[int]:
        return [libvirt.VIR_DOMAIN_RUNNING, 0]

    def UUIDString(self) -> str:
        return "11111111-1111-1111-1111-111111111111"


def test_a_cancelled_migration_keeps_showing_its_last_figures_while_it_cancels() -> None:
    import threading

    class Host:
        uri = SRC

        def writable_conn(self) -> object:
            return object()

    dom = _AbortableJob()
    cancel = threading.Event()
    seen: list[MigrationProgress] = []

    def progress(p: MigrationProgress) -> None:
        seen.append(p)
        if (p.data_processed or 0) >= 2 * 1_048_576:
            cancel.set()

    with pytest.raises(MigrationCancelled, match="It is still running on qemu:///system"):
        _migrate_running(
            Host(),
            Host(),
            dom,
            "web1",
            MigrationSpec(DST),
            progress,
            cancel,
            0.05,  # type: ignore[arg-type]
        )
    last = seen[-1]
    assert last.phase == "cancelling"
    assert (last.data_processed or 0) >= 2 * 1_048_576  # not the zeros libvirt reports
    assert last.fraction is not None and last.fraction < 0.5


SAVED = "44444444-4444-4444-4444-444444444444"  # shut off with a managed-save image


def _defined(hv: Hypervisor, uuid: str) -> bool:
    return any(g.uuid == uuid for g in hv.poll().guests)


def test_offline_move_refuses_to_drop_a_saved_memory_state_and_changes_nothing() -> None:
    # Issue 14, item 8: the source's undefine dropped the managed-save image (on the test
    # driver it failed instead, and left the guest defined on both hosts).
    a, b = _hosts()
    with pytest.raises(MigrationFailed, match=r"saved memory state .*Nothing was changed"):
        migrate(a, b, SAVED, MigrationSpec(b.uri, offline=True))
    assert _defined(a, SAVED) and not _defined(b, SAVED)
    assert a._conn.lookupByUUIDString(SAVED).hasManagedSaveImage(0)


def test_offline_move_refuses_to_drop_snapshot_metadata() -> None:
    a, b = _hosts()
    snap = "<domainsnapshot><name>before</name></domainsnapshot>"
    a._conn.lookupByUUIDString(BETA).snapshotCreateXML(snap, 0)
    with pytest.raises(MigrationFailed, match=r"has 1 snapshot on .*Nothing was changed"):
        migrate(a, b, BETA, MigrationSpec(b.uri, offline=True))
    assert _defined(a, BETA) and not _defined(b, BETA)
    assert a._conn.lookupByUUIDString(BETA).snapshotNum(0) == 1
    # keeping the source's definition loses nothing: allowed
    migrate(a, b, BETA, MigrationSpec(b.uri, offline=True, undefine_source=False))
    assert _defined(a, BETA) and _defined(b, BETA)


def test_a_source_that_cannot_be_undefined_leaves_no_second_definition(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(dom: object) -> None:
        raise libvirt.libvirtError("refused by the test")

    monkeypatch.setattr(migration, "source_hv_undefine", refuse)
    a, b = _hosts()
    with pytest.raises(MigrationFailed, match=r"was removed again\. Nothing was changed"):
        migrate(a, b, BETA, MigrationSpec(b.uri, offline=True))
    assert _defined(a, BETA) and not _defined(b, BETA)
