"""notnow's memory, in SQLite: checkpoints, processed messages, drafts and their fate,
and what the running watcher is doing (for ``notnow status``).

Owns the state file and nothing else. WAL mode and one transaction per batch keep it
consistent across kill -9; a corrupt file is moved aside and rebuilt (the mailbox is the
source of truth: drafts already in Drafts are found again by their X-Notnow-Source).

A draft goes through ``intent`` (recorded, with its bytes, *before* the APPEND) to
``saved`` (after). An ``intent`` found at start-up means a crash between the two; the
daemon reconciles it against the Drafts folder before doing anything else.

The ``watchers`` and ``daemon`` tables are a live notice board, not history: one row per
account (its current state, since when, the last contact with its server) and one row for
the process (its pid, so ``status`` can tell whether it still runs). The daemon writes
them on state changes only, so an idle daemon leaves the file alone.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from notnow.mailbox.base import Checkpoint

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (
    account TEXT NOT NULL, folder TEXT NOT NULL,
    validity INTEGER NOT NULL, position INTEGER NOT NULL,
    PRIMARY KEY (account, folder)
);
CREATE TABLE IF NOT EXISTS messages (
    account TEXT NOT NULL, message_id TEXT NOT NULL,
    folder TEXT NOT NULL, key TEXT NOT NULL,
    status TEXT NOT NULL,          -- ignored | review | rejection | failed
    score REAL, lang TEXT, subject TEXT, sender TEXT, reason TEXT,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (account, message_id)
);
CREATE TABLE IF NOT EXISTS drafts (
    account TEXT NOT NULL, source_id TEXT NOT NULL,
    draft_id TEXT NOT NULL, thread TEXT NOT NULL,
    state TEXT NOT NULL,           -- deferred | intent | saved
    raw BLOB, recipient TEXT, subject TEXT,
    created_at TEXT NOT NULL, saved_at TEXT, saved_day TEXT,
    PRIMARY KEY (account, source_id)
);
CREATE INDEX IF NOT EXISTS drafts_day ON drafts (account, saved_day);
CREATE INDEX IF NOT EXISTS drafts_thread ON drafts (account, thread);
CREATE TABLE IF NOT EXISTS watchers (
    account TEXT PRIMARY KEY,
    state TEXT NOT NULL,           -- connecting | syncing | idle | polling | backing off | stopped
    detail TEXT NOT NULL,          -- e.g. "IDLE on INBOX, Jobs", or the error being backed off
    since TEXT NOT NULL, until TEXT, last_contact TEXT, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS daemon (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pid INTEGER NOT NULL,
    process_start TEXT,            -- from /proc: tells a reused pid from ours
    started_at TEXT NOT NULL, stopped_at TEXT
);
"""


@dataclass(frozen=True)
class DraftRecord:
    account: str
    source_id: str
    draft_id: str
    thread: str
    state: str
    raw: bytes | None
    recipient: str
    subject: str
    created_at: str
    saved_at: str | None


@dataclass(frozen=True)
class WatcherRecord:
    """What one account's watcher said it was doing, as last written."""

    account: str
    state: str
    detail: str
    since: str
    until: str | None
    last_contact: str | None
    updated_at: str


@dataclass(frozen=True)
class DaemonRecord:
    """The watching process as last written: running if ``stopped_at`` is None and the pid
    (with the same ``process_start``) is alive."""

    pid: int
    process_start: str | None
    started_at: str
    stopped_at: str | None


def timestamp(moment: datetime) -> str:
    """How the state file writes a moment: ISO 8601 in UTC, to the second."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _now() -> str:
    return timestamp(datetime.now(UTC))


class State:
    """One SQLite connection; use ``transaction()`` to group writes."""

    def __init__(self, path: Path, read_only: bool = False, shared: bool = False) -> None:
        """``shared``: the connection may be used from several threads (the caller
        serialises the calls, as the watcher's notice board does with a lock)."""
        self.path = path
        self.read_only = read_only
        self.shared = shared
        self.connection = self._open()

    def _open(self) -> sqlite3.Connection:
        if self.read_only and not self.path.exists():
            connection = sqlite3.connect(":memory:", isolation_level=None)
            connection.executescript(_SCHEMA)
            return connection
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            return self._connect()
        except sqlite3.DatabaseError as e:
            if self.read_only:
                raise
            aside = self.path.with_name(
                self.path.name + f".corrupt-{int(datetime.now(UTC).timestamp())}"
            )
            logger.warning(
                "state file %s is unreadable (%s); moved to %s and rebuilt from the mailbox",
                self.path,
                e,
                aside,
            )
            os.replace(self.path, aside)
            for suffix in ("-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        uri = f"file:{self.path}?mode=ro" if self.read_only else f"file:{self.path}"
        connection = sqlite3.connect(
            uri, uri=True, isolation_level=None, timeout=30, check_same_thread=not self.shared
        )
        connection.execute("PRAGMA busy_timeout = 30000")
        if not self.read_only:
            connection.execute("PRAGMA journal_mode = WAL")
            # FULL: a committed checkpoint or draft intent survives power loss, not only kill -9.
            connection.execute("PRAGMA synchronous = FULL")
            connection.executescript(_SCHEMA)
            connection.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
            )
        connection.execute("SELECT count(*) FROM messages").fetchone()  # detect corruption now
        return connection

    def close(self) -> None:
        self.connection.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    # -- checkpoints ----------------------------------------------------------------------

    def checkpoint(self, account: str, folder: str) -> Checkpoint | None:
        row = self.connection.execute(
            "SELECT validity, position FROM checkpoints WHERE account=? AND folder=?",
            (account, folder),
        ).fetchone()
        return Checkpoint(row[0], row[1]) if row else None

    def set_checkpoint(self, account: str, folder: str, checkpoint: Checkpoint) -> None:
        self.connection.execute(
            "INSERT INTO checkpoints VALUES (?,?,?,?) ON CONFLICT (account, folder) "
            "DO UPDATE SET validity=excluded.validity, position=excluded.position",
            (account, folder, checkpoint.validity, checkpoint.position),
        )

    # -- messages -------------------------------------------------------------------------

    def known(self, account: str, message_ids: Sequence[str]) -> set[str]:
        """Which of these Message-IDs were already processed (any outcome but failure)."""
        return self._matching(
            "SELECT message_id FROM messages WHERE account=? AND status != 'failed' "
            "AND message_id IN ({marks})",
            account,
            message_ids,
        )

    def drafted(self, account: str, source_ids: Sequence[str]) -> set[str]:
        """Which of these messages have a draft (intended or saved)."""
        return self._matching(
            "SELECT source_id FROM drafts WHERE account=? AND source_id IN ({marks})",
            account,
            source_ids,
        )

    def threads_with_drafts(self, account: str, threads: Sequence[str]) -> set[str]:
        return self._matching(
            "SELECT DISTINCT thread FROM drafts WHERE account=? AND thread IN ({marks})",
            account,
            threads,
        )

    def _matching(self, query: str, account: str, values: Sequence[str]) -> set[str]:
        """The values ``query`` returns, asked in chunks: its ``{marks}`` becomes one
        placeholder per value (SQLite caps the number of placeholders)."""
        found: set[str] = set()
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            sql = query.format(marks=",".join("?" * len(chunk)))
            found.update(row[0] for row in self.connection.execute(sql, (account, *chunk)))
        return found

    def record_message(
        self,
        account: str,
        message_id: str,
        folder: str,
        key: str,
        status: str,
        *,
        score: float | None = None,
        lang: str | None = None,
        subject: str = "",
        sender: str = "",
        reason: str = "",
    ) -> None:
        self.connection.execute(
            "INSERT INTO messages VALUES (?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (account, message_id) DO UPDATE SET folder=excluded.folder, "
            "key=excluded.key, status=excluded.status, score=excluded.score, "
            "lang=excluded.lang, subject=excluded.subject, sender=excluded.sender, "
            "reason=excluded.reason",
            (
                account,
                message_id,
                folder,
                key,
                status,
                score,
                lang,
                subject,
                sender,
                reason,
                _now(),
            ),
        )

    def recent_messages(self, account: str, limit: int = 20) -> list[sqlite3.Row]:
        self.connection.row_factory = sqlite3.Row
        try:
            return list(
                self.connection.execute(
                    "SELECT * FROM messages WHERE account=? AND status != 'ignored' "
                    "ORDER BY seen_at DESC LIMIT ?",
                    (account, limit),
                )
            )
        finally:
            self.connection.row_factory = None

    # -- drafts ---------------------------------------------------------------------------

    def draft(self, account: str, source_id: str) -> DraftRecord | None:
        row = self.connection.execute(
            "SELECT account, source_id, draft_id, thread, state, raw, recipient, subject, "
            "created_at, saved_at FROM drafts WHERE account=? AND source_id=?",
            (account, source_id),
        ).fetchone()
        return DraftRecord(*row) if row else None

    def add_draft(
        self,
        account: str,
        source_id: str,
        draft_id: str,
        thread: str,
        raw: bytes,
        recipient: str,
        subject: str,
        state: str,
    ) -> None:
        self.connection.execute(
            "INSERT OR IGNORE INTO drafts (account, source_id, draft_id, thread, state, raw, "
            "recipient, subject, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (account, source_id, draft_id, thread, state, raw, recipient, subject, _now()),
        )

    def set_draft_state(
        self, account: str, source_id: str, state: str, today: date | None = None
    ) -> None:
        if state == "saved":
            day = (today or datetime.now(UTC).astimezone().date()).isoformat()
            self.connection.execute(
                "UPDATE drafts SET state='saved', saved_at=?, saved_day=?, raw=NULL "
                "WHERE account=? AND source_id=?",
                (_now(), day, account, source_id),
            )
        else:
            self.connection.execute(
                "UPDATE drafts SET state=? WHERE account=? AND source_id=?",
                (state, account, source_id),
            )

    def drafts_in_state(self, account: str, state: str) -> list[DraftRecord]:
        rows = self.connection.execute(
            "SELECT account, source_id, draft_id, thread, state, raw, recipient, subject, "
            "created_at, saved_at FROM drafts WHERE account=? AND state=? ORDER BY created_at",
            (account, state),
        )
        return [DraftRecord(*row) for row in rows]

    def saved_on(self, account: str, day: date) -> int:
        row = self.connection.execute(
            "SELECT count(*) FROM drafts WHERE account=? AND saved_day=?",
            (account, day.isoformat()),
        ).fetchone()
        return int(row[0])

    def recent_drafts(self, account: str, limit: int = 20) -> list[DraftRecord]:
        rows = self.connection.execute(
            "SELECT account, source_id, draft_id, thread, state, raw, recipient, subject, "
            "created_at, saved_at FROM drafts WHERE account=? ORDER BY created_at DESC LIMIT ?",
            (account, limit),
        )
        return [DraftRecord(*row) for row in rows]

    # -- the live notice board: what the watcher is doing -----------------------------------

    def set_watcher(
        self,
        account: str,
        state: str,
        detail: str,
        since: str,
        until: str | None = None,
        last_contact: str | None = None,
    ) -> None:
        """Record an account's new state; a None ``last_contact`` keeps the one on file."""
        self.connection.execute(
            "INSERT INTO watchers VALUES (?,?,?,?,?,?,?) ON CONFLICT (account) DO UPDATE SET "
            "state=excluded.state, detail=excluded.detail, since=excluded.since, "
            "until=excluded.until, "
            "last_contact=coalesce(excluded.last_contact, watchers.last_contact), "
            "updated_at=excluded.updated_at",
            (account, state, detail, since, until, last_contact, _now()),
        )

    def set_last_contact(self, account: str, when: str) -> None:
        self.connection.execute(
            "UPDATE watchers SET last_contact=?, updated_at=? WHERE account=?",
            (when, _now(), account),
        )

    def watchers(self) -> dict[str, WatcherRecord]:
        if not self._has_table("watchers"):
            return {}  # a state file written before this table existed, opened read-only
        rows = self.connection.execute(
            "SELECT account, state, detail, since, until, last_contact, updated_at FROM watchers"
        )
        return {row[0]: WatcherRecord(*row) for row in rows}

    def set_daemon_started(self, pid: int, process_start: str | None) -> None:
        self.connection.execute(
            "INSERT INTO daemon VALUES (1,?,?,?,NULL) ON CONFLICT (id) DO UPDATE SET "
            "pid=excluded.pid, process_start=excluded.process_start, "
            "started_at=excluded.started_at, stopped_at=NULL",
            (pid, process_start, _now()),
        )

    def set_daemon_stopped(self, pid: int) -> None:
        self.connection.execute("UPDATE daemon SET stopped_at=? WHERE pid=?", (_now(), pid))

    def daemon(self) -> DaemonRecord | None:
        if not self._has_table("daemon"):
            return None
        row = self.connection.execute(
            "SELECT pid, process_start, started_at, stopped_at FROM daemon WHERE id=1"
        ).fetchone()
        return DaemonRecord(*row) if row else None

    def _has_table(self, name: str) -> bool:
        return (
            self.connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)
            ).fetchone()
            is not None
        )
