"""Mail for the daemon's end-to-end tests, and a small model trained on mail like it.

The daemon tests are about the watcher, not the classifier: a model trained with
notnow's own pipeline on a few messages shaped like these loads in about a second, where
the bundled one takes tens of seconds (longer whenever its corpus changes).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid
from pathlib import Path


def message(sender: str, subject: str, body: str) -> tuple[str, bytes]:
    """(Message-ID, raw bytes) of a plain-text message to Alex, dated now."""
    message_id = make_msgid("daemon", domain="notnow.test")
    lines = [
        f"From: {sender}",
        "To: Alex Morgan <alex.morgan@example.org>",
        f"Subject: {subject}",
        f"Date: {format_datetime(datetime.now(UTC))}",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "",
        *body.splitlines(),
        "",
    ]
    return message_id, "\r\n".join(lines).encode()


def rejection(company: str, role: str) -> tuple[str, bytes]:
    return message(
        f"Dana Whitfield <dana@{company.lower()}.example>",
        f"Your application for {role} at {company}",
        f"Dear Alex,\n\nThank you for taking the time to interview for the {role} position "
        f"at {company}. After careful consideration, we have decided to move forward with "
        "another candidate whose experience more closely matches our needs.\n\nWe were "
        "impressed by your background and wish you the very best in your search.\n\n"
        f"Kind regards,\nDana Whitfield\nTalent Acquisition, {company}",
    )


def ordinary(subject: str) -> tuple[str, bytes]:
    return message(
        "Sam Lee <sam@friends.example>",
        subject,
        "Hi Alex,\n\nAre we still on for the climbing gym on Thursday at 7? I can bring the "
        "spare harness.\n\nSam",
    )


def train_small_model(path: Path) -> Path:
    from notnow.classifier import dataset, model

    companies = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Wayne", "Stark"]
    roles = ["Data Engineer", "Designer", "Analyst", "SRE", "Product Manager", "Tester"]
    subjects = ["Lunch on Friday?", "Your order has shipped", "Book club", "Rent reminder"]
    examples = [
        dataset.Example(rejection(company, role)[1], "rejection", "generated", "en", company)
        for company, role in zip(companies, roles * 2, strict=False)
    ] + [
        dataset.Example(ordinary(subject)[1], "other", "generated", "en", subject)
        for subject in subjects * 2
    ]
    model.save(model.train(examples), path)
    return path
