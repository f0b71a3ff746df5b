"""Tags kept in the guest's own ``<metadata>``, in vmtui's namespace, so they travel with it
(migration, ``virsh dumpxml`` + ``define``, backups of the XML)::

    <metadata>
      <vmtui:tags xmlns:vmtui="https://vmtui.dev/xmlns/1">
        <vmtui:tag>db</vmtui:tag>
      </vmtui:tags>
    </metadata>

Reading is part of parsing the domain XML (:mod:`vmtui.backend.tagxml`, used by domxml);
writing, here, goes through ``virDomainSetMetadata`` — the persistent definition always (when
there is one), the running guest too when it runs.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import libvirt

from vmtui.backend.errors import ActionFailed
from vmtui.backend.tagxml import KEY, NS, tags_element_xml, tags_from_domain
from vmtui.core.tagtext import TagEdit, TagError, normalize

if TYPE_CHECKING:
    from vmtui.backend.hypervisor import Hypervisor


def virsh_words(name: str, tags: Iterable[str], persistent: bool, active: bool) -> list[str]:
    """The ``virsh metadata`` arguments that set these tags (for the activity log)."""
    tags = list(tags)
    words = ["metadata", name, NS, "--key", KEY]
    words += ["--set", tags_element_xml(tags)] if tags else ["--remove"]
    if persistent:
        words.append("--config")
    if active:
        words.append("--live")
    return words


def _flags(dom: Any) -> tuple[int, bool, bool]:
    persistent = bool(dom.isPersistent())
    active = bool(dom.isActive())
    flags = 0
    if persistent:
        flags |= libvirt.VIR_DOMAIN_AFFECT_CONFIG
    if active:
        flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
    return flags, persistent, active


def read_tags(hv: Hypervisor, uuid: str) -> tuple[str, ...]:
    """The guest's tags now (its live XML when it runs, else its definition)."""
    conn = hv.readable_conn()
    dom = hv.lookup_domain(conn, uuid)
    try:
        return tags_from_domain(ET.fromstring(dom.XMLDesc(0)))
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, "read the tags of", dom.name()) from None


def set_tags(hv: Hypervisor, uuid: str, tags: Iterable[str]) -> tuple[str, ...]:
    """Give the guest exactly these tags (none removes vmtui's metadata). Returns them."""
    try:
        wanted = normalize(tags)
    except TagError as err:
        raise ActionFailed(err.message) from None
    _, dom, name = hv.lookup_guest(uuid, writable=True)
    try:
        flags, _, _ = _flags(dom)
        xml = tags_element_xml(wanted) if wanted else None
        dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, xml, KEY, NS, flags)
    except libvirt.libvirtError as err:
        raise hv.wrap_error(err, "tag", name) from None
    finally:
        hv.touch(uuid)
    return wanted


def edit_tags(hv: Hypervisor, uuid: str, edit: TagEdit) -> tuple[str, ...]:
    """Apply ``+a -b`` (or a replacement) to the guest's current tags. Returns the result."""
    try:
        wanted = edit.apply(read_tags(hv, uuid))
    except TagError as err:
        raise ActionFailed(err.message) from None
    return set_tags(hv, uuid, wanted)


def edit_command(hv: Hypervisor, uuid: str, name: str, edit: TagEdit) -> list[str]:
    """Best-effort virsh words for an edit (the result depends on the tags at that moment)."""
    known = next((g for g in hv.known_guests() if g.uuid == uuid), None)
    current = known.tags if known else ()
    try:
        result = edit.apply(current)
    except TagError:
        result = current
    persistent = known.persistent if known else True
    active = known.is_active if known else False
    return virsh_words(name, result, persistent, active)
