"""Findings have a life: first seen, last seen, resolved when the access is gone.

A rule evaluation writes every finding it produced this run (insert or touch), reopens any that
had been resolved, and resolves the open ones it no longer produced.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, update

from accessward.sync import driver_bulk
from accessward.sync.models import Finding

_F: Table = Finding.__table__  # type: ignore[attr-defined]
BATCH = 2000


@dataclass(frozen=True)
class FindingDraft:
    key: str
    rule: str
    severity: str
    system: str
    account_id: int | None
    grant_id: int | None
    person_id: int | None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class FindingCounts:
    current: int = 0
    reopened: int = 0
    resolved: int = 0


def store_findings(engine: Engine, rule: str, drafts: Iterable[FindingDraft], now: datetime) -> FindingCounts:
    """Keep the rule's findings up to date with what it produced this run.

    Each batch of drafts is compared with the stored findings of the same keys: only new findings,
    changed ones (severity, evidence, person, account) and resolved ones found again are written.
    The unchanged ones are not rewritten one by one; after the rule, one statement stamps them
    ``last_seen = now`` (every open or accepted finding of the rule not resolved just before), so
    a finding's life is exactly what the row-by-row upsert gave: first seen, last seen, reopened
    (with a new ``first_seen``: its grace starts again), resolved when no longer produced.
    """
    counts = FindingCounts()
    batch: list[FindingDraft] = []
    produced: set[int] = set()  # stored findings produced again unchanged and still open or accepted
    touch: list[int] = []  # stored findings produced again unchanged in another state (revoked)
    with engine.connect() as conn:
        # A rule with no stored finding (its first run) skips the lookups: everything is upserted,
        # which is what the lookups would have decided (a key stored under another rule still
        # meets the upsert's ON CONFLICT).
        any_stored = driver_bulk.rows(conn, f"SELECT id FROM finding WHERE rule = {driver_bulk.mark(conn)} LIMIT 1",
                                      (rule,)) != []

    def flush() -> None:
        with engine.begin() as conn:
            when = driver_bulk.stamp(conn, now)
            stored = _stored(conn, [d.key for d in batch]) if any_stored else {}
            write = []
            for d in batch:
                known = stored.get(d.key)
                evidence = json.dumps(d.evidence)
                if known is not None and known[1] != "resolved" and known[3:] == (
                        d.severity, evidence, d.person_id, d.account_id):
                    if known[1] in ("open", "accepted") and known[2] < when:
                        produced.add(known[0])  # stamped by the set-based touch below
                    else:
                        touch.append(known[0])  # revoked, or a last_seen not before now: by id
                    continue
                write.append((d, evidence))
            _write(conn, write, now)
        counts.current += len(batch)
        batch.clear()

    for d in drafts:
        batch.append(d)
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    if not any_stored and not counts.current:
        return counts  # nothing stored, nothing produced: nothing to reopen, resolve or stamp
    with engine.begin() as conn:
        counts.reopened = int(conn.execute(
            update(_F).where(_F.c.rule == rule, _F.c.state == "resolved", _F.c.last_seen == now)
            .values(state="open", resolved_at=None, first_seen=now)  # a reopened finding's grace starts again
        ).rowcount or 0)
        when = driver_bulk.stamp(conn, now)
        gone = [fid for (fid,) in driver_bulk.rows(
            conn, f"SELECT id FROM finding WHERE rule = {driver_bulk.mark(conn)} AND state IN ('open', 'accepted') "
                  f"AND last_seen < {driver_bulk.mark(conn)}", (rule, when)) if fid not in produced]
        for chunk in driver_bulk.chunks(gone):
            where, params = driver_bulk.any_of(conn, "id", chunk)
            counts.resolved += driver_bulk.execute(
                conn, f"UPDATE finding SET state = 'resolved', resolved_at = {driver_bulk.mark(conn)} WHERE {where} "
                      "AND state IN ('open', 'accepted')", [when, *params])
        # What is left open or accepted with an older last_seen was produced again unchanged.
        driver_bulk.execute(
            conn, f"UPDATE finding SET last_seen = {driver_bulk.mark(conn)} WHERE rule = {driver_bulk.mark(conn)} "
                  f"AND state IN ('open', 'accepted') AND last_seen < {driver_bulk.mark(conn)}", (when, rule, when))
        for chunk in driver_bulk.chunks(touch):
            where, params = driver_bulk.any_of(conn, "id", chunk)
            driver_bulk.execute(conn, f"UPDATE finding SET last_seen = {driver_bulk.mark(conn)} WHERE {where}",
                                [when, *params])
    return counts


def _stored(conn: Connection, keys: list[str]) -> dict[str, tuple[Any, ...]]:
    """key -> (id, state, last_seen, severity, evidence, person_id, account_id) of the stored findings.

    ``last_seen`` as the driver returns it (comparable with :func:`driver_bulk.stamp`); ``evidence``
    as the JSON text stored (``json.dumps`` of the evidence, by this module and by SQLAlchemy's JSON
    type alike), compared with the draft's as text: the same content serialized differently only
    means one needless rewrite, never a missed change.
    """
    out: dict[str, tuple[Any, ...]] = {}
    for chunk in driver_bulk.chunks(keys):
        where, params = driver_bulk.any_of(conn, "key", chunk)
        for key, fid, state, seen, sev, evidence, person_id, account_id in driver_bulk.rows(
                conn, "SELECT key, id, state, last_seen, severity, CAST(evidence AS TEXT), person_id, account_id "
                      f"FROM finding WHERE {where}", params):
            out[key] = (fid, state, seen, sev, evidence, person_id, account_id)
    return out


def _write(conn: Connection, drafts: list[tuple[FindingDraft, str]], now: datetime) -> None:
    """Insert new findings, or update the changed ones (the columns the rule decides), in one executemany.

    Each draft comes with its evidence already serialized (``json.dumps``, as SQLAlchemy's JSON type does).
    """
    if not drafts:
        return
    when = driver_bulk.stamp(conn, now)
    columns = "key, rule, severity, system, account_id, grant_id, person_id, evidence, first_seen, last_seen, state"
    sql = (f"INSERT INTO finding ({columns}) VALUES ({driver_bulk.marks(conn, 11)}) ON CONFLICT (key) DO UPDATE SET "
           "severity = excluded.severity, evidence = excluded.evidence, last_seen = excluded.last_seen, "
           "person_id = excluded.person_id, account_id = excluded.account_id")
    driver_bulk.executemany(conn, sql, [
        (d.key, d.rule, d.severity, d.system, d.account_id, d.grant_id, d.person_id, evidence, when, when, "open")
        for d, evidence in drafts])
