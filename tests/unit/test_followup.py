"""control/followup.py: a fresh guest spinning silently, a shutdown the guest ignores."""

from __future__ import annotations

from vmtui.backend import GuestInfo, GuestState, GuestStats, Snapshot
from vmtui.control.followup import Followups

URI = "qemu:///system"


def snap(state: GuestState, cpu: float | None = None, kind: str = "kvm") -> Snapshot:
    guest = GuestInfo("u1", "web", state, domain_type=kind, host=URI)
    stats = {"u1": GuestStats("u1", 0.0, cpu_percent_per_vcpu=cpu)} if cpu is not None else {}
    return Snapshot(URI, 0.0, (guest,), stats)


def quiet(_uuid: str) -> bool | None:
    return False  # a console is open and shows nothing


def test_a_fresh_kvm_guest_busy_and_silent_is_named_once_with_the_way_out() -> None:
    watch = Followups(spin_seconds=30)
    assert watch.check(snap(GuestState.SHUTOFF), 0, quiet) == []
    assert watch.check(snap(GuestState.RUNNING, 100), 2, quiet) == []
    assert watch.check(snap(GuestState.RUNNING, 99), 20, quiet) == []
    said = watch.check(snap(GuestState.RUNNING, 100), 33, quiet)
    assert [s.kind for s in said] == ["spinning"]
    text = said[0].sentence
    assert "its console has shown nothing" in text
    assert "KVM may not work" in text and "QEMU emulation" in text and "XML editor" in text
    assert watch.check(snap(GuestState.RUNNING, 100), 80, quiet) == []  # said once


def test_a_guest_that_writes_to_its_console_or_idles_is_not_named() -> None:
    watch = Followups(spin_seconds=30)
    watch.check(snap(GuestState.SHUTOFF), 0, quiet)
    watch.check(snap(GuestState.RUNNING, 100), 2, quiet)
    assert watch.check(snap(GuestState.RUNNING, 100), 40, lambda _u: True) == []
    assert watch.check(snap(GuestState.RUNNING, 100), 80, quiet) == []  # no longer watched
    other = Followups(spin_seconds=30)
    other.check(snap(GuestState.SHUTOFF), 0, quiet)
    for t in range(2, 60, 2):  # busy, then idle, then busy: never 30 s in a row
        assert other.check(snap(GuestState.RUNNING, 100 if t % 20 else 5), t, quiet) == []


def test_a_guest_running_when_first_seen_is_not_fresh() -> None:
    watch = Followups(spin_seconds=30)
    watch.check(snap(GuestState.RUNNING, 100), 0, quiet)
    assert watch.check(snap(GuestState.RUNNING, 100), 100, quiet) == []


def test_a_shutdown_still_running_after_the_grace_is_named_once() -> None:
    watch = Followups(shutdown_grace=60)
    watch.check(snap(GuestState.RUNNING, 1), 0, quiet)
    watch.shutdown_asked("u1", 1)
    assert watch.check(snap(GuestState.RUNNING, 1), 30, quiet) == []
    said = watch.check(snap(GuestState.RUNNING, 1), 62, quiet)
    assert [s.kind for s in said] == ["not-stopped"]
    assert "61 s after it was asked to shut down" in said[0].sentence
    assert "Force it off (F)" in said[0].sentence
    assert watch.check(snap(GuestState.RUNNING, 1), 130, quiet) == []
    watch.shutdown_asked("u1", 200)  # this time it stops
    assert watch.check(snap(GuestState.SHUTOFF), 210, quiet) == []
    assert watch.check(snap(GuestState.SHUTOFF), 300, quiet) == []


def no_console(_uuid: str) -> bool | None:
    return None  # no console is open


def test_an_emulated_guest_busy_while_booting_is_named_only_with_a_silent_console() -> None:
    watch = Followups(spin_seconds=30)
    watch.check(snap(GuestState.SHUTOFF, kind="qemu"), 0, no_console)
    watch.check(snap(GuestState.RUNNING, 100, kind="qemu"), 2, no_console)
    assert watch.check(snap(GuestState.RUNNING, 100, kind="qemu"), 40, no_console) == []
    said = watch.check(snap(GuestState.RUNNING, 100, kind="qemu"), 42, quiet)  # console opened
    assert [s.kind for s in said] == ["spinning"]
    assert "KVM" not in said[0].sentence and "console=ttyS0" in said[0].sentence
