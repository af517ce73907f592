"""The SQLite state: checkpoints, message records, draft intents, corruption recovery."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from notnow.daemon.state import State
from notnow.mailbox.base import Checkpoint


def test_checkpoints_round_trip_and_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    state = State(path)
    assert state.checkpoint("a", "INBOX") is None
    with state.transaction():
        state.set_checkpoint("a", "INBOX", Checkpoint(7, 41))
        state.set_checkpoint("a", "INBOX", Checkpoint(7, 42))
    state.close()
    reopened = State(path)
    assert reopened.checkpoint("a", "INBOX") == Checkpoint(7, 42)
    assert reopened.checkpoint("b", "INBOX") is None


def test_a_rolled_back_transaction_leaves_nothing(tmp_path: Path) -> None:
    state = State(tmp_path / "s.sqlite3")
    try:
        with state.transaction():
            state.set_checkpoint("a", "INBOX", Checkpoint(1, 5))
            raise RuntimeError("crash in the middle")
    except RuntimeError:
        pass
    assert state.checkpoint("a", "INBOX") is None


def test_known_ignores_failures(tmp_path: Path) -> None:
    state = State(tmp_path / "s.sqlite3")
    with state.transaction():
        state.record_message("a", "<1@x>", "INBOX", "1:1", "ignored")
        state.record_message("a", "<2@x>", "INBOX", "1:2", "failed", reason="bad MIME")
        state.record_message("b", "<3@x>", "INBOX", "1:3", "rejection")
    ids = [f"<{n}@x>" for n in range(1000)]
    assert state.known("a", ids) == {"<1@x>"}


def test_drafted_is_asked_in_chunks_for_a_whole_batch(tmp_path: Path) -> None:
    state = State(tmp_path / "s.sqlite3")
    with state.transaction():
        for n in (3, 700, 1499):
            state.add_draft(
                "a", f"<{n}@x>", f"<d{n}@y>", f"<t{n}@x>", b"raw", "hr@x", "Re", "intent"
            )
    ids = [f"<{n}@x>" for n in range(1500)]
    assert state.drafted("a", ids) == {"<3@x>", "<700@x>", "<1499@x>"}
    assert state.drafted("b", ids) == set()


def test_draft_lifecycle_and_daily_count(tmp_path: Path) -> None:
    state = State(tmp_path / "s.sqlite3")
    with state.transaction():
        state.add_draft("a", "<s@x>", "<d@y>", "<t@x>", b"raw", "hr@x", "Re: s", "intent")
        state.add_draft("a", "<s@x>", "<other@y>", "<t@x>", b"raw2", "hr@x", "Re: s", "intent")
    assert [d.draft_id for d in state.drafts_in_state("a", "intent")] == ["<d@y>"]
    assert state.threads_with_drafts("a", ["<t@x>", "<u@x>"]) == {"<t@x>"}
    assert state.threads_with_drafts("b", ["<t@x>"]) == set()
    with state.transaction():
        state.set_draft_state("a", "<s@x>", "saved", today=date(2026, 11, 22))
    record = state.draft("a", "<s@x>")
    assert record is not None and record.state == "saved" and record.raw is None
    assert state.saved_on("a", date(2026, 11, 22)) == 1
    assert state.saved_on("a", date(2026, 11, 23)) == 0


def test_corrupt_state_file_is_moved_aside_and_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    state = State(path)
    assert state.checkpoint("a", "INBOX") is None
    with state.transaction():
        state.set_checkpoint("a", "INBOX", Checkpoint(1, 1))
    assert list(tmp_path.glob("state.sqlite3.corrupt-*"))


def test_read_only_state_on_a_missing_file_is_empty_and_creates_nothing(tmp_path: Path) -> None:
    state = State(tmp_path / "none" / "state.sqlite3", read_only=True)
    assert state.checkpoint("a", "INBOX") is None
    assert not (tmp_path / "none").exists()
