"""The emulator's answers to guest queries go wherever ``set_responder`` says, from then on."""

from __future__ import annotations

from vmtui.backend import Emulator


def test_replies_go_to_the_responder_set_later_and_stop_when_it_is_removed() -> None:
    emu = Emulator(20, 5, history=10)
    emu.feed(b"\x1b[6n")  # nobody listens yet: dropped, no error
    replies: list[bytes] = []
    emu.set_responder(replies.append)
    emu.feed(b"ab\x1b[6n")
    assert replies == [b"\x1b[1;3R"]
    emu.set_responder(None)
    emu.feed(b"\x1b[6n")
    assert replies == [b"\x1b[1;3R"]
