"""Running notnow: one pass (``run --once``), the watcher (``run``), ``check`` and ``status``.

The watcher gives every account its own thread: a failing account backs off and retries
without stopping the others. Each account holds one IMAP IDLE per watched folder where
the server offers it, else polls every ``poll_interval`` seconds. Every thread sleeps in
select() (on its sockets and a wake-up pipe) or on an Event, never in a timed loop, so an
idle daemon wakes only when a server or a signal speaks. SIGTERM/SIGINT stop it within
5 s; SIGHUP reloads the config. What each watcher is doing goes to ``notify.Board``
(log, systemd, state file), which ``status`` reads back.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from notnow.classifier import model
from notnow.config import AccountConfig, Config
from notnow.daemon import notify
from notnow.daemon.notify import Board
from notnow.daemon.run import AccountPass, PassReport
from notnow.daemon.state import DaemonRecord, DraftRecord, State, WatcherRecord
from notnow.errors import NotnowError, UserError
from notnow.mailbox import open_mailbox
from notnow.mailbox.base import IdleMailbox, readable

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
    for note in report.drafts_saved:
        lines.append(
            f"  draft: {note.subject!r} to {note.to or '(no recipient)'}  (source {note.source_id})"
        )
    for note in report.drafts_deferred:
        lines.append(f"  deferred: {note.subject!r} (source {note.source_id})")
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
    """What ``notnow status`` prints: whether the daemon runs, then per account what its
    watcher is doing, where each folder was read up to, recent detections and drafts."""
    state = State(state_path(config), read_only=True)
    lines = []
    try:
        daemon = state.daemon()
        watchers = state.watchers()
        running = daemon is not None and notify.is_running(daemon)
        lines.append(_daemon_line(daemon, running, list(watchers.values())))
        for account in config.accounts:
            lines.append(f"[{account.name}]")
            lines.append(_watcher_line(watchers.get(account.name), running))
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


def _daemon_line(daemon: DaemonRecord | None, running: bool, watchers: list[WatcherRecord]) -> str:
    if daemon is None:
        return "daemon: never run (`notnow run` starts it)"
    if running:
        return f"daemon: running (pid {daemon.pid}, started {_when(daemon.started_at)})"
    moments = [daemon.started_at, daemon.stopped_at or ""]
    moments += [w.updated_at for w in watchers] + [w.last_contact or "" for w in watchers]
    return f"daemon: not running, last seen {_when(max(moments))}"


def _watcher_line(record: WatcherRecord | None, running: bool) -> str:
    if record is None:
        return "  watcher: no state recorded yet"
    now = notify.describe(
        record.state, record.detail, _when(record.until) if record.until else None
    )
    contact = (
        f"last contact {_when(record.last_contact)}" if record.last_contact else "no contact yet"
    )
    if running:
        return f"  watcher: {now} since {_when(record.since)}; {contact}"
    if record.state == "stopped":
        return f"  watcher: stopped {_when(record.since)}; {contact}"
    # Killed (or crashed) without saying so: what it was doing is history, not news.
    return f"  watcher: not running (last state: {now} since {_when(record.since)}); {contact}"


def _when(stamp: str) -> str:
    """A recorded moment in local time, and how far from now: "2026-11-22 10:03:07 (12 s
    ago)", or "(in 40 s)" for a moment to come (the end of a backoff)."""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    seconds = int((datetime.now(UTC) - moment).total_seconds())
    relative = f"{_span(seconds)} ago" if seconds >= 0 else f"in {_span(-seconds)}"
    return f"{moment.astimezone().strftime('%Y-%m-%d %H:%M:%S')} ({relative})"


def _span(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


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


class Wakeup:
    """A stop flag that threads wait on and that select() watches: an Event beside a pipe.

    Set from the main thread (never from a signal handler: an Event's lock is not
    re-entrant). Once set it stays set; the pipe is never drained.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def set(self) -> None:
        if not self._event.is_set():
            self._event.set()
            with suppress(BlockingIOError):
                os.write(self._write, b"!")

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)

    def fileno(self) -> int:
        return self._read

    def close(self) -> None:
        os.close(self._read)
        os.close(self._write)


class Watcher:
    """Watches one account until ``stop`` is set: pass, wait for news, repeat.

    Waiting: one IDLE per watched folder where the server offers IDLE (the first folder on
    the connection that runs the passes, each other one on an IDLE-only connection of its
    own), all slept on in one select() with the stop pipe, until the earliest IDLE renewal.
    Folders without IDLE are polled every ``poll_interval``. Any failure ends the session:
    every connection is closed and the account reconnects with backoff.
    """

    def __init__(self, config: Config, account: AccountConfig, stop: Wakeup, board: Board) -> None:
        self.config = config
        self.account = account
        self.stop = stop
        self.board = board
        # Seconds to wait before the next reconnection attempt (doubles per failure).
        self.delay = 1.0

    def run(self) -> None:
        classifier = functools.cache(lambda: load_classifier(self.config))
        name = self.account.name
        try:
            while not self.stop.is_set():
                try:
                    self.session(classifier)
                except NotnowError as e:
                    # Exponential backoff with full jitter, capped.
                    wait = random.uniform(0, self.delay)  # noqa: S311 - jitter, not cryptography
                    self.delay = min(self.delay * 2, float(self.config.daemon.backoff_max))
                    self.board.set(
                        name,
                        "backing off",
                        str(e),
                        until=datetime.now(UTC) + timedelta(seconds=wait),
                        log=f"error, retrying with backoff: {e}",
                        level=logging.WARNING,
                    )
                    self.stop.wait(wait)
        finally:
            self.board.set(name, "stopped")

    def session(self, classifier: Callable[[], model.Classifier]) -> None:
        name = self.account.name
        self.board.set(name, "connecting")
        mailbox = open_mailbox(self.account)
        extras: list[IdleMailbox] = []
        state: State | None = None
        try:
            self.board.set(name, "syncing", log="connected", contact=True)
            watched: dict[str, IdleMailbox] = {}
            polled = list(self.account.folders)
            if self.account.idle and isinstance(mailbox, IdleMailbox) and mailbox.idle_supported():
                watched[polled.pop(0)] = mailbox
                # Opened (and their folders looked at) before the first pass, so nothing
                # that arrives during it goes unnoticed.
                for folder in list(polled):
                    extra = self.open_idle_connection(folder)
                    if extra is not None:
                        extras.append(extra)
                        watched[folder] = extra
                        polled.remove(folder)
            state = State(state_path(self.config))
            runner = AccountPass(
                self.config, self.account, mailbox, state, classifier, should_stop=self.stop.is_set
            )
            first = True
            while not self.stop.is_set():
                if not first:
                    self.board.set(name, "syncing", contact=True)
                first = False
                report = runner.run()
                # Reset only after a whole pass worked, not on login: a server that
                # accepts logins but fails every pass must not be retried at full speed.
                self.delay = 1.0
                self.board.contact(name)
                if report.drafts_saved:
                    logger.info("[%s] saved %d draft(s)", name, len(report.drafts_saved))
                self.wait(watched, polled)
        finally:
            if state is not None:
                state.close()
            for extra in extras:
                extra.close()
            mailbox.close()

    def open_idle_connection(self, folder: str) -> IdleMailbox | None:
        """An IDLE-only connection for ``folder``, or None (then it is polled): a server
        may cap the connections per account."""
        try:
            mailbox = open_mailbox(self.account)
        except NotnowError as e:
            logger.warning(
                "[%s] no second connection for folder %s (%s); polling it every %d s",
                self.account.name,
                folder,
                e,
                self.config.daemon.poll_interval,
            )
            return None
        if not isinstance(mailbox, IdleMailbox):
            mailbox.close()
            return None
        try:
            mailbox.idle_mark(folder)
        except NotnowError:
            mailbox.close()
            raise
        return mailbox

    def wait(self, watched: dict[str, IdleMailbox], polled: list[str]) -> None:
        """Sleep until a watched folder has news, a polled one is due, an IDLE needs
        renewing (RFC 2177: under 29 minutes; idle_timeout), or ``stop`` is set."""
        name = self.account.name
        poll = self.config.daemon.poll_interval
        if not watched:
            self.board.set(
                name, "polling", f"every {poll} s", log=f"polling every {poll} s", contact=True
            )
            self.stop.wait(poll)
            return
        timeout = float(self.account.idle_timeout)
        detail = "IDLE on " + ", ".join(watched)
        if polled:
            timeout = min(timeout, float(poll))
            detail += f"; polling {', '.join(polled)} every {poll} s"
        started: list[IdleMailbox] = []
        try:
            for folder, mailbox in watched.items():
                if mailbox.idle_start(folder):
                    return  # mail came while the pass ran: another pass
                started.append(mailbox)
            self.board.set(name, "idle", detail, log=f"idle ({detail})", contact=True)
            deadline = time.monotonic() + timeout
            by_fd = {mailbox.fileno(): mailbox for mailbox in started}
            ready = {fd for fd, mailbox in by_fd.items() if mailbox.idle_buffered()}
            while not self.stop.is_set():
                if not ready:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return
                    ready = readable([*by_fd, self.stop.fileno()], remaining)
                    ready.discard(self.stop.fileno())
                news = False
                for fd in ready:
                    news = by_fd[fd].idle_read() or news
                if ready:
                    self.board.contact(name)
                if news:
                    return
                ready = set()
        finally:
            # DONE on every IDLE before anything else is sent (a dead connection raises
            # here, and the session reconnects).
            for mailbox in started:
                mailbox.idle_end()


def watch(config: Config, config_path: Path | None) -> int:
    """Watch every account until SIGTERM/SIGINT; SIGHUP reloads the config.

    The main thread sleeps in select() on a pipe the signal handlers write to, waking
    only for a signal or a systemd watchdog ping: an idle daemon costs (almost) nothing.
    """
    signals_read, signals_write = os.pipe()
    os.set_blocking(signals_read, False)
    os.set_blocking(signals_write, False)

    def on_signal(signum: int, frame: Any) -> None:
        # Only a write: logging or setting an Event here could deadlock on their locks.
        with suppress(BlockingIOError):
            os.write(signals_write, bytes([signum]))

    previous = {
        signum: signal.signal(signum, on_signal)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    }
    board = Board(state_path(config))
    board.started()
    crew: Crew | None = None
    try:
        # Load (or, on a first start, build) the model once before the threads start.
        notify.notify("STATUS=loading the classifier")
        model.active(config.classifier.model)
        crew = Crew(config, board)
        notify.notify("READY=1", f"STATUS=watching {len(config.accounts)} account(s)")
        ping = notify.watchdog_interval()
        next_ping = time.monotonic()
        while True:
            if ping is not None and time.monotonic() >= next_ping:
                notify.notify("WATCHDOG=1")
                next_ping = time.monotonic() + ping
            timeout = None if ping is None else max(0.0, next_ping - time.monotonic())
            if not readable([signals_read], timeout):
                continue
            received = set(os.read(signals_read, 64))
            if received & {signal.SIGTERM, signal.SIGINT}:
                logger.info("signal %d: stopping", min(received & {signal.SIGTERM, signal.SIGINT}))
                break
            if signal.SIGHUP not in received:
                continue
            reloaded = _reload(config_path)
            if reloaded is None:
                continue
            notify.notify("RELOADING=1")
            # The old watchers must be gone before new ones start (two on one account could
            # both append a draft): a pass ends after its current batch. Meanwhile SIGTERM
            # still stops the daemon, and the watchdog is still fed.
            again = False
            while not crew.stop(timeout=1.0):
                if ping is not None:
                    notify.notify("WATCHDOG=1")
                pending = set(os.read(signals_read, 64)) if readable([signals_read], 0) else set()
                if pending & {signal.SIGTERM, signal.SIGINT}:
                    break
                again = again or signal.SIGHUP in pending
            if not crew.stopped:
                logger.info("signal received while reloading: stopping")
                break
            config = reloaded
            if state_path(config) != board.path:
                board.stopped()
                board.close()
                board = Board(state_path(config))
                board.started()
            crew = Crew(config, board)
            notify.notify("READY=1", f"STATUS=watching {len(config.accounts)} account(s)")
            if again:  # the config may have changed again meanwhile: read it once more
                with suppress(BlockingIOError):
                    os.write(signals_write, bytes([signal.SIGHUP]))
        notify.notify("STOPPING=1")
        crew.stop()
        return 0
    finally:
        if crew is not None:
            crew.stop()
        board.stopped()
        board.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        os.close(signals_read)
        os.close(signals_write)


def _reload(config_path: Path | None) -> Config | None:
    """The config read again (with its model loaded), or None, logged, when it is broken."""
    from notnow import config as configuration

    try:
        reloaded = configuration.load(config_path)
        if reloaded.classifier.model is not None:
            # A model of the user's own loads in a moment: refuse a broken one now. The
            # bundled one (maybe rebuilt, minutes) is left to the watchers' threads.
            model.active(reloaded.classifier.model)
    except UserError as e:
        logger.error("configuration not reloaded, going on with the previous one: %s", e)
        return None
    logger.info("configuration reloaded from %s", reloaded.path)
    return reloaded


class Crew:
    """One watcher thread per account, started together and stopped together."""

    def __init__(self, config: Config, board: Board) -> None:
        self.wakeup = Wakeup()
        self.watchers = [
            Watcher(config, account, self.wakeup, board) for account in config.accounts
        ]
        self.threads = [
            threading.Thread(target=w.run, name=w.account.name, daemon=True) for w in self.watchers
        ]
        for thread in self.threads:
            thread.start()
        self.stopped = False

    def stop(self, timeout: float = 4.0) -> bool:
        """Ask every watcher to stop and wait up to ``timeout`` seconds in all (4 s: SIGTERM
        ends the process within 5 s, abandoning a thread stuck in a network call).
        True once every thread has ended."""
        if self.stopped:
            return True
        self.wakeup.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self.threads):
            return False  # (a straggler may still select on the wake-up pipe: keep it open)
        self.stopped = True
        self.wakeup.close()
        return True
