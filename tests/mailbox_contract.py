"""The Mailbox contract: one test class every backend runs (vdirsyncer's StorageTests habit).

``MailboxTests`` is not collected on its own (its name does not start with ``Test``).
A backend's test module subclasses it and provides one fixture, ``store``::

    from mailbox_contract import MailboxTests

    class TestMaildirMailbox(MailboxTests):
        @pytest.fixture
        def store(self, tmp_path):
            store = MyStore(tmp_path)      # INBOX, "Drafts" and EXTRA_FOLDERS exist
            yield store
            store.mailbox.close()

The object the fixture returns (see ``MailboxStore``) has:

- ``mailbox``: a fresh ``Mailbox`` on an otherwise empty account that has the folders
  ``INBOX``, ``Drafts`` and every name in ``MailboxTests.EXTRA_FOLDERS``, all empty.
  Folder names are notnow's names (hierarchy separator ``/``, non-ASCII as ``str``).
- ``deliver(folder, raw, date=None, flags=())``: put one message in ``folder`` behind
  the Mailbox's back, as a mail server or a sync tool would. ``date`` is the arrival
  date (IMAP INTERNALDATE, Maildir file mtime; None: now). ``flags`` uses the IMAP
  spellings (``\\Seen``, ``\\Flagged`` ...); a Maildir store puts a message without
  flags in ``new/`` and one with flags in ``cur/``.
- ``flags(folder) -> dict[str, set[str]]``: every message's flags keyed by its
  Message-ID (with angle brackets), IMAP spellings; Maildir info letters are mapped
  S->\\Seen, D->\\Draft, F->\\Flagged, R->\\Answered, T->\\Deleted.
- ``raw(folder) -> list[bytes]``: every message exactly as stored, in any order.

The tests deliver messages in increasing date order (so IMAP's UID order and Maildir's
mtime order agree), days apart where ``since`` is involved (IMAP SEARCH SINCE has a
granularity of one day).
"""

from __future__ import annotations

import base64
import math
import quopri
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Protocol

import pytest

from notnow.errors import FolderNotFoundError
from notnow.mailbox.base import Checkpoint, Fetched, Mailbox

INBOX = "INBOX"
DRAFTS = "Drafts"


class MailboxStore(Protocol):
    """What a backend's ``store`` fixture returns (see the module docstring)."""

    @property
    def mailbox(self) -> Mailbox: ...

    def deliver(
        self,
        folder: str,
        raw: bytes,
        date: datetime | None = None,
        flags: Iterable[str] = (),
    ) -> None: ...

    def flags(self, folder: str) -> dict[str, set[str]]: ...

    def raw(self, folder: str) -> list[bytes]: ...


# --- real-shaped messages -------------------------------------------------------------

_PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)


def message_id(index: int, domain: str = "mail.example-employer.com") -> str:
    """The Message-ID ``sample_message(index)`` carries, angle brackets included."""
    return f"<notnow-test-{index:04d}.a1b2c3@{domain}>"


def sample_message(
    index: int,
    *,
    date: datetime | None = None,
    subject: str = "Ihre Bewerbung als Datenanalyst (m/w/d) – Rückmeldung",
    attachment: bool = True,
) -> bytes:
    """A rejection as employers' ATS send them: multipart, non-ASCII, a PDF attached.

    CRLF line endings, as on the wire; quoted-printable UTF-8 text, an HTML
    alternative and a base64 attachment.
    """
    when = (date or datetime(2024, 5, 6, 9, 30, tzinfo=UTC)).strftime("%a, %d %b %Y %H:%M:%S %z")
    boundary = f"==_notnow_{index:04d}_mixed"
    alt = f"==_notnow_{index:04d}_alt"
    text = (
        "Sehr geehrte Frau Müller,\n\n"
        "vielen Dank für Ihr Interesse an der Position und die Zeit, die Sie sich für\n"
        "die Gespräche genommen haben. Nach sorgfältiger Prüfung haben wir uns leider\n"
        "für eine andere Kandidatin entschieden.\n\n"
        f"Wir wünschen Ihnen alles Gute. (Vorgang {index})\n\n"
        "Mit freundlichen Grüßen\nJürgen Weiß\nTalent Acquisition\n"
    )
    html = "<html><body><p>" + text.replace("\n\n", "</p><p>") + "</p></body></html>\n"

    def qp(value: str) -> str:
        return quopri.encodestring(value.encode("utf-8")).decode("ascii")

    encoded_subject = Header(f"{subject} [{index}]", "utf-8").encode()
    lines = [
        "Return-Path: <no-reply@ats.example-employer.com>",
        "Received: from mx.example-employer.com (mx.example-employer.com [192.0.2.10])",
        "\tby mail.example.org (Postfix) with ESMTPS id 4Vabc123",
        f"\tfor <anna.mueller@example.org>; {when}",
        f"Date: {when}",
        "From: =?utf-8?q?J=C3=BCrgen_Wei=C3=9F?= <jobs@example-employer.com>",
        "Reply-To: Talent Acquisition <talent@example-employer.com>",
        "To: =?utf-8?q?Anna_M=C3=BCller?= <anna.mueller@example.org>",
        f"Subject: {encoded_subject}",
        f"Message-ID: {message_id(index)}",
        "MIME-Version: 1.0",
    ]
    if attachment:
        pdf = base64.encodebytes(_PDF).decode("ascii").rstrip("\n")
        lines += [
            f'Content-Type: multipart/mixed; boundary="{boundary}"',
            "",
            "This is a multi-part message in MIME format.",
            "",
            f"--{boundary}",
            f'Content-Type: multipart/alternative; boundary="{alt}"',
            "",
            f"--{alt}",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: quoted-printable",
            "",
            qp(text),
            f"--{alt}",
            "Content-Type: text/html; charset=utf-8",
            "Content-Transfer-Encoding: quoted-printable",
            "",
            qp(html),
            f"--{alt}--",
            "",
            f"--{boundary}",
            'Content-Type: application/pdf; name="Absage_M=C3=BCller.pdf"',
            "Content-Transfer-Encoding: base64",
            "Content-Disposition: attachment; filename*=utf-8''Absage_M%C3%BCller.pdf",
            "",
            pdf,
            f"--{boundary}--",
            "",
        ]
    else:
        lines += [
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: quoted-printable",
            "",
            qp(text),
        ]
    return "\r\n".join(line.replace("\n", "\r\n") for line in lines).encode("ascii")


def sample_draft(source_index: int, *, own_id: str | None = None) -> bytes:
    """A draft as notnow saves one: plain UTF-8 8bit body, threading, X-Notnow-Source."""
    source = message_id(source_index)
    own = own_id or f"<notnow-draft-{source_index:04d}@example.org>"
    lines = [
        "From: =?utf-8?q?Anna_M=C3=BCller?= <anna.mueller@example.org>",
        "To: Talent Acquisition <talent@example-employer.com>",
        "Subject: =?utf-8?q?Re=3A_Ihre_Bewerbung_=E2=80=93_R=C3=BCckmeldung?=",
        "Date: Mon, 06 May 2024 10:00:00 +0200",
        f"Message-ID: {own}",
        f"In-Reply-To: {source}",
        f"References: {source}",
        f"X-Notnow-Source: {source}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        "Sehr geehrter Herr Weiß,",
        "",
        "vielen Dank für Ihre Rückmeldung und die Zeit, die Sie sich genommen haben.",
        "Über ein kurzes Feedback würde ich mich sehr freuen.",
        "",
        "Mit freundlichen Grüßen",
        "Anna Müller",
        "",
    ]
    return "\r\n".join(lines).encode("utf-8")


def header_of(raw: bytes, name: str) -> str | None:
    """One header's value from raw message bytes (unfolded, stripped), or None."""
    value = BytesHeaderParser(policy=compat32).parsebytes(raw).get(name)
    return None if value is None else " ".join(str(value).split())


def _normalise(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").rstrip(b"\n")


# --- the contract ---------------------------------------------------------------------


class MailboxTests:
    """The contract every ``Mailbox`` backend meets; see the module docstring for ``store``.

    Subclasses provide the ``store`` fixture and may extend ``EXTRA_FOLDERS`` (the store
    must create every name in it, empty, before the Mailbox is opened).
    """

    # Non-ASCII and spaces on purpose; no hierarchy separator, so that a server with "."
    # as its separator and one with "/" see the same names.
    EXTRA_FOLDERS: tuple[str, ...] = ("Archive", "Réponses 日本", "Bewerbungen – Absagen")

    NOW = datetime.now(UTC).replace(microsecond=0)

    def days_ago(self, days: float) -> datetime:
        return self.NOW - timedelta(days=days)

    def deliver_series(self, store: MailboxStore, count: int, folder: str = INBOX) -> list[str]:
        """``count`` messages, 10 days ago onward, one a day; their Message-IDs in order."""
        ids = []
        for index in range(count):
            date = self.days_ago(10 - index)
            store.deliver(folder, sample_message(index, date=date), date=date)
            ids.append(message_id(index))
        return ids

    @staticmethod
    def fetch_all(
        mailbox: Mailbox,
        folder: str = INBOX,
        after: Checkpoint | None = None,
        since: datetime | None = None,
        batch_size: int = 200,
    ) -> list[list[Fetched]]:
        return list(mailbox.fetch_new(folder, after, since=since, batch_size=batch_size))

    @staticmethod
    def ids(batches: list[list[Fetched]]) -> list[str | None]:
        return [header_of(item.raw, "Message-ID") for batch in batches for item in batch]

    # --- reading

    def test_empty_folder_fetches_nothing(self, store: MailboxStore) -> None:
        assert self.fetch_all(store.mailbox) == []
        checkpoint = store.mailbox.checkpoint(INBOX)
        assert isinstance(checkpoint.validity, int)
        assert isinstance(checkpoint.position, int)

    def test_first_fetch_returns_everything_oldest_first_in_batches(
        self, store: MailboxStore
    ) -> None:
        expected = self.deliver_series(store, 5)
        batches = self.fetch_all(store.mailbox, batch_size=2)
        assert all(1 <= len(batch) <= 2 for batch in batches)
        assert len(batches) >= math.ceil(5 / 2)
        assert self.ids(batches) == expected
        items = [item for batch in batches for item in batch]
        positions = [item.position for item in items]
        assert positions == sorted(positions)
        assert len({item.key for item in items}) == 5
        assert all(item.folder == INBOX and item.key for item in items)

    def test_fetched_message_carries_headers_text_and_dates(self, store: MailboxStore) -> None:
        date = self.days_ago(3)
        store.deliver(INBOX, sample_message(7, date=date), date=date)
        [[item]] = self.fetch_all(store.mailbox)
        assert header_of(item.raw, "Message-ID") == message_id(7)
        assert b"Content-Type: text/plain" in item.raw
        assert "\\Seen" not in item.flags
        if item.internal_date is not None:
            assert item.internal_date.tzinfo is not None
            assert abs(item.internal_date - date) <= timedelta(seconds=2)

    def test_flags_are_reported_in_imap_spelling(self, store: MailboxStore) -> None:
        store.deliver(INBOX, sample_message(1), self.days_ago(2), flags=("\\Seen", "\\Flagged"))
        store.deliver(INBOX, sample_message(2), self.days_ago(1))
        items = [item for batch in self.fetch_all(store.mailbox) for item in batch]
        by_id = {header_of(item.raw, "Message-ID"): set(item.flags) for item in items}
        assert {"\\Seen", "\\Flagged"} <= by_id[message_id(1)]
        assert "\\Seen" not in by_id[message_id(2)]

    def test_since_filters_by_arrival_date(self, store: MailboxStore) -> None:
        for index, days in enumerate((20, 9, 2, 1)):
            date = self.days_ago(days)
            # The Date header lies (sent long ago): arrival date is what counts.
            store.deliver(INBOX, sample_message(index, date=self.days_ago(40)), date=date)
        batches = self.fetch_all(store.mailbox, since=self.days_ago(5))
        assert self.ids(batches) == [message_id(2), message_id(3)]

    def test_after_a_checkpoint_only_new_mail_comes_back(self, store: MailboxStore) -> None:
        old = self.deliver_series(store, 3)
        assert self.ids(self.fetch_all(store.mailbox)) == old
        checkpoint = store.mailbox.checkpoint(INBOX)
        store.deliver(INBOX, sample_message(10))
        store.deliver(INBOX, sample_message(11))

        items = [
            item for batch in self.fetch_all(store.mailbox, after=checkpoint) for item in batch
        ]
        got = [header_of(item.raw, "Message-ID") for item in items]
        # A backend may re-read messages at exactly the checkpoint's position (Maildir:
        # same mtime); the daemon de-duplicates those by key. Nothing older comes back.
        new = [mid for mid in got if mid not in old]
        assert new == [message_id(10), message_id(11)]
        for item in items:
            if header_of(item.raw, "Message-ID") in old:
                assert item.position == checkpoint.position
        assert all(item.validity == checkpoint.validity for item in items)
        later = store.mailbox.checkpoint(INBOX)
        assert later.validity == checkpoint.validity
        assert later.position > checkpoint.position

    def test_checkpoint_with_nothing_new_fetches_nothing_new(self, store: MailboxStore) -> None:
        old = self.deliver_series(store, 2)
        checkpoint = store.mailbox.checkpoint(INBOX)
        items = [
            item for batch in self.fetch_all(store.mailbox, after=checkpoint) for item in batch
        ]
        assert all(item.position == checkpoint.position for item in items)
        assert all(header_of(item.raw, "Message-ID") in old for item in items)

    def test_stale_validity_means_fetch_everything_since(self, store: MailboxStore) -> None:
        expected = []
        for index, days in enumerate((20, 10, 2)):
            date = self.days_ago(days)
            store.deliver(INBOX, sample_message(index, date=date), date=date)
            expected.append(message_id(index))
        current = store.mailbox.checkpoint(INBOX)
        stale = Checkpoint(validity=current.validity + 7919, position=current.position)
        assert self.ids(self.fetch_all(store.mailbox, after=stale)) == expected
        since = self.days_ago(5)
        assert self.ids(self.fetch_all(store.mailbox, after=stale, since=since)) == expected[2:]

    def test_reading_never_changes_a_message(self, store: MailboxStore) -> None:
        store.deliver(INBOX, sample_message(1), self.days_ago(3))
        store.deliver(INBOX, sample_message(2), self.days_ago(2), flags=("\\Seen",))
        store.deliver(INBOX, sample_message(3, attachment=False), self.days_ago(1))
        store.deliver(DRAFTS, sample_draft(1), self.days_ago(1), flags=("\\Draft",))
        before = {
            folder: (sorted(store.raw(folder)), store.flags(folder)) for folder in (INBOX, DRAFTS)
        }

        mailbox = store.mailbox
        for _ in range(2):
            self.fetch_all(mailbox, batch_size=1)
            self.fetch_all(mailbox, since=self.days_ago(30))
            self.fetch_all(mailbox, after=mailbox.checkpoint(INBOX))
            self.fetch_all(mailbox, DRAFTS)
            mailbox.list_folders()
            mailbox.drafts_folder()
            mailbox.find_sources()

        after = {
            folder: (sorted(store.raw(folder)), store.flags(folder)) for folder in (INBOX, DRAFTS)
        }
        assert after == before
        assert "\\Seen" not in after[INBOX][1][message_id(1)]

    def test_non_ascii_folder_names(self, store: MailboxStore) -> None:
        names = {info.name for info in store.mailbox.list_folders()}
        assert {INBOX, DRAFTS, *self.EXTRA_FOLDERS} <= names
        for index, folder in enumerate(self.EXTRA_FOLDERS):
            store.deliver(folder, sample_message(index), self.days_ago(1))
            [[item]] = self.fetch_all(store.mailbox, folder)
            assert item.folder == folder
            assert header_of(item.raw, "Message-ID") == message_id(index)
            assert store.mailbox.checkpoint(folder).position >= item.position

    def test_missing_folder_is_folder_not_found(self, store: MailboxStore) -> None:
        with pytest.raises(FolderNotFoundError):
            self.fetch_all(store.mailbox, "No Such Folder")
        with pytest.raises(FolderNotFoundError):
            store.mailbox.checkpoint("No Such Folder")
        with pytest.raises(FolderNotFoundError):
            store.mailbox.append_draft(sample_draft(1), folder="No Such Folder")

    # --- drafts

    def test_drafts_folder_is_found(self, store: MailboxStore) -> None:
        assert store.mailbox.drafts_folder() == DRAFTS

    def test_append_draft_stores_it_flagged_as_draft(self, store: MailboxStore) -> None:
        draft = sample_draft(5)
        store.mailbox.append_draft(draft)
        [stored] = store.raw(DRAFTS)
        assert _normalise(stored) == _normalise(draft)
        flags = store.flags(DRAFTS)
        assert "\\Draft" in flags["<notnow-draft-0005@example.org>"]
        assert store.raw(INBOX) == []

    def test_find_sources_returns_the_x_notnow_source_of_drafts(self, store: MailboxStore) -> None:
        assert store.mailbox.find_sources() == set()
        store.mailbox.append_draft(sample_draft(1))
        store.mailbox.append_draft(sample_draft(2))
        # The user's own draft, without the header, is not a source.
        store.deliver(DRAFTS, sample_message(99), flags=("\\Draft",))
        assert store.mailbox.find_sources() == {message_id(1), message_id(2)}
        assert store.mailbox.find_sources(DRAFTS) == {message_id(1), message_id(2)}

    def test_append_draft_to_another_folder(self, store: MailboxStore) -> None:
        folder = self.EXTRA_FOLDERS[1]
        store.mailbox.append_draft(sample_draft(3), folder=folder)
        assert "\\Draft" in store.flags(folder)["<notnow-draft-0003@example.org>"]
        assert store.mailbox.find_sources(folder) == {message_id(3)}
        assert store.mailbox.find_sources() == set()

    # --- keywords and lifecycle

    def test_add_keyword_returns_a_bool_and_never_sets_seen(self, store: MailboxStore) -> None:
        store.deliver(INBOX, sample_message(1), self.days_ago(1))
        [[item]] = self.fetch_all(store.mailbox)
        result = store.mailbox.add_keyword(INBOX, item.key, "NotNowDrafted")
        assert isinstance(result, bool)
        flags = store.flags(INBOX)[message_id(1)]
        assert "\\Seen" not in flags
        if result:
            assert "NotNowDrafted" in flags
        assert [_normalise(raw) for raw in store.raw(INBOX)] == [_normalise(sample_message(1))]

    def test_close_twice_is_fine(self, store: MailboxStore) -> None:
        store.mailbox.list_folders()
        store.mailbox.close()
        store.mailbox.close()
