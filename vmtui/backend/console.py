"""A guest's serial console over libvirt's console stream (same on qemu:/// and qemu+ssh://).

Bytes in: libvirt's event thread calls back when the stream is readable; the callback only
does non-blocking reads and hands bytes to a feeder thread, which feeds the emulator (parsing
never runs on libvirt's event thread nor on the UI thread). Bytes out: a writer thread sends
what the user types. Nothing here blocks the UI.

The inbox between the two is bounded (``INBOX_LIMIT`` bytes): when it is full the callback stops
asking for readable events, so the guest waits for us instead of our memory growing, and the
feeder asks again once it has parsed half of it. Nothing the guest sends ends the feeder. It
reports new output at most every ``change_interval`` seconds (the last change of a burst is
always reported).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import libvirt

from vmtui.backend.terminal import Emulator

_EVENTS = (
    libvirt.VIR_STREAM_EVENT_READABLE
    | libvirt.VIR_STREAM_EVENT_ERROR
    | libvirt.VIR_STREAM_EVENT_HANGUP
)
_PAUSED_EVENTS = libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP
INBOX_LIMIT = 1 << 20  # bytes read but not parsed yet
BATCH = 1 << 14  # bytes the feeder takes from the inbox at once
CHANGE_INTERVAL = 1 / 60  # seconds between two on_change calls, at least
_log = logging.getLogger(__name__)


class ConsoleSession:
    """One open console. ``on_change`` runs on a worker thread after new output was parsed (at
    most every ``change_interval`` seconds); ``on_closed(reason)`` once when the stream ends.
    Both must only hand the news on."""

    inbox_limit = INBOX_LIMIT

    def __init__(
        self,
        stream: Any,
        name: str,
        emulator: Emulator,
        on_change: Callable[[], object],
        on_closed: Callable[[str], object],
    ) -> None:
        self.stream = stream
        self.name = name
        self.emulator = emulator
        self.on_change = on_change
        self.on_closed = on_closed
        self.closed = False
        self.close_reason = ""
        self.bytes_in = 0
        self.bytes_out = 0
        self.change_interval = CHANGE_INTERVAL
        # Seconds to let output gather before parsing it: 0 while someone watches; more while
        # nobody does, so that a chatty guest costs a few wake-ups a second, not one per read.
        self.linger = 0.0
        self.feed_errors = 0
        self.reading_paused = 0  # times the inbox was full and reading stopped
        self._queued = 0  # bytes in the inbox
        self._paused = False
        self._flow = threading.Lock()  # guards _queued and _paused, and the event mask
        self._inbox: queue.Queue[bytes | None] = queue.Queue()
        self._outbox: queue.Queue[bytes | None] = queue.Queue()
        self._close_lock = threading.Lock()
        threading.Thread(target=self._feeder, name=f"console-in-{name}", daemon=True).start()
        threading.Thread(target=self._writer, name=f"console-out-{name}", daemon=True).start()
        stream.eventAddCallback(_EVENTS, self._on_stream_event, None)

    # -- libvirt's event thread: non-blocking reads only
    def _on_stream_event(self, stream: Any, events: int, _opaque: object) -> None:
        if self.closed:
            return
        if events & libvirt.VIR_STREAM_EVENT_READABLE:
            for _ in range(64):  # bounded: leave the loop to other connections too
                if not self._room():
                    break
                try:
                    data = stream.recv(65536)
                except libvirt.libvirtError as err:
                    self._finish(f"the console stream failed: {err.get_error_message()}")
                    return
                if isinstance(data, int):  # -2: nothing more for now
                    break
                if not data:
                    self._finish(
                        "the guest's console closed (the guest stopped, or another "
                        "client took the console over)"
                    )
                    return
                self.bytes_in += len(data)
                with self._flow:
                    self._queued += len(data)
                self._inbox.put(data)
        if events & (libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP):
            self._finish("the console stream was closed by the host")

    def _room(self) -> bool:
        """Whether the inbox takes more; when full, stop asking for readable events."""
        with self._flow:
            if self._queued < self.inbox_limit:
                return True
            if not self._paused:
                self._paused = True
                self.reading_paused += 1
                with contextlib.suppress(libvirt.libvirtError):
                    self.stream.eventUpdateCallback(_PAUSED_EVENTS)
            return False

    def _taken(self, size: int) -> None:
        """The feeder took ``size`` bytes: read again once half the inbox is free."""
        with self._flow:
            self._queued -= size
            if self._paused and self._queued <= self.inbox_limit // 2 and not self.closed:
                self._paused = False
                with contextlib.suppress(libvirt.libvirtError):
                    self.stream.eventUpdateCallback(_EVENTS)

    # -- feeder thread: parse, then tell the UI (at most every change_interval)
    def _feeder(self) -> None:
        last_change = -1e9
        pending = False  # parsed output not reported yet
        while True:
            wait = None
            if pending:
                wait = max(0.0, last_change + self.change_interval - time.monotonic())
            try:
                data = self._inbox.get(timeout=wait)
            except queue.Empty:
                data = b""
            if data is None:
                return
            if data and self.close_reason == "detached":  # closed by the user: drop the rest
                self._taken(len(data))
            elif data:
                if self.linger:
                    time.sleep(self.linger)
                chunks, size = [data], len(data)
                with contextlib.suppress(queue.Empty):
                    while size < BATCH:
                        more = self._inbox.get_nowait()
                        if more is None:
                            self._inbox.put(None)
                            break
                        chunks.append(more)
                        size += len(more)
                try:
                    self.emulator.feed(b"".join(chunks))
                except Exception:  # a bug, not the guest's doing: the console must go on
                    self.feed_errors += 1
                    _log.exception("console %s: parsing failed", self.name)
                self._taken(size)
                pending = True
            if pending and time.monotonic() - last_change >= self.change_interval:
                pending = False
                last_change = time.monotonic()
                try:
                    self.on_change()
                except Exception:
                    _log.exception("console %s: on_change failed", self.name)

    # -- writer thread
    def send(self, data: bytes) -> None:
        """Queue bytes for the guest (safe from any thread; never blocks)."""
        if data and not self.closed:
            self._outbox.put(data)

    def _writer(self) -> None:
        while True:
            data = self._outbox.get()
            if data is None:
                return
            view = memoryview(data)
            while view and not self.closed:
                try:
                    sent = self.stream.send(bytes(view))
                except libvirt.libvirtError as err:
                    self._finish(f"could not write to the console: {err.get_error_message()}")
                    return
                if sent == -2:  # would block
                    time.sleep(0.005)
                    continue
                self.bytes_out += sent
                view = view[sent:]

    def _finish(self, reason: str) -> None:
        with self._close_lock:
            if self.closed:
                return
            self.closed = True
            self.close_reason = reason
        self._teardown(abort=True)
        self.on_closed(reason)

    def _teardown(self, abort: bool) -> None:
        self._inbox.put(None)
        self._outbox.put(None)
        with contextlib.suppress(libvirt.libvirtError):
            self.stream.eventRemoveCallback()
        with contextlib.suppress(libvirt.libvirtError):
            if abort:
                self.stream.abort()
            else:
                self.stream.finish()

    def close(self) -> None:
        """Detach (the guest keeps running). Call from a worker: it talks to libvirt."""
        with self._close_lock:
            if self.closed:
                return
            self.closed = True
            self.close_reason = "detached"
        self._teardown(abort=True)
