"""The backend against libvirt's test driver: listing, state changes, delete, odd names."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET

import libvirt
import pytest

from tests.conftest import host_uri
from vmtui.backend import (
    ActionFailed,
    ConnectionEvent,
    ConnectionFailed,
    GuestEvent,
    GuestState,
    Hypervisor,
    NoDaemon,
    ReadOnlyConnection,
)
from vmtui.backend.hypervisor import Backoff

ALPHA = "11111111-1111-1111-1111-111111111111"
BETA = "22222222-2222-2222-2222-222222222222"
GAMMA = "33333333-3333-3333-3333-333333333333"
SAVED = "44444444-4444-4444-4444-444444444444"
TEMP = "55555555-5555-5555-5555-555555555555"


def guest(hv: Hypervisor, uuid: str):  # type: ignore[no-untyped-def]
    return next(g for g in hv.poll().guests if g.uuid == uuid)


def test_poll_lists_every_guest_with_state_and_configuration(hv: Hypervisor) -> None:
    snap = hv.poll()
    by_name = {g.name: g for g in snap.guests}
    assert set(by_name) == {"alpha", "beta", "gamma", "saved", "temp"}
    alpha = by_name["alpha"]
    assert alpha.state is GuestState.RUNNING
    assert (alpha.vcpus, alpha.memory_kib, alpha.title) == (2, 1024 * 1024, "runs")
    assert [d.target for d in alpha.disks] == ["vda", "vdb", "sda"]
    assert alpha.disks[2].device == "cdrom" and alpha.disks[2].readonly
    assert alpha.nics[0].mac == "52:54:00:aa:00:01" and alpha.nics[0].source == "isolated"
    assert alpha.shared_folders[0].driver == "virtiofs"
    assert alpha.shared_folders[0].source == "/srv/share"
    assert alpha.graphics[0].kind == "vnc" and alpha.graphics[0].listen == "127.0.0.1"
    assert by_name["beta"].state is GuestState.SHUTOFF
    assert by_name["gamma"].state is GuestState.PAUSED
    assert by_name["saved"].has_managed_save
    assert not by_name["temp"].persistent


def test_host_figures_count_what_running_guests_commit(hv: Hypervisor) -> None:
    host = hv.poll().host
    assert host is not None
    # alpha (2 vCPU, 1 GiB), gamma paused (1, 256 MiB), temp (1, 256 MiB) are active
    assert host.committed_vcpus == 4 and host.host_cpus == 4
    assert host.committed_mem_kib == (1024 + 256 + 256) * 1024
    assert host.guests_running == 3 and host.guests_total == 5
    assert host.vcpu_overcommit == pytest.approx(1.0)


def test_power_actions_change_the_state(hv: Hypervisor) -> None:
    hv.start(BETA)
    assert guest(hv, BETA).state is GuestState.RUNNING
    hv.pause(BETA)
    g = guest(hv, BETA)
    assert g.state is GuestState.PAUSED and g.reason == "by user"
    hv.resume(BETA)
    assert guest(hv, BETA).state is GuestState.RUNNING
    hv.force_off(BETA)
    g = guest(hv, BETA)
    assert g.state is GuestState.SHUTOFF and g.reason == "forced off"
    hv.start(BETA)
    hv.shutdown(BETA)  # the test driver's guests obey ACPI at once
    assert guest(hv, BETA).state is GuestState.SHUTOFF
    hv.start(BETA)
    hv.reboot(BETA)
    assert guest(hv, BETA).state is GuestState.RUNNING


def test_autostart_toggles_and_is_refused_for_transient_guests(hv: Hypervisor) -> None:
    hv.set_autostart(BETA, True)
    assert guest(hv, BETA).autostart
    hv.set_autostart(BETA, False)
    assert not guest(hv, BETA).autostart
    with pytest.raises(ActionFailed, match="temp is transient"):
        hv.set_autostart(TEMP, True)


@pytest.mark.parametrize(
    ("action", "uuid", "message"),
    [
        ("start", ALPHA, "Guest alpha is already running."),
        ("start", GAMMA, "Guest gamma is paused; resume it instead of starting it."),
        ("pause", GAMMA, "Guest gamma is already paused."),
        ("resume", ALPHA, "Guest alpha is not paused (it is running)."),
        ("shutdown", BETA, "Guest beta is not running (it is shut off); cannot shut down it."),
        ("force_off", BETA, "Guest beta is not running (it is shut off); cannot force off it."),
    ],
)
def test_impossible_actions_say_why_in_a_sentence(
    hv: Hypervisor, action: str, uuid: str, message: str
) -> None:
    hv.poll()
    with pytest.raises(ActionFailed) as err:
        getattr(hv, action)(uuid)
    assert str(err.value) == message


def test_delete_definition_only_keeps_every_disk(hv: Hypervisor) -> None:
    plan = hv.delete_plan(BETA)
    assert [d.path for d in plan.disks] == ["/pool/beta.qcow2", "/pool/shared.img"]
    result = hv.delete(BETA)
    assert result.removed == () and result.failed == ()
    assert BETA not in {g.uuid for g in hv.poll().guests}
    conn = libvirt.open(hv.uri)  # a second look: the volumes are still in the pool
    # (the test driver's state is per connection, so look through the backend's own)
    conn.close()
    pool = hv._conn.storagePoolLookupByName("pool")
    assert "beta.qcow2" in pool.listVolumes()


def test_delete_with_a_ticked_disk_removes_only_that_volume(hv: Hypervisor) -> None:
    hv.force_off(ALPHA)
    result = hv.delete(ALPHA, ["/pool/alpha.qcow2"])
    assert result.removed == ("/pool/alpha.qcow2",)
    vols = hv._conn.storagePoolLookupByName("pool").listVolumes()
    assert "alpha.qcow2" not in vols
    assert {"shared.img", "install.iso", "beta.qcow2"} <= set(vols)


def test_delete_refuses_a_disk_another_guest_uses_and_touches_nothing(hv: Hypervisor) -> None:
    plan = hv.delete_plan(BETA)
    shared = next(d for d in plan.disks if d.path == "/pool/shared.img")
    assert shared.used_by == ("alpha",) and not shared.removable
    with pytest.raises(ActionFailed, match="also used by alpha; nothing was deleted"):
        hv.delete(BETA, ["/pool/shared.img"])
    assert BETA in {g.uuid for g in hv.poll().guests}


def test_delete_refuses_a_path_that_is_not_the_guests(hv: Hypervisor) -> None:
    with pytest.raises(ActionFailed, match="not a disk of guest beta"):
        hv.delete(BETA, ["/etc/passwd"])


def test_delete_a_running_guest_forces_it_off_first(hv: Hypervisor) -> None:
    plan = hv.delete_plan(ALPHA)
    assert plan.guest.state is GuestState.RUNNING
    hv.delete(ALPHA)
    assert ALPHA not in {g.uuid for g in hv.poll().guests}


def test_delete_handles_managed_save_state(hv: Hypervisor) -> None:
    plan = hv.delete_plan(SAVED)
    assert plan.managed_save
    hv.delete(SAVED)
    assert SAVED not in {g.uuid for g in hv.poll().guests}


def test_delete_a_transient_guest_stops_it(hv: Hypervisor) -> None:
    hv.delete(TEMP)
    assert TEMP not in {g.uuid for g in hv.poll().guests}


def test_names_with_markup_and_xml_characters_round_trip(hv: Hypervisor) -> None:
    odd = "<web>&'\"[red]x[b]"
    root = ET.Element("domain", type="test")
    ET.SubElement(root, "name").text = odd
    ET.SubElement(root, "title").text = "[bold]title & <more>"
    ET.SubElement(root, "memory").text = "65536"
    os_el = ET.SubElement(root, "os")
    ET.SubElement(os_el, "type").text = "hvm"
    hv._conn.defineXML(ET.tostring(root, encoding="unicode"))
    names = {g.name: g for g in hv.poll().guests}
    assert odd in names
    assert names[odd].title == "[bold]title & <more>"
    hv.start(names[odd].uuid)
    assert guest(hv, names[odd].uuid).state is GuestState.RUNNING


def test_read_only_connection_refuses_actions(small_host: str) -> None:
    hv = Hypervisor(small_host, readonly=True)
    hv.connect()
    hv.poll()
    with pytest.raises(ReadOnlyConnection, match="read-only"):
        hv.start(BETA)


def test_lifecycle_events_reach_the_sink(small_host: str) -> None:
    seen: list[object] = []
    got = threading.Event()

    def sink(event: object) -> None:
        seen.append(event)
        if isinstance(event, GuestEvent):
            got.set()

    hv = Hypervisor(small_host, on_event=sink)
    hv.connect()
    hv.start(BETA)
    assert got.wait(5), "no lifecycle event within 5 s"
    assert any(isinstance(e, ConnectionEvent) for e in seen)
    started = [e for e in seen if isinstance(e, GuestEvent)]
    assert started[0].name == "beta" and started[0].event == "started"


def test_no_daemon_is_a_sentence_with_the_fix(tmp_path: object) -> None:
    hv = Hypervisor(f"qemu:///system?socket={tmp_path}/nothing-here.sock")
    with pytest.raises(NoDaemon) as err:
        hv.connect()
    text = str(err.value)
    assert "No libvirt daemon answers" in text and "libvirtd -d" in text
    assert "vmtui --demo" in text


def test_a_missing_test_host_file_is_a_connection_failure() -> None:
    hv = Hypervisor("test:///no/such/host.xml")
    with pytest.raises(ConnectionFailed, match=r"Could not connect to test:///no/such/host\.xml"):
        hv.connect()


def test_backoff_grows_and_is_capped_at_two_seconds() -> None:
    b = Backoff()
    delays = [b.next() for _ in range(8)]
    assert delays[:4] == [0.25, 0.5, 1.0, 2.0]
    assert max(delays) == 2.0
    b.reset()
    assert b.next() == 0.25


def test_history_of_a_guest_grows_with_each_poll() -> None:
    hv = Hypervisor(host_uri("small_host"))
    hv.connect()
    for _ in range(3):
        hv.poll()
    assert len(hv.guest_history(ALPHA).cpu.values) == 3
