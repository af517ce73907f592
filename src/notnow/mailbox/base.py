"""The Mailbox protocol every backend (IMAP, Maildir) implements, and its small types.

A Mailbox reads new messages since a checkpoint without changing them (no ``\\Seen``,
no move, no delete), finds the Drafts folder, and appends drafts. It holds no notnow
state of its own: checkpoints are handed in and out, the daemon stores them.

``IdleMailbox`` is the optional half: a backend whose server can announce new mail (IMAP
IDLE) offers a socket the daemon waits on with select/poll, together with other
connections and its own wake-up pipe; a backend without it is polled.
"""

from __future__ import annotations

import selectors
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, order=True)
class Checkpoint:
    """Where a folder was read up to.

    IMAP: ``validity`` is UIDVALIDITY and ``position`` the last UID processed.
    Maildir: ``validity`` is 0 and ``position`` the newest delivery time (ns) processed;
    messages delivered in the same nanosecond are re-read and de-duplicated by key.
    """

    validity: int
    position: int


@dataclass(frozen=True)
class Fetched:
    """A message as read from a folder: enough bytes to classify and draft a reply.

    ``raw`` holds the headers and the text parts; large attachments may be left out.
    ``key`` identifies the message within ``folder`` (IMAP: "UIDVALIDITY:UID";
    Maildir: the file's unique name) and ``position`` orders it for the checkpoint.
    """

    folder: str
    key: str
    position: int
    raw: bytes
    internal_date: datetime | None = None
    flags: tuple[str, ...] = ()
    # The folder's validity when read (IMAP UIDVALIDITY; 0 for Maildir), for the checkpoint.
    validity: int = 0


@dataclass(frozen=True)
class FolderInfo:
    name: str
    flags: tuple[str, ...] = ()


class Mailbox(Protocol):
    """One account's store of mail. Every method may raise ``notnow.errors.MailboxError``."""

    def list_folders(self) -> list[FolderInfo]:
        """Every folder, with its flags (``\\Drafts`` etc. where the server says so)."""
        ...

    def drafts_folder(self) -> str:
        """The folder drafts go to: the configured one, ``\\Drafts``, else a known name."""
        ...

    def checkpoint(self, folder: str) -> Checkpoint:
        """The folder's current validity and its newest position (nothing read)."""
        ...

    def fetch_new(
        self,
        folder: str,
        after: Checkpoint | None,
        since: datetime | None = None,
        batch_size: int = 200,
    ) -> Iterator[list[Fetched]]:
        """Messages newer than ``after``, oldest first, in batches, read without ``\\Seen``.

        With ``after`` None, or with a validity that no longer matches, every message
        that arrived on or after ``since`` (every message if ``since`` is None).
        """
        ...

    def append_draft(self, raw: bytes, folder: str | None = None) -> None:
        """Store ``raw`` in the Drafts folder (or ``folder``) flagged as a draft."""
        ...

    def find_sources(self, folder: str | None = None) -> set[str]:
        """The ``X-Notnow-Source`` values of the drafts in Drafts (or ``folder``)."""
        ...

    def find_replies(self, message_ids: set[str]) -> set[str]:
        """Which of ``message_ids`` a message in the Sent folder answers (its In-Reply-To);
        empty where no Sent folder is found. For ``notnow status``: was a draft sent?"""
        ...

    def add_keyword(self, folder: str, key: str, keyword: str) -> bool:
        """Tag one message with a keyword; False where the folder does not allow it."""
        ...

    def close(self) -> None:
        """Log out / release resources. Safe to call twice."""
        ...


@runtime_checkable
class IdleMailbox(Mailbox, Protocol):
    """A Mailbox whose server announces new mail (IMAP IDLE), waited on by file descriptor.

    One connection watches one folder at a time. The daemon's cycle: ``idle_start``, then
    wait until ``fileno()`` is readable (or ``idle_buffered()``), ``idle_read``, and
    ``idle_end`` before any other command. Methods only (no properties), so that
    ``isinstance`` checks never talk to the server.
    """

    def idle_supported(self) -> bool:
        """Whether the server offers IDLE (asked once per connection)."""
        ...

    def idle_mark(self, folder: str) -> None:
        """Note where ``folder`` stands now, so ``idle_start`` reports what arrives later."""
        ...

    def idle_start(self, folder: str) -> bool:
        """Enter IDLE on ``folder``; True instead (and no IDLE) when mail arrived since this
        connection last read or marked the folder."""
        ...

    def fileno(self) -> int:
        """The socket to wait on while in IDLE."""
        ...

    def idle_buffered(self) -> bool:
        """Whether server output is already read off the socket but not parsed (then the
        socket may never become readable for it: call ``idle_read`` without waiting)."""
        ...

    def idle_read(self) -> bool:
        """Parse what the server said in IDLE; True when new mail was announced (or when it
        cannot tell: the caller should end IDLE and look). Never blocks."""
        ...

    def idle_end(self) -> bool:
        """Leave IDLE (a no-op when not in it); True when its last words announced mail."""
        ...


# Folder names known to be Drafts when no \Drafts special-use flag is offered.
KNOWN_DRAFTS_NAMES = (
    "Drafts",
    "INBOX.Drafts",
    "INBOX/Drafts",
    "[Gmail]/Drafts",
    "[Google Mail]/Drafts",
    "Draft",
    "Entwürfe",
    "INBOX.Entwürfe",
    "Brouillons",
    "Borradores",
    "Concepten",
    "Rascunhos",
    "Bozze",
)

# Folder names known to be the Sent folder when no \Sent special-use flag is offered.
KNOWN_SENT_NAMES = (
    "Sent",
    "INBOX.Sent",
    "INBOX/Sent",
    "Sent Items",
    "Sent Messages",
    "Sent Mail",
    "[Gmail]/Sent Mail",
    "[Google Mail]/Sent Mail",
    "Gesendet",
    "Gesendete Elemente",
    "Gesendete Objekte",
    "Envoyés",
    "Éléments envoyés",
    "Enviados",
    "Verzonden",
    "Verzonden items",
)


def readable(fds: Sequence[int], timeout: float | None) -> set[int]:
    """Which of ``fds`` become readable within ``timeout`` seconds (None: no limit),
    sleeping meanwhile: how an IdleMailbox's socket and a wake-up pipe are waited on."""
    with selectors.DefaultSelector() as selector:
        for fd in fds:
            selector.register(fd, selectors.EVENT_READ)
        return {int(key.fd) for key, _events in selector.select(timeout)}
