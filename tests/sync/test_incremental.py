"""Incremental identity sync through Graph delta links (the Graph simulator over TLS)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session

from accessward.connectors.entra import EntraSource
from accessward.sandbox.graph import create_app
from accessward.sandbox.graph_state import FaultKind, GraphState
from accessward.sandbox.tls import TestCA, start_tls_app
from accessward.sync.models import Person, SyncRun
from accessward.sync.runner import confirm_run, sync_identity

TENANT, CLIENT, SECRET = "11111111-2222-3333-4444-555555555555", "app", "app-secret"


@pytest.fixture(scope="module")
def ca() -> Iterator[TestCA]:
    with TestCA() as authority:
        yield authority


@pytest.fixture
def graph(ca):
    state = GraphState(TENANT)
    state.add_app(CLIENT, SECRET)
    ids = [state.add_user(f"User {i}", f"user{i}@contoso.example", employeeId=f"E{i}").id for i in range(30)]
    with start_tls_app(create_app(state), ca) as server:
        source = EntraSource("entra", TENANT, CLIENT, SECRET, authority_host=server.url,
                             graph_url=f"{server.url}/v1.0", verify=str(ca.ca_file), sleep=lambda s: None)
        yield state, ids, source
        source.close()


def people(engine):
    with Session(engine) as s:
        return {p.source_key: p for p in s.execute(select(Person)).scalars()}


def runs(engine):
    with Session(engine) as s:
        return s.execute(select(SyncRun).order_by(SyncRun.id)).scalars().all()


def test_second_run_reads_only_changes_and_removals(engine, graph):
    state, ids, source = graph
    first = sync_identity(engine, source)
    assert first.ok and first.counts["people"] == 30 and runs(engine)[0].full and runs(engine)[0].cursor

    state.update_user(ids[0], accountEnabled=False)
    state.delete_user(ids[1], permanent=True)
    new = state.add_user("New Hire", "new.hire@contoso.example").id
    second = sync_identity(engine, source)
    assert second.ok and second.counts == {"people": 2, "removed": 1}, second.counts
    latest = runs(engine)[-1]
    assert not latest.full and latest.cursor and latest.cursor != runs(engine)[0].cursor
    stored = people(engine)
    assert stored[ids[0]].status == "suspended" and stored[ids[1]].missing_since is not None
    assert new in stored and stored[ids[2]].missing_since is None

    third = sync_identity(engine, source)  # nothing changed
    assert third.ok and third.counts == {"people": 0, "removed": 0}


def test_expired_delta_link_falls_back_to_a_full_run(engine, graph):
    state, ids, source = graph
    assert sync_identity(engine, source).ok
    state.clock.advance(timedelta(days=8).total_seconds())  # delta links live 7 days
    state.update_user(ids[3], displayName="Renamed")
    outcome = sync_identity(engine, source)
    assert outcome.ok and outcome.counts["people"] == 30 and runs(engine)[-1].full


def test_mass_removal_in_a_delta_is_quarantined_and_removes_nothing(engine, graph):
    state, ids, source = graph
    assert sync_identity(engine, source).ok
    for uid in ids[:20]:
        state.delete_user(uid)
    outcome = sync_identity(engine, source)
    assert outcome.status == "quarantined" and "removed 20 of 30" in (outcome.error or "")
    assert all(p.missing_since is None for p in people(engine).values())
    assert runs(engine)[-1].cursor is None, "the cursor of a quarantined round is not kept"
    with pytest.raises(ValueError, match="incremental"):
        confirm_run(engine, outcome.run_id, actor="t")
    full = sync_identity(engine, source, full=True)
    assert full.status == "quarantined"  # a full run sees the drop too, and can be confirmed
    assert confirm_run(engine, full.run_id, actor="t").counts["missing"] == 20


def test_failed_delta_round_keeps_the_old_cursor(engine, graph):
    state, ids, source = graph
    assert sync_identity(engine, source).ok
    good_cursor = runs(engine)[-1].cursor
    state.update_user(ids[4], accountEnabled=False)
    state.inject(FaultKind.html, route="/users/delta", times=5)
    outcome = sync_identity(engine, source)
    assert outcome.status == "failed" and "malformed" in (outcome.error or "")
    assert people(engine)[ids[4]].status == "active", "a failed round changes nothing"
    state.clear_faults()
    again = sync_identity(engine, source)  # resumes from the last good cursor: the change is picked up
    assert again.ok and again.counts["people"] == 1 and people(engine)[ids[4]].status == "suspended"
    assert runs(engine)[-1].cursor != good_cursor


def test_an_empty_full_listing_after_quiet_incremental_rounds_fails(engine, graph):
    """Review finding: the baseline must be what the store holds, not the last (incremental) count."""
    state, ids, source = graph
    assert sync_identity(engine, source).ok
    assert sync_identity(engine, source).counts == {"people": 0, "removed": 0}  # a quiet night
    for uid in ids:
        state.delete_user(uid, permanent=True)
    outcome = sync_identity(engine, source, full=True)
    assert outcome.status == "failed" and "0 records where the store holds 30" in (outcome.error or "")
    assert all(p.missing_since is None for p in people(engine).values())
