"""Backlog throughput: `notnow run --once` over N messages vs a bare IMAP download.

Method (all in one run, on one Dovecot started for it on 127.0.0.1 by tests/dovecot.py):

1. Generate N realistic messages (bench/_mailgen.py: plain, HTML, multipart, small
   attachments, ~1 % with 0.5-5 MB attachments, ~3 % job rejections) and write them
   straight into the user's Maildir/cur (owned by dovecot, mtime = arrival date); one
   SELECT lets Dovecot index them (timed apart, not part of any figure below).
2. Baseline: a bare download of every message with imapclient, ``UID FETCH BODY.PEEK[]``
   in batches of 200 over one connection, with imaplib's protocol trace off as notnow
   has it. Run before and after notnow; the faster of the two is the baseline (both are
   reported). Once more with imapclient's defaults, which turn the trace on: it formats
   the repr of every message read, and it was the baseline until session 6. And once
   with each batch parsed by the stdlib as it arrives (compat32 ``message_from_bytes``,
   nothing decoded), in the same thread: the least any Python client that looks inside
   every message pays, for comparison (not the target's baseline).
3. notnow in-process: a child Python process runs ``notnow.daemon.loop.run_once`` on a
   fresh state; it times the model load and the pass separately, samples its VmRSS
   plus its parse worker's (``notnow.daemon.parsing``) every 0.2 s and reports the peak
   of that sum (or its own VmHWM, if higher). Its CPU time includes the worker's.
4. notnow CLI: ``python -m notnow run --once`` as a user runs it (fresh state, same
   mailbox), wall time and CPU (with the worker's) from wait4; its peak RSS there is the
   larger process's, not the sum.

msg/s = N / seconds. The ratio is notnow's pass time / the baseline's download time.
Targets (issue): ratio <= 2, >= 1,000 msg/s on loopback, peak RSS <= 250 MB at 50,000
and flat in N.

    /work/venv/bin/python bench/backlog.py --messages 5000
    /work/venv/bin/python bench/backlog.py --messages 50000 --no-cli
    /work/venv/bin/python bench/backlog.py --messages 2000 --profile   # where time goes
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import _mailgen  # noqa: E402

BATCH = 200


def main() -> int:
    parser = argparse.ArgumentParser(
        description="notnow run --once over a generated backlog vs a bare IMAP download",
        epilog="Figures go to docs/benchmarks.md (section backlog) unless --no-doc.",
    )
    parser.add_argument("--messages", type=int, default=5000, help="N (default 5000)")
    parser.add_argument("--big-rate", type=float, default=0.01, help="share with 0.5-5 MB files")
    parser.add_argument("--rejection-rate", type=float, default=0.03)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI subprocess run")
    parser.add_argument("--profile", action="store_true", help="add a cProfile'd pass")
    parser.add_argument("--no-doc", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument("--child", nargs=2, metavar=("CONFIG", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--child-profile", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(Path(args.child[0]), Path(args.child[1]), args.child_profile)
    _common.require_prepare()

    from dovecot import Dovecot

    print(f"model: ready in {_common.ensure_model():.1f} s (cache {_common.DEFAULT_CACHE})")
    work = Path(tempfile.mkdtemp(prefix="notnow-bench-backlog-"))
    server = Dovecot()
    server.start()
    try:
        user = server.add_user("bench")
        loaded = load_maildir(server, user, args)
        print(
            f"loaded {loaded['messages']} messages ({loaded['megabytes']:.0f} MB, "
            f"{loaded['big']} big, {loaded['rejections']} rejections) in "
            f"{loaded['seconds']:.1f} s; Dovecot indexed them in {loaded['index_seconds']:.1f} s"
        )
        n = loaded["messages"]
        results: dict[str, Any] = {"n": n, "load": loaded}
        first = bare_download(server, user)
        print(f"baseline #1: {first['seconds']:.1f} s, {n / first['seconds']:.0f} msg/s")
        inproc = run_child(server, user, work / "inproc", None)
        print(
            f"notnow in-process: pass {inproc['pass_seconds']:.1f} s "
            f"({n / inproc['pass_seconds']:.0f} msg/s), model load {inproc['load_seconds']:.1f} s, "
            f"peak RSS {inproc['vmhwm_kb'] / 1024:.0f} MB, fetched {inproc['fetched']}, "
            f"failed {inproc['failed']}, drafts {inproc['drafts']} (+{inproc['deferred']} deferred)"
        )
        results["inprocess"] = inproc
        if not args.no_cli:
            config = write_bench_config(server, user, work / "cli")
            measured = _common.run_measured(
                [_common.PYTHON, "-m", "notnow", "run", "--once", "--config", str(config)]
            )
            if measured.returncode != 0:
                print(measured.stdout, measured.stderr, sep="\n")
                raise SystemExit("notnow run --once failed")
            results["cli"] = {
                "seconds": measured.wall,
                "maxrss_kb": measured.maxrss_kb,
                "cpu": measured.user_cpu + measured.system_cpu,
                "summary": measured.stdout.splitlines()[0] if measured.stdout else "",
            }
            print(
                f"notnow CLI: {measured.wall:.1f} s end to end ({n / measured.wall:.0f} msg/s), "
                f"peak RSS {measured.maxrss_kb / 1024:.0f} MB"
            )
        second = bare_download(server, user)
        print(f"baseline #2: {second['seconds']:.1f} s, {n / second['seconds']:.0f} msg/s")
        results["baseline"] = [first, second]
        traced = bare_download(server, user, trace=True)
        print(f"imapclient defaults: {traced['seconds']:.1f} s, {n / traced['seconds']:.0f} msg/s")
        results["baseline_traced"] = traced
        parsed = bare_download(server, user, parse=True)
        rate = n / parsed["seconds"]
        print(f"download + stdlib parse: {parsed['seconds']:.1f} s, {rate:.0f} msg/s")
        results["baseline_parsed"] = parsed
        if args.profile:
            profile_path = _common.REPO / "bench" / "results" / "backlog-profile.txt"
            profile_path.parent.mkdir(exist_ok=True)
            run_child(server, user, work / "profile", profile_path)
            print(f"profile of one pass: {profile_path}")
        report(results, args)
    finally:
        server.cleanup()
    return 0


# -- loading ----------------------------------------------------------------------------------


def load_maildir(server: Any, user: str, args: argparse.Namespace) -> dict[str, Any]:
    """Write the messages into Maildir/cur directly, then let Dovecot index them."""
    started = time.perf_counter()
    home = server.maildir(user).parent
    maildir = server.maildir(user)
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    uid, gid = server._uid, server._gid  # the harness's dovecot owner
    count = big = rejections = total = 0
    stamp = int(time.time())
    for index, generated in enumerate(
        _mailgen.generate(args.messages, args.seed, args.rejection_rate, args.big_rate)
    ):
        size = len(generated.raw)
        path = maildir / "cur" / f"{stamp}.M{index}P{os.getpid()}.bench,S={size}:2,"
        path.write_bytes(generated.raw)
        when = generated.date.timestamp()
        os.utime(path, (when, when))
        os.chown(path, uid, gid)
        count += 1
        total += size
        big += generated.big
        rejections += generated.rejection
    for folder in (home, maildir, maildir / "cur", maildir / "new", maildir / "tmp"):
        os.chown(folder, uid, gid)
    seconds = time.perf_counter() - started
    indexed = time.perf_counter()
    client = server.client(user)
    try:
        client.select_folder("INBOX", readonly=True)
        client.search("ALL")
    finally:
        client.logout()
    return {
        "messages": count,
        "megabytes": total / 1e6,
        "big": big,
        "rejections": rejections,
        "seconds": seconds,
        "index_seconds": time.perf_counter() - indexed,
    }


# -- the baseline -------------------------------------------------------------------------------


def bare_download(
    server: Any, user: str, trace: bool = False, parse: bool = False
) -> dict[str, Any]:
    """Every message's BODY.PEEK[] in batches of 200 over one connection. Without
    imaplib's protocol trace, as notnow reads mail (mailbox/imap.py), unless ``trace``:
    imapclient turns the trace on, and it formats the repr of every message read.
    With ``parse``, each batch is then parsed by the stdlib's cheapest parse
    (``email.message_from_bytes``, compat32, nothing decoded): what any Python client
    that looks inside every message pays at the least."""
    import email

    from notnow.mailbox.imap import _quiet_imaplib  # imported before the clock starts

    started = time.perf_counter()
    cpu = time.process_time()
    client = server.client(user)
    if not trace:
        _quiet_imaplib(client)
    total = 0
    try:
        client.select_folder("INBOX", readonly=True)
        uids = sorted(client.search("ALL"))
        for start in range(0, len(uids), BATCH):
            response = client.fetch(uids[start : start + BATCH], ["BODY.PEEK[]"])
            total += sum(len(item[b"BODY[]"]) for item in response.values())
            if parse:
                for item in response.values():
                    email.message_from_bytes(item[b"BODY[]"])
    finally:
        client.logout()
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "messages": len(uids),
        "megabytes": total / 1e6,
    }


# -- notnow -------------------------------------------------------------------------------------


def write_bench_config(server: Any, user: str, home: Path) -> Path:
    return _common.write_config(
        home,
        server.host,
        server.port,
        user,
        server.password(user),
        extra_drafts=["max_per_day = 20"],
    )


def run_child(server: Any, user: str, home: Path, profile: Path | None) -> dict[str, Any]:
    config = write_bench_config(server, user, home)
    out = home / "result.json"
    command = [_common.PYTHON, str(Path(__file__).resolve()), "--child", str(config), str(out)]
    if profile is not None:
        command += ["--child-profile", str(profile)]
    measured = _common.run_measured(command)
    if measured.returncode != 0:
        print(measured.stdout, measured.stderr, sep="\n")
        raise SystemExit("the in-process notnow run failed")
    result: dict[str, Any] = json.loads(out.read_text())
    result["wall_seconds"] = measured.wall
    return result


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def child(config_path: Path, out: Path, profile: Path | None) -> int:
    """In a fresh process: load the model, then one pass; write figures as JSON."""
    started = time.perf_counter()
    from notnow import config as configuration
    from notnow.daemon import loop

    config = configuration.load(config_path)
    imported = time.perf_counter()
    loop.load_classifier(config)  # cached in-process: run_once below reuses it
    loaded = time.perf_counter()
    samples: list[tuple[float, int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            # With its parse worker, when it has one: the memory the pass costs.
            samples.append((time.perf_counter() - loaded, _common.tree_rss_kb(os.getpid())))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu = time.process_time()
    workers_cpu = _children_cpu()
    if profile is not None:
        import cProfile
        import io
        import pstats

        profiler = cProfile.Profile()
        reports = profiler.runcall(loop.run_once, config)
        stream = io.StringIO()
        stats = pstats.Stats(profiler, stream=stream)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)
        profile.write_text(stream.getvalue())
        profiler.dump_stats(profile.with_suffix(".pstats"))  # for callers/callees; not kept
    else:
        reports = loop.run_once(config)
    finished = time.perf_counter()
    cpu = time.process_time() - cpu
    worker_cpu = _children_cpu() - workers_cpu  # the parse worker, ended with the pass
    done.set()
    sampler.join()
    report = reports[0]
    if report.error:
        print(report.error, file=sys.stderr)
        return 1
    out.write_text(
        json.dumps(
            {
                "import_seconds": imported - started,
                "load_seconds": loaded - imported,
                "pass_seconds": finished - loaded,
                "pass_cpu_seconds": cpu + worker_cpu,
                "worker_cpu_seconds": worker_cpu,
                "fetched": report.fetched,
                "rejections": report.rejections,
                "drafts": len(report.drafts_saved),
                "deferred": len(report.drafts_deferred),
                "failed": len(report.failed),
                "vmhwm_kb": max([_common.status_kb("self", "VmHWM")] + [kb for _, kb in samples]),
                "rss_samples": samples,
            }
        )
    )
    return 0


# -- the report ---------------------------------------------------------------------------------


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    n = results["n"]
    baseline = min(run["seconds"] for run in results["baseline"])
    inproc = results["inprocess"]
    pass_seconds = inproc["pass_seconds"]
    ratio = pass_seconds / baseline
    rate = n / pass_seconds
    peak_mb = inproc["vmhwm_kb"] / 1024
    samples = inproc["rss_samples"]

    def rss_at(fraction: float) -> str:
        if not samples:
            return "-"
        index = min(len(samples) - 1, int(fraction * len(samples)))
        return f"{samples[index][1] / 1024:.0f}"

    fastest = min(results["baseline"], key=lambda run: run["seconds"])
    rows = [
        [
            "bare download (imapclient, BODY.PEEK[] x200, no trace)",
            f"{baseline:.1f}",
            f"{fastest['cpu_seconds']:.1f}",
            f"{n / baseline:,.0f}",
            "1.00",
            "-",
        ],
        [
            "notnow pass (run_once, in-process, model already loaded)",
            f"{pass_seconds:.1f}",
            f"{inproc['pass_cpu_seconds']:.1f}",
            f"{rate:,.0f}",
            f"{ratio:.2f}",
            f"{peak_mb:.0f}",
        ],
    ]
    traced = results.get("baseline_traced")
    if traced:
        rows.insert(
            1,
            [
                "bare download, imapclient defaults (imaplib trace on; the baseline until "
                "session 6)",
                f"{traced['seconds']:.1f}",
                f"{traced['cpu_seconds']:.1f}",
                f"{n / traced['seconds']:,.0f}",
                f"{traced['seconds'] / baseline:.2f}",
                "-",
            ],
        )
    parsed = results.get("baseline_parsed")
    if parsed:
        rows.insert(
            1,
            [
                "bare download + stdlib parse of each message (compat32 message_from_bytes, "
                "one thread)",
                f"{parsed['seconds']:.1f}",
                f"{parsed['cpu_seconds']:.1f}",
                f"{n / parsed['seconds']:,.0f}",
                f"{parsed['seconds'] / baseline:.2f}",
                "-",
            ],
        )
    if "cli" in results:
        cli = results["cli"]
        rows.append(
            [
                "`notnow run --once` (CLI, end to end incl. start-up + model load)",
                f"{cli['seconds']:.1f}",
                f"{cli['cpu']:.1f}",
                f"{n / cli['seconds']:,.0f}",
                f"{cli['seconds'] / baseline:.2f}",
                f"{cli['maxrss_kb'] / 1024:.0f}",
            ]
        )
    table = _common.markdown_table(
        ["what", "seconds", "client CPU-s", "msg/s", "x baseline", "peak RSS MB"], rows
    )
    load = results["load"]
    lines = [
        f"### N = {n:,}",
        "",
        f"{n:,} messages, {load['megabytes']:.0f} MB, {load['big']} with a 0.5-5 MB "
        f"attachment, {load['rejections']} rejections. Baseline runs: "
        + ", ".join(f"{run['seconds']:.1f} s" for run in results["baseline"])
        + f" (downloaded {results['baseline'][0]['megabytes']:.0f} MB); the faster one is used.",
        "",
        table,
        "",
        f"notnow pass: fetched {inproc['fetched']:,}, failed {inproc['failed']}, "
        f"rejections {inproc['rejections']}, drafts saved {inproc['drafts']} "
        f"(+{inproc['deferred']} deferred by the daily cap of 20). Model load "
        f"{inproc['load_seconds']:.1f} s, imports {inproc['import_seconds']:.1f} s. "
        f"RSS during the pass at 10/50/90 % of its time: {rss_at(0.1)} / {rss_at(0.5)} / "
        f"{rss_at(0.9)} MB, peak {peak_mb:.0f} MB.",
        "",
        _common.markdown_table(
            ["target", "today", "status"],
            [
                [
                    "pass <= 2x bare download",
                    f"{ratio:.2f}x"
                    + (
                        f" ({pass_seconds / traced['seconds']:.2f}x the download with "
                        "imapclient's defaults)"
                        if traced
                        else ""
                    )
                    + (
                        f"; {pass_seconds / parsed['seconds']:.2f}x the download with a "
                        "stdlib parse of each message"
                        if parsed
                        else ""
                    ),
                    _common.verdict(ratio <= 2),
                ],
                [">= 1,000 msg/s", f"{rate:,.0f} msg/s", _common.verdict(rate >= 1000)],
                [
                    "peak RSS <= 250 MB (at 50,000)",
                    f"{peak_mb:.0f} MB at {n:,}",
                    _common.verdict(peak_mb <= 250),
                ],
            ],
        ),
    ]
    text = "\n".join(lines)
    print()
    print(text)
    _common.save_json(f"backlog-{n}", results)
    if not args.no_doc:
        _common.update_doc(f"backlog-{n}", text, "backlog")


if __name__ == "__main__":
    raise SystemExit(main())
