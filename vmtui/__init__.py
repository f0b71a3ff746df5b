"""vmtui: a keyboard-driven terminal manager for libvirt/KVM virtual machines."""

__version__ = "0.1.0"
