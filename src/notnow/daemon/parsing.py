"""Parse a backlog in a second process while this one scores and writes. No mail logic.

In a backlog pass the daemon's one core parses (the stdlib parser, text parts, the new
part of each body) about as long as it scores, plans and talks to the server. For
batches of at least ``MIN_BATCH`` messages, ``ParseAhead`` hands parsing to one worker
process, so the next batch is parsed while this one is judged; a live arrival (a batch
of one or two) is parsed here, and an idle daemon has no worker at all.

The worker is spawned, not forked: it imports only the parser (about 30 MB, no model),
and a fork of a process holding sockets, threads and a model is neither small nor safe.
Its results are the same ``Email`` objects ``message.parse`` gives here (with
``new_text`` already worked out); a message that does not parse comes back as the
reason. If the worker cannot be started or dies, batches are parsed here from then on
and the pass goes on: nothing is skipped either way.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType

from notnow.errors import MessageError
from notnow.mailbox.base import Fetched
from notnow.message import Email, parse

logger = logging.getLogger(__name__)

# Below this many messages a batch is parsed here: starting a worker costs more.
MIN_BATCH = 50

Parsed = list[Email | str]  # per message: the Email, or why it could not be read
Later = Callable[[], Parsed]  # a batch's parsed messages, when the caller needs them


def parse_all(raws: list[bytes]) -> Parsed:
    """Parse each message; the reason instead of an ``Email`` for one that cannot be."""
    parsed: Parsed = []
    for raw in raws:
        try:
            email = parse(raw)
        except MessageError as e:
            parsed.append(str(e))
            continue
        _ = email.new_text  # cached on the instance: worked out here, carried with it
        parsed.append(email)
    return parsed


def _worker_init() -> None:
    # The parent decides when a pass stops; Ctrl-C reaches the whole process group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class ParseAhead:
    """Parses batches in a worker process, started on the first batch big enough.

    Use as a context manager; ``submitting`` wraps a batch iterator so that each batch
    is handed to the worker as soon as it is read (in the read-ahead thread).
    """

    def __init__(self, min_batch: int = MIN_BATCH) -> None:
        self._min_batch = min_batch
        self._executor: ProcessPoolExecutor | None = None
        self._broken = False

    def __enter__(self) -> ParseAhead:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

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
        raws = [fetched.raw for fetched in batch]
        if self._broken or len(raws) < self._min_batch:
            return lambda: parse_all(raws)
        if self._executor is None:
            # The first big batch is parsed here while the worker starts (its imports
            # take longer than parsing one batch).
            self._start()
            return lambda: parse_all(raws)
        try:
            future = self._executor.submit(parse_all, raws)
        except (RuntimeError, OSError) as e:  # a broken pool refuses new work
            self._give_up(e)
            return lambda: parse_all(raws)
        return lambda: self._result(future, raws)

    def _start(self) -> None:
        try:
            self._executor = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
            )
            self._executor.submit(parse_all, [])  # start it now, not on the next batch
        except (RuntimeError, OSError) as e:
            self._give_up(e)

    def _result(self, future: Future[Parsed], raws: list[bytes]) -> Parsed:
        try:
            return future.result()
        except Exception as e:  # noqa: BLE001 - a dead worker, a pickling failure, ...
            self._give_up(e)
            return parse_all(raws)

    def _give_up(self, error: BaseException) -> None:
        if not self._broken:
            logger.warning("parse worker failed, parsing in this process from now on: %s", error)
        self._broken = True
