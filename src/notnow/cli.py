"""The command line: the only module that parses argv, prints and exits.

Exit codes (the interface contract): 0 ok, 1 a user/config/connection error (the message
says what to change), 2 usage. Every NotnowError becomes one clear line on stderr; a
traceback is shown only for a bug, never for a user's mistake.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from notnow.errors import NotnowError, UserError

logger = logging.getLogger("notnow")


# Messages `notnow classify` parses and scores at a time.
_CLASSIFY_BATCH = 256


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        code: int = args.handler(args)
    except UserError as e:
        print(f"notnow: {e}", file=sys.stderr)
        return 1
    except NotnowError as e:
        print(f"notnow: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `notnow classify ... | head`: the reader went away; not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return code


def configure_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    if os.environ.get("JOURNAL_STREAM"):
        # journald adds its own timestamps; "<N>" prefixes become priorities.
        fmt = "%(journal_priority)s%(name)s: %(message)s"
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_JournalFormatter(fmt))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # mail-parser warns about every part type it does not decode (signatures, TNEF):
    # noise for a user, and notnow only reads the text parts anyway.
    logging.getLogger("mailparser").setLevel(logging.ERROR)


class _JournalFormatter(logging.Formatter):
    _PRIORITIES = {
        logging.DEBUG: 7,
        logging.INFO: 6,
        logging.WARNING: 4,
        logging.ERROR: 3,
        logging.CRITICAL: 2,
    }

    def format(self, record: logging.LogRecord) -> str:
        record.journal_priority = f"<{self._PRIORITIES.get(record.levelno, 6)}>"
        return super().format(record)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="notnow",
        description="Notices job rejections in your mailbox and leaves a gracious reply draft.",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    def config_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--config",
            type=Path,
            default=None,
            help="config file (default: $NOTNOW_CONFIG, then $XDG_CONFIG_HOME/notnow/config.toml)",
        )

    p = command("run", cmd_run, "watch the mailboxes (IDLE, else polling) and save drafts")
    config_option(p)
    p.add_argument("--once", action="store_true", help="one pass over new mail, then exit")
    p.add_argument("--dry-run", action="store_true", help="print what would be done; write nothing")

    p = command("check", cmd_check, "validate the config, log in, find the folders")
    config_option(p)

    p = command("login", cmd_login, "store an account's password in the system keyring")
    config_option(p)
    p.add_argument("--account", help="account name (default: the first)")

    p = command("classify", cmd_classify, "classify messages: .eml files, folders, mbox, Maildir")
    p.add_argument("--model", type=Path, help="a model trained with `notnow train`")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument(
        "--explain", action="store_true", help="show the words and phrases behind each decision"
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")

    p = command("train", cmd_train, "retrain the classifier on mail you labelled")
    p.add_argument(
        "--data",
        type=Path,
        nargs="+",
        action="extend",
        default=[],
        metavar="DIR",
        help="DIR/rejection/ and DIR/other/ with labelled mail",
    )
    p.add_argument("--out", type=Path, help="where to write the model (default: the active one)")
    p.add_argument(
        "--from-imap",
        action="store_true",
        help="also read the two training folders of the configured account",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the active model even if the new one scores worse",
    )
    config_option(p)

    p = command("draft", cmd_draft, "print the reply draft notnow would save for a message")
    p.add_argument("file", type=Path, metavar="FILE.eml")
    config_option(p)

    p = command("status", cmd_status, "recent detections, drafts and what became of them")
    config_option(p)

    command("demo", cmd_demo, "a whole pass over a bundled sample Maildir; no account needed")
    return parser


# -- commands ---------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from notnow import config as configuration
    from notnow.daemon import loop

    config = configuration.load(args.config)
    if args.once or args.dry_run:
        reports = loop.run_once(config, dry_run=args.dry_run)
        for report in reports:
            print(loop.describe(report))
        return 1 if any(r.error for r in reports) else 0
    return loop.watch(config, args.config)


def cmd_check(args: argparse.Namespace) -> int:
    from notnow import config as configuration
    from notnow.daemon import loop

    config = configuration.load(args.config)
    print(f"config {config.path}: ok ({len(config.accounts)} account(s))")
    ok = True
    for line, good in loop.check(config):
        print(line)
        ok = ok and good
    return 0 if ok else 1


def cmd_login(args: argparse.Namespace) -> int:
    import getpass

    from notnow import config as configuration
    from notnow import secrets
    from notnow.mailbox.imap import ImapMailbox

    config = configuration.load(args.config)
    account = config.account(args.account)
    if account.maildir is not None:
        raise UserError(f"account {account.name!r} is a local Maildir: it needs no password")
    password = getpass.getpass(f"Password for {account.username} on {account.host}: ")
    if not password:
        raise UserError("no password given; nothing stored")
    # Test the password itself before storing it (password_command or a systemd
    # credential would take precedence over the keyring in get_password).
    ImapMailbox.connect(account, password).close()
    secrets.store_password(account, password)
    print(f"login ok; password for {account.name!r} stored in the system keyring")
    if account.password_command:
        print(
            f"note: account {account.name!r} sets password_command, which is used before "
            "the keyring; remove it to use the stored password"
        )
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from notnow.classifier import dataset, model
    from notnow.daemon.parsing import Later, ParseAhead
    from notnow.message import Email

    classifier = model.active(args.model)
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        raise UserError(f"no such file or folder: {', '.join(missing)}")

    def chunks() -> Iterator[tuple[list[str], list[bytes]]]:
        names: list[str] = []
        raws: list[bytes] = []
        for path in args.paths:
            for source in dataset.read_sources(path):
                names.append(source.name)
                raws.append(source.raw)
                if len(raws) >= _CLASSIFY_BATCH:
                    yield names, raws
                    names, raws = [], []
        if raws:
            yield names, raws

    def judge(names: list[str], parsed: Later) -> None:
        batch: list[tuple[str, Email]] = []
        for name, result in zip(names, parsed(), strict=True):
            if isinstance(result, Email):
                batch.append((name, result))
            else:
                print(f"notnow: skipping {name}: {result}", file=sys.stderr)
        emails = [email for _, email in batch]
        for (name, email), verdict in zip(batch, classifier.classify(emails), strict=True):
            if args.json:
                print(
                    json.dumps(
                        {
                            "source": name,
                            "label": verdict.label,
                            "score": verdict.score,
                            "lang": verdict.lang,
                        }
                    )
                )
            else:
                print(f"{verdict.label:9} {verdict.score:.3f} {verdict.lang}  {name}")
            if args.explain:
                from notnow.classifier.explain import explain

                print(explain(classifier, email))

    # Many files: the next batch is parsed in a worker process while this one is judged.
    with ParseAhead() as parser:
        waiting: tuple[list[str], Later] | None = None
        for names, raws in chunks():
            submitted = (names, parser.submit_raws(raws))
            if waiting is not None:
                judge(*waiting)
            waiting = submitted
        if waiting is not None:
            judge(*waiting)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from notnow.classifier import train

    progress = train.ProgressDisplay(sys.stderr)
    try:
        report = train.run(args, progress)
    finally:
        progress.close()
    print(report)
    return 0


def cmd_draft(args: argparse.Namespace) -> int:
    from notnow.drafts.compose import compose_draft
    from notnow.message import parse

    if not args.file.is_file():
        raise UserError(f"no such file: {args.file}")
    config = _config_or_default(args.config)
    email = parse(args.file.read_bytes())
    draft = compose_draft(email, config.accounts[0], config.drafts)
    sys.stdout.write(draft.raw.decode("utf-8", "replace").replace("\r\n", "\n"))
    return 0


def _config_or_default(path: Path | None) -> Any:
    from notnow import config as configuration

    try:
        return configuration.load(path)
    except UserError:
        if path is not None or configuration.default_config_path().exists():
            raise
    print(
        "notnow: no config file; using a placeholder identity (set `identity` in "
        f"{configuration.default_config_path()})",
        file=sys.stderr,
    )
    return configuration.loads(
        '[[account]]\nname = "example"\nmaildir = "/nonexistent"\n'
        'identity = "Your Name <you@example.org>"\n'
    )


def cmd_status(args: argparse.Namespace) -> int:
    from notnow import config as configuration
    from notnow.daemon import loop

    config = configuration.load(args.config)
    print(loop.status(config))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from notnow import demo

    print(demo.run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
