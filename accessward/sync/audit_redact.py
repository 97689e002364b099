"""``accessward audit redact``: take a secret out of a trail that already holds it.

Trails written before secrets were scrubbed may quote a token a platform echoed. The chain forbids
editing, so the redaction is itself audited: each affected body is replaced by its scrubbed form
(the event keeps its digest, hash and place in the chain), and one ``audit.redacted`` event lists
the ids and the digests of their new bodies. ``audit verify`` then accepts exactly those bodies for
exactly those events, and still proves every other byte of the trail unchanged. The secret itself is
never written anywhere (not even hashed): only where it was.

The error columns outside the trail (sync runs, outbox actions, offboardings) are not chained; they
are scrubbed in place.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Table, select, update

from accessward.connectors.scrub import REDACTED, scrub
from accessward.sync import audit
from accessward.sync.models import Action, AuditEvent, SyncRun

_EVENTS: Table = AuditEvent.__table__  # type: ignore[attr-defined]


@dataclass
class RedactReport:
    events: list[int] = field(default_factory=list)
    other_rows: int = 0
    recorded_as: str | None = None  # the hash of the audit.redacted event


def _redact(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return scrub(value, extra=secrets)
    if isinstance(value, dict):
        return {(_redact(k, secrets) if isinstance(k, str) else k): _redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, secrets) for v in value]
    return value


def redact(engine: Engine, secrets: Iterable[str], *, actor: str, dry_run: bool = False) -> RedactReport:
    """Remove ``secrets`` (and every registered secret and credential shape) from the stored trail."""
    wanted = tuple(s for s in secrets if s)
    report = RedactReport()
    with engine.begin() as conn:
        rows = list(conn.execute(select(_EVENTS.c.id, _EVENTS.c.subject, _EVENTS.c.data).order_by(_EVENTS.c.id)))
        new_digests: dict[str, str] = {}
        for event_id, subject, data in rows:
            cleaned = _redact(data, wanted)
            if cleaned == data:
                continue
            if _redact(subject, wanted) != subject:
                # the subject is part of the hashed header: it cannot change without breaking the chain
                cleaned = {**cleaned, "_subject_holds_a_secret": True}
            report.events.append(int(event_id))
            new_digests[str(event_id)] = audit.body_digest(cleaned)
            if not dry_run:
                conn.execute(update(_EVENTS).where(_EVENTS.c.id == event_id).values(data=cleaned))
        for model, column in ((SyncRun, "error"), (Action, "last_error")):
            table: Table = model.__table__  # type: ignore[attr-defined, union-attr]
            for row_id, value in list(conn.execute(select(table.c.id, table.c[column]).where(
                    table.c[column].is_not(None)))):
                cleaned_text = scrub(str(value), extra=wanted)
                if cleaned_text != value:
                    report.other_rows += 1
                    if not dry_run:
                        conn.execute(update(table).where(table.c.id == row_id).values({column: cleaned_text}))
        if report.events and not dry_run:
            report.recorded_as = audit.append(conn, audit.REDACTED_KIND, "audit", {
                "events": new_digests, "count": len(new_digests), "other_rows": report.other_rows,
                "replacement": REDACTED,
            }, actor=actor)
    if (report.events or report.other_rows) and not dry_run and engine.dialect.name == "sqlite":
        # SQLite keeps freed pages (and the WAL) on disk: rewrite the file so the old bytes are gone too
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return report
