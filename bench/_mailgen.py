"""Synthetic mail for the benchmarks, built with the stdlib email package from varied
snippets: plain, HTML-only, multipart/alternative and multipart/mixed messages, small
attachments, a few big (0.5-5 MB) ones, and a few percent job rejections.

This is test data for timing, never training data: the snippets are deliberately
simple and repetitive. Everything is deterministic for a given seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

COMPANIES = [
    "Acme Analytics", "Brightwave", "Northwind Labs", "Globex", "Initech", "Umbrella Health",
    "Stark Logistics", "Wayne Capital", "Hooli", "Pied Piper", "Vandelay Imports", "Soylent",
    "Tyrell Systems", "Cyberdyne", "Aperture Science", "Blue Harbor", "Kestrel Energy",
    "Lumen Retail", "Oakridge Bank", "Quantum Foods", "Redwood Media", "Silverline Travel",
]  # fmt: skip
ROLES = [
    "Senior Data Analyst", "Backend Engineer", "Product Manager", "UX Designer",
    "Marketing Coordinator", "Site Reliability Engineer", "Account Executive",
    "Financial Analyst", "Support Specialist", "Machine Learning Engineer", "Office Manager",
]  # fmt: skip
NAMES = [
    "Jamie Lee", "Priya Patel", "Tom Becker", "Sofia Rossi", "Lucas Martin", "Emma de Vries",
    "Noah Schmidt", "Olivia Brown", "Mateo Garcia", "Ana Souza", "Chen Wei", "Fatima Khan",
]  # fmt: skip

REJECTIONS = [
    "Thank you for your interest in the {role} position at {company} and for the time you "
    "spent with our team. After careful consideration, we have decided to move forward "
    "with other candidates whose experience more closely matches our needs.\n\nWe wish you "
    "every success in your job search.",
    "Dear {first},\n\nThank you for applying for the {role} role. Unfortunately we will not "
    "be progressing your application further at this time. We appreciate your interest in "
    "{company} and encourage you to apply for future openings.",
    "Hi {first},\n\nThanks again for interviewing with us last week. It was a tough "
    "decision, but we've decided to go with another candidate for the {role} position. "
    "I really enjoyed our conversation and would be glad to stay in touch.",
    "Thank you for taking the time to apply to {company}. We received many strong "
    "applications and, after reviewing yours, we regret to inform you that you have not "
    "been selected for the {role} position.",
]
OTHER_SUBJECTS = [
    "Weekly team sync notes", "Your order #{n} has shipped", "Re: lunch on Friday?",
    "[dev-list] Patch v{n}: fix race in scheduler", "Invoice {n} from {company}",
    "Interview invitation: {role} at {company}", "We received your application",
    "Your monthly statement is ready", "Photos from the weekend", "Quarterly report draft",
    "Security alert: new sign-in", "Newsletter: {n} things to read this week",
    "Meeting moved to Thursday", "Re: budget spreadsheet", "Welcome to {company}!",
]  # fmt: skip
SENTENCES = [
    "Please find the updated figures below.", "Let me know if Thursday works for you.",
    "The build is green again after the last merge.", "Your package will arrive tomorrow.",
    "We are excited to invite you to the next round of interviews.",
    "Attached are the slides from this morning.", "Can you review the pull request?",
    "The quarterly numbers look better than expected.", "Thanks for your quick reply!",
    "Do not reply to this automated message.", "Our offices are closed on Monday.",
    "The kids loved the museum, we should go again.", "I moved the meeting to 3pm.",
    "Remember to submit your timesheet by Friday.", "The new release fixes several bugs.",
    "We have received your application and will be in touch.",
    "Here is the agenda for the offsite.", "Your subscription renews next month.",
]  # fmt: skip


@dataclass(frozen=True)
class Generated:
    raw: bytes
    rejection: bool
    big: bool
    date: datetime


def _paragraphs(rng: random.Random, count: int) -> list[str]:
    return [" ".join(rng.choices(SENTENCES, k=rng.randint(2, 7))) for _ in range(count)]


def _html(paragraphs: list[str]) -> str:
    body = "".join(f"<p style='margin:0 0 12px'>{p}</p>" for p in paragraphs)
    return (
        "<html><head><style>p{font-family:Arial}</style></head><body>"
        f"<table width='100%'><tr><td>{body}</td></tr></table></body></html>"
    )


_ID = b"<PLACEHOLDER-MESSAGE-ID@bench.invalid>"
_DATE = b"Thu, 01 Jan 1970 00:00:00 +0000"


def generate(
    count: int,
    seed: int = 1,
    rejection_rate: float = 0.03,
    big_rate: float = 0.01,
    days: int = 30,
    pool: int = 1000,
) -> Iterator[Generated]:
    """``count`` messages, oldest first, spread over the last ``days`` days.

    Building a message with the email package costs ~10 ms, so a pool of ``pool``
    distinct messages is built once and each of the ``count`` messages is one of them
    with its own Message-ID and Date (the work notnow does per message is the same).
    """
    rng = random.Random(seed)  # noqa: S311 - test data, not cryptography
    blob = rng.randbytes(5 << 20)  # one random 5 MB blob, sliced for every attachment
    # Exact shares in the pool (templates are picked uniformly, so the mail has them too).
    pool = max(1, min(pool, count))
    kinds = [(i < round(pool * rejection_rate), False) for i in range(pool)]
    big_slots = rng.sample(range(pool), round(pool * big_rate))
    for slot in big_slots:
        kinds[slot] = (kinds[slot][0], True)
    templates = [_template(rng, blob, i, *kind) for i, kind in enumerate(kinds)]
    now = datetime.now(UTC)
    for index in range(count):
        date = now - timedelta(seconds=(count - index) * days * 86400 / max(count, 1))
        raw, rejection, big = templates[rng.randrange(len(templates))]
        message_id = make_msgid(f"b{seed}x{index}", "bench.example").encode()
        raw = raw.replace(_ID, message_id, 1).replace(_DATE, format_datetime(date).encode(), 1)
        yield Generated(raw, rejection, big, date)


def _template(
    rng: random.Random, blob: bytes, index: int, rejection: bool, big: bool
) -> tuple[bytes, bool, bool]:
    company = rng.choice(COMPANIES)
    role = rng.choice(ROLES)
    sender = rng.choice(NAMES)
    message = EmailMessage(policy=SMTP)
    message["From"] = f"{sender} <{sender.split()[0].lower()}@{_domain(company)}>"
    message["To"] = "Alex Morgan <alex.morgan@example.org>"
    message["Date"] = _DATE.decode()
    message["Message-ID"] = _ID.decode()
    if rejection:
        message["Subject"] = rng.choice(
            ["Your application for {role}", "Update on your application", "{company}: {role}"]
        ).format(role=role, company=company)
        paragraphs = [
            rng.choice(REJECTIONS).format(first="Alex", role=role, company=company),
            f"Best regards,\n{sender}\nTalent Acquisition, {company}",
        ]
    else:
        message["Subject"] = rng.choice(OTHER_SUBJECTS).format(
            n=rng.randint(100, 99999), company=company, role=role
        )
        # Mostly short mail, a long tail of long threads and newsletters.
        paragraphs = _paragraphs(rng, min(60, int(rng.paretovariate(1.2))))
    text = "\n\n".join(paragraphs)
    shape = rng.random()
    if shape < 0.45:
        message.set_content(text)
    elif shape < 0.80:
        message.set_content(text)
        message.add_alternative(_html(paragraphs), subtype="html")
    elif shape < 0.90:
        message.set_content(_html(paragraphs), subtype="html")
    else:
        message.set_content(text)
        size = rng.randint(2_000, 200_000)
        start = rng.randint(0, len(blob) - size)
        message.add_attachment(
            blob[start : start + size], maintype="application", subtype="pdf",
            filename=f"document-{index}.pdf",
        )  # fmt: skip
    if big:
        if message.get_content_maintype() != "multipart":
            message.make_mixed()
        size = rng.randint(512 << 10, 5 << 20)
        start = rng.randint(0, len(blob) - size)
        message.add_attachment(
            blob[start : start + size], maintype="application", subtype="zip",
            filename=f"archive-{index}.zip",
        )  # fmt: skip
    return message.as_bytes(), rejection, big


def _domain(company: str) -> str:
    return company.lower().replace(" ", "") + ".example"


def rejection(index: int, seed: int = 7) -> bytes:
    """One plain rejection with its own company, subject and thread (for latency runs)."""
    rng = random.Random(seed * 100_003 + index)  # noqa: S311 - test data
    company = f"{rng.choice(COMPANIES)} {index}"
    role = rng.choice(ROLES)
    sender = rng.choice(NAMES)
    message = EmailMessage(policy=SMTP)
    message["From"] = f"{sender} <{sender.split()[0].lower()}@{_domain(company)}>"
    message["To"] = "Alex Morgan <alex.morgan@example.org>"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(f"lat{index}", _domain(company))
    message["Subject"] = f"Your application for {role} at {company}"
    body = rng.choice(REJECTIONS).format(first="Alex", role=role, company=company)
    message.set_content(f"{body}\n\nBest regards,\n{sender}\nTalent Acquisition, {company}")
    return message.as_bytes()
