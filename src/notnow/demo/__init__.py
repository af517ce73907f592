"""`notnow demo`: a whole pass over a bundled sample Maildir in a temporary directory.

No account, no network: the sample messages (some rejections, some near-misses) are
delivered into a fresh Maildir, a config pointing at it is written, and the same code
path as ``notnow run --once`` runs over it. Prints what was flagged and one draft.
"""

from __future__ import annotations

import email
import email.policy
import tempfile
import time
from importlib import resources
from pathlib import Path

from notnow import config as configuration
from notnow.daemon import loop


def build_sample(root: Path) -> Path:
    """A Maildir++ with the sample messages in INBOX/new and an empty Drafts folder."""
    maildir = root / "Mail"
    for folder in (maildir, maildir / ".Drafts"):
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
    messages = resources.files("notnow.demo") / "messages"
    for index, entry in enumerate(sorted(messages.iterdir(), key=lambda e: e.name)):
        if entry.name.endswith(".eml"):
            name = f"{int(time.time())}.M{index}P1.notnow-demo"
            (maildir / "new" / name).write_bytes(entry.read_bytes())
    return maildir


def run(root: Path | None = None) -> str:
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="notnow-demo-"))
    maildir = build_sample(root)
    config_path = root / "config.toml"
    config_path.write_text(
        "[[account]]\n"
        'name = "demo"\n'
        f'maildir = "{maildir}"\n'
        'identity = "Alex Morgan <alex.morgan@example.org>"\n'
        "\n[daemon]\n"
        "since_days = 36500\n"
        f'state_dir = "{root / "state"}"\n'
        "\n[drafts]\n"
        'signature = "Alex Morgan\\nalex.morgan@example.org"\n',
        encoding="utf-8",
    )
    config = configuration.load(config_path)
    reports = loop.run_once(config)
    lines = [f"notnow demo: sample Maildir in {maildir}", ""]
    lines += [loop.describe(report) for report in reports]
    drafts = sorted((maildir / ".Drafts" / "cur").iterdir())
    lines.append("")
    lines.append(f"{len(drafts)} draft(s) written to {maildir / '.Drafts' / 'cur'}")
    if drafts:
        lines += ["", f"--- {drafts[0]} ---", readable(drafts[0].read_bytes())]
    lines.append(f"config used: {config_path}")
    return "\n".join(lines)


def readable(raw: bytes) -> str:
    """A draft as a person reads it: its headers, then the decoded text."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    head = [
        f"{name}: {value}"
        for name, value in message.items()
        if name.lower() not in ("content-transfer-encoding", "mime-version")
    ]
    body = message.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    return "\n".join(head) + "\n\n" + str(text)
