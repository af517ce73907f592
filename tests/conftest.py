"""Shared fixtures: a real Dovecot started by the suite (see tests/dovecot.py).

One session-scoped server serves most tests; each test gets a fresh user, which is all
the isolation IMAP tests need. Variants (other Drafts layouts, no IDLE) are started on
first use and shared for the session; tests that restart a server get a private one.
Every server is stopped at the end of the session, whether the tests passed or not.

Without Dovecot the IMAP tests skip with a message, except under CI (``$CI`` set), where
they fail: CI must run them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from dovecot import DRAFTS_SPECIAL, Dovecot, DovecotUnavailableError, dovecot_version

DovecotFactory = Callable[..., Dovecot]


def require_dovecot() -> None:
    """Skip (or, under CI, fail) when no usable Dovecot is installed."""
    try:
        dovecot_version()
    except DovecotUnavailableError as e:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the IMAP tests, but: {e}", pytrace=False)
        pytest.skip(f"IMAP tests need a real Dovecot: {e}")


@pytest.fixture(scope="session")
def dovecot_servers() -> Iterator[dict[tuple[str, bool], Dovecot]]:
    servers: dict[tuple[str, bool], Dovecot] = {}
    try:
        yield servers
    finally:
        for server in servers.values():
            server.cleanup()


@pytest.fixture(scope="session")
def dovecot_factory(dovecot_servers: dict[tuple[str, bool], Dovecot]) -> DovecotFactory:
    """``dovecot_factory(drafts="gmail", idle=False)``: a started, shared server variant."""

    def factory(drafts: str = DRAFTS_SPECIAL, idle: bool = True) -> Dovecot:
        require_dovecot()
        key = (drafts, idle)
        server = dovecot_servers.get(key)
        if server is None:
            server = Dovecot(drafts=drafts, idle=idle)
            dovecot_servers[key] = server
            server.start()
        return server

    return factory


@pytest.fixture
def dovecot(dovecot_factory: DovecotFactory) -> Dovecot:
    """The shared default server: Drafts with the \\Drafts flag, IDLE offered."""
    return dovecot_factory()


@pytest.fixture
def dovecot_user(dovecot: Dovecot) -> str:
    """A fresh user on the shared server (its password: ``dovecot.password(user)``)."""
    return dovecot.add_user()


@pytest.fixture
def private_dovecot() -> Iterator[Dovecot]:
    """A server of this test's own, for tests that stop or restart it."""
    require_dovecot()
    server = Dovecot()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()
