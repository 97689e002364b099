"""The audit trail as a report: each event with its hash, and whether the chain holds at it.

The verification is the store's own (``sync.audit.verify``) over the whole chain, not only the
rows shown: an event edited before the period breaks every later link, and the report says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, text

from accessward.reports.filters import Filters, Where
from accessward.sync import audit

AUDIT_COLUMNS = ("id", "at", "actor", "kind", "subject", "data", "prev_hash", "hash", "verified")

AUDIT_SQL = "SELECT id, at, actor, kind, subject, data, prev_hash, hash FROM audit_event {where} ORDER BY id"


@dataclass(frozen=True)
class ChainStatus:
    events: int
    head: str
    head_id: int | None
    problems: dict[int, str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"events": self.events, "head": self.head, "head_id": self.head_id, "verified": self.ok,
                "problems": [{"event": k, "problem": v} for k, v in sorted(self.problems.items())]}


def chain_status(engine: Engine) -> ChainStatus:
    problems: dict[int, str] = {}
    for p in audit.verify(engine):
        problems[p.event_id] = "; ".join(filter(None, (problems.get(p.event_id), p.problem)))
    with engine.connect() as conn:
        count = int(conn.execute(text("SELECT COUNT(*) FROM audit_event")).scalar_one())
        head = conn.execute(text("SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1")).first()
    return ChainStatus(count, str(head.hash) if head else "", int(head.id) if head else None, problems)


def audit_rows(engine: Engine, filters: Filters | None = None,
               status: ChainStatus | None = None) -> Iterator[dict[str, Any]]:
    filters = filters or Filters()
    status = status or chain_status(engine)
    w = Where()
    if filters.since:
        w.add("at >= :since", since=filters.since)
    if filters.until:
        w.add("at < :until", until=filters.until)
    if filters.state:  # the event kind, e.g. revocation.done
        w.add("kind = :kind", kind=filters.state)
    if filters.system:
        w.add("CAST(data AS TEXT) LIKE :system_any", system_any=f'%"system": "{filters.system}"%')
    with engine.connect() as conn:
        stmt = text(AUDIT_SQL.format(where=w.sql())).columns(at=DateTime, data=JSON)
        for row in conn.execution_options(stream_results=True, yield_per=5000).execute(stmt, w.params).mappings():
            out = dict(row)
            out["data"] = json.dumps(out["data"], sort_keys=True, default=str)
            out["verified"] = status.problems.get(int(out["id"]), "ok")
            yield out
