"""Mailboxes: the Protocol (base.py) and its backends, IMAP (imap.py) and Maildir (maildir.py)."""

from __future__ import annotations

from notnow.config import AccountConfig
from notnow.mailbox.base import Mailbox


def open_mailbox(account: AccountConfig) -> Mailbox:
    """Connect to an account's mailbox; the password is fetched only for IMAP accounts."""
    if account.maildir is not None:
        from notnow.mailbox.maildir import MaildirMailbox

        return MaildirMailbox.open(account)
    from notnow import secrets
    from notnow.mailbox.imap import ImapMailbox

    return ImapMailbox.connect(account, secrets.get_password(account))
