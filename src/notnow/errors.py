"""One error family. A user-facing error says what to change; cli.py turns it into one line.

Library errors are wrapped at the boundary (``raise AuthError(...) from e``) so that no
traceback reaches a user for a mistake they can fix.
"""

from __future__ import annotations


class NotnowError(Exception):
    """Base of every error notnow raises on purpose."""


class UserError(NotnowError):
    """Something the user can fix; ``problems`` lists every problem found at once."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = list(problems or [])

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        return head + "\n" + "\n".join(f"  - {p}" for p in self.problems)


class ConfigError(UserError):
    """The config file is missing, unreadable or invalid."""


class CredentialError(UserError):
    """No password could be obtained (keyring empty, command failed, ...)."""


class MailboxError(NotnowError):
    """A mailbox operation failed."""


class ConnectionFailedError(MailboxError, UserError):
    """The server could not be reached (DNS, refused, timeout, TLS)."""


class AuthError(MailboxError, UserError):
    """The server refused the login."""


class FolderNotFoundError(MailboxError, UserError):
    """A configured folder, or the Drafts folder, does not exist."""


class MessageError(NotnowError):
    """A message could not be parsed; it is recorded as failed and skipped."""


class ModelError(UserError):
    """A classifier model could not be loaded or trained."""
