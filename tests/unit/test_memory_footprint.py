"""What keeps memory small at thousands of guests (issue 12), pinned as behaviour: per-guest
models without an instance dict, values many guests share kept once, no history for a
guest without figures, the allocator's arena cap. No memory or timing figure is asserted
here: those are in benchmarks/ (README, "Thousands of guests")."""

from __future__ import annotations

import dataclasses
import pickle
import platform

import pytest

from vmtui.backend.domxml import parse_domain
from vmtui.backend.models import (
    DiskInfo,
    GraphicsInfo,
    GuestAddresses,
    GuestInfo,
    GuestState,
    GuestStats,
    HostDevice,
    NicAddresses,
    NicInfo,
    SharedFolder,
)
from vmtui.backend.stats import Counters, StatsHistory
from vmtui.core import malloc
from vmtui.core.query import Subject

PER_GUEST = (
    GuestInfo,
    DiskInfo,
    NicInfo,
    GraphicsInfo,
    SharedFolder,
    HostDevice,
    NicAddresses,
    GuestAddresses,
    GuestStats,
    Counters,
    Subject,
)


@pytest.mark.parametrize("cls", PER_GUEST, ids=lambda c: c.__name__)
def test_per_guest_models_have_no_instance_dict(cls: type) -> None:
    """A GuestInfo with a dict took ~1.5 KiB (35 fields: more than CPython shares keys
    for); with slots ~300 bytes. Everything kept per guest per tick has slots."""
    assert "__slots__" in cls.__dict__
    fields = {f.name for f in dataclasses.fields(cls)}
    assert set(cls.__dict__["__slots__"]) == fields


def _guest(**kw: object) -> GuestInfo:
    base: dict[str, object] = {
        "uuid": "u1",
        "name": "web",
        "state": GuestState.RUNNING,
        "disks": (
            DiskInfo("vda", "disk", "/i/web.qcow2", "file", "virtio", "qcow2", False, False),
        ),
        "tags": ("db",),
    }
    base.update(kw)
    return GuestInfo(**base)  # type: ignore[arg-type]


def test_guest_info_replace_equality_hash_and_frozen_are_unchanged() -> None:
    a = _guest()
    b = dataclasses.replace(a, title="x")
    assert b.title == "x" and b.name == "web" and b.disks == a.disks
    assert a == _guest() and hash(a) == hash(_guest())
    assert a != b
    # reason_code stays out of equality (the poll's cheap check compares it on its own)
    assert dataclasses.replace(a, reason_code=7) == a
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.name = "other"  # type: ignore[misc]
    with pytest.raises((AttributeError, TypeError)):
        object.__setattr__(a, "not_a_field", 1)  # no dict to put it in
    assert pickle.loads(pickle.dumps(a)) == a


def test_sanitising_still_applies_with_slots_and_through_replace() -> None:
    hostile = "ev\x1b[2Jil\u202e"
    info = _guest(name=hostile, tags=("a\x07b",))
    assert "\x1b" not in info.name and "\u202e" not in info.name
    assert all("\x07" not in t for t in info.tags)
    again = dataclasses.replace(_guest(), name=hostile, description="x\x1b]0;t\x07y")
    assert "\x1b" not in again.name and "\x1b" not in again.description


def _xml(name: str, network: str = "default") -> str:
    return f"""<domain type='kvm'><name>{name}</name>
      <uuid>00000000-0000-0000-0000-00000000000{name[-1]}</uuid>
      <memory unit='KiB'>1048576</memory><vcpu>1</vcpu>
      <os><type arch='x86_64' machine='pc-q35-9.2'>hvm</type></os>
      <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
        <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
          <source file='/var/lib/libvirt/images/{name}.qcow2'/>
          <target dev='vda' bus='virtio'/></disk>
        <interface type='network'><mac address='52:54:00:00:00:0{name[-1]}'/>
          <source network='{network}'/><model type='virtio'/></interface>
      </devices></domain>"""


def test_values_guests_share_are_kept_once() -> None:
    """Two guests' configs share one copy of each repeated word (bus, format, arch, machine,
    emulator, network ...); their own values (name, paths, MAC) stay their own."""
    a, b = parse_domain(_xml("g1")), parse_domain(_xml("g2"))
    da, db = a.disks[0], b.disks[0]
    for x, y in (
        (da.bus, db.bus),
        (da.format, db.format),
        (da.device, db.device),
        (da.target, db.target),
        (da.source_type, db.source_type),
        (a.nics[0].kind, b.nics[0].kind),
        (a.nics[0].model, b.nics[0].model),
        (a.nics[0].source, b.nics[0].source),
        (a.arch, b.arch),
        (a.machine, b.machine),
        (a.os_type, b.os_type),
        (a.emulator, b.emulator),
        (a.domain_type, b.domain_type),
    ):
        assert x == y and x is y, x
    assert (da.bus, da.format, a.nics[0].source, a.machine) == (
        "virtio",
        "qcow2",
        "default",
        "pc-q35-9.2",
    )
    assert da.source == "/var/lib/libvirt/images/g1.qcow2"
    assert a.nics[0].mac != b.nics[0].mac


def test_a_guest_without_figures_takes_no_room_in_the_history() -> None:
    """A shut-off guest (every figure unknown) is not stored per tick, and reads exactly as
    before: ``None`` for each tick since it was first kept."""
    hist = StatsHistory(interval=2.0)
    for t in range(3):
        hist.add(
            [
                GuestStats(uuid="on", time=t, cpu_percent_per_vcpu=float(t), mem_used_kib=5),
                GuestStats(uuid="off", time=t),
            ],
            None,
            keep={"on", "off"},
        )
    last = hist._ticks[-1]
    assert set(last.index) == {"on"}
    assert last.columns is not None and all(len(c) == 1 for c in last.columns)
    off = hist.guest("off")
    assert off.cpu.values == (None, None, None) and off.net_tx.values == (None, None, None)
    on = hist.guest("on")
    assert on.cpu.values == (0.0, 1.0, 2.0) and on.memory.values == (5.0, 5.0, 5.0)
    assert on.disk_read.values == (None, None, None)


def test_a_guest_gaining_figures_is_read_in_order() -> None:
    hist = StatsHistory(interval=2.0)
    hist.add([GuestStats(uuid="a", time=0)], None, keep={"a", "b"})
    hist.add([GuestStats(uuid="b", time=1, net_rx_bps=3.0)], None, keep={"a", "b"})
    hist.add(
        [GuestStats(uuid="a", time=2, cpu_percent_per_vcpu=9.0), GuestStats(uuid="b", time=2)],
        None,
        keep={"a", "b"},
    )
    assert hist.guest("a").cpu.values == (None, None, 9.0)
    assert hist.guest("b").net_rx.values == (None, 3.0, None)
    assert hist._ticks[0].columns is None  # no guest had a figure that tick


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="arenas are glibc's")
def test_the_arena_cap_is_set_once_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(malloc, "_done", None)
    assert malloc.limit_arenas() is True
    assert malloc.limit_arenas(5) is True  # later calls keep the first answer


def test_a_connections_lanes_cap_the_arenas_before_their_threads_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cap must be in place before the lanes' threads first allocate (an arena made
    stays): Lanes asks for it when it is made, not when its threads start."""
    from vmtui.backend import lanes

    calls: list[int] = []

    def record() -> bool:
        calls.append(1)
        return True

    monkeypatch.setattr(lanes, "limit_arenas", record)
    pool = lanes.Lanes(4, "t")
    assert calls == [1] and not pool._threads


def test_a_users_malloc_arena_max_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []

    class FakeLibc:
        def mallopt(self, option: int, value: int) -> int:
            calls.append((option, value))
            return 1

    monkeypatch.setattr(malloc, "_libc", lambda: FakeLibc())
    monkeypatch.setattr(malloc, "_done", None)
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert malloc.limit_arenas() is False and calls == []
    monkeypatch.setattr(malloc, "_done", None)
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    assert malloc.limit_arenas(2) is True and calls == [(-8, 2)]
