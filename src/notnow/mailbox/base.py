"""The Mailbox protocol every backend (IMAP, Maildir) implements, and its small types.

A Mailbox reads new messages since a checkpoint without changing them (no ``\\Seen``,
no move, no delete), finds the Drafts folder, and appends drafts. It holds no notnow
state of its own: checkpoints are handed in and out, the daemon stores them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


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
