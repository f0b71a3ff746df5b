"""UI-side orchestration: hosts, polling, backend calls in workers, consoles, messages.

It may import backend, core and Textual, never a screen or a widget (screens import it).
"""
