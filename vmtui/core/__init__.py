"""Pure rules and text: no Textual, no Rich, no libvirt. Everything else may import it."""
