"""The offboarding receipt: every system, every grant, what was done, when, the result, what is pending.

Read-only: it shows the offboarding and its items as the last run left them, and for each system
how fresh the data it was planned from is (a system whose newest sync failed or is stale may hold
access the store has not seen yet; the receipt says so instead of claiming "all removed").
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from accessward.connectors.records import Level
from accessward.reconcile.health import source_problem
from accessward.reconcile.offboarding import FINAL
from accessward.sync.clock import utcnow
from accessward.sync.models import Person, SyncRun
from accessward.sync.service_models import Offboarding, OffboardingItem

IDP_KINDS = ("end_sessions", "disable_account")
STALE_HOURS = 36.0


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def _level(value: int | None) -> str | None:
    if value is None:
        return None
    try:
        return Level(value).name
    except ValueError:
        return str(value)


def _item(i: OffboardingItem) -> dict[str, Any]:
    out: dict[str, Any] = {
        "action": "revoke" if i.kind == "revoke_grant" else i.kind,
        "account": i.target, "account_name": i.target_name,
        "state": i.state, "detail": i.detail, "attempts": i.attempts, "at": _iso(i.done_at or i.updated_at),
        "request": i.request,
    }
    if i.kind == "revoke_grant":
        out.update(resource=i.resource, resource_name=i.resource_name, role=i.role, level=_level(i.level))
    return out


def _last_good(session: Session, source: str) -> datetime | None:
    return session.execute(select(col(SyncRun.finished_at)).where(
        col(SyncRun.source) == source, col(SyncRun.status) == "succeeded").order_by(col(SyncRun.id).desc()).limit(1)
    ).scalar()


def build(engine: Engine, request_id: str, *, stale_after_hours: float = STALE_HOURS) -> dict[str, Any] | None:
    """The receipt of the offboarding ``request_id`` (the caller's id), or None."""
    with Session(engine) as session:
        ob = session.execute(select(Offboarding).where(col(Offboarding.request_id) == request_id)).scalars().first()
        if ob is None:
            return None
        items = list(session.execute(select(OffboardingItem).where(
            col(OffboardingItem.offboarding_id) == ob.id).order_by(col(OffboardingItem.id))).scalars())
        people = list(session.execute(select(Person).where(col(Person.id).in_(ob.person_ids))).scalars())
        by_system: dict[str, list[OffboardingItem]] = defaultdict(list)
        for i in items:
            by_system[i.system].append(i)
        now = utcnow()
        systems = []
        for system in sorted(by_system, key=lambda s: (not any(i.kind in IDP_KINDS for i in by_system[s]), s)):
            rows = by_system[system]
            entry: dict[str, Any] = {
                "system": system,
                "kind": "identity_provider" if any(i.kind in IDP_KINDS for i in rows) else "access",
                "status": "done" if all(i.state in FINAL for i in rows) else "pending",
                "data_as_of": _iso(_last_good(session, system)),
                "items": [_item(i) for i in rows],
            }
            warning = source_problem(engine, system, now, stale_after_hours)
            if warning:
                entry["warning"] = f"{warning}: access added since may not be listed here"
            systems.append(entry)
    counts: dict[str, int] = defaultdict(int)
    for i in items:
        counts[i.state] += 1
    pending = [{"system": i.system, **{k: v for k, v in _item(i).items() if k != "request"}}
               for i in items if i.state not in FINAL]
    return {
        "request_id": ob.request_id,
        "status": ob.status,
        "person": {"key": ob.person_key, "name": ob.person_name, "employee_id": ob.employee_id,
                   "records": [{"source": p.source, "id": p.source_key} for p in people]},
        "effective_at": _iso(ob.effective_at), "requested_by": ob.requested_by, "source": ob.source,
        "reason": ob.reason, "requested_at": _iso(ob.created_at), "started_at": _iso(ob.started_at),
        "completed_at": _iso(ob.completed_at), "attempts": ob.attempts,
        "next_attempt_at": _iso(ob.next_attempt_at) if ob.status != "done" else None,
        "summary": {"items": len(items), **counts},
        "systems": systems,
        "pending": pending,
        "notes": list(ob.notes) + ([ob.last_error] if ob.status == "not_found" and ob.last_error else []),
        "problem": ob.last_error if ob.status in ("in_progress", "partially_done") else None,
    }
