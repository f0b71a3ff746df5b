"""A guest's serial console over libvirt's console stream (same on qemu:/// and qemu+ssh://).

Bytes in: libvirt's event thread calls back when the stream is readable; the callback only
does non-blocking reads and hands bytes to a feeder thread, which feeds the emulator (parsing
never runs on libvirt's event thread nor on the UI thread). Bytes out: a writer thread sends
what the user types. Nothing here blocks the UI.
"""

from __future__ import annotations

import contextlib
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


class ConsoleSession:
    """One open console. ``on_change`` runs on a worker thread after new output was parsed;
    ``on_closed(reason)`` once when the stream ends. Both must only hand the news on."""

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
                self._inbox.put(data)
        if events & (libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP):
            self._finish("the console stream was closed by the host")

    # -- feeder thread: parse, then tell the UI once per batch
    def _feeder(self) -> None:
        while True:
            data = self._inbox.get()
            if data is None:
                return
            chunks = [data]
            with contextlib.suppress(queue.Empty):
                while len(chunks) < 256:
                    more = self._inbox.get_nowait()
                    if more is None:
                        self._inbox.put(None)
                        break
                    chunks.append(more)
            self.emulator.feed(b"".join(chunks))
            self.on_change()

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
