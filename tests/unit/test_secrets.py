"""notnow.secrets against a real file-backed keyring (keyrings.alt), real subprocesses and a
real credentials directory. No mocks: the keyring backend is swapped for the test only."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
import pytest
from keyrings.alt.file import PlaintextKeyring

from notnow import secrets
from notnow.config import AccountConfig
from notnow.errors import ConfigError, CredentialError

PASSWORD = "s3cr3t-Pässwörd!"  # the text no error message or log line may contain


def imap_account(name: str = "work", password_command: str | None = None) -> AccountConfig:
    return AccountConfig(
        name=name,
        identity="Alice <alice@example.org>",
        host="imap.example.org",
        username="alice@example.org",
        password_command=password_command,
    )


def script(tmp_path: Path, body: str) -> str:
    """A tiny Python program; returns a password_command that runs it."""
    path = tmp_path / "command.py"
    path.write_text(body, encoding="utf-8")
    return f"{sys.executable} {path}"


@pytest.fixture(autouse=True)
def file_keyring(tmp_path: Path) -> Iterator[PlaintextKeyring]:
    previous = keyring.get_keyring()
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring" / "keyring_pass.cfg")
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def no_credentials_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    assert PASSWORD not in caplog.text


def test_keyring_key() -> None:
    assert secrets.keyring_key(imap_account()) == "alice@example.org@imap.example.org"


def test_store_then_get_round_trip(file_keyring: PlaintextKeyring) -> None:
    account = imap_account()
    secrets.store_password(account, PASSWORD)
    assert secrets.get_password(account) == PASSWORD
    # It really went to the backend, under the documented service and key.
    assert file_keyring.get_password("notnow", "alice@example.org@imap.example.org") == PASSWORD


def test_missing_password_says_to_log_in() -> None:
    with pytest.raises(CredentialError) as caught:
        secrets.get_password(imap_account("personal"))
    message = str(caught.value)
    assert "notnow login --account personal" in message
    assert "password_command" in message


def test_empty_password_is_not_stored() -> None:
    with pytest.raises(CredentialError):
        secrets.store_password(imap_account(), "")


class _BrokenKeyring(keyring.backend.KeyringBackend):
    """A real (if useless) backend: what keyring uses when no backend is available."""

    priority = 1

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.NoKeyringError("No recommended backend was available.")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.NoKeyringError("No recommended backend was available.")

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.NoKeyringError("No recommended backend was available.")


class _LockedKeyring(_BrokenKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("Failed to unlock the collection!")


def test_keyring_unavailable_names_alternatives() -> None:
    keyring.set_keyring(_BrokenKeyring())
    with pytest.raises(CredentialError) as caught:
        secrets.get_password(imap_account())
    message = str(caught.value)
    assert "not available" in message
    assert "password_command" in message
    assert "LoadCredential" in message
    with pytest.raises(CredentialError, match="cannot store"):
        secrets.store_password(imap_account(), PASSWORD)


def test_keyring_locked() -> None:
    keyring.set_keyring(_LockedKeyring())
    with pytest.raises(CredentialError, match="locked") as caught:
        secrets.get_password(imap_account())
    assert "password_command" in str(caught.value)


def test_password_command_first_line(tmp_path: Path) -> None:
    command = script(tmp_path, f"print({PASSWORD!r}); print('second line: not the password')")
    secrets.store_password(imap_account(), "from-the-keyring")
    # password_command wins over the keyring.
    assert secrets.get_password(imap_account(password_command=command)) == PASSWORD


def test_password_command_runs_without_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    # With a shell, `;` would start a second command; without one it is an argument.
    command = f"{sys.executable} -c 'import sys; print(sys.argv[1])' x; touch {marker}"
    assert secrets.get_password(imap_account(password_command=command)) == "x;"
    assert not marker.exists()


def test_password_command_failure_reports_stderr_not_stdout(tmp_path: Path) -> None:
    command = script(
        tmp_path,
        "import sys\n"
        f"print({PASSWORD!r})\n"
        "print('gpg: decryption failed', file=sys.stderr)\n"
        "print('Error: mail/alice is not in the password store.', file=sys.stderr)\n"
        "sys.exit(3)\n",
    )
    with pytest.raises(CredentialError) as caught:
        secrets.get_password(imap_account("personal", password_command=command))
    message = str(caught.value)
    assert "'personal'" in message
    assert "password_command" in message
    assert "exited with 3" in message
    assert "Error: mail/alice is not in the password store." in message
    assert "gpg: decryption failed" not in message
    assert PASSWORD not in message


def test_password_command_stderr_echoing_the_password_is_withheld(tmp_path: Path) -> None:
    command = script(
        tmp_path,
        f"import sys\nprint({PASSWORD!r})\nprint('got ' + {PASSWORD!r}, file=sys.stderr)\n"
        "sys.exit(1)\n",
    )
    with pytest.raises(CredentialError) as caught:
        secrets.get_password(imap_account(password_command=command))
    assert PASSWORD not in str(caught.value)
    assert "withheld" in str(caught.value)


def test_password_command_empty_output(tmp_path: Path) -> None:
    command = script(tmp_path, "import sys\nprint('no entry', file=sys.stderr)\n")
    with pytest.raises(CredentialError, match="printed nothing") as caught:
        secrets.get_password(imap_account(password_command=command))
    assert "no entry" in str(caught.value)


def test_password_command_timeout(tmp_path: Path) -> None:
    command = script(tmp_path, f"import time\nprint({PASSWORD!r}, flush=True)\ntime.sleep(10)\n")
    with pytest.raises(CredentialError) as caught:
        secrets.get_password(imap_account(password_command=command), timeout=0.5)
    message = str(caught.value)
    assert "did not finish within 0.5 s" in message
    assert "password_command" in message
    assert PASSWORD not in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_password_command_missing_program() -> None:
    command = "/nonexistent/notnow-pass show mail/alice"
    with pytest.raises(CredentialError) as caught:
        secrets.get_password(imap_account(password_command=command))
    message = str(caught.value)
    assert "not found" in message
    assert "/nonexistent/notnow-pass" in message
    assert "without a shell" in message


def test_password_command_unbalanced_quotes() -> None:
    with pytest.raises(CredentialError, match="cannot be split"):
        secrets.get_password(imap_account(password_command="pass show 'mail"))


@pytest.mark.parametrize("file_name", ["notnow-work", "work"])
def test_credentials_directory_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file_name: str
) -> None:
    directory = tmp_path / "credentials"
    directory.mkdir()
    (directory / file_name).write_text(PASSWORD + "\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(directory))
    secrets.store_password(imap_account(), "from-the-keyring")
    # A command that would fail: it must not even run.
    account = imap_account(password_command="/nonexistent/program")
    assert secrets.get_password(account) == PASSWORD


def test_credentials_directory_prefers_prefixed_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "notnow-work").write_text("prefixed", encoding="utf-8")
    (tmp_path / "work").write_text("plain", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert secrets.get_password(imap_account()) == "prefixed"


def test_credentials_directory_without_our_file_falls_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "other-account").write_text("nope", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    secrets.store_password(imap_account(), PASSWORD)
    assert secrets.get_password(imap_account()) == PASSWORD


def test_empty_credential_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "notnow-work").write_text("\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    with pytest.raises(CredentialError, match="LoadCredential"):
        secrets.get_password(imap_account())


def test_maildir_account_needs_no_password(tmp_path: Path) -> None:
    account = AccountConfig(name="local", identity="a <a@example.org>", maildir=tmp_path)
    with pytest.raises(ConfigError, match="Maildir"):
        secrets.get_password(account)
    with pytest.raises(ConfigError):
        secrets.store_password(account, PASSWORD)
