"""The Mailbox contract against MaildirMailbox, in both layouts it reads.

The store writes messages the way delivery agents and sync tools do (tmp/ then new/ or
cur/, mtime = arrival date) without going through the Mailbox under test.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from mailbox_contract import DRAFTS, INBOX, MailboxTests, header_of

from notnow.mailbox.maildir import (
    INFO_FLAGS,
    MaildirMailbox,
    encode_modified_utf7,
    info_flags,
    split_filename,
)

LETTERS = {flag: letter for letter, flag in INFO_FLAGS.items()}


class MaildirStore:
    """A Maildir tree on disk plus the Mailbox reading it (the contract's ``store``)."""

    def __init__(self, root: Path, layout: str, folders: Iterable[str]) -> None:
        self.root = root
        self.layout = layout
        self._count = 0
        for folder in (INBOX, *folders):
            self._make(self.path(folder))
        self.mailbox = MaildirMailbox(root)

    def path(self, folder: str) -> Path:
        if folder == INBOX:
            return self.root / "INBOX" if self.layout == "verbatim" else self.root
        parts = folder.split("/")
        if self.layout == "maildir++":
            # Dovecot's spelling: modified UTF-7, "." between levels.
            return self.root / ("." + ".".join(encode_modified_utf7(part) for part in parts))
        # mbsync Verbatim: raw UTF-8 directory names.
        return self.root.joinpath(*parts)

    @staticmethod
    def _make(path: Path) -> None:
        for sub in ("cur", "new", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)

    def deliver(
        self,
        folder: str,
        raw: bytes,
        date: datetime | None = None,
        flags: Iterable[str] = (),
    ) -> None:
        self._count += 1
        path = self.path(folder)
        name = f"{time.time_ns()}.M{self._count}P{os.getpid()}.testhost,S={len(raw)}"
        temporary = path / "tmp" / name
        temporary.write_bytes(raw)
        letters = "".join(sorted(LETTERS[flag] for flag in flags))
        final = path / "cur" / f"{name}:2,{letters}" if letters else path / "new" / name
        if date is not None:
            stamp = int(date.timestamp() * 1_000_000_000)
            os.utime(temporary, ns=(stamp, stamp))
        os.rename(temporary, final)

    def _files(self, folder: str) -> list[Path]:
        path = self.path(folder)
        return sorted(
            file for sub in ("new", "cur") for file in (path / sub).iterdir() if file.is_file()
        )

    def flags(self, folder: str) -> dict[str, set[str]]:
        result: dict[str, set[str]] = {}
        for file in self._files(folder):
            _key, info = split_filename(file.name)
            message_id = header_of(file.read_bytes(), "Message-ID")
            assert message_id is not None
            result[message_id] = set(info_flags(info)) if file.parent.name == "cur" else set()
        return result

    def raw(self, folder: str) -> list[bytes]:
        return [file.read_bytes() for file in self._files(folder)]


class TestMaildirPlusPlus(MailboxTests):
    """Dovecot / offlineimap / mbsync ``SubFolders Maildir++``."""

    layout: str = "maildir++"

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[MaildirStore]:
        root = tmp_path / "Maildir"
        store = MaildirStore(root, self.layout, [DRAFTS, *self.EXTRA_FOLDERS])
        assert store.mailbox.layout == ("maildir++" if self.layout == "maildir++" else "verbatim")
        yield store
        store.mailbox.close()


class TestMaildirVerbatim(TestMaildirPlusPlus):
    """mbsync ``SubFolders Verbatim`` with ``Inbox ~/Mail/INBOX``."""

    layout = "verbatim"


class TestMaildirVerbatimRootInbox(TestMaildirPlusPlus):
    """mbsync ``SubFolders Verbatim`` with the Inbox at the root of the tree."""

    layout = "verbatim-root-inbox"
