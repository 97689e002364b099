"""Risk acceptance: an owner accepts a finding, or a pattern of findings, until a date.

Accepted findings are never revoked (a plan only takes open ones). When the exception expires or
is withdrawn, the findings it covered open again and the audit trail says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, text
from sqlmodel import Session, col

from accessward.sync import audit
from accessward.sync.clock import utcnow
from accessward.sync.models import Finding, RiskException

FINDINGS_SQL = """
SELECT f.id, f.rule, f.system, f.state, f.exception_id, a.external_id AS account, a.email,
       r.external_id AS resource
FROM finding f
LEFT JOIN account a ON a.id = f.account_id
LEFT JOIN access_grant g ON g.id = f.grant_id
LEFT JOIN resource r ON r.id = g.resource_id
WHERE f.state IN ('open', 'accepted')
"""


@dataclass
class ExceptionCounts:
    accepted: int = 0
    reopened: int = 0


def create(engine: Engine, *, owner: str, reason: str, expires_at: datetime, actor: str,
           finding_id: int | None = None, rule: str | None = None, system: str | None = None,
           account: str | None = None, resource: str | None = None) -> int:
    if not owner.strip() or not reason.strip():
        raise ValueError("an exception needs an owner and a reason")
    if expires_at <= utcnow():
        raise ValueError("an exception must expire in the future")
    if finding_id is None and not any((rule, system, account, resource)):
        raise ValueError("give a finding, or at least one of rule, system, account, resource")
    with Session(engine) as session:
        if finding_id is not None and session.get(Finding, finding_id) is None:
            raise ValueError(f"no finding {finding_id}")
        exc = RiskException(finding_id=finding_id, rule=rule, system=system, account=account, resource=resource,
                            owner=owner, reason=reason, expires_at=expires_at, created_by=actor)
        session.add(exc)
        session.flush()
        assert exc.id is not None
        audit.append(session.connection(), "exception.created", f"exception:{exc.id}", exc.model_dump(), actor=actor)
        session.commit()
        return exc.id


def withdraw(engine: Engine, exception_id: int, *, actor: str) -> None:
    with Session(engine) as session:
        exc = session.get(RiskException, exception_id)
        if exc is None or exc.withdrawn_at is not None:
            raise ValueError(f"no active exception {exception_id}")
        exc.withdrawn_at = utcnow()
        session.add(exc)
        audit.append(session.connection(), "exception.withdrawn", f"exception:{exception_id}", {}, actor=actor)
        session.commit()


def _matches(exc: RiskException, row: Any) -> bool:
    if exc.finding_id is not None:
        return bool(exc.finding_id == row.id)
    account_keys = {str(row.account or "").lower(), str(row.email or "").lower()}
    return ((exc.rule is None or exc.rule == row.rule)
            and (exc.system is None or exc.system == row.system)
            and (exc.account is None or exc.account.lower() in account_keys)
            and (exc.resource is None or exc.resource == row.resource))


def apply_exceptions(engine: Engine, now: datetime, *, actor: str = "system") -> ExceptionCounts:
    """Accept open findings an active exception covers; reopen accepted ones no longer covered."""
    counts = ExceptionCounts()
    with Session(engine) as session:
        active = list(session.execute(select(RiskException).where(
            col(RiskException.withdrawn_at).is_(None), col(RiskException.expires_at) > now)).scalars())
        conn = session.connection()
        # With no active exception nothing can be accepted, only accepted findings reopened: read only those.
        sql = FINDINGS_SQL if active else FINDINGS_SQL.replace("f.state IN ('open', 'accepted')",
                                                               "f.state = 'accepted'")
        for row in conn.execute(text(sql)).all():
            cover = next((e for e in active if _matches(e, row)), None)
            if cover is not None and (row.state != "accepted" or row.exception_id != cover.id):
                conn.execute(text("UPDATE finding SET state = 'accepted', exception_id = :e WHERE id = :id"),
                             {"e": cover.id, "id": row.id})
                audit.append(conn, "finding.accepted", f"finding:{row.id}",
                             {"exception": cover.id, "owner": cover.owner, "until": cover.expires_at}, actor=actor)
                counts.accepted += 1
            elif cover is None and row.state == "accepted":
                conn.execute(text("UPDATE finding SET state = 'open', exception_id = NULL WHERE id = :id"),
                             {"id": row.id})
                audit.append(conn, "finding.reopened", f"finding:{row.id}",
                             {"exception": row.exception_id, "why": "exception expired or withdrawn"}, actor=actor)
                counts.reopened += 1
        session.commit()
    return counts
