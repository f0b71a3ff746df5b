"""One Textual screen per module. Screens never import libvirt: they talk to vmtui.backend."""
