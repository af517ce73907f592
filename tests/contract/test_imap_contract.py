"""The Mailbox contract (tests/mailbox_contract.py) run against ImapMailbox on a real Dovecot."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

import pytest
from dovecot import Dovecot
from mailbox_contract import MailboxTests, header_of

from notnow.mailbox.imap import ImapMailbox

pytestmark = pytest.mark.dovecot


class ImapStore:
    """A fresh Dovecot user with INBOX, Drafts (\\Drafts) and the contract's extra folders."""

    def __init__(self, server: Dovecot, folders: Iterable[str]) -> None:
        self.server = server
        self.user = server.add_user()
        for folder in folders:
            server.create_folder(self.user, folder)
        self._mailbox: ImapMailbox | None = None

    @property
    def mailbox(self) -> ImapMailbox:
        if self._mailbox is None:
            account = self.server.account_config(self.user)
            self._mailbox = ImapMailbox.connect(account, self.server.password(self.user))
        return self._mailbox

    def deliver(
        self,
        folder: str,
        raw: bytes,
        date: datetime | None = None,
        flags: Iterable[str] = (),
    ) -> None:
        self.server.deliver(self.user, folder, raw, flags=flags, date=date)

    def flags(self, folder: str) -> dict[str, set[str]]:
        result = {}
        for _uid, raw, flags in self.server.messages(self.user, folder):
            result[header_of(raw, "Message-ID") or ""] = set(flags)
        return result

    def raw(self, folder: str) -> list[bytes]:
        return [raw for _uid, raw, _flags in self.server.messages(self.user, folder)]

    def close(self) -> None:
        if self._mailbox is not None:
            self._mailbox.close()


class TestImapMailbox(MailboxTests):
    @pytest.fixture
    def store(self, dovecot: Dovecot) -> Iterator[ImapStore]:
        store = ImapStore(dovecot, self.EXTRA_FOLDERS)
        yield store
        store.close()
