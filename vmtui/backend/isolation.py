"""The isolation view's data and changes: every path from one guest to its host or to a
network (live and persistent), and adding, removing or switching NICs and shared folders.

The modes of the paths and the one-word verdict are in :mod:`vmtui.backend.verdict` (pure);
what is here takes a :class:`~vmtui.backend.hypervisor.Hypervisor`.
"""

from __future__ import annotations

import contextlib
import random
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import libvirt

from vmtui.backend import domxml
from vmtui.backend.devices import (
    InvalidInput,
    NicSpec,
    SharedFolderSpec,
    check_share_host,
    ensure_shared_memory,
    filesystem_element,
    interface_element,
)
from vmtui.backend.errors import ActionFailed, libvirt_message
from vmtui.backend.models import GraphicsInfo, HostDevice, NicInfo, SharedFolder
from vmtui.backend.paths import HostPath
from vmtui.backend.verdict import MODE_HELP, network_mode, nic_mode, sealed, verdict

if TYPE_CHECKING:
    from vmtui.backend.domxml import DomainConfig
    from vmtui.backend.hypervisor import Hypervisor


# ---------------------------------------------------------------- the isolation view's data
@dataclass(frozen=True)
class NicPath:
    nic: NicInfo
    mode: str

    @property
    def explanation(self) -> str:
        return MODE_HELP.get(self.mode, "")


@dataclass(frozen=True)
class Exposure:
    """Every path of one version (live or persistent) of a guest's configuration."""

    nics: tuple[NicPath, ...]
    folders: tuple[SharedFolder, ...]
    hostdevs: tuple[HostDevice, ...]
    graphics: tuple[GraphicsInfo, ...]
    agent: bool
    verdict: str
    # every path but the NICs' links, with what each leads to (backend/paths.py): folders,
    # host devices, chardevs, disks, displays, the agent ...
    paths: tuple[HostPath, ...] = ()


@dataclass(frozen=True)
class IsolationReport:
    uuid: str
    name: str
    host: str  # connection URI
    running: bool
    persistent: bool
    live: Exposure | None  # None when the guest is not running
    config: Exposure | None  # None for a transient guest
    networks: tuple[str, ...]  # the host's libvirt networks (to attach or switch to)

    @property
    def current(self) -> Exposure:
        found = self.live or self.config
        assert found is not None
        return found


def exposure(cfg: DomainConfig, modes: Mapping[str, str]) -> Exposure:
    paths = tuple(NicPath(n, nic_mode(n, modes)) for n in cfg.nics)
    return Exposure(
        nics=paths,
        folders=cfg.shared_folders,
        hostdevs=cfg.hostdevs,
        graphics=cfg.graphics,
        agent=cfg.has_agent,
        # folders and host devices are among cfg.paths (a folder in the guest's RAM is not)
        verdict=sealed(verdict((p.mode for p in paths), (), (), cfg.paths), cfg),
        paths=cfg.paths,
    )


def _net_modes(conn: Any) -> tuple[dict[str, str], tuple[str, ...]]:
    modes: dict[str, str] = {}
    for net in conn.listAllNetworks(0):
        with contextlib.suppress(libvirt.libvirtError, ET.ParseError):
            modes[net.name()] = network_mode(net.XMLDesc(0))
    return modes, tuple(sorted(modes))


def read_isolation(hv: Hypervisor, uuid: str) -> IsolationReport:
    """Both versions of a guest's paths (live while it runs, and the persistent one)."""
    conn, dom, name = hv.lookup_guest(uuid)
    try:
        running = bool(dom.isActive())
        persistent = bool(dom.isPersistent())
        live_xml = dom.XMLDesc(0) if running else None
        config_xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) if persistent else None
        modes, names = _net_modes(conn)
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, "read the isolation of", name) from None
    for known in (live_xml, config_xml):
        for nic in domxml.parse_domain(known).nics if known else ():
            if nic.kind == "network" and nic.source not in modes:
                modes[nic.source] = "missing"
    return IsolationReport(
        uuid=uuid,
        name=name,
        host=hv.uri,
        running=running,
        persistent=persistent,
        live=exposure(domxml.parse_domain(live_xml), modes) if live_xml else None,
        config=exposure(domxml.parse_domain(config_xml), modes) if config_xml else None,
        networks=names,
    )


# ---------------------------------------------------------------- changes
def folder_live_refusal(driver: str) -> str:
    """Why a shared folder of this driver cannot be added to or removed from a running
    guest ("" when it can). QEMU hot-plugs only virtiofs; libvirt refuses the rest ("live
    attach of device 'filesystem' is not supported"). The one rule the backend (it does not
    try), the confirmations, the virsh words and the result's sentence all follow."""
    if driver == "virtiofs":
        return ""
    shown = "9p" if driver in ("", "9p", "path", "handle", "loop") else driver
    return f"QEMU cannot add or remove a {shown} folder while the guest runs"


@dataclass(frozen=True)
class ChangeResult:
    """What a change did: ``live`` (the running guest has it now), ``config`` (from the next
    boot on), and why the live part was refused, if it was."""

    name: str
    live: bool
    config: bool
    live_refused: str = ""
    live_pending: bool = False  # unplug asked; the running guest has not released it yet
    not_live: str = ""  # why the running guest was not changed at all (folder_live_refusal)

    @property
    def sentence(self) -> str:
        if self.live_pending:
            return (
                f"Removed from the saved configuration of {self.name}; the running guest was "
                "asked to release the device and has not yet (it goes when the guest agrees, "
                "or at the next boot)."
            )
        if self.live and self.config:
            return f"Done: guest {self.name} has the change now and keeps it at the next boot."
        if self.live:
            return f"Done: guest {self.name} has the change now (it is transient: no next boot)."
        if self.not_live:
            return (
                f"Saved for the next boot of {self.name} ({self.not_live}); the running guest "
                "keeps its shared folders until then."
            )
        if self.live_refused:
            return (
                f"Saved for the next boot of {self.name}; the running guest refused the live "
                f"change ({self.live_refused})."
            )
        return f"Saved: the change applies to guest {self.name} at its next boot."


def random_mac() -> str:
    """A locally administered MAC in QEMU's 52:54:00 range (so live and config NICs match)."""
    return "52:54:00:" + ":".join(f"{random.randrange(256):02x}" for _ in range(3))


_FALLBACK_CODES = frozenset(
    code
    for code in (
        getattr(libvirt, "VIR_ERR_NO_SUPPORT", None),
        getattr(libvirt, "VIR_ERR_OPERATION_UNSUPPORTED", None),
        getattr(libvirt, "VIR_ERR_CONFIG_UNSUPPORTED", None),
    )
    if code is not None
)


def _inactive_root(dom: Any) -> ET.Element:
    flags = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE
    return ET.fromstring(dom.XMLDesc(flags))


def _redefine(dom: Any, mutate: Callable[[ET.Element], None]) -> None:
    """Edit the persistent XML (with secrets, so VNC passwords survive) and define it again:
    what ``virsh edit`` does. Used where the device API cannot express the change."""
    root = _inactive_root(dom)
    mutate(root)
    dom.connect().defineXML(ET.tostring(root, encoding="unicode"))


def _devices(root: ET.Element) -> ET.Element:
    devices = root.find("devices")
    if devices is None:
        devices = ET.SubElement(root, "devices")
    return devices


def _find_nic(root: ET.Element, mac: str) -> ET.Element | None:
    for iface in root.iterfind("devices/interface"):
        m = iface.find("mac")
        if m is not None and m.get("address", "").lower() == mac.lower():
            return iface
    return None


def _find_fs(root: ET.Element, tag: str) -> ET.Element | None:
    for fs in root.iterfind("devices/filesystem"):
        t = fs.find("target")
        if t is not None and t.get("dir", "") == tag:
            return fs
    return None


def _replace_device(root: ET.Element, old: ET.Element | None, new: ET.Element | None) -> None:
    """Put ``new`` where ``old`` stands among the devices (nothing when either is missing)."""
    if old is not None and new is not None:
        devices = _devices(root)
        devices.insert(list(devices).index(old), new)
        devices.remove(old)


def _xml(elem: ET.Element) -> str:
    return ET.tostring(elem, encoding="unicode")


def _copy(elem: ET.Element) -> ET.Element:
    return ET.fromstring(_xml(elem))


class _Change:
    """Apply one device change to the persistent config (always, when the guest has one)
    and to the running guest (when it runs); the live part may be refused."""

    def __init__(self, hv: Hypervisor, uuid: str, verb: str) -> None:
        self.hv = hv
        self.conn = hv.writable_conn()
        self.dom = hv.lookup_domain(self.conn, uuid)
        self.uuid = uuid
        self.verb = verb
        try:
            self.name = self.dom.name()
            self.running = bool(self.dom.isActive())
            self.persistent = bool(self.dom.isPersistent())
        except libvirt.libvirtError as err:
            raise hv.wrap_error(err, verb, uuid) from None

    def live_root(self) -> ET.Element | None:
        return ET.fromstring(self.dom.XMLDesc(0)) if self.running else None

    def config_root(self) -> ET.Element | None:
        return _inactive_root(self.dom) if self.persistent else None

    def roots(self) -> tuple[ET.Element | None, ET.Element | None]:
        """The persistent config and the live XML (each None where the guest has none)."""
        try:
            return self.config_root(), self.live_root()
        except libvirt.libvirtError as err:
            raise self.hv.wrap_error(err, self.verb, self.name) from None

    def run(
        self,
        device_call: Callable[[str, int], object],
        config_elem: ET.Element | None,
        live_elem: ET.Element | None,
        fallback: Callable[[ET.Element], None] | None = None,
        live_ok: bool = True,
        live_reason: str = "",
    ) -> ChangeResult:
        """``device_call(xml, flags)`` is attachDeviceFlags / detachDeviceFlags /
        updateDeviceFlags; ``fallback`` edits the persistent XML when the driver has no
        device API for the config part."""
        config_done = live_done = False
        refused = ""
        try:
            if config_elem is not None:
                try:
                    device_call(_xml(config_elem), libvirt.VIR_DOMAIN_AFFECT_CONFIG)
                except libvirt.libvirtError as err:
                    if fallback is None or err.get_error_code() not in _FALLBACK_CODES:
                        raise
                    _redefine(self.dom, fallback)
                config_done = True
            if live_elem is not None:
                if not live_ok:
                    refused = live_reason
                else:
                    try:
                        device_call(_xml(live_elem), libvirt.VIR_DOMAIN_AFFECT_LIVE)
                        live_done = True
                    except libvirt.libvirtError as err:
                        if not config_done:
                            raise
                        refused = libvirt_message(err)
        except libvirt.libvirtError as err:
            raise self.hv.wrap_error(err, self.verb, self.name) from None
        finally:
            self.hv.touch(self.uuid)
        if not (config_done or live_done):
            raise ActionFailed(f"Guest {self.name} has no such device; nothing changed.")
        return ChangeResult(self.name, live_done, config_done, refused)

    def redefine_then_live(
        self,
        edit: Callable[[ET.Element], None],
        device_call: Callable[[str, int], object],
        live_elem: ET.Element | None,
        live_reason: str = "",
    ) -> ChangeResult:
        """For a change the device API cannot make to the persistent config: ``edit`` it
        as a whole (_redefine), then give the running guest ``live_elem`` through
        ``device_call`` (not when it is None or ``live_reason`` says why not)."""
        try:
            _redefine(self.dom, edit)
        except libvirt.libvirtError as err:
            raise self.hv.wrap_error(err, self.verb, self.name) from None
        finally:
            self.hv.touch(self.uuid)
        if live_elem is None or live_reason:
            return ChangeResult(self.name, False, True, live_reason)
        try:
            device_call(_xml(live_elem), libvirt.VIR_DOMAIN_AFFECT_LIVE)
        except libvirt.libvirtError as err:
            return ChangeResult(self.name, False, True, libvirt_message(err))
        return ChangeResult(self.name, True, True)

    def detach(self, find: Callable[[ET.Element], ET.Element | None]) -> ChangeResult:
        """Remove the device ``find`` picks from the saved config and the running guest."""
        config, live = self.roots()

        def remove(root: ET.Element) -> None:
            found = find(root)
            if found is not None:
                _devices(root).remove(found)

        result = self.run(
            self.dom.detachDeviceFlags,
            find(config) if config is not None else None,
            find(live) if live is not None else None,
            remove,
        )
        return _check_unplugged(self, result, find)


def attach_nic(hv: Hypervisor, uuid: str, spec: NicSpec) -> ChangeResult:
    """Add a NIC (live too while the guest runs). A MAC is chosen here so that the running
    guest's NIC and the saved one are the same card."""
    spec = spec.validate()
    if spec.kind == "none":
        raise InvalidInput("Choose a network for the new NIC.")
    if not spec.mac:
        spec = NicSpec(spec.kind, spec.source, spec.model, random_mac(), spec.direct_mode)
    elem = interface_element(spec)
    assert elem is not None
    ch = _Change(hv, uuid, "add a NIC to")

    def add(root: ET.Element) -> None:
        _devices(root).append(elem)

    return ch.run(
        ch.dom.attachDeviceFlags,
        elem if ch.persistent else None,
        elem if ch.running else None,
        add,
    )


def detach_nic(hv: Hypervisor, uuid: str, mac: str) -> ChangeResult:
    """Remove the NIC with this MAC from the running guest and from its saved config."""
    return _Change(hv, uuid, "remove a NIC from").detach(lambda root: _find_nic(root, mac))


def _check_unplugged(
    ch: _Change, result: ChangeResult, find: Callable[[ET.Element], ET.Element | None]
) -> ChangeResult:
    """A live unplug is a request the guest must accept: say so when the device is still
    there (libvirt waits a few seconds for the guest before it returns)."""
    if not result.live:
        return result
    try:
        live = ch.live_root()
    except libvirt.libvirtError:
        return result
    if live is not None and find(live) is not None:
        return ChangeResult(result.name, False, result.config, "", live_pending=True)
    return result


def switch_nic_network(hv: Hypervisor, uuid: str, mac: str, network: str) -> ChangeResult:
    """Move the NIC with this MAC to another libvirt network (updateDeviceFlags)."""
    NicSpec("network", network).validate()
    ch = _Change(hv, uuid, "switch the network of")

    def moved(root: ET.Element | None) -> ET.Element | None:
        if root is None:
            return None
        found = _find_nic(root, mac)
        if found is None:
            return None
        new = ET.fromstring(_xml(found))
        new.set("type", "network")
        for child in list(new):
            if child.tag in ("source", "target", "alias", "actual"):
                new.remove(child)
        src = ET.Element("source", {"network": network})
        new.insert(1 if new.find("mac") is not None else 0, src)
        return new

    def edit(root: ET.Element) -> None:
        _replace_device(root, _find_nic(root, mac), moved(root))

    config, live = ch.roots()
    return ch.run(ch.dom.updateDeviceFlags, moved(config), moved(live), edit)


def attach_folder(
    hv: Hypervisor, uuid: str, spec: SharedFolderSpec, *, allow_risky: bool = False
) -> ChangeResult:
    """Share a host directory. The path is resolved (symlinks, ``..``) and checked against the
    deny list first (RiskyPath unless ``allow_risky``). virtiofs needs shared memory, which
    only the persistent config can get: then the running guest gets the folder at next boot."""
    check_share_host(hv.uri)
    spec = spec.validate(allow_risky=allow_risky)
    elem = filesystem_element(spec)
    ch = _Change(hv, uuid, "share a folder with")
    config, live = ch.roots()
    for root in (config, live):
        if root is not None and _find_fs(root, spec.tag) is not None:
            raise InvalidInput(f"Guest {ch.name} already has a shared folder tagged {spec.tag}.")

    def add(root: ET.Element) -> None:
        if spec.needs_shared_memory:
            ensure_shared_memory(root)
        _devices(root).append(elem)

    reason = ""
    if spec.needs_shared_memory and live is not None and ensure_shared_memory(_copy(live)):
        reason = "virtiofs needs shared guest memory, which only a restart can add"
        if config is None:
            raise ActionFailed(
                f"Guest {ch.name} is transient and its memory is not shared, so it cannot get "
                "a virtiofs folder; use 9p, or make the guest persistent."
            )
    live_elem = elem if live is not None else None
    not_live = folder_live_refusal(spec.driver) if live is not None and config is not None else ""
    if not_live:  # saved for the next boot only: the running guest is not asked
        result = ch.run(ch.dom.attachDeviceFlags, elem, None, add)
        return replace(result, not_live=not_live)
    if config is not None and spec.needs_shared_memory and ensure_shared_memory(_copy(config)):
        # The memory backing is not a device: the persistent config is edited as a whole.
        return ch.redefine_then_live(add, ch.dom.attachDeviceFlags, live_elem, reason)
    return ch.run(
        ch.dom.attachDeviceFlags,
        elem if config is not None else None,
        live_elem,
        add,
        live_ok=not reason,
        live_reason=reason,
    )


def detach_folder(hv: Hypervisor, uuid: str, tag: str) -> ChangeResult:
    """Stop sharing the folder with this mount tag."""
    ch = _Change(hv, uuid, "stop sharing a folder with")
    config, live = ch.roots()
    found = _find_fs(live, tag) if live is not None else None
    driver = found.find("driver") if found is not None else None
    kind = "virtiofs" if driver is not None and driver.get("type") == "virtiofs" else "9p"
    not_live = folder_live_refusal(kind) if found is not None and config is not None else ""
    if not not_live:
        return ch.detach(lambda root: _find_fs(root, tag))

    def remove(root: ET.Element) -> None:
        gone = _find_fs(root, tag)
        if gone is not None:
            _devices(root).remove(gone)

    config_fs = _find_fs(config, tag) if config is not None else None
    result = ch.run(ch.dom.detachDeviceFlags, config_fs, None, remove)
    return replace(result, not_live=not_live)


def set_folder_readonly(hv: Hypervisor, uuid: str, tag: str, readonly: bool) -> ChangeResult:
    """Make a shared folder read-only or read-write (updateDeviceFlags; QEMU cannot change
    a mounted share, so the live part is usually refused and it applies at next boot)."""
    ch = _Change(hv, uuid, "change a shared folder of")
    config, live = ch.roots()

    def toggled(fs: ET.Element | None) -> ET.Element | None:
        if fs is None:
            return None
        new = ET.fromstring(_xml(fs))
        ro = new.find("readonly")
        if readonly and ro is None:
            ET.SubElement(new, "readonly")
        elif not readonly and ro is not None:
            new.remove(ro)
        return new

    def edit(root: ET.Element) -> None:
        found = _find_fs(root, tag)
        _replace_device(root, found, toggled(found))

    c_elem = toggled(_find_fs(config, tag) if config is not None else None)
    l_elem = toggled(_find_fs(live, tag) if live is not None else None)
    if c_elem is not None:
        # libvirt's config update of a <filesystem> is limited; editing the XML always works.
        return ch.redefine_then_live(edit, ch.dom.updateDeviceFlags, l_elem)
    return ch.run(ch.dom.updateDeviceFlags, None, l_elem)
