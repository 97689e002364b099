"""The LDAP identity source against a real slapd (sandbox.slapd via the slapd_factory fixture)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from ldap3 import BASE, Connection, Server

from accessward.connectors.errors import AuthError, MalformedResponseError, StopError, TransientError
from accessward.connectors.ldap import (
    ACTIVE_DIRECTORY,
    OPENLDAP,
    LdapSource,
    LdapSourceConfig,
    escape_filter_chars,
    filetime_to_datetime,
)
from accessward.connectors.protocols import IdentitySource
from accessward.connectors.records import PersonKind, PersonRecord, PersonStatus
from accessward.sandbox.slapd import (
    SeedPerson,
    SlapdServer,
    filetime,
    generate_people,
    ldif_entry,
    people_ldif,
    write_people_ldif,
)

pytestmark = pytest.mark.slapd

SlapdFactory = Callable[..., SlapdServer]  # the slapd_factory fixture (tests/conftest.py)

TODAY = datetime.now(UTC).date()


def source_for(server: SlapdServer, **overrides: object) -> LdapSource:
    settings: dict[str, object] = {
        "name": "corp-ldap",
        "url": server.url,
        "base_dn": server.base_dn,
        "bind_dn": server.bind_dn,
        "password": server.password,
    }
    settings.update(overrides)
    return LdapSource(LdapSourceConfig(**settings))  # type: ignore[arg-type]


def by_username(people: list[PersonRecord]) -> dict[str, PersonRecord]:
    return {p.username or "": p for p in people}


def entry_uuid(server: SlapdServer, dn: str) -> str:
    conn = Connection(Server(server.url), server.root_dn, server.root_password, auto_bind=True)
    conn.search(dn, "(objectClass=*)", BASE, attributes=["entryUUID"])
    value = str(conn.response[0]["attributes"]["entryUUID"])
    conn.unbind()
    return value


# ------------------------------------------------------------------------------------- OpenLDAP

OPENLDAP_PEOPLE = [
    SeedPerson(
        "bob",
        given_name="Bob",
        sn="Boss",
        display_name="Bob Boss",
        mail="bob@example.com",
        employee_number="E100",
        department="Marketing",
    ),
    SeedPerson(
        "alice",
        given_name="Alice",
        sn="Able",
        display_name="Alice Able",
        mail="alice@example.com",
        aliases=("a.able@example.com", "ALICE@example.com"),
        employee_number="E101",
        department="Brand",
        manager_uid="bob",
    ),
    SeedPerson("carol", sn="Cole", mail="carol@example.com", employee_type="Contractor", status="suspended"),
    SeedPerson("dave", sn="Dunn", mail="dave@example.com", employee_type="agency", status="terminated"),
    SeedPerson("erin", sn="Ede", mail="erin@example.com", expires=TODAY + timedelta(days=14)),
    SeedPerson("frank", sn="Fox", employee_type="former"),
    SeedPerson("gina", sn="Gray", extra={"pwdAccountLockedTime": ["20240101120000Z"]}),
    SeedPerson("hank", sn="Hill", manager_uid="nobody-here"),
]


@pytest.fixture(scope="module")
def openldap(slapd_factory: SlapdFactory) -> SlapdServer:
    return slapd_factory(people_ldif(OPENLDAP_PEOPLE))


def test_source_implements_the_protocol(openldap: SlapdServer) -> None:
    assert isinstance(source_for(openldap), IdentitySource)


def test_openldap_people_are_mapped(openldap: SlapdServer) -> None:
    people = by_username(list(source_for(openldap).list_people()))
    assert set(people) == {"alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank"}

    alice, bob = people["alice"], people["bob"]
    assert alice.source_key == entry_uuid(openldap, f"uid=alice,{openldap.people_dn}")
    uuid.UUID(alice.source_key)  # an entryUUID, not a DN
    assert alice.display_name == "Alice Able"
    assert alice.employee_id == "E101"
    assert alice.upn is None
    assert alice.emails == ("alice@example.com", "a.able@example.com")  # case-insensitive dedupe
    assert alice.kind is PersonKind.employee
    assert alice.status is PersonStatus.active
    assert alice.leave_date is None
    assert alice.department == "Brand"
    assert alice.manager_key == bob.source_key  # the manager DN resolved to an immutable key
    assert bob.manager_key is None

    assert people["carol"].kind is PersonKind.contractor  # case-insensitive kind map
    assert people["carol"].status is PersonStatus.suspended  # pwdAccountLockedTime 000001010000Z
    assert people["carol"].display_name == "Cole"  # cn (given name + sn) when displayName is absent

    dave = people["dave"]
    assert dave.kind is PersonKind.agency
    assert dave.status is PersonStatus.terminated  # shadowExpire in the past
    assert dave.leave_date == datetime.combine(TODAY - timedelta(days=30), datetime.min.time(), UTC)

    erin = people["erin"]
    assert erin.status is PersonStatus.active  # leaving, not gone
    assert erin.leave_date == datetime.combine(TODAY + timedelta(days=14), datetime.min.time(), UTC)

    assert people["frank"].status is PersonStatus.active  # no status map configured
    assert people["gina"].status is PersonStatus.active  # a failed-login lockout is not a suspension
    assert people["hank"].manager_key is None  # dangling manager DN


def test_status_attribute_value_map_and_lockout_option(openldap: SlapdServer) -> None:
    amap = OPENLDAP.replace(
        status_attribute="employeeType",
        status_values={"Former": PersonStatus.terminated, "on-leave": PersonStatus.suspended},
        lockout_is_suspension=True,
    )
    people = by_username(list(source_for(openldap, attribute_map=amap).list_people()))
    assert people["frank"].status is PersonStatus.terminated
    assert people["gina"].status is PersonStatus.suspended
    assert people["alice"].status is PersonStatus.active


def test_user_filter_with_escaped_value(openldap: SlapdServer) -> None:
    wanted = "alice"
    user_filter = f"(&(objectClass=inetOrgPerson)(uid={escape_filter_chars(wanted)}))"
    people = list(source_for(openldap, user_filter=user_filter).list_people())
    assert [p.username for p in people] == ["alice"]
    star = f"(&(objectClass=inetOrgPerson)(uid={escape_filter_chars('*')}))"
    assert list(source_for(openldap, user_filter=star).list_people()) == []


def test_entry_without_stable_key_fails_the_source(openldap: SlapdServer) -> None:
    # Keyed on employeeNumber, most seeded people have no key: the listing must fail, naming
    # the entry, rather than silently leave them out (they would look like leavers).
    amap = OPENLDAP.replace(key="employeeNumber")
    with pytest.raises(MalformedResponseError, match=r"uid=\w+,ou=people,dc=example,dc=com has no employeeNumber"):
        list(source_for(openldap, attribute_map=amap).list_people())


# ------------------------------------------------------------------------------ Active Directory

AD_BASE = "dc=corp,dc=example,dc=com"
AD_GROUP = f"cn=Social Media Admins,ou=groups,{AD_BASE}"
AD_PEOPLE = [
    SeedPerson(
        "jdoe",
        given_name="Jane",
        sn="Doe",
        display_name="Jane Doe",
        mail="jane.doe@example.com",
        aliases=("jdoe@example.com",),
        employee_number="4711",
        department="Brand",
        groups=(AD_GROUP,),
        extra={"proxyAddresses": ["X500:/o=Example/ou=Exchange/cn=Recipients/cn=jdoe", "sip:jdoe@example.com"]},
    ),
    SeedPerson("disabled", sn="Off", mail="off@example.com", status="suspended", manager_uid="jdoe"),
    SeedPerson("expired", sn="Gone", status="terminated", employee_type="contractor"),
    SeedPerson("leaving", sn="Soon", expires=TODAY + timedelta(days=10)),
]


@pytest.fixture(scope="module")
def active_directory(slapd_factory: SlapdFactory) -> SlapdServer:
    never_expires = ldif_entry(
        f"cn=zero,ou=people,{AD_BASE}",
        [
            ("objectClass", "inetOrgPerson"),
            ("objectClass", "user"),
            ("cn", "zero"),
            ("sn", "Zero"),
            ("objectGUID", uuid.UUID(int=7).bytes_le),
            ("sAMAccountName", "zero"),
            ("userAccountControl", "66048"),  # NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD
            ("accountExpires", "0"),  # 0 also means never
        ],
    )
    ldif = people_ldif(AD_PEOPLE, base_dn=AD_BASE, flavor="active_directory") + never_expires
    return slapd_factory(ldif, base_dn=AD_BASE, ad_schema=True)


def test_active_directory_people_are_mapped(active_directory: SlapdServer) -> None:
    source = source_for(active_directory, schema="active_directory", user_filter="(objectClass=user)")
    people = by_username(list(source.list_people()))
    assert set(people) == {"jdoe", "disabled", "expired", "leaving", "zero"}

    jdoe = people["jdoe"]
    assert jdoe.source_key == str(AD_PEOPLE[0].guid())  # objectGUID, bytes_le
    assert jdoe.username == "jdoe"
    assert jdoe.upn == "jdoe@corp.example.com"
    assert jdoe.emails == ("jane.doe@example.com", "jdoe@example.com")  # SMTP:, smtp:; no X500/sip
    assert jdoe.employee_id == "4711"
    assert jdoe.display_name == "Jane Doe"
    assert jdoe.department == "Brand"
    assert jdoe.groups == (AD_GROUP,)
    assert jdoe.status is PersonStatus.active
    assert jdoe.leave_date is None  # accountExpires 9223372036854775807

    disabled = people["disabled"]
    assert disabled.status is PersonStatus.suspended  # userAccountControl 514
    assert disabled.manager_key == jdoe.source_key

    expired = people["expired"]
    assert expired.status is PersonStatus.terminated
    assert expired.kind is PersonKind.contractor
    assert expired.leave_date == datetime.combine(TODAY - timedelta(days=30), datetime.min.time(), UTC)

    leaving = people["leaving"]
    assert leaving.status is PersonStatus.active
    assert leaving.leave_date == datetime.combine(TODAY + timedelta(days=10), datetime.min.time(), UTC)

    zero = people["zero"]
    assert zero.status is PersonStatus.active and zero.leave_date is None
    assert zero.source_key == str(uuid.UUID(int=7))


def test_filetime_conversion() -> None:
    assert filetime_to_datetime(0) is None
    assert filetime_to_datetime(9223372036854775807) is None
    moment = datetime(2024, 3, 3, 12, 30, tzinfo=UTC)
    assert filetime_to_datetime(filetime(moment)) == moment
    assert filetime_to_datetime(116444736000000000) == datetime(1970, 1, 1, tzinfo=UTC)


def test_active_directory_preset_defaults() -> None:
    # people only; built-in, critical system and managed service accounts are not staff
    assert ACTIVE_DIRECTORY.default_filter.startswith("(&(objectCategory=person)(objectClass=user)")
    assert "(!(isCriticalSystemObject=TRUE))" in ACTIVE_DIRECTORY.default_filter
    assert "(!(objectClass=msDS-ManagedServiceAccount))" in ACTIVE_DIRECTORY.default_filter
    assert ACTIVE_DIRECTORY.nested_groups and ACTIVE_DIRECTORY.drop_system_accounts
    assert {"objectGUID", "isCriticalSystemObject", "objectSid"} <= set(ACTIVE_DIRECTORY.requested_attributes())
    assert {"entryUUID", "pwdAccountLockedTime"} <= set(OPENLDAP.requested_attributes())


# ------------------------------------------------------------------------------------------ paging


@pytest.fixture(scope="module")
def big_directory(slapd_factory: SlapdFactory) -> SlapdServer:
    return slapd_factory(people_ldif(generate_people(5_000)), size_limit=1000)


def test_paged_search_reads_past_the_server_size_limit(
    big_directory: SlapdServer, caplog: pytest.LogCaptureFixture
) -> None:
    # A plain search is capped by the server's size limit (as AD's MaxPageSize caps at 1000) ...
    conn = Connection(Server(big_directory.url), big_directory.bind_dn, big_directory.password, auto_bind=True)
    conn.search(big_directory.base_dn, "(objectClass=inetOrgPerson)", attributes=["uid"])
    assert conn.result["result"] == 4  # sizeLimitExceeded (ldap3 does not raise on it)
    assert len(conn.response) == 1000
    conn.unbind()

    # ... the source pages through all of it.
    caplog.set_level(logging.INFO, logger="accessward.connectors.ldap")
    people = list(source_for(big_directory, page_size=300).list_people())
    assert len(people) == 5_000
    assert len({p.source_key for p in people}) == 5_000
    assert {p.username for p in people} == {f"u{n:07d}" for n in range(5_000)}
    assert "listed 5000 people in 17 pages" in caplog.text
    assert sum(p.status is PersonStatus.terminated for p in people) == 100  # 2 % leavers (sandbox.customer.REALISTIC)
    assert sum(p.status is PersonStatus.suspended for p in people) == 50


def test_a_listing_cut_short_by_the_server_fails(slapd_factory: SlapdFactory) -> None:
    # slapd's default for "sizelimit N" also caps paged searches in total: the source must
    # fail, never return the first 1,000 people as if they were everyone.
    server = slapd_factory(people_ldif(generate_people(1_500)), size_limit=1000, paged_total_limit=1000)
    seen: list[PersonRecord] = []
    with pytest.raises(StopError, match="size limit cut the listing short"):
        seen.extend(source_for(server, page_size=400).list_people())
    assert len(seen) <= 1000
    server.stop()


# ------------------------------------------------------------------------------------------ errors


def test_server_down_raises_transient_error(slapd_factory: SlapdFactory) -> None:
    server = slapd_factory(people_ldif(generate_people(10)))
    source = source_for(server, connect_timeout=2)
    assert len(list(source.list_people())) == 10
    server.stop(keep_data=True)
    people = source.list_people()
    with pytest.raises(TransientError, match="unreachable") as caught:
        next(people)  # an error, not an empty iterator
    assert caught.value.kind == "transient"
    server.start()  # same port, same data: the next run succeeds
    assert len(list(source_for(server).list_people())) == 10
    server.stop()


def test_closed_port_raises_transient_error(openldap: SlapdServer) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connection refused
        source = source_for(openldap, url=f"ldap://127.0.0.1:{port}", connect_timeout=2)
        with pytest.raises(TransientError):
            list(source.list_people())


def test_server_dying_mid_listing_raises_transient_error(slapd_factory: SlapdFactory) -> None:
    server = slapd_factory(people_ldif(generate_people(1_000)))
    people = source_for(server, page_size=100).list_people()
    first = next(people)
    assert first.source_key
    server.stop()
    seen = 1
    with pytest.raises(TransientError):
        for _ in people:
            seen += 1
    assert seen <= 100  # the rest of the page in hand, then the failure


def test_wrong_password_raises_auth_error(openldap: SlapdServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    source = source_for(openldap, password="not-the-password")
    with pytest.raises(AuthError) as caught:
        list(source.list_people())
    assert caught.value.kind == "auth"
    assert "not-the-password" not in str(caught.value) + caught.value.detail + caplog.text
    assert "not-the-password" not in repr(source.config)


def test_unknown_bind_dn_raises_auth_error(openldap: SlapdServer) -> None:
    with pytest.raises(AuthError):
        list(source_for(openldap, bind_dn=f"cn=nobody,{openldap.base_dn}").list_people())


def test_bad_base_dn_raises_stop_error(openldap: SlapdServer) -> None:
    with pytest.raises(StopError, match="does not exist"):
        list(source_for(openldap, base_dn=f"ou=nowhere,{openldap.base_dn}").list_people())


def test_bad_filter_raises_stop_error(openldap: SlapdServer) -> None:
    with pytest.raises(StopError):
        list(source_for(openldap, user_filter="(uid=alice").list_people())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"password": ""}, "password is empty"),
        ({"bind_dn": "", "password": ""}, "allow_anonymous"),
        ({"url": "http://127.0.0.1:389"}, "url must be"),
        ({"url": "ldaps://127.0.0.1", "start_tls": True}, "start_tls"),
        ({"page_size": 0}, "page_size"),
        ({"ca_file": "/nonexistent/ca.pem", "url": "ldaps://127.0.0.1"}, "ca_file not found"),
    ],
)
def test_configuration_errors_raise_stop_error(overrides: dict[str, object], message: str) -> None:
    settings: dict[str, object] = {
        "name": "corp-ldap",
        "url": "ldap://127.0.0.1:389",
        "base_dn": "dc=example,dc=com",
        "bind_dn": "cn=reader,dc=example,dc=com",
        "password": "secret",
    }
    settings.update(overrides)
    with pytest.raises(StopError, match=message):
        LdapSource(LdapSourceConfig(**settings))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ seed helpers


def test_write_people_ldif_streams_to_a_file(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "people.ldif"
    count = write_people_ldif(path, generate_people(250, start=1000), today=date(2025, 1, 1))
    text = path.read_text()
    assert count == 250
    assert text.count("\ndn: ") + text.startswith("dn: ") == 250
    assert "dn: uid=u0001000,ou=people,dc=example,dc=com\n" in text
    assert "manager: uid=u0000100,ou=people,dc=example,dc=com\n" in text


def test_launcher_says_clearly_when_slapd_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import accessward.sandbox.slapd as launcher

    monkeypatch.setattr(launcher, "_find_binary", lambda name: None)
    assert not launcher.slapd_available()
    with pytest.raises(launcher.SlapdNotInstalledError, match="apt-get install -y slapd ldap-utils"):
        SlapdServer().start()


def test_system_accounts_are_recognised_by_what_ad_marks_them_with() -> None:
    from accessward.connectors.ldap_ad import GroupGraph, system_account_reason

    def sid(rid: int) -> bytes:  # S-1-5-21-1-2-3-<rid>
        return bytes([1, 5, 0, 0, 0, 0, 0, 5]) + b"".join(n.to_bytes(4, "little") for n in (21, 1, 2, 3, rid))

    assert system_account_reason({"iscriticalsystemobject": [b"TRUE"]}) == "isCriticalSystemObject"
    assert system_account_reason({"objectclass": [b"top", b"computer", b"msDS-GroupManagedServiceAccount"]})
    assert system_account_reason({"objectsid": [sid(502)]}) == "built-in account (RID 502)"  # krbtgt
    assert system_account_reason({"objectsid": [sid(1105)], "objectclass": [b"user"],
                                  "iscriticalsystemobject": [b"FALSE"]}) is None  # staff
    graph = GroupGraph({"cn=a,dc=x": ["CN=B,DC=x"], "cn=b,dc=x": ["CN=C,DC=x", "CN=A,DC=x"]})  # a cycle
    assert graph.expand(["CN=A,DC=x"]) == ("CN=A,DC=x", "CN=B,DC=x", "CN=C,DC=x")
