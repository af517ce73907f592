"""Maildir: find_replies reads the Sent folder's In-Reply-To headers, and nothing else."""

from __future__ import annotations

import mailbox
from pathlib import Path

from notnow.mailbox.maildir import MaildirMailbox


def reply(number: int, in_reply_to: str) -> bytes:
    return (
        f"From: Alex <alex@example.org>\r\nTo: hr@acme.example\r\nSubject: Re: x\r\n"
        f"Message-ID: <sent{number}@example.org>\r\nIn-Reply-To: {in_reply_to}\r\n\r\n"
        "Thank you for letting me know.\r\n"
    ).encode()


def test_replies_in_sent_are_found(tmp_path: Path) -> None:
    root = mailbox.Maildir(tmp_path / "Mail")
    sent = root.add_folder("Sent")
    sent.add(reply(1, "<a@acme.example>"))
    sent.add(reply(2, "<unrelated@x>"))
    root.close()
    before = sorted(p.name for p in (tmp_path / "Mail" / ".Sent").rglob("*") if p.is_file())
    store = MaildirMailbox(tmp_path / "Mail")
    found = store.find_replies({"<a@acme.example>", "<b@acme.example>"})
    assert found == {"<a@acme.example>"}
    assert store.find_replies(set()) == set()
    after = sorted(p.name for p in (tmp_path / "Mail" / ".Sent").rglob("*") if p.is_file())
    assert before == after


def test_no_sent_folder_means_no_replies(tmp_path: Path) -> None:
    mailbox.Maildir(tmp_path / "Mail").close()
    assert MaildirMailbox(tmp_path / "Mail").find_replies({"<a@x>"}) == set()
