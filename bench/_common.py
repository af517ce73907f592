"""Shared plumbing for the benchmark scripts in bench/: paths, the model cache, a config
writer, measured subprocesses (wall time + peak RSS via wait4), /proc readers, a counting
TCP proxy, machine facts and the updater of docs/benchmarks.md.

It owns no measurement policy of its own: each script decides what it times and against
which baseline. It must never send traffic anywhere but 127.0.0.1, and it never touches
src/ or tests/ (the test Dovecot harness is imported from tests/dovecot.py, not copied).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
DOC = REPO / "docs" / "benchmarks.md"
PYTHON = sys.executable

if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

# One model cache for every bench run, so the bundled model is built once per corpus.
DEFAULT_CACHE = Path(os.environ.get("NOTNOW_CACHE_DIR") or "/tmp/notnow-bench-cache")
os.environ["NOTNOW_CACHE_DIR"] = str(DEFAULT_CACHE)
# Never pick up a user model or a user config from the machine running the bench; only
# the model ensure_model() pinned for this run (inherited by child processes).
os.environ["NOTNOW_MODEL"] = os.environ.get(
    "NOTNOW_BENCH_PINNED", str(DEFAULT_CACHE / "no-user-model.skops")
)
os.environ.pop("NOTNOW_CONFIG", None)


def child_env() -> dict[str, str]:
    """The environment notnow subprocesses run with: the shared model cache, and no user
    model but the one ``ensure_model`` pinned for this run."""
    env = os.environ.copy()
    env["NOTNOW_CACHE_DIR"] = str(DEFAULT_CACHE)
    env.pop("JOURNAL_STREAM", None)
    env.pop("NOTIFY_SOCKET", None)
    return env


def require_prepare() -> None:
    """Stop with a clear line while notnow.text.prepare (needed to classify) is missing."""
    from notnow import text

    if not hasattr(text, "prepare"):
        raise SystemExit(
            "notnow.text.prepare does not exist yet: nothing can be classified; "
            "run this benchmark once it lands"
        )


def ensure_model() -> float:
    """Build (or load) the bundled model in a subprocess, then pin it for this run.

    Others may change the corpus while a benchmark runs, which would make notnow rebuild
    the bundled model in the middle of a measurement. So the model of the corpus as it
    is now is saved to a file of this run and handed to every notnow process as
    ``NOTNOW_MODEL`` (loaded with the same ``model.load`` as the bundled one).
    Returns how long building/loading took.
    """
    import atexit

    started = time.perf_counter()
    pinned = DEFAULT_CACHE / f"pinned-{os.getpid()}.skops"
    # The child saves the very model it built: asking for bundled_path() afterwards
    # would name the model of a corpus that may have changed in between.
    subprocess.run(
        [
            PYTHON,
            "-c",
            "import sys; from pathlib import Path; from notnow.classifier import model; "
            "model.save(model.bundled(), Path(sys.argv[1]))",
            str(pinned),
        ],
        check=True,
        env=child_env(),
    )
    seconds = time.perf_counter() - started
    atexit.register(pinned.unlink, missing_ok=True)
    os.environ["NOTNOW_MODEL"] = os.environ["NOTNOW_BENCH_PINNED"] = str(pinned)
    return seconds


# -- configs --------------------------------------------------------------------------------


def write_config(
    home: Path,
    host: str,
    port: int,
    user: str,
    password: str,
    extra_account: Sequence[str] = (),
    extra_drafts: Sequence[str] = (),
) -> Path:
    """A notnow config for one IMAP account on loopback (plain IMAP, password in a file)."""
    home.mkdir(parents=True, exist_ok=True)
    password_file = home / "password"
    password_file.write_text(password + "\n", encoding="utf-8")
    lines = [
        "[[account]]",
        'name = "bench"',
        f'host = "{host}"',
        f"port = {port}",
        'security = "none"',
        f'username = "{user}"',
        f'password_command = "cat {password_file}"',
        'identity = "Alex Morgan <alex.morgan@example.org>"',
        "timeout = 60",
        *extra_account,
        "[daemon]",
        "since_days = 36500",
        f'state_dir = "{home / "state"}"',
        "[drafts]",
        *extra_drafts,
    ]
    path = home / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- processes ------------------------------------------------------------------------------


@dataclass
class Measured:
    returncode: int
    wall: float
    maxrss_kb: int
    user_cpu: float
    system_cpu: float
    stdout: str
    stderr: str


def run_measured(
    command: Sequence[str], env: dict[str, str] | None = None, timeout: float = 900
) -> Measured:
    """Run a command; wall time, and peak RSS/CPU of that process alone (os.wait4)."""
    out_path = Path(f"/tmp/notnow-bench-{os.getpid()}-{time.monotonic_ns()}")
    with open(f"{out_path}.out", "w+b") as out, open(f"{out_path}.err", "w+b") as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command), stdout=out, stderr=err, env=env or child_env(), stdin=subprocess.DEVNULL
        )
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.005)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    for suffix in (".out", ".err"):
        Path(f"{out_path}{suffix}").unlink(missing_ok=True)
    return Measured(
        process.returncode,
        wall,
        int(usage.ru_maxrss),
        usage.ru_utime,
        usage.ru_stime,
        stdout,
        stderr,
    )


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc/PID/stat (its own threads, not its children)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def status_kb(pid: int | str, key: str) -> int:
    """A ``kB`` line of /proc/PID/status (VmRSS, VmHWM, ...)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _processes() -> Iterator[tuple[int, str, list[str]]]:
    """(pid, comm, the /proc/PID/stat fields after comm) of every process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        yield int(entry.name), comm, text[text.rindex(")") + 2 :].split()


def children_of(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (e.g. notnow's parse worker)."""
    return [child for child, _, fields in _processes() if int(fields[1]) == pid]


def tree_rss_kb(pid: int) -> int:
    """VmRSS of a process plus that of its children (0 for one that just ended)."""
    total = status_kb(pid, "VmRSS")
    for child in children_of(pid):
        with contextlib.suppress(OSError):
            total += status_kb(child, "VmRSS")
    return total


def processes_in_group(pgid: int) -> list[tuple[int, str]]:
    """(pid, comm) of every process in a process group (to find Dovecot's children)."""
    return [(pid, comm) for pid, comm, fields in _processes() if int(fields[2]) == pgid]


def wait_for_line(path: Path, pattern: str, timeout: float, process: Any = None) -> float:
    """Wait until ``pattern`` (a regex) appears in the file; return when (perf_counter)."""
    regex = re.compile(pattern)
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        with contextlib.suppress(OSError):
            if regex.search(path.read_text(errors="replace")):
                return time.perf_counter()
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited ({process.returncode}) before {pattern!r}")
        time.sleep(0.02)
    raise TimeoutError(f"{pattern!r} did not appear in {path} within {timeout} s")


# -- a counting TCP proxy ----------------------------------------------------------------------


@dataclass
class Connection:
    accepted: float
    first_server_bytes: float | None = None
    first_client_bytes: float | None = None
    client_bytes: int = 0
    server_bytes: int = 0
    client_lines: list[tuple[float, bytes]] = field(default_factory=list)


class Proxy:
    """Forwards 127.0.0.1:port to a target, timestamping and counting what passes.

    Each client line is recorded (timestamp, first 40 bytes) so a benchmark can tell when
    the first IMAP command arrived and count commands; message bodies are never stored.
    """

    def __init__(self, target: tuple[str, int], keep_lines: bool = True) -> None:
        self.target = target
        self.keep_lines = keep_lines
        self.connections: list[Connection] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            record = Connection(time.perf_counter())
            self.connections.append(record)
            threading.Thread(target=self._pump, args=(client, record), daemon=True).start()

    def _pump(self, client: socket.socket, record: Connection) -> None:
        server = socket.create_connection(self.target)
        pending = b""
        with client, server:
            while not self._stop.is_set():
                readable, _, _ = select.select([client, server], [], [], 0.2)
                for sock in readable:
                    data = sock.recv(65536)
                    now = time.perf_counter()
                    if not data:
                        return
                    if sock is client:
                        if record.first_client_bytes is None:
                            record.first_client_bytes = now
                        record.client_bytes += len(data)
                        if self.keep_lines:
                            pending += data
                            while b"\r\n" in pending:
                                line, pending = pending.split(b"\r\n", 1)
                                record.client_lines.append((now, line[:40]))
                            pending = pending[-4096:]
                        server.sendall(data)
                    else:
                        if record.first_server_bytes is None:
                            record.first_server_bytes = now
                        record.server_bytes += len(data)
                        client.sendall(data)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._thread.join(timeout=2)


# -- reporting ----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = status_line("/proc/meminfo", "MemTotal")
    dovecot = subprocess.run(
        ["/usr/sbin/dovecot", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    versions = []
    for package in ("scikit-learn", "numpy", "scipy", "IMAPClient", "mail-parser", "py3langid"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{package} {metadata.version(package)}")
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "dovecot": dovecot or "not found",
        "libraries": ", ".join(versions),
    }


def status_line(path: str, key: str) -> str:
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            if line.startswith(key + ":"):
                kb = int(line.split()[1])
                return f"{kb / 1024 / 1024:.1f} GiB"
    return "unknown"


def git_commit() -> str:
    result = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    commit = result.stdout.strip() or "unknown"
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split("\n")
    changed = sorted({line[3:].strip() for line in dirty if line.strip()})
    if changed:
        commit += " + uncommitted changes in " + ", ".join(changed[:6])
    return commit


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def update_doc(section: str, body: str, script: str | None = None) -> None:
    """Replace the generated block ``section`` of docs/benchmarks.md (or append it)."""
    script = script or section
    start = f"<!-- bench:{section}:start -->"
    end = f"<!-- bench:{section}:end -->"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = (
        f"{start}\n_Generated by `bench/{script}.py` on {stamp}, commit {git_commit()}; "
        "load average (1/5/15 min) then "
        + "/".join(f"{value:.1f}" for value in os.getloadavg())
        + f" on {os.cpu_count()} CPUs._\n\n"
        f"{body.strip()}\n{end}"
    )
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")


def save_json(name: str, data: dict[str, Any]) -> Path:
    """Raw figures of the last run, next to the scripts (bench/results/NAME.json)."""
    folder = REPO / "bench" / "results"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.json"
    data = {"machine": machine(), "commit": git_commit(), **data}
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 30 values is the 29th smallest)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, int(-(-fraction * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]
