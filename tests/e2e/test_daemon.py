"""`notnow run` as a service: IDLE picks up new mail, SIGTERM ends it cleanly and quickly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import pytest
from cli_runner import write_config
from dovecot import Dovecot

pytestmark = pytest.mark.dovecot

REJECTION = (resources.files("notnow.demo") / "messages" / "03-personal-rejection.eml").read_bytes()


def wait_for(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_idle_drafts_new_mail_and_sigterm_stops_within_5s(home: Path, dovecot: Dovecot) -> None:
    user = dovecot.add_user()
    config = write_config(home, dovecot, user)
    process = subprocess.Popen(
        [sys.executable, "-m", "notnow", "-v", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert wait_for(lambda: (home / "state" / "state.sqlite3").exists(), 120)
        time.sleep(1.0)
        dovecot.deliver(user, "INBOX", REJECTION)
        assert wait_for(lambda: len(dovecot.messages(user, "Drafts")) == 1, 30), (
            "the new rejection got no draft"
        )
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=10)
        assert time.monotonic() - started < 5.0
        assert code == 0
    finally:
        if process.poll() is None:
            process.kill()
        _, stderr = process.communicate()
    assert "Traceback" not in stderr
    assert dovecot.password(user) not in stderr
