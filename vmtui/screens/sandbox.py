"""Starting a throwaway sandbox from the UI (key X on a guest, ``:sandbox BASE [NAME]``).

The work is :func:`vmtui.backend.sandbox.create_sandbox`, run through the runner (a worker,
the activity log, a sentence on failure); this module only asks first and says what it made.
"""

from __future__ import annotations

from typing import Any

from textual.app import App

from vmtui.backend import GuestInfo
from vmtui.backend.sandbox import Sandbox, create_sandbox, virsh_words
from vmtui.control.services import services
from vmtui.screens.confirm import ConfirmScreen, guest_identity

EXPLAIN = (
    "A transient guest whose disks are copy-on-write overlays on {base}'s: {base} is never "
    "written. It gets no network, no shared folder, no host device, no clipboard or file "
    "channel, and its display only on a local socket. When it shuts down, crashes or is "
    "forced off, it is gone with everything written inside it."
)


def start(app: App[Any], base: str, name: str = "", uri: str = "", network: str = "") -> None:
    """Create the sandbox of ``base`` (a guest's name or UUID, or an image path) on ``uri``
    ("" : the first host), in a worker."""
    svc = services(app)
    hv = svc.hypervisor_for_uri(uri) if uri else svc.hypervisor_for(None)

    def said(box: Sandbox) -> str:
        return (
            f"Sandbox {box.name} of {box.base} started (sealed); it is gone when it stops. "
            "Its console: c."
        )

    svc.runner.run(
        lambda: create_sandbox(hv, base, name, network=network),
        what=f"start a sandbox of {base}",
        success=said,
        command=virsh_words(base, name or "(chosen)"),
        host=hv.uri,
    )


def ask(app: App[Any], guest: GuestInfo, name: str = "", network: str = "") -> None:
    """Ask first, naming the base; then :func:`start` on the guest's host."""
    if guest.is_active:
        app.notify(
            f"Guest {guest.name} is {guest.state.label}: a sandbox is made only from a "
            "shut-off guest (its disks must not change under the overlays).",
            markup=False,
            timeout=5,
        )
        return
    uri = services(app).uri_of(guest.uuid) or ""
    ConfirmScreen(
        f"Start a throwaway sandbox of {guest.name}?",
        (
            EXPLAIN.format(base=guest.name).replace("no network, ", "")
            + f" Its one NIC joins the isolated network {network}."
            if network
            else EXPLAIN.format(base=guest.name)
        ),
        confirm="Start sandbox",
        identity=guest_identity(guest),
    ).ask(app, lambda: start(app, guest.uuid, name, uri, network))
