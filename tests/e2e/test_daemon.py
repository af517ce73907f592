"""`notnow run` as a service, against a real Dovecot.

- IDLE picks up new mail, and SIGTERM ends the daemon cleanly within 5 s.
- IDLE on every watched folder (an IDLE-only connection per extra folder), also after
  the server went away and came back.
- SIGHUP reloads the config; a broken one is refused with one error and the daemon goes
  on with the config it had.
- `notnow status` shows the live watcher: running or not, idle / backing off and why,
  since when, the last contact with the server.

The daemon runs as a subprocess, the way systemd runs it. A small model trained on mail
shaped like this file's stands in for the bundled one: these tests are about the watcher,
and the bundled model takes tens of seconds to load (longer when its corpus changes).
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_runner import notnow, write_config
from daemon_helpers import Daemon, rejection, wait_for
from dovecot import Dovecot

pytestmark = pytest.mark.dovecot

# Shaped like the small model's training mail (daemon_helpers): the watcher is under test.
REJECTION = rejection("Initrode", "Analyst")[1]


def configure(
    home: Path,
    server: Dovecot,
    user: str,
    model: Path,
    folders: tuple[str, ...] = ("INBOX",),
    daemon: str = "",
    drafts: str = "",
) -> Path:
    """A config for ``user``; ``daemon`` and ``drafts``: extra lines for those tables."""
    listed = ", ".join(f'"{folder}"' for folder in folders)
    config = write_config(home, server, user, folders=f"[{listed}]")
    with config.open("a", encoding="utf-8") as out:
        out.write(daemon + "\n")  # write_config ends in [daemon]
        out.write(f"[drafts]\n{drafts}\n")
        out.write(f'[classifier]\nmodel = "{model}"\n')
    return config


# -- the daemon ---------------------------------------------------------------------------------


def start(config: Path, daemons: list[Daemon], waiting: str = "] idle") -> Daemon:
    daemon = Daemon(config)
    daemons.append(daemon)
    daemon.wait_for_log(waiting)
    return daemon


def draft_sources(server: Dovecot, user: str) -> list[str]:
    """The X-Notnow-Source of every draft in Drafts (unfolded)."""
    found = []
    for _, raw, _ in server.messages(user, "Drafts"):
        match = re.search(rb"^X-Notnow-Source:((?:.*\r?\n[ \t].*)*.*)$", raw, re.MULTILINE)
        assert match is not None, raw[:500]
        found.append(" ".join(match.group(1).decode().split()))
    return found


def status(config: Path) -> str:
    result = notnow("status", "--config", str(config), timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def seconds_ago(text: str, what: str) -> int:
    """From `status` output: how many seconds ago ``what`` ("last contact") was."""
    match = re.search(rf"{what} \S+ \S+ \((\d+) (s|min|h|days) ago\)", text)
    assert match is not None, f"no {what!r} in:\n{text}"
    factor = {"s": 1, "min": 60, "h": 3600, "days": 86400}[match.group(2)]
    return int(match.group(1)) * factor


# -- the tests ------------------------------------------------------------------------------------


def test_idle_drafts_new_mail_and_sigterm_stops_within_5s(
    home: Path, dovecot: Dovecot, small_model: Path, daemons: list[Daemon]
) -> None:
    user = dovecot.add_user()
    daemon = start(configure(home, dovecot, user, small_model), daemons)
    time.sleep(1.0)
    dovecot.deliver(user, "INBOX", REJECTION)
    assert wait_for(lambda: len(dovecot.messages(user, "Drafts")) == 1, 30), (
        f"the new rejection got no draft\n{daemon.log}"
    )
    started = time.monotonic()
    daemon.process.send_signal(signal.SIGTERM)
    code = daemon.process.wait(timeout=10)
    assert time.monotonic() - started < 5.0
    assert code == 0
    daemon.stop()
    assert "Traceback" not in daemon.log
    assert dovecot.password(user) not in daemon.log


def test_idle_on_every_watched_folder(
    home: Path, dovecot: Dovecot, small_model: Path, daemons: list[Daemon]
) -> None:
    user = dovecot.add_user()
    dovecot.create_folder(user, "Jobs")
    # An hour between polls: only IDLE on Jobs can bring its mail in within seconds.
    config = configure(
        home, dovecot, user, small_model, ("INBOX", "Jobs"), daemon="poll_interval = 3600"
    )
    daemon = start(config, daemons)
    assert daemon.count("] idle (IDLE on INBOX, Jobs)") == 1, daemon.log
    assert daemon.count("logged in to") == 2, "one connection per watched folder"

    took = []
    for folder, company in (("Jobs", "Globex"), ("INBOX", "Initech"), ("Jobs", "Hooli")):
        message_id, raw = rejection(company, "Analyst")
        delivered = time.monotonic()
        dovecot.deliver(user, folder, raw)
        assert wait_for(lambda m=message_id: m in draft_sources(dovecot, user), 10), (
            f"no draft within 10 s for mail delivered to {folder}\n{daemon.log}"
        )
        took.append(time.monotonic() - delivered)
    assert sorted(draft_sources(dovecot, user)) == sorted(set(draft_sources(dovecot, user)))
    assert len(draft_sources(dovecot, user)) == 3
    assert "polling" not in daemon.log
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.log
    print(f"arrival to draft: {', '.join(f'{t:.2f} s' for t in took)}")  # noqa: T201


def test_a_server_without_idle_is_polled(
    home: Path,
    dovecot_factory: Callable[..., Dovecot],
    small_model: Path,
    daemons: list[Daemon],
) -> None:
    server = dovecot_factory(idle=False)
    user = server.add_user()
    config = configure(home, server, user, small_model, daemon="poll_interval = 5")
    daemon = start(config, daemons, waiting="] polling every 5 s")
    assert "watcher: polling (every 5 s) since" in status(config)
    message_id, raw = rejection("Wayne", "Designer")
    server.deliver(user, "INBOX", raw)
    assert wait_for(lambda: draft_sources(server, user) == [message_id], 30), daemon.log
    assert daemon.count("] polling every 5 s") == 1, "one line per change, not per poll"
    assert daemon.stop() == 0


def test_every_folder_idles_again_after_the_server_was_down(
    home: Path, private_dovecot: Dovecot, small_model: Path, daemons: list[Daemon]
) -> None:
    server = private_dovecot
    user = server.add_user()
    server.create_folder(user, "Jobs")
    config = configure(
        home, server, user, small_model, ("INBOX", "Jobs"), daemon="poll_interval = 3600"
    )
    daemon = start(config, daemons)
    server.stop()
    time.sleep(3.0)
    server.start()
    daemon.wait_for_log("] connected", 2, timeout=60)
    daemon.wait_for_log("logged in to", 4, timeout=30)  # both connections again
    message_id, raw = rejection("Vandelay", "Tester")
    server.deliver(user, "Jobs", raw)
    assert wait_for(lambda: draft_sources(server, user) == [message_id], 30), daemon.log
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.log


def test_sighup_reloads_the_config_and_keeps_the_old_one_when_broken(
    home: Path, dovecot: Dovecot, small_model: Path, daemons: list[Daemon]
) -> None:
    user = dovecot.add_user()
    waiting_id, waiting = rejection("Umbrella", "Designer")
    dovecot.deliver(user, "Jobs", waiting)  # in a folder not watched yet
    config = configure(home, dovecot, user, small_model, ("INBOX",))
    daemon = start(config, daemons)
    time.sleep(1.0)
    assert draft_sources(dovecot, user) == []

    # A folder added and a keyword for rejections: both take effect without a restart.
    configure(
        home, dovecot, user, small_model, ("INBOX", "Jobs"), drafts='rejection_keyword = "$Job"'
    )
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_for_log("configuration reloaded", timeout=60)
    assert wait_for(lambda: draft_sources(dovecot, user) == [waiting_id], 30), daemon.log
    [(uid, _, flags)] = dovecot.messages(user, "Jobs")
    assert "$Job" in flags, flags
    daemon.wait_for_log("] idle (IDLE on INBOX, Jobs)")

    # A broken config: one clear error naming the problem; the daemon goes on as it was.
    good = config.read_text(encoding="utf-8")
    config.write_text(good.replace("[daemon]", "[daemon]\npoll_interval = 1"), encoding="utf-8")
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_for_log("configuration not reloaded", timeout=30)
    time.sleep(1.0)
    assert daemon.process.poll() is None, daemon.log
    assert daemon.count("configuration not reloaded") == 1, daemon.log
    assert "daemon.poll_interval: must be seconds >= 5, got 1" in daemon.log
    assert daemon.count("configuration reloaded") == 1
    later_id, later = rejection("Stark", "SRE")
    dovecot.deliver(user, "Jobs", later)  # still watched, still tagged: the reloaded config
    assert wait_for(lambda: later_id in draft_sources(dovecot, user), 30), daemon.log
    assert all("$Job" in flags for _, _, flags in dovecot.messages(user, "Jobs"))
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.log


def test_status_shows_the_live_watcher(
    home: Path, private_dovecot: Dovecot, small_model: Path, daemons: list[Daemon]
) -> None:
    server = private_dovecot
    user = server.add_user()
    config = configure(home, server, user, small_model)
    assert status(config).startswith("daemon: never run")
    daemon = start(config, daemons)

    shown = status(config)
    assert f"daemon: running (pid {daemon.process.pid}," in shown, shown
    assert "watcher: idle (IDLE on INBOX) since" in shown, shown
    assert seconds_ago(shown, "last contact") < 60, shown

    server.stop()
    shown = ""

    def backing_off() -> bool:
        nonlocal shown
        shown = status(config)
        return "refused the connection" in shown

    assert wait_for(backing_off, 60), daemon.log
    assert "daemon: running" in shown, shown
    assert re.search(r"watcher: backing off until .*\(after error: .*refused the connection", shown)

    server.start()
    assert wait_for(lambda: "watcher: idle" in status(config), 60), daemon.log
    assert daemon.stop() == 0
    shown = status(config)
    assert "daemon: not running, last seen" in shown, shown
    assert "watcher: stopped" in shown, shown
    assert seconds_ago(shown, "last seen") < 60, shown

    # Killed without a word: the pid it left is dead, so it is not running either.
    daemon = start(config, daemons)
    assert f"(pid {daemon.process.pid}," in status(config)
    daemon.process.kill()
    daemon.process.wait(timeout=10)
    shown = status(config)
    assert "daemon: not running, last seen" in shown, shown
    assert "watcher: not running (last state: idle (IDLE on INBOX)" in shown, shown
