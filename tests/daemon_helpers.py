"""For the daemon's end-to-end tests: mail, a small model, and `notnow run` as a
subprocess whose log can be waited on.

The daemon tests are about the watcher, not the classifier: a model trained with
notnow's own pipeline on a few messages shaped like these loads in about a second, where
the bundled one takes tens of seconds (longer whenever its corpus changes).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
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


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


class Daemon:
    """`notnow -v run` as a subprocess; its stderr is collected as it is written."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.process = subprocess.Popen(
            [sys.executable, "-m", "notnow", "-v", "run", "--config", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def count(self, needle: str) -> int:
        with self._lock:
            return sum(needle in line for line in self.lines)

    @property
    def log(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def wait_for_log(self, needle: str, occurrences: int = 1, timeout: float = 120) -> None:
        assert wait_for(lambda: self.count(needle) >= occurrences, timeout), (
            f"no {occurrences}x {needle!r} in the log within {timeout} s:\n{self.log}"
        )

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        return code
