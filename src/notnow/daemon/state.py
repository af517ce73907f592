"""notnow's memory, in SQLite: checkpoints, processed messages, drafts and their fate.

Owns the state file and nothing else. WAL mode and one transaction per batch keep it
consistent across kill -9; a corrupt file is moved aside and rebuilt (the mailbox is the
source of truth: drafts already in Drafts are found again by their X-Notnow-Source).

A draft goes through ``intent`` (recorded, with its bytes, *before* the APPEND) to
``saved`` (after). An ``intent`` found at start-up means a crash between the two; the
daemon reconciles it against the Drafts folder before doing anything else.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator
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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class State:
    """One SQLite connection; use ``transaction()`` to group writes."""

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
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
        connection = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
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

    def known(self, account: str, message_ids: list[str]) -> set[str]:
        """Which of these Message-IDs were already processed (any outcome but failure)."""
        found: set[str] = set()
        for start in range(0, len(message_ids), 500):
            chunk = message_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.connection.execute(
                f"SELECT message_id FROM messages WHERE account=? AND status != 'failed' "  # noqa: S608 - placeholders only
                f"AND message_id IN ({marks})",
                (account, *chunk),
            )
            found.update(row[0] for row in rows)
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

    def thread_has_draft(self, account: str, thread: str) -> bool:
        return (
            self.connection.execute(
                "SELECT 1 FROM drafts WHERE account=? AND thread=? LIMIT 1", (account, thread)
            ).fetchone()
            is not None
        )

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
