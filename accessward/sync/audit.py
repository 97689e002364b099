"""The audit trail: append-only, hash-chained events.

Each event's hash covers its header (time, actor, kind, subject), the SHA-256 ``digest`` of its
body and the previous event's hash, so editing or deleting an event breaks the chain at that point
and ``verify`` names it. The body is covered through its digest, not directly, so that a body which
holds a secret (written by an older version, before scrubbing) can be replaced by its redacted
form: the digest stays, the chain still holds, and the replacement is allowed only for the events
an ``audit.redacted`` event lists with the digest of their new body (``sync.audit_redact``).
Bodies are scrubbed of secrets before they are written (``connectors.scrub``).

It lives beside the store (not in reconcile/) because sync runs are audited too and data flows only
one way.
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
REDACTED_KIND = "audit.redacted"


def _canonical(value: Any) -> Any:
    """JSON round-trip, so the stored form and the hashed form are the same."""
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def body_digest(data: Any) -> str:
    """SHA-256 of a body in its canonical JSON form."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def event_hash(prev: str, at: datetime, actor: str, kind: str, subject: str, digest: str) -> str:
    payload = json.dumps(
        {"prev": prev, "at": at.isoformat(timespec="microseconds"), "actor": actor, "kind": kind,
         "subject": subject, "digest": digest},
        sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def append(conn: Connection, kind: str, subject: str = "", data: Any = None, *, actor: str = "system") -> str:
    """Append one event inside the caller's transaction; returns its hash."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    elif conn.dialect.name == "sqlite":
        # Take SQLite's write lock before reading the last hash: a statement that writes (here,
        # nothing) begins the write transaction, so two threads of one process (the service's
        # workers, an offboarding's revocation lanes) cannot both chain onto the same event.
        conn.execute(text("UPDATE audit_event SET id = id WHERE 0 = 1"))
    prev = conn.execute(select(_TABLE.c.hash).order_by(_TABLE.c.id.desc()).limit(1)).scalar() or ""
    at = utcnow()
    body = scrub_value(_canonical(data or {}))  # no secret enters the trail, where it could not be edited out
    subject = scrub(subject)
    digest = body_digest(body)
    chained = event_hash(prev, at, actor, kind, subject, digest)
    conn.execute(_TABLE.insert().values(
        at=at, actor=actor, kind=kind, subject=subject, data=body, prev_hash=prev, hash=chained, digest=digest,
    ))
    return chained


def record(engine: Engine, kind: str, subject: str = "", data: Any = None, *, actor: str = "system") -> str:
    with engine.begin() as conn:
        return append(conn, kind, subject, data, actor=actor)


@dataclass(frozen=True)
class ChainProblem:
    event_id: int
    problem: str


def redacted_digests(conn: Connection) -> dict[int, set[str]]:
    """Per event id: the digests its body may have after the redactions the trail records."""
    allowed: dict[int, set[str]] = {}
    for (data,) in conn.execute(select(_TABLE.c.data).where(_TABLE.c.kind == REDACTED_KIND)):
        for event_id, digest in (data or {}).get("events", {}).items():
            allowed.setdefault(int(event_id), set()).add(str(digest))
    return allowed


def verify(engine: Engine) -> list[ChainProblem]:
    """Walk the chain in order; report every event whose hash, link or body does not hold."""
    problems: list[ChainProblem] = []
    prev = ""
    with engine.connect() as conn:
        redactions = redacted_digests(conn)
        rows = conn.execute(select(_TABLE).order_by(_TABLE.c.id)).mappings()
        for row in rows:
            if row["prev_hash"] != prev:
                problems.append(ChainProblem(row["id"], "link broken: an event before it was changed or removed"))
            expected = event_hash(row["prev_hash"], row["at"], row["actor"], row["kind"], row["subject"],
                                  row["digest"])
            if expected != row["hash"]:
                problems.append(ChainProblem(row["id"], "content does not match its hash: the event was edited"))
            else:
                body = body_digest(row["data"])
                if body != row["digest"] and body not in redactions.get(int(row["id"]), set()):
                    problems.append(ChainProblem(row["id"], "body does not match its digest: the event was edited"))
            prev = row["hash"]
    return problems
