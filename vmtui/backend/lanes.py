"""Several libvirt calls in flight on one connection at once (no Textual, no libvirt import).

libvirt's remote driver lets several threads call on one connection at the same time: each
call's request goes out at once and the answers come back in any order, so N calls over a
link with an 80 ms round trip cost about one round trip, not N. ``Lanes`` is a small set of
daemon threads per connection that the poll hands such calls to (every guest's XML on the
first poll, the flag listings and host figures beside the bulk stats call).

Daemon threads, not ``concurrent.futures.ThreadPoolExecutor``: a call to a host that never
answers (a stopped QEMU, a frozen daemon) must not keep the process from exiting, and the
executor joins its threads at exit. ``width == 1`` runs every call inline in the caller's
thread: for in-process drivers (``test:///``) threads only add overhead.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

from vmtui.core.malloc import limit_arenas

T = TypeVar("T")
R = TypeVar("R")

_Job = tuple[Callable[[], Any], "Future[Any]"] | None


class Abandoned(RuntimeError):
    """Calls still in flight were given up: the connection they wait on died."""


class Lanes:
    """``width`` daemon threads taking calls from one queue; started on first use."""

    def __init__(self, width: int, name: str = "vmtui-lane") -> None:
        self.width = max(1, width)
        # made before the poll's threads first allocate: dozens of threads, and glibc would
        # give each an arena of idle memory (core/malloc.py; issue 12's peak RSS)
        limit_arenas()
        self._name = name
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._in_flight = 0  # calls handed out and not returned (lanes and spawn)

    @property
    def in_flight(self) -> int:
        """Calls still running: a connection must not be closed under them (libvirt would
        free what they use; a crash, seen with a daemon that stopped answering)."""
        return self._in_flight

    def _counted(self, fn: Callable[[], R]) -> Callable[[], R]:
        with self._lock:
            self._in_flight += 1

        def run() -> R:
            try:
                return fn()
            finally:
                with self._lock:
                    self._in_flight -= 1

        return run

    def spawn(self, fn: Callable[[], R], name: str = "vmtui-call") -> Future[R]:
        """``call_with_deadline`` counted in ``in_flight``."""
        return call_with_deadline(self._counted(fn), name)

    @property
    def inline(self) -> bool:
        return self.width == 1

    def submit(self, fn: Callable[[], R]) -> Future[R]:
        """Run ``fn`` on a lane (inline when width is 1); its result or error in the future."""
        fut: Future[R] = Future()
        if self.inline:
            _run(fn, fut)
            return fut
        self._start()
        self._queue.put((self._counted(fn), fut))
        return fut

    def map_unordered(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        alive: Callable[[], bool] | None = None,
    ) -> Iterator[tuple[T, R | BaseException]]:
        """``fn(item)`` for every item, all in flight together; (item, result or the error
        it raised) as each finishes. Inline when width is 1. ``alive`` is asked every second
        while nothing finishes: when it says no, ``Abandoned`` is raised (calls on a
        connection that died may never return)."""
        if self.inline:
            for item in items:
                try:
                    yield item, fn(item)
                except Exception as err:  # handed to the caller, which decides
                    yield item, err
            return
        done: queue.SimpleQueue[tuple[T, R | BaseException]] = queue.SimpleQueue()
        count = 0
        for item in items:
            self._start()
            self._queue.put((self._counted(_reporting(fn, item, done)), Future()))
            count += 1
        for _ in range(count):
            while True:
                try:
                    yield done.get(timeout=1.0)
                    break
                except queue.Empty:
                    if alive is not None and not alive():
                        raise Abandoned("the calls' connection died while they waited") from None

    def _start(self) -> None:
        if len(self._threads) >= self.width:
            return
        with self._lock:
            while len(self._threads) < self.width:
                thread = threading.Thread(
                    target=self._serve, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _serve(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            _run(*job)

    def close(self) -> None:
        """Let the threads end once the calls queued before this have run."""
        with self._lock:
            for _ in self._threads:
                self._queue.put(None)
            self._threads = []


def _run(fn: Callable[[], Any], fut: Future[Any]) -> None:
    if not fut.set_running_or_notify_cancel():
        return
    try:
        fut.set_result(fn())
    except BaseException as err:  # the caller reads it from the future
        fut.set_exception(err)


def _reporting(
    fn: Callable[[T], R], item: T, done: queue.SimpleQueue[tuple[T, R | BaseException]]
) -> Callable[[], None]:
    def job() -> None:
        try:
            result: R | BaseException = fn(item)
        except Exception as err:
            result = err
        done.put((item, result))

    return job


def call_with_deadline(fn: Callable[[], R], name: str = "vmtui-call") -> Future[R]:
    """Run ``fn`` on a thread of its own (a daemon): the caller waits on the future with a
    timeout and may walk away from a call that never returns (a stopped guest's QEMU)."""
    fut: Future[R] = Future()
    threading.Thread(target=_run, args=(fn, fut), name=name, daemon=True).start()
    return fut
