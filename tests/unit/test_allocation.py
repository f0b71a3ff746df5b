"""Allocation: parsing what the user types, reading live/config XML, planning and applying
changes (against libvirt's test driver)."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

import libvirt
import pytest

from vmtui.backend import ActionFailed, Hypervisor, InvalidInput
from vmtui.backend.allocation import (
    UNLIMITED_KIB,
    Allocation,
    AllocationInfo,
    Change,
    HostCpus,
    apply_change,
    base_form,
    cpu_list_text,
    form_for,
    parse_allocation,
    parse_count,
    parse_cpu_list,
    parse_size_kib,
    plan_changes,
    read_allocation,
    size_text,
)
from vmtui.backend.models import GuestState

ALPHA = "11111111-1111-1111-1111-111111111111"  # running, 2 vCPUs, 1 GiB
BETA = "22222222-2222-2222-2222-222222222222"  # shut off, 1 vCPU, 512 MiB
TEMP = "55555555-5555-5555-5555-555555555555"  # running, transient

HOST = HostCpus(count=8, online=(0, 1, 2, 3, 4, 5, 6), memory_kib=16 * 1024 * 1024)


def info(
    *, running: bool = True, persistent: bool = True, vcpus: int = 1, max_vcpus: int = 2
) -> AllocationInfo:
    side = Allocation(
        vcpus=vcpus, max_vcpus=max_vcpus, memory_kib=512 * 1024, max_memory_kib=1024 * 1024
    )
    return AllocationInfo(
        uuid="u",
        name="web",
        state=GuestState.RUNNING if running else GuestState.SHUTOFF,
        persistent=persistent,
        live=side if running else None,
        config=side if persistent else None,
        host=HOST,
    )


# ------------------------------------------------------------------ parsing input
@pytest.mark.parametrize(
    ("text", "kib"),
    [
        ("512M", 512 * 1024),
        ("2G", 2 * 1024 * 1024),
        ("1.5G", 1536 * 1024),
        ("2GiB", 2 * 1024 * 1024),
        ("768 MB", 768 * 1024),
        ("524288K", 524288),
        ("256", 256 * 1024),  # a bare number is MiB
    ],
)
def test_sizes_take_units(text: str, kib: int) -> None:
    assert parse_size_kib(text, "memory") == kib


@pytest.mark.parametrize("text", ["", "lots", "12X", "-5G", "1,5G", "0M"])
def test_bad_sizes_are_refused_with_a_sentence(text: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_size_kib(text, "memory")
    assert err.value.message.startswith("Memory ")
    assert err.value.message.endswith(".")


def test_size_text_reads_back_exactly() -> None:
    for kib in (512 * 1024, 2 * 1024 * 1024, 1536, 1536 * 1024, 3 * 1024**3):
        assert parse_size_kib(size_text(kib), "memory") == kib
    assert size_text(None) == "unlimited"


def test_counts_must_be_whole_and_in_range() -> None:
    assert parse_count(" 4 ", "vCPUs", 1, 8) == 4
    with pytest.raises(InvalidInput, match="must be a whole number, not 'two'"):
        parse_count("two", "vCPUs", 1, 8)
    with pytest.raises(InvalidInput, match="between 1 and 8, not 9"):
        parse_count("9", "vCPUs", 1, 8)


def test_cpu_lists_take_ranges_and_exclusions() -> None:
    assert parse_cpu_list("0-3,6", 8, None) == (0, 1, 2, 3, 6)
    assert parse_cpu_list("0-5,^2, 3", 8, None) == (0, 1, 3, 4, 5)
    assert cpu_list_text((0, 1, 2, 3, 6)) == "0-3,6"
    assert cpu_list_text((5,)) == "5"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "at least one host CPU"),
        ("a-b", "is not a CPU number or a range"),
        ("5-2", "runs backwards"),
        ("0-1,^0-1", "leaves no CPU"),
        ("0,8", "has no CPU 8: its CPUs are numbered 0 to 7"),
        ("7", "Host CPU 7 is offline; the online CPUs are 0-6"),
    ],
)
def test_cpu_lists_are_checked_against_the_host(text: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        parse_cpu_list(text, HOST.count, HOST.online)


# ------------------------------------------------------------------ reading XML
DOMAIN = """
<domain type='kvm'>
  <name>web</name>
  <memory unit='GiB'>2</memory>
  <currentMemory unit='MiB'>1536</currentMemory>
  <memtune><hard_limit unit='KiB'>3145728</hard_limit>
    <soft_limit unit='KiB'>9007199254740991</soft_limit></memtune>
  <vcpu placement='static' cpuset='4-5' current='2'>4</vcpu>
  <cputune>
    <shares>512</shares><period>100000</period><quota>-1</quota>
    <vcpupin vcpu='0' cpuset='0-1'/>
    <vcpupin vcpu='1' cpuset='2,3'/>
  </cputune>
</domain>
"""


def test_allocation_is_read_from_domain_xml() -> None:
    alloc = parse_allocation(DOMAIN, 8)
    assert (alloc.vcpus, alloc.max_vcpus) == (2, 4)
    assert (alloc.memory_kib, alloc.max_memory_kib) == (1536 * 1024, 2 * 1024 * 1024)
    # explicit pins, and the <vcpu cpuset> default for the others
    assert dict(alloc.pins) == {0: (0, 1), 1: (2, 3), 2: (4, 5), 3: (4, 5)}
    assert (alloc.shares, alloc.period, alloc.quota) == (512, 100000, -1)
    assert alloc.hard_limit_kib == 3 * 1024 * 1024
    assert alloc.soft_limit_kib is None  # libvirt's "unlimited"


def test_a_bare_domain_has_no_tuning() -> None:
    xml = "<domain><name>x</name><memory>1048576</memory><vcpu>2</vcpu></domain>"
    alloc = parse_allocation(xml, 4)
    assert (alloc.vcpus, alloc.max_vcpus, alloc.memory_kib) == (2, 2, 1048576)
    assert not alloc.pins and alloc.shares is None and alloc.hard_limit_kib is None


# ------------------------------------------------------------------ planning
def test_only_edited_fields_become_changes_with_their_virsh_words() -> None:
    now = info()
    form = dataclasses.replace(form_for(now.shown), vcpus="2", memory="768M")
    changes = plan_changes(now, form, live=True, config=True)
    assert changes == [
        Change("vcpus", True, True, number=2),
        Change("memory", True, True, number=768 * 1024),
    ]
    assert changes[0].virsh("web") == ("setvcpus", "web", "2", "--live", "--config")
    assert changes[1].virsh("web") == ("setmem", "web", "786432K", "--live", "--config")
    assert changes[0].describe() == "vCPUs → 2 (now and at next boot)"
    assert plan_changes(now, form_for(now.shown), live=True, config=False) == []


def test_values_above_the_maximum_are_refused() -> None:
    now = info()
    three = dataclasses.replace(form_for(now.shown), vcpus="3")
    with pytest.raises(InvalidInput, match=r"at most 2 vCPUs while it runs \(its maximum\), no"):
        plan_changes(now, three, live=True, config=False)
    too_big = dataclasses.replace(form_for(now.shown), memory="2G")
    with pytest.raises(InvalidInput, match=r"while it runs \(its maximum, 1.0G\)"):
        plan_changes(now, too_big, live=True, config=False)
    with pytest.raises(InvalidInput, match="at least 16M"):
        plan_changes(now, dataclasses.replace(too_big, memory="8M"), live=True, config=False)


def test_maxima_of_a_running_guest_change_at_next_boot_only() -> None:
    running = info()
    form = dataclasses.replace(form_for(running.shown), max_vcpus="4")
    with pytest.raises(InvalidInput, match="cannot change while it runs, only at its next boot"):
        plan_changes(running, form, live=True, config=False)
    # issue 16: libvirt allows the next boot's maximum of a running guest
    assert plan_changes(running, form, live=False, config=True) == [
        Change("max_vcpus", False, True, number=4)
    ]
    # now and at next boot: the maximum for next boot, the value for both
    both = plan_changes(running, dataclasses.replace(form, vcpus="2"), live=True, config=True)
    assert both == [
        Change("max_vcpus", False, True, number=4),
        Change("vcpus", False, True, number=2),
        Change("vcpus", True, False, number=2),
    ]
    off = info(running=False)
    changes = plan_changes(
        off, dataclasses.replace(form, vcpus="3", max_memory="2G", memory="1536M"),
        live=False, config=True,
    )  # fmt: skip
    # each maximum goes before the value it allows
    assert [c.kind for c in changes] == ["max_vcpus", "vcpus", "max_memory", "memory"]
    assert all(c.config and not c.live for c in changes)
    assert changes[0].virsh("web") == ("setvcpus", "web", "4", "--maximum", "--config")
    assert changes[2].virsh("web") == ("setmaxmem", "web", "2097152K", "--config")


def test_lowering_a_maximum_lowers_the_value_first() -> None:
    off = info(running=False, vcpus=4, max_vcpus=4)
    form = dataclasses.replace(form_for(off.shown), max_vcpus="2", vcpus="2")
    assert [c.kind for c in plan_changes(off, form, live=False, config=True)] == [
        "vcpus",
        "max_vcpus",
    ]


def test_when_must_fit_the_guest() -> None:
    form = dataclasses.replace(form_for(info().shown), vcpus="2")
    with pytest.raises(InvalidInput, match="not running, so nothing can change now"):
        plan_changes(info(running=False), form, live=True, config=False)
    with pytest.raises(InvalidInput, match="transient"):
        plan_changes(info(persistent=False), form, live=False, config=True)
    with pytest.raises(InvalidInput, match="Choose when"):
        plan_changes(info(), form, live=False, config=False)


def test_pinning_and_tuning_are_validated_and_planned() -> None:
    now = info()
    form = dataclasses.replace(
        form_for(now.shown),
        pins={0: "0-3,6", 1: ""},
        shares="2048",
        quota="unlimited",
        hard_limit="2G",
        soft_limit="1G",
    )
    pin, sched, mem = plan_changes(now, form, live=True, config=False)
    assert pin.virsh("web") == ("vcpupin", "web", "0", "0-3,6", "--live")
    assert sched.virsh("web") == (
        "schedinfo", "web", "--set", "cpu_shares=2048", "--set", "vcpu_quota=-1", "--live",
    )  # fmt: skip
    assert mem.virsh("web") == (
        "memtune", "web", "--hard-limit", "2097152", "--soft-limit", "1048576", "--live",
    )  # fmt: skip
    with pytest.raises(InvalidInput, match="Pinning of vCPU 1: Host CPU 7 is offline"):
        plan_changes(now, dataclasses.replace(form, pins={1: "7"}), live=True, config=False)
    with pytest.raises(InvalidInput, match="CPU shares must be between 2 and 262144"):
        plan_changes(now, dataclasses.replace(form, shares="1"), live=True, config=False)
    with pytest.raises(InvalidInput, match="soft memory limit must not be above"):
        plan_changes(now, dataclasses.replace(form, soft_limit="3G"), live=True, config=False)
    unlimited = dataclasses.replace(form_for(now.shown), hard_limit="unlimited")
    (only,) = plan_changes(now, unlimited, live=True, config=False)
    assert only.params == (("hard_limit", UNLIMITED_KIB),)
    assert only.virsh("web")[2:4] == ("--hard-limit", "-1")


# ------------------------------------------------------------------ test driver
def test_read_allocation_of_a_running_guest(hv: Hypervisor) -> None:
    got = read_allocation(hv, ALPHA)
    assert got.name == "alpha" and got.running and got.persistent
    assert got.live is not None and got.config is not None
    assert (got.live.vcpus, got.live.memory_kib) == (2, 1024 * 1024)
    assert got.host.memory_kib == 8 * 1024 * 1024 and got.host.online
    off = read_allocation(hv, BETA)
    assert off.live is None and off.config is not None and off.shown.vcpus == 1
    transient = read_allocation(hv, TEMP)
    assert transient.config is None and transient.live is not None


def _xml(hv: Hypervisor, uuid: str, flags: int = 0) -> ET.Element:
    return ET.fromstring(hv.readable_conn().lookupByUUIDString(uuid).XMLDesc(flags))


def test_changes_reach_the_live_and_persistent_definitions(hv: Hypervisor) -> None:
    now = read_allocation(hv, ALPHA)
    form = dataclasses.replace(form_for(now.shown), vcpus="1", memory="768M", hard_limit="2G")
    for change in plan_changes(now, form, live=True, config=True):
        apply_change(hv, ALPHA, change)
    live, inactive = _xml(hv, ALPHA), _xml(hv, ALPHA, libvirt.VIR_DOMAIN_XML_INACTIVE)
    for root in (live, inactive):
        assert root.find("vcpu").get("current") == "1"  # type: ignore[union-attr]
        assert root.findtext("currentMemory") == str(768 * 1024)
    after = read_allocation(hv, ALPHA)
    assert after.live is not None and after.live.hard_limit_kib == 2 * 1024 * 1024


def test_a_live_only_change_leaves_the_next_boot_alone(hv: Hypervisor) -> None:
    now = read_allocation(hv, ALPHA)
    form = dataclasses.replace(form_for(now.shown), memory="512M")
    for change in plan_changes(now, form, live=True, config=False):
        apply_change(hv, ALPHA, change)
    assert _xml(hv, ALPHA).findtext("currentMemory") == str(512 * 1024)
    inactive = _xml(hv, ALPHA, libvirt.VIR_DOMAIN_XML_INACTIVE)
    assert inactive.findtext("currentMemory") == str(1024 * 1024)


def test_maxima_of_a_shut_off_guest(hv: Hypervisor) -> None:
    off = read_allocation(hv, BETA)
    form = dataclasses.replace(form_for(off.shown), max_vcpus="3", vcpus="3", max_memory="1G")
    for change in plan_changes(off, form, live=False, config=True):
        apply_change(hv, BETA, change)
    after = read_allocation(hv, BETA)
    assert after.config is not None
    assert (after.config.vcpus, after.config.max_vcpus) == (3, 3)
    assert after.config.max_memory_kib == 1024 * 1024


def test_a_live_change_on_a_stopped_guest_is_refused(hv: Hypervisor) -> None:
    with pytest.raises(ActionFailed, match="not running; nothing was changed"):
        apply_change(hv, BETA, Change("vcpus", True, False, number=1))


def test_a_next_boot_change_compares_with_the_next_boot_values() -> None:
    live = Allocation(vcpus=2, max_vcpus=2, memory_kib=512 * 1024, max_memory_kib=1024 * 1024)
    config = dataclasses.replace(live, vcpus=1)
    both = AllocationInfo("u", "web", GuestState.RUNNING, True, live, config, HOST)
    assert base_form(both, live=True, config=True).vcpus == "2"  # what runs now
    assert base_form(both, live=False, config=True).vcpus == "1"  # what boots next
    # "2" is no change for the running guest, but is one for its next boot.
    form = dataclasses.replace(form_for(live), vcpus="2")
    assert plan_changes(both, form, live=False, config=True) == [
        Change("vcpus", False, True, number=2)
    ]
    assert plan_changes(both, form, live=True, config=False) == []


def test_vcpu_sentences_keep_their_spelling() -> None:
    with pytest.raises(InvalidInput, match=r"^vCPUs must be a whole number"):
        parse_count("x", "vCPUs", 1, 2)
