"""Parse a backlog in a second process while this one scores and writes. No mail logic.

In a backlog pass the daemon's one core parses (the stdlib parser, text parts, the new
part of each body) about as long as it scores, plans and talks to the server. For
batches of at least ``MIN_BATCH`` messages, ``ParseAhead`` hands parsing to one worker
process, so the next batch is parsed while this one is judged; a live arrival (a batch
of one or two) is parsed here, and an idle daemon has no worker at all.

The worker is ``python -m notnow.daemon.parsing``, talking over its stdin and stdout:
it imports only the parser (about 25 MB, no model). Not multiprocessing: its pools
fork a process holding sockets, threads and a model, or spawn one plus a resource
tracker (12 MB more), and a spawned pool worker outlives a daemon killed with SIGKILL.
This one exits when its stdin closes, which the kernel does when the daemon dies.

A request is a batch of raw messages; the answer, per message, the ``Email``
``message.parse`` gives (``new_text`` and ``document`` worked out) or why it could not
be read. Both go as length-prefixed pickles over the two pipes between this process and
the child it started, never from a file or the network. If the worker cannot be started
or dies, batches are parsed here from then on and the pass goes on: nothing is skipped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from io import RawIOBase
from typing import cast

from notnow.errors import MessageError
from notnow.mailbox.base import Fetched
from notnow.message import Email, parse

logger = logging.getLogger(__name__)

# Below this many messages a batch is parsed here: a worker is not worth starting.
MIN_BATCH = 50
# How long a closing worker may take to answer what it was sent (a batch takes ~0.1 s).
CLOSE_SECONDS = 30

Parsed = list[Email | str]  # per message: the Email, or why it could not be read
Later = Callable[[], Parsed]  # a batch's parsed messages, when the caller needs them

_LENGTH = struct.Struct("!Q")


def parse_all(raws: list[bytes]) -> Parsed:
    """Parse each message; the reason instead of an ``Email`` for one that cannot be."""
    parsed: Parsed = []
    for raw in raws:
        try:
            email = parse(raw)
        except MessageError as e:
            parsed.append(str(e))
            continue
        _ = email.document  # and new_text: cached on the instance, carried with it
        parsed.append(email)
    return parsed


# The pipes are unbuffered and every read and write loops until it is complete. A
# process stopped and continued (Ctrl-Z and fg, a cgroup freezer, a debugger) has its
# pipe writes cut short; Python's buffered writer then returns a short count (seen with
# 3.11), so a message would be torn: the worker's next answer read from the middle of
# this one, or both sides waiting on each other forever.


def _write(stream: RawIOBase, value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    _write_all(stream, _LENGTH.pack(len(data)))
    _write_all(stream, data)


def _write_all(stream: RawIOBase, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = stream.write(view)
        if written is None:  # only a non-blocking pipe says "not now"
            raise BlockingIOError("the pipe is not blocking")
        view = view[written:]


def _read(stream: RawIOBase) -> object | None:
    """The next value, or None at the end of the stream."""
    head = _read_exactly(stream, _LENGTH.size)
    if head is None:
        return None
    (size,) = _LENGTH.unpack(head)
    data = _read_exactly(stream, size)
    if data is None:
        return None
    value: object = pickle.loads(data)  # noqa: S301 - written by our own child, over a pipe
    return value


def _read_exactly(stream: RawIOBase, size: int) -> bytearray | None:
    """``size`` bytes, or None if the stream ends first."""
    data = bytearray(size)
    view = memoryview(data)
    done = 0
    while done < size:
        count = stream.readinto(view[done:])
        if count is None:
            raise BlockingIOError("the pipe is not blocking")
        if count == 0:
            return None
        done += count
    return data


class _Worker:
    """The child process, a thread feeding it requests and a thread reading its answers,
    in order. Once it fails (it died, or a pipe broke), every batch waiting on it and
    every later one is answered with the error at once."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(  # noqa: S603 - this interpreter, this module
            [sys.executable, "-m", "notnow.daemon.parsing"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,  # raw pipes: see _write
        )
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._requests: queue.Queue[tuple[Future[Parsed], list[bytes]] | None] = queue.Queue()
        self._sent: queue.Queue[Future[Parsed] | None] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._send, name="notnow-parse-send", daemon=True),
            threading.Thread(target=self._receive, name="notnow-parse-receive", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, raws: list[bytes]) -> Future[Parsed]:
        future: Future[Parsed] = Future()
        with self._lock:
            if self._error is not None:
                future.set_exception(self._error)
            else:
                self._requests.put((future, raws))
        return future

    def close(self) -> None:
        """Let the worker answer what it was sent, then end it; one that does not within
        ``CLOSE_SECONDS`` (wedged on some message) is killed, so a daemon always stops."""
        self._requests.put(None)
        deadline = time.monotonic() + CLOSE_SECONDS
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            logger.warning("the parse worker did not finish in %d s: stopping it", CLOSE_SECONDS)
            self._process.kill()
            for thread in self._threads:
                thread.join()
        self._process.wait()

    def _send(self) -> None:
        stream = cast(RawIOBase, self._process.stdin)
        while (request := self._requests.get()) is not None:
            future, raws = request
            if self._error is not None:  # answered at once, never sent
                future.set_exception(self._error)
                continue
            self._sent.put(future)
            try:
                _write(stream, raws)
            except (OSError, ValueError) as e:
                self._failed(e)
                # Closing its input ends the worker: what it was sent fails to arrive.
                with contextlib.suppress(OSError):
                    stream.close()
        with contextlib.suppress(OSError):
            stream.close()  # the worker's end of input: it exits after its last answer
        self._sent.put(None)

    def _receive(self) -> None:
        stream = cast(RawIOBase, self._process.stdout)
        while (future := self._sent.get()) is not None:
            if self._error is not None:
                future.set_exception(self._error)
                continue
            try:
                value = _read(stream)
            except Exception as e:  # noqa: BLE001 - a torn answer
                value = e
            if isinstance(value, list):
                future.set_result(cast(Parsed, value))
                continue
            error = value if isinstance(value, Exception) else EOFError("the worker ended")
            self._failed(error)
            future.set_exception(error)
        stream.close()

    def _failed(self, error: BaseException) -> None:
        with self._lock:
            if self._error is None:
                self._error = error


class ParseAhead:
    """Parses batches in a worker process, started on the first batch big enough.

    Use as a context manager; ``submitting`` wraps a batch iterator so that each batch
    is handed to the worker as soon as it is read (in the read-ahead thread).
    """

    def __init__(self, min_batch: int = MIN_BATCH) -> None:
        self._min_batch = min_batch
        self._worker: _Worker | None = None
        self._broken = False

    def __enter__(self) -> ParseAhead:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def submitting(self, batches: Iterator[list[Fetched]]) -> Iterator[tuple[list[Fetched], Later]]:
        """Each batch with a callable that returns its parsed messages."""
        try:
            for batch in batches:
                yield batch, self.submit(batch)
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()

    def submit(self, batch: list[Fetched]) -> Later:
        return self.submit_raws([fetched.raw for fetched in batch])

    def submit_raws(self, raws: list[bytes]) -> Later:
        """Parse raw messages: in the worker, or here for a small batch."""
        if self._broken or len(raws) < self._min_batch:
            return lambda: parse_all(raws)
        if self._worker is None:
            # The first big batch is parsed here while the worker starts (its imports
            # take about as long as parsing one batch).
            try:
                self._worker = _Worker()
            except OSError as e:
                self._give_up(e)
            return lambda: parse_all(raws)
        future = self._worker.submit(raws)
        return lambda: self._result(future, raws)

    def _result(self, future: Future[Parsed], raws: list[bytes]) -> Parsed:
        try:
            return future.result()
        except Exception as e:  # noqa: BLE001 - the worker died, or its answer was torn
            self._give_up(e)
            return parse_all(raws)

    def _give_up(self, error: BaseException) -> None:
        if not self._broken:
            logger.warning("parse worker failed, parsing in this process from now on: %s", error)
        self._broken = True


def _serve() -> int:
    """The worker: answer each batch on stdin until stdin closes."""
    # The daemon decides when a pass stops (Ctrl-C and systemd's SIGTERM reach the whole
    # process group); the worker ends when its input does, after its last answer.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    requests = open(sys.stdin.fileno(), "rb", buffering=0, closefd=False)  # noqa: SIM115
    answers = open(sys.stdout.fileno(), "wb", buffering=0, closefd=False)  # noqa: SIM115
    sys.stdout = sys.stderr  # nothing but answers on the answer pipe
    while (raws := _read(requests)) is not None:
        _write(answers, parse_all(cast(list[bytes], raws)))
    return 0


if __name__ == "__main__":
    os._exit(_serve())  # no interpreter teardown: a worker ends in a millisecond
