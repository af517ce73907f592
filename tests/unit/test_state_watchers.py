"""The watcher's notice board: the state tables, the Board that writes them (only on
changes), whether the recorded daemon still runs, and how `notnow status` shows it."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from notnow import config as configuration
from notnow.daemon import loop, notify
from notnow.daemon.notify import Board
from notnow.daemon.state import DaemonRecord, State


def test_watcher_rows_keep_the_last_contact_when_a_change_brings_none(tmp_path: Path) -> None:
    state = State(tmp_path / "s.sqlite3")
    state.set_watcher("a", "syncing", "", since="2020-11-22T10:00:00+00:00",
                      last_contact="2020-11-22T10:00:00+00:00")  # fmt: skip
    state.set_watcher("a", "backing off", "refused", since="2020-11-22T10:05:00+00:00",
                      until="2020-11-22T10:05:30+00:00")  # fmt: skip
    record = state.watchers()["a"]
    assert (record.state, record.detail, record.until) == (
        "backing off",
        "refused",
        "2020-11-22T10:05:30+00:00",
    )
    assert record.last_contact == "2020-11-22T10:00:00+00:00"
    state.set_last_contact("a", "2020-11-22T10:06:00+00:00")
    assert state.watchers()["a"].last_contact == "2020-11-22T10:06:00+00:00"
    assert state.watchers()["a"].since == "2020-11-22T10:05:00+00:00"


def test_daemon_row_started_then_stopped(tmp_path: Path) -> None:
    state = State(tmp_path / "s.sqlite3")
    assert state.daemon() is None
    state.set_daemon_started(4242, "123")
    record = state.daemon()
    assert record is not None and record.pid == 4242 and record.stopped_at is None
    state.set_daemon_stopped(4343)  # another pid's stop does not touch ours
    assert state.daemon() == record
    state.set_daemon_stopped(4242)
    stopped = state.daemon()
    assert stopped is not None and stopped.stopped_at is not None
    state.set_daemon_started(4244, None)  # a new run replaces the row
    again = state.daemon()
    assert again is not None and again.pid == 4244 and again.stopped_at is None


def test_a_state_file_from_before_the_board_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    State(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE watchers")
        connection.execute("DROP TABLE daemon")
    old = State(path, read_only=True)
    assert old.watchers() == {}
    assert old.daemon() is None


@pytest.fixture
def board(tmp_path: Path) -> Iterator[Board]:
    board = Board(tmp_path / "state.sqlite3")
    yield board
    board.close()


def data_version(connection: sqlite3.Connection) -> int:
    """Changes whenever another connection commits a write to the file."""
    return int(connection.execute("PRAGMA data_version").fetchone()[0])


def test_board_writes_on_changes_only(board: Board) -> None:
    board.set("a", "syncing", log="connected", contact=True)
    other = State(board.path)
    # An old contact on file, so that any write by the board would change the row (SQLite
    # does not count an update to identical values as a change).
    other.set_last_contact("a", "2020-11-22T10:00:00+00:00")
    other.close()
    reader = sqlite3.connect(board.path)
    before = data_version(reader)
    board.set("a", "syncing", contact=True)  # same state, contact written a moment ago
    board.contact("a")
    board.contact("a")
    assert data_version(reader) == before, "an unchanged state wrote to the file"
    board.set("a", "idle", "IDLE on INBOX")
    assert data_version(reader) != before
    record = State(board.path, read_only=True).watchers()["a"]
    assert (record.state, record.detail) == ("idle", "IDLE on INBOX")
    assert record.last_contact is not None


def test_board_contact_is_written_when_due(board: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    board.set("a", "idle", "IDLE on INBOX", contact=True)
    other = State(board.path)
    other.set_last_contact("a", "2020-11-22T10:00:00+00:00")  # so that a new one differs
    other.close()
    board.contact("a")  # not due yet
    assert State(board.path).watchers()["a"].last_contact == "2020-11-22T10:00:00+00:00"
    monkeypatch.setattr(notify, "CONTACT_WRITE_INTERVAL", 0.0)
    board.contact("a")
    assert State(board.path).watchers()["a"].last_contact != "2020-11-22T10:00:00+00:00"


def test_board_logs_a_line_once_however_often_it_is_reported(
    board: Board, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="notnow")
    for _ in range(3):
        board.set("a", "connecting")
        board.set("a", "backing off", "refused", log="error, retrying with backoff: refused")
    board.set("a", "syncing", log="connected")
    board.set("a", "backing off", "refused", log="error, retrying with backoff: refused")
    logged = [record.getMessage() for record in caplog.records if record.levelname != "DEBUG"]
    assert logged == [
        "[a] error, retrying with backoff: refused",
        "[a] connected",
        "[a] error, retrying with backoff: refused",
    ]


def test_board_survives_a_state_file_it_cannot_write(tmp_path: Path) -> None:
    board = Board(tmp_path / "state.sqlite3")
    board.close()  # every write now fails: the watcher must go on regardless
    board.set("a", "idle", "IDLE on INBOX", log="idle")
    board.contact("a")


def test_is_running_knows_our_pid_and_a_dead_one() -> None:
    me = os.getpid()
    assert notify.is_running(DaemonRecord(me, notify.process_start(me), "t", None))
    assert not notify.is_running(DaemonRecord(me, notify.process_start(me), "t", "stopped"))
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    gone = int(child.stdout)
    assert not notify.is_running(DaemonRecord(gone, None, "t", None))


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_reused_pid_is_not_the_daemon() -> None:
    me = os.getpid()
    started = notify.process_start(me)
    assert started is not None and started.isdigit()
    assert not notify.is_running(DaemonRecord(me, str(int(started) - 1), "t", None))


def status_config(tmp_path: Path) -> configuration.Config:
    return configuration.loads(
        f'[[account]]\nname = "home"\nmaildir = "{tmp_path / "Mail"}"\n'
        'identity = "A <a@example.org>"\n'
        f'[daemon]\nstate_dir = "{tmp_path / "state"}"\n'
    )


def test_status_shows_a_running_daemon_and_its_watcher(tmp_path: Path) -> None:
    config = status_config(tmp_path)
    assert loop.status(config).splitlines()[:3] == [
        "daemon: never run (`notnow run` starts it)",
        "[home]",
        "  watcher: no state recorded yet",
    ]
    board = Board(loop.state_path(config))
    board.started()
    board.set("home", "polling", "every 300 s", contact=True)
    lines = loop.status(config).splitlines()
    assert lines[0].startswith(f"daemon: running (pid {os.getpid()}, started ")
    assert lines[2].startswith("  watcher: polling (every 300 s) since ")
    assert "; last contact " in lines[2] and lines[2].endswith(" s ago)")
    board.stopped()
    board.set("home", "stopped")
    lines = loop.status(config).splitlines()
    assert lines[0].startswith("daemon: not running, last seen ")
    assert lines[2].startswith("  watcher: stopped ")
    board.close()


def test_status_of_a_daemon_that_died_without_a_word(tmp_path: Path) -> None:
    config = status_config(tmp_path)
    state = State(loop.state_path(config))
    state.set_daemon_started(2**22 + 1, None)  # above the kernel's pid_max: never alive
    state.set_watcher("home", "backing off", "no route to host", since="2020-11-22T10:00:00+00:00",
                      until="2020-11-22T10:01:00+00:00")  # fmt: skip
    state.close()
    lines = loop.status(config).splitlines()
    assert lines[0].startswith("daemon: not running, last seen ")
    # Local time, with how long ago: the dates depend on the machine's time zone.
    moment = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(\d+ days ago\)"
    assert re.fullmatch(
        rf"  watcher: not running \(last state: backing off until {moment} \(after error: "
        rf"no route to host\) since {moment}\); no contact yet",
        lines[2],
    ), lines[2]
