"""Allocation of an existing guest: vCPUs, memory, CPU pinning, cputune and memtune.

Reading: the guest's live XML (when it runs) and its inactive XML (when it is persistent),
plus the host's CPUs (``getCPUMap``) and memory. Changing: one :class:`Change` per libvirt
call (``setVcpusFlags``, ``setMemoryFlags``, ``pinVcpuFlags``, ``setSchedulerParameters``,
``setMemoryParameters``), each applied now (live), at the next boot (config) or both.
:func:`plan_changes` turns what the user typed into changes, or raises ``InvalidInput``
with a sentence; nothing is sent to libvirt before every field is valid.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import libvirt

from vmtui.backend.devices import InvalidInput
from vmtui.backend.errors import ActionFailed
from vmtui.backend.hypervisor import Hypervisor
from vmtui.backend.models import GuestState
from vmtui.core import format as fmt
from vmtui.core import units

UNLIMITED_KIB = 9007199254740991  # VIR_DOMAIN_MEMORY_PARAM_UNLIMITED
MIN_MEMORY_KIB = 16 * 1024
SHARES_RANGE = (2, 262144)
PERIOD_RANGE = (1000, 1000000)  # microseconds
QUOTA_RANGE = (1000, 17592186044415)


# ----------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class Allocation:
    """One side of a guest's allocation: what runs now (live) or what boots next (config)."""

    vcpus: int
    max_vcpus: int
    memory_kib: int
    max_memory_kib: int
    pins: Mapping[int, tuple[int, ...]] = field(default_factory=dict)  # vCPU -> host CPUs
    # vCPU -> a cpuset vmtui could not fully read (a CPU this host lacks, an odd form),
    # as written: shown as it is, never as "any"
    pin_text: Mapping[int, str] = field(default_factory=dict)
    shares: int | None = None
    period: int | None = None
    quota: int | None = None
    hard_limit_kib: int | None = None  # None: unlimited
    soft_limit_kib: int | None = None


@dataclass(frozen=True)
class HostCpus:
    """The host's CPUs (numbered 0..count-1, some possibly offline) and memory."""

    count: int
    online: tuple[int, ...]
    memory_kib: int

    @property
    def online_text(self) -> str:
        return cpu_list_text(self.online)


@dataclass(frozen=True)
class AllocationInfo:
    uuid: str
    name: str
    state: GuestState
    persistent: bool
    live: Allocation | None  # None when the guest is not running
    config: Allocation | None  # None when the guest is transient
    host: HostCpus

    @property
    def running(self) -> bool:
        return self.live is not None

    @property
    def shown(self) -> Allocation:
        """The side a form starts from: what runs now, else what boots next."""
        side = self.live or self.config
        assert side is not None  # a guest is running, persistent, or both
        return side


def _int(text: str | None) -> int | None:
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None


def _kib(el: ET.Element | None) -> int | None:
    if el is None or el.text is None:
        return None
    value = _int(el.text)
    if value is None:
        return None
    return units.xml_kib(value, el.get("unit"))


def parse_allocation(xml: str, host_cpus: int) -> Allocation:
    """One side of the allocation from a domain XML (pure)."""
    root = ET.fromstring(xml)
    vcpu = root.find("vcpu")
    max_vcpus = _int(vcpu.text if vcpu is not None else None) or 1
    vcpus = _int(vcpu.get("current") if vcpu is not None else None) or max_vcpus
    max_mem = _kib(root.find("memory")) or 0
    cur_mem = _kib(root.find("currentMemory")) or max_mem
    default_set = vcpu.get("cpuset") if vcpu is not None else None
    pins: dict[int, tuple[int, ...]] = {}
    unread: dict[int, str] = {}
    tune = root.find("cputune")
    if tune is not None:
        for pin in tune.findall("vcpupin"):
            number = _int(pin.get("vcpu"))
            cpus = pin.get("cpuset")
            if number is None or not cpus:
                continue
            try:
                pins[number] = parse_cpu_list(cpus, host_cpus, online=None)
            except InvalidInput:
                unread[number] = cpus.strip()
    if default_set:
        try:
            every = parse_cpu_list(default_set, host_cpus, online=None)
        except InvalidInput:
            every = ()
        for number in range(max_vcpus):
            if number in pins or number in unread:
                continue
            if every:
                pins[number] = every
            else:
                unread[number] = default_set.strip()
    mem = root.find("memtune")

    def tune_int(tag: str) -> int | None:
        return _int(tune.findtext(tag)) if tune is not None else None

    def limit(tag: str) -> int | None:
        value = _kib(mem.find(tag)) if mem is not None else None
        return None if value is None or value >= UNLIMITED_KIB else value

    return Allocation(
        vcpus=vcpus,
        max_vcpus=max_vcpus,
        memory_kib=cur_mem,
        max_memory_kib=max_mem,
        pins=pins,
        pin_text=unread,
        shares=tune_int("shares"),
        period=tune_int("period"),
        quota=tune_int("quota"),
        hard_limit_kib=limit("hard_limit"),
        soft_limit_kib=limit("soft_limit"),
    )


def host_cpus(conn: Any) -> HostCpus:
    """The host's CPU numbers, which are online, and its memory (blocking)."""
    info = conn.getInfo()
    memory_kib = int(info[1]) * 1024
    try:
        count, online_map, _ = conn.getCPUMap(0)
        online = tuple(i for i, on in enumerate(online_map) if on)
    except libvirt.libvirtError:
        count = int(info[2])
        online = tuple(range(count))
    return HostCpus(count=int(count), online=online, memory_kib=memory_kib)


def read_allocation(hv: Hypervisor, uuid: str) -> AllocationInfo:
    """What the guest has now and at its next boot, and what the host has (blocking)."""
    conn, dom, name = hv.lookup_guest(uuid)
    try:
        state = GuestState.from_libvirt(dom.state()[0])
        persistent = bool(dom.isPersistent())
        host = host_cpus(conn)
        live = parse_allocation(dom.XMLDesc(0), host.count) if state.is_active else None
        config = (
            parse_allocation(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), host.count)
            if persistent
            else None
        )
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, "read the allocation of", name) from None
    return AllocationInfo(uuid, name, state, persistent, live, config, host)


# ----------------------------------------------------------------------------- input
def _cap(text: str) -> str:
    """First letter up, except a word like "vCPUs" that starts lower-case."""
    return text if text.startswith("vCPU") else text[:1].upper() + text[1:]


def parse_size_kib(text: str, what: str) -> int:
    """``512M``, ``2G``, ``1.5GiB``, ``524288K``; a bare number is MiB. Raises InvalidInput."""
    try:
        kib = int(units.parse_size(text, "M") / units.KIB)
    except units.SizeError:
        raise InvalidInput(
            f"{_cap(what)} {text.strip()!r} is not a size; write it like 512M or 2G."
        ) from None
    if kib <= 0:
        raise InvalidInput(f"{_cap(what)} must be more than zero.")
    return kib


def parse_count(text: str, what: str, low: int, high: int) -> int:
    """A whole number in [low, high]; raises InvalidInput saying what is wrong."""
    value = text.strip()
    if not re.fullmatch(r"\d+", value):
        raise InvalidInput(f"{_cap(what)} must be a whole number, not {value!r}.")
    number = int(value)
    if not low <= number <= high:
        raise InvalidInput(f"{_cap(what)} must be between {low} and {high}, not {number}.")
    return number


def parse_cpu_list(text: str, count: int, online: Sequence[int] | None) -> tuple[int, ...]:
    """Host CPUs like ``0-3,6`` or ``0-7,^2`` (sorted, unique). Each must exist (below
    ``count``) and, when ``online`` is given, be online. Raises InvalidInput."""
    raw = text.strip()
    if not raw:
        raise InvalidInput("Give at least one host CPU, like 0-3,6.")
    chosen: set[int] = set()
    excluded: set[int] = set()
    for part in raw.split(","):
        item = part.strip()
        target = chosen
        if item.startswith("^"):
            target, item = excluded, item[1:].strip()
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", item)
        if not m:
            raise InvalidInput(
                f"{part.strip()!r} in the CPU list {raw!r} is not a CPU number or a range like 0-3."
            )
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) is not None else first
        if last < first:
            raise InvalidInput(f"The range {item} in {raw!r} runs backwards; write {last}-{first}.")
        target.update(range(first, last + 1))
    cpus = sorted(chosen - excluded)
    if not cpus:
        raise InvalidInput(f"The CPU list {raw!r} leaves no CPU.")
    missing = [c for c in cpus if c >= count]
    if missing:
        raise InvalidInput(
            f"The host has no CPU {missing[0]}: its CPUs are numbered 0 to {count - 1}."
        )
    if online is not None:
        offline = [c for c in cpus if c not in online]
        if offline:
            raise InvalidInput(
                f"Host CPU {offline[0]} is offline; the online CPUs are {cpu_list_text(online)}."
            )
    return tuple(cpus)


def cpu_list_text(cpus: Sequence[int]) -> str:
    """(0, 1, 2, 3, 6) -> ``0-3,6``."""
    out: list[str] = []
    ordered = sorted(set(cpus))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)


def size_text(kib: int | None) -> str:
    """KiB as the form shows it and parse_size_kib reads back exactly: 512M, 2G, 1536K."""
    if kib is None:
        return "unlimited"
    return units.exact_size(kib * units.KIB, smallest="K", largest="T")


# ----------------------------------------------------------------------------- changes
Kind = Literal["vcpus", "max_vcpus", "memory", "max_memory", "pin", "schedinfo", "memtune"]


@dataclass(frozen=True)
class Change:
    """One libvirt call: what changes, and whether now (live), at next boot (config), or both."""

    kind: Kind
    live: bool
    config: bool
    number: int = 0  # vCPUs, or KiB of memory
    vcpu: int = 0  # pin: which vCPU
    cpus: tuple[int, ...] = ()  # pin: host CPUs
    params: tuple[tuple[str, int], ...] = ()  # schedinfo / memtune

    @property
    def when(self) -> str:
        if self.live and self.config:
            return "now and at next boot"
        return "now" if self.live else "at next boot"

    def describe(self) -> str:
        """A short sentence for the confirmation: what, and when."""
        if self.kind == "vcpus":
            what = f"vCPUs → {self.number}"
        elif self.kind == "max_vcpus":
            what = f"maximum vCPUs → {self.number}"
        elif self.kind == "memory":
            what = f"memory → {fmt.kib(self.number)}"
        elif self.kind == "max_memory":
            what = f"maximum memory → {fmt.kib(self.number)}"
        elif self.kind == "pin":
            what = f"vCPU {self.vcpu} pinned to host CPUs {cpu_list_text(self.cpus)}"
        elif self.kind == "schedinfo":
            what = "CPU tuning " + ", ".join(f"{k}={v}" for k, v in self.params)
        else:
            what = "memory limits " + ", ".join(
                f"{k}={'unlimited' if v >= UNLIMITED_KIB else fmt.kib(v)}" for k, v in self.params
            )
        return f"{what} ({self.when})"

    def virsh(self, name: str) -> tuple[str, ...]:
        """The equivalent virsh words (for the activity log)."""
        flags = (("--live",) if self.live else ()) + (("--config",) if self.config else ())
        if self.kind == "vcpus":
            return ("setvcpus", name, str(self.number), *flags)
        if self.kind == "max_vcpus":
            return ("setvcpus", name, str(self.number), "--maximum", *flags)
        if self.kind == "memory":
            return ("setmem", name, f"{self.number}K", *flags)
        if self.kind == "max_memory":
            return ("setmaxmem", name, f"{self.number}K", *flags)
        if self.kind == "pin":
            return ("vcpupin", name, str(self.vcpu), cpu_list_text(self.cpus), *flags)
        if self.kind == "schedinfo":
            sets = [w for k, v in self.params for w in ("--set", f"{k}={v}")]
            return ("schedinfo", name, *sets, *flags)
        words: list[str] = []
        for key, value in self.params:
            words += [f"--{key.replace('_', '-')}", "-1" if value >= UNLIMITED_KIB else str(value)]
        return ("memtune", name, *words, *flags)


@dataclass(frozen=True)
class AllocationForm:
    """What the user typed; an empty or unchanged field means "leave it as it is"."""

    vcpus: str = ""
    max_vcpus: str = ""
    memory: str = ""
    max_memory: str = ""
    pins: Mapping[int, str] = field(default_factory=dict)
    shares: str = ""
    period: str = ""
    quota: str = ""
    hard_limit: str = ""
    soft_limit: str = ""


def form_for(alloc: Allocation) -> AllocationForm:
    """The form's starting text for one side (what plan_changes compares against)."""

    def opt(v: int | None) -> str:
        return "" if v is None else str(v)

    return AllocationForm(
        vcpus=str(alloc.vcpus),
        max_vcpus=str(alloc.max_vcpus),
        memory=size_text(alloc.memory_kib),
        max_memory=size_text(alloc.max_memory_kib),
        pins={
            n: cpu_list_text(alloc.pins[n]) if n in alloc.pins else ""
            for n in range(alloc.max_vcpus)
        },
        shares=opt(alloc.shares),
        period=opt(alloc.period),
        quota=opt(alloc.quota),
        hard_limit=size_text(alloc.hard_limit_kib) if alloc.hard_limit_kib else "",
        soft_limit=size_text(alloc.soft_limit_kib) if alloc.soft_limit_kib else "",
    )


def base_form(info: AllocationInfo, *, live: bool, config: bool) -> AllocationForm:
    """What a form starts from for a choice of when: the next boot's values when only the
    next boot changes, else what runs now (or, when off, the next boot's)."""
    side = info.config if config and not live and info.config is not None else info.shown
    return form_for(side)


def _limit_kib(text: str, what: str) -> int:
    if text.strip().lower() in ("unlimited", "none", "-1"):
        return UNLIMITED_KIB
    return parse_size_kib(text, what)


def plan_changes(
    info: AllocationInfo,
    form: AllocationForm,
    *,
    live: bool,
    config: bool,
    base: AllocationForm | None = None,
) -> list[Change]:
    """The libvirt calls that turn ``info`` into what ``form`` says, in a safe order.

    Only fields whose text differs from ``base`` (by default ``base_form``) change.
    ``live`` / ``config`` say when (now, at next boot); a side the guest does not have
    (not running, transient) is refused with a sentence, as is every out-of-range value."""
    name = info.name
    if live and not info.running:
        raise InvalidInput(
            f"Guest {name} is not running, so nothing can change now; choose 'at next boot'."
        )
    if config and not info.persistent:
        raise InvalidInput(
            f"Guest {name} is transient (it has no saved configuration); choose 'now'."
        )
    if not (live or config):
        raise InvalidInput("Choose when the change applies: now, at next boot, or both.")
    if base is None:
        base = base_form(info, live=live, config=config)
    sides = [s for s in (info.live if live else None, info.config if config else None) if s]
    host = info.host

    def edited(new: str, old: str) -> bool:
        return new.strip() != old.strip() and new.strip() != ""

    changes: list[Change] = []
    # -- maxima: in the definition only (libvirt cannot change a running guest's maximum,
    # but its next boot's, yes: so a running guest's maximum changes "at next boot")
    new_max_vcpus: int | None = None
    if edited(form.max_vcpus, base.max_vcpus):
        if not config:
            raise InvalidInput(
                f"The maximum vCPUs of {name} cannot change while it runs, only at its next "
                "boot; choose 'at next boot'."
            )
        new_max_vcpus = parse_count(form.max_vcpus, "maximum vCPUs", 1, 4096)
    new_max_mem: int | None = None
    if edited(form.max_memory, base.max_memory):
        if not config:
            raise InvalidInput(
                f"The maximum memory of {name} cannot change while it runs, only at its next "
                "boot; choose 'at next boot'."
            )
        new_max_mem = parse_size_kib(form.max_memory, "maximum memory")
        if new_max_mem < MIN_MEMORY_KIB:
            raise InvalidInput(f"Maximum memory must be at least {fmt.kib(MIN_MEMORY_KIB)}.")
        if new_max_mem > host.memory_kib:
            raise InvalidInput(
                f"Maximum memory {fmt.kib(new_max_mem)} is more than the host has "
                f"({fmt.kib(host.memory_kib)})."
            )
    # -- vCPUs
    new_vcpus: int | None = None
    if edited(form.vcpus, base.vcpus):
        new_vcpus = parse_count(form.vcpus, "vCPUs", 1, 4096)
        if live and info.live is not None and new_vcpus > info.live.max_vcpus:
            raise InvalidInput(
                f"{name} can have at most {info.live.max_vcpus} vCPUs while it runs (its "
                f"maximum), not {new_vcpus}; raise the maximum at next boot first."
            )
        limit = new_max_vcpus or min(s.max_vcpus for s in sides)
        if new_vcpus > limit:
            raise InvalidInput(
                f"{name} can have at most {limit} vCPUs (its maximum), not {new_vcpus}; raise "
                "the maximum first."
            )
    # -- memory
    new_mem: int | None = None
    if edited(form.memory, base.memory):
        new_mem = parse_size_kib(form.memory, "memory")
        if live and info.live is not None and new_mem > info.live.max_memory_kib:
            raise InvalidInput(
                f"Memory {fmt.kib(new_mem)} is more than {name} can have while it runs (its "
                f"maximum, {fmt.kib(info.live.max_memory_kib)}); raise the maximum at next "
                "boot first."
            )
        limit_kib = new_max_mem or min(s.max_memory_kib for s in sides)
        if new_mem < MIN_MEMORY_KIB:
            raise InvalidInput(f"Memory must be at least {fmt.kib(MIN_MEMORY_KIB)}.")
        if new_mem > limit_kib:
            raise InvalidInput(
                f"Memory {fmt.kib(new_mem)} is more than the maximum memory "
                f"({fmt.kib(limit_kib)}); raise the maximum first (guest shut off)."
            )
    changes += _with_maximum("vcpus", new_vcpus, new_max_vcpus, info.shown.vcpus, live, config)
    changes += _with_maximum("memory", new_mem, new_max_mem, info.shown.memory_kib, live, config)
    # -- pinning
    vcpu_total = new_max_vcpus or info.shown.max_vcpus
    for number in sorted(form.pins):
        text = form.pins[number]
        if not edited(text, base.pins.get(number, "")):
            continue
        if number >= vcpu_total:
            continue  # a vCPU that no longer exists after the maximum was lowered
        try:
            cpus = parse_cpu_list(text, host.count, host.online)
        except InvalidInput as err:
            raise InvalidInput(f"Pinning of vCPU {number}: {err.message}") from None
        changes.append(Change("pin", live, config, vcpu=number, cpus=cpus))
    # -- cputune
    sched: list[tuple[str, int]] = []
    if edited(form.shares, base.shares):
        sched.append(("cpu_shares", parse_count(form.shares, "CPU shares", *SHARES_RANGE)))
    if edited(form.period, base.period):
        sched.append(("vcpu_period", parse_count(form.period, "CPU period (µs)", *PERIOD_RANGE)))
    if edited(form.quota, base.quota):
        text = form.quota.strip().lower()
        if text in ("-1", "unlimited", "none"):
            sched.append(("vcpu_quota", -1))
        else:
            sched.append(("vcpu_quota", parse_count(form.quota, "CPU quota (µs)", *QUOTA_RANGE)))
    if sched:
        changes.append(Change("schedinfo", live, config, params=tuple(sched)))
    # -- memtune
    limits: list[tuple[str, int]] = []
    if edited(form.hard_limit, base.hard_limit):
        limits.append(("hard_limit", _limit_kib(form.hard_limit, "hard limit")))
    if edited(form.soft_limit, base.soft_limit):
        limits.append(("soft_limit", _limit_kib(form.soft_limit, "soft limit")))
    hard = dict(limits).get("hard_limit")
    soft = dict(limits).get("soft_limit")
    if hard is not None and soft is not None and soft != UNLIMITED_KIB and soft > hard:
        raise InvalidInput("The soft memory limit must not be above the hard limit.")
    if limits:
        changes.append(Change("memtune", live, config, params=tuple(limits)))
    return changes


def _with_maximum(
    kind: Literal["vcpus", "memory"],
    new: int | None,
    new_max: int | None,
    shown: int,
    live: bool,
    config: bool,
) -> list[Change]:
    """The changes for a value and its maximum (either may be None: unchanged). A new
    maximum goes into the definition only (libvirt cannot change a running guest's), and
    the value with it, then (``live``) the running guest's value, already checked against
    its running maximum; lowering the maximum below the value: lower the value first."""
    if new_max is None:
        return [] if new is None else [Change(kind, live, config, number=new)]
    step = Change("max_vcpus" if kind == "vcpus" else "max_memory", False, True, number=new_max)
    if new is None:
        return [step]
    value = Change(kind, False, True, number=new)
    ordered = [value, step] if new_max < shown else [step, value]
    return [*ordered, Change(kind, True, False, number=new)] if live else ordered


# ----------------------------------------------------------------------------- applying
def _flags(change: Change) -> int:
    flags = 0
    if change.live:
        flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
    if change.config:
        flags |= libvirt.VIR_DOMAIN_AFFECT_CONFIG
    return flags


def _call(change: Change, dom: Any) -> None:
    if change.kind == "vcpus":
        _invoke(dom, change, lambda f: dom.setVcpusFlags(change.number, f))
    elif change.kind == "max_vcpus":
        maximum = libvirt.VIR_DOMAIN_VCPU_MAXIMUM
        _invoke(dom, change, lambda f: dom.setVcpusFlags(change.number, f | maximum))
    elif change.kind == "memory":
        _invoke(dom, change, lambda f: dom.setMemoryFlags(change.number, f))
    elif change.kind == "max_memory":
        maximum = libvirt.VIR_DOMAIN_MEM_MAXIMUM
        _invoke(dom, change, lambda f: dom.setMemoryFlags(change.number, f | maximum))
    elif change.kind == "pin":
        count = int(dom.connect().getInfo()[2])
        cpumap = tuple(i in change.cpus for i in range(max(count, max(change.cpus) + 1)))
        _invoke(dom, change, lambda f: dom.pinVcpuFlags(change.vcpu, cpumap, f))
    elif change.kind == "schedinfo":
        sched = dict(change.params)
        _invoke(dom, change, lambda f: dom.setSchedulerParametersFlags(sched, f))
    else:
        limits = dict(change.params)
        _invoke(dom, change, lambda f: dom.setMemoryParameters(limits, f))


def _flag_refused(err: libvirt.libvirtError) -> bool:
    return (
        err.get_error_code()
        in (
            libvirt.VIR_ERR_INVALID_ARG,
            libvirt.VIR_ERR_NO_SUPPORT,
        )
        and "flags" in (err.get_error_message() or "").lower()
    )


def _invoke(dom: Any, change: Change, call: Callable[[int], object]) -> None:
    """Call with LIVE and/or CONFIG. Some drivers (the test driver) refuse both at once, or
    take only AFFECT_CURRENT for a few calls: then the two sides are made one after the
    other, and a side that means exactly "current" for the guest's state is retried with 0."""
    live, config = libvirt.VIR_DOMAIN_AFFECT_LIVE, libvirt.VIR_DOMAIN_AFFECT_CONFIG
    flags = (live if change.live else 0) | (config if change.config else 0)
    try:
        call(flags)
        return
    except libvirt.libvirtError as err:
        if not _flag_refused(err):
            raise
        if not (change.live and change.config):
            if flags != (live if dom.isActive() else config):
                raise
            call(0)
            return
    for side in (live, config):
        try:
            call(side)
        except libvirt.libvirtError as err:
            if not _flag_refused(err) or side != (live if dom.isActive() else config):
                raise
            call(0)


def apply_change(hv: Hypervisor, uuid: str, change: Change) -> None:
    """Make one change (blocking). Raises a VmtuiError with libvirt's reason in a sentence."""
    _, dom, name = hv.lookup_guest(uuid, writable=True)
    try:
        if change.live and not dom.isActive():
            raise ActionFailed(f"Guest {name} is not running; nothing was changed now.")
        _call(change, dom)
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, f"change the {_NOUN[change.kind]} of", name) from None
    finally:
        hv.touch(uuid)


_NOUN: dict[str, str] = {
    "vcpus": "vCPUs",
    "max_vcpus": "maximum vCPUs",
    "memory": "memory",
    "max_memory": "maximum memory",
    "pin": "CPU pinning",
    "schedinfo": "CPU tuning",
    "memtune": "memory limits",
}


# ----------------------------------------------------------------------------- domain type
def set_domain_type(hv: Hypervisor, uuid: str, domain_type: str) -> str:
    """Switch the guest between KVM and QEMU emulation (TCG) from its next start: its saved
    definition is edited (as ``virsh edit`` does) and defined again. A host CPU mode
    (host-passthrough, host-model) needs KVM, so under emulation the CPU becomes QEMU's
    default model. Returns the sentence to tell."""
    if domain_type not in ("kvm", "qemu"):
        raise InvalidInput(f"Unknown domain type {domain_type!r}; use kvm or qemu.")
    conn, dom, name = hv.lookup_guest(uuid, writable=True)
    try:
        if not dom.isPersistent():
            raise InvalidInput(
                f"Guest {name} is transient (no saved definition): its type cannot change."
            )
        flags = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE
        root = ET.fromstring(dom.XMLDesc(flags))
        if root.get("type") == domain_type:
            return f"Guest {name} already uses {_TYPE_WORDS[domain_type]}."
        root.set("type", domain_type)
        cpu = root.find("cpu")
        if domain_type == "qemu" and cpu is not None and cpu.get("mode", "").startswith("host-"):
            kept = [c for c in cpu if c.tag in ("topology", "numa", "cache")]
            if kept:  # keep the layout, on QEMU's own model
                cpu.attrib.clear()
                cpu.set("mode", "custom")
                for child in list(cpu):
                    if child not in kept:
                        cpu.remove(child)
                model = ET.Element("model", {"fallback": "allow"})
                model.text = "qemu64"
                cpu.insert(0, model)
            else:
                root.remove(cpu)
        conn.defineXML(ET.tostring(root, encoding="unicode"))
        running = bool(dom.isActive())
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, "change the domain type of", name) from None
    finally:
        hv.touch(uuid)
    when = " from its next start (shut it down and start it)" if running else ""
    return f"Guest {name} now uses {_TYPE_WORDS[domain_type]}{when}."


_TYPE_WORDS = {"kvm": "KVM (hardware virtualization)", "qemu": "QEMU emulation (TCG)"}
