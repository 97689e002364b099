"""Turn open findings into a reviewable plan of revocations.

Everything that could make a revocation wrong is checked here, before anything is written to
the outbox: the rule's action, a disputed link, the grace period, the health of the access
source *and* of every identity source (a leaver is only a leaver if the directory sync that says
so is complete and fresh), break-glass accounts, the last admin of a resource, and the
revocation threshold. A plan lists what it would revoke with the exact request, and what it
held back and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Boolean, Connection, DateTime, Engine, Table, func, select, text, update
from sqlmodel import Session

from accessward.connectors.errors import ConnectorError, RejectedError, StopError
from accessward.connectors.protocols import Revoker
from accessward.connectors.records import AccountKind, GrantRef
from accessward.reconcile import health
from accessward.reconcile.policy import PolicySettings
from accessward.reconcile.takes import Guard, describe_takes, in_flight_removals, takes_for
from accessward.sync import audit
from accessward.sync.clock import utcnow
from accessward.sync.models import Action, Grant, Plan

_ACTIONS: Table = Action.__table__  # type: ignore[attr-defined]
_PLANS: Table = Plan.__table__  # type: ignore[attr-defined]
_GRANTS: Table = Grant.__table__  # type: ignore[attr-defined]

CANDIDATES_SQL = """
SELECT f.id AS finding_id, f.rule, f.evidence, f.first_seen, g.id AS grant_id, g.system, g.role, g.level, g.verifiable,
       g.resource_id, a.external_id AS account, a.display_name AS account_name, a.email, a.kind AS account_kind,
       r.external_id AS resource, r.name AS resource_name, r.kind AS resource_kind,
       COALESCE(l.disputed, :no) AS disputed
FROM finding f
JOIN access_grant g ON g.id = f.grant_id
JOIN account a ON a.id = g.account_id
JOIN resource r ON r.id = g.resource_id
LEFT JOIN link l ON l.account_id = a.id
WHERE f.state = 'open' AND g.seen_to IS NULL
ORDER BY g.system, r.external_id, a.external_id, g.id
"""


@dataclass(frozen=True)
class Item:
    finding_id: int | None  # None: not from a finding (an offboarding decided by HR)
    grant_id: int
    rule: str
    system: str
    account: str
    account_name: str
    resource: str
    resource_name: str
    role: str
    level: int
    reason: str
    request: str = ""
    held_because: str = ""
    kind: str = "revoke"  # revoke | reduce (to target_role / target_level, through a Reducer)
    target_role: str | None = None
    target_level: int | None = None
    # Every grant the revocation takes away (the named one first), when it is wider than one grant:
    # a business membership, a partnership... (reconcile.takes). Empty: the named grant only.
    takes: tuple[int, ...] = ()


@dataclass
class PlanResult:
    plan_id: int | None
    status: str  # ready | needs_approval | empty
    reason: str
    revocations: list[Item] = field(default_factory=list)
    held: list[Item] = field(default_factory=list)
    flagged: int = 0


def grant_ref(row: Mapping[Any, Any]) -> GrantRef:
    return GrantRef(
        account_id=str(row["account"]), resource_id=str(row["resource"]), role=str(row["role"]),
        resource_kind=str(row["resource_kind"]), account_kind=AccountKind(str(row["account_kind"])),
    )


def is_break_glass(row: Mapping[Any, Any], names: set[str]) -> bool:
    keys = {str(row["account"]).lower(), f"{row['system']}:{row['account']}".lower()}
    if row.get("email"):
        keys.add(str(row["email"]).lower())
    return bool(keys & names)


def grants_in_flight(engine: Engine) -> dict[int, int]:
    """Grants with an action still to run in an approved or interrupted plan: never planned twice."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(_ACTIONS.c.grant_id, _ACTIONS.c.plan_id)
            .join(_PLANS, _PLANS.c.id == _ACTIONS.c.plan_id)
            .where(_ACTIONS.c.state.in_(["planned", "executing"]), _PLANS.c.status.in_(["approved", "applying"]))
        )
        return {int(g): int(p) for g, p in rows}


def build_plan(
    engine: Engine,
    policy: PolicySettings,
    revokers: Mapping[str, Revoker],
    identity_sources: Sequence[str],
    now: datetime,
    *,
    actor: str = "system",
    principal_id: int | None = None,
) -> PlanResult:
    access_problems = health.problems(engine, revokers.keys(), now, policy.stale_after_hours)
    identity_problems = health.problems(engine, identity_sources, now, policy.stale_after_hours)
    if not identity_sources:
        identity_problems["(none)"] = "no identity source is configured, so nobody can be known to have left"
    break_glass = {b.lower() for b in policy.break_glass}
    in_flight = grants_in_flight(engine)
    # Invariant 5: every grant a revocation takes away (a business membership takes every asset
    # assignment) is judged by one guard, which starts from what other plans are about to remove,
    # expanded the same way, and adds each revocation this plan accepts (reconcile.takes).
    guard = Guard(break_glass, going=in_flight_removals(engine, revokers), cache_admins=True)
    planned: dict[int, int] = {}
    taken_here: set[int] = set()
    result = PlanResult(None, "empty", "")

    with engine.connect() as conn:
        stmt = text(CANDIDATES_SQL).columns(evidence=JSON, first_seen=DateTime, verifiable=Boolean,
                                            disputed=Boolean)
        rows = conn.execute(stmt, {"no": False}).mappings().all()
        _plan_rows(conn, rows, policy, revokers, now, access_problems, identity_problems, break_glass, in_flight,
                   guard, planned, taken_here, result)

    judge_threshold(engine, policy, result, grants_taken=len(taken_here))
    if result.revocations:
        result.plan_id = unchanged_open_plan(engine, result, actor, principal_id) or persist_plan(
            engine, result, actor, principal_id=principal_id)
    return result


def _plan_rows(
    conn: Connection, rows: Sequence[Mapping[Any, Any]], policy: PolicySettings, revokers: Mapping[str, Revoker],
    now: datetime, access_problems: Mapping[str, str], identity_problems: Mapping[str, str], break_glass: set[str],
    in_flight: Mapping[int, int], guard: Guard, planned: dict[int, int], taken_here: set[int], result: PlanResult,
) -> None:
    for row in rows:
        rule = policy.rule(str(row["rule"]))
        if rule.action != "revoke":
            result.flagged += 1
            continue
        evidence = row["evidence"] or {}
        item = Item(
            finding_id=row["finding_id"], grant_id=row["grant_id"], rule=row["rule"], system=row["system"],
            account=row["account"], account_name=row["account_name"], resource=row["resource"],
            resource_name=row["resource_name"], role=row["role"], level=row["level"],
            reason=str(evidence.get("reason", "")),
        )
        why = _hold_reason(row, evidence, rule.grace_days, now, access_problems, identity_problems,
                           break_glass, revokers)
        if why is None and evidence.get("reason") == "no_person" and not rule.revoke_unmatched:
            why = "matches no person: flagged only (link it, or set revoke_unmatched = true on the rule)"
        if row["grant_id"] in in_flight:
            why = f"already in plan {in_flight[row['grant_id']]}, which must finish first (accessward apply)"
        if why is None and row["grant_id"] in planned:  # two rules found the same grant: one revocation
            i = planned[row["grant_id"]]
            result.revocations[i] = replace(result.revocations[i], rule=f"{result.revocations[i].rule}+{item.rule}")
            continue
        extra = ""
        taken_ids: tuple[int, ...] = ()
        if why is None:
            # What this revocation really removes; the last-admin, break-glass and disputed-link
            # checks judge all of it (a membership removal that would take a Page's last admin is
            # held, even when the Page grant itself was already held).
            try:
                takes, taken = takes_for(conn, revokers[row["system"]], row)
            except ConnectorError as exc:
                takes, taken = None, []
                why = f"cannot tell what this revocation removes: {exc}"
            if takes is not None:
                extra = describe_takes(takes, taken, int(row["grant_id"]))
                taken_ids = tuple(t.grant_id for t in taken) if extra else ()
                if takes.manual_step:
                    why = f"manual step, by hand: {takes.manual_step}" + (f"\n{extra}" if extra else "")
                else:
                    why = guard.judge(conn, taken, int(row["grant_id"]))
                if why is None:
                    guard.accept(taken)
                    taken_here.update(t.grant_id for t in taken)
        if why is not None:
            result.held.append(replace(item, held_because=why, takes=taken_ids))
            continue
        preview = revokers[row["system"]].preview_revoke(grant_ref(row)).render()
        planned[row["grant_id"]] = len(result.revocations)
        result.revocations.append(replace(item, request=preview + (f"\n{extra}" if extra else ""), takes=taken_ids))


def unchanged_open_plan(engine: Engine, result: PlanResult, actor: str, principal_id: int | None) -> int | None:
    """The open reconciler plan this one repeats exactly (same starter, status, actions), if any.

    Running ``plan`` twice with nothing changed shows the same plan again instead of writing a
    new one and leaving the first behind as superseded. A different starter gets a plan of their
    own (four-eyes judges the starter), and any difference at all makes a new plan as before.
    """
    def key(i: Any) -> tuple[Any, ...]:
        return (i.grant_id, i.finding_id, i.rule, i.kind, i.request, i.target_role, i.target_level)

    wanted = sorted((key(i) for i in result.revocations), key=repr)
    with engine.connect() as conn:
        open_plans = conn.execute(select(_PLANS.c.id).where(
            _PLANS.c.status == result.status, _PLANS.c.origin == "reconcile", _PLANS.c.reason == result.reason,
            _PLANS.c.started_by == actor,
            _PLANS.c.started_by_principal_id.is_(None) if principal_id is None
            else _PLANS.c.started_by_principal_id == principal_id,
        ).order_by(_PLANS.c.id.desc()).limit(1)).scalars().all()
        for plan_id in open_plans:
            actions = conn.execute(select(_ACTIONS).where(_ACTIONS.c.plan_id == plan_id,
                                                          _ACTIONS.c.state == "planned")).all()
            if sorted((key(a) for a in actions), key=repr) == wanted:
                return int(plan_id)
    return None


def _hold_reason(
    row: Mapping[Any, Any], evidence: Mapping[Any, Any], grace_days: float, now: datetime,
    access_problems: Mapping[str, str], identity_problems: Mapping[str, str], break_glass: set[str],
    revokers: Mapping[str, Revoker],
) -> str | None:
    if evidence.get("reason") == "disputed" or row["disputed"]:
        return "disputed link: two people match this account; link it by hand (accessward link)"
    if evidence.get("reason") == "unidentifiable":
        return ("nothing to match this account on (no email, login or employee id); "
                "link it by hand (accessward link)")
    since = evidence.get("since")
    start = datetime.fromisoformat(str(since)) if since else row["first_seen"]
    assert isinstance(start, datetime)
    if grace_days and start + timedelta(days=grace_days) > now:
        return f"in grace period until {start + timedelta(days=grace_days):%Y-%m-%d %H:%M} UTC"
    system = str(row["system"])
    if system not in revokers:
        return f"no revoker configured for {system}"
    if system in access_problems:
        return access_problems[system]
    if identity_problems:
        return "; ".join(sorted(identity_problems.values()))
    if is_break_glass(row, break_glass):
        return "break-glass account: never revoked"
    if not row["verifiable"]:
        step = revokers[system].preview_revoke(grant_ref(row)).render()
        return f"no API to revoke through (manual inventory): {step}"
    return manual_step(revokers[system], row)


def manual_step(revoker: Revoker, row: Mapping[Any, Any]) -> str | None:
    """Why a listed grant is held: the platform has no call that removes it (a Pinterest system user).

    Such a revoker previews the revocation as a ``MANUAL`` request carrying the instructions.
    """
    try:
        preview = revoker.preview_revoke(grant_ref(row))
    except (RejectedError, StopError) as exc:  # the connector cannot send this removal: say so, never crash
        return f"no API call removes this (a manual step): {exc}"
    if preview.method == "MANUAL":
        return f"no API to revoke through (a manual step): {preview.render()}"
    return None


def judge_threshold(engine: Engine, policy: PolicySettings, result: PlanResult, *, grants_taken: int = 0) -> None:
    """Count or share above the policy's limits: the plan waits for approval (invariant 3).

    A wide revocation counts every grant it takes away (``grants_taken``), not one.
    """
    revocations = len(result.revocations)
    n = max(revocations, grants_taken)
    if n == 0:
        result.status, result.reason = "empty", "nothing to revoke"
        return
    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(_GRANTS).where(_GRANTS.c.seen_to.is_(None))).scalar()
                    or 0)
    share = n / total if total else 1.0
    if n > policy.max_revocations:
        result.status = "needs_approval"
        result.reason = f"{_count(revocations, n)} exceed max_revocations = {policy.max_revocations}"
    elif n >= policy.min_revocations_for_share and share > policy.max_revocation_share:
        result.status = "needs_approval"
        result.reason = (f"{_count(revocations, n)} are {share:.1%} of {total} open grants, above "
                         f"max_revocation_share = {policy.max_revocation_share:.0%}")
    else:
        result.status, result.reason = "ready", f"{_count(revocations, n, singular=True)} within the thresholds"


def _count(revocations: int, grants: int, *, singular: bool = False) -> str:
    text_ = f"{revocations} revocation(s)" if singular else f"{revocations} revocations"
    return text_ if grants == revocations else f"{text_} taking {grants} grants"


def persist_plan(engine: Engine, result: PlanResult, actor: str, *, supersede: bool = True,
                 approved_by: str | None = None, principal_id: int | None = None,
                 origin: str = "reconcile") -> int:
    """Write the plan and its actions (the outbox) in one transaction; the reconciler's older open plans lapse.

    ``supersede=False`` writes a plan decided outside the reconciler and leaves the reconciler's open plans
    alone: an HR offboarding (with ``approved_by``: approved as written), or a closed access review
    (``origin="review"``: judged by the threshold, and not superseded while it waits for approval).
    ``actor`` (and ``principal_id`` when a person started it with their token) is who started the
    plan: four-eyes keeps them from approving it.
    """
    with Session(engine) as session:
        conn = session.connection()
        stale = list(conn.execute(select(_PLANS.c.id).where(_PLANS.c.status.in_(["ready", "needs_approval"]),
                                                            _PLANS.c.origin == "reconcile"))
                     .scalars()) if supersede else []
        if stale:
            conn.execute(update(_PLANS).where(_PLANS.c.id.in_(stale)).values(status="superseded"))
            conn.execute(update(_ACTIONS).where(_ACTIONS.c.plan_id.in_(stale), _ACTIONS.c.state == "planned")
                         .values(state="cancelled", last_error="superseded by a newer plan"))
        plan = Plan(status=result.status, reason=result.reason, revocations=len(result.revocations),
                    approved_by=approved_by, approved_at=utcnow() if approved_by else None,
                    started_by=actor, started_by_principal_id=principal_id, origin=origin)
        session.add(plan)
        session.flush()
        assert plan.id is not None
        session.add_all(Action(
            plan_id=plan.id, idempotency_key=f"plan:{plan.id}:grant:{i.grant_id}", finding_id=i.finding_id,
            grant_id=i.grant_id, system=i.system, rule=i.rule, request=i.request, kind=i.kind,
            target_role=i.target_role, target_level=i.target_level,
        ) for i in result.revocations)
        audit.append(session.connection(), "plan.created", f"plan:{plan.id}", {
            "status": result.status, "reason": result.reason, "revocations": len(result.revocations),
            "held": len(result.held), "superseded": stale, "origin": origin,
        }, actor=actor)
        session.commit()
        return plan.id
