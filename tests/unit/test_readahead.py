"""daemon.readahead: the next batch is read in a thread, one step ahead, under the lock
every other use of the mailbox holds; order, errors and early exits as without it."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from notnow.daemon.readahead import ReadAhead


def test_items_come_in_order_and_each_is_read_under_the_lock() -> None:
    lock = threading.Lock()
    held: list[bool] = []

    def batches() -> Iterator[int]:
        for n in range(50):
            held.append(lock.locked())
            yield n

    with ReadAhead(batches(), lock) as ahead:
        assert list(ahead) == list(range(50))
    assert held == [True] * 50


def test_the_next_item_is_read_while_the_consumer_works() -> None:
    lock = threading.Lock()
    second_read = threading.Event()

    def batches() -> Iterator[str]:
        yield "first"
        second_read.set()
        yield "second"

    with ReadAhead(batches(), lock) as ahead:
        items = iter(ahead)
        assert next(items) == "first"
        # The consumer has not asked for the second item: the thread reads it anyway.
        assert second_read.wait(5)
        assert next(items) == "second"


def test_an_error_is_raised_where_the_consumer_asks_for_the_item() -> None:
    def batches() -> Iterator[int]:
        yield 1
        raise ConnectionError("server went away")

    seen = []
    ahead = ReadAhead(batches(), threading.Lock())
    with pytest.raises(ConnectionError, match="server went away"), ahead:  # noqa: PT012
        for item in ahead:
            seen.append(item)
    assert seen == [1]


def test_leaving_early_stops_the_thread_and_closes_the_generator() -> None:
    closed = threading.Event()
    produced: list[int] = []

    def batches() -> Iterator[int]:
        try:
            for n in range(1000):
                produced.append(n)
                yield n
        finally:
            closed.set()

    with ReadAhead(batches(), threading.Lock()) as ahead:
        for item in ahead:
            if item == 2:
                break
    assert closed.is_set()
    assert len(produced) <= 5  # at most a step or two ahead, never the whole backlog
    assert not any(t.name == "notnow-read-ahead" for t in threading.enumerate())
