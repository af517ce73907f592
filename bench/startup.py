"""Start-up and training time.

1. Start-up: from the launch of ``python -m notnow run --once`` to the first IMAP
   command reaching the server. The config points notnow at a small TCP proxy in this
   script (in front of a Dovecot started on 127.0.0.1 by tests/dovecot.py) that
   timestamps the connection, the server's greeting and the first client bytes after
   it; the LOGIN line is found among the recorded client lines. The model is already
   in the shared cache (NOTNOW_CACHE_DIR), as on any run after the first. Baseline from
   the same run: a bare ``python -c`` with imapclient that connects and logs in through
   the same proxy. Each is launched ``--repeat`` times (default 5); medians reported.
2. Training: ``notnow.classifier.model.train`` on ``--train-size`` examples (default
   10,000) sampled *with replacement* from the bundled corpus (the corpus holds far
   fewer distinct messages, so duplicates are many), in a child process (wall time and
   peak RSS from wait4). Baseline from the same run: training on the bundled corpus
   once as it is (what building the bundled model costs).

    /work/venv/bin/python bench/startup.py
    /work/venv/bin/python bench/startup.py --repeat 3 --train-size 2000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

BARE_LOGIN = """
import sys
from imapclient import IMAPClient
client = IMAPClient("127.0.0.1", int(sys.argv[1]), ssl=False, timeout=30)
client.login(sys.argv[2], sys.argv[3])
client.logout()
"""

TRAIN = """
import json, random, sys, time
from notnow.classifier import dataset, model
size = int(sys.argv[1])
examples = dataset.bundled()
if size:
    rng = random.Random(10)
    examples = rng.choices(examples, k=size)
started = time.perf_counter()
model.train(examples)
print(json.dumps({"examples": len(examples), "seconds": time.perf_counter() - started}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(
        description="launch-to-first-IMAP-command of `notnow run --once`, and training time",
        epilog="Figures go to docs/benchmarks.md (section startup) unless --no-doc.",
    )
    parser.add_argument("--repeat", type=int, default=5, help="launches of each (default 5)")
    parser.add_argument("--train-size", type=int, default=10_000, help="0 skips training")
    parser.add_argument("--no-doc", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args()
    _common.require_prepare()

    from dovecot import Dovecot

    print(f"model ready in {_common.ensure_model():.1f} s")
    work = Path(tempfile.mkdtemp(prefix="notnow-bench-startup-"))
    server = Dovecot()
    server.start()
    proxy = _common.Proxy((server.host, server.port))
    results: dict[str, Any] = {"notnow": [], "bare": []}
    try:
        user = server.add_user("bench")
        server.create_folder(user, "Drafts")
        for attempt in range(args.repeat):
            config = _common.write_config(
                work / f"run{attempt}", server.host, proxy.port, user, server.password(user)
            )
            command = [_common.PYTHON, "-m", "notnow", "run", "--once", "--config", str(config)]
            results["notnow"].append(launch(proxy, command))
            bare = [_common.PYTHON, "-c", BARE_LOGIN, str(proxy.port), user, server.password(user)]
            results["bare"].append(launch(proxy, bare))
            print(
                f"  launch {attempt + 1}: notnow first command "
                f"{results['notnow'][-1]['first_command']:.2f} s, bare "
                f"{results['bare'][-1]['first_command']:.2f} s"
            )
    finally:
        proxy.close()
        server.cleanup()
    if args.train_size:
        results["train_corpus"] = train(0)
        print(f"training on the corpus: {results['train_corpus']}")
        results["train_sampled"] = train(args.train_size)
        print(f"training on {args.train_size}: {results['train_sampled']}")
    report(results, args)
    return 0


def launch(proxy: _common.Proxy, command: list[str]) -> dict[str, float]:
    """Run a command that logs in through the proxy; times relative to its launch."""
    known = len(proxy.connections)
    started = time.perf_counter()
    measured = _common.run_measured(command, timeout=300)
    if measured.returncode != 0:
        print(measured.stdout, measured.stderr, sep="\n")
        raise SystemExit(f"{command[:4]} failed")
    connection = proxy.connections[known]
    login = next(
        (when for when, line in connection.client_lines if b"LOGIN" in line.upper()), float("nan")
    )
    first = connection.first_client_bytes or float("nan")
    return {
        "connect": connection.accepted - started,
        "first_command": first - started,
        "login": login - started,
        "exit": measured.wall,
        "maxrss_kb": measured.maxrss_kb,
    }


def train(size: int) -> dict[str, Any]:
    measured = _common.run_measured([_common.PYTHON, "-c", TRAIN, str(size)], timeout=3600)
    if measured.returncode != 0:
        print(measured.stderr)
        raise SystemExit("training failed")
    result: dict[str, Any] = json.loads(measured.stdout.strip().splitlines()[-1])
    result["maxrss_kb"] = measured.maxrss_kb
    result["cpu"] = measured.user_cpu + measured.system_cpu
    return result


def report(results: dict[str, Any], args: Any) -> None:
    def median(kind: str, key: str) -> float:
        return statistics.median(run[key] for run in results[kind])

    rows = []
    for kind, label in (
        ("bare", "bare `python -c` imapclient login"),
        ("notnow", "`notnow run --once` (model cached)"),
    ):
        rows.append(
            [
                label,
                f"{median(kind, 'connect'):.2f}",
                f"{median(kind, 'first_command'):.2f}",
                f"{median(kind, 'login'):.2f}",
                f"{median(kind, 'exit'):.2f}",
                f"{median(kind, 'maxrss_kb') / 1024:.0f}",
            ]
        )
    ratio = median("notnow", "first_command") / median("bare", "first_command")
    lines = [
        f"Medians of {args.repeat} launches each, seconds from launch; empty INBOX.",
        "",
        _common.markdown_table(
            ["what", "TCP connect", "first command", "LOGIN", "exit", "peak RSS MB"], rows
        ),
        "",
        f"Launch to first IMAP command: notnow is {ratio:.1f}x the bare client.",
    ]
    if "train_sampled" in results:
        corpus = results["train_corpus"]
        sampled = results["train_sampled"]
        lines += [
            "",
            _common.markdown_table(
                ["training", "examples", "seconds", "CPU-s", "peak RSS MB"],
                [
                    [
                        label,
                        f"{run['examples']:,}",
                        f"{run['seconds']:.1f}",
                        f"{run['cpu']:.1f}",
                        f"{run['maxrss_kb'] / 1024:.0f}",
                    ]
                    for label, run in (
                        ("bundled corpus as is (baseline)", corpus),
                        ("sampled with replacement from the corpus", sampled),
                    )
                ],
            ),
        ]
    text = "\n".join(lines)
    print()
    print(text)
    _common.save_json("startup", results)
    if not args.no_doc:
        _common.update_doc("startup", text)


if __name__ == "__main__":
    raise SystemExit(main())
