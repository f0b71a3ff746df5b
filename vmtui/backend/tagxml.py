"""vmtui's tags as XML: the ``<vmtui:tags>`` element in a domain's ``<metadata>`` (pure).

Reading is part of parsing the domain XML (:func:`tags_from_domain`, used by domxml); the
element :func:`tags_element_xml` builds is what :mod:`vmtui.backend.tags` hands to
``virDomainSetMetadata``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable

NS = "https://vmtui.dev/xmlns/1"
KEY = "vmtui"


def tags_from_domain(root: ET.Element) -> tuple[str, ...]:
    """The tags in a parsed ``<domain>`` (libvirt qualifies the children; accept both)."""
    metadata = root.find("metadata")  # two plain finds: no ElementPath (see domxml._find)
    elem = metadata.find(f"{{{NS}}}tags") if metadata is not None else None
    if elem is None:
        return ()
    out = []
    for child in elem:
        if child.tag in ("tag", f"{{{NS}}}tag") and (child.text or "").strip():
            out.append(child.text.strip())  # type: ignore[union-attr]
    return tuple(out)


def tags_element_xml(tags: Iterable[str]) -> str:
    """The ``<tags>`` element handed to setMetadata (ElementTree escapes every tag)."""
    root = ET.Element("tags")
    for tag in tags:
        ET.SubElement(root, "tag").text = tag
    return ET.tostring(root, encoding="unicode")
