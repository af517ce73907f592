"""The bundled, hand-written training corpus and labelled mail from users.

Owns reading labelled examples; knows nothing about models. The bundled corpus lives in
``corpus/<label>/*.txt``: messages separated by a line ``%%``, each written as headers
(From, Subject, X-Category, X-Lang, optional Content-Type), a blank line and a body.
User data (``notnow train --data DIR``) is ``DIR/rejection/`` and ``DIR/other/`` holding
.eml files, an mbox or a Maildir.
"""

from __future__ import annotations

import hashlib
import mailbox as stdlib_mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

LABELS = ("rejection", "other")
SEPARATOR = "\n%%\n"


@dataclass(frozen=True)
class Example:
    raw: bytes
    label: str  # "rejection" | "other"
    category: str
    lang: str
    origin: str  # where it came from, for reports: "corpus/rejection/en-ats.txt#3"


# Which "other" mail belongs to a job search, next to everyday mail: the model learns
# three kinds (``model.train``), so that what job mail shares with rejections (their
# context: positions, applications, careers) does not count as a rejection's mark. By
# category; the few categories used for both kinds go by their corpus file. A user's
# labelled mail is job mail: it comes from the folders the user files job mail in.
_JOB_CATEGORY = re.compile(
    r"^(?:ack-|ats-|application-|assessment|agency|apprenticeship|academia-|academic-(?:ack|status)"
    r"|board-|candidate-|career-|care-ack|coaching|colleague-send|conditional|data-retention"
    r"|deadline-|delay|dice-|draft-rejection|duplicate-app|eeo-|eligible|feedback"
    r"|forwarded-(?:rejection|to-manager)|friend-(?:own-rejection|rejection-story|reference)"
    r"|gdpr|glassdoor|government-(?:ack|incomplete|portal)|graduate-|handshake"
    r"|healthcare-(?:ack|agency)|hiring-|hospital-|hospitality-|hourly-|hr-admin|incomplete-"
    r"|indeed-|interview-|internal-app|internship-|job|linkedin-|mentor-advice|meetup|monster-"
    r"|need-more-time|networking|next-|nonprofit-|offer|onboarding|one-liner-ack|otta-|own-reply"
    r"|personal-ack|pre-employment|process-change|public-portal|public-sector|publishing-ack"
    r"|re-engagement|recruiter-|reed-|reference-|referral-|reschedule|restaurant-ack|retail-ack"
    r"|ripplematch|role-on-hold|scheduling|school-(?:ack|status)|seasonal-ack|second-role|seek-"
    r"|small-business-ack|speculative|stage-passed|startup-ack|status-(?:action|advanced|change"
    r"|checks|dates|decision|delay|forwarded|html|in-review|pending|shortlist|still|under|update"
    r"|viewed)|still-|talent-|thread-(?:ack|status)|totaljobs|trial-"
    r"|university-(?:ack|careers|jobboard|portal)|verify-email|volume-warning|warehouse-ack"
    r"|wellfound|withdrawal|ziprecruiter|bigtech-ack|calendar-invite|article-newsletter"
    r"|fellowship-ack|charity-ack|childcare-ack|arts-ack|bank-ack-html|acceptance$"
    r"|admission-waitlist|scholarship-status|survey|notification|customer-survey"
    r"|academia-admissions|background-check|campus-ack)"
)
_MIXED_CATEGORIES = frozenset(
    (
        "one-liner", "personal", "newsletter", "thread-reply", "short-reply", "everyday",
        "admin", "contract", "calendar-declined", "acceptance", "notification", "survey",
        "friends", "friend", "public-sector", "order",
    )
)  # fmt: skip
_JOB_FILE = re.compile(
    r"(?:ack|near-(?!nonjob)|jobmail|nearmiss|status|ats|hiring|lookalike|process|boilerplate"
    r"|s4-html)"
)


def job_related(example: Example) -> bool:
    """Rejections, and other mail about the reader's own job search (confirmations,
    invitations, offers, portals, recruiters, a friend's note on a rejection) as
    against everyday mail."""
    if example.label == "rejection" or example.category == "user":
        return True
    if example.category in _MIXED_CATEGORIES:
        name = example.origin.split("#", 1)[0].rsplit("/", 1)[-1]
        return bool(_JOB_FILE.search(name)) and "more-nearmiss" not in name
    return bool(_JOB_CATEGORY.match(example.category))


def _corpus_root() -> Traversable:
    return resources.files("notnow.classifier") / "corpus"


def _corpus_files() -> list[tuple[str, Traversable]]:
    files = []
    root = _corpus_root()
    for label in LABELS:
        folder = root / label
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".txt"):
                files.append((label, entry))
    return files


def corpus_hash() -> str:
    """A digest of every corpus file: the bundled model is a function of it."""
    digest = hashlib.sha256()
    for label, entry in _corpus_files():
        digest.update(f"{label}/{entry.name}\0".encode())
        digest.update(entry.read_bytes())
    return digest.hexdigest()[:16]


def bundled() -> list[Example]:
    examples: list[Example] = []
    for label, entry in _corpus_files():
        examples.extend(
            parse_corpus_text(
                entry.read_text(encoding="utf-8"), label, f"corpus/{label}/{entry.name}"
            )
        )
    return examples


def parse_corpus_text(text: str, label: str, origin: str) -> list[Example]:
    """Split one corpus file into examples, completing each into a well-formed message."""
    examples = []
    chunks = ("\n" + text.replace("\r\n", "\n") + "\n").split(SEPARATOR)
    for index, chunk in enumerate(chunks, start=1):
        chunk = chunk.strip("\n")
        if not chunk.strip():
            continue
        head, _, body = chunk.partition("\n\n")
        headers: dict[str, str] = {}
        for line in head.splitlines():
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        content_type = headers.get("content-type", "text/plain; charset=utf-8")
        if "charset" not in content_type:
            content_type += "; charset=utf-8"
        ident = hashlib.sha1(f"{origin}#{index}".encode(), usedforsecurity=False).hexdigest()
        lines = [
            f"From: {headers.get('from', 'someone@example.com')}",
            "To: Candidate <candidate@example.net>",
            f"Subject: {headers.get('subject', '')}",
            "Date: Mon, 02 Mar 2026 10:00:00 +0000",
            f"Message-ID: <{ident[:24]}@corpus.notnow.invalid>",
            "MIME-Version: 1.0",
            f"Content-Type: {content_type}",
            "Content-Transfer-Encoding: 8bit",
            "",
            body,
        ]
        examples.append(
            Example(
                raw="\r\n".join(lines).encode("utf-8"),
                label=label,
                category=headers.get("x-category", "unknown"),
                lang=headers.get("x-lang", "en"),
                origin=f"{origin}#{index}",
            )
        )
    return examples


# -- reading mail from disk (classify, train --data) --------------------------------------


@dataclass(frozen=True)
class Source:
    """One message found on disk: ``name`` is ``path`` or ``path#n`` inside an mbox."""

    name: str
    raw: bytes


def read_sources(path: Path) -> Iterator[Source]:
    """Every message in ``path``: an .eml file, a folder of them, an mbox, or a Maildir.

    Read-only: the stdlib mailbox classes are only used to read, never to write.
    """
    if path.is_dir():
        if all((path / sub).is_dir() for sub in ("cur", "new")):
            yield from _read_maildir(path)
            return
        for child in sorted(path.iterdir()):
            if child.name.startswith("."):
                continue
            yield from read_sources(child)
        return
    if _is_mbox(path):
        box = stdlib_mailbox.mbox(path, create=False)
        try:
            for index, key in enumerate(box.iterkeys(), start=1):
                yield Source(f"{path}#{index}", box.get_bytes(key))
        finally:
            box.close()
        return
    yield Source(str(path), path.read_bytes())


def _read_maildir(path: Path) -> Iterator[Source]:
    for sub in ("cur", "new"):
        for file in sorted((path / sub).iterdir()):
            if file.is_file() and not file.name.startswith("."):
                try:
                    yield Source(str(file), file.read_bytes())
                except FileNotFoundError:
                    continue  # a mail client moved it between listing and reading


def _is_mbox(path: Path) -> bool:
    if path.suffix.lower() == ".eml":
        return False
    try:
        with path.open("rb") as handle:
            return handle.read(5) == b"From "
    except OSError:
        return False


def read_labelled(directory: Path) -> list[Example]:
    """``DIR/rejection/`` and ``DIR/other/`` -> examples (categories "user")."""
    from notnow.errors import UserError

    examples: list[Example] = []
    missing = [label for label in LABELS if not (directory / label).exists()]
    if missing:
        raise UserError(
            f"{directory} must contain rejection/ and other/ (missing: {', '.join(missing)})"
        )
    for label in LABELS:
        for source in read_sources(directory / label):
            examples.append(Example(source.raw, label, "user", "", source.name))
    return examples
