"""Read the next batch of mail while this one is judged. Pure threading, no mail logic.

A backlog pass alternates between waiting for the server (a FETCH of 200 messages:
the server reads them, and for big ones works out their structure) and computing
(parsing, scoring, planning). ``ReadAhead`` runs the batch iterator one step ahead in a
thread, so the waiting overlaps the computing. The connection is not thread-safe: every
use of the mailbox, the read-ahead's and the pass's own (APPEND, STORE, SEARCH), holds
the same lock, so only one command is ever in flight.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Generic, TypeVar, cast

T = TypeVar("T")

_ITEM, _ERROR, _END = range(3)


class ReadAhead(Generic[T]):
    """Iterate over ``items`` with the next item fetched in a thread under ``lock``.

    Use as a context manager: leaving it (also early, or by an exception) stops the
    thread after the step it is in and closes ``items`` (a generator). An exception
    raised by ``items`` is raised again by the iteration, where it would have been
    raised without the thread.
    """

    def __init__(self, items: Iterator[T], lock: threading.Lock) -> None:
        self._items = items
        self._lock = lock
        self._queue: queue.Queue[tuple[int, object]] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="notnow-read-ahead")

    def __enter__(self) -> ReadAhead[T]:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        while self._thread.is_alive():  # let a producer blocked on a full queue finish
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()
        close = getattr(self._items, "close", None)  # a generator: run its cleanup now
        if close is not None:
            with self._lock:
                close()

    def __iter__(self) -> Iterator[T]:
        while True:
            kind, value = self._queue.get()
            if kind == _ITEM:
                yield cast(T, value)
            elif kind == _ERROR:
                raise cast(BaseException, value)
            else:
                return

    def _produce(self) -> None:
        try:
            while not self._stop.is_set():
                with self._lock:
                    try:
                        item = next(self._items)
                    except StopIteration:
                        break
                self._queue.put((_ITEM, item))
        except BaseException as error:  # noqa: BLE001 - handed to the consuming thread
            self._queue.put((_ERROR, error))
            return
        self._queue.put((_END, None))
