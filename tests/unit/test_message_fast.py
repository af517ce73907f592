"""message._fast_tree, the fast reading of well-formed mail, must give exactly the stdlib
feed parser's compat32 tree, or nothing (and the stdlib decides)."""

from __future__ import annotations

import email
import random
from email.message import EmailMessage, Message
from email.policy import SMTP, compat32
from pathlib import Path

import pytest

from notnow.message import _fast_tree, parse

TESTS = Path(__file__).resolve().parents[1]


def shape(message: Message) -> list[object]:
    """Everything of a parsed tree the rest of notnow (or anyone) could read."""
    nodes: list[object] = []
    for part in message.walk():
        payload = part._payload  # noqa: SLF001 - the stored payload is what must match
        nodes.append(
            (
                part.items(),
                payload if isinstance(payload, str) else len(payload),
                part.preamble,
                part.epilogue,
                [type(defect).__name__ for defect in part.defects],
                part.get_unixfrom(),
            )
        )
    return nodes


def same_as_stdlib(raw: bytes) -> bool:
    """True when the fast path took the message (and then it must agree)."""
    fast = _fast_tree(raw)
    if fast is None:
        return False
    assert shape(fast) == shape(email.message_from_bytes(raw, policy=compat32))
    return True


def built(seed: int) -> EmailMessage:
    """A message of a random common shape, as mail clients and ATSes write them."""
    rng = random.Random(seed)  # noqa: S311 - test data
    words = [
        "thank",
        "you",
        "for",
        "applying",
        "we",
        "regret",
        "café",
        "naïve",
        "20",
        "%",
        "€",
        "<b>",
        "=",
        "==",
    ]
    text = "\n".join(
        " ".join(rng.choice(words) for _ in range(rng.randint(0, 14)))
        for _ in range(rng.randint(1, 12))
    )
    message = EmailMessage()
    message["From"] = "Talent <jobs@acme.example>"
    message["To"] = "sam@example.net"
    message["Subject"] = f"Your application {seed}"
    message.set_content(
        text,
        cte=rng.choice(["7bit", "8bit", "quoted-printable", "base64"])
        if text.isascii()
        else rng.choice(["8bit", "quoted-printable", "base64"]),
    )
    if rng.random() < 0.8:
        message.add_alternative(f"<html><body><p>{text}</p></body></html>", subtype="html")
    if rng.random() < 0.4:
        message.add_attachment(
            rng.randbytes(300), maintype="application", subtype="pdf", filename="cv.pdf"
        )
    if rng.random() < 0.2:
        message.add_attachment("notes\n", filename="notes.txt")
    return message


@pytest.mark.parametrize("seed", range(60))
@pytest.mark.parametrize("linesep", ["\n", "\r\n"])
def test_generated_mail_reads_the_same(seed: int, linesep: str) -> None:
    raw = built(seed).as_bytes(policy=SMTP.clone(linesep=linesep))
    assert same_as_stdlib(raw)


def test_every_fixture_and_mailbox_message_reads_the_same() -> None:
    files = sorted((TESTS / "fixtures").rglob("*.eml")) + sorted((TESTS / "data").rglob("*.eml"))
    taken = [path.name for path in files if same_as_stdlib(path.read_bytes())]
    assert taken  # the fast path is used on real-shaped multiparts


BASE = (
    "From: a@b.example\nTo: c@d.example\nSubject: s\nMIME-Version: 1.0\n"
    'Content-Type: multipart/alternative; boundary="XX"\n\n'
)
PLAIN = "Content-Type: text/plain\n\nhello\n"
HTML = "Content-Type: text/html\n\n<p>hello</p>\n"


@pytest.mark.parametrize(
    "body",
    [
        f"--XX\n{PLAIN}--XX\n{HTML}--XX--\n",
        f"preamble\n\n--XX\n{PLAIN}--XX  \n{HTML}--XX--",
        f"--XX\n{PLAIN}\n\n--XX\n{HTML}--XX--\nepilogue\n\n",
        f"--XX\n{PLAIN}--XX\n{HTML}--XX--   \n\n",
        # nested: alternative inside mixed, with and without an epilogue
        f"--XX\nContent-Type: multipart/mixed; boundary=YY\n\n--YY\n{PLAIN}--YY--\n"
        f"--XX\n{HTML}--XX--\n",
        f"--XX\nContent-Type: multipart/mixed; boundary=YY\n\n--YY\n{PLAIN}--YY--\ntail\n\n"
        f"--XX\n{HTML}--XX--\n",
        f"--XX\nContent-Type: multipart/mixed; boundary=YY\n\n--YY\n{PLAIN}--YY--\n\n"
        f"--XX\n{HTML}--XX--\n",
        f"--XX\nContent-Type: multipart/mixed; boundary=YY\n\n--YY\n{PLAIN}--YY--"
        f"\n--XX\n{HTML}--XX--\n",
    ],
)
def test_well_formed_edges_read_the_same(body: str) -> None:
    for raw in (BASE + body, (BASE + body).replace("\n", "\r\n")):
        assert same_as_stdlib(raw.encode())


@pytest.mark.parametrize(
    "body",
    [
        f"{PLAIN}--XX--\n",  # no first boundary
        f"--XX\n{PLAIN}--XX\n{HTML}",  # no closing boundary
        f"--XX\n{PLAIN}--XX\n--XX\n{HTML}--XX--\n",  # doubled boundary line
        "--XX\n\nno headers\n--XX--\n",  # a part without headers
        f"--XX\n{PLAIN}--XX--\n--XX\n{HTML}--XX--\n",  # a part after the close
        f"--XX\nnot a header\n{PLAIN}--XX--\n",  # no header separator
        f"--XX\nContent-Type: message/rfc822\n\n{PLAIN}--XX--\n",  # attached message
        f"--XX\r{PLAIN}--XX--\n",  # bare CR
        f"--XX\n{PLAIN}--XX\nContent-Type: multipart/mixed\n\nx\n--XX--\n",  # no boundary
    ],
)
def test_anything_irregular_is_left_to_the_stdlib(body: str) -> None:
    raw = (BASE + body).encode()
    assert _fast_tree(raw) is None
    parse(raw)  # and it still parses (or refuses with a MessageError), as before


def test_single_parts_read_the_same() -> None:
    for raw in (
        b"From: a@b.example\nSubject: s\n\nhello\n",
        b"From: a@b.example\r\nSubject: s\r\n\r\nhello\r\nworld",
        b"From: a@b.example\nSubject: s\n\n",
        b"From: a@b.example\nContent-Type: text/html\n\n<p>hi</p>\n\n\n",
        b"Subject: caf\xc3\xa9\nContent-Type: text/plain; charset=latin-1\n\n\xe9t\xe9\n",
    ):
        assert same_as_stdlib(raw)


def test_headers_read_the_same() -> None:
    """Headers are read line by line (``_read_headers``): folded values keep their line
    ends, an mbox envelope line first is the unix-from, odd names are names."""
    for raw in (
        b"From sender@x.example Mon Jan  1 00:00:00 2026\nFrom: a@b.example\n\nhi\n",
        b"From sender@x.example Mon Jan 1\r\nSubject: s\r\n\r\nhi\r\n",
        b"Subject: one\n two\n\tthree\nX-Empty:\nX-Spaces:   \n\nbody\n",
        b"Subject: one\r\n two\r\nTo: c@d.example\r\n\r\nbody\r\n",
        b"X-Odd_Name!#$%&'*+-.^`|~: v\nSubject:no space\nSubject: again\n\nb\n",
        b"Subject: caf\xc3\xa9 \xe9\nFrom: a@b.example\n\nb\n",
    ):
        assert same_as_stdlib(raw), raw
    for raw in (
        b" continued first\nSubject: s\n\nb\n",  # a first line that continues nothing
        b"Subject: s\nFrom someone else\nTo: t\n\nb\n",  # an envelope line later
        b"Subject: s\n: no name\n\nb\n",
        b"Subject: s\nNa\xc3\xafve: v\n\nb\n",  # a name the parser does not take
        b"From x\n continued envelope\nSubject: s\n\nb\n",
    ):
        assert _fast_tree(raw) is None, raw
        assert parse(raw).subject == "s"  # read by the stdlib parser instead


def test_attached_messages_digests_and_odd_single_parts_are_left_to_the_stdlib() -> None:
    digest = (BASE.replace("alternative", "digest") + f"--XX\n{PLAIN}--XX--\n").encode()
    encoded = BASE.replace("\n\n", "\nContent-Transfer-Encoding: base64\n\n") + (
        f"--XX\n{PLAIN}--XX--\n"
    )
    for raw in (
        digest,
        encoded.encode(),
        b"From: a@b.example\nContent-Type: message/rfc822\n\nFrom: c@d\n\nhi\n",
        b"From: a@b.example\nSubject: no blank line after the headers\n",
        b"From: a@b.example\nnot a header\n\nbody\n",
        b"From: a@b.example\r\nSubject: s\r\rbare CR\n",
    ):
        assert _fast_tree(raw) is None
