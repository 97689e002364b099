"""LDAPS and StartTLS with a CA file, against a real slapd serving a test CA's certificate."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accessward.connectors.errors import ConnectorError
from accessward.connectors.ldap import LdapSource, LdapSourceConfig
from accessward.sandbox.slapd import SlapdServer, generate_people, people_ldif
from accessward.sandbox.tls import TestCA
from tests.conftest import need_service


@pytest.fixture(scope="module")
def ca() -> Iterator[TestCA]:
    with TestCA() as authority:
        yield authority


@pytest.fixture(scope="module")
def tls_slapd(ca: TestCA) -> Iterator[SlapdServer]:
    need_service("slapd")
    files = (ca.files.ca_file, ca.files.cert_file, ca.files.key_file)
    with SlapdServer(tls_files=files) as server:
        server.start(people_ldif(generate_people(30)))
        yield server


def source(server: SlapdServer, url: str, ca_file: str, *, start_tls: bool = False) -> LdapSource:
    return LdapSource(LdapSourceConfig(name="tls", url=url, base_dn=server.base_dn, bind_dn=server.bind_dn,
                                       password=server.password, ca_file=ca_file, start_tls=start_tls))


def test_ldaps_with_the_ca_file(tls_slapd: SlapdServer, ca: TestCA) -> None:
    assert len(list(source(tls_slapd, tls_slapd.ldaps_url, str(ca.ca_file)).list_people())) == 30


def test_start_tls_with_the_ca_file(tls_slapd: SlapdServer, ca: TestCA) -> None:
    assert len(list(source(tls_slapd, tls_slapd.url, str(ca.ca_file), start_tls=True).list_people())) == 30


def test_a_certificate_from_another_ca_is_refused(tls_slapd: SlapdServer) -> None:
    with TestCA() as other, pytest.raises(ConnectorError):
        list(source(tls_slapd, tls_slapd.ldaps_url, str(other.ca_file)).list_people())
