"""notnow.daemon.parsing: a backlog parsed in a real worker process gives exactly what
parsing here gives, and a worker that dies costs nothing but speed."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from notnow.daemon.parsing import ParseAhead, parse_all
from notnow.mailbox.base import Fetched
from notnow.message import Email

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eml"
RAWS = [path.read_bytes() for path in sorted(FIXTURES.rglob("*.eml"))]
UNREADABLE = b"   \r\n"


def batch_of(raws: list[bytes], start: int = 0) -> list[Fetched]:
    return [Fetched("INBOX", f"1:{start + i}", start + i, raw) for i, raw in enumerate(raws)]


def same(parsed: list[Email | str], expected: list[Email | str]) -> None:
    assert parsed == expected  # dataclass equality: every field
    for got, want in zip(parsed, expected, strict=True):
        if isinstance(got, Email):
            assert isinstance(want, Email)
            assert got.new_text == want.new_text


def test_parse_all_reads_each_message_or_says_why_not() -> None:
    parsed = parse_all([RAWS[0], UNREADABLE, RAWS[1]])
    assert isinstance(parsed[0], Email) and isinstance(parsed[2], Email)
    assert parsed[1] == "empty message"
    assert "new_text" in vars(parsed[0])  # worked out in the worker, carried back


def test_a_backlog_parsed_in_the_worker_is_the_same_as_here() -> None:
    raws = RAWS * 3 + [UNREADABLE]
    expected = parse_all(raws)
    with ParseAhead(min_batch=len(raws)) as parser:
        later = [parser.submit(batch_of(raws, i * 1000)) for i in range(4)]
        assert parser._executor is not None  # noqa: SLF001 - a real worker process
        for result in later:
            same(result(), expected)


def test_small_batches_start_no_worker() -> None:
    with ParseAhead(min_batch=50) as parser:
        same(parser.submit(batch_of(RAWS[:3]))(), parse_all(RAWS[:3]))
        assert parser._executor is None  # noqa: SLF001


def test_a_dead_worker_falls_back_to_parsing_here(caplog: pytest.LogCaptureFixture) -> None:
    raws = RAWS * 2
    expected = parse_all(raws)
    with ParseAhead(min_batch=2) as parser:
        parser.submit(batch_of(raws))()  # starts the worker
        assert parser.submit(batch_of(raws))() == expected  # the worker is up
        executor = parser._executor  # noqa: SLF001
        assert executor is not None
        for pid in list(executor._processes):  # noqa: SLF001
            os.kill(pid, signal.SIGKILL)
        with caplog.at_level(logging.WARNING, logger="notnow.daemon.parsing"):
            results = [parser.submit(batch_of(raws))() for _ in range(3)]
    for result in results:
        same(result, expected)
    assert sum("parse worker failed" in r.getMessage() for r in caplog.records) == 1


def test_submitting_pairs_each_batch_and_closes_what_it_wraps() -> None:
    closed = []

    def batches() -> Iterator[list[Fetched]]:
        try:
            yield batch_of(RAWS[:2])
            yield batch_of(RAWS[2:4], 10)
        finally:
            closed.append(True)

    with ParseAhead() as parser:
        wrapped = parser.submitting(batches())
        batch, later = next(wrapped)
        assert [f.raw for f in batch] == RAWS[:2]
        same(later(), parse_all(RAWS[:2]))
        wrapped.close()  # as ReadAhead does when a pass stops early
    assert closed == [True]
