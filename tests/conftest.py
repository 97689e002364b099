"""Shared fixtures: a real slapd and a real PostgreSQL, started once per session.

When a service is not installed, a test that needs it is skipped on a workstation but FAILS when
``CI=true``: in CI a missing service is a broken pipeline, never a silent skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from accessward.sandbox.postgres import PostgresServer, postgres_available
from accessward.sandbox.slapd import SlapdServer, slapd_available

# The store fixtures (``engine``: SQLite and PostgreSQL, ``sqlite_engine``) live in tests/engines.py.
pytest_plugins = ("tests.engines",)

INSTALL_HINTS = {
    "slapd": "DEBIAN_FRONTEND=noninteractive apt-get install -y slapd ldap-utils",
    "postgresql": "apt-get install -y postgresql (binaries in /usr/lib/postgresql/<version>/bin)",
    "chromium": "apt-get install -y chromium chromium-driver (scripts/system-deps.sh test)",
    "systemd-analyze": "apt-get install -y systemd (scripts/system-deps.sh test)",
}


AVAILABLE: dict[str, Callable[[], bool]] = {"slapd": slapd_available, "postgresql": postgres_available}


def need_service(name: str, available: bool | None = None) -> None:
    """Skip (locally) or fail (when CI=true) a test whose service ``name`` is not installed."""
    if available is None:
        available = AVAILABLE[name]()
    if available:
        return
    message = f"{name} is not installed ({INSTALL_HINTS.get(name, 'install it')})"
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true and {message}: a test needing a service fails in CI, it never skips")
    pytest.skip(f"{message}; skipped locally only: with CI=true this test fails")


SlapdFactory = Callable[..., SlapdServer]


@pytest.fixture(scope="session")
def slapd_factory() -> Iterator[SlapdFactory]:
    """``start(ldif=None, **SlapdServer kwargs) -> SlapdServer``: a seeded, running slapd.

    Every server started through it is stopped at the end of the session (a test may stop its
    own earlier, e.g. to see what a client does when the server is down).
    """
    need_service("slapd")
    servers: list[SlapdServer] = []

    def start(ldif: str | os.PathLike[str] | None = None, **kwargs: Any) -> SlapdServer:
        server = SlapdServer(**kwargs)
        servers.append(server)
        return server.start(ldif)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL cluster for the whole session."""
    need_service("postgresql")
    with PostgresServer(database="accessward_test") as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """SQLAlchemy URL of the session's database (shared by every test that uses it)."""
    return postgres_server.url


@pytest.fixture
def pg_database(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database for one test; yields its SQLAlchemy URL and drops it afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    """`accessward` commands run in-process (CliRunner) set httpx/httpcore to WARNING for the rest of the
    process; each test starts from the libraries' own levels again (and an empty secret registry), so an
    assertion never depends on which test ran before it."""
    import logging

    names = ("httpx", "httpcore", "hpack")
    for name in names:
        logging.getLogger(name).setLevel(logging.NOTSET)
    # the scrubber's registry is process-wide: a test whose fake token is a word ("expired") must not make
    # the next test's error messages lose that word
    from accessward.connectors import scrub

    scrub.forget_all()
    yield
    for name in names:
        logging.getLogger(name).setLevel(logging.NOTSET)
