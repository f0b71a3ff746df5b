"""A cloud-init NoCloud seed: an ISO 9660 image labelled ``cidata`` holding ``meta-data`` and
``user-data``, built in memory with pycdlib and uploaded into a storage pool as a volume.

meta-data and the generated user-data are written as JSON, which YAML reads as is: whatever
the user typed (a password with quotes, a key comment with colons) cannot change the
document's structure.
"""

from __future__ import annotations

import contextlib
import io
import json
import uuid as uuidlib
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

import libvirt

from vmtui.backend.errors import ActionFailed, libvirt_message
from vmtui.backend.spec import CloudInitSpec

if TYPE_CHECKING:
    import pycdlib

LABEL = "cidata"


def meta_data(instance_id: str, hostname: str) -> str:
    data = {"instance-id": instance_id}
    if hostname:
        data["local-hostname"] = hostname
    return json.dumps(data, indent=2) + "\n"


def user_data(spec: CloudInitSpec, hostname: str) -> str:
    """The user's own user-data, or a #cloud-config made from the fields."""
    if spec.user_data:
        return spec.user_data if spec.user_data.endswith("\n") else spec.user_data + "\n"
    config: dict[str, Any] = {}
    if hostname:
        config["hostname"] = hostname
    if spec.user:
        user: dict[str, Any] = {
            "name": spec.user,
            "groups": ["sudo"],
            "sudo": "ALL=(ALL) NOPASSWD:ALL",
            "shell": "/bin/bash",
            "lock_passwd": not spec.password,
        }
        if spec.password:
            user["plain_text_passwd"] = spec.password
        if spec.ssh_key:
            user["ssh_authorized_keys"] = [spec.ssh_key.strip()]
        config["users"] = ["default", user]
        config["ssh_pwauth"] = bool(spec.password)
    return "#cloud-config\n" + json.dumps(config, indent=2) + "\n"


def seed_files(
    spec: CloudInitSpec, instance_id: str = "", default_hostname: str = ""
) -> dict[str, bytes]:
    """``{"meta-data": ..., "user-data": ...}`` for a (validated) spec."""
    hostname = spec.hostname or default_hostname
    iid = instance_id or f"iid-{uuidlib.uuid4()}"
    return {
        "meta-data": meta_data(iid, hostname).encode(),
        "user-data": user_data(spec, hostname).encode(),
    }


def _new_iso() -> pycdlib.PyCdlib:
    """pycdlib is imported when a seed is made or read, not with the app (about 1.5 MiB)."""
    import pycdlib

    return pycdlib.PyCdlib()


def build_seed_iso(files: dict[str, bytes]) -> bytes:
    """An ISO 9660 image (Joliet and Rock Ridge names, label ``cidata``) holding ``files``."""
    iso = _new_iso()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=LABEL)
    for name, data in files.items():
        short = name.replace("-", "").upper()[:8]
        iso.add_fp(
            io.BytesIO(data),
            len(data),
            f"/{short}.;1",
            rr_name=name,
            joliet_path=f"/{name}",
        )
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    return out.getvalue()


def read_seed_iso(data: bytes) -> dict[str, bytes]:
    """The files of a seed ISO by their Rock Ridge names, and its label under ``"label"``."""
    iso = _new_iso()
    iso.open_fp(io.BytesIO(data))
    try:
        out: dict[str, bytes] = {"label": iso.pvd.volume_identifier.decode().strip().encode()}
        for child in iso.list_children(rr_path="/"):
            if child.is_dot() or child.is_dotdot():
                continue
            name = child.rock_ridge.name().decode()
            buf = io.BytesIO()
            iso.get_file_from_iso_fp(buf, rr_path=f"/{name}")
            out[name] = buf.getvalue()
        return out
    finally:
        iso.close()


def upload_volume(conn: Any, pool_name: str, volume: str, data: bytes) -> Any:
    """Create ``volume`` (raw) in the pool and upload ``data`` into it through the storage API
    (works on remote hosts too). Returns the virStorageVol; deletes it again if the upload
    fails."""
    try:
        pool = conn.storagePoolLookupByName(pool_name)
    except libvirt.libvirtError as err:
        raise ActionFailed(
            f"There is no storage pool {pool_name}: {libvirt_message(err)}."
        ) from None
    vol_el = ET.Element("volume")
    ET.SubElement(vol_el, "name").text = volume
    ET.SubElement(vol_el, "capacity", unit="bytes").text = str(len(data))
    target = ET.SubElement(vol_el, "target")
    ET.SubElement(target, "format", type="raw")
    try:
        vol = pool.createXML(ET.tostring(vol_el, encoding="unicode"), 0)
    except libvirt.libvirtError as err:
        raise ActionFailed(
            f"Could not create volume {volume} in pool {pool_name}: {libvirt_message(err)}."
        ) from None
    try:
        stream = conn.newStream(0)
        vol.upload(stream, 0, len(data), 0)
        view = memoryview(data)
        while view:
            sent = stream.send(bytes(view[: 256 * 1024]))
            if sent < 0:
                raise ActionFailed(f"Uploading {volume} failed (stream error {sent}).")
            view = view[sent:]
        stream.finish()
    except (libvirt.libvirtError, ActionFailed) as err:
        with contextlib.suppress(libvirt.libvirtError):
            vol.delete(0)
        why = (
            libvirt_message(err)
            if isinstance(err, libvirt.libvirtError)
            else err.message.rstrip(".")
        )
        raise ActionFailed(f"Could not upload {volume} into pool {pool_name}: {why}.") from None
    return vol
