"""Run the notnow CLI as a subprocess, the way a user does (shared by e2e tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dovecot import Dovecot


def notnow(
    *args: str, check: bool = False, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the installed CLI the way a user does."""
    result = subprocess.run(
        [sys.executable, "-m", "notnow", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"notnow {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def write_config(home: Path, server: Dovecot, user: str, **extra: str) -> Path:
    password_file = home / "password"
    password_file.write_text(server.password(user) + "\n", encoding="utf-8")
    lines = [
        "[[account]]",
        'name = "test"',
        f'host = "{server.host}"',
        f"port = {extra.pop('port', server.port)}",
        f'security = "{extra.pop("security", "none")}"',
        f'username = "{user}"',
        f'password_command = "cat {password_file}"',
        'identity = "Alex Morgan <alex.morgan@example.org>"',
        "timeout = 10",
    ]
    lines += [f"{key} = {value}" for key, value in extra.items()]
    lines += ["[daemon]", "since_days = 36500", f'state_dir = "{home / "state"}"']
    path = home / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
