"""Reusable widgets. Like screens, they never import libvirt."""
