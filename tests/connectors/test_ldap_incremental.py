"""Incremental LDAP rounds (LdapSource.list_changes) against a real slapd.

OpenLDAP rounds poll ``modifyTimestamp``; Active Directory rounds poll ``uSNChanged`` (here on a
slapd with the AD test schema, the uSNChanged values written by the test itself, since slapd
does not maintain them).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from ldap3 import MODIFY_REPLACE, Connection, Server
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from accessward.connectors.errors import ResyncRequired
from accessward.connectors.ldap import LdapChangeRun, LdapSource, LdapSourceConfig
from accessward.connectors.protocols import IncrementalIdentitySource
from accessward.connectors.records import PersonRecord, PersonStatus
from accessward.sandbox.slapd import SeedPerson, SlapdServer, people_ldif
from accessward.sync.models import Person, SyncRun
from accessward.sync.runner import sync_identity

pytestmark = pytest.mark.slapd

SlapdFactory = Callable[..., SlapdServer]  # the slapd_factory fixture (tests/conftest.py)

NAMES = ["alice", "bob", "carol", "dave", "erin", "frank"]
#: Seeded modification times, a day apart and long ago; "frank" is the newest.
SEEDED = {name: f"202401{day + 1:02d}120000Z" for day, name in enumerate(NAMES)}


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


def modify(server: SlapdServer, dn: str, **changes: str) -> None:
    conn = Connection(Server(server.url), server.root_dn, server.root_password, auto_bind=True)
    assert conn.modify(dn, {attr: [(MODIFY_REPLACE, [value])] for attr, value in changes.items()}), conn.result
    conn.unbind()


def cursor_state(cursor: str) -> dict[str, object]:
    assert cursor.startswith("ldap:")
    state: dict[str, object] = json.loads(cursor.removeprefix("ldap:"))
    return state


def usernames(people: list[PersonRecord]) -> set[str]:
    return {p.username or "" for p in people}


@pytest.fixture
def openldap(slapd_factory: SlapdFactory) -> Iterator[SlapdServer]:
    people = [
        SeedPerson(name, sn=name.title(), mail=f"{name}@example.com", extra={"modifyTimestamp": [SEEDED[name]]})
        for name in NAMES
    ]
    server = slapd_factory(people_ldif(people))
    yield server
    server.stop()


# ------------------------------------------------------------------------------------- OpenLDAP


def test_second_round_returns_only_what_changed(openldap: SlapdServer) -> None:
    source = source_for(openldap)
    typed: IncrementalIdentitySource = source  # mypy checks the protocol statically too
    assert isinstance(typed, IncrementalIdentitySource)

    first = source.list_changes(None)
    with pytest.raises(RuntimeError, match="read to its end"):
        _ = first.cursor  # no cursor before the round has been read
    assert first.full
    assert usernames(list(first)) == set(NAMES)
    with pytest.raises(RuntimeError, match="iterated once"):
        iter(first)
    state = cursor_state(first.cursor)
    assert state["mode"] == "timestamp"
    # The newest entry listed, less the round's overlap (its duration rounded up, plus a second).
    assert "20240106115955Z" <= str(state["ts"]) < SEEDED["frank"]

    modify(openldap, f"uid=alice,{openldap.people_dn}", displayName="Alice Renamed")
    modify(openldap, f"uid=carol,{openldap.people_dn}", pwdAccountLockedTime="000001010000Z")

    second = source.list_changes(first.cursor)
    assert not second.full
    changed = {p.username: p for p in second}
    # alice and carol changed; frank, the newest of the last round, is read again by the overlap.
    assert set(changed) == {"alice", "carol", "frank"}
    assert changed["alice"].display_name == "Alice Renamed"
    assert changed["carol"].status is PersonStatus.suspended
    assert str(cursor_state(second.cursor)["ts"]) > str(state["ts"])  # the cursor advanced
    assert str(cursor_state(second.cursor)["ts"]) > SEEDED["frank"]

    third = source.list_changes(second.cursor)  # nothing changed since: at most the overlap
    assert usernames(list(third)) <= {"alice", "carol"}
    assert str(cursor_state(third.cursor)["ts"]) >= str(cursor_state(second.cursor)["ts"])
    assert cursor_state(third.cursor)["full_at"] == state["full_at"]  # the last full round stays known


def test_an_unusable_cursor_requires_a_resync(openldap: SlapdServer) -> None:
    source = source_for(openldap)
    first = source.list_changes(None)
    list(first)
    cursor = first.cursor

    for bad in ("", "garbage", "ldap:{not json", "ldap:[]", 'ldap:{"mode": "timestamp"}',
                cursor.replace(str(cursor_state(cursor)["ts"]), "2024-01-01")):
        with pytest.raises(ResyncRequired) as caught:
            source.list_changes(bad)
        assert caught.value.kind == "resync"
    # A cursor written for another filter (or base DN, or attribute map) is not valid here:
    # people only the new filter selects would never be read.
    narrower = source_for(openldap, user_filter="(&(objectClass=inetOrgPerson)(uid=a*))")
    with pytest.raises(ResyncRequired, match="filter"):
        narrower.list_changes(cursor)
    # An OpenLDAP (timestamp) cursor is not an Active Directory (USN) one.
    with pytest.raises(ResyncRequired, match="timestamp"):
        source_for(openldap, schema="active_directory", user_filter="(objectClass=inetOrgPerson)").list_changes(cursor)


def test_full_every_turns_an_old_cursor_into_a_full_round(openldap: SlapdServer) -> None:
    source = source_for(openldap, full_every=timedelta(days=1))
    first = source.list_changes(None)
    list(first)
    assert not source.list_changes(first.cursor).full
    later = LdapSource(source.config, now=datetime.now(UTC) + timedelta(days=2))
    again = later.list_changes(first.cursor)
    assert again.full and usernames(list(again)) == set(NAMES)


def people_in(engine: Engine) -> dict[str, Person]:
    with Session(engine) as s:
        return {p.username or "": p for p in s.execute(select(Person)).scalars()}


def sync_runs(engine: Engine) -> list[SyncRun]:
    with Session(engine) as s:
        return list(s.execute(select(SyncRun).order_by(col(SyncRun.id))).scalars())


def test_sync_stores_only_changes_on_the_second_run(openldap: SlapdServer, engine: Engine) -> None:
    source = source_for(openldap)
    first = sync_identity(engine, source)
    assert first.ok and first.counts["people"] == len(NAMES), first
    runs = sync_runs(engine)
    assert runs[-1].full and runs[-1].cursor

    modify(openldap, f"uid=bob,{openldap.people_dn}", pwdAccountLockedTime="000001010000Z")
    second = sync_identity(engine, source)
    assert second.ok, second
    assert second.counts == {"people": 2, "removed": 0}  # bob, and frank again (the overlap)
    latest = sync_runs(engine)[-1]
    assert not latest.full and latest.cursor and latest.cursor != runs[-1].cursor
    stored = people_in(engine)
    assert stored["bob"].status == "suspended"
    assert stored["alice"].status == "active" and stored["alice"].missing_since is None

    # A changed filter invalidates the stored cursor: the runner falls back to a full round.
    narrower = source_for(openldap, user_filter="(&(objectClass=inetOrgPerson)(!(uid=erin)))")
    third = sync_identity(engine, narrower)
    assert third.ok and third.counts["people"] == len(NAMES) - 1, third
    assert sync_runs(engine)[-1].full
    assert people_in(engine)["erin"].missing_since is not None


# ------------------------------------------------------------------------------ Active Directory

AD_BASE = "dc=corp,dc=example,dc=com"
AD_USN = {"jdoe": 1001, "rroe": 1002, "mmax": 1005}


@pytest.fixture
def active_directory(slapd_factory: SlapdFactory) -> Iterator[SlapdServer]:
    people = [SeedPerson(name, sn=name.title(), extra={"uSNChanged": [str(usn)]}) for name, usn in AD_USN.items()]
    server = slapd_factory(people_ldif(people, base_dn=AD_BASE, flavor="active_directory"),
                           base_dn=AD_BASE, ad_schema=True)
    yield server
    server.stop()


def test_active_directory_rounds_poll_usn_changed(
    active_directory: SlapdServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="accessward.connectors.ldap")
    source = source_for(active_directory, schema="active_directory", user_filter="(objectClass=user)")
    first = source.list_changes(None)
    assert isinstance(first, LdapChangeRun) and first.full
    assert usernames(list(first)) == set(AD_USN)
    state = cursor_state(first.cursor)
    # slapd has no highestCommittedUSN in its rootDSE: the highest uSNChanged listed stands in.
    assert state["mode"] == "usn" and state["usn"] == 1005
    assert state["dc"] == active_directory.url.removeprefix("ldap://") and state["inv"] is None

    modify(active_directory, f"cn=rroe,ou=people,{AD_BASE}", userAccountControl="514", uSNChanged="1010")
    second = source.list_changes(first.cursor)
    changed = list(second)
    assert [p.username for p in changed] == ["rroe"]  # uSNChanged >= 1006: nothing at 1005 again
    assert changed[0].status is PersonStatus.suspended
    assert "(&(objectClass=user)(uSNChanged>=1006))" in caplog.text
    assert cursor_state(second.cursor)["usn"] == 1010

    assert list(source.list_changes(second.cursor)) == []
    assert cursor_state(second.cursor)["usn"] == 1010


def test_active_directory_cursor_from_another_dc_requires_a_resync(active_directory: SlapdServer) -> None:
    source = source_for(active_directory, schema="active_directory", user_filter="(objectClass=user)")
    first = source.list_changes(None)
    list(first)
    state = cursor_state(first.cursor)

    other_dc = "ldap:" + json.dumps({**state, "dc": "dc2.corp.example.com"})
    run = source.list_changes(other_dc)  # the DC is known only once connected: the round raises
    with pytest.raises(ResyncRequired, match="USNs are per DC"):
        list(run)
    ahead = "ldap:" + json.dumps({**state, "usn": -5})
    with pytest.raises(ResyncRequired):
        source.list_changes(ahead)
