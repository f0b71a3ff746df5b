"""Edit the XML of a guest, a network or a storage pool. Never imports Textual.

``read_xml`` fetches the persistent (inactive) definition; ``check_edit`` refuses, before
libvirt sees it, text that is not well-formed, has the wrong root element, or changes the
object's UUID or name (a new UUID would define a second object; libvirt refuses renames by
redefinition); ``save_xml`` defines it with libvirt's schema validation and re-reads what
libvirt kept. A failed save changes nothing: libvirt either takes the whole definition or
none of it.
"""

from __future__ import annotations

import difflib
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import libvirt

from vmtui.backend.devices import InvalidInput
from vmtui.backend.errors import ActionFailed, libvirt_message
from vmtui.backend.hypervisor import Hypervisor
from vmtui.backend.models import sanitise_fields
from vmtui.core.safetext import xml_char_refs

KINDS = ("domain", "network", "pool")
NOUNS = {"domain": "guest", "network": "network", "pool": "storage pool"}
ROOTS = {"domain": "domain", "network": "network", "pool": "pool"}
VIRSH_EDIT = {"domain": "edit", "network": "net-edit", "pool": "pool-edit"}

_INACTIVE = {
    "domain": libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE,
    "network": libvirt.VIR_NETWORK_XML_INACTIVE,
    "pool": libvirt.VIR_STORAGE_XML_INACTIVE,
}
_NOT_FOUND = {
    "domain": libvirt.VIR_ERR_NO_DOMAIN,
    "network": libvirt.VIR_ERR_NO_NETWORK,
    "pool": libvirt.VIR_ERR_NO_STORAGE_POOL,
}
_UNSUPPORTED = (libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_INVALID_ARG)


@dataclass(frozen=True)
class XmlDocument:
    """The persistent definition of one object, as libvirt gave it."""

    kind: str  # domain, network or pool
    uuid: str
    name: str
    xml: str
    active: bool  # running (or started): an edit applies from its next start

    def __post_init__(self) -> None:
        sanitise_fields(self, "name")  # shown in the title, the diff and the log

    @property
    def noun(self) -> str:
        return NOUNS[self.kind]


def edit_words(kind: str, name: str) -> tuple[str, str]:
    """The virsh command that does the same edit."""
    return (VIRSH_EDIT[kind], name)


def _lookup(hv: Hypervisor, conn: Any, kind: str, uuid: str) -> Any:
    if kind not in KINDS:
        raise InvalidInput(f"vmtui cannot edit the XML of a {kind!r}.")
    if kind == "domain":
        return hv.lookup_domain(conn, uuid)
    try:
        if kind == "network":
            return conn.networkLookupByUUIDString(uuid)
        return conn.storagePoolLookupByUUIDString(uuid)
    except libvirt.libvirtError as err:
        if err.get_error_code() == _NOT_FOUND[kind]:
            raise ActionFailed(f"That {NOUNS[kind]} no longer exists on {hv.uri}.") from None
        raise hv.wrap_failure(err, f"Could not find the {NOUNS[kind]}") from None


def _xml_of(kind: str, obj: Any) -> str:
    try:
        return str(obj.XMLDesc(_INACTIVE[kind]))
    except libvirt.libvirtError as err:
        if err.get_error_code() not in _UNSUPPORTED:
            raise
        return str(obj.XMLDesc(0))  # drivers without the inactive flag (test://)


def read_xml(hv: Hypervisor, kind: str, uuid: str) -> XmlDocument:
    """The object's persistent XML (blocking). Needs a writable connection: a guest's
    definition includes secrets (``VIR_DOMAIN_XML_SECURE``) that a save must keep."""
    conn = hv.writable_conn()
    obj = _lookup(hv, conn, kind, uuid)
    try:
        name = obj.name()
        # shown in the editor: C1 and bidi characters as character references (the same
        # document to libvirt, never terminal bytes on screen; issue 14 #4)
        xml = xml_char_refs(_xml_of(kind, obj))
        active = bool(obj.isActive())
    except libvirt.libvirtError as err:
        raise hv.wrap_failure(err, f"Could not read the XML of {NOUNS[kind]} {uuid}") from None
    return XmlDocument(kind, uuid, name, xml, active)


def unified_diff(doc: XmlDocument, edited: str) -> str:
    """What the edit changes, as a unified diff ("" when nothing changes)."""
    lines = difflib.unified_diff(
        doc.xml.splitlines(keepends=True),
        edited.splitlines(keepends=True),
        fromfile=f"{doc.name} (now)",
        tofile=f"{doc.name} (edited)",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def check_edit(doc: XmlDocument, edited: str) -> None:
    """Raise InvalidInput (a sentence) when ``edited`` must not go to libvirt."""
    if not edited.strip():
        raise InvalidInput(f"The XML is empty; the {doc.noun} was not changed.")
    try:
        root = ET.fromstring(edited)
    except ET.ParseError as err:
        line, column = err.position
        raise InvalidInput(
            f"The XML is not well-formed at line {line}, column {column + 1}: "
            f"{str(err).split(':')[0]}. Nothing was saved."
        ) from None
    expected = ROOTS[doc.kind]
    if root.tag != expected:
        raise InvalidInput(
            f"The XML of a {doc.noun} must start with <{expected}>, not <{root.tag}>."
        )
    uuid = (root.findtext("uuid") or "").strip()
    if uuid.lower() != doc.uuid.lower():
        what = "removes its <uuid>" if not uuid else f"changes its UUID to {uuid}"
        raise InvalidInput(
            f"This edit {what}: libvirt would define a second {doc.noun} beside "
            f"{doc.name} instead of changing it. Keep <uuid>{doc.uuid}</uuid>."
        )
    name = (root.findtext("name") or "").strip()
    if name != doc.name:
        fix = {
            "domain": f"use `virsh domrename {doc.name} NEW` while it is shut off",
            "network": "define a new network and remove this one",
            "pool": "define a new pool and remove this one",
        }[doc.kind]
        raise InvalidInput(
            f"This edit renames {doc.noun} {doc.name} to {name or '(nothing)'}; libvirt "
            f"cannot rename by redefining it. Keep <name>{doc.name}</name>; to rename, {fix}."
        )


def _define(conn: Any, kind: str, xml: str) -> Any:
    """Define with schema validation where the driver and bindings have it."""
    calls: list[tuple[Callable[..., Any], tuple[Any, ...]]]
    if kind == "domain":
        flag = getattr(libvirt, "VIR_DOMAIN_DEFINE_VALIDATE", 0)
        calls = [(conn.defineXMLFlags, (xml, flag)), (conn.defineXML, (xml,))]
    elif kind == "network":
        flag = getattr(libvirt, "VIR_NETWORK_DEFINE_VALIDATE", 0)
        with_flags = getattr(conn, "networkDefineXMLFlags", None)
        calls = [(with_flags, (xml, flag))] if with_flags and flag else []
        calls.append((conn.networkDefineXML, (xml,)))
    else:
        flag = getattr(libvirt, "VIR_STORAGE_POOL_DEFINE_VALIDATE", 0)
        calls = [(conn.storagePoolDefineXML, (xml, flag)), (conn.storagePoolDefineXML, (xml, 0))]
    for i, (call, args) in enumerate(calls):
        try:
            return call(*args)
        except libvirt.libvirtError as err:
            retry = i + 1 < len(calls) and err.get_error_code() in _UNSUPPORTED
            if retry and "unsupported flags" in libvirt_message(err):
                continue  # an older driver without the validate flag: define without it
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def save_xml(hv: Hypervisor, doc: XmlDocument, edited: str) -> XmlDocument:
    """Define the edited XML (validated); returns what libvirt now holds.

    Refuses (InvalidInput) what ``check_edit`` refuses, and (ActionFailed) when the object
    was changed elsewhere since ``doc`` was read, so nobody's change is silently undone."""
    check_edit(doc, edited)
    conn = hv.writable_conn()
    obj = _lookup(hv, conn, doc.kind, doc.uuid)
    try:
        now = _xml_of(doc.kind, obj)
    except libvirt.libvirtError as err:
        raise hv.wrap_failure(err, f"Could not read the XML of {doc.noun} {doc.name}") from None
    if now != doc.xml:
        raise ActionFailed(
            f"The {doc.noun} {doc.name} was changed elsewhere since you opened its XML; "
            "nothing was saved. Copy your change, reopen the editor (e) and apply it again."
        )
    try:
        _define(conn, doc.kind, edited)
    except libvirt.libvirtError as err:
        raise hv.wrap_failure(err, f"libvirt refused the XML of {doc.noun} {doc.name}") from None
    finally:
        if doc.kind == "domain":
            hv.touch(doc.uuid)
    return read_xml(hv, doc.kind, doc.uuid)
