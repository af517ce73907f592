"""Config: every contract key accepted, every problem reported at once with file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from notnow import config
from notnow.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

CONTRACT = """
[[account]]
name = "personal"
host = "imap.example.org"
port = 993
security = "tls"
username = "alice@example.org"
password_command = "pass show mail/alice"
folders = ["INBOX"]
identity = "Alice Example <alice@example.org>"
drafts_folder = "Drafts"

[[account]]
name = "local"
maildir = "~/Mail/personal"
identity = "Alice Example <alice@example.org>"

[daemon]
since_days = 14
state_dir = "/tmp/notnow-state"

[drafts]
max_per_day = 20
"""


def test_every_contract_key_is_accepted() -> None:
    loaded = config.loads(CONTRACT, Path("/etc/notnow.toml"))
    personal, local = loaded.accounts
    assert personal.host == "imap.example.org"
    assert personal.port == 993
    assert personal.security == "tls"
    assert personal.password_command == "pass show mail/alice"
    assert personal.drafts_folder == "Drafts"
    assert local.maildir == Path("~/Mail/personal").expanduser()
    assert loaded.daemon.since_days == 14
    assert loaded.state_dir == Path("/tmp/notnow-state")
    assert loaded.drafts.max_per_day == 20


def test_the_example_config_is_valid_and_documents_every_key() -> None:
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    loaded = config.load(ROOT / "config.example.toml")
    assert loaded.accounts[0].name == "personal"
    for cls in (
        config.AccountConfig,
        config.DaemonConfig,
        config.DraftsConfig,
        config.ClassifierConfig,
        config.TrainConfig,
    ):
        for name in cls.__dataclass_fields__:
            assert f"{name} =" in text, f"{cls.__name__}.{name} is not in config.example.toml"


def test_defaults() -> None:
    loaded = config.loads('[[account]]\nname="a"\nhost="h"\nusername="u"\nidentity="A <a@b.c>"\n')
    account = loaded.accounts[0]
    assert (account.port, account.security, account.folders) == (993, "tls", ("INBOX",))
    assert loaded.drafts.max_per_day == 20
    assert loaded.daemon.since_days == 14
    starttls = config.loads(
        '[[account]]\nname="a"\nhost="h"\nusername="u"\nidentity="A <a@b.c>"\nsecurity="starttls"\n'
    )
    assert starttls.accounts[0].port == 143


def test_all_problems_reported_at_once_with_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[[account]]\nname = "x"\nhots = "imap.example.org"\nport = "993"\n'
        'security = "ssl"\nidentity = "no address"\n'
        "[daemon]\nsince_day = 3\n[drafts]\nmax_per_day = 0\n[colour]\nx = 1\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        config.load(path)
    message = str(raised.value)
    assert str(path) in message
    for expected in (
        "account[0].hots: unknown key (did you mean 'host'?)",
        "account 'x'.port: must be a port number",
        "account 'x'.security",
        "account 'x'.identity: must contain an email address",
        "daemon.since_day: unknown key (did you mean 'since_days'?)",
        "drafts.max_per_day: must be at least 1",
        "colour: unknown key",
    ):
        assert expected in message
    assert len(raised.value.problems) >= 7


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[[account]\nname = ", encoding="utf-8")
    with pytest.raises(ConfigError, match="broken.toml is not valid TOML"):
        config.load(path)


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config.example.toml"):
        config.load(tmp_path / "nope.toml")


def test_no_account_and_both_host_and_maildir() -> None:
    with pytest.raises(ConfigError, match="no \\[\\[account\\]\\]"):
        config.loads("[daemon]\nsince_days = 1\n")
    with pytest.raises(ConfigError, match="either host .* or maildir"):
        config.loads(
            '[[account]]\nname="a"\nhost="h"\nusername="u"\nmaildir="/m"\nidentity="A <a@b.c>"\n'
        )


def test_duplicate_account_names_and_multiline_identity() -> None:
    text = (
        '[[account]]\nname="a"\nmaildir="/m"\nidentity="A <a@b.c>"\n'
        '[[account]]\nname="a"\nmaildir="/n"\nidentity="A <a@b.c>\\nBcc: x@y.z"\n'
    )
    with pytest.raises(ConfigError) as raised:
        config.loads(text)
    assert "identity: must be one line" in str(raised.value)


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[[account]]\nname="a"\nmaildir="Mail"\nidentity="A <a@b.c>"\n', encoding="utf-8"
    )
    assert config.load(path).accounts[0].maildir == tmp_path / "Mail"


def test_config_path_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NOTNOW_CONFIG", str(tmp_path / "x.toml"))
    assert config.default_config_path() == tmp_path / "x.toml"
    monkeypatch.delenv("NOTNOW_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config.default_config_path() == tmp_path / "notnow" / "config.toml"
