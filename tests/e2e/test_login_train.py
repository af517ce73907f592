"""`notnow login` with a real (file-backed) keyring, and `notnow train --data` end to end."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import pytest
from cli_runner import notnow, write_config
from dovecot import Dovecot

SAMPLES = resources.files("notnow.demo") / "messages"


@pytest.mark.dovecot
def test_login_tests_and_stores_the_password_in_the_keyring(
    home: Path, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = dovecot.add_user()
    config = write_config(home, dovecot, user)
    # No password_command: the password must come from the keyring after `login`.
    text = "\n".join(
        line
        for line in config.read_text(encoding="utf-8").splitlines()
        if not line.startswith("password_command")
    )
    config.write_text(text + "\n", encoding="utf-8")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")

    before = notnow("check", "--config", str(config))
    assert before.returncode == 1 and "notnow login" in before.stderr + before.stdout

    wrong = notnow_with_input(["login", "--config", str(config)], "wrong-password\n")
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    assert "wrong-password" not in wrong.stdout + wrong.stderr

    right = notnow_with_input(["login", "--config", str(config)], dovecot.password(user) + "\n")
    assert right.returncode == 0, right.stderr
    assert "login ok" in right.stdout
    after = notnow("check", "--config", str(config))
    assert after.returncode == 0, after.stdout + after.stderr
    assert "drafts go to Drafts" in after.stdout


def notnow_with_input(args: list[str], stdin: str) -> object:
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "notnow", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
        check=False,
        start_new_session=True,  # no controlling tty: getpass reads stdin
    )


def test_train_on_labelled_folders_writes_a_usable_model(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "labelled"
    for label, names in {
        "rejection": [
            "01-greenhouse-rejection.eml",
            "03-personal-rejection.eml",
            "06-german-rejection.eml",
        ],
        "other": [
            "02-interview-invite.eml",
            "04-application-received.eml",
            "05-paper-rejection.eml",
            "07-newsletter.eml",
        ],
    }.items():
        (data / label).mkdir(parents=True)
        for name in names:
            (data / label / name).write_bytes((SAMPLES / name).read_bytes())
    out = tmp_path / "model.skops"
    result = notnow("train", "--data", str(data), "--out", str(out), timeout=900)
    assert result.returncode == 0, result.stderr
    assert "precision" in result.stdout and "confusion" in result.stdout
    assert out.is_file()
    classified = notnow("classify", "--json", "--model", str(out), str(data), check=True)
    assert len(classified.stdout.splitlines()) == 7

    out.write_bytes(b"not a model")
    broken = notnow("classify", "--model", str(out), str(data))
    assert broken.returncode == 1
    assert "retrain" in broken.stderr and "Traceback" not in broken.stderr


@pytest.mark.dovecot
def test_train_from_imap_reads_the_two_folders(home: Path, dovecot: Dovecot) -> None:
    user = dovecot.add_user()
    for name in ("01-greenhouse-rejection.eml", "03-personal-rejection.eml"):
        dovecot.deliver(user, "notnow/Rejection", (SAMPLES / name).read_bytes())
    for name in ("02-interview-invite.eml", "04-application-received.eml"):
        dovecot.deliver(user, "notnow/Not a rejection", (SAMPLES / name).read_bytes())
    config = write_config(home, dovecot, user)
    out = home / "user-model.skops"
    result = notnow("train", "--from-imap", "--config", str(config), "--out", str(out), timeout=900)
    assert result.returncode == 0, result.stderr
    assert "4 of yours (2 rejection, 2 other" in result.stdout
    assert out.is_file()
    flags = [f for _, _, f in dovecot.messages(user, "notnow/Rejection")]
    assert all("\\Seen" not in f for f in flags), "training must not mark mail as read"
