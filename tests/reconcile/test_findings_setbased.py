"""The compare-and-touch ``store_findings`` against the row-by-row upsert it replaced.

``store_findings`` writes only new, changed and re-found resolved findings and stamps the unchanged
ones with one statement. The reference below is the previous implementation (every draft upserted,
resolution by ``last_seen``). Both run over the same random rounds, on the same store under two
rule names: any finding one adds, drops, resolves, reopens or dates differently fails the test.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Engine, Table, text, update

from accessward.connectors.records import Level
from accessward.reconcile.findings import FindingCounts, FindingDraft, store_findings
from accessward.reconcile.policy import PolicySettings
from accessward.reconcile.run import reconcile
from accessward.sync.bulk import upsert
from accessward.sync.models import Finding
from accessward.sync.runner import sync_access, sync_identity
from tests.fakes import FakeAccess, FakeIdentity, person

_F: Table = Finding.__table__  # type: ignore[attr-defined]


def reference_store_findings(engine: Engine, rule: str, drafts: Iterable[FindingDraft], now: datetime) -> FindingCounts:
    """The row-by-row implementation before the set-based one (kept verbatim as the oracle)."""
    counts = FindingCounts()
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        with engine.begin() as conn:
            upsert(conn, _F, batch, keys=("key",),
                   update=["severity", "evidence", "last_seen", "person_id", "account_id"])
        counts.current += len(batch)
        batch.clear()

    for d in drafts:
        batch.append({"key": d.key, "rule": d.rule, "severity": d.severity, "system": d.system,
                      "account_id": d.account_id, "grant_id": d.grant_id, "person_id": d.person_id,
                      "evidence": d.evidence, "first_seen": now, "last_seen": now, "state": "open"})
        if len(batch) >= 7:
            flush()
    if batch:
        flush()
    with engine.begin() as conn:
        counts.reopened = int(conn.execute(
            update(_F).where(_F.c.rule == rule, _F.c.state == "resolved", _F.c.last_seen == now)
            .values(state="open", resolved_at=None, first_seen=now)).rowcount or 0)
        counts.resolved = int(conn.execute(
            update(_F).where(_F.c.rule == rule, _F.c.state.in_(["open", "accepted"]), _F.c.last_seen < now)
            .values(state="resolved", resolved_at=now)).rowcount or 0)
    return counts


def table(engine: Engine, rule: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT key, state, severity, evidence, person_id, account_id, grant_id, first_seen, last_seen, "
            "resolved_at FROM finding WHERE rule = :r ORDER BY key"), {"r": rule}).all()
    return [(r.key.split(":", 1)[1], r.state, r.severity, str(r.evidence), *tuple(r)[4:]) for r in rows]


def drafts(rule: str, alive: dict[int, tuple[str, int, int | None]], grants: list[int]) -> list[FindingDraft]:
    return [FindingDraft(key=f"{rule}:grant:{n}", rule=rule, severity=sev, system="social", account_id=None,
                         grant_id=grants[n % len(grants)], person_id=None,
                         evidence={"reason": "x", "version": version, "since": None if extra is None else str(extra)})
            for n, (sev, version, extra) in sorted(alive.items())]


def test_set_based_findings_match_the_row_by_row_upsert_over_random_rounds(engine):
    sync_access(engine, FakeAccess(grants=[(f"u{i}", "page", "MANAGE", Level.admin) for i in range(5)]))
    with engine.connect() as conn:
        grants = [int(g) for (g,) in conn.execute(text("SELECT id FROM access_grant ORDER BY id"))]
    rnd = random.Random(17)
    alive: dict[int, tuple[str, int, int | None]] = {}
    now = datetime(2026, 3, 1, 12, 0, 0, 123456)
    for round_no in range(14):
        # Findings appear, change (severity or evidence), disappear and come back.
        for n in range(40):
            roll = rnd.random()
            if n in alive and roll < 0.2:
                del alive[n]
            elif n in alive and roll < 0.35:
                _sev, version, extra = alive[n]
                alive[n] = (rnd.choice(["low", "high"]), version + (roll < 0.28), extra)
            elif n not in alive and roll < 0.4:
                alive[n] = (rnd.choice(["low", "high"]), 0, rnd.choice([None, 1, 2]))
        # Time moves on, stands still, or (a clock set back) goes back.
        now += timedelta(minutes=rnd.choice([5, 5, 5, 0, -3]))
        got = store_findings(engine, "new", drafts("new", alive, grants), now)
        want = reference_store_findings(engine, "ref", drafts("ref", alive, grants), now)
        assert got == want, f"round {round_no}"
        assert table(engine, "new") == table(engine, "ref"), f"round {round_no}"
        # Someone accepts or revokes a few (the same ones under both names).
        for key in rnd.sample(range(40), 4):
            state = rnd.choice(["accepted", "revoked"])
            with engine.begin() as conn:
                for rule in ("new", "ref"):
                    conn.execute(text("UPDATE finding SET state = :s WHERE key = :k AND state <> 'resolved'"),
                                 {"s": state, "k": f"{rule}:grant:{key}"})
    states = {row[1] for row in table(engine, "new")}
    assert {"open", "resolved", "accepted", "revoked"} <= states  # every life stage was exercised


LIFE = text("SELECT f.id, f.key, f.evidence, f.first_seen, f.last_seen, l.updated_at FROM finding f "
            "JOIN link l ON l.account_id = f.account_id ORDER BY f.id").columns(last_seen=DateTime)


def test_a_second_reconcile_with_nothing_changed_rewrites_no_finding_and_keeps_every_one(engine):
    sync_identity(engine, FakeIdentity(people=[person("ann"), person("dana", status="terminated"),  # type: ignore[arg-type]
                                               person("sam", status="suspended")]))  # type: ignore[arg-type]
    sync_access(engine, FakeAccess(grants=[(a, f"page{r}", "MANAGE", Level.admin)
                                           for a in ("ann", "dana", "sam", "ghost") for r in range(3)]))
    first = reconcile(engine, PolicySettings(), now=datetime(2026, 3, 1, 9))
    assert first.findings["orphaned"].current == 9
    with engine.connect() as conn:
        before = conn.execute(LIFE).all()
    second = reconcile(engine, PolicySettings(), now=datetime(2026, 3, 1, 10))
    assert second.findings["orphaned"] == FindingCounts(current=9, reopened=0, resolved=0)
    with engine.connect() as conn:
        after = conn.execute(LIFE).all()
    assert [tuple(r)[:4] for r in after] == [tuple(r)[:4] for r in before]  # same findings, same content
    assert {r.last_seen for r in after} == {datetime(2026, 3, 1, 10)}  # every one stamped seen now
    assert [r.updated_at for r in after] == [r.updated_at for r in before]  # no link rewritten

    # dana's grants go, ann leaves: exactly those findings resolve and appear.
    sync_identity(engine, FakeIdentity(people=[person("ann", status="terminated"),  # type: ignore[arg-type]
                                               person("dana", status="terminated"),  # type: ignore[arg-type]
                                               person("sam", status="suspended")]))  # type: ignore[arg-type]
    sync_access(engine, FakeAccess(grants=[(a, f"page{r}", "MANAGE", Level.admin)
                                           for a in ("ann", "sam", "ghost") for r in range(3)]))
    third = reconcile(engine, PolicySettings(), now=datetime(2026, 3, 1, 11))
    assert third.findings["orphaned"] == FindingCounts(current=9, reopened=0, resolved=3)
    with engine.connect() as conn:
        states = {(str(k).split(":")[0], s, str(e)) for k, s, e in conn.execute(text(
            "SELECT f.key, f.state, a.external_id FROM finding f JOIN account a ON a.id = f.account_id"))}
    assert states == {("orphaned", "open", "ann"), ("orphaned", "open", "sam"), ("orphaned", "open", "ghost"),
                      ("orphaned", "resolved", "dana")}
