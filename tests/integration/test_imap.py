"""ImapMailbox against a real Dovecot: TLS, login errors, Drafts discovery, safe reading.

No mocks: every test talks IMAP to the Dovecot that tests/conftest.py starts. Each test
uses its own user, so tests never see each other's mail.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from dovecot import (
    DRAFTS_GERMAN,
    DRAFTS_GERMAN_PLAIN,
    DRAFTS_GMAIL,
    DRAFTS_GMAIL_PLAIN,
    DRAFTS_NONE,
    DRAFTS_PLAIN,
    DRAFTS_SPECIAL,
    Dovecot,
    free_port,
)
from mailbox_contract import header_of, message_id, sample_draft, sample_message

from notnow import message as message_module
from notnow.errors import (
    AuthError,
    ConnectionFailedError,
    FolderNotFoundError,
    MailboxError,
)
from notnow.mailbox.base import Checkpoint, Fetched
from notnow.mailbox.imap import MAX_MESSAGE_BYTES, ImapMailbox

pytestmark = pytest.mark.dovecot

INBOX = "INBOX"
NOW = datetime.now(UTC).replace(microsecond=0)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
def connect() -> Iterator[Callable[..., ImapMailbox]]:
    """``connect(server, user, security="none", **overrides)``; closes every mailbox after."""
    opened: list[ImapMailbox] = []

    def _connect(server: Dovecot, user: str, security: str = "none", **overrides: object):
        account = server.account_config(user, security, **overrides)
        mailbox = ImapMailbox.connect(account, server.password(user))
        opened.append(mailbox)
        return mailbox

    yield _connect
    for mailbox in opened:
        mailbox.close()


def fetch_all(
    mailbox: ImapMailbox,
    folder: str = INBOX,
    after: Checkpoint | None = None,
    since: datetime | None = None,
    batch_size: int = 200,
) -> list[Fetched]:
    batches = mailbox.fetch_new(folder, after, since=since, batch_size=batch_size)
    return [item for batch in batches for item in batch]


# --- connecting -----------------------------------------------------------------------


@pytest.mark.parametrize("security", ["tls", "starttls", "none"])
def test_login_with_each_security_mode(
    dovecot: Dovecot, dovecot_user: str, connect: Callable[..., ImapMailbox], security: str
) -> None:
    mailbox = connect(dovecot, dovecot_user, security)
    assert INBOX in {folder.name for folder in mailbox.list_folders()}


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_self_signed_certificate_without_ca_file_fails_and_says_ca_file(
    dovecot: Dovecot, dovecot_user: str, security: str
) -> None:
    account = dovecot.account_config(dovecot_user, security, ca_file=None)
    with pytest.raises(ConnectionFailedError) as caught:
        ImapMailbox.connect(account, dovecot.password(dovecot_user))
    text = str(caught.value)
    assert "ca_file" in text
    assert "certificate" in text
    assert f"{dovecot.host}:{account.port}" in text


def test_certificate_name_is_checked(dovecot: Dovecot, dovecot_user: str) -> None:
    # The certificate names 127.0.0.1 and localhost. "127.1" reaches the same address
    # (inet_aton shorthand) but is a different name: the hostname check must refuse it.
    account = dovecot.account_config(dovecot_user, "tls", host="127.1")
    with pytest.raises(ConnectionFailedError, match="ca_file"):
        ImapMailbox.connect(account, dovecot.password(dovecot_user))


def test_localhost_matches_the_certificate(
    dovecot: Dovecot, dovecot_user: str, connect: Callable[..., ImapMailbox]
) -> None:
    mailbox = connect(dovecot, dovecot_user, "tls", host="localhost")
    mailbox.noop()


def test_tls_against_the_plain_port_is_a_clear_error(dovecot: Dovecot, dovecot_user: str) -> None:
    account = dovecot.account_config(dovecot_user, "tls", port=dovecot.port)
    with pytest.raises(ConnectionFailedError, match="security"):
        ImapMailbox.connect(account, dovecot.password(dovecot_user))


def test_wrong_password_is_auth_error_naming_account_and_user_never_the_password(
    dovecot: Dovecot, dovecot_user: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-Secret-" + os.urandom(4).hex()
    account = dovecot.account_config(dovecot_user, "tls")
    with pytest.raises(AuthError) as caught:
        ImapMailbox.connect(account, wrong)
    text = str(caught.value)
    assert account.name in text
    assert dovecot_user in text
    assert f"notnow login --account {account.name}" in text
    assert "password_command" in text
    assert wrong not in text
    assert dovecot.password(dovecot_user) not in text
    assert wrong not in caplog.text
    assert caught.value.__cause__ is None or wrong not in str(caught.value.__cause__)


def test_right_password_never_logged(
    dovecot: Dovecot,
    dovecot_user: str,
    connect: Callable[..., ImapMailbox],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    mailbox = connect(dovecot, dovecot_user, "starttls")
    mailbox.list_folders()
    assert dovecot.password(dovecot_user) not in caplog.text


def test_mail_text_never_logged_even_at_debug(
    dovecot: Dovecot,
    dovecot_user: str,
    connect: Callable[..., ImapMailbox],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """imapclient turns on imaplib's protocol trace; notnow turns it off: at DEBUG the
    log would hold every message read (and formatting it cost most of a download)."""
    marker = "Zebra-Quokka-Marker-4711"
    raw = (
        "From: Talent Team <jobs@example.com>\r\nTo: you@example.org\r\n"
        "Subject: Your application\r\nMessage-ID: <marker-4711@example.com>\r\n\r\n"
        f"We have decided not to move forward. {marker}\r\n"
    ).encode()
    dovecot.deliver(dovecot_user, INBOX, raw, date=days_ago(1))
    caplog.set_level(logging.DEBUG)
    mailbox = connect(dovecot, dovecot_user)
    items = fetch_all(mailbox, after=None)
    assert [marker.encode() in item.raw for item in items] == [True]
    assert marker not in caplog.text


def test_refused_port_is_connection_failed_naming_host_and_port(dovecot_user: str) -> None:
    port = free_port()  # nothing listens there
    server_account = Dovecot.host
    from notnow.config import AccountConfig

    account = AccountConfig(
        name="nowhere",
        identity="A <a@example.org>",
        host=server_account,
        port=port,
        security="tls",
        username="someone",
        timeout=5,
    )
    started = time.monotonic()
    with pytest.raises(ConnectionFailedError) as caught:
        ImapMailbox.connect(account, "irrelevant")
    assert time.monotonic() - started < 5
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert "port" in str(caught.value)


def test_unknown_host_is_connection_failed() -> None:
    from notnow.config import AccountConfig

    account = AccountConfig(
        name="typo",
        identity="A <a@example.org>",
        host="no-such-host.invalid",
        port=993,
        username="someone",
        timeout=5,
    )
    with pytest.raises(ConnectionFailedError, match="no-such-host.invalid"):
        ImapMailbox.connect(account, "irrelevant")


# --- Drafts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (DRAFTS_SPECIAL, "Drafts"),
        (DRAFTS_PLAIN, "Drafts"),
        (DRAFTS_GMAIL, "[Gmail]/Drafts"),
        (DRAFTS_GMAIL_PLAIN, "[Gmail]/Drafts"),
        (DRAFTS_GERMAN, "Entwürfe"),
        (DRAFTS_GERMAN_PLAIN, "Entwürfe"),
    ],
)
def test_drafts_folder_is_found_and_drafts_land_there(
    dovecot_factory: Callable[..., Dovecot],
    connect: Callable[..., ImapMailbox],
    variant: str,
    expected: str,
) -> None:
    server = dovecot_factory(drafts=variant)
    user = server.add_user()
    mailbox = connect(server, user)
    assert mailbox.drafts_folder() == expected
    mailbox.append_draft(sample_draft(4))
    [(_uid, raw, flags)] = server.messages(user, expected)
    assert header_of(raw, "X-Notnow-Source") == message_id(4)
    assert "\\Draft" in flags
    assert "\\Seen" in flags  # our own draft: not shown as unread
    assert mailbox.find_sources() == {message_id(4)}


def test_special_use_wins_over_a_known_name(
    dovecot_factory: Callable[..., Dovecot], connect: Callable[..., ImapMailbox]
) -> None:
    server = dovecot_factory(drafts=DRAFTS_GERMAN)  # Entwürfe has \Drafts
    user = server.add_user()
    server.create_folder(user, "Drafts")  # a plain folder with the English name
    assert connect(server, user).drafts_folder() == "Entwürfe"


def test_configured_drafts_folder_is_used(
    dovecot: Dovecot, dovecot_user: str, connect: Callable[..., ImapMailbox]
) -> None:
    dovecot.create_folder(dovecot_user, "Mine/Replies")
    mailbox = connect(dovecot, dovecot_user, drafts_folder="Mine/Replies")
    assert mailbox.drafts_folder() == "Mine/Replies"


def test_configured_drafts_folder_missing_lists_the_folders(
    dovecot: Dovecot, dovecot_user: str, connect: Callable[..., ImapMailbox]
) -> None:
    mailbox = connect(dovecot, dovecot_user, drafts_folder="Brouillons")
    with pytest.raises(FolderNotFoundError) as caught:
        mailbox.drafts_folder()
    text = str(caught.value)
    assert "drafts_folder" in text
    assert "'INBOX'" in text and "'Drafts'" in text


def test_no_drafts_folder_at_all_says_set_drafts_folder(
    dovecot_factory: Callable[..., Dovecot], connect: Callable[..., ImapMailbox]
) -> None:
    server = dovecot_factory(drafts=DRAFTS_NONE)
    user = server.add_user()
    with pytest.raises(FolderNotFoundError, match="drafts_folder"):
        connect(server, user).drafts_folder()


def test_missing_folder_lists_existing_ones(
    dovecot: Dovecot, dovecot_user: str, connect: Callable[..., ImapMailbox]
) -> None:
    mailbox = connect(dovecot, dovecot_user)
    with pytest.raises(FolderNotFoundError) as caught:
        mailbox.checkpoint("Jobs")
    assert "'Jobs'" in str(caught.value)
    assert "'INBOX'" in str(caught.value)


# --- reading --------------------------------------------------------------------------


def test_fetch_never_sets_seen(
    dovecot: Dovecot, dovecot_user: str, connect: Callable[..., ImapMailbox]
) -> None:
    uids = [
        dovecot.deliver(dovecot_user, INBOX, sample_message(index), date=days_ago(3 - index))
        for index in range(3)
    ]
    before = [dovecot.flags(dovecot_user, INBOX, uid) for uid in uids]
    mailbox = connect(dovecot, dovecot_user)
    items = fetch_all(mailbox, after=None)
    fetch_all(mailbox, after=None, batch_size=1)
    assert [item.position for item in items] == uids
    assert all("\\Seen" not in item.flags for item in items)
    after = [dovecot.flags(dovecot_user, INBOX, uid) for uid in uids]
    assert after == before
    assert all(b"\\Seen" not in flags for flags in after)


def test_the_usual_answers_of_a_backlog_are_read_as_imapclient_reads_them(
    dovecot: Dovecot, dovecot_user: str, connect: Callable[..., ImapMailbox]
) -> None:
    """``_fetch_read`` reads Dovecot's answers to the overview FETCH and to the FETCH of
    whole messages without imapclient's parser: the same sizes, flags, dates, headers
    and messages as imapclient's own ``fetch``."""
    from notnow.mailbox import imap

    flags = [(), ("\\Seen",), ("\\Flagged", "$Label1"), ("\\Answered", "\\Seen")]
    uids = [
        dovecot.deliver(dovecot_user, INBOX, sample_message(i), date=days_ago(i), flags=flags[i])
        for i in range(len(flags))
    ]
    mailbox = connect(dovecot, dovecot_user)
    mailbox.checkpoint(INBOX)  # selects the folder
    client = mailbox._client
    for items, fast in ((imap._META_ITEMS, imap._meta_fast), (imap._WHOLE_ITEMS, imap._whole_fast)):
        typ, data = client._imap.uid("FETCH", ",".join(map(str, uids)), f"({' '.join(items)})")
        assert typ == "OK" and fast(data) is not None  # the usual shape: read fast
        expected = client.fetch(uids, items)
        for answer in expected.values():
            answer.pop(b"SEQ")
        assert mailbox._fetch_read(uids, items, fast) == expected


def test_an_answer_of_another_shape_goes_to_imapclients_parser() -> None:
    from notnow.mailbox import imap

    usual = (
        b'1 (UID 7 RFC822.SIZE 480 FLAGS (\\Seen) INTERNALDATE "23-Oct-2026 21:34:55 +0000" '
        b"BODY[HEADER.FIELDS (CONTENT-TYPE)] {17}",
        b"Content-Type: x\r\n",
    )
    assert imap._meta_fast([usual, b")"]) == {
        7: {
            b"RFC822.SIZE": 480,
            b"FLAGS": (b"\\Seen",),
            b"INTERNALDATE": datetime(2026, 10, 23, 21, 34, 55, tzinfo=UTC),
            b"BODY[HEADER.FIELDS (CONTENT-TYPE)]": b"Content-Type: x\r\n",
        }
    }
    reordered = (
        b"1 (RFC822.SIZE 480 UID 7" + usual[0][len(b"1 (UID 7 RFC822.SIZE 480") :],
        usual[1],
    )
    assert imap._meta_fast([reordered, b")"]) is None
    assert imap._meta_fast([usual, b" FLAGS (\\Seen))"]) is None  # more after the literal
    assert imap._meta_fast([usual, b")", b"3 (FLAGS (\\Deleted))"]) is None  # unsolicited
    assert imap._meta_fast([(usual[0], b"short"), b")"]) is None  # not the announced length
    whole = (b"2 (UID 9 BODY[] {5}", b"Hi!\r\n")
    assert imap._whole_fast([whole, b")"]) == {9: {b"BODY[]": b"Hi!\r\n"}}
    assert imap._whole_fast([b"2 (UID 9 BODY[] NIL)"]) is None  # no literal
    assert imap._whole_fast([(b"2 (BODY[] {5}", whole[1]), b" UID 9)"]) is None  # UID after


def test_fetch_after_checkpoint_returns_only_newer_mail(
    dovecot: Dovecot, dovecot_user: str, connect: Callable[..., ImapMailbox]
) -> None:
    for index in range(3):
        dovecot.deliver(dovecot_user, INBOX, sample_message(index))
    mailbox = connect(dovecot, dovecot_user)
    checkpoint = mailbox.checkpoint(INBOX)
    assert fetch_all(mailbox, after=checkpoint) == []  # "n:*" must not return the last one
    new_uid = dovecot.deliver(dovecot_user, INBOX, sample_message(10))
    [item] = fetch_all(mailbox, after=checkpoint)
    assert item.position == new_uid
    assert item.key == f"{checkpoint.validity}:{new_uid}"
    assert item.validity == checkpoint.validity
    assert header_of(item.raw, "Message-ID") == message_id(10)
    assert mailbox.checkpoint(INBOX) == Checkpoint(checkpoint.validity, new_uid)


def test_uidvalidity_change_falls_back_to_since(
    dovecot: Dovecot, dovecot_user: str, connect: Callable[..., ImapMailbox]
) -> None:
    folder = "Jobs"
    dovecot.deliver(dovecot_user, folder, sample_message(1), date=days_ago(1))
    mailbox = connect(dovecot, dovecot_user)
    old = mailbox.checkpoint(folder)

    # Recreating a folder is what gives it a new UIDVALIDITY on a real server.
    client = dovecot.client(dovecot_user)
    client.delete_folder(folder)
    client.create_folder(folder)
    client.logout()
    dovecot.deliver(dovecot_user, folder, sample_message(2), date=days_ago(20))
    dovecot.deliver(dovecot_user, folder, sample_message(3), date=days_ago(2))
    dovecot.deliver(dovecot_user, folder, sample_message(4), date=days_ago(1))

    assert mailbox.checkpoint(folder).validity != old.validity
    items = fetch_all(mailbox, folder, after=old, since=days_ago(5))
    assert [header_of(item.raw, "Message-ID") for item in items] == [
        message_id(3),
        message_id(4),
    ]
    # The UIDs restarted below the stale position: by UID, nothing would have come back.
    assert all(item.position <= old.position + 2 for item in items)


def big_message(attachment_bytes: int) -> bytes:
    text = "Thank you for your interest. Unfortunately we will not move forward.\n"
    attachment = base64.encodebytes(os.urandom(attachment_bytes)).replace(b"\n", b"\r\n")
    return (
        b"From: Jobs <jobs@example-employer.com>\r\n"
        b"To: Anna <anna@example.org>\r\n"
        b"Subject: Your application\r\n"
        b"Message-ID: <big-1@example-employer.com>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="outer"\r\n'
        b"\r\n"
        b"--outer\r\n"
        b'Content-Type: multipart/alternative; boundary="inner"\r\n'
        b"\r\n"
        b"--inner\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"\r\n" + text.encode() + b"\r\n"
        b"--inner\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n"
        b"\r\n"
        b"<p>" + text.encode() + b"</p>\r\n"
        b"--inner--\r\n"
        b"--outer\r\n"
        b'Content-Type: application/pdf; name="portfolio.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="portfolio.pdf"\r\n'
        b"\r\n" + attachment + b"--outer--\r\n"
    )


def test_big_message_is_read_without_its_attachment_but_with_its_text(
    dovecot: Dovecot, dovecot_user: str, connect: Callable[..., ImapMailbox]
) -> None:
    raw = big_message(5 * 1024 * 1024)
    assert len(raw) > 5 * MAX_MESSAGE_BYTES
    uid = dovecot.deliver(dovecot_user, INBOX, raw)
    dovecot.deliver(dovecot_user, INBOX, sample_message(2))  # a small one in the same batch
    before = dovecot.flags(dovecot_user, INBOX, uid)

    mailbox = connect(dovecot, dovecot_user)
    big, small = fetch_all(mailbox)
    assert big.position == uid
    assert len(big.raw) < 64 * 1024
    assert b"portfolio.pdf" not in big.raw
    parsed = message_module.parse(big.raw)
    assert parsed.message_id == "<big-1@example-employer.com>"
    assert parsed.subject == "Your application"
    assert "will not move forward" in parsed.text
    assert header_of(small.raw, "Message-ID") == message_id(2)
    assert dovecot.flags(dovecot_user, INBOX, uid) == before


def test_small_messages_with_attachments_are_read_as_their_text_whole_ones_as_sent(
    dovecot: Dovecot, dovecot_user: str, connect: Callable[..., ImapMailbox]
) -> None:
    with_attachment = [
        big_message(20 * 1024).replace(b"big-1@", f"small-{n}@".encode()) for n in range(3)
    ]
    uids = [dovecot.deliver(dovecot_user, INBOX, raw) for raw in with_attachment]
    plain = sample_message(7, attachment=False)
    dovecot.deliver(dovecot_user, INBOX, plain)

    from notnow.mailbox import imap

    mailbox = connect(dovecot, dovecot_user)
    commands: list[object] = []
    fetch, read = mailbox._client.fetch, mailbox._fetch_read
    mailbox._client.fetch = lambda *a, **k: commands.append(a[1]) or fetch(*a, **k)
    mailbox._fetch_read = lambda *a: commands.append(a[1]) or read(*a)  # type: ignore[method-assign]
    items = fetch_all(mailbox)
    assert [item.position for item in items][:3] == uids
    for n, item in enumerate(items[:3]):
        assert b"portfolio.pdf" not in item.raw  # the attachment never came down
        parsed = message_module.parse(item.raw)
        assert parsed.message_id == f"<small-{n}@example-employer.com>"
        assert "will not move forward" in parsed.text
    assert items[3].raw.replace(b"\r\n", b"\n") == plain.replace(b"\r\n", b"\n")
    # Batched: the overview, the structure of the three multipart/mixed ones only, the
    # whole plain one, and one FETCH for the three of one shape.
    assert len(commands) == 4, commands
    assert commands[:2] == [imap._META_ITEMS, ["BODYSTRUCTURE"]]


def test_big_single_part_text_is_capped(
    dovecot: Dovecot, dovecot_user: str, connect: Callable[..., ImapMailbox]
) -> None:
    line = b"We regret to inform you that the position has been filled.\r\n"
    raw = (
        b"Subject: Long\r\nMessage-ID: <long@example.org>\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + line * 40_000
    )
    dovecot.deliver(dovecot_user, INBOX, raw)
    [item] = fetch_all(connect(dovecot, dovecot_user))
    assert len(item.raw) < 300 * 1024
    assert "position has been filled" in message_module.parse(item.raw).text


# --- keywords -------------------------------------------------------------------------


def test_add_keyword_tags_without_seen_and_refuses_a_stale_key(
    dovecot: Dovecot, dovecot_user: str, connect: Callable[..., ImapMailbox]
) -> None:
    uid = dovecot.deliver(dovecot_user, INBOX, sample_message(1))
    mailbox = connect(dovecot, dovecot_user)
    [item] = fetch_all(mailbox)
    assert mailbox.add_keyword(INBOX, item.key, "$NotnowReview") is True
    flags = dovecot.flags(dovecot_user, INBOX, uid)
    assert b"$NotnowReview" in flags
    assert b"\\Seen" not in flags
    assert mailbox.add_keyword(INBOX, f"{item.validity + 1}:{uid}", "Other") is False
    assert mailbox.add_keyword(INBOX, f"{item.validity}:{uid + 100}", "Other") is False
    # Reading after the read-write SELECT still never sets \Seen.
    fetch_all(mailbox)
    assert b"\\Seen" not in dovecot.flags(dovecot_user, INBOX, uid)


# --- IDLE, NOOP, restarts -------------------------------------------------------------


def test_idle_wakes_on_a_new_delivery(
    dovecot: Dovecot, dovecot_user: str, connect: Callable[..., ImapMailbox]
) -> None:
    mailbox = connect(dovecot, dovecot_user)
    assert mailbox.idle_supported()
    timer = threading.Timer(0.3, lambda: dovecot.deliver(dovecot_user, INBOX, sample_message(1)))
    started = time.monotonic()
    timer.start()
    try:
        assert mailbox.idle_wait(INBOX, timeout=20) is True
    finally:
        timer.join()
    assert time.monotonic() - started < 10
    # The connection is usable after IDLE DONE.
    assert len(fetch_all(mailbox)) == 1


def test_idle_times_out_without_mail(
    dovecot: Dovecot, dovecot_user: str, connect: Callable[..., ImapMailbox]
) -> None:
    mailbox = connect(dovecot, dovecot_user)
    started = time.monotonic()
    assert mailbox.idle_wait(INBOX, timeout=0.5) is False
    assert 0.4 < time.monotonic() - started < 5
    mailbox.noop()


def test_server_without_idle(
    dovecot_factory: Callable[..., Dovecot], connect: Callable[..., ImapMailbox]
) -> None:
    server = dovecot_factory(idle=False)
    mailbox = connect(server, server.add_user())
    assert mailbox.idle_supported() is False
    with pytest.raises(MailboxError, match="IDLE"):
        mailbox.idle_wait(INBOX, timeout=1)


def test_restart_mid_session_is_an_error_not_a_hang(
    private_dovecot: Dovecot, connect: Callable[..., ImapMailbox]
) -> None:
    server = private_dovecot
    user = server.add_user()
    server.deliver(user, INBOX, sample_message(1))
    mailbox = connect(server, user, "tls")
    before = mailbox.checkpoint(INBOX)

    server.restart()
    started = time.monotonic()
    with pytest.raises(MailboxError) as caught:
        mailbox.checkpoint(INBOX)
    assert time.monotonic() - started < 5
    assert isinstance(caught.value, ConnectionFailedError)
    with pytest.raises(ConnectionFailedError):
        mailbox.noop()  # stays failed, no half-working connection
    mailbox.close()
    mailbox.close()

    # Same ports, same mail, same UIDVALIDITY: a reconnect carries on where it left off.
    again = connect(server, user, "tls")
    assert again.checkpoint(INBOX) == before


def test_restart_during_idle_is_an_error_not_a_hang(
    private_dovecot: Dovecot, connect: Callable[..., ImapMailbox]
) -> None:
    server = private_dovecot
    user = server.add_user()
    mailbox = connect(server, user, "starttls")
    timer = threading.Timer(0.3, server.stop)
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(ConnectionFailedError):
            mailbox.idle_wait(INBOX, timeout=30)
    finally:
        timer.join()
    assert time.monotonic() - started < 10
    mailbox.close()


def test_other_calls_between_batches_do_not_derail_the_read(
    dovecot: Dovecot, dovecot_user: str, connect: Callable[..., ImapMailbox]
) -> None:
    # The daemon applies each batch (drafts, keywords) before it reads the next one.
    uids = [dovecot.deliver(dovecot_user, INBOX, sample_message(index)) for index in range(4)]
    dovecot.deliver(dovecot_user, "Drafts", sample_draft(1), flags=("\\Draft",))
    mailbox = connect(dovecot, dovecot_user)
    seen = []
    for batch in mailbox.fetch_new(INBOX, None, batch_size=1):
        seen.extend(item.position for item in batch)
        assert mailbox.find_sources() == {message_id(1)}  # selects Drafts
        assert mailbox.add_keyword(INBOX, batch[0].key, "$NotnowReview")  # read-write
    assert seen == uids
    assert all(b"\\Seen" not in dovecot.flags(dovecot_user, INBOX, uid) for uid in uids)


@pytest.mark.parametrize("in_between", ["nothing", "find_sources"])
def test_idle_in_slices_never_misses_mail_delivered_between_them(
    dovecot: Dovecot, dovecot_user: str, connect: Callable[..., ImapMailbox], in_between: str
) -> None:
    # The daemon IDLEs, and runs passes in between.
    mailbox = connect(dovecot, dovecot_user)
    dovecot.deliver(dovecot_user, INBOX, sample_message(1))
    assert len(fetch_all(mailbox)) == 1  # a pass
    assert mailbox.idle_wait(INBOX, timeout=0.2) is False
    dovecot.deliver(dovecot_user, INBOX, sample_message(2))  # while no IDLE is running
    if in_between == "find_sources":
        mailbox.find_sources()  # selects Drafts
    started = time.monotonic()
    assert mailbox.idle_wait(INBOX, timeout=5) is True
    assert time.monotonic() - started < 2
    [item] = fetch_all(mailbox, after=Checkpoint(item_validity(mailbox), 1))
    assert header_of(item.raw, "Message-ID") == message_id(2)
    assert mailbox.idle_wait(INBOX, timeout=0.2) is False


def item_validity(mailbox: ImapMailbox) -> int:
    return mailbox.checkpoint(INBOX).validity
