"""Closing an access review: its revoke and reduce decisions become a plan run through the outbox.

A reviewer's decision replaces a finding, not the safety checks: the plan is judged by the revocation
threshold (above it, it waits for ``accessward approve``), the last admin of a resource is never removed
(a downgrade from admin counts as a removal), break-glass accounts are never touched, a system whose newest
sync failed or went stale waits, and an unverifiable grant becomes a manual step. Decisions that came from
the non-response rule are automatic, so they also wait while an identity source is unfit (as the
reconciler's do). A reduce goes through the system's ``Reducer``; where the platform has no call to set a
lower role, it becomes a revocation plus a manual step to grant the lower role, and the item says so.

Closing is idempotent and can be repeated: it finishes the campaign's approved or interrupted plans, plans
only what is not yet done, and leaves held items with their reason (a second close re-checks them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Engine, Table, text, update
from sqlmodel import Session, col, select

from accessward.connectors.errors import ConnectorError
from accessward.connectors.protocols import Reducer, Revoker
from accessward.connectors.records import Level
from accessward.reconcile import executor, health
from accessward.reconcile.plan import (
    Item,
    PlanResult,
    grant_ref,
    grants_in_flight,
    is_break_glass,
    judge_threshold,
    persist_plan,
)
from accessward.reconcile.policy import PolicySettings
from accessward.reconcile.reviews import NotFound, apply_non_response
from accessward.reconcile.takes import Guard, Taken, describe_takes, in_flight_removals, takes_for
from accessward.sync import audit
from accessward.sync.clock import utcnow
from accessward.sync.models import Action, Plan
from accessward.sync.review_models import ReviewCampaign, ReviewItem

FINAL = ("done", "already_gone")
_ITEMS: Table = ReviewItem.__table__  # type: ignore[attr-defined]
GRANT_SQL = """
SELECT g.id AS grant_id, g.system, g.role, g.level, g.verifiable, g.resource_id, g.seen_to, g.account_id,
       a.external_id AS account, a.email, a.kind AS account_kind, r.external_id AS resource, r.kind AS resource_kind,
       r.name AS resource_name, COALESCE(l.disputed, :no) AS disputed
FROM access_grant g JOIN account a ON a.id = g.account_id JOIN resource r ON r.id = g.resource_id
LEFT JOIN link l ON l.account_id = a.id
WHERE g.id = :id
"""


@dataclass
class CloseResult:
    campaign_id: int
    status: str  # closing | closed
    plan_id: int | None = None
    plan_status: str = ""
    reason: str = ""
    outcomes: dict[str, int] = field(default_factory=dict)


@dataclass
class Closer:
    """What closing needs from outside the store."""

    revokers: Mapping[str, Revoker]
    policy: PolicySettings
    identity_sources: Sequence[str]
    attempts: int = 3
    backoff: float = 1.0
    sleep: Callable[[float], None] = time.sleep


def close(engine: Engine, campaign_id: int, tools: Closer, *, actor: str, now: datetime | None = None) -> CloseResult:
    now = now or utcnow()
    with Session(engine) as session:
        campaign = session.get(ReviewCampaign, campaign_id)
        if campaign is None:
            raise NotFound(f"no review campaign {campaign_id}")
        key, was = campaign.key, campaign.status
    if was == "open":  # closing first: a decision arriving now is refused rather than lost under the rule's
        _set(engine, campaign_id, status="closing")
        apply_non_response(engine, campaign_id)
    result = CloseResult(campaign_id, "closing")
    blocked = health.problems(engine, tools.revokers.keys(), now, tools.policy.stale_after_hours)
    for plan_id in _plans(engine, campaign_id, ("approved", "applying")):
        executor.execute(engine, plan_id, tools.revokers, max_attempts=tools.attempts, backoff=tools.backoff,
                         sleep=tools.sleep, actor=actor, blocked=blocked)
    _refresh(engine, campaign_id)
    waiting = _plans(engine, campaign_id, ("needs_approval",))
    if waiting:
        result.plan_id, result.plan_status = waiting[-1], "needs_approval"
        result.reason = f"plan {waiting[-1]} waits for approval (accessward approve {waiting[-1]})"
    else:
        plan = _plan(engine, campaign_id, key, tools, now, actor)
        result.plan_id, result.plan_status, result.reason = plan.plan_id, plan.status, plan.reason
        if plan.plan_id is not None and plan.status == "ready":
            executor.execute(engine, plan.plan_id, tools.revokers, max_attempts=tools.attempts,
                             backoff=tools.backoff, sleep=tools.sleep, actor=actor, blocked=blocked)
        _refresh(engine, campaign_id)
    with engine.connect() as conn:
        counts = {str(o or "undecided"): int(n) for o, n in conn.execute(
            text("SELECT outcome, COUNT(*) FROM review_item WHERE campaign_id = :c GROUP BY outcome"),
            {"c": campaign_id})}
    result.outcomes = dict(sorted(counts.items()))
    busy = bool(counts.get("planned") or counts.get("needs_approval"))
    result.status = "closing" if busy else "closed"
    _set(engine, campaign_id, status=result.status, closed_by=actor if not busy else None,
         closed_at=utcnow() if not busy else None, note=result.reason)
    audit.record(engine, "review.closed" if not busy else "review.closing", f"review:{campaign_id}", {
        "campaign_id": campaign_id, "campaign_key": key, "plan": result.plan_id, "plan_status": result.plan_status,
        "reason": result.reason,
        "outcomes": result.outcomes}, actor=actor)
    return result


def _set(engine: Engine, campaign_id: int, **values: Any) -> None:
    with Session(engine) as session:
        campaign = session.get(ReviewCampaign, campaign_id)
        assert campaign is not None
        for name, value in values.items():
            if value is not None or name in ("closed_by", "closed_at"):
                setattr(campaign, name, value)
        session.add(campaign)
        session.commit()


def _plans(engine: Engine, campaign_id: int, statuses: tuple[str, ...]) -> list[int]:
    with Session(engine) as session:
        campaign = session.get(ReviewCampaign, campaign_id)
        assert campaign is not None
        ids = list(campaign.plan_ids)
        if not ids:
            return []
        return sorted(p.id for p in session.execute(select(Plan).where(
            col(Plan.id).in_(ids), col(Plan.status).in_(list(statuses)))).scalars() if p.id is not None)


def _refresh(engine: Engine, campaign_id: int) -> None:
    """Bring each item's outcome up to date with its outbox action."""
    with Session(engine) as session:
        session.execute(update(_ITEMS).where(_ITEMS.c.campaign_id == campaign_id, _ITEMS.c.decision == "keep",
                                             _ITEMS.c.outcome != "kept").values(outcome="kept", outcome_detail=""))
        for item in session.execute(select(ReviewItem).where(col(ReviewItem.campaign_id) == campaign_id,
                                                             col(ReviewItem.action_id).is_not(None))).scalars():
            if item.outcome not in FINAL:
                action = session.get(Action, item.action_id)
                plan = session.get(Plan, action.plan_id) if action else None
                if action is None or plan is None:
                    continue
                if action.state in FINAL:
                    item.outcome = action.state
                    item.outcome_detail = (f"reduced to {action.target_role}" if action.kind == "reduce"
                                           else "revoked") + _manual(item.outcome_detail)
                elif plan.status == "needs_approval":
                    item.outcome = "needs_approval"
                elif action.state in ("planned", "executing") and plan.status in ("superseded",):
                    item.outcome, item.action_id = "", None
                elif action.state in ("planned", "executing"):
                    item.outcome = "planned"
                else:  # failed | cancelled: the next close plans it again
                    item.outcome, item.outcome_detail = action.state, action.last_error or action.state
            session.add(item)
        session.commit()


def _manual(detail: str) -> str:
    return f"; {detail}" if detail.startswith("manual step") else ""


def _plan(engine: Engine, campaign_id: int, key: str, tools: Closer, now: datetime, actor: str) -> PlanResult:
    access = health.problems(engine, tools.revokers.keys(), now, tools.policy.stale_after_hours)
    identity = health.problems(engine, tools.identity_sources, now, tools.policy.stale_after_hours)
    break_glass = {b.lower() for b in tools.policy.break_glass}
    # Invariant 5, as the reconciler's plans judge it (reconcile.takes): every grant a decision's
    # revocation takes away (a membership takes its asset assignments) is judged by one guard, which
    # starts from what other plans are about to remove and adds each item this close accepts; a
    # downgrade from admin counts as the removal of an admin.
    guard = Guard(break_glass, going=in_flight_removals(engine, tools.revokers), cache_admins=True)
    taken_here: set[int] = set()
    in_flight = grants_in_flight(engine)
    result = PlanResult(None, "empty", "")
    notes: dict[int, tuple[int, str]] = {}  # grant -> (item, note for the item)
    with Session(engine) as session:
        todo = list(session.execute(select(ReviewItem).where(
            col(ReviewItem.campaign_id) == campaign_id, col(ReviewItem.decision).in_(["revoke", "reduce"]),
            col(ReviewItem.outcome).not_in([*FINAL, "planned", "needs_approval"])).order_by(col(ReviewItem.id)))
            .scalars())
    # a reviewer's decision comes before the non-response rule's when both compete for a resource's admins
    todo.sort(key=lambda i: (i.decided_via != "reviewer", i.id or 0))
    held: list[tuple[int, str, str]] = []
    with engine.connect() as conn:
        for item in todo:
            assert item.id is not None
            row = conn.execute(text(GRANT_SQL).columns(verifiable=Boolean, disputed=Boolean),
                               {"id": item.grant_id, "no": False}).mappings().first()
            assert row is not None
            if row["seen_to"] is not None:
                held.append((item.id, "already_gone", "no longer on the platform"))
                continue
            revoker = tools.revokers.get(str(row["system"]))
            why = _hold(row, item, revoker, access, identity, break_glass, in_flight)
            taken: list[Taken] = []
            extra = ""
            plan_item: Item | None = None
            note = ""
            if why is None:
                assert revoker is not None
                plan_item, note = _action(row, item, revoker, key)
                reduce = plan_item.kind == "reduce"
                try:  # a reduce lowers the named grant in place: it takes nothing else
                    takes, taken = takes_for(conn, None if reduce else revoker, row)
                except ConnectorError as exc:
                    why = f"cannot tell what this revocation removes: {exc}"
                else:
                    if takes.manual_step:
                        why = f"manual step, by hand: {takes.manual_step}"
                    else:
                        why = guard.judge(conn, taken, int(row["grant_id"]))
                        if why is not None and why.startswith("last admin") and reduce:
                            why += " (a downgrade from admin counts as removing one)"
                    extra = describe_takes(takes, taken, int(row["grant_id"]))
            if why is not None or plan_item is None:
                held.append((item.id, "held", why or "held"))
                continue
            guard.accept(taken)
            taken_here.update(t.grant_id for t in taken)
            plan_item = replace(plan_item, request=plan_item.request + (f"\n{extra}" if extra else ""),
                                takes=tuple(t.grant_id for t in taken) if extra else ())
            result.revocations.append(plan_item)
            notes[item.grant_id] = (item.id, note)
    _hold_items(engine, held)
    judge_threshold(engine, tools.policy, result, grants_taken=len(taken_here))
    if result.revocations:
        result.plan_id = persist_plan(engine, result, actor, supersede=False, origin="review")
        _attach(engine, campaign_id, result, notes)
    return result


def _hold(row: Mapping[Any, Any], item: ReviewItem, revoker: Revoker | None, access: Mapping[str, str],
          identity: Mapping[str, str], break_glass: set[str], in_flight: Mapping[int, int]) -> str | None:
    system = str(row["system"])
    if revoker is None:
        return f"no revoker configured for {system}"
    if int(row["grant_id"]) in in_flight:
        return f"already in plan {in_flight[int(row['grant_id'])]}, which must finish first"
    if system in access:
        return access[system]
    if item.decided_via == "non_response" and identity:
        return "decided by the non-response rule, and " + "; ".join(sorted(identity.values()))
    if is_break_glass(row, break_glass):
        return "break-glass account: never revoked"
    if not row["verifiable"]:
        return f"no API to revoke through (manual inventory): {revoker.preview_revoke(grant_ref(row)).render()}"
    return None


def _action(row: Mapping[Any, Any], item: ReviewItem, revoker: Revoker, key: str) -> tuple[Item, str]:
    """The outbox item for a decision, and a note for the review item (a manual step, a nearest role)."""
    ref = grant_ref(row)
    base = Item(finding_id=None, grant_id=int(row["grant_id"]), rule="review", system=str(row["system"]),
                account=str(row["account"]), account_name=item.account_name, resource=str(row["resource"]),
                resource_name=item.resource_name, role=str(row["role"]), level=int(row["level"]),
                reason=f"review {key}: {item.decision} by {item.decided_by}")
    if item.decision == "reduce" and item.reduce_to:
        wanted = Level[item.reduce_to]
        offered = dict(revoker.reduce_roles(ref)) if isinstance(revoker, Reducer) else {}
        lower = {lvl: role for lvl, role in offered.items() if lvl < int(row["level"])}
        chosen = wanted if wanted in lower else max((lvl for lvl in lower if lvl <= wanted), default=None)
        if chosen is not None and isinstance(revoker, Reducer):
            role = lower[chosen]
            request = "\n\n".join(p.render() for p in revoker.preview_reduce(ref, role))
            note = "" if chosen == wanted else (f"the platform has no {wanted.name} role; the nearest lower one, "
                                                f"{Level(chosen).name} ({role}), is set")
            return replace(base, kind="reduce", target_role=role, target_level=int(chosen), request=request), note
        note = (f"manual step: {row['system']} has no call to set a lower role, so the access is revoked; "
                f"grant {wanted.name} on {item.resource_name or row['resource']} to "
                f"{item.account_name or row['account']} by hand")
        return replace(base, request=revoker.preview_revoke(ref).render()), note
    return replace(base, request=revoker.preview_revoke(ref).render()), ""


def _hold_items(engine: Engine, held: list[tuple[int, str, str]]) -> None:
    with Session(engine) as session:
        for item_id, outcome, detail in held:
            item = session.get(ReviewItem, item_id)
            assert item is not None
            item.outcome, item.outcome_detail = outcome, detail
            session.add(item)
        session.commit()


def _attach(engine: Engine, campaign_id: int, result: PlanResult, notes: Mapping[int, tuple[int, str]]) -> None:
    with Session(engine) as session:
        campaign = session.get(ReviewCampaign, campaign_id)
        assert campaign is not None and result.plan_id is not None
        campaign.plan_ids = [*campaign.plan_ids, result.plan_id]
        session.add(campaign)
        actions = {a.grant_id: a.id for a in session.execute(
            select(Action).where(col(Action.plan_id) == result.plan_id)).scalars()}
        for grant_id, (item_id, note) in notes.items():
            item = session.get(ReviewItem, item_id)
            assert item is not None
            item.action_id = actions.get(grant_id)
            item.outcome = "needs_approval" if result.status == "needs_approval" else "planned"
            item.outcome_detail = note
            session.add(item)
        session.commit()
