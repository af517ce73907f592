"""One pass over an account: fetch new mail, classify, plan, apply. The only place that
writes to a mailbox.

Exactly one draft per rejection, across crashes: a draft is recorded as an ``intent``
(with its bytes) in a committed transaction *before* the APPEND and marked ``saved``
after it. At the start of every pass, intents left by a crash are reconciled against the
X-Notnow-Source headers in Drafts: found -> saved; missing -> appended now. A checkpoint
moves only after its batch is fully applied, so a crash re-reads at most one batch, and
re-read messages are recognised by Message-ID.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from notnow.classifier.model import Classifier
from notnow.config import AccountConfig, Config
from notnow.daemon import plan as planning
from notnow.daemon.parsing import ParseAhead, Parsed
from notnow.daemon.readahead import ReadAhead
from notnow.daemon.state import State
from notnow.mailbox.base import Checkpoint, Fetched, Mailbox
from notnow.memory import release_freed_memory
from notnow.message import Email

logger = logging.getLogger(__name__)


@dataclass
class PassReport:
    account: str
    dry_run: bool = False
    fetched: int = 0
    rejections: int = 0
    review: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (where, why)
    drafts_saved: list[DraftNote] = field(default_factory=list)
    drafts_deferred: list[DraftNote] = field(default_factory=list)
    error: str = ""  # why the account could not be processed, for the user


@dataclass(frozen=True)
class DraftNote:
    """What a report keeps of a draft saved or deferred: not the draft itself, of which a
    first pass over years of mail can defer thousands."""

    source_id: str
    subject: str
    to: str

    @classmethod
    def of(cls, action: planning.SaveDraft) -> DraftNote:
        return cls(action.source_id, action.draft.subject, action.draft.to)


def _today() -> datetime:
    return datetime.now(UTC).astimezone()


class AccountPass:
    """Runs passes for one account over an open mailbox."""

    def __init__(
        self,
        config: Config,
        account: AccountConfig,
        mailbox: Mailbox,
        state: State,
        classifier: Callable[[], Classifier],
        dry_run: bool = False,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.config = config
        self.account = account
        self.mailbox = mailbox
        self.state = state
        # A callable, so the model (seconds to load) is read only once mail needs judging.
        self.classifier = classifier
        self.dry_run = dry_run
        self.should_stop = should_stop
        self._sources: set[str] | None = None
        # Held for every mailbox command: the next batch is read in a thread meanwhile.
        self._mailbox_lock = threading.Lock()

    def sources(self) -> set[str]:
        """X-Notnow-Source values already in Drafts, read once per pass."""
        if self._sources is None:
            with self._mailbox_lock:
                self._sources = self.mailbox.find_sources()
        return self._sources

    def run(self) -> PassReport:
        report = PassReport(self.account.name, self.dry_run)
        self._sources = None
        if not self.dry_run:
            self.reconcile()
            self.flush_deferred(report)
        for folder in self.account.folders:
            if self.should_stop():
                break
            self.run_folder(folder, report)
        return report

    # -- crash recovery and the daily cap -------------------------------------------------

    def reconcile(self) -> None:
        """Finish what a crash interrupted: every ``intent`` is saved exactly once."""
        intents = self.state.drafts_in_state(self.account.name, "intent")
        if not intents:
            return
        present = self.sources()
        for record in intents:
            if record.source_id not in present and record.raw is not None:
                logger.info("completing an interrupted draft for %s", record.source_id)
                with self._mailbox_lock:
                    self.mailbox.append_draft(record.raw)
                present.add(record.source_id)
            with self.state.transaction():
                self.state.set_draft_state(self.account.name, record.source_id, "saved")

    def flush_deferred(self, report: PassReport) -> None:
        """Save drafts deferred by yesterday's cap while today's cap allows."""
        deferred = self.state.drafts_in_state(self.account.name, "deferred")
        for record in deferred:
            if self.saved_today() >= self.config.drafts.max_per_day:
                break
            if record.raw is None:
                continue
            with self.state.transaction():
                self.state.set_draft_state(self.account.name, record.source_id, "intent")
            self._append(record.source_id, record.raw)

    def saved_today(self) -> int:
        return self.state.saved_on(self.account.name, _today().date())

    # -- one folder -------------------------------------------------------------------------

    def run_folder(self, folder: str, report: PassReport) -> None:
        after = self.state.checkpoint(self.account.name, folder)
        since = None
        if after is None:
            since = datetime.now(UTC) - timedelta(days=self.config.daemon.since_days)
        with self._mailbox_lock:
            batches = self.mailbox.fetch_new(folder, after, since)
        with (
            ParseAhead() as parser,
            ReadAhead(parser.submitting(batches), self._mailbox_lock) as ahead,
        ):
            for batch, parsed in ahead:
                if not batch:
                    continue
                report.fetched += len(batch)
                items = self.prepare(batch, parsed())
                context = self.context(items)
                result = planning.plan(items, context, datetime.now(UTC))
                if self.dry_run:
                    self.count(result, report, applied=False)
                else:
                    self.apply(result, report)
                    self.advance(folder, batch)
                # A batch leaves freed blocks behind; kept, they add up over a backlog.
                release_freed_memory()
                if self.should_stop():
                    break

    def prepare(self, batch: list[Fetched], parsed: Parsed) -> list[planning.Item]:
        """Score every message of a batch in one go; ``parsed`` is the batch parsed
        (``parsing.ParseAhead``). A message that cannot be read is recorded, not fatal."""
        emails: dict[int, Email] = {}
        errors: dict[int, str] = {}
        for index, (fetched, result) in enumerate(zip(batch, parsed, strict=True)):
            if isinstance(result, Email):
                emails[index] = result
                continue
            logger.warning(
                "skipping unreadable message %s in %s: %s", fetched.key, fetched.folder, result
            )
            errors[index] = result
        scored = self.classifier().classify(list(emails.values()), languages=False)
        verdicts = dict(zip(emails, scored, strict=True))
        return [
            planning.Item(fetched, emails.get(index), verdicts.get(index), errors.get(index, ""))
            for index, fetched in enumerate(batch)
        ]

    def context(self, items: list[planning.Item]) -> planning.Context:
        name = self.account.name
        ids = [item.email.message_id for item in items if item.email is not None]
        known = self.state.known(name, ids)
        drafted = self.state.drafted(name, ids)
        if not self.dry_run or self._sources is not None:
            drafted |= self.sources() & set(ids)
        # A message whose draft is already in Drafts stands for its whole thread, also
        # when the state that recorded the thread was lost.
        thread_of = {
            item.email.message_id: planning.thread_of(item.email)
            for item in items
            if item.email is not None
        }
        with_drafts = self.state.threads_with_drafts(name, sorted(set(thread_of.values())))
        threads = {
            thread
            for message_id, thread in thread_of.items()
            if message_id in drafted or thread in with_drafts
        }
        return planning.Context(
            account=self.account,
            drafts=self.config.drafts,
            known=frozenset(known),
            drafted_sources=frozenset(drafted),
            drafted_threads=frozenset(threads),
            saved_today=self.saved_today(),
        )

    def apply(self, result: planning.Plan, report: PassReport) -> None:
        name = self.account.name
        deferred = [a for a in result.actions if isinstance(a, planning.SaveDraft) and a.deferred]
        for action in result.actions:
            if isinstance(action, planning.SaveDraft) and not action.deferred:
                with self.state.transaction():  # the intent is on disk before the APPEND
                    self._store(action, "intent")
                self._append(action.source_id, action.draft.raw)
                report.drafts_saved.append(DraftNote.of(action))
            elif isinstance(action, planning.Tag):
                with self._mailbox_lock:
                    self.mailbox.add_keyword(action.folder, action.key, action.keyword)
        # Drafts over today's cap are stored with the batch's records, in one transaction.
        with self.state.transaction():
            for action in deferred:
                self._store(action, "deferred")
            for record in result.records:
                self.state.record_message(
                    name,
                    record.message_id,
                    record.folder,
                    record.key,
                    record.status,
                    score=record.score,
                    lang=record.lang,
                    subject=record.subject,
                    sender=record.sender,
                    reason=record.reason,
                )
        if deferred:
            logger.info(
                "daily cap of %d drafts reached; %d draft(s) deferred to a later day",
                self.config.drafts.max_per_day,
                len(deferred),
            )
            report.drafts_deferred += map(DraftNote.of, deferred)
        self.count(result, report, applied=True)

    def _store(self, action: planning.SaveDraft, state: str) -> None:
        draft = action.draft
        self.state.add_draft(
            self.account.name,
            action.source_id,
            draft.message_id,
            action.thread,
            draft.raw,
            draft.to,
            draft.subject,
            state,
        )

    def _append(self, source_id: str, raw: bytes) -> None:
        """APPEND unless Drafts already holds it, then mark it saved."""
        if source_id not in self.sources():
            with self._mailbox_lock:
                self.mailbox.append_draft(raw)
            self.sources().add(source_id)
            logger.info("saved a reply draft for %s", source_id)
        with self.state.transaction():
            self.state.set_draft_state(self.account.name, source_id, "saved")

    def count(self, result: planning.Plan, report: PassReport, applied: bool) -> None:
        for record in result.records:
            if record.status == "rejection":
                report.rejections += 1
            elif record.status == "review":
                report.review += 1
            elif record.status == "failed":
                report.failed.append((f"{record.folder}/{record.key}", record.reason))
        if not applied:
            for action in result.drafts:
                notes = report.drafts_deferred if action.deferred else report.drafts_saved
                notes.append(DraftNote.of(action))

    def advance(self, folder: str, batch: list[Fetched]) -> None:
        validity = batch[-1].validity
        position = max(f.position for f in batch)
        previous = self.state.checkpoint(self.account.name, folder)
        if previous is not None and previous.validity == validity:
            position = max(position, previous.position)
        with self.state.transaction():
            self.state.set_checkpoint(self.account.name, folder, Checkpoint(validity, position))
