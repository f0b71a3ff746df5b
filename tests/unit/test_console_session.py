"""A console session over a fake libvirt stream: its feeder never dies, its inbox is bounded,
and it tells the UI about new output at most once per frame."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Any

import libvirt
import pytest

from vmtui.backend.console import ConsoleSession
from vmtui.backend.terminal import Emulator

READABLE = libvirt.VIR_STREAM_EVENT_READABLE


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.005)


class FakeStream:
    """What ConsoleSession uses of a virStream; ``pump`` plays libvirt's event thread."""

    def __init__(self) -> None:
        self.chunks: collections.deque[bytes] = collections.deque()
        self.callback: Any = None
        self.events = 0
        self.updates: list[int] = []

    def eventAddCallback(self, events: int, callback: Any, opaque: object) -> None:
        self.events, self.callback = events, callback

    def eventUpdateCallback(self, events: int) -> None:
        self.events = events
        self.updates.append(events)

    def eventRemoveCallback(self) -> None:
        self.callback = None

    def recv(self, size: int) -> bytes | int:
        return self.chunks.popleft() if self.chunks else -2

    def send(self, data: bytes) -> int:
        return len(data)

    def abort(self) -> None:
        pass

    def finish(self) -> None:
        pass

    def pump(self, rounds: int = 1000) -> None:
        """Call back while there is data and readable events are wanted."""
        for _ in range(rounds):
            if not (self.chunks and self.events & READABLE and self.callback):
                return
            self.callback(self, READABLE, None)


def session(
    emulator: Emulator | None = None, on_change: Callable[[], object] = lambda: None
) -> tuple[ConsoleSession, FakeStream]:
    stream = FakeStream()
    emu = emulator or Emulator(40, 10, history=100)
    return ConsoleSession(stream, "fake", emu, on_change, lambda _r: None), stream


def test_an_exception_while_parsing_does_not_end_the_console() -> None:
    emu = Emulator(40, 10)
    real_feed = emu.feed
    calls = []

    def feed(data: bytes) -> None:
        calls.append(data)
        if len(calls) == 1:
            raise RuntimeError("boom")
        real_feed(data)

    emu.feed = feed  # type: ignore[method-assign]
    s, stream = session(emu)
    try:
        stream.chunks.append(b"first")
        stream.pump()
        wait_until(lambda: len(calls) == 1, "the first chunk was parsed")
        stream.chunks.append(b"second")
        stream.pump()
        wait_until(lambda: "second" in emu.text(), "the console still parses")
    finally:
        s.close()


def test_the_inbox_is_bounded_and_reading_stops_while_it_is_full() -> None:
    emu = Emulator(40, 10)
    gate = threading.Event()
    real_feed = emu.feed

    def slow_feed(data: bytes) -> None:
        gate.wait(30)
        real_feed(data)

    emu.feed = slow_feed  # type: ignore[method-assign]
    s, stream = session(emu)
    chunk = b"x" * 65535 + b"\n"
    total = 200 * len(chunk)  # 12.8 MB the guest wants to send
    stream.chunks.extend([chunk] * 200)
    try:
        stream.pump()
        assert stream.chunks, "everything was read while nothing could be parsed"
        assert s.bytes_in <= s.inbox_limit + 2 * len(chunk)
        assert not stream.events & READABLE  # no readable events while full
        gate.set()

        def drained() -> bool:
            stream.pump()
            return emu.bytes_fed == total

        wait_until(drained, "all output parsed once the feeder caught up", timeout=60)
        assert s.reading_paused >= 1 and stream.events & READABLE
    finally:
        gate.set()
        s.close()


def test_new_output_is_reported_at_most_once_per_interval() -> None:
    """One message per chunk reached the UI thread (per 60-byte line at a slow serial port)."""
    changes: list[float] = []
    s, stream = session(on_change=lambda: changes.append(time.monotonic()))
    s.change_interval = 3600
    try:
        for i in range(30):
            stream.chunks.append(b"line %d\r\n" % i)
            stream.pump()
            wait_until(lambda i=i: f"line {i}" in s.emulator.all_text(), f"line {i} parsed")
        time.sleep(0.05)
        assert len(changes) == 1
    finally:
        s.close()


@pytest.mark.parametrize("interval", [0.05])
def test_the_last_output_of_a_burst_is_always_reported(interval: float) -> None:
    seen: list[str] = []
    s, stream = session()
    s.on_change = lambda: seen.append(s.emulator.text())
    s.change_interval = interval
    try:
        stream.chunks.append(b"first\r\n")
        stream.pump()
        wait_until(lambda: len(seen) >= 1, "the first change")
        stream.chunks.append(b"last\r\n")
        stream.pump()
        wait_until(lambda: any("last" in text for text in seen), "the last change reported")
    finally:
        s.close()
