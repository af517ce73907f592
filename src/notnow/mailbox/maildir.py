"""The Maildir backend: a local Maildir (Dovecot, offlineimap, mbsync) as a ``Mailbox``.

It owns reading a Maildir tree without changing it, the folder-name mapping of the two
layouts it understands, the modified UTF-7 codec those names may use, and the maildir
delivery protocol for the one thing it writes: drafts.

Layouts (detected, or forced with ``layout=``):

- ``maildir++`` (Dovecot's default, offlineimap, mbsync ``SubFolders Maildir++``): INBOX
  is the root's ``cur/new/tmp``; folder ``Foo/Bar`` is the directory ``.Foo.Bar``.
- ``verbatim`` (mbsync ``SubFolders Verbatim``, Dovecot ``LAYOUT=fs``): folder ``Foo/Bar``
  is ``Foo/Bar/{cur,new,tmp}``; INBOX is the root if it is a Maildir, else ``INBOX/``.

Directory names may be modified UTF-7 (Dovecot) or raw UTF-8 (other tools); both are
read. Folder names use ``/`` as the hierarchy separator in either layout.

What it must not do: change the user's mail. Message files are only opened for reading;
nothing is moved from ``new/`` to ``cur/``, renamed, re-flagged, touched or deleted.
The stdlib ``mailbox`` module is deliberately not used: its ``Maildir`` moves messages
from ``new/`` to ``cur/`` and rewrites files on flag changes.

Checkpoints: ``validity`` is always 0 and ``position`` a file's mtime in nanoseconds
(the delivery time: delivery agents create the file then). ``fetch_new`` returns the
messages whose position is ``>= after.position``, so the messages delivered in the
checkpoint's very nanosecond (coarse filesystem clocks make ties common) are read again;
the daemon de-duplicates by ``key``, the Maildir unique name (the file name before its
``:2,`` info part), which survives the renames clients do when they change flags. A
message moved into a folder keeps its old mtime; one older than the checkpoint is not
seen as new (a Maildir has no arrival order other than the file times).

Keywords: Maildir keywords are per-client (Dovecot's ``dovecot-keywords``, Courier's
``courierimapkeywords/``), so ``add_keyword`` does nothing and returns False.
"""

from __future__ import annotations

import base64
import binascii
import errno
import itertools
import logging
import os
import re
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from notnow.errors import FolderNotFoundError, MailboxError, UserError
from notnow.mailbox.base import (
    KNOWN_DRAFTS_NAMES,
    KNOWN_SENT_NAMES,
    Checkpoint,
    Fetched,
    FolderInfo,
)

if TYPE_CHECKING:
    from notnow.config import AccountConfig

logger = logging.getLogger(__name__)

Layout = Literal["maildir++", "verbatim"]

INBOX = "INBOX"
DEFAULT_DRAFTS = "Drafts"
SOURCE_HEADER = "X-Notnow-Source"

# Maildir info letters -> IMAP system flags (the letters Dovecot, mutt and mbsync agree on).
INFO_FLAGS = {
    "D": "\\Draft",
    "F": "\\Flagged",
    "R": "\\Answered",
    "S": "\\Seen",
    "T": "\\Deleted",
}
DRAFT_INFO = "2,DS"

_SUBDIRS = ("cur", "new", "tmp")
# "<unique>:2,<flags>"; some tools (mbsync InfoDelimiter, Windows) use "!" or ";" instead.
_INFO = re.compile(r"^(?P<key>.+?)(?:[:!;](?P<info>[12],[^:!;]*))?$")
_MUTF7_B64 = re.compile(r"[A-Za-z0-9+,]*")
_counter = itertools.count()


# --- modified UTF-7 (RFC 3501 section 5.1.3) ------------------------------------------


def encode_modified_utf7(name: str) -> str:
    """``name`` as IMAP modified UTF-7: printable ASCII as is, ``&`` as ``&-``, the rest
    as ``&<base64 of UTF-16BE, "," for "/", unpadded>-``."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = "".join(pending).encode("utf-16-be")
            encoded = base64.b64encode(data).decode("ascii").rstrip("=").replace("/", ",")
            out.append(f"&{encoded}-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def decode_modified_utf7(name: str) -> str:
    """The inverse of ``encode_modified_utf7``; ValueError unless ``name`` is canonical
    modified UTF-7 (so a raw name such as ``R&D`` or ``Entwürfe`` is rejected)."""
    out: list[str] = []
    index = 0
    while index < len(name):
        char = name[index]
        if not 0x20 <= ord(char) <= 0x7E:
            raise ValueError(f"not modified UTF-7: {name!r} has a non-ASCII character")
        if char != "&":
            out.append(char)
            index += 1
            continue
        end = name.find("-", index + 1)
        if end < 0:
            raise ValueError(f"not modified UTF-7: {name!r} has an unterminated '&'")
        chunk = name[index + 1 : end]
        if not chunk:
            out.append("&")
        else:
            if not _MUTF7_B64.fullmatch(chunk):
                raise ValueError(f"not modified UTF-7: {name!r} has a bad base64 run")
            padded = chunk.replace(",", "/") + "=" * (-len(chunk) % 4)
            try:
                data = base64.b64decode(padded, validate=True)
                out.append(data.decode("utf-16-be"))
            except (binascii.Error, UnicodeDecodeError) as error:
                raise ValueError(f"not modified UTF-7: {name!r}: {error}") from error
        index = end + 1
    decoded = "".join(out)
    # Canonical form only: rejects encoded printable ASCII and stray bits, which real
    # encoders never write and which would make two directories map to one name.
    if encode_modified_utf7(decoded) != name:
        raise ValueError(f"not canonical modified UTF-7: {name!r}")
    return decoded


def decode_folder_component(raw: str) -> str:
    """A directory name as a folder name: modified UTF-7 if it is that, else as is."""
    if "&" not in raw:
        return raw
    try:
        return decode_modified_utf7(raw)
    except ValueError:
        return raw


# --- message files --------------------------------------------------------------------


def split_filename(filename: str) -> tuple[str, str]:
    """A Maildir file name -> (unique name, info); info is "" for a file in ``new/``."""
    match = _INFO.match(filename)
    if match is None:  # only for "", which callers never pass
        return filename, ""
    return match["key"], match["info"] or ""


def info_flags(info: str) -> tuple[str, ...]:
    """``2,DRS`` -> the IMAP flags; lower-case letters (per-client keywords) are skipped."""
    if not info.startswith("2,"):
        return ()
    return tuple(sorted({INFO_FLAGS[letter] for letter in info[2:] if letter in INFO_FLAGS}))


def read_headers(path: Path) -> bytes:
    """The header block of a message file: lines up to the first blank line."""
    lines: list[bytes] = []
    with path.open("rb") as handle:
        for line in handle:
            if line in (b"\n", b"\r\n"):
                break
            lines.append(line)
    return b"".join(lines)


def unique_name(when: float | None = None) -> str:
    """A new Maildir unique name, Dovecot style: ``sec.M<usec>P<pid>Q<n>R<random>.host``."""
    now = time.time() if when is None else when
    seconds = int(now)
    micros = int((now - seconds) * 1_000_000)
    host = socket.gethostname().replace("/", "\\057").replace(":", "\\072") or "localhost"
    return f"{seconds}.M{micros}P{os.getpid()}Q{next(_counter)}R{secrets.token_hex(8)}.{host}"


@dataclass(frozen=True)
class _Entry:
    """One message file as listed: enough to sort, filter and read it."""

    key: str
    path: Path
    position: int
    flags: tuple[str, ...]


def _is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() or (path / "new").is_dir()


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _not_a_maildir(root: Path, why: str) -> FolderNotFoundError:
    return FolderNotFoundError(
        f"{root} is not a Maildir: {why}",
        [
            "set the account's `maildir` key to the Maildir root "
            f"(the directory holding cur/ and new/), not {root}"
        ],
    )


def detect_layout(root: Path) -> Layout:
    """Which layout the Maildir at ``root`` uses; FolderNotFoundError if it is none."""
    if not root.is_dir():
        raise _not_a_maildir(root, "no such directory")
    children = [child for child in root.iterdir() if child.is_dir()]
    if any(child.name.startswith(".") and _is_maildir(child) for child in children):
        return "maildir++"
    for child in children:
        if child.name.startswith(".") or child.name in _SUBDIRS:
            continue
        if _is_maildir(child) or any(_is_maildir(path) for path, _ in _walk_dirs(child)):
            return "verbatim"
    if _is_maildir(root):
        return "maildir++"
    raise _not_a_maildir(root, "no cur/ and new/ in it, nor Maildir folders below it")


def _walk_dirs(top: Path) -> Iterator[tuple[Path, tuple[str, ...]]]:
    """Every directory below ``top`` (not cur/new/tmp, not hidden), with its path parts."""
    stack: list[tuple[Path, tuple[str, ...]]] = [(top, ())]
    while stack:
        directory, parts = stack.pop()
        try:
            children = sorted(directory.iterdir())
        except OSError:
            continue
        for child in children:
            if child.name.startswith(".") or child.name in _SUBDIRS or not child.is_dir():
                continue
            if child.is_symlink():
                continue
            stack.append((child, (*parts, child.name)))
            yield child, (*parts, child.name)


class MaildirMailbox:
    """A local Maildir tree as a ``Mailbox`` (see the module docstring)."""

    def __init__(
        self,
        root: Path,
        drafts_folder: str | None = None,
        layout: Layout | None = None,
    ) -> None:
        self.root = Path(root).expanduser()
        self.layout: Layout = layout or detect_layout(self.root)
        self._drafts = drafts_folder
        self._closed = False
        logger.debug("Maildir %s: layout %s", self.root, self.layout)

    @classmethod
    def open(cls, account: AccountConfig) -> MaildirMailbox:
        """The account's Maildir (its ``maildir`` key) as a Mailbox."""
        if account.maildir is None:
            raise UserError(
                f"account {account.name!r} is not a Maildir account",
                [f"set `maildir` in the [[account]] named {account.name!r}"],
            )
        return cls(account.maildir, drafts_folder=account.drafts_folder)

    # --- folders

    def _folders(self) -> dict[str, Path]:
        """Folder name -> its Maildir directory, INBOX first."""
        found: dict[str, Path] = {}
        if self.layout == "maildir++":
            if _is_maildir(self.root):
                found[INBOX] = self.root
            for child in sorted(self.root.iterdir()):
                name = child.name
                if not name.startswith(".") or name in (".", "..") or len(name) < 2:
                    continue
                if not child.is_dir() or not _is_maildir(child):
                    continue
                folder = "/".join(decode_folder_component(part) for part in name[1:].split("."))
                found.setdefault(folder, child)
            return found
        inbox: Path | None = self.root if _is_maildir(self.root) else None
        others: dict[str, Path] = {}
        for path, components in _walk_dirs(self.root):
            if not _is_maildir(path):
                continue
            folder = "/".join(decode_folder_component(part) for part in components)
            if inbox is None and len(components) == 1 and folder.upper() == INBOX:
                inbox = path
                continue
            others.setdefault(folder, path)
        if inbox is not None:
            found[INBOX] = inbox
        found.update(sorted(others.items()))
        return found

    def _lookup(self, folder: str) -> Path | None:
        folders = self._folders()
        if folder in folders:
            return folders[folder]
        if folder.upper() == INBOX:
            return folders.get(INBOX)
        # Courier/Dovecot IMAP spellings of the same folder: "INBOX.Drafts", "INBOX/Drafts".
        for prefix in ("INBOX.", "INBOX/"):
            if folder.upper().startswith(prefix):
                rest = folder[len(prefix) :]
                return folders.get(rest) or folders.get(rest.replace(".", "/"))
        return None

    def _folder_path(self, folder: str) -> Path:
        path = self._lookup(folder)
        if path is None:
            raise FolderNotFoundError(
                f"Maildir folder {folder!r} not found in {self.root}",
                [
                    "check the account's `folders` and `drafts_folder` keys; "
                    f"existing folders: {', '.join(self._folders()) or 'none'}"
                ],
            )
        return path

    def _new_folder_path(self, folder: str) -> Path:
        parts = [part for part in folder.split("/") if part]
        if not parts or any(part in (".", "..") for part in parts):
            raise FolderNotFoundError(f"cannot create Maildir folder {folder!r}")
        if self.layout == "maildir++":
            # Dovecot names non-ASCII folders in modified UTF-7; "." is its separator.
            encoded = [encode_modified_utf7(part) for part in parts]
            if any("." in part for part in encoded):
                raise FolderNotFoundError(
                    f"cannot create Maildir++ folder {folder!r}: '.' is the separator",
                    ["set `drafts_folder` to a name without '.'"],
                )
            return self.root / ("." + ".".join(encoded))
        return self.root.joinpath(*parts)

    def _create_folder(self, folder: str) -> Path:
        path = self._new_folder_path(folder)
        try:
            for sub in _SUBDIRS:
                (path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
            if self.layout == "maildir++":
                # The Maildir++ marker Courier and Dovecot write into every subfolder.
                (path / "maildirfolder").touch(mode=0o600, exist_ok=True)
        except OSError as error:
            raise MailboxError(
                f"cannot create Maildir folder {folder!r} at {path}: {error}"
            ) from error
        logger.info("Created Maildir folder %s at %s", folder, path)
        return path

    def list_folders(self) -> list[FolderInfo]:
        return [FolderInfo(name) for name in self._folders()]

    def drafts_folder(self) -> str:
        if self._drafts:
            return self._drafts
        for name in KNOWN_DRAFTS_NAMES:
            if self._lookup(name) is not None:
                return name
        return DEFAULT_DRAFTS

    # --- reading

    def _entries(self, path: Path) -> list[_Entry]:
        """Every message file of the Maildir at ``path``, oldest first."""
        entries: list[_Entry] = []
        for sub in ("new", "cur"):
            try:
                listing = list(os.scandir(path / sub))
            except FileNotFoundError:
                continue
            except OSError as error:
                raise MailboxError(f"cannot list {path / sub}: {error}") from error
            for item in listing:
                if item.name.startswith("."):
                    continue
                try:
                    stat = item.stat(follow_symlinks=True)
                except FileNotFoundError:
                    continue  # renamed or removed by a client since the listing
                if not os.path.isfile(item.path):
                    continue
                key, info = split_filename(item.name)
                flags = info_flags(info) if sub == "cur" else ()
                entries.append(_Entry(key, Path(item.path), stat.st_mtime_ns, flags))
        entries.sort(key=lambda entry: (entry.position, entry.key))
        return entries

    def checkpoint(self, folder: str) -> Checkpoint:
        entries = self._entries(self._folder_path(folder))
        return Checkpoint(validity=0, position=entries[-1].position if entries else 0)

    def fetch_new(
        self,
        folder: str,
        after: Checkpoint | None,
        since: datetime | None = None,
        batch_size: int = 200,
    ) -> Iterator[list[Fetched]]:
        # Not a generator itself: a missing folder raises here, at the call.
        path = self._folder_path(folder)
        entries = self._entries(path)
        if after is not None and after.validity == 0:
            entries = [entry for entry in entries if entry.position >= after.position]
        elif since is not None:
            floor = int(since.timestamp() * 1_000_000_000)
            entries = [entry for entry in entries if entry.position >= floor]
        return self._batches(folder, path, entries, max(1, batch_size))

    def _batches(
        self, folder: str, path: Path, entries: list[_Entry], batch_size: int
    ) -> Iterator[list[Fetched]]:
        batch: list[Fetched] = []
        for entry in entries:
            fetched = self._read(folder, path, entry)
            if fetched is None:
                continue
            batch.append(fetched)
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _read(self, folder: str, path: Path, entry: _Entry) -> Fetched | None:
        current = entry
        for _attempt in range(3):
            try:
                raw = current.path.read_bytes()
            except FileNotFoundError:
                # A client renamed it (new/ -> cur/, a flag change) or removed it since
                # the listing; look for its unique name once more before giving up.
                found = next((item for item in self._entries(path) if item.key == entry.key), None)
                if found is None:
                    logger.info("Maildir message %s in %s vanished; skipped", entry.key, folder)
                    return None
                current = found
                continue
            except OSError as error:
                if error.errno in (errno.EISDIR, errno.EACCES):
                    logger.warning(
                        "Maildir message %s in %s unreadable: %s", entry.key, folder, error
                    )
                    return None
                raise MailboxError(f"cannot read {current.path}: {error}") from error
            return Fetched(
                folder=folder,
                key=entry.key,
                position=entry.position,
                raw=raw,
                internal_date=datetime.fromtimestamp(entry.position / 1_000_000_000, tz=UTC),
                flags=current.flags,
                validity=0,
            )
        logger.info("Maildir message %s in %s kept moving; skipped", entry.key, folder)
        return None

    # --- drafts

    def append_draft(self, raw: bytes, folder: str | None = None) -> None:
        target = folder or self.drafts_folder()
        path = self._lookup(target)
        if path is None:
            if folder is not None and folder != self.drafts_folder():
                path = self._folder_path(folder)  # raises FolderNotFoundError
            else:
                path = self._create_folder(target)
        self._deliver(path, raw, DRAFT_INFO)
        logger.info("Draft saved to Maildir folder %s", target)

    def _deliver(self, path: Path, raw: bytes, info: str) -> Path:
        """The maildir delivery protocol: write tmp/, fsync, rename into cur/, fsync dir."""
        for sub in _SUBDIRS:
            (path / sub).mkdir(mode=0o700, exist_ok=True)
        for _attempt in range(5):
            name = unique_name()
            temporary = path / "tmp" / name
            try:
                descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            except OSError as error:
                raise MailboxError(f"cannot write a draft into {path}: {error}") from error
            break
        else:
            raise MailboxError(f"cannot find a free unique name in {path / 'tmp'}")
        final = path / "cur" / f"{name}:{info}"
        try:
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(raw)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.rename(temporary, final)
                _fsync_dir(path / "cur")
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
        except OSError as error:
            raise MailboxError(f"cannot write a draft into {path}: {error}") from error
        return final

    def find_sources(self, folder: str | None = None) -> set[str]:
        target = folder or self.drafts_folder()
        path = self._lookup(target)
        if path is None:
            if folder is not None:
                self._folder_path(folder)  # raises FolderNotFoundError
            return set()  # the default Drafts folder is created on the first draft
        sources: set[str] = set()
        for headers in self._headers(path):
            for value in headers.get_all(SOURCE_HEADER) or ():
                source = " ".join(str(value).split())
                if source:
                    sources.add(source)
        return sources

    def find_replies(self, message_ids: set[str]) -> set[str]:
        if not message_ids:
            return set()
        path = next(
            (found for name in KNOWN_SENT_NAMES if (found := self._lookup(name)) is not None),
            None,
        )
        if path is None:
            return set()
        replied: set[str] = set()
        for headers in self._headers(path):
            answered = " ".join(str(headers.get("In-Reply-To", "")).split())
            replied.update(message_id for message_id in message_ids if message_id in answered)
        return replied

    def _headers(self, path: Path) -> Iterator[Message]:
        """The header block of every message in the folder at ``path`` (bodies unread)."""
        parser = BytesHeaderParser(policy=compat32)
        for entry in self._entries(path):
            try:
                yield parser.parsebytes(read_headers(entry.path))
            except FileNotFoundError:
                continue  # a client moved or removed it meanwhile
            except OSError as error:
                raise MailboxError(f"cannot read {entry.path}: {error}") from error

    # --- the rest

    def add_keyword(self, folder: str, key: str, keyword: str) -> bool:
        # Maildir keywords live in per-client files (dovecot-keywords, Courier's
        # courierimapkeywords/); writing them would mean renaming the user's files.
        return False

    def close(self) -> None:
        self._closed = True
