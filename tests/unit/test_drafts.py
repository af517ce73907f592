"""notnow.drafts.compose and render: the draft message, its headers and its text."""

from __future__ import annotations

import base64
import email.policy
import quopri
import re
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notnow.config import AccountConfig, DraftsConfig
from notnow.drafts import compose
from notnow.drafts.compose import (
    MAX_REFERENCES,
    Draft,
    _check_headers,
    compose_draft,
    reply_subject,
    sanitize_header,
)
from notnow.drafts.render import LANGUAGES, ReplyContext, render_reply
from notnow.errors import MessageError, UserError
from notnow.message import Address, Email, parse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eml" / "drafts"
ALL_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.eml"))
ACCOUNT = AccountConfig(
    name="personal", identity="Alice Example <alice@example.org>", host="127.0.0.1"
)
NOW = datetime(2025, 3, 20, 9, 30, tzinfo=UTC)
THREADED = {
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "x-notnow-source",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
}


def load(name: str) -> Email:
    return parse((FIXTURES / name).read_bytes())


def draft_of(source: Email, drafts: DraftsConfig | None = None) -> Draft:
    return compose_draft(source, ACCOUNT, drafts or DraftsConfig(), now=NOW)


def read_back(draft: Draft) -> EmailMessage:
    message = message_from_bytes(draft.raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def header_names(message: EmailMessage) -> list[str]:
    return [name.lower() for name in message]


def body_of(message: EmailMessage) -> str:
    content: str = message.get_content()
    return content.replace("\r\n", "\n")


# -- recipients ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "to"),
    [
        ("greenhouse_noreply.eml", "Jane Doe <jane.doe@acmerobotics.com>"),
        ("personal_manager.eml", "Mark Jensen <mark.jensen@brightfield.io>"),
        ("reply_to.eml", "Sam Patel <sam.patel@initech.com>"),
        ("german.eml", "Personalabteilung Muster GmbH <bewerbung@muster-gmbh.de>"),
        ("re_re.eml", "Claire Redfield <claire.redfield@umbrella.example>"),
        ("no_message_id.eml", "Hooli Recruiting <recruiting@hooli.com>"),
    ],
)
def test_recipient(fixture: str, to: str) -> None:
    draft = draft_of(load(fixture))
    assert draft.to == to
    assert draft.note is None
    assert read_back(draft)["To"] == to


def test_no_reply_without_a_human_address_leaves_to_empty_with_a_note_on_top() -> None:
    draft = draft_of(load("workday_html.eml"))
    message = read_back(draft)
    assert draft.to == ""
    assert "to" not in header_names(message)
    assert draft.note is not None
    assert "globex@myworkday.com" in draft.note
    assert body_of(message).startswith(draft.note)
    assert draft.body.startswith(draft.note)


def test_reply_to_wins_over_from() -> None:
    source = load("reply_to.eml")
    assert source.sender is not None and source.sender.address == "no-reply@hire.lever.co"
    assert draft_of(source).to == "Sam Patel <sam.patel@initech.com>"


# -- headers ------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ALL_FIXTURES)
def test_header_set_and_values(fixture: str) -> None:
    source = load(fixture)
    draft = draft_of(source)
    message = read_back(draft)
    names = header_names(message)
    expected = set(THREADED)
    if not source.has_message_id:
        expected -= {"in-reply-to", "references"}
    if not draft.to:
        expected.discard("to")
    assert sorted(names) == sorted(expected)  # each exactly once
    assert message["From"] == "Alice Example <alice@example.org>"
    assert message["Subject"] == draft.subject
    assert message["Message-ID"] == draft.message_id
    assert draft.message_id.endswith("@example.org>")
    assert message["Date"] == "Thu, 20 Mar 2025 09:30:00 +0000"
    assert message["X-Notnow-Source"] == source.message_id == draft.source_id
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message["Content-Transfer-Encoding"] in {"7bit", "8bit", "quoted-printable"}
    assert b"\r\n" in draft.raw and b"\n" not in draft.raw.replace(b"\r\n", b"")


def test_threading() -> None:
    source = load("greenhouse_noreply.eml")
    message = read_back(draft_of(source))
    assert message["In-Reply-To"] == "<gh.7f3c2a91.1741104130@us.greenhouse-mail.io>"
    assert message["References"] == "<gh.7f3c2a91.1741104130@us.greenhouse-mail.io>"


def test_long_references_keep_the_first_and_the_last_and_fold() -> None:
    source = load("re_re.eml")
    draft = draft_of(source)
    ids = read_back(draft)["References"].split()
    assert len(ids) == MAX_REFERENCES
    assert ids[0] == "<thread.0@umbrella.example>"
    assert ids[-1] == "<thread.30@umbrella.example>"
    assert ids[-2] == "<thread.29@umbrella.example>"
    head = draft.raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))


def test_no_message_id_means_no_threading_headers() -> None:
    source = load("no_message_id.eml")
    assert not source.has_message_id
    message = read_back(draft_of(source))
    assert "in-reply-to" not in header_names(message)
    assert "references" not in header_names(message)
    assert message["X-Notnow-Source"] == source.message_id


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("Your application", "Re: Your application"),
        ("RE: RE: Your interview with Umbrella", "Re: Your interview with Umbrella"),
        ("Re: Re[2]: Update", "Re: Update"),
        ("AW: Ihre Bewerbung", "Re: Ihre Bewerbung"),
        ("SV: Ansökan", "Re: Ansökan"),
        ("Antw: Sollicitatie", "Re: Sollicitatie"),
        ("R: Candidatura", "Re: Candidatura"),
        ("RES: Candidatura", "Re: Candidatura"),
        ("Re : Candidature", "Re: Candidature"),
        ("Fwd: Your application", "Re: Fwd: Your application"),
        ("Regarding your application", "Re: Regarding your application"),
        ("", "Re: (no subject)"),
        ("x\r\nBcc: evil@example.com", "Re: x Bcc: evil@example.com"),
    ],
)
def test_reply_subject(original: str, expected: str) -> None:
    assert reply_subject(original) == expected


def test_fixture_subject_already_re_re() -> None:
    assert draft_of(load("re_re.eml")).subject == "Re: Your interview with Umbrella"


# -- header injection ---------------------------------------------------------------------


def test_hostile_fixture_adds_no_header() -> None:
    draft = draft_of(load("hostile_subject.eml"))
    message = read_back(draft)
    names = header_names(message)
    assert "bcc" not in names and "x-injected" not in names
    assert names.count("subject") == 1
    assert b"\r\nBcc:" not in draft.raw and b"\nX-Injected" not in draft.raw
    assert message["Subject"] == "Re: x Bcc: evil@example.com"


@pytest.mark.parametrize(
    "hostile",
    [
        "x\r\nBcc: evil@example.com",
        "x\nBcc: evil@example.com",
        "x\rBcc: evil@example.com",
        "x\u2028Bcc: evil@example.com",
        "x\x85Bcc: evil@example.com",
        "x\x00\x0bBcc: evil@example.com",
        "=?utf-8?b?eA0KQmNjOiBldmlsQGV4YW1wbGUuY29t?=",
    ],
)
def test_compose_is_safe_on_its_own(hostile: str) -> None:
    # An Email built directly, not by notnow.message.parse: nothing upstream cleaned it.
    source = Email(
        message_id="<hostile@acme.example>",
        subject=hostile,
        sender=Address(hostile, "jane@acme.example"),
        address_headers={"reply-to": formataddr((hostile, "sam@acme.example"))},
        references=("<a@b>\r\nBcc: evil@example.com",),
        text="We went another way.",
    )
    account = AccountConfig(
        name="personal", identity=f"{hostile} <alice@example.org>", host="127.0.0.1"
    )
    draft = compose_draft(source, account, DraftsConfig(), now=NOW)
    message = read_back(draft)
    names = header_names(message)
    assert "bcc" not in names
    assert sorted(names) == sorted(THREADED)
    for name in ("From", "To", "Subject", "References"):
        assert "\n" not in message[name] and "\r" not in message[name]
    assert [a.addr_spec for a in message["To"].addresses] == ["sam@acme.example"]


@pytest.mark.parametrize(
    "head",
    [
        b"From: a@b.example\r\nSubject: s\r\nBcc: evil@example.com\r\n",  # one too many
        b"From: a@b.example\r\nSubject: s\r\nSubject: t\r\n",  # a header twice
        b"From: a@b.example\r\nSubject: s\r\nnot a header\r\n",  # a broken block
        b"From: a@b.example\r\n",  # one missing
    ],
)
def test_the_header_check_refuses_any_other_header_block(head: bytes) -> None:
    _check_headers(b"From: a@b.example\r\nSubject: s\r\n\r\nbody\r\n", ["from", "subject"])
    with pytest.raises(MessageError, match="header check"):
        _check_headers(head + b"\r\nbody\r\n", ["from", "subject"])


def test_bad_addresses_are_not_used_as_recipients() -> None:
    source = Email(
        message_id="<x@acme.example>",
        subject="Update",
        sender=Address("Eve", "evil2@example.comX-Injected"),
        text="We went another way.",
    )
    assert draft_of(source).to == ""


def test_identity_without_address_is_a_user_error() -> None:
    account = AccountConfig(name="personal", identity="Alice Example", host="127.0.0.1")
    with pytest.raises(UserError, match="identity"):
        compose_draft(load("german.eml"), account, DraftsConfig(), now=NOW)


printable = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),
    max_size=120,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=printable, sender_name=printable, reply_name=printable, own_name=printable)
def test_arbitrary_subjects_and_names_keep_the_header_set(
    subject: str, sender_name: str, reply_name: str, own_name: str
) -> None:
    source = Email(
        message_id="<prop@acme.example>",
        subject=subject,
        sender=Address(sender_name, "jane@acme.example"),
        address_headers={"reply-to": formataddr((reply_name, "sam@acme.example"))},
        text="Unfortunately we decided to move forward with other candidates.",
    )
    identity = formataddr((own_name, "alice@example.org"))
    account = AccountConfig(name="personal", identity=identity, host="127.0.0.1")
    draft = compose_draft(source, account, DraftsConfig(), now=NOW)
    message = read_back(draft)
    names = header_names(message)
    assert sorted(names) == sorted(THREADED)
    assert names.count("subject") == 1
    assert "bcc" not in names
    parsed_subject = str(message["Subject"]).lstrip()  # see the test below
    assert parsed_subject.startswith("Re: ")
    assert not re.match(r"(?i)\s*re\s*:", parsed_subject[4:])
    assert sanitize_header(parsed_subject) == draft.subject
    assert [a.addr_spec for a in message["To"].addresses] == ["sam@acme.example"]
    assert [a.addr_spec for a in message["From"].addresses] == ["alice@example.org"]
    if "None" not in subject + sender_name + reply_name + own_name:
        assert "None" not in draft.body.split("\nOn ")[0]


# -- body ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ALL_FIXTURES)
def test_body_has_no_leftovers_and_quotes_the_original(fixture: str) -> None:
    source = load(fixture)
    draft = draft_of(source)
    body = body_of(read_back(draft))
    assert body == draft.body
    reply, _, quote = body.partition("\n\n" + _attribution_start(source))
    for leftover in ("None", "{{", "}}", "{%", "%}"):
        assert leftover not in reply
    assert quote, "the original is quoted below the reply"
    quoted = quote.split("\n", 1)[1]
    assert all(line.startswith(">") for line in quoted.splitlines())
    assert "Alice Example" in reply


def _attribution_start(source: Email) -> str:
    return {"de": "Am ", "fr": "Le ", "es": "El ", "nl": "Op ", "pt": "Em "}.get(source.lang, "On ")


def test_english_reply_says_what_a_good_reply_says() -> None:
    body = draft_of(load("greenhouse_noreply.eml")).body
    reply = body.split("\nOn ")[0]
    assert reply.startswith("Dear Jane,\n")
    assert "Thank you for letting me know" in reply
    assert "Senior Data Engineer role at Acme Robotics" in reply
    assert "feedback" in reply
    assert "future roles" in reply
    assert "stay in touch" in reply
    assert "On Tue, 4 Mar 2025 at 16:02, Acme Robotics <no-reply@us.greenhouse-mail.io>" in body


def test_german_original_gets_a_german_reply() -> None:
    body = draft_of(load("german.eml")).body
    assert body.startswith("Hallo Katrin,\n")
    assert "Bewerbung als Softwareentwickler bei Muster" in body
    assert "Mit freundlichen Grüßen\nAlice Example" in body
    assert "\nAm 12.03.2025 um 11:20 schrieb " in body


def test_signature_is_added_after_the_separator() -> None:
    drafts = DraftsConfig(signature="-- \nAlice Example\nhttps://alice.example")
    body = draft_of(load("personal_manager.eml"), drafts).body
    assert "Alice Example\n\n-- \nAlice Example\nhttps://alice.example\n\nOn " in body
    assert body.count("-- \n") == 1


def test_non_ascii_body_is_quoted_printable() -> None:
    draft = draft_of(load("german.eml"))
    assert read_back(draft)["Content-Transfer-Encoding"] == "quoted-printable"
    assert draft.raw.isascii()


# -- render -------------------------------------------------------------------------------


@pytest.mark.parametrize("language", [*LANGUAGES, "it"])
@pytest.mark.parametrize("known", [True, False])
def test_bundled_template_reads_naturally_with_or_without_details(
    language: str, known: bool
) -> None:
    context = ReplyContext(
        sender_name="Alice Example" if known else None,
        contact_name="Jane" if known else None,
        company="Acme" if known else None,
        role="Data Engineer" if known else None,
        language=language,
    )
    text = render_reply(context)
    for leftover in ("None", "{{", "}}", "  ", " ,", " ."):
        assert leftover not in text
    assert ("Acme" in text) is known
    assert ("Jane" in text) is known
    assert text.endswith("\n") and not text.endswith("\n\n\n")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "my-reply.j2"
    path.write_text(text, encoding="utf-8")
    return path


def test_user_template(tmp_path: Path) -> None:
    path = write(tmp_path, "Hi {{ contact_name }} at {{ company }}, {{ language }}\n")
    context = ReplyContext(sender_name="Alice", contact_name="Jane", company="Acme")
    assert render_reply(context, path) == "Hi Jane at Acme, en\n"


def test_user_template_printing_an_unknown_value_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "Hello,\n\nI enjoyed meeting the {{ company }} team.\n")
    with pytest.raises(UserError) as caught:
        render_reply(ReplyContext(sender_name="Alice"), path)
    assert f"{path}, line 3" in str(caught.value)
    assert "{% if" in str(caught.value)


def test_user_template_unknown_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "Hello\n{{ recruiter }}\n")
    with pytest.raises(UserError, match=r"my-reply\.j2, line 2: 'recruiter' is undefined"):
        render_reply(ReplyContext(sender_name="Alice"), path)


def test_user_template_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "Hello\n\n{% if company %}unclosed\n")
    with pytest.raises(UserError, match=r"my-reply\.j2, line \d+: template syntax error"):
        render_reply(ReplyContext(sender_name="Alice"), path)


def test_user_template_is_sandboxed(tmp_path: Path) -> None:
    path = write(tmp_path, "{{ company.__class__.__mro__[1].__subclasses__() }}\n")
    with pytest.raises(UserError, match=r"my-reply\.j2, line 1"):
        render_reply(ReplyContext(sender_name="Alice", company="Acme"), path)


def test_user_template_missing(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="drafts.template"):
        render_reply(ReplyContext(sender_name="Alice"), tmp_path / "nope.j2")


def test_user_template_leaving_braces_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "Dear {% raw %}{{ name }}{% endraw %},\n")
    with pytest.raises(UserError, match="left unfilled"):
        render_reply(ReplyContext(sender_name="Alice"), path)


def test_compose_uses_the_user_template(tmp_path: Path) -> None:
    path = write(tmp_path, "Thanks{% if contact_name %}, {{ contact_name }}{% endif %}!\n")
    draft = draft_of(load("personal_manager.eml"), DraftsConfig(template=path))
    assert draft.body.startswith("Thanks, Mark!\n\nOn Thu, 6 Mar 2025 at 09:15, Mark Jensen")


def _encoded_word(text: str, encoding: str) -> str:
    if encoding == "b":
        return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="
    quoted = quopri.encodestring(text.encode(), header=True).decode().replace("\n", "=0A")
    return f"=?utf-8?q?{quoted}?="


hostile_piece = st.one_of(
    st.sampled_from(
        [
            "\r\n",
            "\n",
            "\r",
            "Bcc: evil@example.com",
            "Re:",
            "RE: ",
            "AW:",
            " ",
            "=?",
            "?=",
            "=?x-unknown?q?",
            "=0D=0A",
            '"',
            "<",
            ">",
            ",",
            ";",
            ":",
        ]
    ),
    st.builds(
        _encoded_word,
        st.lists(st.sampled_from([*'ab \r\n:@<>,;=?"', "Bcc: e@x.io", "é"]), max_size=12).map(
            "".join
        ),
        st.sampled_from(["b", "q"]),
    ),
    printable,
)
hostile_text = st.lists(hostile_piece, max_size=8).map("".join)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=hostile_text, sender_name=hostile_text, own_name=hostile_text)
def test_encoded_words_never_become_headers(subject: str, sender_name: str, own_name: str) -> None:
    source = Email(
        message_id="<prop@acme.example>",
        subject=subject,
        sender=Address(sender_name, "jane@acme.example"),
        text="Unfortunately we decided to move forward with other candidates.",
    )
    identity = f"{own_name} <alice@example.org>"
    account = AccountConfig(name="personal", identity=identity, host="127.0.0.1")
    try:
        draft = compose_draft(source, account, DraftsConfig(), now=NOW)
    except UserError:
        # An identity whose name hides an address separator is refused, not misused.
        return
    message = read_back(draft)
    names = header_names(message)
    assert sorted(names) == sorted(THREADED)
    # Python may fold right after "Subject:"; the space that leaves is folding, not text.
    subject_back = str(message["Subject"]).lstrip()
    assert subject_back.startswith("Re: ")
    assert not re.match(r"(?i)\s*re\s*:", subject_back[4:])
    assert [a.addr_spec for a in message["To"].addresses] == ["jane@acme.example"]


@pytest.mark.parametrize("fixture", ALL_FIXTURES)
def test_drafts_are_the_bytes_the_stdlib_policy_gives(
    fixture: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # compose keeps each header class the stdlib's registry makes; nothing else differs.
    monkeypatch.setattr(compose, "make_msgid", lambda domain=None: "<fixed@example.org>")
    ours = draft_of(load(fixture)).raw
    monkeypatch.setattr(compose, "_POLICY", email.policy.SMTP)
    assert ours == draft_of(load(fixture)).raw
