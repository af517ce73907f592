"""Planning, pure: messages + verdicts + what the state knows -> a list of actions.

Nothing here reads or writes a mailbox or the state file; ``apply`` (daemon/run.py) is
the only place that does, and ``--dry-run`` prints these actions instead. Rules decided
here: the bands (draft / review / ignore), one draft per source message and per thread,
the daily cap (rejections over it are deferred, never dropped), the keywords.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from notnow.classifier.model import Verdict
from notnow.config import AccountConfig, DraftsConfig
from notnow.mailbox.base import Fetched
from notnow.message import Email

if TYPE_CHECKING:
    from notnow.drafts.compose import Draft


@dataclass(frozen=True)
class Item:
    """One fetched message with what became of it before planning."""

    fetched: Fetched
    email: Email | None
    verdict: Verdict | None
    error: str = ""


@dataclass(frozen=True)
class Context:
    """The state's answers that planning needs, read before planning."""

    account: AccountConfig
    drafts: DraftsConfig
    known: frozenset[str] = frozenset()
    drafted_sources: frozenset[str] = frozenset()
    drafted_threads: frozenset[str] = frozenset()
    saved_today: int = 0


@dataclass(frozen=True)
class Record:
    message_id: str
    folder: str
    key: str
    status: str  # ignored | review | rejection | failed
    score: float | None = None
    lang: str | None = None
    subject: str = ""
    sender: str = ""
    reason: str = ""


@dataclass(frozen=True)
class SaveDraft:
    source_id: str
    thread: str
    draft: Draft
    deferred: bool = False  # over today's cap: stored, appended on a later day


@dataclass(frozen=True)
class Tag:
    folder: str
    key: str
    keyword: str
    message_id: str


Action = Record | SaveDraft | Tag


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)

    @property
    def drafts(self) -> list[SaveDraft]:
        return [a for a in self.actions if isinstance(a, SaveDraft)]

    @property
    def records(self) -> list[Record]:
        return [a for a in self.actions if isinstance(a, Record)]


def thread_of(email: Email) -> str:
    """The thread a message belongs to: its first reference, else its parent, else itself."""
    if email.references:
        return email.references[0]
    return email.in_reply_to or email.message_id


def plan(items: list[Item], context: Context, now: datetime) -> Plan:
    from notnow.drafts.compose import compose_draft  # jinja2: only once mail needs a draft

    result = Plan()
    seen: set[str] = set(context.known)
    sources = set(context.drafted_sources)
    threads = set(context.drafted_threads)
    saved_today = context.saved_today
    for item in items:
        fetched = item.fetched
        if item.email is None or item.verdict is None:
            result.actions.append(
                Record(
                    _fallback_id(fetched),
                    fetched.folder,
                    fetched.key,
                    "failed",
                    reason=item.error or "unreadable",
                )
            )
            continue
        email, verdict = item.email, item.verdict
        if email.message_id in seen:
            continue
        seen.add(email.message_id)
        sender = str(email.sender) if email.sender else ""
        status = {"draft": "rejection", "review": "review"}.get(verdict.band, "ignored")
        if email.headers.get("x-notnow-source"):
            status = "ignored"  # one of our own drafts, e.g. a Drafts folder being watched
        result.actions.append(
            Record(
                email.message_id,
                fetched.folder,
                fetched.key,
                status,
                verdict.score,
                email.lang if status != "ignored" else "",  # identified only where it is used
                email.subject,
                sender,
            )
        )
        if status == "review" and context.drafts.review_keyword:
            result.actions.append(
                Tag(fetched.folder, fetched.key, context.drafts.review_keyword, email.message_id)
            )
        if status != "rejection":
            continue
        if context.drafts.rejection_keyword:
            result.actions.append(
                Tag(fetched.folder, fetched.key, context.drafts.rejection_keyword, email.message_id)
            )
        thread = thread_of(email)
        if email.message_id in sources or thread in threads:
            threads.add(thread)  # drafted before: its thread gets no second draft
            continue
        sources.add(email.message_id)
        threads.add(thread)
        draft = compose_draft(email, context.account, context.drafts, now)
        deferred = saved_today >= context.drafts.max_per_day
        if not deferred:
            saved_today += 1
        result.actions.append(SaveDraft(email.message_id, thread, draft, deferred))
    return result


def _fallback_id(fetched: Fetched) -> str:
    # A message that cannot be parsed has no Message-ID we can trust; key it by location.
    return f"<{fetched.key}@{fetched.folder}.unparsed.notnow.invalid>"
