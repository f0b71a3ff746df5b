"""Removing a throwaway sandbox's overlays once its guest is gone (no Hypervisor import).

A sandbox (:mod:`vmtui.backend.sandbox`) is a transient guest whose disks are qcow2 overlays
created through the storage API as volumes named ``vmtui-sandbox-<guest uuid>-<what>`` (the
marker), in the pool of the base's disk or the one the user chose. libvirt removes the
transient guest itself when it stops; the overlays are removed here:

- at once, when the Hypervisor sees the sandbox stop (lifecycle event), for that UUID;
- at every connect, for every marked volume whose guest no longer runs: this catches the
  sandboxes that ended while no vmtui was connected. Volumes younger than ``MIN_AGE`` seconds
  are left alone there: another vmtui may be creating a sandbox (its overlays exist a moment
  before its guest does).

Only the raw libvirt connection is used, so ``hypervisor`` can import this module.
"""

from __future__ import annotations

import contextlib
import re
import time
import xml.etree.ElementTree as ET
from typing import Any

import libvirt

PREFIX = "vmtui-sandbox-"
MIN_AGE = 120.0
_NAME = re.compile(
    rf"^{re.escape(PREFIX)}([0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}})-"
)


def overlay_name(uuid: str, what: str) -> str:
    """The volume name that marks an overlay (or NVRAM copy) of sandbox ``uuid``."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", what)[:40] or "disk"
    return f"{PREFIX}{uuid}-{safe}"


def owner(volume_name: str) -> str:
    """The sandbox UUID a marked volume belongs to ("" when the name is not a marker)."""
    m = _NAME.match(volume_name)
    return m.group(1) if m else ""


def _running(conn: Any, uuid: str) -> bool:
    try:
        dom = conn.lookupByUUIDString(uuid)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return False
        raise
    try:
        return bool(dom.isActive()) or bool(dom.isPersistent())
    except libvirt.libvirtError:
        return False  # vanished between the two calls


def _age(vol: Any, now: float) -> float:
    """Seconds since the volume's file last changed (a large number when unknown)."""
    try:
        root = ET.fromstring(vol.XMLDesc(0))
    except (libvirt.libvirtError, ET.ParseError):
        return 0.0  # unreadable now (a refresh elsewhere?): young, so left for next time
    stamp = root.findtext("target/timestamps/mtime") or root.findtext("target/timestamps/ctime")
    try:
        return now - float(stamp) if stamp else 1e9
    except ValueError:
        return 1e9


def sweep(conn: Any, only: str = "", min_age: float = MIN_AGE) -> list[str]:
    """Delete the marked volumes of sandboxes whose guest is gone; returns their paths.

    ``only``: just that sandbox's (no age check: its guest was seen to stop). Errors on one
    volume never stop the others; a pool that cannot be listed is skipped."""
    removed: list[str] = []
    now = time.time()
    alive: dict[str, bool] = {}
    try:
        pools = conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE)
    except libvirt.libvirtError:
        return removed
    for pool in pools:
        with contextlib.suppress(libvirt.libvirtError):
            pool.refresh(0)  # files libvirt made itself (an NVRAM copy) become volumes
        try:
            vols = pool.listAllVolumes(0)
        except libvirt.libvirtError:
            continue
        for vol in vols:
            try:
                uuid = owner(vol.name())
                if not uuid or (only and uuid != only):
                    continue
                if uuid not in alive:
                    alive[uuid] = _running(conn, uuid)
                if alive[uuid] or (not only and _age(vol, now) < min_age):
                    continue
                path = vol.path()
                vol.delete(0)
                removed.append(path)
            except libvirt.libvirtError:
                continue
    return removed
