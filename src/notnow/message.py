"""Raw message bytes -> ``Email``: parsed, decoded and normalised. Pure: no I/O.

mail-parser does the MIME walk and the lenient charset decoding (mail in the wild lies
about its charset); this module turns its output into a small frozen dataclass with the
fields the rest of notnow needs. Header values are unfolded and stripped of control
characters here, once, so nothing downstream can carry a CR/LF into a header it writes.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

import mailparser

from notnow import text as textprep
from notnow.errors import MessageError

logger = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class Address:
    name: str
    address: str

    def __str__(self) -> str:
        from email.utils import formataddr

        return formataddr((self.name, self.address)) if self.name else self.address


@dataclass(frozen=True)
class Email:
    """One message as notnow sees it. ``message_id`` always has angle brackets."""

    message_id: str
    subject: str
    sender: Address | None
    reply_to: tuple[Address, ...] = ()
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    date: datetime | None = None
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    # The whole visible text: text/plain, else text from the HTML part.
    text: str = ""
    html: str = ""
    # Lower-cased header names -> values, only those the classifier and drafts use.
    headers: dict[str, str] = field(default_factory=dict)
    defects: tuple[str, ...] = ()
    # False when the message had no usable Message-ID and one was derived from its bytes.
    has_message_id: bool = True

    # cached_property writes to the instance __dict__, which a frozen dataclass allows:
    # the daemon, the classifier and the drafts each ask for these.
    @functools.cached_property
    def new_text(self) -> str:
        """The part of the body written for this message (no quoted history, no footer)."""
        return textprep.trim_footer(textprep.new_part(self.text))

    @functools.cached_property
    def lang(self) -> str:
        return textprep.detect_language(self.subject + "\n" + self.new_text)


# Headers kept on Email.headers: automation markers and list markers.
_KEPT_HEADERS = (
    "auto-submitted",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "x-autoreply",
    "x-autorespond",
    "x-mailer",
    "x-notnow-source",
    "return-path",
    "content-language",
)


def parse(raw: bytes) -> Email:
    """Parse one message. Raises MessageError when nothing usable can be read."""
    if not raw or not raw.strip():
        raise MessageError("empty message")
    try:
        parsed = mailparser.parse_from_bytes(raw)
    except Exception as e:  # noqa: BLE001 - mail-parser raises anything on hostile input
        raise MessageError(f"cannot parse message: {type(e).__name__}: {e}") from e
    headers = _headers(parsed)
    if not any(k in headers for k in ("from", "subject", "message-id", "date", "to")):
        raise MessageError("no From, To, Subject, Date or Message-ID header: not an email message")

    message_id = _first_id(headers.get("message-id", ""))
    has_id = bool(message_id)
    if not has_id:
        message_id = f"<{hashlib.sha256(raw).hexdigest()[:32]}@notnow.invalid>"

    plain = "\n".join(_as_text(p) for p in parsed.text_plain)
    html = "\n".join(_as_text(p) for p in parsed.text_html)
    body = plain if plain.strip() else textprep.html_to_text(html)

    senders = _addresses(headers.get("from", ""))
    return Email(
        message_id=message_id,
        subject=clean_header(headers.get("subject", "")),
        sender=senders[0] if senders else None,
        reply_to=_addresses(headers.get("reply-to", "")),
        to=_addresses(headers.get("to", "")),
        cc=_addresses(headers.get("cc", "")),
        date=_date(headers.get("date", "")),
        in_reply_to=_first_id(headers.get("in-reply-to", "")),
        references=tuple(_MESSAGE_ID.findall(headers.get("references", ""))),
        text=body.replace("\r\n", "\n").replace("\x00", ""),
        html=html,
        headers={k: clean_header(headers[k]) for k in _KEPT_HEADERS if k in headers},
        defects=tuple(str(d) for d in (parsed.defects_categories or [])),
        has_message_id=has_id,
    )


def clean_header(value: str) -> str:
    """Decode RFC 2047 words, unfold, and remove every control character."""
    if "=?" in value:
        with contextlib.suppress(UnicodeError, LookupError, ValueError):
            value = str(make_header(decode_header(value)))
    return _CONTROL.sub(" ", value).strip()


def _headers(parsed: Any) -> dict[str, str]:
    result: dict[str, str] = {}
    message = parsed.message
    for name, value in message.items():
        key = name.lower()
        if key not in result:
            result[key] = str(value)
    return result


def _as_text(part: Any) -> str:
    return part if isinstance(part, str) else str(part)


def _first_id(value: str) -> str:
    match = _MESSAGE_ID.search(value)
    if match:
        return match.group(0)
    bare = _CONTROL.sub("", value).strip()
    # Some mailers omit the angle brackets; accept a lone token with an "@".
    if bare and " " not in bare and "@" in bare and "<" not in bare and ">" not in bare:
        return f"<{bare}>"
    return ""


def _addresses(value: str) -> tuple[Address, ...]:
    if not value:
        return ()
    result = []
    # Split the raw value first, then decode each name: decoding first would let an
    # encoded display name smuggle in extra addresses.
    for name, address in getaddresses([_CONTROL.sub(" ", value)]):
        address = _CONTROL.sub("", address).strip()
        if "@" not in address:
            continue
        result.append(Address(clean_header(name), address))
    return tuple(result)


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        date = parsedate_to_datetime(clean_header(value))
    except (TypeError, ValueError, IndexError):
        return None
    if date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    return date
