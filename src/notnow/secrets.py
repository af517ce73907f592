"""Passwords for IMAP accounts: systemd credentials, a ``password_command``, the keyring.

Owns where a password comes from and in which order (see ``get_password``). It must never
log, print or put into an exception message a password or a command's standard output:
errors name the account, the config key to change and, for a failing command, the last
line of its *stderr* only. Passwords are never read from the config file itself.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from pathlib import Path

import keyring
import keyring.errors

from notnow.config import AccountConfig
from notnow.errors import ConfigError, CredentialError

logger = logging.getLogger(__name__)

KEYRING_SERVICE = "notnow"
PASSWORD_COMMAND_TIMEOUT = 30.0


def keyring_key(account: AccountConfig) -> str:
    """The keyring "username" under service ``notnow``: ``<username>@<host>``."""
    _require_imap(account)
    return f"{account.username}@{account.host}"


def get_password(account: AccountConfig, *, timeout: float = PASSWORD_COMMAND_TIMEOUT) -> str:
    """The password of an IMAP account, from the first source that has one:

    1. systemd credentials: ``$CREDENTIALS_DIRECTORY/notnow-<name>`` or ``.../<name>``
       (as written by ``LoadCredential=``), trailing newline stripped;
    2. ``password_command``: split with ``shlex.split`` and run *without a shell* (no
       pipes, no ``$VARS``; wrap in ``sh -c '...'`` if you need them), ``timeout``
       seconds, the first line of its stdout;
    3. the system keyring, service ``notnow``, key ``keyring_key(account)``.

    Raises CredentialError (what to change) or ConfigError for a Maildir account.
    """
    _require_imap(account)
    from_systemd = _systemd_credential(account)
    if from_systemd is not None:
        logger.debug("account %s: password from systemd credentials", account.name)
        return from_systemd
    if account.password_command:
        logger.debug("account %s: password from password_command", account.name)
        return _run_password_command(account, account.password_command, timeout)
    logger.debug("account %s: password from the system keyring", account.name)
    return _from_keyring(account)


def store_password(account: AccountConfig, password: str) -> None:
    """Save a password in the system keyring (``notnow login``)."""
    _require_imap(account)
    if not password:
        raise CredentialError(f"account {account.name!r}: an empty password was not stored")
    try:
        keyring.set_password(KEYRING_SERVICE, keyring_key(account), password)
    except keyring.errors.KeyringError as e:
        raise CredentialError(
            f"account {account.name!r}: cannot store the password in the system keyring "
            f"({type(e).__name__}): {_keyring_alternatives(account)}"
        ) from e
    logger.info("account %s: password stored in the system keyring", account.name)


# -- sources ------------------------------------------------------------------------------


def _require_imap(account: AccountConfig) -> None:
    if account.is_maildir:
        raise ConfigError(
            f"account {account.name!r} is a Maildir account (maildir = ...): it needs no password"
        )
    if not account.host or not account.username:
        raise ConfigError(f"account {account.name!r}: set host and username to log in over IMAP")


def _systemd_credential(account: AccountConfig) -> str | None:
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return None
    for file_name in (f"notnow-{account.name}", account.name):
        path = Path(directory) / file_name
        if not path.is_file():
            continue
        try:
            value = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise CredentialError(
                f"account {account.name!r}: cannot read the systemd credential {path} "
                f"({type(e).__name__}); check LoadCredential= in the unit"
            ) from None
        value = value.removesuffix("\n").removesuffix("\r")
        if not value:
            raise CredentialError(
                f"account {account.name!r}: the systemd credential {path} is empty; "
                "check LoadCredential= in the unit"
            )
        return value
    return None


def _run_password_command(account: AccountConfig, command: str, timeout: float) -> str:
    where = f"account {account.name!r}: password_command"
    hint = "(run without a shell: use sh -c '...' for pipes or variables)"
    try:
        argv = shlex.split(command)
    except ValueError as e:
        raise CredentialError(f"{where} cannot be split into words: {e} {hint}") from None
    if not argv:
        raise CredentialError(f"{where} is empty")
    program = argv[0]
    # `from None` below: TimeoutExpired carries the partial stdout (a password), and a
    # chained traceback would show it.
    try:
        # No shell on purpose: the command comes from the config file, and a shell would
        # add quoting surprises. Only the program name goes into messages: arguments may
        # hold something secret-ish (a vault path, a token file).
        result = subprocess.run(  # noqa: S603 - argv from the user's own config, no shell
            argv,
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise CredentialError(f"{where}: program {program!r} not found {hint}") from None
    except PermissionError:
        raise CredentialError(f"{where}: program {program!r} is not executable") from None
    except subprocess.TimeoutExpired:
        raise CredentialError(
            f"{where}: {program!r} did not finish within {timeout:g} s "
            "(does it wait for a passphrase prompt?)"
        ) from None
    except OSError as e:
        raise CredentialError(f"{where}: cannot run {program!r}: {e.strerror}") from None

    stdout = result.stdout.decode("utf-8", errors="replace")
    lines = stdout.splitlines()
    password = lines[0].rstrip("\r") if lines else ""
    if result.returncode != 0:
        detail = _last_line(result.stderr, secret=password)
        suffix = f": {detail}" if detail else ""
        raise CredentialError(f"{where}: {program!r} exited with {result.returncode}{suffix}")
    if not password:
        detail = _last_line(result.stderr, secret=password)
        suffix = f" (stderr: {detail})" if detail else ""
        raise CredentialError(f"{where}: {program!r} printed nothing on its first line{suffix}")
    return password


def _last_line(stderr: bytes, *, secret: str) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", errors="replace").splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    last = lines[-1][:300]
    # A confused command may echo what it would have printed; never pass that on.
    if secret and secret in last:
        return "(stderr withheld: it contains the command's output)"
    return last


def _from_keyring(account: AccountConfig) -> str:
    key = keyring_key(account)
    try:
        password = keyring.get_password(KEYRING_SERVICE, key)
    except keyring.errors.KeyringLocked as e:
        raise CredentialError(
            f"account {account.name!r}: the system keyring is locked; unlock it "
            f"or {_keyring_alternatives(account)}"
        ) from e
    except keyring.errors.KeyringError as e:
        raise CredentialError(
            f"account {account.name!r}: the system keyring is not available "
            f"({type(e).__name__}); {_keyring_alternatives(account)}"
        ) from e
    if not password:
        raise CredentialError(
            f"account {account.name!r}: no password in the system keyring for {key}; "
            f"run `notnow login --account {account.name}`, or set password_command "
            "in its [[account]] table"
        )
    return str(password)


def _keyring_alternatives(account: AccountConfig) -> str:
    return (
        f"set password_command in the [[account]] table of {account.name!r}, or give the "
        f"password as a systemd credential (LoadCredential=notnow-{account.name}:PATH)"
    )
