"""The IMAP backend: ``ImapMailbox``, the one module that imports imapclient.

Owns the connection (implicit TLS, STARTTLS or plain; certificates always verified),
reading new mail since a checkpoint without changing it, finding the Drafts folder,
appending drafts, and waiting for news with IDLE (a socket the daemon's loop selects on).
Every imapclient, socket and TLS error is wrapped here into ``notnow.errors`` with what
to check; nothing above this module sees an imapclient type.

What it must not do: set ``\\Seen`` (folders are read with EXAMINE and ``BODY.PEEK``),
move, delete or expunge anything (it never sends CLOSE or EXPUNGE), download
attachments of big messages, or let a password or a message body reach a log or an
error message.
"""

from __future__ import annotations

import email.parser
import email.policy
import imaplib
import logging
import re
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import imapclient
from imapclient.exceptions import CapabilityError, LoginError

from notnow.config import AccountConfig
from notnow.errors import (
    AuthError,
    ConfigError,
    ConnectionFailedError,
    FolderNotFoundError,
    MailboxError,
    NotnowError,
)
from notnow.mailbox.base import (
    KNOWN_DRAFTS_NAMES,
    KNOWN_SENT_NAMES,
    Checkpoint,
    Fetched,
    FolderInfo,
    readable,
)

logger = logging.getLogger(__name__)

# Messages above this size are read as headers + text parts only (attachments skipped).
MAX_MESSAGE_BYTES = 1 << 20
# Each text part of a big message is read up to this many bytes.
MAX_TEXT_PART_BYTES = 256 << 10
# At most this many text parts of one big message are read.
MAX_TEXT_PARTS = 4

_SOURCE_HEADER = "X-Notnow-Source"
_STRIPPED_ON_REBUILD = re.compile(
    rb"^(content-type|content-transfer-encoding|mime-version)\s*:", re.IGNORECASE
)
# Flags that describe a session, not a message: never reported.
_SESSION_FLAGS = {b"\\recent"}


class ImapMailbox:
    """One logged-in IMAP account. Build it with ``ImapMailbox.connect``.

    Not thread-safe: one connection, one command at a time.
    """

    def __init__(self, client: Any, account: AccountConfig) -> None:
        self._client = client
        self._account = account
        self._where = f"{account.host}:{account.port}"
        self._drafts: str | None = None
        self._closed = False
        self._broken = False
        # (folder, readonly) of the current SELECT/EXAMINE, so a batched read can tell
        # whether something in between (find_sources, add_keyword) selected another one.
        self._selected: tuple[str, bool] | None = None
        # UIDNEXT of each folder when fetch_new last looked, so idle_wait can tell that
        # mail arrived while the daemon was busy (an IDLE started later never reports it).
        self._uidnext: dict[str, int] = {}
        # In IDLE: no command but DONE may be sent.
        self._idling = False

    # -- connecting --------------------------------------------------------------------------

    @classmethod
    def connect(cls, account: AccountConfig, password: str) -> ImapMailbox:
        """Connect, secure the connection as ``account.security`` says, and log in."""
        if account.host is None:
            raise ConfigError(
                f"account {account.name!r} has no host: it is a Maildir account, not IMAP"
            )
        where = f"{account.host}:{account.port}"
        context = _ssl_context(account) if account.security != "none" else None
        if account.security == "none" and not _is_loopback(account.host):
            logger.warning(
                "account %s: security = none sends the password to %s unencrypted",
                account.name,
                where,
            )
        logger.debug("connecting to %s (security %s)", where, account.security)
        try:
            client = imapclient.IMAPClient(
                account.host,
                port=account.port,
                ssl=account.security == "tls",
                ssl_context=context,
                timeout=float(account.timeout),
            )
        except (OSError, imaplib.IMAP4.error) as e:
            raise _connect_error(account, e) from e
        _quiet_imaplib(client)
        try:
            if account.security == "starttls":
                client.starttls(context)
            client.login(account.username or "", password)
        except LoginError as e:
            _shutdown(client)
            server_says = _scrub(_text(e), password)
            raise AuthError(
                f"{where} refused the login of account {account.name!r} as user "
                f"{account.username!r} ({server_says}). Store the right password with "
                f"`notnow login --account {account.name}`, or fix password_command"
            ) from None
        except CapabilityError as e:
            _shutdown(client)
            raise ConnectionFailedError(
                f'{where} does not offer STARTTLS: set security = "tls" (and its port, '
                f"usually 993) for account {account.name!r}"
            ) from e
        except (OSError, imaplib.IMAP4.error) as e:
            _shutdown(client)
            raise _connect_error(account, e, password) from e
        # Aware datetimes (the server's offset) instead of naive local time.
        client.normalise_times = False
        logger.info("account %s: logged in to %s as %s", account.name, where, account.username)
        return cls(client, account)

    # -- folders -----------------------------------------------------------------------------

    def list_folders(self) -> list[FolderInfo]:
        with self._errors("listing folders"):
            listing = self._client.list_folders()
        folders = []
        for flags, _delimiter, name in listing:
            folders.append(FolderInfo(name=str(name), flags=tuple(_decode(f) for f in flags)))
        return folders

    def drafts_folder(self) -> str:
        if self._drafts is None:
            self._drafts = self._find_drafts()
        return self._drafts

    def _find_drafts(self) -> str:
        folders = [f for f in self.list_folders() if not _unselectable(f)]
        names = [f.name for f in folders]
        configured = self._account.drafts_folder
        if configured is not None:
            if configured in names:
                return configured
            raise FolderNotFoundError(
                f"drafts_folder {configured!r} of account {self._account.name!r} does not "
                f"exist on {self._where}: fix drafts_folder (folders: {_listing(names)})"
            )
        found = _special_folder(folders, "\\Drafts", KNOWN_DRAFTS_NAMES)
        if found is not None:
            return found
        raise FolderNotFoundError(
            f"no Drafts folder on {self._where} for account {self._account.name!r}: none has "
            f"the \\Drafts flag and none has a known name; set drafts_folder "
            f"(folders: {_listing(names)})"
        )

    def _select(self, folder: str, readonly: bool = True) -> dict[bytes, Any]:
        self._selected = None
        try:
            with self._errors(f"opening folder {folder!r}"):
                response: dict[bytes, Any] = self._client.select_folder(folder, readonly=readonly)
                self._selected = (folder, readonly)
                return response
        except ConnectionFailedError:
            raise
        except MailboxError as e:
            names = [f.name for f in self.list_folders()]
            if folder not in names:
                raise FolderNotFoundError(
                    f"folder {folder!r} does not exist on {self._where} (account "
                    f"{self._account.name!r}); fix folders or drafts_folder "
                    f"(folders: {_listing(names)})"
                ) from e
            raise

    # -- reading -----------------------------------------------------------------------------

    def _examine(self, folder: str) -> tuple[dict[bytes, Any], int | None]:
        """EXAMINE ``folder`` and note its UIDNEXT; returns the status and the UIDNEXT
        noted before (None if none was), which tells whether mail came since."""
        status = self._select(folder)
        previous = self._uidnext.get(folder)
        if b"UIDNEXT" in status:
            self._uidnext[folder] = int(status[b"UIDNEXT"])
        return status, previous

    def checkpoint(self, folder: str) -> Checkpoint:
        status = self._select(folder)
        validity = int(status[b"UIDVALIDITY"])
        if b"UIDNEXT" in status:
            return Checkpoint(validity, int(status[b"UIDNEXT"]) - 1)
        # UIDNEXT is optional before IMAP4rev2: the highest UID in use is as good.
        with self._errors(f"searching {folder!r}"):
            uids = self._client.search("ALL")
        return Checkpoint(validity, max((int(uid) for uid in uids), default=0))

    def fetch_new(
        self,
        folder: str,
        after: Checkpoint | None,
        since: datetime | None = None,
        batch_size: int = 200,
    ) -> Iterator[list[Fetched]]:
        status, _ = self._examine(folder)  # nothing read can change a flag
        validity = int(status[b"UIDVALIDITY"])
        since_utc = _aware(since) if since is not None else None
        with self._errors(f"searching {folder!r}"):
            if after is not None and after.validity == validity:
                found = self._client.search(["UID", f"{after.position + 1}:*"])
                # "n:*" always matches the highest UID, even one below n.
                uids = sorted(int(uid) for uid in found if int(uid) > after.position)
            elif since_utc is not None:
                # SEARCH SINCE has day granularity in the server's time zone: ask for a day
                # more and filter on INTERNALDATE below.
                day = (since_utc - timedelta(days=1)).date()
                uids = sorted(int(uid) for uid in self._client.search(["SINCE", day]))
            else:
                uids = sorted(int(uid) for uid in self._client.search("ALL"))
        if after is not None and after.validity != validity:
            logger.info(
                "folder %s: UIDVALIDITY changed (%s -> %s), reading by date instead",
                folder,
                after.validity,
                validity,
            )
        logger.debug("folder %s: %s message(s) to read", folder, len(uids))
        step = max(1, batch_size)
        for start in range(0, len(uids), step):
            batch = self._fetch_batch(folder, validity, uids[start : start + step])
            if since_utc is not None and not (after is not None and after.validity == validity):
                batch = [
                    item
                    for item in batch
                    if item.internal_date is None or item.internal_date >= since_utc
                ]
            if batch:
                yield batch

    def _fetch_batch(self, folder: str, validity: int, uids: Sequence[int]) -> list[Fetched]:
        if self._selected != (folder, True):
            # The caller used the connection between two batches: EXAMINE the folder again.
            status = self._select(folder)
            if int(status[b"UIDVALIDITY"]) != validity:
                raise MailboxError(
                    f"folder {folder!r} on {self._where} changed its UIDVALIDITY while being "
                    "read; it will be read again by date on the next pass"
                )
        with self._errors(f"reading {folder!r}"):
            meta = self._fetch_read(uids, _META_ITEMS, _meta_fast)
            present = [uid for uid in uids if uid in meta]  # others: expunged since the search
            # Only a message that may carry attachments is worth its BODYSTRUCTURE (which
            # costs more to parse than a small message costs to download).
            suspects = [uid for uid in present if _may_carry_attachments(meta[uid])]
            structures = self._client.fetch(suspects, ["BODYSTRUCTURE"]) if suspects else {}
            whole: list[int] = []
            texts_only: dict[int, list[_TextPart]] = {}
            for uid in present:
                structure = structures.get(uid, {}).get(b"BODYSTRUCTURE")
                parts = _text_only_plan(structure, int(meta[uid].get(b"RFC822.SIZE", 0)))
                if parts is None:
                    whole.append(uid)
                else:
                    texts_only[uid] = parts
            raws = {
                uid: response.get(b"BODY[]")
                for uid, response in self._fetch_read(whole, _WHOLE_ITEMS, _whole_fast).items()
            }
            raws.update(self._fetch_texts(texts_only))
            result = []
            for uid in uids:
                raw = raws.get(uid)
                if raw is None:
                    continue
                result.append(
                    Fetched(
                        folder=folder,
                        key=f"{validity}:{uid}",
                        position=uid,
                        validity=validity,
                        raw=bytes(raw),
                        internal_date=_utc(meta[uid].get(b"INTERNALDATE")),
                        flags=tuple(
                            _decode(flag)
                            for flag in meta[uid].get(b"FLAGS", ())
                            if flag.lower() not in _SESSION_FLAGS
                        ),
                    )
                )
        return result

    def _fetch_read(
        self,
        uids: Sequence[int],
        items: list[str],
        fast: Callable[[Sequence[Any]], dict[int, dict[bytes, Any]] | None],
    ) -> dict[int, dict[bytes, Any]]:
        """``client.fetch(uids, items)`` for the FETCHes every message of a backlog gets
        (the overview, and the whole of most messages). imapclient's parser lexes a
        response a character at a time, half of the client's CPU for reading mail
        (docs/benchmarks.md); the usual shape of these answers is read with one match
        per message instead (``fast``), and the whole answer goes to imapclient's
        parser if any part of it has another shape."""
        from imapclient.response_parser import parse_fetch_response

        if not uids:
            return {}
        items_text = "(" + " ".join(items) + ")"
        typ, data = self._client._imap.uid("FETCH", ",".join(map(str, uids)), items_text)
        if typ != "OK":
            raise imaplib.IMAP4.error(f"FETCH failed: {_decode(data[-1] if data else typ)}")
        read = fast(data)
        if read is not None:
            return read
        parsed: dict[int, dict[bytes, Any]] = parse_fetch_response(
            data, self._client.normalise_times, True
        )
        return parsed

    def _fetch_texts(self, plans: dict[int, list[_TextPart]]) -> dict[int, bytes]:
        """Headers and text parts of messages with attachments, each rebuilt as a small
        MIME message: one FETCH per shape of message (the same text sections), not one
        per message."""
        shapes: dict[tuple[str, ...], list[int]] = {}
        for uid, parts in plans.items():
            shapes.setdefault(tuple(part.section for part in parts), []).append(uid)
        rebuilt: dict[int, bytes] = {}
        for sections, uids in shapes.items():
            items = ["BODY.PEEK[HEADER]"]
            items += [f"BODY.PEEK[{section}]<0.{MAX_TEXT_PART_BYTES}>" for section in sections]
            for uid, response in self._client.fetch(uids, items).items():
                if uid not in plans:
                    continue
                texts = []
                for part in plans[uid]:
                    body = _find_section(response, part.section)
                    if body is not None:
                        texts.append((part, body))
                header = bytes(response.get(b"BODY[HEADER]", b""))
                rebuilt[uid] = _rebuild(header, texts)
        logger.debug("read %s message(s) without their attachments", len(rebuilt))
        return rebuilt

    # -- drafts ------------------------------------------------------------------------------

    def append_draft(self, raw: bytes, folder: str | None = None) -> None:
        target = folder if folder is not None else self.drafts_folder()
        try:
            with self._errors(f"saving a draft to {target!r}"):
                self._client.append(target, raw, flags=(imapclient.DRAFT, imapclient.SEEN))
        except ConnectionFailedError:
            raise
        except MailboxError as e:
            names = [f.name for f in self.list_folders()]
            if target not in names:
                raise FolderNotFoundError(
                    f"cannot save drafts: folder {target!r} does not exist on {self._where} "
                    f"(account {self._account.name!r}); fix drafts_folder "
                    f"(folders: {_listing(names)})"
                ) from e
            raise
        logger.info("saved a draft to %s", target)

    def find_sources(self, folder: str | None = None) -> set[str]:
        target = folder if folder is not None else self.drafts_folder()
        self._select(target)
        sources: set[str] = set()
        with self._errors(f"searching {target!r} for notnow drafts"):
            uids = self._client.search(["HEADER", _SOURCE_HEADER, ""])
            item = f"BODY.PEEK[HEADER.FIELDS ({_SOURCE_HEADER.upper()})]"
            uid_list = sorted(int(uid) for uid in uids)
            for start in range(0, len(uid_list), 500):
                response = self._client.fetch(uid_list[start : start + 500], [item])
                for data in response.values():
                    header = _find_section(data, f"HEADER.FIELDS ({_SOURCE_HEADER.upper()})")
                    sources.update(_header_values(header or b"", _SOURCE_HEADER))
        return sources

    def find_replies(self, message_ids: set[str]) -> set[str]:
        if not message_ids:
            return set()
        sent = self._find_sent()
        if sent is None:
            return set()
        self._select(sent)
        found: set[str] = set()
        with self._errors(f"searching {sent!r} for replies"):
            for message_id in sorted(message_ids):
                if self._client.search(["HEADER", "In-Reply-To", message_id]):
                    found.add(message_id)
        return found

    def _find_sent(self) -> str | None:
        folders = [f for f in self.list_folders() if not _unselectable(f)]
        return _special_folder(folders, "\\Sent", KNOWN_SENT_NAMES)

    # -- keywords ----------------------------------------------------------------------------

    def add_keyword(self, folder: str, key: str, keyword: str) -> bool:
        validity_text, _, uid_text = key.partition(":")
        if not (validity_text.isdigit() and uid_text.isdigit()):
            logger.warning("not an IMAP message key: %r", key)
            return False
        # The only read-write SELECT: STORE needs it. Never followed by CLOSE (it expunges).
        status = self._select(folder, readonly=False)
        if int(status[b"UIDVALIDITY"]) != int(validity_text):
            logger.info("folder %s changed UIDVALIDITY; not tagging %s", folder, key)
            return False
        allowed = {flag.lower() for flag in status.get(b"PERMANENTFLAGS", ())}
        if b"\\*" not in allowed and keyword.encode().lower() not in allowed:
            logger.info("folder %s does not allow the keyword %s", folder, keyword)
            return False
        uid = int(uid_text)
        with self._errors(f"tagging a message in {folder!r}"):
            if not self._client.search(["UID", str(uid)]):
                return False
            self._client.add_flags([uid], [keyword], silent=True)
        logger.debug("tagged %s in %s with %s", key, folder, keyword)
        return True

    # -- waiting for news: IMAP IDLE (see base.IdleMailbox) ----------------------------------

    def idle_supported(self) -> bool:
        with self._errors("reading capabilities"):
            return bool(self._client.has_capability("IDLE"))

    def idle_mark(self, folder: str) -> None:
        self._examine(folder)

    def idle_start(self, folder: str) -> bool:
        if not self.idle_supported():
            raise MailboxError(f"{self._where} does not offer IDLE: poll instead")
        # Always EXAMINE afresh: an EXISTS the server sent with an earlier command's
        # response (a FETCH of the pass) was swallowed; UIDNEXT tells what came since.
        status, last = self._examine(folder)
        if last is not None and b"UIDNEXT" in status and int(status[b"UIDNEXT"]) > last:
            return True
        with self._errors(f"waiting for mail in {folder!r}"):
            self._client.idle()
        self._idling = True
        return False

    def fileno(self) -> int:
        with self._errors("waiting for mail"):
            return int(self._client.socket().fileno())

    def idle_buffered(self) -> bool:
        if not self._idling or self._broken or self._closed:
            return False
        sock = self._client.socket()
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        # imaplib reads through a buffered file: a response that came in the same packet
        # as IDLE's "+ idling" waits there and will never make the socket readable.
        reader = getattr(self._client._imap, "file", None)  # imapclient's own imaplib object
        if reader is None or not hasattr(reader, "peek"):
            return False
        previous = sock.gettimeout()
        sock.setblocking(False)  # peek on an empty buffer reads the socket: must not block
        try:
            return bool(reader.peek(1))
        except OSError:
            return False  # nothing there (SSL's "want read"); select will tell the rest
        finally:
            sock.settimeout(previous)

    def idle_read(self) -> bool:
        with self._errors("waiting for mail"):
            responses = self._client.idle_check(timeout=0)
            if _says_bye(responses):
                self._idling = False  # the server hung up: no one to send DONE to
                raise imaplib.IMAP4.abort("the server said BYE")
        if responses:
            logger.debug("%s said in IDLE: %s", self._where, responses)
        # Readable but nothing parsed: EOF, or TLS bytes without data. DONE tells which.
        return not responses or _announces_mail(responses)

    def idle_end(self) -> bool:
        if not self._idling or self._broken or self._closed:
            self._idling = False
            return False
        self._idling = False
        with self._errors("ending IDLE"):
            _text_response, responses = self._client.idle_done()
        return _announces_mail(responses)

    def idle_wait(self, folder: str, timeout: float, wake_fd: int | None = None) -> bool:
        """IDLE on ``folder`` for up to ``timeout`` seconds, sleeping in select(): True when
        new mail is announced (at once if it arrived since this connection last read the
        folder), False after ``timeout`` or as soon as ``wake_fd`` is readable."""
        if self.idle_start(folder):
            return True
        deadline = time.monotonic() + timeout
        changed = False
        try:
            while not changed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if not self.idle_buffered():
                    ready = readable(
                        [self.fileno(), *([] if wake_fd is None else [wake_fd])], remaining
                    )
                    if self.fileno() not in ready:
                        break  # the timeout, or a wake-up
                changed = self.idle_read()
        finally:
            changed = self.idle_end() or changed
        return changed

    def noop(self) -> None:
        with self._errors("NOOP"):
            self._client.noop()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._selected = None
        self._idling = False
        if self._broken:
            _shutdown(self._client)  # a LOGOUT on a dead connection could only time out
            return
        try:
            self._client.logout()
        except (imaplib.IMAP4.error, OSError, ValueError) as e:
            logger.debug("logout from %s failed (%s); closing the socket", self._where, e)
            _shutdown(self._client)

    def __enter__(self) -> ImapMailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- errors ------------------------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn imapclient/socket errors into notnow errors naming the server and action."""
        if self._closed or self._broken:
            state = "closed" if self._closed else "lost"
            raise ConnectionFailedError(
                f"the connection to {self._where} is {state}; cannot continue {action}"
            )
        try:
            yield
        except NotnowError:
            raise
        except (imaplib.IMAP4.abort, OSError) as e:
            self._broken = True
            self._selected = None
            raise ConnectionFailedError(
                f"lost the connection to {self._where} while {action} ({_text(e)}); "
                "notnow reconnects, but if this keeps happening check the network and the "
                f"server, or raise timeout (now {self._account.timeout} s)"
            ) from e
        except imaplib.IMAP4.error as e:
            raise MailboxError(f"{self._where}: {action} failed: {_text(e)}") from e


# -- helpers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TextPart:
    """A text/plain or text/html leaf of a BODYSTRUCTURE, addressed by its section."""

    section: str
    subtype: str
    params: str
    encoding: str


def _text_parts(structure: Any, prefix: str = "") -> Iterator[_TextPart]:
    if not structure:
        return
    if isinstance(structure[0], list):  # multipart: children, then the subtype
        for index, child in enumerate(structure[0], start=1):
            yield from _text_parts(child, f"{prefix}{index}.")
        return
    section = (prefix or "1.")[:-1]
    kind = _decode(structure[0]).lower()
    subtype = _decode(structure[1]).lower()
    if kind != "text" or subtype not in ("plain", "html"):
        return  # attachments, images, embedded messages: never downloaded
    disposition = structure[9] if len(structure) > 9 else None
    if (
        isinstance(disposition, tuple)
        and disposition
        and _decode(disposition[0]).lower() == ("attachment")
    ):
        return
    params = structure[2] or ()
    rendered = "".join(
        f'; {_decode(name)}="{_decode(value)}"'
        for name, value in zip(params[::2], params[1::2], strict=False)
        if value is not None and '"' not in _decode(value)
    )
    encoding = _decode(structure[5]) if structure[5] else "7bit"
    yield _TextPart(section, subtype, rendered, encoding)


# Enough to decide how to read most messages: whole, or (see _may_carry_attachments)
# after a look at their structure.
_META_ITEMS = ["RFC822.SIZE", "FLAGS", "INTERNALDATE", "BODY.PEEK[HEADER.FIELDS (CONTENT-TYPE)]"]
_MAY_CARRY_ATTACHMENTS = re.compile(
    rb"^content-type:\s*(?:multipart/(?!alternative\b)|message/|application/)",
    re.IGNORECASE | re.MULTILINE,
)


# How Dovecot (and most servers) answer _META_ITEMS for one message, the header literal
# following; a FETCH of exactly this is what _fetch_read reads without imapclient.
_META_RESPONSE = re.compile(
    rb"\d+ \(UID (\d+) RFC822\.SIZE (\d+) FLAGS \(([^()\"{}\r\n]*)\) "
    rb'INTERNALDATE "([^"\r\n]*)" BODY\[HEADER\.FIELDS \(CONTENT-TYPE\)\] \{(\d+)\}'
)


def _usual_answers(
    data: Sequence[Any], shape: re.Pattern[bytes]
) -> list[tuple[re.Match[bytes], bytes]] | None:
    """Each response in imaplib's raw answer to a FETCH, as ``shape``'s match of the
    text before its one literal (``shape``'s last group: the literal's length), with
    that literal; None if any response has another shape."""
    answers = []
    for item in data:
        if item == b")":
            continue  # the end of the response before it
        if not (isinstance(item, tuple) and len(item) == 2):
            return None
        match = shape.fullmatch(item[0])
        if match is None or int(match[shape.groups]) != len(item[1]):
            return None
        answers.append((match, item[1]))
    return answers


def _meta_fast(data: Sequence[Any]) -> dict[int, dict[bytes, Any]] | None:
    """imaplib's raw answer to _META_ITEMS as imapclient would parse it (times not
    normalised), if every response in it has the usual shape; else None."""
    from imapclient.datetime_util import parse_to_datetime

    answers = _usual_answers(data, _META_RESPONSE)
    if answers is None:
        return None
    parsed: dict[int, dict[bytes, Any]] = {}
    for match, header in answers:
        try:
            when = parse_to_datetime(match[4], normalise=False)
        except ValueError:
            return None
        parsed[int(match[1])] = {
            b"RFC822.SIZE": int(match[2]),
            b"FLAGS": tuple(match[3].split()),
            b"INTERNALDATE": when,
            b"BODY[HEADER.FIELDS (CONTENT-TYPE)]": header,
        }
    return parsed


# Most messages are read whole: Dovecot's answer to this, read without imapclient too.
_WHOLE_ITEMS = ["BODY.PEEK[]"]
_WHOLE_RESPONSE = re.compile(rb"\d+ \(UID (\d+) BODY\[\] \{(\d+)\}")


def _whole_fast(data: Sequence[Any]) -> dict[int, dict[bytes, Any]] | None:
    """imaplib's raw answer to _WHOLE_ITEMS as imapclient would parse it, if every
    response in it has the usual shape; else None."""
    answers = _usual_answers(data, _WHOLE_RESPONSE)
    if answers is None:
        return None
    return {int(match[1]): {b"BODY[]": body} for match, body in answers}


def _may_carry_attachments(meta: dict[bytes, Any]) -> bool:
    """Big, or multipart other than alternative: plain, HTML and plain-plus-HTML mail
    is read whole without a look at its structure."""
    if int(meta.get(b"RFC822.SIZE", 0)) > MAX_MESSAGE_BYTES:
        return True
    header = next(
        (v for k, v in meta.items() if isinstance(k, bytes) and k.startswith(b"BODY[HEADER")),
        None,
    )
    return header is None or bool(_MAY_CARRY_ATTACHMENTS.search(bytes(header)))


def _text_only_plan(structure: Any, size: int) -> list[_TextPart] | None:
    """None to read a message whole; else the text parts to read instead of all of it.

    A message is read whole when it is small and all text: the parser sees exactly what
    was sent. One with attachments (or over MAX_MESSAGE_BYTES) is read as its headers
    and text parts: attachments are never downloaded."""
    if not structure:
        return None if size <= MAX_MESSAGE_BYTES else []
    parts = list(_text_parts(structure))
    if size <= MAX_MESSAGE_BYTES and len(parts) == _leaf_count(structure):
        return None
    return parts[:MAX_TEXT_PARTS]


def _leaf_count(structure: Any) -> int:
    if structure and isinstance(structure[0], list):
        return sum(_leaf_count(child) for child in structure[0])
    return 1


def _find_section(data: dict[bytes, Any], section: str) -> bytes | None:
    """The value of ``BODY[section]`` or ``BODY[section]<0>`` in a FETCH response."""
    wanted = f"BODY[{section}]".encode().upper()
    for key, value in data.items():
        if isinstance(key, bytes) and key.upper().split(b"<", 1)[0] == wanted:
            return None if value is None else bytes(value)
    return None


def _rebuild(header: bytes, texts: list[tuple[_TextPart, bytes]]) -> bytes:
    """The original headers (minus MIME framing) over a multipart of the text parts."""
    kept: list[bytes] = []
    skipping = False
    for line in header.rstrip(b"\r\n").split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = bool(_STRIPPED_ON_REBUILD.match(line))
        if not skipping:
            kept.append(line)
    boundary = "notnow-text-" + secrets.token_hex(12)
    out = [*kept, b"MIME-Version: 1.0"]
    out.append(f'Content-Type: multipart/mixed; boundary="{boundary}"'.encode())
    out.append(b"")
    for part, body in texts:
        if len(body) >= MAX_TEXT_PART_BYTES and b"\n" in body:
            body = body[: body.rindex(b"\n") + 1]  # cut at a line, not mid-encoding
        out.append(f"--{boundary}".encode())
        out.append(f"Content-Type: text/{part.subtype}{part.params}".encode())
        out.append(f"Content-Transfer-Encoding: {part.encoding}".encode())
        out.append(b"")
        out.append(body.rstrip(b"\r\n"))
    out.append(f"--{boundary}--".encode())
    out.append(b"")
    return b"\r\n".join(out)


def _header_values(header: bytes, name: str) -> list[str]:
    parsed = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(header)
    values = []
    for value in parsed.get_all(name) or []:
        text = " ".join(str(value).split())
        if text:
            values.append(text)
    return values


def _announces_mail(responses: Sequence[Any]) -> bool:
    return any(
        isinstance(response, tuple)
        and len(response) >= 2
        and response[1] in (b"EXISTS", b"RECENT")
        and not (response[1] == b"RECENT" and response[0] == 0)
        for response in responses
    )


def _says_bye(responses: Sequence[Any]) -> bool:
    return any(isinstance(r, tuple) and r and r[0] == b"BYE" for r in responses)


def _special_folder(
    folders: Sequence[FolderInfo], flag: str, known_names: Sequence[str]
) -> str | None:
    """The folder with the special-use ``flag`` (RFC 6154), else the first known name
    that exists (case-insensitive), else None."""
    for folder in folders:
        if any(f.lower() == flag.lower() for f in folder.flags):
            logger.debug("%s folder by special-use flag: %s", flag, folder.name)
            return folder.name
    by_name = {f.name.casefold(): f.name for f in reversed(folders)}
    for known in known_names:
        if known.casefold() in by_name:
            logger.debug("%s folder by name: %s", flag, by_name[known.casefold()])
            return by_name[known.casefold()]
    return None


def _unselectable(folder: FolderInfo) -> bool:
    return any(flag.lower() in ("\\noselect", "\\nonexistent") for flag in folder.flags)


def _ssl_context(account: AccountConfig) -> ssl.SSLContext:
    try:
        if account.ca_file is not None:
            return ssl.create_default_context(cafile=str(account.ca_file))
        return ssl.create_default_context()
    except (OSError, ssl.SSLError) as e:
        raise ConnectionFailedError(
            f"cannot load ca_file {account.ca_file} of account {account.name!r} ({_text(e)}): "
            "point ca_file at the PEM certificate of the server or of its CA"
        ) from e


def _connect_error(account: AccountConfig, error: BaseException, password: str = "") -> Exception:
    where = f"{account.host}:{account.port}"
    name = account.name
    if isinstance(error, socket.gaierror):
        return ConnectionFailedError(
            f"cannot resolve host {account.host!r} of account {name!r}: check host "
            "and your network/DNS"
        )
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = error.verify_message or _text(error)
        if account.ca_file is not None:
            advice = (
                f"the certificate is not signed by ca_file {account.ca_file}, or its name "
                f"does not match {account.host!r}: check ca_file and host"
            )
        else:
            advice = (
                "if the server uses a self-signed or private certificate, set ca_file to "
                "its PEM certificate (or its CA's) in the account"
            )
        return ConnectionFailedError(
            f"the TLS certificate of {where} (account {name!r}) could not be verified "
            f"({reason}); {advice}"
        )
    if isinstance(error, ssl.SSLError):
        return ConnectionFailedError(
            f"TLS with {where} failed for account {name!r} "
            f"({error.strerror or error.reason or _text(error)}): check that "
            'security matches the port ("tls" usually 993, "starttls" usually 143)'
        )
    if isinstance(error, ConnectionRefusedError):
        return ConnectionFailedError(
            f"{where} refused the connection (account {name!r}): check host and port, "
            "and that the IMAP server is running"
        )
    if isinstance(error, TimeoutError):
        return ConnectionFailedError(
            f"no answer from {where} within {account.timeout} s (account {name!r}): check "
            "host, port, security and any firewall, or raise timeout"
        )
    if isinstance(error, OSError):
        return ConnectionFailedError(
            f"cannot reach {where} (account {name!r}): {error.strerror or _text(error)}; "
            "check host, port and your network"
        )
    return ConnectionFailedError(
        f"{where} did not answer as an IMAP server should (account {name!r}): "
        f"{_scrub(_text(error), password)}; check port and security"
    )


def _quiet_imaplib(client: imapclient.IMAPClient) -> None:
    """Turn off imaplib's protocol trace, which imapclient turns on (debug level 5, sent
    to the "imapclient.imaplib" logger). At that level imaplib formats the repr of every
    response it reads, message literals included, whether or not the logger keeps it:
    most of the CPU of downloading mail (docs/benchmarks.md). notnow never logs the
    protocol, which would carry the user's mail."""
    client._imap.debug = 0


def _shutdown(client: Any) -> None:
    with suppress(OSError, imaplib.IMAP4.error, ValueError):
        client.shutdown()


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "127.0.0.1", "::1")


def _utc(value: Any) -> datetime | None:
    return value.astimezone(UTC) if isinstance(value, datetime) else None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _decode(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _text(error: BaseException) -> str:
    """An exception's message without Python's bytes repr (b'...')."""
    parts = [_decode(arg) for arg in error.args] or [type(error).__name__]
    text = " ".join(parts)
    match = re.fullmatch(r"b'(.*)'", text)
    return match.group(1) if match else text


def _scrub(text: str, password: str) -> str:
    return text.replace(password, "***") if password else text


def _listing(names: Sequence[str]) -> str:
    return ", ".join(repr(name) for name in sorted(names)) or "none"
