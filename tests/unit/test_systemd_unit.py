"""The systemd user unit verifies, and keeps the promises the README makes about it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "notnow.service"


def test_unit_declares_notify_watchdog_and_restart() -> None:
    text = UNIT.read_text(encoding="utf-8")
    for line in (
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "ExecReload=",
        "LoadCredential=",
        "WantedBy=default.target",
    ):
        assert line in text
    lines = text.splitlines()
    hardening = (
        "NoNewPrivileges",
        "PrivateTmp",
        "ProtectSystem",
        "ProtectKernel",
        "RestrictAddressFamilies",
        "RestrictNamespaces",
        "MemoryDenyWriteExecute",
    )
    for index, line in enumerate(lines):
        if line.startswith(hardening):
            assert lines[index - 1].startswith("#"), f"{line} has no comment saying why"


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI"):
            pytest.fail("CI must verify the unit: install systemd (systemd-analyze)")
        pytest.skip("systemd-analyze is not installed")
    notnow = Path(sys.executable).with_name("notnow")
    unit = tmp_path / "notnow.service"
    unit.write_text(
        UNIT.read_text(encoding="utf-8").replace("%h/.local/bin/notnow", str(notnow)),
        encoding="utf-8",
    )
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    result = subprocess.run(
        [analyze, "--user", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
    )
    problems = [line for line in result.stderr.splitlines() if "notnow.service" in line]
    assert result.returncode == 0 and not problems, result.stderr
