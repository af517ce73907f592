"""Classification throughput: `notnow classify --json` vs a bare stdlib parse.

Method: the same .eml files (default: the SpamAssassin ham in /work/ham, 4,150 files,
and /work/shared/real/jobmail, 685 files — read for timing only, never for training)
are

1. classified by the CLI as a user runs it, ``python -m notnow classify --json FILE...``
   (wall time and peak RSS from wait4; output lines are counted and checked),
2. classified by the CLI given one file only: its fixed cost (interpreter start,
   imports, model load), subtracted to get the per-message (steady-state) cost,
3. parsed by the stdlib alone in this process: read the file,
   ``email.message_from_bytes(policy=email.policy.default)``, ``get_body(("plain",
   "html")).get_content()`` — the baseline.

Each is run ``--repeat`` times (default 3), the three in turn, and the fastest run of
each is kept (the machine is shared, and its speed drifts). Then an in-process
breakdown times notnow's stages over the same files: ``notnow.message.parse``, the
classifier's document (``features.document``), language detection (``Email.lang``) and
scoring (``Classifier.probabilities``).

Target (issue): classify <= 2x the stdlib parse.

    /work/venv/bin/python bench/classify.py
    /work/venv/bin/python bench/classify.py --limit 1000 --repeat 1 /some/folder
"""

from __future__ import annotations

import argparse
import email
import email.policy
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

DEFAULT_SOURCES = [Path("/work/ham"), Path("/work/shared/real/jobmail")]


def main() -> int:
    parser = argparse.ArgumentParser(
        description="notnow classify --json over real mail vs a bare stdlib parse",
        epilog="Figures go to docs/benchmarks.md (section classify) unless --no-doc.",
    )
    parser.add_argument(
        "folders",
        nargs="*",
        type=Path,
        default=DEFAULT_SOURCES,
        help="folders searched for *.eml (default: /work/ham /work/shared/real/jobmail)",
    )
    parser.add_argument("--limit", type=int, default=0, help="use at most this many files")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; fastest kept")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the stage timings")
    parser.add_argument("--no-doc", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args()
    _common.require_prepare()

    files = sorted(path for folder in args.folders for path in folder.rglob("*.eml"))
    if args.limit:
        files = files[: args.limit]
    if not files:
        raise SystemExit("no .eml files found")
    megabytes = sum(path.stat().st_size for path in files) / 1e6
    print(f"{len(files)} files, {megabytes:.1f} MB; model ready in {_common.ensure_model():.1f} s")

    command = [_common.PYTHON, "-m", "notnow", "classify", "--json"]
    cli_runs: list[tuple[float, int, int]] = []
    fixed_runs: list[float] = []
    stdlib_runs: list[tuple[float, int]] = []
    # Interleaved, so that a drift in the machine's speed weighs on all three alike.
    for _ in range(args.repeat):
        measured = _common.run_measured([*command, *map(str, files)])
        lines = measured.stdout.splitlines()
        if measured.returncode != 0:
            print(measured.stderr)
            raise SystemExit("notnow classify failed")
        cli_runs.append((measured.wall, measured.maxrss_kb, len(lines)))
        print(f"notnow classify: {measured.wall:.1f} s, {len(lines)} verdicts")
        fixed_runs.append(_common.run_measured([*command, str(files[0])]).wall)
        stdlib_runs.append(stdlib_parse(files))
    skipped = measured.stderr.count("skipping")
    rejections = measured.stdout.count('"label": "rejection"')
    for seconds, failures in stdlib_runs:
        print(f"stdlib parse: {seconds:.1f} s ({failures} raised)")

    cli_seconds, maxrss_kb, verdicts = min(cli_runs)
    fixed = min(fixed_runs)
    stdlib_seconds = min(seconds for seconds, _ in stdlib_runs)
    n = len(files)
    steady = cli_seconds - fixed
    results: dict[str, Any] = {
        "files": n,
        "megabytes": megabytes,
        "cli_runs": cli_runs,
        "fixed_runs": fixed_runs,
        "stdlib_runs": stdlib_runs,
        "verdicts": verdicts,
        "rejections": rejections,
        "skipped": skipped,
    }
    if not args.no_breakdown:
        results["breakdown"] = breakdown(files)

    rows = [
        ["stdlib parse (message_from_bytes + get_body + get_content)", f"{stdlib_seconds:.2f}",
         f"{n / stdlib_seconds:,.0f}", "1.00"],
        ["`notnow classify --json`, end to end", f"{cli_seconds:.2f}",
         f"{n / cli_seconds:,.0f}", f"{cli_seconds / stdlib_seconds:.2f}"],
        ["`notnow classify --json`, one file (fixed cost)", f"{fixed:.2f}", "-", "-"],
        ["`notnow classify --json`, per-message part (end to end - fixed)", f"{steady:.2f}",
         f"{n / steady:,.0f}", f"{steady / stdlib_seconds:.2f}"],
    ]  # fmt: skip
    lines = [
        f"{n:,} files ({megabytes:.0f} MB): {verdicts} verdicts, {skipped} skipped as "
        f"unreadable, {rejections} called rejections. Peak RSS of the CLI "
        f"{maxrss_kb / 1024:.0f} MB. Fastest of {args.repeat} runs each.",
        "",
        _common.markdown_table(["what", "seconds", "msg/s", "x stdlib"], rows),
    ]
    if "breakdown" in results:
        stages = results["breakdown"]
        total = sum(stages.values())
        lines += [
            "",
            "Where notnow's per-message time goes (in-process, same files, one run):",
            "",
            _common.markdown_table(
                ["stage", "seconds", "ms/msg", "share"],
                [
                    [
                        name,
                        f"{value:.2f}",
                        f"{1000 * value / n:.2f}",
                        f"{100 * value / total:.0f} %",
                    ]
                    for name, value in stages.items()
                ],
            ),
        ]
    ratio = steady / stdlib_seconds
    lines += [
        "",
        _common.markdown_table(
            ["target", "today", "status"],
            [
                [
                    "classify <= 2x stdlib parse (per message)",
                    f"{ratio:.2f}x (end to end {cli_seconds / stdlib_seconds:.2f}x)",
                    _common.verdict(ratio <= 2),
                ]
            ],
        ),
    ]
    text = "\n".join(lines)
    print()
    print(text)
    _common.save_json("classify", results)
    if not args.no_doc:
        _common.update_doc("classify", text)
    return 0


def stdlib_parse(files: list[Path]) -> tuple[float, int]:
    """The baseline: read, parse and decode the body of every file with the stdlib."""
    failures = 0
    started = time.perf_counter()
    for path in files:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        try:
            body = message.get_body(preferencelist=("plain", "html"))
            if body is not None:
                body.get_content()
        except (LookupError, ValueError, AttributeError, TypeError, AssertionError):
            failures += 1  # unknown charsets and broken MIME: notnow copes, count them
    return time.perf_counter() - started, failures


def breakdown(files: list[Path]) -> dict[str, float]:
    """notnow's stages over the same files, timed one at a time in this process."""
    from notnow.classifier import model
    from notnow.classifier.features import document
    from notnow.errors import MessageError
    from notnow.message import parse

    classifier = model.active()  # the model pinned by ensure_model
    stages = dict.fromkeys(
        ["read files", "message.parse", "features.document", "Email.lang", "scoring"], 0.0
    )
    started = time.perf_counter()
    raws = [path.read_bytes() for path in files]
    stages["read files"] = time.perf_counter() - started
    emails = []
    started = time.perf_counter()
    for raw in raws:
        try:
            emails.append(parse(raw))
        except MessageError:
            continue
    stages["message.parse"] = time.perf_counter() - started
    started = time.perf_counter()
    documents = [document(item) for item in emails]
    stages["features.document"] = time.perf_counter() - started
    started = time.perf_counter()
    languages = [item.lang for item in emails]
    stages["Email.lang"] = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, len(documents), 256):  # the CLI's batch size
        classifier.probabilities(documents[start : start + 256])
    stages["scoring"] = time.perf_counter() - started
    print(
        "breakdown: "
        + ", ".join(f"{name} {value:.2f} s" for name, value in stages.items())
        + f" ({len(emails)} parsed, {statistics.mode(languages) if languages else '-'} commonest)"
    )
    return stages


if __name__ == "__main__":
    raise SystemExit(main())
