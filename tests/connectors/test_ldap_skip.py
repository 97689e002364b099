"""A full LDAP round skips the entries whose raw bytes did not change, and never hides a real change.

The mapped person depends on more than an entry's bytes (connectors.ldap_skip): the clock (an
expiry that passes), the manager's entry (re-created or moved at the DN the person names), the
source's configuration. Each test below makes one of those change while the person's own bytes
stay the same, and fails if the nightly round skipped the person anyway.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from ldap3 import MODIFY_REPLACE, Connection, Server
from sqlalchemy import Engine, select
from sqlmodel import Session

from accessward.connectors import ldap_raw
from accessward.connectors.ldap import OPENLDAP, LdapSource, LdapSourceConfig
from accessward.connectors.records import PersonStatus, StoredDigests
from accessward.sandbox.slapd import SeedPerson, SlapdServer, people_ldif
from accessward.sync.models import Person, SyncRun
from accessward.sync.runner import sync_identity

pytestmark = pytest.mark.slapd

SlapdFactory = Callable[..., SlapdServer]
TODAY = datetime.now(UTC).date()


def config(server: SlapdServer, **overrides: object) -> LdapSourceConfig:
    settings: dict[str, object] = {"name": "corp-ldap", "url": server.url, "base_dn": server.base_dn,
                                   "bind_dn": server.bind_dn, "password": server.password}
    settings.update(overrides)
    return LdapSourceConfig(**settings)  # type: ignore[arg-type]


def root(server: SlapdServer) -> Connection:
    return Connection(Server(server.url), server.root_dn, server.root_password, auto_bind=True)


def people(engine: Engine) -> dict[str, Person]:
    """The present people by username (a re-created entry leaves its old self missing)."""
    with Session(engine) as s:
        return {p.username or "": p for p in s.execute(select(Person).where(Person.missing_since.is_(None))).scalars()}


def everyone(engine: Engine) -> list[Person]:
    with Session(engine) as s:
        return list(s.execute(select(Person)).scalars())


def written(engine: Engine, run_id: int) -> list[str]:
    return sorted(p.username or "" for p in everyone(engine) if p.last_run_id == run_id)


@pytest.fixture
def directory(slapd_factory: SlapdFactory) -> Iterator[SlapdServer]:
    seeded = [
        SeedPerson("alice", sn="A", mail="alice@example.com", department="Board"),
        SeedPerson("bob", sn="B", mail="bob@example.com", manager_uid="alice"),
        SeedPerson("carol", sn="C", mail="carol@example.com", manager_uid="alice",
                   expires=TODAY + timedelta(days=3)),
        SeedPerson("dave", sn="D", mail="dave@example.com", manager_uid="bob", employee_type="contractor"),
        SeedPerson("erin", sn="E", mail="erin@example.com", manager_uid="nobody"),  # a DN that does not exist
    ]
    server = slapd_factory(people_ldif(seeded, today=TODAY))
    yield server
    server.stop()


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Message ids of the entries the dedicated decoder decoded (skipped ones are not)."""
    seen: list[int] = []
    real = ldap_raw.decode_search_entry

    def counting(message: bytes) -> tuple[int, dict[str, object]] | None:
        result = real(message)
        if result is not None:
            seen.append(result[0])
        return result

    monkeypatch.setattr(ldap_raw, "decode_search_entry", counting)
    return seen


def test_an_unchanged_round_decodes_and_writes_nobody_it_can_prove_unchanged(
        directory: SlapdServer, engine: Engine, decoded: list[int]) -> None:
    first = sync_identity(engine, LdapSource(config(directory)))
    assert first.ok and first.counts["people"] == 5
    stored = people(engine)
    assert stored["erin"].source_digest is None, "a manager DN that resolves to nobody stores no digest"
    assert all(stored[n].source_digest for n in ("alice", "bob", "carol", "dave"))
    assert stored["carol"].stable_until == datetime(*(TODAY + timedelta(days=3)).timetuple()[:3])
    decoded.clear()
    second = sync_identity(engine, LdapSource(config(directory)), full=True)
    assert second.ok and second.counts == {"people": 5, "missing": 0}
    assert len(decoded) == 1, "only erin (no digest stored) is decoded again"
    assert written(engine, second.run_id) == []
    conn = root(directory)
    assert conn.modify(f"uid=dave,{directory.people_dn}", {"departmentNumber": [(MODIFY_REPLACE, ["Sales"])]})
    conn.unbind()
    third = sync_identity(engine, LdapSource(config(directory)), full=True)
    assert third.ok and third.counts == {"people": 5, "missing": 0}
    assert written(engine, third.run_id) == ["dave"]
    assert people(engine)["dave"].department == "Sales"


def test_an_expiry_that_passes_is_not_hidden_by_unchanged_bytes(directory: SlapdServer, engine: Engine) -> None:
    assert sync_identity(engine, LdapSource(config(directory))).ok
    assert people(engine)["carol"].status == "active"
    later = datetime.combine(TODAY + timedelta(days=3), datetime.min.time(), UTC) + timedelta(seconds=1)
    outcome = sync_identity(engine, LdapSource(config(directory), now=later), full=True)
    assert outcome.ok
    assert written(engine, outcome.run_id) == ["carol"]
    assert people(engine)["carol"].status == PersonStatus.terminated


def test_a_re_created_manager_gives_the_new_key_to_the_people_it_manages(
        directory: SlapdServer, engine: Engine) -> None:
    assert sync_identity(engine, LdapSource(config(directory))).ok
    old = people(engine)["alice"].source_key
    assert people(engine)["bob"].manager_key == old
    conn = root(directory)
    dn = f"uid=alice,{directory.people_dn}"
    assert conn.delete(dn)
    assert conn.add(dn, ["inetOrgPerson"], {"uid": "alice", "cn": "A", "sn": "A", "mail": "alice@example.com",
                                            "departmentNumber": "Board"})
    conn.unbind()
    outcome = sync_identity(engine, LdapSource(config(directory)), full=True)
    assert outcome.ok
    stored = people(engine)
    new = stored["alice"].source_key
    assert new != old
    assert [p.missing_since is not None for p in everyone(engine) if p.source_key == old] == [True]
    assert stored["bob"].manager_key == new and stored["carol"].manager_key == new
    assert stored["dave"].manager_key == stored["bob"].source_key, "bob did not move: dave stays skipped"


def test_a_moved_manager_leaves_the_people_naming_its_old_dn_without_a_manager(
        directory: SlapdServer, engine: Engine) -> None:
    assert sync_identity(engine, LdapSource(config(directory))).ok
    conn = root(directory)
    assert conn.modify_dn(f"uid=alice,{directory.people_dn}", "uid=alice2")
    conn.unbind()
    outcome = sync_identity(engine, LdapSource(config(directory)), full=True)
    assert outcome.ok
    stored = people(engine)
    assert stored["bob"].manager_key is None and stored["carol"].manager_key is None
    assert sorted(written(engine, outcome.run_id)) == ["alice2", "bob", "carol"]


def test_another_mapping_never_matches_a_stored_digest(directory: SlapdServer, engine: Engine) -> None:
    assert sync_identity(engine, LdapSource(config(directory))).ok
    mapped = OPENLDAP.replace(status_attribute="employeeType",
                              status_values={"contractor": PersonStatus.terminated})
    outcome = sync_identity(engine, LdapSource(config(directory, attribute_map=mapped)), full=True)
    assert outcome.ok
    assert people(engine)["dave"].status == PersonStatus.terminated


def test_a_round_that_skipped_everyone_keeps_a_watermark_and_the_next_change_is_seen(
        directory: SlapdServer, engine: Engine) -> None:
    assert sync_identity(engine, LdapSource(config(directory))).ok
    full = sync_identity(engine, LdapSource(config(directory)), full=True)
    assert full.ok
    with Session(engine) as s:
        run = s.get(SyncRun, full.run_id)
        assert run is not None and run.cursor
        state = json.loads(run.cursor.removeprefix("ldap:"))
    assert state["ts"] > "2000", "the earlier round's highest timestamp stands in for the skipped entries"
    conn = root(directory)
    assert conn.modify(f"uid=bob,{directory.people_dn}", {"departmentNumber": [(MODIFY_REPLACE, ["Ops"])]})
    conn.unbind()
    incremental = sync_identity(engine, LdapSource(config(directory)))
    assert incremental.ok and people(engine)["bob"].department == "Ops"


def test_no_skipping_with_nested_groups_or_in_an_incremental_round(directory: SlapdServer) -> None:
    nested = LdapSource(config(directory, attribute_map=OPENLDAP.replace(nested_groups=True)))
    nested.expect(lambda: StoredDigests([(1, "k", None, "00" * 24, None)]))
    assert nested._skip_plan(["uid"], datetime.now(UTC), True) is None
    plain = LdapSource(config(directory))
    plain.expect(lambda: StoredDigests([(1, "k", None, "00" * 24, None)]))
    assert plain._skip_plan(["uid"], datetime.now(UTC), False) is None
    plain.expect(lambda: StoredDigests([(1, "k", None, "00" * 24, None), (2, "j", None, "11" * 24,
                                                                       datetime(2000, 1, 1))]))
    plan = plain._skip_plan(["uid"], datetime.now(UTC), True)
    assert plan is not None and list(plan.by_digest.values()) == [(1, "k", None)], "a passed moment is dropped"



def test_an_incremental_round_resolves_managers_in_one_search_per_page(
        slapd_factory: SlapdFactory, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Changed people whose managers did not change (and so are not listed): their managers are found
    by entryDN in one search, not one base-scope lookup each, and to the same keys."""
    import ldap3

    old = {"modifyTimestamp": ["20240101120000Z"]}
    seeded = [SeedPerson("boss", sn="B", mail="boss@example.com", extra=old),
              SeedPerson("chief", sn="C", mail="chief@example.com", extra=old),
              *[SeedPerson(f"w{i}", sn="W", mail=f"w{i}@example.com", manager_uid=("boss", "chief")[i % 2],
                           extra=old) for i in range(6)]]
    server = slapd_factory(people_ldif(seeded, today=TODAY))
    try:
        assert sync_identity(engine, LdapSource(config(server))).ok
        before = {name: p.manager_key for name, p in people(engine).items()}
        conn = root(server)
        assert conn.modify(f"uid=w0,{server.people_dn}", {"departmentNumber": [(MODIFY_REPLACE, ["W"])]})
        assert sync_identity(engine, LdapSource(config(server))).ok  # the cursor moves to about now
        time.sleep(3)  # past that round's overlap
        for i in range(6):
            assert conn.modify(f"uid=w{i},{server.people_dn}", {"departmentNumber": [(MODIFY_REPLACE, ["X"])]})
        conn.unbind()
        scopes: list[str] = []
        real = ldap3.Connection.search

        def spy(self: ldap3.Connection, search_base: str, search_filter: str, *args: object,
                **kwargs: object) -> object:
            scopes.append(str(kwargs.get("search_scope")))
            return real(self, search_base, search_filter, *args, **kwargs)

        monkeypatch.setattr(ldap3.Connection, "search", spy)
        outcome = sync_identity(engine, LdapSource(config(server)))
        assert outcome.ok and outcome.counts["people"] == 6, "only the six changed people are listed"
        after = {name: p.manager_key for name, p in people(engine).items()}
        assert after == before and after["w1"] == people(engine)["chief"].source_key
        assert scopes.count(ldap3.BASE) == 0, "no manager is looked up on its own"
    finally:
        server.stop()
