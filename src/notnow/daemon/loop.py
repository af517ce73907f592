"""Running notnow: one pass (``run --once``), the watcher (``run``), ``check`` and ``status``.

The watcher gives every account its own thread: a failing account backs off and retries
without stopping the others. Each account waits with IMAP IDLE where the server offers
it, else polls every ``poll_interval`` seconds. SIGTERM/SIGINT stop it cleanly.
"""

from __future__ import annotations

import functools
import logging
import random
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from notnow.classifier import model
from notnow.config import AccountConfig, Config
from notnow.daemon.run import AccountPass, PassReport
from notnow.daemon.state import DraftRecord, State
from notnow.errors import NotnowError, UserError
from notnow.mailbox import open_mailbox

logger = logging.getLogger(__name__)


def state_path(config: Config) -> Path:
    return config.state_dir / "state.sqlite3"


def load_classifier(config: Config) -> model.Classifier:
    classifier = model.active(config.classifier.model)
    return classifier.with_thresholds(
        config.classifier.draft_threshold, config.classifier.review_threshold
    )


def run_once(config: Config, dry_run: bool = False) -> list[PassReport]:
    """One pass over every account; an account's failure is reported, not raised."""
    classifier = functools.cache(lambda: load_classifier(config))
    state = State(state_path(config), read_only=dry_run)
    reports = []
    try:
        for account in config.accounts:
            reports.append(_pass(config, account, state, classifier, dry_run))
    finally:
        state.close()
    return reports


def _pass(
    config: Config,
    account: AccountConfig,
    state: State,
    classifier: Callable[[], model.Classifier],
    dry_run: bool,
) -> PassReport:
    try:
        mailbox = open_mailbox(account)
    except UserError as e:
        return PassReport(account.name, dry_run, error=str(e))
    try:
        return AccountPass(config, account, mailbox, state, classifier, dry_run).run()
    except NotnowError as e:
        return PassReport(account.name, dry_run, error=str(e))
    finally:
        mailbox.close()


def describe(report: PassReport) -> str:
    """A short human summary of a pass (what `run --once` prints)."""
    head = f"[{report.account}]"
    if report.error:
        return f"{head} error: {report.error}"
    verb = "would save" if report.dry_run else "saved"
    lines = [
        f"{head} {report.fetched} new message(s): {report.rejections} rejection(s), "
        f"{report.review} to review, {len(report.failed)} unreadable; "
        f"{verb} {len(report.drafts_saved)} draft(s)"
        + (
            f", {len(report.drafts_deferred)} deferred by the daily cap"
            if report.drafts_deferred
            else ""
        )
    ]
    for action in report.drafts_saved:
        lines.append(
            f"  draft: {action.draft.subject!r} to {action.draft.to or '(no recipient)'}"
            f"  (source {action.source_id})"
        )
    for action in report.drafts_deferred:
        lines.append(f"  deferred: {action.draft.subject!r} (source {action.source_id})")
    for where, why in report.failed:
        lines.append(f"  unreadable, skipped: {where}: {why}")
    if report.dry_run:
        lines.append("  (dry run: nothing was written)")
    return "\n".join(lines)


def check(config: Config) -> Iterator[tuple[str, bool]]:
    """Log in to every account and find its folders; yields (line, ok)."""
    for account in config.accounts:
        head = f"[{account.name}]"
        try:
            mailbox = open_mailbox(account)
        except UserError as e:
            yield f"{head} error: {e}", False
            continue
        try:
            names = {f.name for f in mailbox.list_folders()}
            where = account.maildir or f"{account.host}:{account.port} ({account.security})"
            yield f"{head} connected to {where}: {len(names)} folder(s)", True
            for folder in account.folders:
                if folder in names:
                    yield f"{head} watching {folder}", True
                else:
                    yield (
                        f"{head} error: folder {folder!r} not found (account.folders); "
                        f"existing: {', '.join(sorted(names))}",
                        False,
                    )
            yield f"{head} drafts go to {mailbox.drafts_folder()}", True
        except NotnowError as e:
            yield f"{head} error: {e}", False
        finally:
            mailbox.close()


def status(config: Config) -> str:
    state = State(state_path(config), read_only=True)
    lines = []
    try:
        for account in config.accounts:
            lines.append(f"[{account.name}]")
            for folder in account.folders:
                checkpoint = state.checkpoint(account.name, folder)
                lines.append(
                    f"  {folder}: "
                    + (
                        f"read up to {checkpoint.position} (validity {checkpoint.validity})"
                        if checkpoint
                        else "not read yet"
                    )
                )
            rows = state.recent_messages(account.name, 10)
            lines.append(f"  recent detections: {len(rows)}")
            for row in rows:
                lines.append(
                    f"    {row['seen_at']} {row['status']:9} "
                    f"{row['score'] if row['score'] is not None else '-'}  "
                    f"{row['subject'][:60]!r} from {row['sender']}"
                )
            drafts = state.recent_drafts(account.name, 10)
            fates, problem = draft_fates(account, drafts)
            lines.append(f"  recent drafts: {len(drafts)}" + (f" ({problem})" if problem else ""))
            for draft in drafts:
                lines.append(
                    f"    {draft.created_at} {fates.get(draft.source_id, draft.state):22} "
                    f"{draft.subject[:60]!r} to {draft.recipient or '(no recipient)'}"
                )
    finally:
        state.close()
    return "\n".join(lines)


def draft_fates(account: AccountConfig, drafts: list[DraftRecord]) -> tuple[dict[str, str], str]:
    """What became of each saved draft: sent (a reply in Sent), still in Drafts, or gone.

    Reads the mailbox (never writes); on failure, says why and leaves the fates empty.
    """
    saved = {d.source_id for d in drafts if d.state == "saved"}
    if not saved:
        return {}, ""
    try:
        mailbox = open_mailbox(account)
    except UserError as e:
        return {}, f"could not check the mailbox: {e}"
    try:
        in_drafts = mailbox.find_sources() & saved
        sent = mailbox.find_replies(saved)
    except NotnowError as e:
        return {}, f"could not check the mailbox: {e}"
    finally:
        mailbox.close()
    fates = {}
    for source in saved:
        if source in sent:
            fates[source] = "sent"
        elif source in in_drafts:
            fates[source] = "in Drafts"
        else:
            fates[source] = "deleted (not in Drafts)"
    return fates, ""


# -- the watcher --------------------------------------------------------------------------------


class Watcher:
    """Watches one account until ``stop`` is set: pass, wait for news, repeat."""

    def __init__(self, config: Config, account: AccountConfig, stop: threading.Event) -> None:
        self.config = config
        self.account = account
        self.stop = stop
        self.state_line = "starting"
        # Seconds to wait before the next reconnection attempt (doubles per failure).
        self.delay = 1.0

    def set_state(self, line: str) -> None:
        if line != self.state_line:
            logger.info("[%s] %s", self.account.name, line)
            self.state_line = line

    def run(self) -> None:
        classifier = functools.cache(lambda: load_classifier(self.config))
        while not self.stop.is_set():
            try:
                self.session(classifier)
            except NotnowError as e:
                self.set_state(f"error, retrying with backoff: {e}")
                # Exponential backoff with full jitter, capped.
                wait = random.uniform(0, self.delay)  # noqa: S311 - jitter, not cryptography
                self.delay = min(self.delay * 2, float(self.config.daemon.backoff_max))
                self.stop.wait(wait)

    def session(self, classifier: Callable[[], model.Classifier]) -> None:
        mailbox = open_mailbox(self.account)
        state = State(state_path(self.config))
        try:
            self.set_state("connected")
            runner = AccountPass(
                self.config, self.account, mailbox, state, classifier, should_stop=self.stop.is_set
            )
            while not self.stop.is_set():
                report = runner.run()
                # Reset only after a whole pass worked, not on login: a server that
                # accepts logins but fails every pass must not be retried at full speed.
                self.delay = 1.0
                if report.drafts_saved:
                    logger.info(
                        "[%s] saved %d draft(s)", self.account.name, len(report.drafts_saved)
                    )
                self.wait(mailbox)
        finally:
            state.close()
            mailbox.close()

    def wait(self, mailbox: Any) -> None:
        has_idle = bool(getattr(mailbox, "has_idle", False)) and self.account.idle
        if has_idle and len(self.account.folders) == 1:
            self.set_state("idle")
            # One IDLE, renewed every idle_timeout seconds (RFC 2177: under 29 minutes);
            # idle_wait looks at the stop flag every second.
            mailbox.idle_wait(
                self.account.folders[0], self.account.idle_timeout, should_stop=self.stop.is_set
            )
            return
        self.set_state("polling")
        self.stop.wait(self.config.daemon.poll_interval)


def watch(config: Config, config_path: Path | None) -> int:
    """Watch every account until SIGTERM/SIGINT; SIGHUP reloads the config."""
    from notnow import config as configuration
    from notnow.daemon import notify

    stop = threading.Event()
    reload = threading.Event()

    def on_stop(signum: int, frame: Any) -> None:
        logger.info("signal %d: stopping", signum)
        stop.set()

    def on_reload(signum: int, frame: Any) -> None:
        reload.set()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_reload)
    model.active(config.classifier.model)  # load (or build) once before the threads start
    ping = notify.watchdog_interval()
    while True:
        session = threading.Event()
        watchers = [Watcher(config, account, session) for account in config.accounts]
        threads = [
            threading.Thread(target=w.run, name=w.account.name, daemon=True) for w in watchers
        ]
        for thread in threads:
            thread.start()
        notify.notify("READY=1", f"STATUS=watching {len(watchers)} account(s)")
        status = ""
        while not stop.is_set() and not reload.is_set():
            stop.wait(min(ping or 1.0, 1.0))
            if ping is not None:
                notify.notify("WATCHDOG=1")
            line = "; ".join(f"{w.account.name}: {w.state_line}" for w in watchers)
            if line != status:
                notify.notify(f"STATUS={line}")
                status = line
        session.set()
        for thread in threads:
            thread.join(timeout=4.0)
        if stop.is_set():
            notify.notify("STOPPING=1")
            return 0
        reload.clear()
        notify.notify("RELOADING=1")
        try:
            config = configuration.load(config_path)
            logger.info("configuration reloaded from %s", config.path)
        except UserError as e:
            logger.error("configuration not reloaded, keeping the old one: %s", e)
