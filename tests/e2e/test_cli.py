"""The CLI as a user runs it: demo, classify (files, folders, mbox, Maildir), draft, errors."""

from __future__ import annotations

import json
import mailbox
from importlib import resources
from pathlib import Path

from cli_runner import notnow

SAMPLES = resources.files("notnow.demo") / "messages"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def test_demo_shows_flagged_mail_and_a_draft(home: Path) -> None:
    result = notnow("demo", check=True)
    out = result.stdout
    assert "rejection(s)" in out
    assert "draft(s) written to" in out
    assert "Subject: Re: " in out
    assert "X-Notnow-Source: <" in out
    assert "feedback" in out.lower()


def test_classify_json_over_files_folders_mbox_and_maildir(home: Path, tmp_path: Path) -> None:
    eml = tmp_path / "one.eml"
    eml.write_bytes(sample("03-personal-rejection.eml"))
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.eml").write_bytes(sample("02-interview-invite.eml"))
    (folder / "b.eml").write_bytes(sample("06-german-rejection.eml"))
    box = mailbox.mbox(tmp_path / "box.mbox")
    box.add(sample("01-greenhouse-rejection.eml"))
    box.add(sample("07-newsletter.eml"))
    box.close()
    maildir = mailbox.Maildir(tmp_path / "Maildir")
    maildir.add(sample("04-application-received.eml"))
    maildir.close()

    result = notnow(
        "classify",
        "--json",
        str(eml),
        str(folder),
        str(tmp_path / "box.mbox"),
        str(tmp_path / "Maildir"),
        check=True,
    )
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 6
    for row in rows:
        assert set(row) == {"source", "label", "score", "lang"}
    by_source = {row["source"]: row for row in rows}
    assert by_source[str(eml)]["label"] == "rejection"
    assert by_source[str(folder / "a.eml")]["label"] == "other"
    german = by_source[str(folder / "b.eml")]
    assert german["lang"] == "de" and german["label"] == "rejection"
    assert f"{tmp_path / 'box.mbox'}#1" in by_source
    assert by_source[f"{tmp_path / 'box.mbox'}#2"]["label"] == "other"


def test_classify_missing_path_is_exit_1(home: Path, tmp_path: Path) -> None:
    result = notnow("classify", str(tmp_path / "nope.eml"))
    assert result.returncode == 1
    assert "no such file" in result.stderr and "Traceback" not in result.stderr


def test_classify_explain_names_the_phrases(home: Path, tmp_path: Path) -> None:
    eml = tmp_path / "r.eml"
    eml.write_bytes(sample("01-greenhouse-rejection.eml"))
    result = notnow("classify", "--explain", str(eml), check=True)
    assert "towards rejection:" in result.stdout


def test_draft_prints_a_threaded_reply(home: Path, tmp_path: Path) -> None:
    (home / "config.toml").write_text(
        '[[account]]\nname = "me"\nmaildir = "~/Mail"\n'
        'identity = "Alex Morgan <alex.morgan@example.org>"\n',
        encoding="utf-8",
    )
    eml = tmp_path / "r.eml"
    eml.write_bytes(sample("03-personal-rejection.eml"))
    result = notnow("draft", str(eml), "--config", str(home / "config.toml"), check=True)
    out = result.stdout
    assert "In-Reply-To: <20261112170344.GA1184@brightpath-logistics.co.uk>" in out
    assert "X-Notnow-Source: <20261112170344.GA1184@brightpath-logistics.co.uk>" in out
    assert "Subject: Re: Operations Analyst - final interview" in out
    assert "From: Alex Morgan <alex.morgan@example.org>" in out


def test_usage_error_is_exit_2(home: Path) -> None:
    assert notnow("frobnicate").returncode == 2
    assert notnow("classify").returncode == 2


def test_run_once_on_a_maildir_account(home: Path, tmp_path: Path) -> None:
    maildir = mailbox.Maildir(tmp_path / "Mail")
    for entry in sorted(SAMPLES.iterdir(), key=lambda e: e.name):
        maildir.add(entry.read_bytes())
    maildir.close()
    config = home / "config.toml"
    config.write_text(
        f'[[account]]\nname = "local"\nmaildir = "{tmp_path / "Mail"}"\n'
        'identity = "Alex Morgan <alex.morgan@example.org>"\n'
        f'[daemon]\nsince_days = 36500\nstate_dir = "{home / "state"}"\n',
        encoding="utf-8",
    )
    first = notnow("run", "--once", "--config", str(config), check=True)
    drafts = list((tmp_path / "Mail" / ".Drafts" / "cur").iterdir())
    assert drafts and all(d.name.endswith(":2,DS") for d in drafts)
    assert "saved" in first.stdout
    notnow("run", "--once", "--config", str(config), check=True)
    assert len(list((tmp_path / "Mail" / ".Drafts" / "cur").iterdir())) == len(drafts)
    status = notnow("status", "--config", str(config), check=True)
    assert "[local]" in status.stdout and "in Drafts" in status.stdout


def test_classify_many_files_in_order_with_unreadable_ones_skipped(
    home: Path, tmp_path: Path
) -> None:
    # 600 files: more than two batches, so most are parsed in the parse worker.
    names = sorted(entry.name for entry in SAMPLES.iterdir() if entry.name.endswith(".eml"))
    folder = tmp_path / "many"
    folder.mkdir()
    expected = []
    for i in range(600):
        path = folder / f"{i:04d}.eml"
        if i in (7, 300, 599):
            path.write_bytes(b"   \r\n")
            continue
        path.write_bytes(sample(names[i % len(names)]))
        expected.append(str(path))
    one = notnow("classify", "--json", str(folder / "0000.eml"), check=True)

    result = notnow("classify", "--json", str(folder), check=True)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["source"] for row in rows] == expected
    assert rows[0] == json.loads(one.stdout)  # the same verdict alone and in a batch
    first_verdict: dict[bytes, tuple[str, float, str]] = {}
    for row in rows:  # the same message gets the same verdict wherever it was parsed
        verdict = (row["label"], row["score"], row["lang"])
        assert first_verdict.setdefault(Path(row["source"]).read_bytes(), verdict) == verdict
    assert result.stderr.count("notnow: skipping") == 3
    assert f"skipping {folder / '0300.eml'}: empty message" in result.stderr
