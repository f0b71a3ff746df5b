"""Integration tests against a real libvirtd (qemu:///system) and TCG guests."""
