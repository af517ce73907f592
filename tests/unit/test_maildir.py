"""MaildirMailbox details the contract does not cover: layouts, the UTF-7 codec, files
that move under it, crash-safe drafts, and leaving every byte of the user's mail alone."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mailbox_contract import header_of, message_id, sample_draft, sample_message

from notnow.config import AccountConfig
from notnow.errors import FolderNotFoundError, MailboxError, UserError
from notnow.mailbox.base import Checkpoint
from notnow.mailbox.maildir import (
    MaildirMailbox,
    decode_folder_component,
    decode_modified_utf7,
    detect_layout,
    encode_modified_utf7,
    info_flags,
    split_filename,
)

T0 = 1_715_000_000_000_000_000  # ns, May 2024


def make_maildir(path: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def put(folder: Path, name: str, raw: bytes, mtime_ns: int, sub: str = "new") -> Path:
    file = folder / sub / name
    file.write_bytes(raw)
    os.utime(file, ns=(mtime_ns, mtime_ns))
    return file


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Every file under root: relative path -> (mtime ns, sha256)."""
    result = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            file = Path(dirpath, name)
            digest = hashlib.sha256(file.read_bytes()).hexdigest()
            result[str(file.relative_to(root))] = (file.stat().st_mtime_ns, digest)
    return result


# --- modified UTF-7 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("INBOX", "INBOX"),
        ("Entwürfe", "Entw&APw-rfe"),
        ("日本語", "&ZeVnLIqe-"),
        ("R&D", "R&-D"),
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501
        ("Réponses 日本", "R&AOk-ponses &ZeVnLA-"),
        ("😀", "&2D3eAA-"),
    ],
)
def test_modified_utf7_known_values(name: str, encoded: str) -> None:
    assert encode_modified_utf7(name) == encoded
    assert decode_modified_utf7(encoded) == name


@given(st.text())
def test_modified_utf7_round_trips(name: str) -> None:
    encoded = encode_modified_utf7(name)
    assert encoded.isascii()
    assert decode_modified_utf7(encoded) == name
    assert decode_folder_component(encoded) == name


@given(st.text())
def test_modified_utf7_decode_is_canonical_or_refuses(text: str) -> None:
    try:
        decoded = decode_modified_utf7(text)
    except ValueError:
        return
    assert encode_modified_utf7(decoded) == text


@pytest.mark.parametrize("raw", ["Entwürfe", "R&D", "Q&A-Sessions &", "&Jjo", "&AGE-", "Bozze"])
def test_raw_utf8_directory_names_are_taken_as_they_are(raw: str) -> None:
    # "&AGE-" decodes to "a", which no encoder writes that way: not UTF-7, so raw.
    assert decode_folder_component(raw) == raw


# --- file names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "key", "flags"),
    [
        ("1715000000.M1P2.host", "1715000000.M1P2.host", ()),
        (
            "1715000000.M1P2.host,S=1234,W=1300:2,FS",
            "1715000000.M1P2.host,S=1234,W=1300",
            ("\\Flagged", "\\Seen"),
        ),
        (
            "1715000000.M1P2.host!2,DRT",
            "1715000000.M1P2.host",
            ("\\Answered", "\\Deleted", "\\Draft"),
        ),
        ("1715000000.M1P2.host:2,Sab", "1715000000.M1P2.host", ("\\Seen",)),
        ("1715000000.M1P2.host:2,", "1715000000.M1P2.host", ()),
    ],
)
def test_filename_key_and_flags(filename: str, key: str, flags: tuple[str, ...]) -> None:
    parsed_key, info = split_filename(filename)
    assert parsed_key == key
    assert info_flags(info) == flags


# --- layouts --------------------------------------------------------------------------


def test_maildir_plus_plus_layout_with_dovecot_names(tmp_path: Path) -> None:
    root = make_maildir(tmp_path / "Maildir")
    make_maildir(root / ".Drafts")
    make_maildir(root / ".Jobs.Absagen")
    make_maildir(root / ".Entw&APw-rfe")
    make_maildir(root / ".Bewerbungen 2024")  # mbsync Maildir++ writes raw UTF-8 ...
    make_maildir(root / ".Größe")  # ... and non-ASCII as it is
    (root / "dovecot-uidlist").write_text("3 V1 N1\n")
    (root / ".notamaildir").mkdir()
    mailbox = MaildirMailbox(root)
    assert mailbox.layout == "maildir++"
    names = [info.name for info in mailbox.list_folders()]
    assert names[0] == "INBOX"
    assert set(names) == {
        "INBOX",
        "Drafts",
        "Jobs/Absagen",
        "Entwürfe",
        "Bewerbungen 2024",
        "Größe",
    }
    # The Courier / Dovecot IMAP spellings of a Maildir++ folder find it too.
    put(root / ".Drafts", "1.M1P1.h", sample_draft(1), T0)
    assert mailbox.find_sources("INBOX.Drafts") == {message_id(1)}


def test_verbatim_layout_nested_folders(tmp_path: Path) -> None:
    root = tmp_path / "Mail"
    make_maildir(root / "INBOX")
    make_maildir(root / "Drafts")
    make_maildir(root / "Jobs" / "Absagen")  # "Jobs" itself is not a Maildir
    make_maildir(root / "Entwürfe")
    (root / ".mbsyncstate").write_text("")
    mailbox = MaildirMailbox(root)
    assert mailbox.layout == "verbatim"
    names = {info.name for info in mailbox.list_folders()}
    assert names == {"INBOX", "Drafts", "Jobs/Absagen", "Entwürfe"}
    put(root / "Jobs" / "Absagen", "1.M1P1.h", sample_message(1), T0)
    [[item]] = mailbox.fetch_new("Jobs/Absagen", None)
    assert header_of(item.raw, "Message-ID") == message_id(1)


def test_plain_maildir_is_maildir_plus_plus_with_inbox_only(tmp_path: Path) -> None:
    root = make_maildir(tmp_path / "Maildir")
    mailbox = MaildirMailbox(root)
    assert mailbox.layout == "maildir++"
    assert [info.name for info in mailbox.list_folders()] == ["INBOX"]
    assert mailbox.drafts_folder() == "Drafts"


@pytest.mark.parametrize("setup", ["missing", "empty", "file", "only-junk"])
def test_not_a_maildir_names_the_path_and_the_config_key(tmp_path: Path, setup: str) -> None:
    root = tmp_path / "Mail"
    if setup == "empty":
        root.mkdir()
    elif setup == "file":
        root.write_text("not a directory")
    elif setup == "only-junk":
        (root / "photos" / "2024").mkdir(parents=True)
    with pytest.raises(FolderNotFoundError) as caught:
        MaildirMailbox(root)
    assert isinstance(caught.value, UserError)
    assert str(root) in str(caught.value)
    assert "`maildir`" in str(caught.value)


def test_detect_layout_is_forced_by_the_constructor(tmp_path: Path) -> None:
    root = make_maildir(tmp_path / "Maildir")
    assert detect_layout(root) == "maildir++"
    mailbox = MaildirMailbox(root, layout="verbatim")
    mailbox.append_draft(sample_draft(1))
    assert list((root / "Drafts" / "cur").iterdir())


def test_open_uses_the_account_maildir_and_drafts_folder(tmp_path: Path) -> None:
    root = make_maildir(tmp_path / "Maildir")
    make_maildir(root / ".Entw&APw-rfe")
    account = AccountConfig(
        name="local", identity="Anna <anna@example.org>", maildir=root, drafts_folder="Entwürfe"
    )
    mailbox = MaildirMailbox.open(account)
    assert mailbox.drafts_folder() == "Entwürfe"
    mailbox.append_draft(sample_draft(1))
    assert len(list((root / ".Entw&APw-rfe" / "cur").iterdir())) == 1

    imap = AccountConfig(name="work", identity="Anna <anna@example.org>", host="imap.example.org")
    with pytest.raises(UserError, match="maildir"):
        MaildirMailbox.open(imap)


# --- drafts folder --------------------------------------------------------------------


def test_drafts_folder_is_found_by_known_name(tmp_path: Path) -> None:
    root = make_maildir(tmp_path / "Maildir")
    make_maildir(root / ".Entw&APw-rfe")
    assert MaildirMailbox(root).drafts_folder() == "Entwürfe"
    make_maildir(root / ".Drafts")
    assert MaildirMailbox(root).drafts_folder() == "Drafts"


def test_append_draft_creates_a_maildir_plus_plus_drafts_folder(tmp_path: Path) -> None:
    root = make_maildir(tmp_path / "Maildir")
    mailbox = MaildirMailbox(root)
    assert mailbox.find_sources() == set()
    assert not (root / ".Drafts").exists()  # looking does not create
    mailbox.append_draft(sample_draft(1))
    assert (root / ".Drafts" / "maildirfolder").is_file()
    [file] = (root / ".Drafts" / "cur").iterdir()
    key, info = split_filename(file.name)
    assert info == "2,DS"
    assert key.count(".") >= 2 and f"P{os.getpid()}" in key
    assert list((root / ".Drafts" / "tmp").iterdir()) == []
    assert list((root / ".Drafts" / "new").iterdir()) == []
    assert file.read_bytes() == sample_draft(1)
    assert mailbox.find_sources() == {message_id(1)}
    assert "Drafts" in {info.name for info in mailbox.list_folders()}


def test_drafts_get_unique_names(tmp_path: Path) -> None:
    root = make_maildir(tmp_path / "Maildir")
    mailbox = MaildirMailbox(root)
    for index in range(50):
        mailbox.append_draft(sample_draft(index))
    assert len(list((root / ".Drafts" / "cur").iterdir())) == 50
    assert len(mailbox.find_sources()) == 50


def test_a_failed_append_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_maildir(tmp_path / "Maildir")
    make_maildir(root / ".Drafts")
    mailbox = MaildirMailbox(root)

    def disk_full(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    # The failure a full disk gives at fsync time, after part of the file was written.
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(MailboxError):
        mailbox.append_draft(sample_draft(1))
    monkeypatch.undo()
    for sub in ("cur", "new", "tmp"):
        assert list((root / ".Drafts" / sub).iterdir()) == []
    assert mailbox.find_sources() == set()


def test_find_sources_reads_only_headers(tmp_path: Path) -> None:
    root = make_maildir(tmp_path / "Maildir")
    drafts = make_maildir(root / ".Drafts")
    # A body line that looks like the header must not count.
    body_trap = b"Subject: notes\n\nX-Notnow-Source: <trap@example.org>\n"
    put(drafts, "1.M1P1.h:2,DS", body_trap, T0, sub="cur")
    folded = b"X-Notnow-Source:\n <folded@example.org>\nSubject: x\n\nbody\n"
    put(drafts, "2.M1P1.h:2,DS", folded, T0, sub="cur")
    put(drafts, "3.M1P1.h:2,DS", sample_draft(7), T0, sub="cur")
    assert MaildirMailbox(root).find_sources() == {"<folded@example.org>", message_id(7)}


# --- reading --------------------------------------------------------------------------


def test_reading_touches_nothing_on_disk(tmp_path: Path) -> None:
    root = make_maildir(tmp_path / "Maildir")
    make_maildir(root / ".Drafts")
    put(root, "1.M1P1.h", sample_message(1), T0)
    put(root, "2.M1P1.h:2,S", sample_message(2), T0 + 1, sub="cur")
    put(root / ".Drafts", "3.M1P1.h:2,DS", sample_draft(1), T0, sub="cur")
    before = snapshot(root)
    mailbox = MaildirMailbox(root)
    batches = list(mailbox.fetch_new("INBOX", None, batch_size=1))
    assert [item.flags for batch in batches for item in batch] == [(), ("\\Seen",)]
    mailbox.checkpoint("INBOX")
    mailbox.find_sources()
    mailbox.list_folders()
    assert mailbox.add_keyword("INBOX", "1.M1P1.h", "NotNowDrafted") is False
    mailbox.close()
    assert snapshot(root) == before


def test_same_mtime_messages_are_reread_after_the_checkpoint(tmp_path: Path) -> None:
    root = make_maildir(tmp_path / "Maildir")
    put(root, "a.M1P1.h", sample_message(1), T0)
    mailbox = MaildirMailbox(root)
    checkpoint = mailbox.checkpoint("INBOX")
    assert checkpoint == Checkpoint(0, T0)
    # Delivered in the same clock tick as the last message read.
    put(root, "b.M1P1.h", sample_message(2), T0)
    put(root, "c.M1P1.h", sample_message(3), T0 - 1)  # moved in with an older mtime
    items = [item for batch in mailbox.fetch_new("INBOX", checkpoint) for item in batch]
    assert [item.key for item in items] == ["a.M1P1.h", "b.M1P1.h"]


def test_a_message_renamed_by_a_client_while_reading_is_still_read(tmp_path: Path) -> None:
    root = make_maildir(tmp_path / "Maildir")
    first = put(root, "1.M1P1.h", sample_message(1), T0)
    second = put(root, "2.M1P1.h", sample_message(2), T0 + 1)
    third = put(root, "3.M1P1.h", sample_message(3), T0 + 2)
    mailbox = MaildirMailbox(root)
    batches = mailbox.fetch_new("INBOX", None, batch_size=1)  # listed now, read lazily
    assert [item.key for item in next(batches)] == ["1.M1P1.h"]
    # The user's client opens message 2 (new/ -> cur/ with \Seen) and deletes message 3.
    os.rename(second, root / "cur" / "2.M1P1.h:2,S")
    third.unlink()
    rest = [item for batch in batches for item in batch]
    assert [item.key for item in rest] == ["2.M1P1.h"]
    assert rest[0].flags == ("\\Seen",)
    assert rest[0].position == T0 + 1  # rename keeps the mtime
    assert first.exists()


def test_since_compares_the_delivery_time(tmp_path: Path) -> None:
    root = make_maildir(tmp_path / "Maildir")
    put(root, "old.M1P1.h", sample_message(1), T0 - 10**9)
    put(root, "new.M1P1.h", sample_message(2), T0)
    since = datetime.fromtimestamp(T0 / 10**9, tz=UTC)
    items = [
        item for batch in MaildirMailbox(root).fetch_new("INBOX", None, since) for item in batch
    ]
    assert [item.key for item in items] == ["new.M1P1.h"]
    assert items[0].internal_date == since
