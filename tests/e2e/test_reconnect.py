"""The watcher (`notnow run`) against a server that goes away and comes back changed.

A Dovecot of the test's own is stopped under an idling daemon and started again on the
same ports: the daemon must reconnect by itself (backoff), draft what arrived, draft
nothing twice, and log one line per change of state, not one per retry. Then the same
with the folder's UIDVALIDITY changed while the server was down (its index and UID list
lost): every message looks new to IMAP, but none may get a second draft.
"""

from __future__ import annotations

import collections
import email
import email.policy
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from cli_runner import write_config
from daemon_helpers import Daemon, ordinary, rejection, wait_for
from dovecot import Dovecot

pytestmark = pytest.mark.dovecot

RETRYING = "error, retrying with backoff"


def sources(server: Dovecot, user: str) -> collections.Counter[str]:
    """X-Notnow-Source of every draft in Drafts, counted."""
    found: collections.Counter[str] = collections.Counter()
    for _, raw, _ in server.messages(user, "Drafts"):
        draft = email.message_from_bytes(raw, policy=email.policy.default)
        # A long value is folded onto the next line: compare it unfolded.
        found[" ".join(str(draft["X-Notnow-Source"]).split())] += 1
    return found


def uidvalidity(server: Dovecot, user: str) -> int:
    client = server.client(user)
    try:
        return int(client.select_folder("INBOX", readonly=True)[b"UIDVALIDITY"])
    finally:
        client.logout()


def start_idling(
    home: Path, server: Dovecot, user: str, model: Path, daemons: list[Daemon]
) -> Daemon:
    config = write_config(home, server, user)
    with config.open("a", encoding="utf-8") as out:
        out.write(f'[classifier]\nmodel = "{model}"\n')
    daemon = Daemon(config)
    daemons.append(daemon)
    assert wait_for(lambda: daemon.count("] idle") >= 1, 120), daemon.log
    return daemon


def test_daemon_reconnects_after_the_server_was_down(
    home: Path, private_dovecot: Dovecot, small_model: Path, daemons: list[Daemon]
) -> None:
    server = private_dovecot
    user = server.add_user()
    first_id, first = rejection("Brightwave", "Data Analyst")
    server.deliver(user, "INBOX", first)
    server.deliver(user, "INBOX", ordinary("Climbing on Thursday?")[1])
    daemon = start_idling(home, server, user, small_model, daemons)
    assert wait_for(lambda: sources(server, user) == {first_id: 1}, 30), daemon.log

    server.stop()
    time.sleep(5.0)  # the daemon notices at once (it was in IDLE) and retries meanwhile
    server.start()  # same ports, same mail
    restarted = time.monotonic()
    second_id, second = rejection("Northwind", "Platform Engineer")
    server.deliver(user, "INBOX", second)
    assert wait_for(lambda: second_id in sources(server, user), 30), (
        f"no draft within 30 s of the restart\n{daemon.log}"
    )
    took = time.monotonic() - restarted
    time.sleep(2.0)  # room for a (wrong) second draft to show up
    assert sources(server, user) == {first_id: 1, second_id: 1}
    assert daemon.stop() == 0
    log = daemon.log
    assert "Traceback" not in log
    assert server.password(user) not in log
    # One line per change of state, not one per retry: each kind of failure (the BYE
    # of the stopping server, maybe a reset while it shuts down, then "refused" for
    # every retry while it is down) is logged once; then connected, then idle.
    retry_lines = daemon.count(RETRYING)
    assert 1 <= retry_lines <= 4, log
    assert daemon.count("refused the connection") == 1, log
    assert daemon.count("] connected") == 2, log
    print(f"draft {took:.1f} s after the restart; {retry_lines} error line(s):")  # noqa: T201
    print("\n".join(line for line in daemon.lines if RETRYING in line))  # noqa: T201


def test_uidvalidity_change_makes_no_duplicate_drafts(
    home: Path, private_dovecot: Dovecot, small_model: Path, daemons: list[Daemon]
) -> None:
    server = private_dovecot
    user = server.add_user()
    drafted = {}
    for company, role in (("Quantix", "QA Lead"), ("Helix", "Technical Writer")):
        message_id, raw = rejection(company, role)
        server.deliver(user, "INBOX", raw)
        drafted[message_id] = 1
    for subject in ("Climbing on Thursday?", "Photos from the weekend"):
        server.deliver(user, "INBOX", ordinary(subject)[1])
    daemon = start_idling(home, server, user, small_model, daemons)
    assert wait_for(lambda: sources(server, user) == drafted, 30), daemon.log
    before = uidvalidity(server, user)

    # What a rebuilt or restored server does: INBOX's UID list and index are gone, so
    # Dovecot 2.3 gives the folder a new UIDVALIDITY and new UIDs to the same messages.
    server.stop()
    maildir = server.maildir(user)
    lost = [p for p in maildir.iterdir() if re.match(r"dovecot(-uidlist|\.index)", p.name)]
    assert any(p.name == "dovecot-uidlist" for p in lost), sorted(os.listdir(maildir))
    for path in lost:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    server.start()
    after = uidvalidity(server, user)
    assert after != before, "the UIDVALIDITY did not change; the test would prove nothing"

    third_id, third = rejection("Kestrel", "Frontend Developer")
    server.deliver(user, "INBOX", third)
    drafted[third_id] = 1
    assert wait_for(lambda: third_id in sources(server, user), 30), daemon.log
    time.sleep(2.0)
    assert sources(server, user) == drafted, daemon.log
    assert daemon.stop() == 0
    assert "UIDVALIDITY changed" in daemon.log, daemon.log
    assert "Traceback" not in daemon.log
