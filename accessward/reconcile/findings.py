"""Findings have a life: first seen, last seen, resolved when the access is gone.

A rule evaluation writes every finding it produced this run (insert or touch), reopens any that
had been resolved, and resolves the open ones it no longer produced.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, update

from accessward.sync.bulk import upsert
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
    counts = FindingCounts()
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        with engine.begin() as conn:
            upsert(conn, _F, batch, keys=("key",),
                   update=["severity", "evidence", "last_seen", "person_id", "account_id"])
        counts.current += len(batch)
        batch.clear()

    for d in drafts:
        batch.append({
            "key": d.key, "rule": d.rule, "severity": d.severity, "system": d.system,
            "account_id": d.account_id, "grant_id": d.grant_id, "person_id": d.person_id,
            "evidence": d.evidence, "first_seen": now, "last_seen": now, "state": "open",
        })
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    with engine.begin() as conn:
        counts.reopened = int(conn.execute(
            update(_F).where(_F.c.rule == rule, _F.c.state == "resolved", _F.c.last_seen == now)
            .values(state="open", resolved_at=None, first_seen=now)  # a reopened finding's grace starts again
        ).rowcount or 0)
        counts.resolved = int(conn.execute(
            update(_F).where(_F.c.rule == rule, _F.c.state.in_(["open", "accepted"]), _F.c.last_seen < now)
            .values(state="resolved", resolved_at=now)
        ).rowcount or 0)
    return counts
