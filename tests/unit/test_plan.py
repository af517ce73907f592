"""Planning is pure: bands, one draft per source and per thread, the daily cap, keywords."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from notnow.classifier.model import Verdict
from notnow.config import AccountConfig, DraftsConfig
from notnow.daemon.plan import Context, Item, Record, SaveDraft, Tag, plan, thread_of
from notnow.mailbox.base import Fetched
from notnow.message import parse

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ACCOUNT = AccountConfig(
    name="me",
    identity="Alex Morgan <alex@example.org>",
    maildir=None,
    host="imap.example.org",
    username="alex",
)


def message(number: int, *, references: str = "", subject: str = "Your application") -> bytes:
    refs = (
        f"References: {references}\r\nIn-Reply-To: {references.split()[-1]}\r\n"
        if references
        else ""
    )
    return (
        f"From: Dana Lee <dana@acme.example>\r\nTo: alex@example.org\r\n"
        f"Subject: {subject}\r\nMessage-ID: <m{number}@acme.example>\r\n{refs}"
        "Date: Mon, 16 Nov 2026 10:00:00 +0000\r\n\r\n"
        "Thank you for interviewing; we went with another candidate.\r\n"
    ).encode()


def item(number: int, band: str, **kwargs: str) -> Item:
    raw = message(number, **kwargs)
    score = {"draft": 0.95, "review": 0.6, "ignore": 0.1}[band]
    label = "rejection" if band == "draft" else "other"
    return Item(
        Fetched("INBOX", f"1:{number}", number, raw), parse(raw), Verdict(score, label, "en", band)
    )


def context(**kwargs: object) -> Context:
    return replace(Context(ACCOUNT, DraftsConfig()), **kwargs)  # type: ignore[arg-type]


def test_bands_become_records_drafts_and_review_tags() -> None:
    result = plan([item(1, "draft"), item(2, "review"), item(3, "ignore")], context(), NOW)
    statuses = {r.message_id: r.status for r in result.records}
    assert statuses == {
        "<m1@acme.example>": "rejection",
        "<m2@acme.example>": "review",
        "<m3@acme.example>": "ignored",
    }
    assert [d.source_id for d in result.drafts] == ["<m1@acme.example>"]
    tags = [a for a in result.actions if isinstance(a, Tag)]
    assert [(t.key, t.keyword) for t in tags] == [("1:2", "$NotnowReview")]
    draft = result.drafts[0].draft
    assert draft.source_id == "<m1@acme.example>"
    assert b"X-Notnow-Source: <m1@acme.example>" in draft.raw


def test_known_messages_and_existing_drafts_are_not_drafted_again() -> None:
    items = [item(1, "draft"), item(2, "draft")]
    result = plan(
        items,
        context(
            known=frozenset({"<m1@acme.example>"}), drafted_sources=frozenset({"<m2@acme.example>"})
        ),
        NOW,
    )
    assert result.drafts == []
    assert [r.message_id for r in result.records] == ["<m2@acme.example>"]


def test_duplicates_within_a_batch_are_planned_once() -> None:
    result = plan([item(1, "draft"), item(1, "draft")], context(), NOW)
    assert len(result.drafts) == 1 and len(result.records) == 1


def test_one_draft_per_thread() -> None:
    first = item(1, "draft", references="<root@x>")
    second = item(2, "draft", references="<root@x> <m1@acme.example>")
    assert thread_of(first.email) == thread_of(second.email) == "<root@x>"  # type: ignore[arg-type]
    result = plan([first, second], context(), NOW)
    assert len(result.drafts) == 1
    later = plan(
        [item(3, "draft", references="<root@x>")],
        context(drafted_threads=frozenset({"<root@x>"})),
        NOW,
    )
    assert later.drafts == []


def test_daily_cap_defers_and_never_drops() -> None:
    drafts = DraftsConfig(max_per_day=2)
    result = plan(
        [item(n, "draft") for n in range(1, 6)], context(drafts=drafts, saved_today=1), NOW
    )
    assert [d.deferred for d in result.drafts] == [False, True, True, True, True]
    assert len(result.drafts) == 5


def test_unreadable_message_is_recorded_as_failed() -> None:
    broken = Item(Fetched("INBOX", "1:9", 9, b"\x00"), None, None, "no headers")
    result = plan([broken, item(1, "ignore")], context(), NOW)
    failed = [r for r in result.records if r.status == "failed"]
    assert len(failed) == 1 and failed[0].reason == "no headers"
    assert isinstance(result.actions[0], Record)


def test_optional_rejection_keyword_and_own_drafts_ignored() -> None:
    drafts = DraftsConfig(rejection_keyword="$JobRejection")
    result = plan([item(1, "draft")], context(drafts=drafts), NOW)
    assert any(isinstance(a, Tag) and a.keyword == "$JobRejection" for a in result.actions)
    own = item(2, "draft")
    raw = b"X-Notnow-Source: <other@x>\r\n" + own.fetched.raw
    own = replace(own, email=parse(raw))
    assert not [a for a in plan([own], context(), NOW).actions if isinstance(a, SaveDraft)]
