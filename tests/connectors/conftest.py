"""Connector fixtures: a real Active Directory (a throwaway Samba AD DC), started once per session.

Like every real service in the tests, a missing Samba skips locally and FAILS when ``CI=true``
(``need_service`` in tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accessward.sandbox.samba_ad import SambaADServer, samba_available
from tests.conftest import INSTALL_HINTS, need_service

INSTALL_HINTS.setdefault(
    "samba", "as root: apt-get install -y --no-install-recommends samba samba-ad-dc samba-ad-provision"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "samba: needs a real Samba AD domain controller (root)")


@pytest.fixture(scope="session")
def samba_dc() -> Iterator[SambaADServer]:
    """A freshly provisioned, running Samba AD DC on 127.0.0.1:389 (one per machine: fixed port)."""
    need_service("samba", samba_available())
    with SambaADServer() as dc:
        dc.start()
        yield dc
