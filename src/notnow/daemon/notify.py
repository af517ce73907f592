"""How the daemon tells what it is doing, and how ``notnow status`` tells if it still runs.

- systemd's notification protocol (sd_notify), written out: READY, STATUS, WATCHDOG. A
  no-op when not started by systemd (no ``$NOTIFY_SOCKET``). Sixteen lines of socket code
  do not justify a dependency.
- ``Board``: each account's watcher state (connecting, syncing, idle, polling, backing
  off, stopped), sent to the log, to systemd's STATUS= and to the state file.
- ``is_running``: the pid the daemon recorded, checked against the live processes.

It decides nothing about watching mail: the loop reports here.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from notnow.daemon.state import DaemonRecord, State, timestamp

logger = logging.getLogger(__name__)


def notify(*fields: str) -> bool:
    """Send ``fields`` (e.g. "READY=1", "STATUS=idle") to systemd; False when not under it."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(fields).encode())
    except OSError as e:
        logger.debug("sd_notify failed: %s", e)
        return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between watchdog pings (half of WatchdogSec), or None when not asked."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2_000_000
    except ValueError:
        return None


# -- the notice board: what each watcher is doing ----------------------------------------------

# The last contact with a server is written at most this often (seconds): an idle daemon
# hears from its server every few minutes and must not write the state file each time.
CONTACT_WRITE_INTERVAL = 60.0


def describe(state: str, detail: str, until: str | None) -> str:
    """One account's watcher state as a person reads it (systemd STATUS=, `notnow status`)."""
    if state == "backing off":
        when = f" until {until}" if until else ""
        return f"backing off{when} (after error: {detail})"
    return f"{state} ({detail})" if detail else state


class Board:
    """Where the watchers report their state: the log (one line per change that matters,
    not one per retry), systemd's STATUS= and the state file read by ``notnow status``.

    Thread-safe: every watcher thread reports here; one lock serialises the writes on one
    shared SQLite connection. A failing write is logged once and never stops a watcher.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._state = State(path, shared=True)
        self._lock = threading.Lock()
        self._current: dict[str, tuple[str, str, str | None]] = {}
        self._logged: dict[str, str] = {}
        self._contact_written: dict[str, float] = {}
        self._status_line = ""
        self._write_failed = False

    # -- the process --------------------------------------------------------------------------

    def started(self) -> None:
        pid = os.getpid()
        self._write(lambda: self._state.set_daemon_started(pid, process_start(pid)))

    def stopped(self) -> None:
        pid = os.getpid()
        self._write(lambda: self._state.set_daemon_stopped(pid))

    def close(self) -> None:
        with self._lock:
            self._state.close()

    # -- the watchers -------------------------------------------------------------------------

    def set(
        self,
        account: str,
        state: str,
        detail: str = "",
        *,
        until: datetime | None = None,
        log: str | None = None,
        level: int = logging.INFO,
        contact: bool = False,
    ) -> None:
        """``account``'s watcher is now in ``state``. ``log``: the line to log (at
        ``level``) unless it is the one logged last for this account; ``contact``: the
        server just answered."""
        now = datetime.now(UTC)
        until_text = timestamp(until) if until is not None else None
        with self._lock:
            if log is not None and self._logged.get(account) != log:
                logger.log(level, "[%s] %s", account, log)
                self._logged[account] = log
            changed = self._current.get(account) != (state, detail, until_text)
            if changed:
                logger.debug("[%s] state: %s", account, describe(state, detail, until_text))
                self._current[account] = (state, detail, until_text)
                self._tell_systemd()
            if not changed and not (contact and self._contact_due(account)):
                return
            if contact:
                self._contact_written[account] = time.monotonic()
            self._write_locked(
                lambda: (
                    self._state.set_watcher(
                        account,
                        state,
                        detail,
                        since=timestamp(now),
                        until=until_text,
                        last_contact=timestamp(now) if contact else None,
                    )
                    if changed
                    else self._state.set_last_contact(account, timestamp(now))
                )
            )

    def contact(self, account: str) -> None:
        """The server of ``account`` just said something: note it (at most once a minute)."""
        with self._lock:
            if not self._contact_due(account):
                return
            self._contact_written[account] = time.monotonic()
            when = timestamp(datetime.now(UTC))
            self._write_locked(lambda: self._state.set_last_contact(account, when))

    def _contact_due(self, account: str) -> bool:
        written = self._contact_written.get(account)
        return written is None or time.monotonic() - written >= CONTACT_WRITE_INTERVAL

    def _tell_systemd(self) -> None:
        line = "; ".join(
            f"{account}: {describe(*current)}" for account, current in self._current.items()
        )
        if line != self._status_line:
            notify(f"STATUS={line}")
            self._status_line = line

    def _write(self, change: Callable[[], None]) -> None:
        with self._lock:
            self._write_locked(change)

    def _write_locked(self, change: Callable[[], None]) -> None:
        try:
            change()
        except sqlite3.Error as e:
            if not self._write_failed:
                logger.warning(
                    "cannot record the watcher's state in %s (%s); `notnow status` will not "
                    "show it",
                    self.path,
                    e,
                )
                self._write_failed = True


# -- is the daemon running? --------------------------------------------------------------------


def process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None where
    there is no /proc: with the pid it names one process, even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count after its end.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def is_running(record: DaemonRecord) -> bool:
    """Whether the daemon this record describes still runs."""
    if record.stopped_at is not None:
        return False
    try:
        os.kill(record.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, under another user
    if record.process_start is None:
        return True
    started = process_start(record.pid)
    return started is None or started == record.process_start
