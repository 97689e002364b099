"""The audit trail: append-only, hash-chained events.

Each event's hash covers its own content and the previous event's hash, so editing or deleting
an event breaks the chain at that point and ``verify`` names it. It lives beside the store
(not in reconcile/) because sync runs are audited too and data flows only one way.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, select, text

from accessward.connectors.scrub import scrub, scrub_value
from accessward.sync.clock import utcnow
from accessward.sync.models import AuditEvent

_TABLE: Table = AuditEvent.__table__  # type: ignore[attr-defined]
_LOCK_KEY = 0x4157_4155  # "AWAU": serializes appends across PostgreSQL instances


def _canonical(value: Any) -> Any:
    """JSON round-trip, so the stored form and the hashed form are the same."""
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def event_hash(prev: str, at: datetime, actor: str, kind: str, subject: str, data: Any) -> str:
    payload = json.dumps(
        {"prev": prev, "at": at.isoformat(timespec="microseconds"), "actor": actor, "kind": kind,
         "subject": subject, "data": data},
        sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def append(conn: Connection, kind: str, subject: str = "", data: Any = None, *, actor: str = "system") -> str:
    """Append one event inside the caller's transaction; returns its hash."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    prev = conn.execute(select(_TABLE.c.hash).order_by(_TABLE.c.id.desc()).limit(1)).scalar() or ""
    at = utcnow()
    body = scrub_value(_canonical(data or {}))  # no secret enters the trail, where it could not be edited out
    subject = scrub(subject)
    digest = event_hash(prev, at, actor, kind, subject, body)
    conn.execute(_TABLE.insert().values(
        at=at, actor=actor, kind=kind, subject=subject, data=body, prev_hash=prev, hash=digest,
    ))
    return digest


def record(engine: Engine, kind: str, subject: str = "", data: Any = None, *, actor: str = "system") -> str:
    with engine.begin() as conn:
        return append(conn, kind, subject, data, actor=actor)


@dataclass(frozen=True)
class ChainProblem:
    event_id: int
    problem: str


def verify(engine: Engine) -> list[ChainProblem]:
    """Walk the chain in order; report every event whose hash or link does not hold."""
    problems: list[ChainProblem] = []
    prev = ""
    with engine.connect() as conn:
        rows = conn.execute(select(_TABLE).order_by(_TABLE.c.id)).mappings()
        for row in rows:
            if row["prev_hash"] != prev:
                problems.append(ChainProblem(row["id"], "link broken: an event before it was changed or removed"))
            expected = event_hash(row["prev_hash"], row["at"], row["actor"], row["kind"], row["subject"], row["data"])
            if expected != row["hash"]:
                problems.append(ChainProblem(row["id"], "content does not match its hash: the event was edited"))
            prev = row["hash"]
    return problems
