"""A real Dovecot for the test suite: started on 127.0.0.1, on free ports, in a temp dir.

Owns the server's whole lifetime (config, self-signed certificate, passwd-file users,
maildirs) and the helpers tests use to set up and inspect mail over IMAP. It must never
touch the system's own Dovecot (/etc/dovecot, port 143/993) nor leave a process behind:
``stop()`` ends the process group it started, and an ``atexit`` hook stops any server a
crashed session forgot.

Written for Dovecot 2.3 (Debian 12); 2.4 changed the config syntax and is refused with a
clear message rather than started with a config it would misread.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import ipaddress
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

from notnow.config import AccountConfig

# $NOTNOW_DOVECOT points the suite at another dovecot binary (e.g. a 2.3 build elsewhere).
DOVECOT_BINARY = os.environ.get("NOTNOW_DOVECOT", "/usr/sbin/dovecot")

# Where the Drafts folder lives and whether it carries the \Drafts special-use flag.
DRAFTS_SPECIAL = "special"  # "Drafts" with \Drafts
DRAFTS_PLAIN = "plain"  # "Drafts" without special-use
DRAFTS_GMAIL = "gmail"  # "[Gmail]/Drafts" with \Drafts, under a \Noselect "[Gmail]"
DRAFTS_GMAIL_PLAIN = "gmail-plain"  # "[Gmail]/Drafts" without special-use
DRAFTS_GERMAN = "german"  # "Entwürfe" with \Drafts (modified UTF-7 on the wire)
DRAFTS_GERMAN_PLAIN = "german-plain"  # "Entwürfe" without special-use
DRAFTS_NONE = "none"  # no Drafts folder at all

_DRAFTS_VARIANTS: dict[str, tuple[str | None, bool]] = {
    DRAFTS_SPECIAL: ("Drafts", True),
    DRAFTS_PLAIN: ("Drafts", False),
    DRAFTS_GMAIL: ("[Gmail]/Drafts", True),
    DRAFTS_GMAIL_PLAIN: ("[Gmail]/Drafts", False),
    DRAFTS_GERMAN: ("Entwürfe", True),
    DRAFTS_GERMAN_PLAIN: ("Entwürfe", False),
    DRAFTS_NONE: (None, False),
}

# Dovecot 2.3's capability list minus IDLE, for the "server without IDLE" variant.
_CAPABILITIES_WITHOUT_IDLE = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT SORT=DISPLAY THREAD=REFERENCES "
    "THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN "
    "NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT "
    "SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY "
    "PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE"
)

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")
_RUNNING: set[Dovecot] = set()


class DovecotUnavailableError(RuntimeError):
    """Dovecot is not installed, or not a version this harness can configure."""


def dovecot_version(binary: str = DOVECOT_BINARY) -> str:
    """The installed Dovecot's version, or raise DovecotUnavailableError."""
    if os.geteuid() != 0:
        raise DovecotUnavailableError(
            "the test Dovecot runs as root (it drops to the dovecot/dovenull users): "
            "run the IMAP tests as root"
        )
    if not Path(binary).is_file():
        raise DovecotUnavailableError(
            f"{binary} not found: install the Debian package dovecot-imapd to run IMAP tests"
        )
    result = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    version = result.stdout.strip()
    if result.returncode != 0 or not version:
        raise DovecotUnavailableError(f"{binary} --version failed: {result.stderr.strip()}")
    if not version.startswith("2.3."):
        raise DovecotUnavailableError(
            f"Dovecot {version} found; tests/dovecot.py writes a 2.3 config (2.4 differs)"
        )
    return version


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


class Dovecot:
    """One Dovecot instance. ``start()`` it, add users, point an AccountConfig at it.

    ``drafts`` picks the Drafts variant (see the DRAFTS_* constants); ``idle=False``
    hides the IDLE capability so the polling path can be tested.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        drafts: str = DRAFTS_SPECIAL,
        idle: bool = True,
        extra_folders: Iterable[str] = (),
        binary: str = DOVECOT_BINARY,
    ) -> None:
        if drafts not in _DRAFTS_VARIANTS:
            raise ValueError(f"unknown drafts variant {drafts!r}")
        self.drafts = drafts
        self.drafts_name, self.drafts_special_use = _DRAFTS_VARIANTS[drafts]
        self.idle = idle
        self.extra_folders = tuple(extra_folders)
        self.binary = binary
        self.port = free_port()
        self.tls_port = free_port()
        self._root = Path(tempfile.mkdtemp(prefix="notnow-dovecot-"))
        self._root.chmod(0o755)  # the imap processes run as the dovecot user
        self.ca_file, self._key_file = make_certificate(self._root)
        self._mail_root = self._root / "mail"
        # One passwd file per user: Dovecot re-reads a changed passwd file at most once a
        # second, so a user added to a shared file could not log in straight away.
        self._passwd = self._root / "passwd.d"
        self._config = self._root / "dovecot.conf"
        self.log_file = self._root / "dovecot.log"
        self._passwords: dict[str, str] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._user_counter = 0
        owner = pwd.getpwnam("dovecot")
        self._uid, self._gid = owner.pw_uid, owner.pw_gid

    # -- lifetime ----------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        if self._process is not None:
            return
        dovecot_version(self.binary)
        self._mail_root.mkdir(exist_ok=True)
        os.chown(self._mail_root, self._uid, self._gid)
        self._passwd.mkdir(exist_ok=True)
        self._passwd.chmod(0o755)
        self._config.write_text(self._config_text(), encoding="utf-8")
        # Own process group: stop() can end every child Dovecot forked, and only those.
        self._process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self._config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        _RUNNING.add(self)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = [self.port, self.tls_port]
        while pending:
            assert self._process is not None
            if self._process.poll() is not None:
                stderr = self._process.stderr.read().decode() if self._process.stderr else ""
                raise RuntimeError(f"dovecot exited at start: {stderr}\n{self._log_tail()}")
            try:
                with socket.create_connection((self.host, pending[0]), timeout=0.5):
                    pending.pop(0)
                    continue
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"dovecot did not listen within {timeout}s\n{self._log_tail()}")
            time.sleep(0.02)

    def stop(self) -> None:
        process, self._process = self._process, None
        _RUNNING.discard(self)
        if process is None:
            return
        # SIGTERM to the whole group at once: the master alone waits ~1 s on its children.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        # Children (imap, imap-login, auth) share the group; make sure none outlive us.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        if process.stderr is not None:
            process.stderr.close()

    def restart(self) -> None:
        """Stop and start again on the same ports with the same mail and users."""
        self.stop()
        # The listening sockets are freed by the kernel at once (SO_REUSEADDR in Dovecot).
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self._root, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> Dovecot:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def _log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no dovecot log)"
        return "\n".join(text.splitlines()[-lines:])

    # -- users -------------------------------------------------------------------------------

    def add_user(self, name: str | None = None, password: str | None = None) -> str:
        """Create a user (a fresh ``userN`` by default) who can log in at once."""
        if name is None:
            self._user_counter += 1
            name = f"user{self._user_counter}"
        if password is None:
            password = secrets.token_urlsafe(12)
        if name in self._passwords:
            raise ValueError(f"user {name!r} exists")
        self._passwords[name] = password
        entry = self._passwd / name
        entry.write_text(f"{name}:{{PLAIN}}{password}::::::\n", encoding="utf-8")
        entry.chmod(0o644)
        return name

    def password(self, user: str) -> str:
        return self._passwords[user]

    def maildir(self, user: str) -> Path:
        return self._mail_root / user / "Maildir"

    # -- IMAP helpers for test setup and inspection -----------------------------------------

    def client(self, user: str) -> IMAPClient:
        """A logged-in IMAPClient over the plain port; the caller logs out."""
        client = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        client.normalise_times = False
        client.login(user, self._passwords[user])
        return client

    def deliver(
        self,
        user: str,
        folder: str,
        raw: bytes,
        flags: Iterable[str | bytes] = (),
        date: dt.datetime | None = None,
    ) -> int:
        """APPEND ``raw`` to ``folder`` (created if missing); return its UID."""
        client = self.client(user)
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            response = client.append(folder, raw, flags=tuple(flags), msg_time=date)
        finally:
            client.logout()
        match = _APPENDUID.search(response)
        if match is None:
            raise RuntimeError(f"no APPENDUID in {response!r}")
        return int(match.group(2))

    def flags(self, user: str, folder: str, uid: int) -> tuple[bytes, ...]:
        """A message's flags, read without changing them."""
        client = self.client(user)
        try:
            client.select_folder(folder, readonly=True)
            result: tuple[bytes, ...] = client.get_flags([uid]).get(uid, ())
            return result
        finally:
            client.logout()

    def messages(self, user: str, folder: str) -> list[tuple[int, bytes, tuple[str, ...]]]:
        """Every message in ``folder``: (UID, raw bytes, flags), read with EXAMINE/PEEK.

        ``\\Recent`` is left out: it describes a session, not the message.
        """
        client = self.client(user)
        try:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            data = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"]) if uids else {}
        finally:
            client.logout()
        return [
            (
                uid,
                bytes(data[uid][b"BODY[]"]),
                tuple(f.decode() for f in data[uid][b"FLAGS"] if f.lower() != b"\\recent"),
            )
            for uid in sorted(data)
        ]

    def create_folder(self, user: str, folder: str) -> None:
        client = self.client(user)
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
        finally:
            client.logout()

    def account_config(self, user: str, security: str = "none", **overrides: Any) -> AccountConfig:
        """An AccountConfig pointing at this server (ca_file set for TLS modes)."""
        ports = {"none": self.port, "starttls": self.port, "tls": self.tls_port}
        account = AccountConfig(
            name=re.sub(r"[^A-Za-z0-9_.-]", "-", user),
            identity=f"Test User <{user}@example.org>",
            host=self.host,
            port=ports[security],
            security=security,
            username=user,
            ca_file=self.ca_file if security != "none" else None,
            timeout=10,
        )
        return replace(account, **overrides)

    # -- config ------------------------------------------------------------------------------

    def _config_text(self) -> str:
        root = self._root
        mailboxes = []
        if self.drafts_name is not None:
            special = "special_use = \\Drafts" if self.drafts_special_use else ""
            mailboxes.append(
                f'  mailbox "{self.drafts_name}" {{\n    auto = subscribe\n    {special}\n  }}'
            )
            if self.drafts_name.startswith("[Gmail]/"):
                mailboxes.append('  mailbox "[Gmail]" {\n    auto = subscribe\n  }')
        for folder in self.extra_folders:
            mailboxes.append(f'  mailbox "{folder}" {{\n    auto = subscribe\n  }}')
        capability = "" if self.idle else f"imap_capability = {_CAPABILITIES_WITHOUT_IDLE}\n"
        return f"""\
# Written by tests/dovecot.py for one test session; not a production config.
base_dir = {root}/run
state_dir = {root}/state
instance_name = notnow-test-{self.port}
log_path = {self.log_file}
protocols = imap
listen = 127.0.0.1
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
disable_plaintext_auth = no
auth_mechanisms = plain login
ssl = yes
ssl_cert = <{self.ca_file}
ssl_key = <{self._key_file}
mail_location = maildir:~/Maildir
mail_uid = dovecot
mail_gid = dovecot
# Keep the suite fast: no DNS lookups, no waiting on a slow shutdown.
shutdown_clients = yes
verbose_proctitle = no
imap_idle_notify_interval = 10 secs
# Wrong-password tests must not slow down the next login: no failure delay, no penalty.
auth_failure_delay = 0
{capability}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self._passwd}/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self._passwd}/%u
  default_fields = uid=dovecot gid=dovecot home={self._mail_root}/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
{chr(10).join(mailboxes)}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0600
  }}
}}
"""


def ssl_context(server: Dovecot) -> ssl.SSLContext:
    """A verifying context that trusts the server's self-signed certificate."""
    return ssl.create_default_context(cafile=str(server.ca_file))


@atexit.register
def _stop_forgotten() -> None:
    for server in list(_RUNNING):
        server.stop()
