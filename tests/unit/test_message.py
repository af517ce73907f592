"""message.parse on real-shaped mail: which text a reader sees, and odd charsets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from notnow.errors import MessageError
from notnow.message import parse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eml" / "message"


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_a_forwarded_message_attached_is_not_the_senders_text() -> None:
    email = parse(load("forwarded-as-attachment.eml"))
    assert "Drinks on Friday" in email.text
    assert "move forward with another candidate" not in email.text
    assert email.subject == "Fwd: Your application at Brightline Logistics"


def test_an_attached_text_file_is_not_body_text() -> None:
    email = parse(load("attached-text-file.eml"))
    assert email.text.strip() == "Hi Sam, the meeting notes are attached."


def test_a_text_part_with_a_content_id_is_still_the_body() -> None:
    assert parse(load("content-id-text.eml")).text.startswith("Thursday at 3 works")


def test_latin1_bytes_labelled_utf8_are_read_as_windows_1252() -> None:
    email = parse(load("latin1-labelled-utf8.eml"))
    assert "vielen Dank für Ihre Bewerbung und das nette Gespräch" in email.text
    assert "Grüßen" in email.text
    assert "\ufffd" not in email.text
    assert "CharsetDecodeDefect" in email.defects
    assert email.subject == "Ihre Bewerbung als Elektroniker für Betriebstechnik"
    assert email.sender is not None and email.sender.name == "Jürgen Müller"


def test_an_unknown_charset_falls_back_to_utf8() -> None:
    email = parse(load("unknown-charset.eml"))
    assert "a été pourvu" in email.text
    assert "CharsetDecodeDefect" in email.defects


def test_a_codec_that_yields_lone_surrogates_is_not_trusted() -> None:
    email = parse(load("escape-charset.eml"))
    email.text.encode("utf-8")  # no lone surrogate: JSON output and SQLite need this
    json.dumps({"text": email.text}, ensure_ascii=False).encode("utf-8")
    assert "garden furniture" in email.text


def test_a_multipart_without_its_first_boundary_still_shows_its_text() -> None:
    email = parse(load("missing-start-boundary.eml"))
    assert email.text.strip() == (
        "Hi Sam, thank you for applying. We have filled the Data Analyst position."
    )
    assert "StartBoundaryNotFoundDefect" in email.defects


def test_the_demo_and_draft_fixtures_parse_the_same_way_twice() -> None:
    drafts = FIXTURES.parent / "drafts"
    for path in sorted(drafts.glob("*.eml")):
        first, second = parse(path.read_bytes()), parse(path.read_bytes())
        assert first == second
        assert first.text.strip(), path.name


@pytest.mark.parametrize(
    "raw",
    [b"", b"   \r\n", b"just some words, no headers at all\n"],
)
def test_what_is_not_an_email_is_refused_with_a_reason(raw: bytes) -> None:
    with pytest.raises(MessageError):
        parse(raw)
