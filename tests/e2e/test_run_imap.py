"""`notnow run --once` against a real Dovecot, driven through the CLI as a user would.

The acceptance criteria of the first issue: exactly one draft per message that
`notnow classify` calls a rejection, threaded and tagged; none for the rest; no message
gains \\Seen; a second run adds nothing; bad input gives one clear line, never a traceback.
"""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest
from cli_runner import notnow, write_config
from dovecot import DRAFTS_GMAIL, Dovecot

pytestmark = pytest.mark.dovecot

MALFORMED = b"\x00\x01\x02 this is not a message: no headers at all \xff\xfe\r\n"


def sample_messages() -> list[tuple[str, bytes]]:
    folder = resources.files("notnow.demo") / "messages"
    return sorted(
        (entry.name, entry.read_bytes())
        for entry in folder.iterdir()
        if entry.name.endswith(".eml")
    )


def classify_rejections(home: Path, messages: list[tuple[str, bytes]]) -> set[str]:
    """The Message-IDs `notnow classify --json` calls rejections."""
    folder = home / "eml"
    folder.mkdir()
    ids = {}
    for name, raw in messages:
        (folder / name).write_bytes(raw)
        ids[str(folder / name)] = email.message_from_bytes(raw)["Message-ID"]
    result = notnow("classify", "--json", str(folder), check=True)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {row["source"] for row in rows} == set(ids)
    for row in rows:
        assert row["label"] in ("rejection", "other")
        assert 0.0 <= row["score"] <= 1.0
        assert len(row["lang"]) == 2
    return {ids[row["source"]] for row in rows if row["label"] == "rejection"}


def test_run_once_drafts_exactly_the_rejections(home: Path, dovecot: Dovecot) -> None:
    user = dovecot.add_user()
    messages = sample_messages()
    for _, raw in messages:
        dovecot.deliver(user, "INBOX", raw)
    dovecot.deliver(user, "INBOX", MALFORMED)
    expected = classify_rejections(home, messages)
    assert len(expected) >= 2, "the sample holds several rejections"
    config = write_config(home, dovecot, user)
    before = {uid: flags for uid, _, flags in dovecot.messages(user, "INBOX")}

    result = notnow("run", "--once", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "unreadable, skipped" in result.stdout

    drafts = dovecot.messages(user, "Drafts")
    sources = {}
    originals = {email.message_from_bytes(raw)["Message-ID"]: raw for _, raw in messages}
    for _, raw, flags in drafts:
        draft = email.message_from_bytes(raw, policy=email.policy.default)
        assert "\\Draft" in flags
        source = draft["X-Notnow-Source"]
        original = email.message_from_bytes(originals[source], policy=email.policy.default)
        assert draft["In-Reply-To"] == source
        assert source in draft["References"].split()
        assert draft["Subject"].startswith("Re: ")
        assert not draft["Subject"].startswith("Re: Re:")
        assert draft["From"] == "Alex Morgan <alex.morgan@example.org>"
        assert draft["Message-ID"] and draft["Date"]
        assert original["Subject"].removeprefix("Re: ") in draft["Subject"]
        sources[source] = sources.get(source, 0) + 1
    assert set(sources) == expected
    assert all(count == 1 for count in sources.values())

    after = {uid: flags for uid, _, flags in dovecot.messages(user, "INBOX")}
    assert after == before, "no message may gain \\Seen or any other flag"

    again = notnow("run", "--once", "--config", str(config))
    assert again.returncode == 0, again.stderr
    assert len(dovecot.messages(user, "Drafts")) == len(drafts)


def test_dry_run_writes_nothing(home: Path, dovecot: Dovecot) -> None:
    user = dovecot.add_user()
    for _, raw in sample_messages():
        dovecot.deliver(user, "INBOX", raw)
    config = write_config(home, dovecot, user)
    result = notnow("run", "--once", "--dry-run", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "would save" in result.stdout and "dry run" in result.stdout
    assert dovecot.messages(user, "Drafts") == []
    assert not (home / "state" / "state.sqlite3").exists()


def test_gmail_drafts_over_implicit_tls(
    home: Path, dovecot_factory: Callable[..., Dovecot]
) -> None:
    server = dovecot_factory(drafts=DRAFTS_GMAIL)
    user = server.add_user()
    name, raw = sample_messages()[0]
    server.deliver(user, "INBOX", raw)
    config = write_config(
        home, server, user, security="tls", port=str(server.tls_port), ca_file=f'"{server.ca_file}"'
    )
    result = notnow("run", "--once", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert len(server.messages(user, "[Gmail]/Drafts")) == 1


def one_line_error(result: object) -> str:
    stderr: str = result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    return stderr


def test_wrong_password_is_one_clear_line(home: Path, dovecot: Dovecot) -> None:
    user = dovecot.add_user()
    config = write_config(home, dovecot, user)
    (home / "password").write_text("not-the-password\n", encoding="utf-8")
    result = notnow("run", "--once", "--config", str(config))
    assert result.returncode == 1
    output = result.stdout + one_line_error(result)
    assert "not-the-password" not in output
    assert "notnow login" in output or "password_command" in output
    check = notnow("check", "--config", str(config))
    assert check.returncode == 1
    assert "Traceback" not in check.stderr


def test_unreachable_server_is_one_clear_line(home: Path, dovecot: Dovecot) -> None:
    from dovecot import free_port

    user = dovecot.add_user()
    config = write_config(home, dovecot, user, port=str(free_port()))
    result = notnow("run", "--once", "--config", str(config))
    assert result.returncode == 1
    output = result.stdout + one_line_error(result)
    assert "127.0.0.1" in output


def test_config_typo_is_one_clear_line(home: Path, dovecot: Dovecot) -> None:
    user = dovecot.add_user()
    config = write_config(home, dovecot, user)
    config.write_text(
        config.read_text(encoding="utf-8").replace("since_days", "since_dayz"), encoding="utf-8"
    )
    result = notnow("run", "--once", "--config", str(config))
    assert result.returncode == 1
    stderr = one_line_error(result)
    assert "daemon.since_dayz: unknown key (did you mean 'since_days'?)" in stderr
    assert str(config) in stderr


def test_status_tells_what_became_of_each_draft(home: Path, dovecot: Dovecot) -> None:
    user = dovecot.add_user()
    messages = sample_messages()
    for _, raw in messages:
        dovecot.deliver(user, "INBOX", raw)
    config = write_config(home, dovecot, user)
    notnow("run", "--once", "--config", str(config), check=True)
    drafts = dovecot.messages(user, "Drafts")
    assert len(drafts) >= 3
    sources = [email.message_from_bytes(raw)["X-Notnow-Source"] for _, raw, _ in drafts]
    # The user sends the first draft (a copy lands in Sent) and deletes the second.
    sent_copy = drafts[0][1].replace(b"X-Notnow-Source:", b"X-Sent-From-Draft:")
    dovecot.deliver(user, "Sent", sent_copy, flags=("\\Seen",))
    client = dovecot.client(user)
    try:
        client.select_folder("Drafts")
        client.delete_messages([drafts[0][0], drafts[1][0]])
        client.expunge()
    finally:
        client.logout()

    result = notnow("status", "--config", str(config), check=True)
    lines = {
        source: next(
            line
            for line in result.stdout.splitlines()
            if "to " in line and subject_of(drafts, source) in line
        )
        for source in sources
    }
    assert " sent " in lines[sources[0]]
    assert "deleted (not in Drafts)" in lines[sources[1]]
    assert "in Drafts" in lines[sources[2]]


def subject_of(drafts: list[tuple[int, bytes, tuple[str, ...]]], source: str) -> str:
    for _, raw, _ in drafts:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        if message["X-Notnow-Source"] == source:
            return str(message["Subject"])[:40]
    raise AssertionError(source)


def test_drafts_over_the_daily_cap_are_saved_later_each_once(home: Path, dovecot: Dovecot) -> None:
    user = dovecot.add_user()
    messages = sample_messages()
    for _, raw in messages:
        dovecot.deliver(user, "INBOX", raw)
    expected = classify_rejections(home, messages)
    config = write_config(home, dovecot, user)
    plain = config.read_text(encoding="utf-8")
    config.write_text(plain + "[drafts]\nmax_per_day = 1\n", encoding="utf-8")

    first = notnow("run", "--once", "--config", str(config), check=True)
    assert f"saved 1 draft(s), {len(expected) - 1} deferred by the daily cap" in first.stdout
    assert first.stdout.count("  deferred: ") == len(expected) - 1
    assert len(dovecot.messages(user, "Drafts")) == 1

    # A later pass with room under the cap saves what was deferred (the cap counts the
    # drafts saved today, so a higher cap stands in for the next day).
    config.write_text(plain + "[drafts]\nmax_per_day = 100\n", encoding="utf-8")
    notnow("run", "--once", "--config", str(config), check=True)
    notnow("run", "--once", "--config", str(config), check=True)
    sources = [
        email.message_from_bytes(raw)["X-Notnow-Source"]
        for _, raw, _ in dovecot.messages(user, "Drafts")
    ]
    assert sorted(sources) == sorted(expected)
