"""audit digest: each event's hash covers a digest of its body, so a body can be redacted

Revision ID: 0006_audit_digest
Revises: 0005
Create Date: 2026-12-01 20:30:00

The old chain is verified first (an edited or broken trail is never re-chained: that would
launder the tampering; the migration stops and says which events are wrong). Then every event
gets ``digest`` = SHA-256 of its canonical body, the chain is rebuilt over (prev, at, actor,
kind, subject, digest), and an ``audit.rechained`` event records the old head hash and the
number of events, so the old chain stays provable from a copy taken before the upgrade.
The hash functions are written out here, not imported: a migration must keep meaning what it
meant when it ran.
"""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0006_audit_digest'
down_revision = '0005'
branch_labels = None
depends_on = None


def _old_hash(prev: str, at: datetime, actor: str, kind: str, subject: str, data: Any) -> str:
    payload = json.dumps({"prev": prev, "at": at.isoformat(timespec="microseconds"), "actor": actor, "kind": kind,
                          "subject": subject, "data": data}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _new_hash(prev: str, at: datetime, actor: str, kind: str, subject: str, digest: str) -> str:
    payload = json.dumps({"prev": prev, "at": at.isoformat(timespec="microseconds"), "actor": actor, "kind": kind,
                          "subject": subject, "digest": digest}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


EVENTS = sa.table(
    "audit_event", sa.column("id", sa.Integer), sa.column("at", sa.DateTime), sa.column("actor", sa.String),
    sa.column("kind", sa.String), sa.column("subject", sa.String), sa.column("data", sa.JSON),
    sa.column("prev_hash", sa.String), sa.column("hash", sa.String), sa.column("digest", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
    conn = op.get_bind()
    rows = list(conn.execute(sa.select(EVENTS).order_by(EVENTS.c.id)).mappings())
    prev, broken = "", []
    for row in rows:
        if row["prev_hash"] != prev or _old_hash(row["prev_hash"], row["at"], row["actor"], row["kind"],
                                                 row["subject"], row["data"]) != row["hash"]:
            broken.append(int(row["id"]))
        prev = row["hash"]
    if broken:
        raise RuntimeError(
            f"the audit trail does not verify (events {', '.join(map(str, broken[:20]))}); it is not re-chained. "
            "Keep a copy of the store for the auditors, then remove or restore those events and upgrade again.")
    if not rows:  # a new store: no old chain to record
        return
    old_head, prev = prev, ""
    for row in rows:
        digest = _digest(row["data"])
        new = _new_hash(prev, row["at"], row["actor"], row["kind"], row["subject"], digest)
        conn.execute(sa.update(EVENTS).where(EVENTS.c.id == row["id"]).values(prev_hash=prev, hash=new,
                                                                              digest=digest))
        prev = new
    at = datetime.now(UTC).replace(tzinfo=None)
    data = {"old_head": old_head, "events": len(rows), "scheme": "sha256 over (prev, at, actor, kind, subject, "
            "digest of the body)", "migration": revision}
    digest = _digest(data)
    conn.execute(sa.insert(EVENTS).values(
        at=at, actor="system", kind="audit.rechained", subject="audit", data=data, prev_hash=prev,
        hash=_new_hash(prev, at, "system", "audit.rechained", "audit", digest), digest=digest))


def downgrade() -> None:
    # The old scheme hashed bodies directly; going back re-chains that way (a redacted body stays redacted).
    conn = op.get_bind()
    conn.execute(sa.delete(EVENTS).where(EVENTS.c.kind == "audit.rechained"))
    prev = ""
    for row in list(conn.execute(sa.select(EVENTS).order_by(EVENTS.c.id)).mappings()):
        new = _old_hash(prev, row["at"], row["actor"], row["kind"], row["subject"], row["data"])
        conn.execute(sa.update(EVENTS).where(EVENTS.c.id == row["id"]).values(prev_hash=prev, hash=new))
        prev = new
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_column('digest')
