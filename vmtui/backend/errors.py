"""Errors the backend raises. Every message is a sentence fit to show a person."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vmtui.core.errors import Sentence

if TYPE_CHECKING:
    import libvirt


def libvirt_message(err: libvirt.libvirtError) -> str:
    """libvirt's reason without its final full stop (callers end the sentence)."""
    msg = err.get_error_message() or str(err)
    return msg.rstrip(".")


class VmtuiError(Sentence):
    """Base class of the backend's errors: ``str(error)`` is a complete sentence for the user."""


class ConnectionFailed(VmtuiError):
    """The hypervisor could not be reached."""


class NoDaemon(ConnectionFailed):
    """Nothing answers at the URI's socket: the daemon is not running."""


class NotConnected(VmtuiError):
    """An action was asked for while the connection is down."""


class GuestNotFound(VmtuiError):
    """The guest disappeared (undefined elsewhere) or never existed."""


class ActionFailed(VmtuiError):
    """A guest action was refused by libvirt or by a precondition."""


class ReadOnlyConnection(VmtuiError):
    """A state-changing action was asked for on a read-only connection."""


class ConsoleBusy(ActionFailed):
    """Another client holds the guest's console; opening it with force takes it over."""


class NoConsole(ActionFailed):
    """The guest has no serial/console device to attach to."""
