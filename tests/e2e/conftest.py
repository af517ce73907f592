"""End-to-end fixtures: notnow run as a user would, as a subprocess, with isolated dirs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_helpers import Daemon


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One bundled-model build per session, shared by in-process and subprocess runs."""
    cache = tmp_path_factory.mktemp("notnow-cache")
    previous = os.environ.get("NOTNOW_CACHE_DIR")
    os.environ["NOTNOW_CACHE_DIR"] = str(cache)
    yield cache
    if previous is None:
        os.environ.pop("NOTNOW_CACHE_DIR", None)
    else:
        os.environ["NOTNOW_CACHE_DIR"] = previous


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME and XDG dirs, so no test reads or writes the real user's files."""
    for variable, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_DATA_HOME", "data"),
    ):
        monkeypatch.setenv(variable, str(tmp_path / sub))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("NOTNOW_CONFIG", raising=False)
    monkeypatch.delenv("NOTNOW_MODEL", raising=False)
    return tmp_path


@pytest.fixture(scope="session")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model that loads in a second, for tests about the watcher (see daemon_helpers)."""
    from daemon_helpers import train_small_model

    return train_small_model(tmp_path_factory.mktemp("model") / "small.skops")


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    """`notnow run` subprocesses a test starts; each is stopped when the test ends."""
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.stop()
