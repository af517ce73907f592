"""Raw message bytes -> ``Email``: parsed, decoded and normalised. Pure: no I/O.

The common case is cheap: the stdlib parser (the compat32 parse that mail-parser itself
runs) and one walk that decodes only the text parts a reader sees; attachments are
never decoded. A message whose MIME structure the stdlib cannot follow (a multipart
without its first boundary) goes to mail-parser, which recovers the text hidden in the
epilogue. Either way the result is a small frozen dataclass with the fields the rest of
notnow needs. Header values are unfolded and stripped of control characters here, once,
so nothing downstream can carry a CR/LF into a header it writes.
"""

from __future__ import annotations

import contextlib
import email
import functools
import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from typing import NamedTuple

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
    date: datetime | None = None
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    # The whole visible text: text/plain, else text from the HTML part.
    text: str = ""
    # Lower-cased header names -> values, only those the classifier and drafts use.
    headers: dict[str, str] = field(default_factory=dict)
    defects: tuple[str, ...] = ()
    # False when the message had no usable Message-ID and one was derived from its bytes.
    has_message_id: bool = True
    # The Reply-To, To and Cc values as sent (lower-cased names): read into addresses
    # only when asked, which is for the few messages that get a draft.
    address_headers: dict[str, str] = field(default_factory=dict)

    # cached_property writes to the instance __dict__, which a frozen dataclass allows:
    # the daemon, the classifier and the drafts each ask for these.
    @functools.cached_property
    def reply_to(self) -> tuple[Address, ...]:
        return _addresses(self.address_headers.get("reply-to", ""))

    @functools.cached_property
    def to(self) -> tuple[Address, ...]:
        return _addresses(self.address_headers.get("to", ""))

    @functools.cached_property
    def cc(self) -> tuple[Address, ...]:
        return _addresses(self.address_headers.get("cc", ""))

    @functools.cached_property
    def new_text(self) -> str:
        """The part of the body written for this message (no quoted history, no footer)."""
        return textprep.written_part(self.text)

    @functools.cached_property
    def document(self) -> str:
        """What the classifier reads: the subject and ``new_text``, prepared for it."""
        return textprep.prepare_written(self.subject, self.new_text)

    @functools.cached_property
    def lang(self) -> str:
        return textprep.language_of(self._language_sample())

    def _language_sample(self) -> str:
        return self.subject + "\n" + self.new_text


def identify_languages(emails: Sequence[Email]) -> None:
    """Work out ``lang`` of many messages at once, several times faster a message than
    one at a time; ``Email.lang`` then has it (the same value it would work out)."""
    todo = [message for message in emails if "lang" not in message.__dict__]
    found = textprep.languages_of([message._language_sample() for message in todo])
    for message, lang in zip(todo, found, strict=True):
        message.__dict__["lang"] = lang  # where cached_property keeps it


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
        message = _fast_tree(raw) or email.message_from_bytes(raw)
        body = _text_parts(message)
        if body is None:
            body = _text_parts_recovered(raw, message)
    except Exception as e:  # noqa: BLE001 - parsers raise anything on hostile input
        raise MessageError(f"cannot parse message: {type(e).__name__}: {e}") from e
    plain_parts, html_parts, defects = body
    headers = _headers(message)
    if not any(k in headers for k in ("from", "subject", "message-id", "date", "to")):
        raise MessageError("no From, To, Subject, Date or Message-ID header: not an email message")

    message_id = _first_id(headers.get("message-id", ""))
    has_id = bool(message_id)
    if not has_id:
        message_id = f"<{hashlib.sha256(raw).hexdigest()[:32]}@notnow.invalid>"

    plain = "\n".join(plain_parts)
    text = plain if plain.strip() else textprep.html_to_text("\n".join(html_parts))

    senders = _addresses(headers.get("from", ""))
    return Email(
        message_id=message_id,
        subject=clean_header(headers.get("subject", "")),
        sender=senders[0] if senders else None,
        date=_date(headers.get("date", "")),
        in_reply_to=_first_id(headers.get("in-reply-to", "")),
        references=tuple(_MESSAGE_ID.findall(headers.get("references", ""))),
        text=text.replace("\r\n", "\n").replace("\x00", ""),
        headers={k: clean_header(headers[k]) for k in _KEPT_HEADERS if k in headers},
        defects=tuple(sorted(defects)),
        has_message_id=has_id,
        address_headers={k: headers[k] for k in ("reply-to", "to", "cc") if k in headers},
    )


# -- mail without the line-by-line feed parser -------------------------------------------

_BLANK_LINE = re.compile(r"\r?\n\r?\n")


def _fast_tree(raw: bytes) -> Message | None:
    """The stdlib's compat32 reading of a well-formed message, built in a few string
    searches instead of the feed parser's Python loop over every line (the larger part
    of parsing a multipart/alternative message, a third of a single part's).

    Headers are read line by line as the feed parser reads them (``_read_headers``);
    bodies are cut at their boundary lines. None (and the stdlib parser decides) for
    anything else: a message/* or digest part, bare CR line ends, a missing boundary or
    header separator, empty or doubled parts: whatever the feed parser would note a
    defect on or read in a way of its own. ``tests/unit/test_message_fast.py`` holds the
    two readings equal.
    """
    text = raw.decode("ascii", "surrogateescape")  # as email.message_from_bytes does
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        return None
    return _part(text)


def _part(text: str, nested: bool = False) -> Message | None:
    parsed = _head_and_body(text)
    if parsed is None:
        return None
    message, body = parsed
    maintype = message.get_content_maintype()
    if maintype != "multipart":
        if maintype == "message":
            return None
        message.set_payload(body)
        return message
    boundary = message.get_boundary()
    encoding = str(message.get("content-transfer-encoding", "8bit")).lower()
    if not boundary or message.get_content_subtype() == "digest" or encoding not in _IDENTITY:
        return None
    found = _boundary_lines(body, "--" + boundary)
    if len(found) < 2 or not found[-1].close or any(line.close for line in found[:-1]):
        return None
    parts: list[Message | str] = []
    for before, after in zip(found, found[1:], strict=False):
        # The line end before a boundary line belongs to the boundary.
        content = _without_line_end(body[before.end : after.start])
        part = _part(content, nested=True) if content else None
        if part is None:
            return None
        parts.append(part)
    preamble = body[: found[0].start]
    if preamble:
        message.preamble = _without_line_end(preamble)
    close = found[-1]
    epilogue = body[close.end :]
    if nested and not close.line_end:
        message.epilogue = None  # as the feed parser leaves a part's empty epilogue
    else:
        message.epilogue = epilogue
    message.set_payload(parts)
    return message


_BOUNDARY_END = re.compile(r"(--)?[ \t]*(\r\n|\n|\Z)")


class _Line(NamedTuple):
    start: int
    end: int
    close: bool  # "--boundary--"
    line_end: str  # "" at the end of the text


def _boundary_lines(body: str, separator: str) -> list[_Line]:
    """The feed parser's boundary lines: ``separator`` at the start of a line, then
    ``--`` (the close) or not, blanks and the line end; each spans its whole line.
    Found with str.find, which skips a part's body far faster than a regex tried at
    every line."""
    found = []
    start = 0
    while (at := body.find(separator, start)) >= 0:
        start = at + len(separator)
        if at == 0 or body[at - 1] == "\n":
            end = _BOUNDARY_END.match(body, start)
            if end is not None:
                found.append(_Line(at, end.end(), bool(end.group(1)), end.group(2)))
    return found


def _without_line_end(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


_IDENTITY = ("7bit", "8bit", "binary")  # the only transfer encodings of a multipart


def _head_and_body(text: str) -> tuple[Message, str] | None:
    separator = _BLANK_LINE.search(text)
    if separator is None or separator.start() == 0:
        return None
    message = _read_headers(text[: separator.start()])
    if message is None:
        return None
    return message, text[separator.end() :]


# A line the feed parser takes for a header: a name of printable characters but ":",
# then ":" (it reads "From " lines and continuation lines its own ways).
_HEADER_LINE = re.compile(r"[\041-\071\073-\176]+:")


def _read_headers(head: str) -> Message | None:
    """What the compat32 feed parser makes of a header block (``head``, lines without
    the last line end) that it reads without a defect: each header's lines, their line
    ends kept, through the policy's ``header_source_parse``. A Python loop over the
    lines instead of the feed parser's; None (and the parser decides) for a first line
    that continues nothing, an envelope "From " line after the first or a line that is
    no header."""
    message = Message()
    current: list[str] = []
    for number, line in enumerate(head.split("\n")):
        line += "\n"  # as the feed parser hands each line on, "\r\n" ends kept whole
        if line[0] in " \t":
            if not current:
                return None
            current.append(line)
            continue
        if current:
            message.set_raw(*compat32.header_source_parse(current))
            current = []
        if number == 0 and line.startswith("From "):
            message.set_unixfrom(line.rstrip("\r\n"))  # an mbox envelope line
            continue
        if line.startswith("From ") or not _HEADER_LINE.match(line):
            return None
        current = [line]
    if current:
        message.set_raw(*compat32.header_source_parse(current))
    message.set_payload("")  # the feed parser's headers-only reading leaves an empty body
    return message


def clean_header(value: str) -> str:
    """Decode RFC 2047 words, unfold, and remove every control character."""
    if "=?" in value:
        with contextlib.suppress(UnicodeError, LookupError, ValueError):
            value = str(make_header(decode_header(value)))
    return _CONTROL.sub(" ", value).strip()


_Body = tuple[list[str], list[str], set[str]]  # text/plain parts, text/html parts, defects

# Defects after which the stdlib walk misses text that mail-parser recovers.
_UNREADABLE_STRUCTURE = {"StartBoundaryNotFoundDefect"}


def _text_parts(message: Message) -> _Body | None:
    """The text a reader sees, by the rules mail-parser uses (a text part with a file name
    or an attachment disposition is an attachment), except that nothing inside
    an attached container (a forwarded message/rfc822) counts as this message's text.
    None when the structure is one only mail-parser can read."""
    plain: list[str] = []
    html: list[str] = []
    defects: set[str] = set()
    attached: set[int] = set()  # ids of parts inside an attachment
    for part in message.walk():
        if part.defects:
            defects.update(type(defect).__name__ for defect in part.defects)
        inside = id(part) in attached
        if part.is_multipart():
            if inside or part.get_content_disposition() not in (None, "inline"):
                attached.update(id(child) for child in part.get_payload())
            continue
        if inside:
            continue
        # One read of each header (each get_content_* call reads and splits it again).
        maintype, _, subtype = part.get_content_type().partition("/")
        if maintype != "text" or subtype not in ("plain", "html"):
            continue
        disposition = part.get_content_disposition()
        if disposition == "attachment" or (disposition != "inline" and _has_filename(part)):
            continue
        decoded = _decode(part, defects)
        if decoded:
            (html if subtype == "html" else plain).append(decoded)
    if defects & _UNREADABLE_STRUCTURE:
        return None
    return plain, html, defects


def _has_filename(part: Message) -> bool:
    """``part.get_filename()`` is not None, without parsing the parameters of headers
    that cannot hold one (a file name is a ``filename`` or ``name`` parameter)."""
    for header in ("content-disposition", "content-type"):
        value = part.get(header)
        if value is not None and "name" in str(value).lower():
            return part.get_filename() is not None
    return False


def _decode(part: Message, defects: set[str]) -> str:
    # The payload as parsed: raw 8-bit bytes are carried as surrogates. (get_payload()
    # would already have decoded those lossily, with the declared charset.)
    stored = getattr(part, "_payload", None)
    transfer = str(part.get("content-transfer-encoding", "")).strip().lower()
    if isinstance(stored, str) and transfer in ("", "7bit", "8bit"):
        with contextlib.suppress(UnicodeEncodeError):
            stored.encode("utf-8")  # no raw 8-bit bytes: nothing to decode
            return stored
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes) or not payload:
        return ""
    charset = part.get_content_charset() or "utf-8"
    for candidate in (charset, "utf-8"):
        try:
            text = payload.decode(candidate)
            text.encode("utf-8")  # some codecs (unicode_escape) yield lone surrogates
            return text
        except (LookupError, UnicodeError):
            defects.add("CharsetDecodeDefect")
    # Mail that lies about its charset is most often Windows Western European.
    return payload.decode("cp1252", errors="replace")


# What is left of MIME structure in a multipart read as one text: boundary lines and
# part headers.
_MIME_DEBRIS = re.compile(
    r"^(?:--[^\s]+|Content-[\w-]+:.*|\s+\S+=.*)$\n?", re.MULTILINE | re.IGNORECASE
)


def _text_parts_recovered(raw: bytes, message: Message) -> _Body:
    """mail-parser's reading of a broken multipart, else its whole text without the
    boundary lines and part headers: a reader's mail client shows something too.
    (mail-parser is imported here: a process that never meets such mail, like the
    parse worker of a backlog, does not carry its 7 MB of imports.)"""
    import mailparser

    parsed = mailparser.parse_from_bytes(raw)
    plain = [str(p) for p in parsed.text_plain]
    html = [str(p) for p in parsed.text_html]
    defects = {str(d) for d in (parsed.defects_categories or [])}
    leftover = message.get_payload()
    if not "".join(plain + html).strip() and isinstance(leftover, str):
        plain = [_MIME_DEBRIS.sub("", leftover).strip()]
    return plain, html, defects


# Every header ``parse`` reads: the first of each name counts.
_READ_HEADERS = frozenset(
    ("from", "subject", "message-id", "date", "to", "cc", "reply-to", "in-reply-to", "references")
    + _KEPT_HEADERS
)


def _headers(message: Message) -> dict[str, str]:
    """The first value of each header in ``_READ_HEADERS``, as ``message.get`` gives it.
    Only those go through the policy's fetch (real mail has forty-odd header lines,
    most of them Received and signatures)."""
    result: dict[str, str] = {}
    fetch = message.policy.header_fetch_parse
    for name, value in message.raw_items():
        key = name.lower()
        if key in _READ_HEADERS and key not in result:
            result[key] = str(fetch(name, value))
    return result


def _first_id(value: str) -> str:
    match = _MESSAGE_ID.search(value)
    if match:
        return match.group(0)
    bare = _CONTROL.sub("", value).strip()
    # Some mailers omit the angle brackets; accept a lone token with an "@".
    if bare and " " not in bare and "@" in bare and "<" not in bare and ">" not in bare:
        return f"<{bare}>"
    return ""


# Senders repeat (4,150 SpamAssassin ham messages have 942 distinct From values), and
# getaddresses is a parser in Python: a fifth of a plain message's parse.
@functools.lru_cache(maxsize=4096)
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
