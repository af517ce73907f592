"""notnow.daemon.parsing: a backlog parsed in a real worker process gives exactly what
parsing here gives, and a worker that dies costs nothing but speed."""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from notnow.daemon import parsing
from notnow.daemon.parsing import ParseAhead, parse_all
from notnow.mailbox.base import Fetched
from notnow.message import Email

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

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
            assert got.document == want.document


def test_parse_all_reads_each_message_or_says_why_not() -> None:
    parsed = parse_all([RAWS[0], UNREADABLE, RAWS[1]])
    assert isinstance(parsed[0], Email) and isinstance(parsed[2], Email)
    assert parsed[1] == "empty message"
    # Worked out in the worker and carried back: the daemon does not prepare them again.
    assert {"new_text", "document"} <= set(vars(parsed[0]))


def test_a_backlog_parsed_in_the_worker_is_the_same_as_here() -> None:
    raws = RAWS * 3 + [UNREADABLE]
    expected = parse_all(raws)
    with ParseAhead(min_batch=len(raws)) as parser:
        later = [parser.submit(batch_of(raws, i * 1000)) for i in range(4)]
        assert parser._worker is not None  # noqa: SLF001 - a real worker process
        for result in later:
            same(result(), expected)
    assert parser._worker is None  # noqa: SLF001 - ended with the context


def test_small_batches_start_no_worker() -> None:
    with ParseAhead(min_batch=50) as parser:
        same(parser.submit(batch_of(RAWS[:3]))(), parse_all(RAWS[:3]))
        assert parser._worker is None  # noqa: SLF001


def test_a_dead_worker_falls_back_to_parsing_here(caplog: pytest.LogCaptureFixture) -> None:
    raws = RAWS * 2
    expected = parse_all(raws)
    with ParseAhead(min_batch=2) as parser:
        parser.submit(batch_of(raws))()  # starts the worker
        assert parser.submit(batch_of(raws))() == expected  # the worker is up
        worker = parser._worker  # noqa: SLF001
        assert worker is not None
        os.kill(worker._process.pid, signal.SIGKILL)  # noqa: SLF001
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


def test_the_worker_does_not_outlive_a_killed_daemon(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from notnow.daemon.parsing import ParseAhead\n"
        "from notnow.mailbox.base import Fetched\n"
        "raw = b'From: a@b.example\\nSubject: s\\n\\nhello\\n'\n"
        "batch = [Fetched('INBOX', str(i), i, raw) for i in range(60)]\n"
        "parser = ParseAhead()\n"
        "parser.submit(batch)()\n"
        "parser.submit(batch)()\n"
        "print(parser._worker._process.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    daemon = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert daemon.stdout is not None
    worker = int(daemon.stdout.readline())
    assert Path(f"/proc/{worker}").exists()
    daemon.kill()
    daemon.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(worker):
        time.sleep(0.05)
    assert not _alive(worker)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"  # a zombie has ended; init reaps it


class Trickle(io.RawIOBase):
    """A pipe that moves at most ``step`` bytes per call, as a stopped process's does."""

    def __init__(self, data: bytes = b"", step: int = 1000) -> None:
        self.data = bytearray(data)
        self.step = step

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def write(self, chunk: ReadableBuffer) -> int:
        taken = bytes(chunk)[: self.step]
        self.data += taken
        return len(taken)

    def readinto(self, into: WriteableBuffer) -> int:
        view = memoryview(into)
        count = min(self.step, len(view), len(self.data))
        view[:count] = self.data[:count]
        del self.data[:count]
        return count


def test_short_reads_and_writes_are_carried_on_not_torn() -> None:
    value = parse_all(RAWS)
    pipe = Trickle(step=1000)
    parsing._write(pipe, value)  # noqa: SLF001
    parsing._write(pipe, ["next"])  # noqa: SLF001
    reader = Trickle(bytes(pipe.data), step=777)
    same(parsing._read(reader), value)  # type: ignore[arg-type]  # noqa: SLF001
    assert parsing._read(reader) == ["next"]  # noqa: SLF001
    assert parsing._read(reader) is None  # noqa: SLF001 - the end of the stream
    reader = Trickle(bytes(pipe.data)[:-3], step=777)
    parsing._read(reader)  # noqa: SLF001
    assert parsing._read(reader) is None  # noqa: SLF001 - cut off: the end, not garbage


def test_a_worker_stopped_and_continued_keeps_answering() -> None:
    """Ctrl-Z and fg, or a cgroup freezer, cut pipe writes short on both sides."""
    raws = RAWS * 40  # 700 KB a batch, its answer more: writes outlast a 64 KB pipe
    expected = parse_all(raws)
    done = threading.Event()
    with ParseAhead(min_batch=2) as parser:
        parser.submit(batch_of(raws[:2]))()  # starts the worker
        worker = parser._worker  # noqa: SLF001
        assert worker is not None
        pid = worker._process.pid  # noqa: SLF001

        def pester() -> None:
            while not done.is_set():
                os.kill(pid, signal.SIGSTOP)
                time.sleep(0.001)
                os.kill(pid, signal.SIGCONT)
                time.sleep(0.002)

        thread = threading.Thread(target=pester)
        thread.start()
        try:
            results = [parser.submit(batch_of(raws)) for _ in range(5)]
            for result in results:
                same(result(), expected)
        finally:
            done.set()
            thread.join()
        assert not parser._broken  # noqa: SLF001 - every answer was the worker's


def test_the_worker_leaves_stopping_to_the_daemon() -> None:
    raws = RAWS * 2
    with ParseAhead(min_batch=2) as parser:
        parser.submit(batch_of(raws))()  # starts the worker
        worker = parser._worker  # noqa: SLF001
        assert worker is not None
        assert parser.submit(batch_of(raws))() == parse_all(raws)
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            os.kill(worker._process.pid, signal_number)  # noqa: SLF001
        assert parser.submit(batch_of(raws))() == parse_all(raws)
        assert not parser._broken  # noqa: SLF001 - still the worker's answer
    assert worker._process.returncode == 0  # noqa: SLF001 - ended by its input closing


def test_a_wedged_worker_is_stopped_when_the_pass_ends(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(parsing, "CLOSE_SECONDS", 1)
    raws = RAWS * 2
    with (
        caplog.at_level(logging.WARNING, logger="notnow.daemon.parsing"),
        ParseAhead(min_batch=2) as parser,
    ):
        parser.submit(batch_of(raws))()  # starts the worker
        worker = parser._worker  # noqa: SLF001
        assert worker is not None
        assert parser.submit(batch_of(raws))() == parse_all(raws)
        os.kill(worker._process.pid, signal.SIGSTOP)  # noqa: SLF001 - wedged
        parser.submit(batch_of(raws))  # sent, never answered, never waited for
    assert worker._process.returncode == -signal.SIGKILL  # noqa: SLF001
    assert any("did not finish" in r.getMessage() for r in caplog.records)
