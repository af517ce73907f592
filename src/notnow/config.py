"""Configuration: TOML (tomllib) -> normalised -> validated frozen dataclasses.

Owns the schema of the config file. Validation collects *every* problem in a file and
reports them at once, each naming the file and the key; unknown keys are errors (a typo
must never silently fall back to a default). Nothing here reads config at import time,
and nothing here touches the network or the keyring.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notnow.errors import ConfigError

SECURITY_MODES = ("tls", "starttls", "none")
DEFAULT_PORTS = {"tls": 993, "starttls": 143, "none": 143}


@dataclass(frozen=True)
class AccountConfig:
    name: str
    identity: str
    folders: tuple[str, ...] = ("INBOX",)
    host: str | None = None
    port: int = 993
    security: str = "tls"
    username: str | None = None
    password_command: str | None = None
    ca_file: Path | None = None
    drafts_folder: str | None = None
    maildir: Path | None = None
    # IMAP IDLE is used where the server offers it; False forces polling.
    idle: bool = True
    # Seconds an IDLE is held before it is re-issued (RFC 2177 asks for < 29 min).
    idle_timeout: int = 600
    # Seconds before an unanswered network operation counts as a dead connection.
    timeout: int = 60

    @property
    def is_maildir(self) -> bool:
        return self.maildir is not None


@dataclass(frozen=True)
class DaemonConfig:
    since_days: int = 14
    state_dir: Path | None = None
    poll_interval: int = 300
    backoff_max: int = 600


@dataclass(frozen=True)
class DraftsConfig:
    max_per_day: int = 20
    template: Path | None = None
    signature: str = ""
    # IMAP keyword set on messages in the review band (where the server allows keywords).
    review_keyword: str = "$NotnowReview"
    # Optional keyword set on every message classified as a rejection ("" = none).
    rejection_keyword: str = ""


@dataclass(frozen=True)
class ClassifierConfig:
    model: Path | None = None
    draft_threshold: float | None = None
    review_threshold: float | None = None


@dataclass(frozen=True)
class TrainConfig:
    account: str | None = None
    rejection_folder: str = "notnow/Rejection"
    other_folder: str = "notnow/Not a rejection"


@dataclass(frozen=True)
class Config:
    accounts: tuple[AccountConfig, ...]
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    drafts: DraftsConfig = field(default_factory=DraftsConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    path: Path | None = None

    def account(self, name: str | None) -> AccountConfig:
        if name is None:
            return self.accounts[0]
        for account in self.accounts:
            if account.name == name:
                return account
        known = ", ".join(a.name for a in self.accounts)
        raise ConfigError(f"no account named {name!r} in {self.path} (known: {known})")

    @property
    def state_dir(self) -> Path:
        if self.daemon.state_dir is not None:
            return self.daemon.state_dir
        return xdg_dir("XDG_STATE_HOME", ".local/state") / "notnow"


def xdg_dir(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable)
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def cache_dir() -> Path:
    """Where notnow keeps what it can rebuild (the bundled model, the language tables):
    ``$NOTNOW_CACHE_DIR``, then ``$XDG_CACHE_HOME/notnow``."""
    override = os.environ.get("NOTNOW_CACHE_DIR")
    return Path(override) if override else xdg_dir("XDG_CACHE_HOME", ".cache") / "notnow"


def default_config_path() -> Path:
    """``$NOTNOW_CONFIG``, then ``$XDG_CONFIG_HOME/notnow/config.toml``."""
    env = os.environ.get("NOTNOW_CONFIG")
    if env:
        return Path(env).expanduser()
    return xdg_dir("XDG_CONFIG_HOME", ".config") / "notnow" / "config.toml"


def load(path: Path | str | None = None) -> Config:
    """Read, parse and validate a config file; raise ConfigError listing every problem."""
    config_path = Path(path).expanduser() if path is not None else default_config_path()
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file {config_path} not found: create it from config.example.toml "
            "or pass --config PATH"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {config_path}: {e}") from e
    return loads(text, config_path)


def loads(text: str, path: Path | None = None) -> Config:
    where = str(path) if path is not None else "<config>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where} is not valid TOML: {e}") from e
    validator = _Validator(where, path.parent if path is not None else Path.cwd())
    config = validator.config(data, path)
    if validator.problems:
        count = len(validator.problems)
        noun = "problem" if count == 1 else "problems"
        raise ConfigError(f"{where}: {count} {noun} to fix", validator.problems)
    assert config is not None  # noqa: S101 - no problems means a config was built
    return config


# -- validation ---------------------------------------------------------------------------

_Check = Callable[[Any], bool]


class _Validator:
    """Collects every problem instead of stopping at the first one."""

    def __init__(self, where: str, base_dir: Path) -> None:
        self.where = where
        self.base_dir = base_dir
        self.problems: list[str] = []

    def problem(self, key: str, text: str) -> None:
        self.problems.append(f"{key}: {text}")

    def table(self, data: Mapping[str, Any], key: str, allowed: set[str]) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            self.problem(key, "must be a table, e.g. [" + key + "]")
            return {}
        self.unknown(value, key, allowed)
        return value

    def unknown(self, data: Mapping[str, Any], prefix: str, allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                hint = _closest(key, allowed)
                suffix = f" (did you mean {hint!r}?)" if hint else ""
                self.problem(f"{prefix}.{key}" if prefix else key, f"unknown key{suffix}")

    def get(
        self,
        data: Mapping[str, Any],
        prefix: str,
        key: str,
        kind: type | tuple[type, ...],
        default: Any,
        check: _Check | None = None,
        expect: str = "",
    ) -> Any:
        if key not in data:
            return default
        value = data[key]
        # bool is an int in Python; a port of `true` is a mistake, not 1.
        ok = isinstance(value, kind) and not (isinstance(value, bool) and kind is int)
        if ok and check is not None:
            ok = check(value)
        if not ok:
            label = expect or _type_name(kind)
            self.problem(f"{prefix}.{key}", f"must be {label}, got {value!r}")
            return default
        return value

    def path(self, data: Mapping[str, Any], prefix: str, key: str) -> Path | None:
        value = self.get(data, prefix, key, str, None, lambda v: bool(v), "a non-empty path")
        if value is None:
            return None
        result = Path(os.path.expandvars(value)).expanduser()
        return result if result.is_absolute() else self.base_dir / result

    def config(self, data: dict[str, Any], path: Path | None) -> Config | None:
        tables = {"account", "daemon", "drafts", "classifier", "train"}
        self.unknown(data, "", tables)
        accounts = self.accounts(data.get("account"))
        daemon = self.daemon(self.table(data, "daemon", _fields(DaemonConfig)))
        drafts = self.drafts(self.table(data, "drafts", _fields(DraftsConfig)))
        classifier = self.classifier(self.table(data, "classifier", _fields(ClassifierConfig)))
        train = self.train(self.table(data, "train", _fields(TrainConfig)))
        if train.account is not None and train.account not in {a.name for a in accounts}:
            self.problem("train.account", f"no [[account]] named {train.account!r}")
        if self.problems:
            return None
        return Config(tuple(accounts), daemon, drafts, classifier, train, path)

    def accounts(self, raw: Any) -> list[AccountConfig]:
        if raw is None:
            self.problem("account", "no [[account]] table: add at least one account")
            return []
        if not isinstance(raw, list):
            self.problem("account", "must be an array of tables: write [[account]]")
            return []
        accounts: list[AccountConfig] = []
        names: set[str] = set()
        for index, item in enumerate(raw):
            prefix = f"account[{index}]"
            if not isinstance(item, dict):
                self.problem(prefix, "must be a table")
                continue
            account = self.account(item, prefix)
            if account is None:
                continue
            if account.name in names:
                self.problem(f"{prefix}.name", f"{account.name!r} is used by two accounts")
            names.add(account.name)
            accounts.append(account)
        return accounts

    def account(self, item: dict[str, Any], prefix: str) -> AccountConfig | None:
        before = len(self.problems)
        self.unknown(item, prefix, _fields(AccountConfig))
        name = self.get(item, prefix, "name", str, None, _plain_name, "a short name (a-z, 0-9, -_)")
        if "name" not in item:
            self.problem(f"{prefix}.name", "missing: every account needs a name")
        label = f"account {name!r}" if name else prefix
        identity = self.get(item, label, "identity", str, None, _one_line, "one line")
        if "identity" not in item:
            self.problem(
                f"{label}.identity", 'missing, e.g. identity = "Alice <alice@example.org>"'
            )
        elif identity is not None and "@" not in identity:
            self.problem(f"{label}.identity", "must contain an email address")
        folders = self.get(
            item,
            label,
            "folders",
            list,
            ["INBOX"],
            lambda v: bool(v) and all(isinstance(f, str) and f for f in v),
            "a non-empty list of folder names",
        )
        maildir = self.path(item, label, "maildir")
        host = self.get(item, label, "host", str, None, _one_line, "a host name")
        security = self.get(
            item,
            label,
            "security",
            str,
            "tls",
            lambda v: v in SECURITY_MODES,
            '"tls", "starttls" or "none"',
        )
        port = self.get(
            item,
            label,
            "port",
            int,
            DEFAULT_PORTS.get(security, 993),
            lambda v: 0 < v < 65536,
            "a port number",
        )
        username = self.get(item, label, "username", str, None, _one_line, "one line")
        password_command = self.get(item, label, "password_command", str, None, bool, "a command")
        if maildir is not None and host is not None:
            self.problem(label, "set either host (IMAP) or maildir (local), not both")
        if maildir is None and host is None:
            self.problem(f"{label}.host", "missing: set host (IMAP) or maildir (local Maildir)")
        if host is not None and username is None and "username" not in item:
            self.problem(f"{label}.username", "missing: the IMAP login name")
        ca_file = self.path(item, label, "ca_file")
        if ca_file is not None and not ca_file.is_file():
            self.problem(f"{label}.ca_file", f"{ca_file} does not exist")
        drafts_folder = self.get(item, label, "drafts_folder", str, None, bool, "a folder name")
        idle = self.get(item, label, "idle", bool, True)
        idle_timeout = self.get(
            item,
            label,
            "idle_timeout",
            int,
            600,
            lambda v: 10 <= v <= 1740,
            "seconds between 10 and 1740 (29 minutes, RFC 2177)",
        )
        timeout = self.get(item, label, "timeout", int, 60, lambda v: 1 <= v <= 3600, "seconds")
        if len(self.problems) > before:
            return None
        return AccountConfig(
            name=name,
            identity=identity,
            folders=tuple(folders),
            host=host,
            port=port,
            security=security,
            username=username,
            password_command=password_command,
            ca_file=ca_file,
            drafts_folder=drafts_folder,
            maildir=maildir,
            idle=idle,
            idle_timeout=idle_timeout,
            timeout=timeout,
        )

    def daemon(self, table: dict[str, Any]) -> DaemonConfig:
        p = "daemon"
        return DaemonConfig(
            since_days=self.get(table, p, "since_days", int, 14, lambda v: v >= 0, "days >= 0"),
            state_dir=self.path(table, p, "state_dir"),
            poll_interval=self.get(
                table, p, "poll_interval", int, 300, lambda v: v >= 5, "seconds >= 5"
            ),
            backoff_max=self.get(table, p, "backoff_max", int, 600, lambda v: v >= 1, "seconds"),
        )

    def drafts(self, table: dict[str, Any]) -> DraftsConfig:
        p = "drafts"
        template = self.path(table, p, "template")
        if template is not None and not template.is_file():
            self.problem("drafts.template", f"{template} does not exist")
        return DraftsConfig(
            max_per_day=self.get(table, p, "max_per_day", int, 20, lambda v: v >= 1, "at least 1"),
            template=template,
            signature=self.get(table, p, "signature", str, ""),
            review_keyword=self.get(
                table, p, "review_keyword", str, "$NotnowReview", _keyword, "an IMAP keyword"
            ),
            rejection_keyword=self.get(
                table,
                p,
                "rejection_keyword",
                str,
                "",
                lambda v: v == "" or _keyword(v),
                "an IMAP keyword or empty",
            ),
        )

    def classifier(self, table: dict[str, Any]) -> ClassifierConfig:
        p = "classifier"
        draft = self.get(table, p, "draft_threshold", (float, int), None, _unit, "between 0 and 1")
        review = self.get(
            table, p, "review_threshold", (float, int), None, _unit, "between 0 and 1"
        )
        if draft is not None and review is not None and review > draft:
            self.problem("classifier.review_threshold", "must not be above draft_threshold")
        return ClassifierConfig(
            model=self.path(table, p, "model"),
            draft_threshold=None if draft is None else float(draft),
            review_threshold=None if review is None else float(review),
        )

    def train(self, table: dict[str, Any]) -> TrainConfig:
        p = "train"
        return TrainConfig(
            account=self.get(table, p, "account", str, None),
            rejection_folder=self.get(table, p, "rejection_folder", str, "notnow/Rejection", bool),
            other_folder=self.get(table, p, "other_folder", str, "notnow/Not a rejection", bool),
        )


def _fields(cls: type) -> set[str]:
    names = set(cls.__dataclass_fields__)  # type: ignore[attr-defined]
    return names


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "an integer",
        bool: "true or false",
        list: "a list",
        float: "a number",
    }
    if isinstance(kind, tuple):
        return " or ".join(names.get(k, k.__name__) for k in kind)
    return names.get(kind, kind.__name__)


def _unit(value: float) -> bool:
    return 0.0 <= value <= 1.0


def _one_line(value: str) -> bool:
    return bool(value) and "\n" not in value and "\r" not in value


def _plain_name(value: str) -> bool:
    return bool(value) and all(c.isalnum() or c in "-_." for c in value)


def _keyword(value: str) -> bool:
    # RFC 3501 atom characters, no backslash (system flags are not ours to set).
    forbidden = set('(){ %*"\\]') | {chr(c) for c in range(32)}
    return bool(value) and not any(c in forbidden for c in value)


def _closest(key: str, allowed: set[str]) -> str | None:
    import difflib

    matches = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6)
    return matches[0] if matches else None
