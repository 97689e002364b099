"""The compare path of the access writer against the write-everything path, over random rounds.

Two systems in one store receive the same listings round after round: one through the compare
path (``digests=True``: unchanged grants are not rewritten, unseen = stored minus seen), one
through the plain path (every grant upserted, unseen = not seen since the run started). Small
batches make accounts span batches and a grant listed twice land in two batches. Any grant the
compare path fails to open, close, re-level or keep fails the test; so does any wrong stamp of
the rows it does write.
"""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import DateTime, Engine, text

from accessward.connectors.records import AccessRecord, AccountRecord, GrantRecord, Level, ResourceRecord
from accessward.sync.runner import _finish, _start
from accessward.sync.writer import AccessWriter, close_unseen_grants

LEVELS = [Level.read_only, Level.can_reply, Level.admin]


def records(grants: dict[tuple[str, str, str], tuple[Level, bool]], duplicate: tuple[str, str, str] | None
            ) -> list[AccessRecord]:
    out: list[AccessRecord] = [ResourceRecord(external_id=f"p{r}", kind="page", name=f"P{r}") for r in range(6)]
    accounts = sorted({k[0] for k in grants})
    for account in accounts:
        out.append(AccountRecord(external_id=account, display_name=account, email=f"{account}@example.com"))
        for (a, r, role), (level, verifiable) in sorted(grants.items()):
            if a == account:
                out.append(GrantRecord(account_id=a, resource_id=r, role=role, level=level, verifiable=verifiable))
    if duplicate is not None:  # listed again at the end, in another batch: the same grant, seen once
        level, verifiable = grants[duplicate]
        out.append(GrantRecord(account_id=duplicate[0], resource_id=duplicate[1], role=duplicate[2], level=level,
                               verifiable=verifiable))
    return out


def sync(engine: Engine, system: str, listing: list[AccessRecord], compare: bool) -> dict[str, int]:
    run_id = _start(engine, system, "test", "access")
    writer = AccessWriter(engine, system, run_id, batch_size=7, digests=compare)
    writer.write(listing)
    counts = dict(writer.counts)
    counts["closed"] = close_unseen_grants(engine, system, run_id, writer.seen_ids if compare else None)
    _finish(engine, run_id, "succeeded", counts)
    return counts


def state(engine: Engine, system: str) -> dict[str, Any]:
    with engine.connect() as conn:
        open_rows = sorted(tuple(r) for r in conn.execute(text(
            "SELECT a.external_id, r.external_id, g.role, g.level, g.verifiable FROM access_grant g "
            "JOIN account a ON a.id = g.account_id JOIN resource r ON r.id = g.resource_id "
            "WHERE g.system = :s AND g.seen_to IS NULL"), {"s": system}))
        closed = sorted(tuple(r) for r in conn.execute(text(
            "SELECT a.external_id, r.external_id, g.role, g.level, g.closed_by FROM access_grant g "
            "JOIN account a ON a.id = g.account_id JOIN resource r ON r.id = g.resource_id "
            "WHERE g.system = :s AND g.seen_to IS NOT NULL"), {"s": system}))
    return {"open": [(a, r, role, int(level), bool(v)) for a, r, role, level, v in open_rows], "closed": closed}


def test_the_compare_path_keeps_exactly_the_grants_the_write_everything_path_keeps(engine):
    rnd = random.Random(1717)
    grants: dict[tuple[str, str, str], tuple[Level, bool]] = {}
    for round_no in range(10):
        for _ in range(25):
            key = (f"u{rnd.randrange(8)}", f"p{rnd.randrange(6)}", rnd.choice(["MANAGE", "ADVERTISE"]))
            roll = rnd.random()
            if key in grants and roll < 0.3:
                del grants[key]
            elif key in grants and roll < 0.5:
                _level, verifiable = grants[key]
                grants[key] = (rnd.choice(LEVELS), verifiable if roll < 0.45 else not verifiable)
            elif key not in grants:
                grants[key] = (rnd.choice(LEVELS), rnd.random() < 0.8)
        duplicate = rnd.choice(sorted(grants)) if grants and rnd.random() < 0.5 else None
        listing = records(grants, duplicate)
        got = sync(engine, "compare", listing, compare=True)
        want = sync(engine, "plain", listing, compare=False)
        assert got == want, f"round {round_no}"
        assert state(engine, "compare") == state(engine, "plain"), f"round {round_no}"
        assert [g[:3] for g in state(engine, "compare")["open"]] == sorted(grants)


def test_the_compare_path_writes_only_new_and_changed_grants_with_the_stamps_of_an_upsert(engine):
    grants = {(f"u{i}", f"p{r}", "MANAGE"): (Level.admin, True) for i in range(4) for r in range(6)}
    first = sync(engine, "compare", records(grants, None), compare=True)
    assert first == {"accounts": 4, "resources": 6, "grants": 24, "closed": 0}
    grants[("u0", "p0", "MANAGE")] = (Level.read_only, True)  # re-levelled in place
    grants[("u1", "p1", "MANAGE")] = (Level.admin, False)  # no longer verifiable
    del grants[("u2", "p2", "MANAGE")]
    second = sync(engine, "compare", records(grants, None), compare=True)
    assert second == {"accounts": 4, "resources": 6, "grants": 23, "closed": 1}
    with engine.connect() as conn:
        runs = [int(r) for (r,) in conn.execute(text("SELECT id FROM sync_run ORDER BY id"))]
        rows = conn.execute(text(
            "SELECT a.external_id, r.external_id, g.level, g.verifiable, g.last_run_id, g.seen_from, g.last_seen, "
            "s.started_at FROM access_grant g JOIN account a ON a.id = g.account_id "
            "JOIN resource r ON r.id = g.resource_id JOIN sync_run s ON s.id = :run "
            "WHERE g.seen_to IS NULL AND g.last_run_id = :run").columns(
                seen_from=DateTime, last_seen=DateTime, started_at=DateTime), {"run": runs[-1]}).all()
    assert sorted((r[0], r[1], int(r[2]), bool(r[3])) for r in rows) == [
        ("u0", "p0", int(Level.read_only), True), ("u1", "p1", int(Level.admin), False)]
    for row in rows:  # stamped as the SQLAlchemy upsert stamped them: comparable datetimes, after the run began
        assert row.last_seen >= row.started_at and row.seen_from <= row.last_seen
