"""Compose the draft reply to a rejection: recipient, headers, threading, body and quote.

Owns the shape of "a draft notnow saves" (DESIGN.md): From = identity; To = Reply-To,
else From, unless that is a no-reply/ATS address, then a human address found in the
message, else no To and a note at the top of the body; ``Subject: Re: ...`` with exactly
one reply prefix; In-Reply-To/References threading; its own Message-ID and Date;
``X-Notnow-Source`` naming the original. Pure: no I/O and no clock unless ``now`` is
omitted. It does not decide *whether* to draft (daemon.plan) nor where to save it
(mailbox).

Every value that goes into a header is sanitised here, even though ``notnow.message``
already strips control characters: a header built by this module can never be split
into two, whatever the input.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.headerregistry import Address as HeaderAddress
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP, compat32
from email.utils import format_datetime, getaddresses, make_msgid

from notnow.config import AccountConfig, DraftsConfig
from notnow.drafts.details import extract_details, human_address, is_no_reply
from notnow.drafts.render import ReplyContext, render_reply
from notnow.errors import MessageError, UserError
from notnow.message import Address, Email

logger = logging.getLogger(__name__)

# Everything that could end a header line or confuse a parser: C0/C1 controls, DEL and
# the Unicode line and paragraph separators (str.splitlines() breaks on all of them).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s+")
# An RFC 2047 encoded word as leniently as the email package's header parser reads one.
_ENCODED_WORD = re.compile(r"=\?[^?]*\?[bBqQ]\?.*?\?=", re.DOTALL)
_REPLY_PREFIX = re.compile(
    r"^(?:(?:re|aw|sv|antw|antwort|r|res|rif|vs|odp|ynt|atb)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE,
)
# RFC 5322 specials (and "=" that could start an encoded word) dropped from display names.
_NAME_SPECIALS = re.compile(r'[()<>\[\]:;@\\,"=?]+')
# A Message-ID as RFC 5322 allows it on the wire: printable ASCII, no spaces or brackets.
_MESSAGE_ID = re.compile(r"^<[!-;=?-~]+@[!-;=?-~]+>$")
# A plain addr-spec; the top-level domain is letters (or an IDN "xn--" label), which also
# rejects the junk a decoded-then-parsed display name can leave ("x@example.comX-Evil").
_ADDR_SPEC = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+"
    r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]+)$"
)
MAX_REFERENCES = 21
MAX_QUOTED_LINES = 400
SOURCE_HEADER = "X-Notnow-Source"

_ATTRIBUTION = {
    "en": "On {date}, {who} wrote:",
    "de": "Am {date} schrieb {who}:",
    "fr": "Le {date}, {who} a écrit :",
    "es": "El {date}, {who} escribió:",
    "nl": "Op {date} schreef {who}:",
    "pt": "Em {date}, {who} escreveu:",
}
_DATE_FORMAT = {
    "de": "%d.%m.%Y um %H:%M",
    "fr": "%d/%m/%Y à %H:%M",
    "es": "%d/%m/%Y a las %H:%M",
    "nl": "%d-%m-%Y om %H:%M",
    "pt": "%d/%m/%Y às %H:%M",
}
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

NO_RECIPIENT_NOTE = (
    "[notnow] No reply address: this rejection came from {address}, which does not read "
    "replies, and no recruiter's address was found in it. Add the recipient before sending, "
    "and delete this note."
)


@dataclass(frozen=True)
class Draft:
    """A composed draft. ``raw`` is the whole RFC 5322 message (CRLF line ends)."""

    raw: bytes
    to: str
    subject: str
    body: str
    message_id: str
    source_id: str
    note: str | None = None


def compose_draft(
    email: Email, account: AccountConfig, drafts: DraftsConfig, now: datetime | None = None
) -> Draft:
    """The draft reply to ``email`` from ``account``'s identity.

    Raises ``UserError`` when the identity has no usable address or the template fails,
    and ``MessageError`` if the message read back does not have exactly the headers set
    (a last line of defence against header injection; it never fires on sane input).
    """
    identity = _identity(account)
    recipient, note = choose_recipient(email, own=identity.addr_spec)
    details = extract_details(email)
    language = email.lang
    context = ReplyContext(
        sender_name=identity.display_name or None,
        contact_name=details.contact_name,
        company=details.company,
        role=details.role,
        signature=_signature(drafts.signature),
        subject=sanitize_header(email.subject),
        language=language,
    )
    reply = render_reply(context, drafts.template)
    body = _body(note, reply, _quote(email, language))

    subject = reply_subject(email.subject)
    message_id = make_msgid(domain=identity.domain or None)
    date = now if now is not None else datetime.now(tz=UTC)
    if date.tzinfo is None:
        date = date.replace(tzinfo=UTC)

    message = EmailMessage(policy=_POLICY)
    message["From"] = identity
    if recipient is not None:
        message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    original_id = safe_message_id(email.message_id)
    if email.has_message_id and original_id:
        message["In-Reply-To"] = original_id
        message["References"] = " ".join(references(email))
    message[SOURCE_HEADER] = original_id or _SPACES.sub("", sanitize_header(email.message_id))
    message.set_content(body, subtype="plain", charset="utf-8", cte=_transfer_encoding(body))

    raw = message.as_bytes(policy=_POLICY)
    _check_headers(raw, [name.lower() for name in message])
    to = str(recipient) if recipient is not None else ""
    logger.debug("composed draft %s for %s (to set: %s)", message_id, email.message_id, bool(to))
    return Draft(
        raw=raw,
        to=to,
        subject=subject,
        body=body,
        message_id=message_id,
        source_id=email.message_id,
        note=note,
    )


class _Registry(HeaderRegistry):
    """The stdlib's header registry, with each header's class made once: the stdlib's
    makes a new class for every header set, a quarter of composing a draft."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        made = self._classes.get(key)
        if made is None:
            made = self._classes[key] = super().__getitem__(name)
        return made


_POLICY = SMTP.clone(header_factory=_Registry())


# -- recipient ----------------------------------------------------------------------------


def choose_recipient(email: Email, own: str = "") -> tuple[HeaderAddress | None, str | None]:
    """The draft's To and, when there is none, the note for the user.

    Reply-To, else From, unless that is a no-reply/ATS address (or the user's own);
    then the best human address found in the message; else nobody, with a note.
    """
    own = own.lower()
    direct = [*email.reply_to, *([email.sender] if email.sender is not None else [])]
    for candidate in direct:
        if candidate.address.lower() == own or is_no_reply(candidate.address):
            continue
        address = header_address(candidate)
        if address is not None:
            return address, None
    found = human_address(email, exclude=[own] if own else [])
    if found is not None:
        address = header_address(found)
        if address is not None:
            return address, None
    shown = direct[0].address if direct else "an unknown sender"
    return None, NO_RECIPIENT_NOTE.format(address=sanitize_header(shown) or "an unknown sender")


def header_address(address: Address) -> HeaderAddress | None:
    """A safe header Address, or None when the address is not a plain addr-spec."""
    addr_spec = sanitize_header(address.address).strip("<>")
    if not _ADDR_SPEC.match(addr_spec):
        return None
    username, _, domain = addr_spec.rpartition("@")
    try:
        return HeaderAddress(
            display_name=display_name(address.name), username=username, domain=domain
        )
    except (ValueError, TypeError):
        return None


def display_name(name: str) -> str:
    """A display name made only of characters that need no quoting.

    Python's email package (3.11) drops the quotes around a display name when it folds a
    long address header, so a quoted "Bcc: x@y" or "<a@b>" would be read as structure.
    Specials are removed rather than quoted; "Doe, Jane" becomes "Jane Doe".
    """
    clean = sanitize_header(name)
    if clean.count(",") == 1:
        last, first = (part.strip() for part in clean.split(","))
        if first and last:
            clean = f"{first} {last}"
    clean = _NAME_SPECIALS.sub(" ", clean.replace("=?", " "))
    return _one_line(clean).strip(" .'-")


def _identity(account: AccountConfig) -> HeaderAddress:
    # Split first, then clean: a name may be an encoded word that decodes to ";" or ",".
    pairs = getaddresses([_one_line(account.identity)])
    name, addr_spec = pairs[0] if pairs else ("", "")
    address = header_address(Address(name, addr_spec))
    if address is None:
        raise UserError(
            f"account {account.name!r}: identity {account.identity!r} has no usable address; "
            'write it as identity = "Your Name <you@example.org>"'
        )
    return address


# -- headers ------------------------------------------------------------------------------


def sanitize_header(value: str) -> str:
    """One line of text, safe to hand to ``email.message.EmailMessage``.

    Control characters and line separators become single spaces. RFC 2047 encoded words
    are decoded (and cleaned) here, because the email package decodes them when a header
    is set and then writes the decoded text out unfolded: "=?utf-8?b?...?=" hiding
    "\r\nBcc: x" would otherwise become a real Bcc header. Words that cannot be decoded
    are defused ("=?" -> "= ?") for the same reason.
    """
    clean = _one_line(value)
    for _ in range(4):
        if not _ENCODED_WORD.search(clean):
            return clean
        decoded = _one_line(_decode_words(clean))
        if decoded == clean:
            break
        clean = decoded
    return _one_line(clean.replace("=?", "= ?"))


def _one_line(value: str) -> str:
    return _SPACES.sub(" ", _UNSAFE.sub(" ", value)).strip()


def _decode_words(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except (UnicodeError, LookupError, ValueError, HeaderParseError):
        return value


def reply_subject(subject: str) -> str:
    """``Re: <subject>`` with exactly one prefix ("RE: RE: x", "AW: x" -> "Re: x")."""
    clean = sanitize_header(subject)
    while True:
        stripped = _REPLY_PREFIX.sub("", clean).strip()
        if stripped == clean:
            break
        clean = stripped
    return f"Re: {clean or '(no subject)'}"


def safe_message_id(value: str) -> str:
    """``value`` when it is a well-formed ``<id@host>`` Message-ID, else ""."""
    value = value.strip()
    return value if _MESSAGE_ID.match(value) and "=?" not in value else ""


def references(email: Email) -> list[str]:
    """The original's References plus its Message-ID: the first and the last twenty."""
    ids: list[str] = []
    for value in (*email.references, email.message_id):
        safe = safe_message_id(value)
        if safe and safe not in ids:
            ids.append(safe)
    if len(ids) > MAX_REFERENCES:
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
    return ids


_HEADER_CHECK = BytesParser(policy=compat32)


def _check_headers(raw: bytes, expected: list[str]) -> None:
    """Read the draft back: exactly the headers that were set, each once, or no draft."""
    # Header names and header-block defects do not depend on the policy, and the body
    # is one text part: compat32 reads the header block alone at a fifth of the cost.
    parsed = _HEADER_CHECK.parsebytes(raw, headersonly=True)
    found = [name.lower() for name in parsed]
    if sorted(found) != sorted(expected) or parsed.defects:
        raise MessageError(f"composed draft failed its header check: {found} != {expected}")


# -- body ---------------------------------------------------------------------------------


def _signature(signature: str) -> str:
    text = signature.replace("\r\n", "\n").strip("\n")
    # The template writes the "-- " separator itself.
    if text.startswith("-- \n") or text.startswith("--\n"):
        text = text.split("\n", 1)[1]
    return text.rstrip()


def _body(note: str | None, reply: str, quote: str) -> str:
    parts = [note + "\n\n" if note else "", reply.rstrip("\n"), "\n\n", quote]
    body = "".join(parts)
    # Only tab, newline and printable text in a body that a person will edit.
    body = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", body.replace("\r\n", "\n"))
    return body.replace("\r", "\n").rstrip("\n") + "\n"


def _quote(email: Email, language: str) -> str:
    """The original, quoted as mail clients do: an attribution line, then "> " lines."""
    who = str(email.sender) if email.sender is not None else ""
    who = sanitize_header(who) or _unknown_sender(language)
    template = _ATTRIBUTION.get(language, _ATTRIBUTION["en"])
    if email.date is not None:
        header = template.format(date=_format_date(email.date, language), who=who)
    else:
        header = template.replace("{date}, ", "").replace("{date} ", "").format(who=who)
    lines = email.text.replace("\r\n", "\n").replace("\r", "\n").strip("\n").split("\n")
    if len(lines) > MAX_QUOTED_LINES:
        lines = [*lines[:MAX_QUOTED_LINES], "[...]"]
    quoted = [(">" if line.startswith(">") or not line else "> ") + line.rstrip() for line in lines]
    return header + "\n" + "\n".join(quoted) + "\n"


def _format_date(date: datetime, language: str) -> str:
    if language in _DATE_FORMAT:
        return date.strftime(_DATE_FORMAT[language])
    # Names spelled out here, not by strftime, so the locale cannot change them.
    day = _DAYS[date.weekday()]
    month = _MONTHS[date.month - 1]
    return f"{day}, {date.day} {month} {date.year} at {date:%H:%M}"


def _unknown_sender(language: str) -> str:
    return {"de": "jemand", "fr": "quelqu'un", "es": "alguien", "nl": "iemand"}.get(
        language, "someone" if language != "pt" else "alguém"
    )


def _transfer_encoding(body: str) -> str:
    """7bit for short ASCII lines; quoted-printable otherwise (safe on every server)."""
    if body.isascii() and all(len(line) <= 78 for line in body.split("\n")):
        return "7bit"
    return "quoted-printable"
