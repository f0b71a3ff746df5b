"""Several hosts' snapshots as one (control.hosts.merge_snapshots), and the running count."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from vmtui.backend import GuestInfo, GuestState, GuestStats, Snapshot
from vmtui.control.hosts import merge_snapshots


def g(uuid: str, host: str, state: GuestState = GuestState.RUNNING) -> GuestInfo:
    return GuestInfo(uuid=uuid, name=f"n-{uuid}", state=state, host=host)


def snap(uri: str, guests: list[GuestInfo], stats: list[str], t: float = 1.0) -> Snapshot:
    return Snapshot(
        uri=uri,
        time=t,
        guests=tuple(guests),
        stats={u: GuestStats(uuid=u, time=t, cpu_percent=float(len(u))) for u in stats},
        poll_seconds=t / 10,
    )


def links(*snaps: Snapshot | None) -> Any:
    return [SimpleNamespace(snapshot=s) for s in snaps]


def test_hosts_are_joined_in_host_order_with_the_stats_of_their_own_guests() -> None:
    a = snap("a", [g("a1", "a"), g("a2", "a", GuestState.SHUTOFF)], ["a1", "a2"], t=3.0)
    # b's stats have an entry for a guest b no longer lists: it is not in the merged view
    b = snap("b", [g("b1", "b")], ["b1", "gone"], t=5.0)
    merged = merge_snapshots(links(a, None, b))
    assert merged is not None
    assert [x.uuid for x in merged.guests] == ["a1", "a2", "b1"]
    assert list(merged.stats) == ["a1", "a2", "b1"]
    assert merged.stats["b1"] is b.stats["b1"]
    assert (merged.uri, merged.time, merged.poll_seconds) == ("", 5.0, 0.5)
    assert merged.running == 2 == sum(1 for x in merged.guests if x.is_active)
    # the same snapshots again (another host polled, not these): the same answer
    again = merge_snapshots(links(a, b))
    assert again is not None and again.guests == merged.guests and again.stats == merged.stats


def test_a_guest_on_two_hosts_shows_once_the_running_copy_with_its_stats() -> None:
    left = g("x", "a", GuestState.SHUTOFF)
    moved = g("x", "b", GuestState.RUNNING)
    a = snap("a", [g("a1", "a"), left], ["a1", "x"])
    b = snap("b", [moved, g("b1", "b")], ["b1"])  # no stats yet on the new host
    merged = merge_snapshots(links(a, b))
    assert merged is not None
    assert [x.uuid for x in merged.guests] == ["a1", "x", "b1"]
    assert merged.guests[1] is moved
    assert "x" not in merged.stats  # the shut-off copy's stats went with it
    assert merged.running == 3  # a1, x (running on b), b1: x counted once
    # both shut off: the first host's copy stays
    c = snap("c", [g("x", "c", GuestState.SHUTOFF)], ["x"])
    merged = merge_snapshots(links(a, c))
    assert merged is not None and merged.guests[1] is left and merged.stats["x"] is a.stats["x"]


def test_one_host_is_its_own_snapshot_and_none_is_none() -> None:
    a = snap("a", [g("a1", "a")], ["a1"])
    assert merge_snapshots(links(a)) is a
    assert merge_snapshots(links(None)) is None


def test_running_count_is_per_snapshot() -> None:
    one = snap("a", [g("1", "a"), g("2", "a", GuestState.SHUTOFF)], [])
    two = snap("a", [g("1", "a"), g("2", "a", GuestState.PAUSED), g("3", "a")], [])
    assert one.running == 1
    assert two.running == 3  # paused counts as active
    assert one.running == 1
