"""SCIM deprovisionings of people no identity source knows yet: kept, visible, retried, then acted on.

An identity provider may deprovision someone before the directory sync has brought them in (a
new hire who leaves in week one, an IdP that sees the account before LDAP does). The SCIM answer
stays 2xx (the IdP must not retry forever), and the offboarding is recorded as ``not_found``; this
module keeps it *waiting*: after each identity sync (:func:`retry`, called by
``jobs.sync_sources`` and ``accessward sync``) the SCIM user's keys are tried again, and the first
key that names exactly one person turns the offboarding into a scheduled one, which the
offboarding job then carries out as any other. After ``service.scim_unmatched_retry_days`` the
wait ends (``expired``): an old deprovisioning never catches a person who turns up months later.

Every step is an audit event, so whatever watches the trail (the notification outbox) can tell
people: :data:`EVENT_UNMATCHED` when one arrives, :data:`EVENT_MATCHED` when it is started,
:data:`EVENT_EXPIRED` when it gives up. Each is also a finding of rule :data:`RULE` (open while
waiting and after it gives up, resolved once matched; it names no grant, so no plan ever acts on
it), the receipt carries the same story in its notes, and ``accessward_scim_unmatched{state}``
counts them.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select, update
from sqlmodel import Session, col

from accessward.reconcile.subject import PersonNotFound, Subject, resolve
from accessward.sync import audit
from accessward.sync.clock import utcnow
from accessward.sync.models import Finding
from accessward.sync.service_models import Offboarding, ScimUnmatched

log = logging.getLogger("accessward.scim")

EVENT_UNMATCHED = "scim.unmatched"
EVENT_MATCHED = "scim.unmatched_matched"
EVENT_EXPIRED = "scim.unmatched_expired"
EVENT_REACTIVATED = "scim.reactivated"  # an IdP turned a deprovisioned user back on (api/scim.py records it)
#: The audit event kinds a notification channel subscribes to: each needs a person to look.
NOTIFY = (EVENT_UNMATCHED, EVENT_MATCHED, EVENT_EXPIRED, EVENT_REACTIVATED)
RULE = "scim_unmatched"


def _finding_key(offboarding_id: int) -> str:
    return f"{RULE}:offboarding:{offboarding_id}"


def _stamp(at: datetime) -> str:
    return at.isoformat(timespec="seconds") + "Z"


def record(engine: Engine, offboarding_id: int, *, scim_user_id: str, user_name: str, keys: list[str],
           window: timedelta, actor: str) -> ScimUnmatched:
    """Keep the ``not_found`` offboarding ``offboarding_id`` waiting for its person (once)."""
    now = utcnow()
    with Session(engine) as session:
        existing: ScimUnmatched | None = session.execute(select(ScimUnmatched).where(
            col(ScimUnmatched.offboarding_id) == offboarding_id)).scalars().first()
        if existing is not None:
            return existing
        row = ScimUnmatched(offboarding_id=offboarding_id, scim_user_id=scim_user_id, user_name=user_name,
                            keys=keys, received_at=now, retry_until=now + window,
                            state="waiting" if window > timedelta(0) else "expired",
                            settled_at=None if window > timedelta(0) else now)
        session.add(row)
        ob = session.get(Offboarding, offboarding_id)
        if ob is not None:
            ob.notes = [*ob.notes, f"no identity source knows {user_name} yet: retried after each identity sync "
                                   f"until {_stamp(row.retry_until)}, started as soon as the person appears"]
            ob.updated_at = now
            session.add(ob)
        session.add(Finding(key=_finding_key(offboarding_id), rule=RULE, severity="high", system="scim",
                            first_seen=now, last_seen=now, evidence={
                                "reason": f"SCIM deprovisioning of {user_name} matches no person yet; retried "
                                          f"after each identity sync until {_stamp(row.retry_until)}",
                                "request_id": ob.request_id if ob else None, "scim_user": scim_user_id}))
        session.flush()
        audit.append(session.connection(), EVENT_UNMATCHED, f"offboarding:{ob.request_id if ob else offboarding_id}",
                     {"scim_user": scim_user_id, "user_name": user_name, "keys": len(keys),
                      "retry_until": _stamp(row.retry_until)}, actor=actor)
        session.commit()
        session.refresh(row)
        return row


def _match(engine: Engine, keys: list[str]) -> tuple[str, Subject] | None:
    for key in keys:
        try:
            return key, resolve(engine, key)
        except PersonNotFound:
            continue
    return None


def retry(engine: Engine, *, now: datetime | None = None, actor: str = "scheduler") -> list[int]:
    """Try every waiting deprovisioning again; answer the offboardings now scheduled (due at once)."""
    now = now or utcnow()
    with Session(engine) as session:
        waiting = list(session.execute(select(ScimUnmatched).where(col(ScimUnmatched.state) == "waiting")
                                       .order_by(col(ScimUnmatched.id))).scalars())
    started: list[int] = []
    for row in waiting:
        if now > row.retry_until:
            _settle(engine, row, "expired", now, actor, None)
            continue
        found = _match(engine, list(row.keys))
        if found is None:
            with Session(engine) as session:
                session.execute(update(ScimUnmatched).where(col(ScimUnmatched.id) == row.id).values(
                    attempts=col(ScimUnmatched.attempts) + 1, last_tried_at=now))
                session.commit()
            continue
        if _settle(engine, row, "matched", now, actor, found):
            started.append(row.offboarding_id)
    return started


def _settle(engine: Engine, row: ScimUnmatched, state: str, now: datetime, actor: str,
            found: tuple[str, Subject] | None) -> bool:
    """Close the wait; a match turns the offboarding into a scheduled one. False if another run did it."""
    with Session(engine) as session:
        claimed = session.execute(update(ScimUnmatched).where(
            col(ScimUnmatched.id) == row.id, col(ScimUnmatched.state) == "waiting").values(
            state=state, settled_at=now, last_tried_at=now, attempts=col(ScimUnmatched.attempts) + 1,
            matched_key=found[0] if found else None))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            return False
        ob = session.get(Offboarding, row.offboarding_id)
        if ob is None:
            session.commit()
            return False
        if found is not None:
            key, subject = found
            if ob.status != "not_found":
                session.rollback()
                return False
            ob.person_key, ob.person_ids, ob.person_name = key, list(subject.person_ids), subject.name
            ob.employee_id, ob.status, ob.next_attempt_at, ob.last_error = subject.employee_id, "scheduled", now, None
            ob.notes = [*ob.notes, f"{_stamp(now)}: the person appeared in an identity sync (matched on {key}); "
                                   "the offboarding started"]
            kind, data = EVENT_MATCHED, {"person": key, "records": list(subject.person_ids)}
            reason = f"SCIM deprovisioning of {row.user_name} matched {key} after an identity sync; offboarding"
        else:
            ob.notes = [*ob.notes, f"{_stamp(now)}: nobody matched within the retry window; no longer retried"]
            kind, data = EVENT_EXPIRED, {"retry_until": _stamp(row.retry_until)}
            reason = (f"SCIM deprovisioning of {row.user_name} matched nobody by {_stamp(row.retry_until)}; "
                      "no longer retried: offboard by hand (accessward offboard) if the person has access")
        finding = session.execute(select(Finding).where(
            col(Finding.key) == _finding_key(row.offboarding_id))).scalars().first()
        if finding is not None:
            finding.evidence = {**finding.evidence, "reason": reason}
            finding.last_seen = now
            if found is not None:
                finding.state, finding.resolved_at = "resolved", now
                finding.person_id = found[1].person_ids[0] if found[1].person_ids else None
            session.add(finding)
        ob.updated_at = now
        session.add(ob)
        session.flush()
        audit.append(session.connection(), kind, f"offboarding:{ob.request_id}",
                     {"scim_user": row.scim_user_id, "user_name": row.user_name, **data}, actor=actor)
        session.commit()
    log.info("SCIM unmatched deprovisioning settled", extra={"offboarding": row.offboarding_id, "state": state})
    return True


def counts(engine: Engine) -> dict[str, int]:
    """Deprovisionings by state (waiting, matched, expired), for metrics and reports."""
    with Session(engine) as session:
        rows = session.execute(select(col(ScimUnmatched.state), func.count()).group_by(col(ScimUnmatched.state)))
        return {state: int(n) for state, n in rows}
