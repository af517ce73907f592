"""What the watching daemon costs while nothing happens: CPU, memory, IMAP chatter.

Method: a Dovecot on 127.0.0.1 (tests/dovecot.py) with 50 ordinary messages in INBOX;
the daemon (``python -m notnow -v run``) connects through a small counting TCP proxy in
this script, reads the backlog, and is left until its log says it is idle. Then for M
minutes (default 3) nothing is delivered. Measured over that window:

- the daemon's CPU seconds, utime + stime of /proc/PID/stat (all its threads),
  extrapolated per hour; its VmRSS at the end and VmHWM (peak);
- the Dovecot ``imap`` process serving it (CPU seconds per hour, from /proc);
- IMAP commands per hour sent by the daemon (lines counted by the proxy).

Baseline from the same window: a bare imapclient process holding one IDLE for the whole
M minutes (the RFC 2177 way: one IDLE, renewed every 29 minutes), on its own connection
through the same proxy. Target (issue): < 1 CPU-second per hour.

    /work/venv/bin/python bench/idle_cost.py             # 3 minutes
    /work/venv/bin/python bench/idle_cost.py --minutes 10
    /work/venv/bin/python bench/idle_cost.py --folders 3   # INBOX + 2 more: one IDLE each

With ``--folders N`` the daemon watches INBOX and N-1 empty folders, each with its own
IDLE (and connection); the baseline stays one bare IDLE.
"""

from __future__ import annotations

import argparse
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

BARE_IDLE = """
import sys, time
from imapclient import IMAPClient
client = IMAPClient("127.0.0.1", int(sys.argv[1]), ssl=False, timeout=60)
client.login(sys.argv[2], sys.argv[3])
client.select_folder("INBOX", readonly=True)
client.idle()
print("idling", flush=True)
deadline = time.monotonic() + float(sys.argv[4])
while time.monotonic() < deadline:
    client.idle_check(timeout=min(29 * 60, max(0.1, deadline - time.monotonic())))
client.idle_done()
client.logout()
"""


def main() -> int:
    parser = argparse.ArgumentParser(
        description="CPU, RSS and IMAP commands of the idle daemon over M minutes",
        epilog="Figures go to docs/benchmarks.md (section idle_cost) unless --no-doc.",
    )
    parser.add_argument("--minutes", type=float, default=3.0, help="M (default 3)")
    parser.add_argument("--no-doc", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument(
        "--folders", type=int, default=1, help="watched folders, INBOX first (default 1)"
    )
    args = parser.parse_args()
    _common.require_prepare()

    from dovecot import Dovecot

    print(f"model ready in {_common.ensure_model():.1f} s")
    work = Path(tempfile.mkdtemp(prefix="notnow-bench-idle-"))
    server = Dovecot()
    server.start()
    proxy = _common.Proxy((server.host, server.port))
    daemon: subprocess.Popen[bytes] | None = None
    bare: subprocess.Popen[bytes] | None = None
    try:
        user = server.add_user("bench")
        client = server.client(user)
        for generated in _mailgen.generate(50, seed=3, rejection_rate=0.0, big_rate=0.0, pool=50):
            client.append("INBOX", generated.raw)
        folders = ["INBOX"] + [f"Watched{index}" for index in range(1, args.folders)]
        for folder in folders[1:]:
            client.create_folder(folder)
        client.logout()
        listed = ", ".join(f'"{folder}"' for folder in folders)
        config = _common.write_config(
            work,
            server.host,
            proxy.port,
            user,
            server.password(user),
            extra_account=[f"folders = [{listed}]"],
        )
        log = work / "daemon.log"
        with log.open("wb") as handle:
            daemon = subprocess.Popen(
                [_common.PYTHON, "-m", "notnow", "-v", "run", "--config", str(config)],
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=_common.child_env(),
            )
        _common.wait_for_line(log, r"\] idle", 900, daemon)
        daemon_connections = len(proxy.connections)
        seconds = args.minutes * 60
        bare = subprocess.Popen(
            [_common.PYTHON, "-c", BARE_IDLE, str(proxy.port), user, server.password(user),
             str(seconds + 30)],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        assert bare.stdout is not None
        bare.stdout.readline()  # "idling"
        time.sleep(2)  # let both settle
        imap_before = imap_processes(server)
        lines_before = command_count(proxy)
        start_cpu = _common.cpu_seconds(daemon.pid)
        bare_cpu = _common.cpu_seconds(bare.pid)
        started = time.perf_counter()
        print(f"daemon idle; watching for {args.minutes:g} minute(s)")
        while time.perf_counter() - started < seconds:
            time.sleep(min(30.0, seconds - (time.perf_counter() - started)))
            elapsed = time.perf_counter() - started
            used = _common.cpu_seconds(daemon.pid) - start_cpu
            print(f"  {elapsed:5.0f} s: daemon {used:.2f} CPU-s ({used / elapsed * 3600:.1f}/h)")
        elapsed = time.perf_counter() - started
        used = _common.cpu_seconds(daemon.pid) - start_cpu
        bare_used = _common.cpu_seconds(bare.pid) - bare_cpu
        imap_after = imap_processes(server)
        lines_after = command_count(proxy)
        result = {
            "folders": folders,
            "minutes": elapsed / 60,
            "daemon_cpu": used,
            "bare_cpu": bare_used,
            "rss_kb": _common.status_kb(daemon.pid, "VmRSS"),
            "hwm_kb": _common.status_kb(daemon.pid, "VmHWM"),
            "server_cpu": {pid: imap_after[pid] - imap_before.get(pid, 0.0) for pid in imap_after},
            "daemon_commands": sum(
                lines_after[i] - lines_before.get(i, 0) for i in range(daemon_connections)
            ),
            "bare_commands": sum(
                lines_after[i] - lines_before.get(i, 0)
                for i in lines_after
                if i >= daemon_connections
            ),
            "daemon_connections": daemon_connections,
        }
    finally:
        for process in (daemon, bare):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
        proxy.close()
        server.cleanup()
    report(result, args)
    return 0


def imap_processes(server: Any) -> dict[int, float]:
    """CPU seconds of each Dovecot ``imap`` process (one per logged-in connection)."""
    group = server._process.pid  # the harness starts Dovecot in its own process group
    return {
        pid: _common.cpu_seconds(pid)
        for pid, name in _common.processes_in_group(group)
        if name == "imap"
    }


def command_count(proxy: _common.Proxy) -> dict[int, int]:
    return {index: len(c.client_lines) for index, c in enumerate(proxy.connections)}


def report(result: dict[str, Any], args: Any) -> None:
    hours = result["minutes"] / 60
    per_hour = result["daemon_cpu"] / hours
    bare_per_hour = result["bare_cpu"] / hours
    server_total = sum(result["server_cpu"].values()) / hours
    rows = [
        [
            "bare imapclient, one IDLE held",
            f"{bare_per_hour:.2f}",
            "-",
            f"{result['bare_commands'] / hours:,.0f}",
        ],
        [
            f"`notnow run` (watching {', '.join(result['folders'])} with IDLE)",
            f"{per_hour:.2f}",
            f"{result['rss_kb'] / 1024:.0f} (peak {result['hwm_kb'] / 1024:.0f})",
            f"{result['daemon_commands'] / hours:,.0f}",
        ],
    ]
    lines = [
        f"Idle for {result['minutes']:.1f} min after reading a 50-message INBOX. CPU-s/hour "
        "is extrapolated from the window. Dovecot's imap processes (the daemon's and the "
        f"bare client's) used {server_total:.2f} CPU-s/hour together.",
        "",
        _common.markdown_table(["process", "CPU-s/hour", "RSS MB", "IMAP commands/hour"], rows),
        "",
        _common.markdown_table(
            ["target", "today", "status"],
            [["idle < 1 CPU-s/hour", f"{per_hour:.2f} CPU-s/hour", _common.verdict(per_hour < 1)]],
        ),
    ]
    text = "\n".join(lines)
    print()
    print(text)
    _common.save_json("idle_cost", result)
    if not args.no_doc:
        _common.update_doc("idle_cost", text)


if __name__ == "__main__":
    raise SystemExit(main())
