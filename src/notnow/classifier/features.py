"""What the classifier reads of a message: one prepared text per message. Pure.

The subject and the part of the body written for this message (quoted history,
forwarded blocks and footers removed) — so a rejection quoted under a friend's note, or
an old thread under a new interview invitation, is judged by the new words.
"""

from __future__ import annotations

from notnow.message import Email


def document(email: Email) -> str:
    """``Email.document``: worked out once per message, by a parse worker in a backlog."""
    return email.document
