"""The decisions people take from the HTTP API and the console: one function each, one authorisation.

The CLI, ``/v1`` and the console's forms all end here (or in the reconcile functions these call),
so a plan started in the console is the plan ``accessward plan`` would make, an approval is
``executor.approve`` with four-eyes, and every one is audited against the principal who took it.
Roles are checked by :func:`allowed`, the same rule ``api.auth.require`` applies to a token:
one of the listed roles, or ``admin``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from accessward.reconcile import exceptions, executor, links, offboarding
from accessward.reconcile.four_eyes import check_finding_not_own
from accessward.reconcile.plan import PlanResult, build_plan
from accessward.reconcile.run import reconcile as run_reconcile
from accessward.runtime import Runtime
from accessward.sync import audit
from accessward.sync.clock import utcnow
from accessward.sync.models import Account, Action, Plan
from accessward.sync.principals import PrincipalRef
from accessward.sync.service_models import Offboarding


class Refused(PermissionError):
    """The caller's role does not allow this (HTTP 403)."""


def allowed(have: Iterable[str], *roles: str) -> str | None:
    """The role (of ``have``) under which a caller may act, or None: one of ``roles``, or admin."""
    have = set(have)
    if "admin" in have:
        return "admin"
    for role in roles:
        if role in have:
            return role
    return None


@dataclass(frozen=True)
class StartedPlan:
    plan_id: int | None
    status: str
    reason: str
    revocations: int
    held: list[dict[str, Any]]


def start_plan(rt: Runtime, who: PrincipalRef) -> StartedPlan:
    """Reconcile, then plan as ``who`` (who therefore cannot approve it under four-eyes)."""
    cfg = rt.settings
    identity = [s.name for s in cfg.identity_sources]
    run_reconcile(rt.engine, cfg.policy, actor=who.actor, identity_sources=identity)
    with rt.connectors() as (revokers, _idps):
        result: PlanResult = build_plan(rt.engine, cfg.policy, revokers, identity, utcnow(), actor=who.actor,
                                        principal_id=who.id)
    held = [{"system": i.system, "resource": i.resource, "account": i.account, "role": i.role,
             "rule": i.rule, "why": i.held_because} for i in result.held]
    if result.plan_id is not None and held:
        with Session(rt.engine) as session:  # kept, so the plan page can say what it held back and why
            audit.append(session.connection(), "plan.held", f"plan:{result.plan_id}", {"held": held},
                         actor=who.actor)
            session.commit()
    return StartedPlan(result.plan_id, result.status, result.reason, len(result.revocations), held)


def approve_plan(rt: Runtime, plan_id: int, who: PrincipalRef, note: str = "") -> None:
    """Four-eyes approval (``FourEyesRefused`` when ``who`` started it); ValueError when it waits for nothing."""
    executor.approve(rt.engine, plan_id, who=who, four_eyes=rt.settings.policy.four_eyes, note=note)


def reject_plan(rt: Runtime, plan_id: int, who: PrincipalRef, reason: str) -> None:
    """Reject a plan that waits for approval: it is closed and none of its actions will run."""
    if not reason.strip():
        raise ValueError("say why the plan is rejected")
    with Session(rt.engine) as session:
        plan = session.get(Plan, plan_id)
        if plan is None:
            raise ValueError(f"no plan {plan_id}")
        if plan.status != "needs_approval":
            raise ValueError(f"plan {plan_id} is {plan.status}; only a plan that needs approval can be rejected")
        plan.status = "rejected"
        session.add(plan)
        conn = session.connection()
        conn.execute(update(Action).where(col(Action.plan_id) == plan_id, col(Action.state) == "planned")
                     .values(state="cancelled", last_error=f"plan rejected by {who.actor}"))
        audit.append(conn, "plan.rejected", f"plan:{plan_id}", {"reason": reason, "principal_id": who.id},
                     actor=who.actor)
        session.commit()


def accept_finding(rt: Runtime, who: PrincipalRef, finding_id: int, *, owner: str, reason: str,
                   expires_at: datetime) -> int:
    """Accept a finding's risk until ``expires_at`` (never one's own access under four-eyes)."""
    if rt.settings.policy.four_eyes:
        check_finding_not_own(rt.engine, who, finding_id)
    return exceptions.create(rt.engine, owner=owner, reason=reason, expires_at=expires_at, actor=who.actor,
                             finding_id=finding_id)


def link_account(rt: Runtime, who: PrincipalRef, account_id: int, person_key: str) -> tuple[int, int]:
    """Link an account (by its store id) to a person by hand; correlation keeps the link."""
    with Session(rt.engine) as session:
        acct = session.get(Account, account_id)
        if acct is None:
            raise ValueError(f"no account {account_id}")
        system, external = acct.system, acct.external_id
    return links.link(rt.engine, system, external, person_key, actor=who.actor)


def offboard(rt: Runtime, *, person_key: str, requested_by: str, reason: str = "",
             effective_at: datetime | None = None, request_id: str | None = None,
             wait_seconds: float | None = None) -> Offboarding:
    """Record an HR offboarding and run it now when it is due (waiting a little for the receipt)."""
    import concurrent.futures

    effective = effective_at or utcnow()
    ob, created = offboarding.request(rt.engine, request_id=request_id or f"console-{uuid.uuid4().hex[:12]}",
                                      person_key=person_key, effective_at=effective, requested_by=requested_by,
                                      source="console", reason=reason)
    if created and ob.effective_at <= utcnow() and ob.id is not None:
        future = rt.submit_offboarding(ob.id, actor=requested_by)
        try:
            future.result(timeout=rt.settings.service.request_wait_seconds if wait_seconds is None else wait_seconds)
        except concurrent.futures.TimeoutError:
            pass  # still running: the receipt page shows it so far
    return ob


def default_expiry(days: int = 90) -> datetime:
    return utcnow() + timedelta(days=days)


def recent_offboardings(rt: Runtime, limit: int = 200) -> list[Offboarding]:
    with Session(rt.engine) as session:
        return list(session.exec(select(Offboarding).order_by(col(Offboarding.id).desc()).limit(limit)))
