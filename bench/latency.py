"""Arrival-to-draft latency of the watching daemon (`notnow run`, IDLE).

Method: a Dovecot is started on 127.0.0.1 (tests/dovecot.py) with an empty INBOX; the
daemon runs as a subprocess (``python -m notnow -v run``) with ``max_per_day`` raised so
the cap never defers a draft, and is left until its log says it is idle. Then K
rejections (bench/_mailgen.py, each its own company, subject and thread; checked first
with ``notnow classify --json`` so only messages notnow calls rejections are used) are
delivered one at a time by APPEND over a persistent connection. The clock starts when
APPEND returns; a second connection polls ``STATUS Drafts (MESSAGES)`` every 20 ms and
the clock stops when the count goes up. Between deliveries the script waits a random
0.3-1.5 s so arrivals land at every phase of the daemon's wait loop.

Baselines from the same run: the same poller timing an APPEND to Drafts made by this
script itself (what the measurement alone costs), and a bare imapclient connection in
IDLE on another folder timing APPEND -> the server's EXISTS (what the server's IDLE
notification alone costs; Dovecot batches change notifications). Target (issue): p95 < 1 s.

    /work/venv/bin/python bench/latency.py            # K = 30
    /work/venv/bin/python bench/latency.py -k 10 --no-doc
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import _mailgen  # noqa: E402

POLL = 0.02
TIMEOUT = 20.0


def main() -> int:
    parser = argparse.ArgumentParser(
        description="time from APPEND of a rejection to its draft in Drafts, daemon on IDLE",
        epilog="Figures go to docs/benchmarks.md (section latency) unless --no-doc.",
    )
    parser.add_argument("-k", "--count", type=int, default=30, help="rejections (default 30)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-doc", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args()
    _common.require_prepare()

    from dovecot import Dovecot

    print(f"model ready in {_common.ensure_model():.1f} s")
    work = Path(tempfile.mkdtemp(prefix="notnow-bench-latency-"))
    messages = rejections(args.count, args.seed, work)
    server = Dovecot()
    server.start()
    daemon: subprocess.Popen[bytes] | None = None
    try:
        user = server.add_user("bench")
        server.create_folder(user, "Drafts")
        config = _common.write_config(
            work, server.host, server.port, user, server.password(user),
            extra_drafts=["max_per_day = 10000"],
        )  # fmt: skip
        log = work / "daemon.log"
        with log.open("wb") as handle:
            daemon = subprocess.Popen(
                [_common.PYTHON, "-m", "notnow", "-v", "run", "--config", str(config)],
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=_common.child_env(),
            )
        _common.wait_for_line(log, r"\] idle", 900, daemon)
        print("daemon idle; delivering")
        poller = server.client(user)
        sender = server.client(user)
        rng = random.Random(args.seed)  # noqa: S311 - jitter, not cryptography
        baseline = []
        for index in range(5):
            baseline.append(timed_append(sender, poller, "Drafts", _mailgen.rejection(900 + index)))
            time.sleep(0.2)
        watcher = server.client(user)
        idle_baseline = []
        for index in range(10):
            time.sleep(rng.uniform(0.3, 1.5))
            idle_baseline.append(timed_idle(sender, watcher, _mailgen.rejection(950 + index)))
        watcher.logout()
        latencies: list[float | None] = []
        for index, raw in enumerate(messages):
            time.sleep(rng.uniform(0.3, 1.5))
            latency = timed_append(sender, poller, "INBOX", raw)
            latencies.append(latency)
            shown = f"{latency * 1000:.0f} ms" if latency is not None else "timeout"
            print(f"  {index + 1:2}/{len(messages)}: {shown}")
        sender.logout()
        poller.logout()
    finally:
        if daemon is not None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                daemon.kill()
        server.cleanup()
    report(latencies, baseline, idle_baseline, args)
    return 0


def timed_idle(sender: Any, watcher: Any, raw: bytes) -> float | None:
    """APPEND to a folder a bare IMAP client is IDLE on; seconds until it hears EXISTS."""
    if not watcher.folder_exists("Baseline"):
        watcher.create_folder("Baseline")
    watcher.select_folder("Baseline", readonly=True)
    watcher.idle()
    try:
        sender.append("Baseline", raw)
        arrived = time.perf_counter()
        while time.perf_counter() - arrived < TIMEOUT:
            responses = watcher.idle_check(timeout=TIMEOUT)
            if any(isinstance(r, tuple) and len(r) > 1 and r[1] == b"EXISTS" for r in responses):
                return time.perf_counter() - arrived
        return None
    finally:
        watcher.idle_done()


def rejections(count: int, seed: int, work: Path) -> list[bytes]:
    """``count`` generated rejections that `notnow classify` labels as rejections."""
    folder = work / "candidates"
    folder.mkdir()
    candidates = {}
    for index in range(count * 2):
        path = folder / f"{index:03}.eml"
        raw = _mailgen.rejection(index, seed)
        path.write_bytes(raw)
        candidates[str(path)] = raw
    result = subprocess.run(
        [_common.PYTHON, "-m", "notnow", "classify", "--json", str(folder)],
        capture_output=True,
        text=True,
        check=True,
        env=_common.child_env(),
    )
    verdicts = [json.loads(line) for line in result.stdout.splitlines()]
    chosen = [candidates[v["source"]] for v in verdicts if v["label"] == "rejection"]
    print(f"{len(chosen)} of {len(candidates)} candidates classified as rejections")
    if len(chosen) < count:
        print(f"warning: only {len(chosen)} usable rejections (wanted {count})")
    return chosen[:count]


def timed_append(sender: Any, poller: Any, folder: str, raw: bytes) -> float | None:
    """APPEND to ``folder``; seconds until Drafts holds one message more (None: timeout)."""
    before = int(poller.folder_status("Drafts", [b"MESSAGES"])[b"MESSAGES"])
    sender.append(folder, raw)
    arrived = time.perf_counter()
    while time.perf_counter() - arrived < TIMEOUT:
        count = int(poller.folder_status("Drafts", [b"MESSAGES"])[b"MESSAGES"])
        if count > before:
            return time.perf_counter() - arrived
        time.sleep(POLL)
    return None


def report(
    latencies: list[float | None],
    baseline: list[float | None],
    idle_baseline: list[float | None],
    args: Any,
) -> None:
    done = [value for value in latencies if value is not None]
    missed = len(latencies) - len(done)
    base = [value for value in baseline if value is not None]
    idle = [value for value in idle_baseline if value is not None]
    p50 = _common.percentile(done, 0.50)
    p95 = _common.percentile(done, 0.95)
    rows = [
        [
            "measurement alone (APPEND to Drafts, seen by the poller)",
            len(base),
            f"{1000 * _common.percentile(base, 0.5):.0f}",
            f"{1000 * _common.percentile(base, 0.95):.0f}",
            f"{1000 * max(base):.0f}" if base else "-",
        ],
        [
            "bare imapclient IDLE: APPEND -> the server's EXISTS reaches the client",
            len(idle),
            f"{1000 * _common.percentile(idle, 0.5):.0f}",
            f"{1000 * _common.percentile(idle, 0.95):.0f}",
            f"{1000 * max(idle):.0f}" if idle else "-",
        ],
        [
            "notnow: APPEND of a rejection to INBOX -> its draft in Drafts",
            len(done),
            f"{1000 * p50:.0f}",
            f"{1000 * p95:.0f}",
            f"{1000 * max(done):.0f}" if done else "-",
        ],
    ]
    lines = [
        f"K = {len(latencies)} rejections, one at a time, 0.3-1.5 s apart; "
        f"{missed} without a draft within {TIMEOUT:.0f} s. Drafts polled every "
        f"{POLL * 1000:.0f} ms.",
        "",
        _common.markdown_table(["what", "n", "p50 ms", "p95 ms", "max ms"], rows),
        "",
        _common.markdown_table(
            ["target", "today", "status"],
            [
                [
                    "p95 arrival-to-draft < 1 s",
                    f"{1000 * p95:.0f} ms",
                    _common.verdict(p95 < 1.0 and missed == 0),
                ]
            ],
        ),
    ]
    text = "\n".join(lines)
    print()
    print(text)
    _common.save_json(
        "latency",
        {"latencies": latencies, "baseline": baseline, "idle_baseline": idle_baseline},
    )
    if not args.no_doc:
        _common.update_doc("latency", text)


if __name__ == "__main__":
    raise SystemExit(main())
