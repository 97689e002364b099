"""The safe executor: runs a plan's actions through the outbox.

For each action: record ``executing`` and the attempt (committed), then call the connector,
then record the outcome (committed) with its audit event. A crash between the two leaves the
action ``executing``; the next apply calls revoke again, which is safe because every revoker
treats "already gone" as success. Nothing outside the outbox is ever revoked.

An action of kind ``reduce`` (an access review's decision) sets a lower role in place through the
system's ``Reducer``; the last-admin guard treats a downgrade from admin as the removal of an admin, and
a reduction that succeeds closes the old grant (``closed_by = 'reduced'``) and opens one at the new role.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Engine, Table, select, text, update
from sqlmodel import Session, col

from accessward.connectors.errors import AuthError, ConnectorError, NotFoundError, StopError, TransientError
from accessward.connectors.protocols import Reducer, Revoker
from accessward.connectors.records import Level, RevokeOutcome
from accessward.reconcile.plan import grant_ref
from accessward.reconcile.takes import Guard, Taken, in_flight_removals, takes_for
from accessward.sync import audit
from accessward.sync.clock import utcnow
from accessward.sync.models import Action, Plan
from accessward.sync.principals import PrincipalRef

log = logging.getLogger("accessward.apply")
_ACTIONS: Table = Action.__table__  # type: ignore[attr-defined]

ACTION_SQL = """
SELECT x.id, x.state, x.attempts, x.grant_id, x.finding_id, x.system, x.request, x.kind, x.target_role,
       x.target_level, g.account_id AS account_row, g.verifiable, g.role, g.seen_to,
       g.level, g.resource_id, a.external_id AS account, a.kind AS account_kind,
       r.external_id AS resource, r.kind AS resource_kind, f.state AS finding_state
FROM action x
JOIN access_grant g ON g.id = x.grant_id
JOIN account a ON a.id = g.account_id
JOIN resource r ON r.id = g.resource_id
LEFT JOIN finding f ON f.id = x.finding_id
WHERE x.plan_id = :plan AND x.state IN ('planned', 'executing')
ORDER BY x.id
"""


class PlanNotApproved(Exception):
    pass


@dataclass
class ApplyReport:
    plan_id: int
    outcomes: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def unfinished_plans(engine: Engine) -> list[int]:
    """Plans a crash left in the middle; they are finished before anything new is planned.

    An offboarding's plans are not among them: the offboarding resumes its own (under its own lock,
    ``offboarding._open_plans``), and while its lanes run, its actions are ``executing`` — another
    apply taking them for a crash's leftovers would send them a second time.
    """
    with Session(engine) as session:
        return list(session.execute(
            select(col(Plan.id)).where(col(Plan.status) == "applying", col(Plan.origin) != "offboarding")
            .order_by(col(Plan.id))
        ).scalars())


def approve(engine: Engine, plan_id: int, *, who: PrincipalRef, four_eyes: bool = True, note: str = "") -> None:
    """Approve a plan that stopped at the threshold, as ``who`` (an authenticated person).

    With ``four_eyes`` the one who started the plan cannot approve it (a scheduler's plan belongs
    to the system: any approver may). ``note`` is free text kept beside the principal (``--by``).
    """
    from accessward.reconcile.four_eyes import FourEyesRefused, check_may_approve

    if not who.is_person:
        raise FourEyesRefused(f"{who.actor} is not a person: only a person approves a plan")
    with Session(engine) as session:
        plan = session.get(Plan, plan_id)
        if plan is None:
            raise ValueError(f"no plan {plan_id}")
        if plan.status != "needs_approval":
            raise ValueError(f"plan {plan_id} is {plan.status}; only a plan that needs approval can be approved")
        if four_eyes:
            try:
                check_may_approve(plan, who)
            except FourEyesRefused as exc:
                audit.append(session.connection(), "plan.approval_refused", f"plan:{plan_id}",
                             {"reason": str(exc), "principal_id": who.id}, actor=who.actor)
                session.commit()
                raise
        plan.status, plan.approved_by, plan.approved_at = "approved", who.actor, utcnow()
        plan.approved_by_principal_id = who.id
        session.add(plan)
        audit.append(session.connection(), "plan.approved", f"plan:{plan_id}", {
            "revocations": plan.revocations, "principal_id": who.id, "started_by": plan.started_by,
            "four_eyes": four_eyes, "note": note}, actor=who.actor)
        session.commit()


def execute(
    engine: Engine,
    plan_id: int,
    revokers: Mapping[str, Revoker],
    *,
    max_attempts: int = 5,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    actor: str = "system",
    blocked: Mapping[str, str] | None = None,
    break_glass: Collection[str] = (),
    across_systems: bool = False,
) -> ApplyReport:
    """Run the plan's unfinished actions in order; see the module docstring.

    With ``across_systems`` each system's actions run in their own lane (a thread), the systems
    side by side: within a system the order, the one-call-at-a-time pace and the stop on an auth
    failure are as without it, and every action is still judged just before its own call. The
    guard's questions stay within one system (a resource, its admins and what other unfinished
    actions on it remove belong to one system), so no lane can change another's answer.

    Just before each call the guard judges again every grant the revocation takes away (a
    business membership takes every asset assignment): the last admin of a resource, counting what
    other unfinished plans remove, ``break_glass`` accounts and disputed links. When the revocation
    succeeds every declared grant is closed, so the next sync sees no sudden drop.
    """
    with Session(engine) as session:
        plan = session.get(Plan, plan_id)
        if plan is None:
            raise ValueError(f"no plan {plan_id}")
        if plan.status not in ("ready", "approved", "applying"):
            raise PlanNotApproved(f"plan {plan_id} is {plan.status}: {plan.reason}")
        plan.status = "applying"
        session.add(plan)
        session.commit()

    report = ApplyReport(plan_id)
    stopped: dict[str, str] = dict(blocked or {})
    with engine.connect() as conn:
        rows = conn.execute(text(ACTION_SQL).columns(seen_to=DateTime), {"plan": plan_id}).mappings().all()

    def one(row: Mapping[Any, Any]) -> tuple[str, str | None]:
        """Carry out one action; (the outcome to count, the failure line for the report or None)."""
        if row["system"] in stopped:
            return "skipped", None
        if row["seen_to"] is not None and row["attempts"] > 0:
            # We asked the platform before a crash and a later sync no longer sees the grant:
            # record the revocation as done rather than lose it from the trail.
            _finish(engine, row, "already_gone", "gone on the platform (seen by a later sync after our attempt)",
                    actor)
            return "already_gone", None
        if row["seen_to"] is not None or row["finding_state"] not in (None, "open"):
            _finish(engine, row, "cancelled", "no longer needed: the access is gone or the finding changed", actor)
            return "cancelled", None
        why, taken = _judge_again(engine, row, revokers, break_glass)
        if why is not None:
            _finish(engine, row, "failed", f"{why}: not removed", actor)
            short = why.split(" — ")[0] if why.startswith("last admin") else why
            return "failed", f"{row['system']} {row['resource']} {row['account']}: {short}, not removed"
        outcome, message = _attempt(engine, row, revokers[row["system"]], max_attempts, backoff, sleep)
        if outcome == "claimed":  # another apply sends it and records its outcome
            return "skipped", None
        if row["kind"] == "reduce" and outcome == "already_gone":
            outcome = "failed"  # the grant to lower is not there: nothing was reduced, say so
            message = f"the grant to reduce is gone on the platform: {message}"
        if outcome == "stop":
            stopped[row["system"]] = message
            _finish(engine, row, "planned", message, actor, terminal=False)
            return "stopped", f"{row['system']}: {message}"
        _finish(engine, row, outcome, message, actor, also_close=[t.grant_id for t in taken])
        if outcome == "failed":
            return outcome, f"{row['system']} {row['resource']} {row['account']}: {message}"
        return outcome, None

    results = _run_lanes(rows, one) if across_systems else [one(row) for row in rows]
    for counted, failure in results:  # in the plan's order, however the systems interleaved
        report.count(counted)
        if failure is not None:
            report.failures.append(failure)

    with Session(engine) as session:
        plan = session.get(Plan, plan_id)
        assert plan is not None
        plan.status = "applying" if stopped else "applied"
        session.add(plan)
        audit.append(session.connection(), "plan.applied", f"plan:{plan_id}",
                     {"outcomes": report.outcomes, "stopped": stopped}, actor=actor)
        session.commit()
    return report


MAX_LANES = 8  # systems revoked side by side at most (each lane still sends one call at a time)


def _run_lanes(rows: Sequence[Mapping[Any, Any]],
               one: Callable[[Mapping[Any, Any]], tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    """``one`` over ``rows``: each system's rows in order in a lane of its own; the answers in ``rows``' order."""
    lanes: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        lanes.setdefault(str(row["system"]), []).append(index)
    results: list[tuple[str, str | None] | None] = [None] * len(rows)

    def lane(indices: list[int]) -> None:
        for index in indices:
            results[index] = one(rows[index])

    if len(lanes) <= 1:
        for indices in lanes.values():
            lane(indices)
    else:
        with ThreadPoolExecutor(max_workers=min(MAX_LANES, len(lanes)), thread_name_prefix="revoke-lane") as pool:
            for future in [pool.submit(lane, indices) for indices in lanes.values()]:
                future.result()  # a lane that raised raises here, once every lane has ended
    done = [r for r in results if r is not None]
    assert len(done) == len(rows)
    return done


def _judge_again(engine: Engine, row: Mapping[Any, Any], revokers: Mapping[str, Revoker],
                 break_glass: Collection[str]) -> tuple[str | None, list[Taken]]:
    """The plan-time guard, again, on today's store: why not to send this revocation, and what it takes.

    Other unfinished actions (any plan, expanded) count as removed: plans made at different times
    must not together remove every admin of a resource.
    """
    # a reduce lowers the named grant in place: it takes nothing else, whatever a removal would take
    revoker = None if row.get("kind") == "reduce" else revokers.get(str(row["system"]))
    with engine.connect() as conn:
        try:
            takes, taken = takes_for(conn, revoker, row)
        except ConnectorError as exc:
            return f"cannot tell what this revocation removes ({exc})", []
        if takes.manual_step:
            return f"manual step, by hand: {takes.manual_step}", taken
        # what other unfinished actions remove matters only to the last-admin count: read it then
        admin = any(t.level >= int(Level.admin) for t in taken)
        going = in_flight_removals(engine, revokers, besides_action=int(row["id"])) if admin else {}
        guard = Guard({b.lower() for b in break_glass}, going=going)
        return guard.judge(conn, taken, int(row["grant_id"])), taken


def _attempt(engine: Engine, row: Mapping[Any, Any], revoker: Revoker, max_attempts: int, backoff: float,
             sleep: Callable[[float], None]) -> tuple[str, str]:
    """Call revoke with the attempt recorded first; map the taxonomy onto an outcome."""
    ref = grant_ref(row)
    reduce = row["kind"] == "reduce"
    if reduce and not isinstance(revoker, Reducer):
        return "failed", f"{row['system']} has no call to set a lower role; nothing was sent"
    seen = int(row["attempts"])
    for attempt in range(1, max_attempts + 1):
        # Claim the attempt: only if nobody else has touched the action since we read it (another
        # apply of the same plan, e.g. the nightly run resuming an offboarding's plan while its
        # lanes still run). Whoever claims it sends it; the other leaves it alone, so a revocation
        # is never sent twice at once.
        with engine.begin() as conn:
            claimed = conn.execute(update(_ACTIONS).where(
                _ACTIONS.c.id == row["id"], _ACTIONS.c.state.in_(("planned", "executing")),
                _ACTIONS.c.attempts == seen,
            ).values(state="executing", attempts=seen + 1, updated_at=utcnow())).rowcount
        if claimed != 1:
            return "claimed", "being carried out by another apply"
        seen += 1
        try:
            if reduce:
                assert isinstance(revoker, Reducer)
                result = revoker.reduce(ref, str(row["target_role"]))
            else:
                result = revoker.revoke(ref)
        except NotFoundError as exc:
            return "already_gone", str(exc)
        except TransientError as exc:
            if attempt == max_attempts:
                return "failed", f"transient, gave up after {attempt} attempts: {exc}"
            wait = exc.retry_after if exc.retry_after is not None else backoff * 2 ** (attempt - 1)
            log.warning("revoke transient failure", extra={"action": row["id"], "wait_s": wait})
            sleep(wait)
            continue
        except (AuthError, StopError) as exc:
            return "stop", f"{exc.kind}: {exc}"
        except ConnectorError as exc:
            return "failed", f"{exc.kind}: {exc}" + (f" ({exc.detail})" if exc.detail else "")
        return ("already_gone" if result.outcome == RevokeOutcome.already_gone else "done"), result.detail
    return "failed", "no attempt made"


def _finish(engine: Engine, row: Mapping[Any, Any], state: str, message: str, actor: str,
            *, terminal: bool = True, also_close: Sequence[int] = ()) -> None:
    """Record the outcome; on success close the grant and every other grant the revocation declared
    it takes away (``also_close``: a membership's asset assignments), resolving their findings."""
    now: datetime = utcnow()
    with engine.begin() as conn:
        conn.execute(update(_ACTIONS).where(_ACTIONS.c.id == row["id"]).values(
            state=state, last_error=None if state in ("done", "already_gone") else message, updated_at=now))
        if state in ("done", "already_gone"):
            if row.get("kind") == "reduce":  # the grant is lowered in place: only it closes, its lower role opens
                conn.execute(text("UPDATE access_grant SET seen_to = :now, closed_by = 'reduced' "
                                  "WHERE id = :id AND seen_to IS NULL"), {"now": now, "id": row["grant_id"]})
                _open_reduced_grant(conn, row, now)
            else:
                for grant_id in dict.fromkeys([int(row["grant_id"]), *also_close]):
                    conn.execute(text("UPDATE access_grant SET seen_to = :now, closed_by = 'revoked' "
                                      "WHERE id = :id AND seen_to IS NULL"), {"now": now, "id": grant_id})
                    # other rules' findings on the same grant are resolved: the access is gone
                    conn.execute(text("UPDATE finding SET state = 'resolved', resolved_at = :now WHERE grant_id = :g "
                                      "AND state IN ('open', 'accepted') AND id <> :id"),
                                 {"now": now, "g": grant_id, "id": row["finding_id"] or -1})
            if row["finding_id"] is not None:
                conn.execute(text("UPDATE finding SET state = 'revoked', resolved_at = :now WHERE id = :id"),
                             {"now": now, "id": row["finding_id"]})
        if terminal:
            data = {"action": row["id"], "system": row["system"], "account": row["account"],
                    "resource": row["resource"], "role": row["role"], "request": row["request"], "message": message}
            if row.get("kind") == "reduce":
                data["to_role"] = row["target_role"]
            audit.append(conn, f"{'reduction' if row.get('kind') == 'reduce' else 'revocation'}.{state}",
                         f"grant:{row['grant_id']}", data, actor=actor)


def _open_reduced_grant(conn: Any, row: Mapping[Any, Any], now: datetime) -> None:
    """The lower role is what the account holds now; the next sync confirms (or closes) it."""
    exists = conn.execute(text("SELECT 1 FROM access_grant WHERE account_id = :a AND resource_id = :r "
                               "AND role = :role AND seen_to IS NULL"),
                          {"a": row["account_row"], "r": row["resource_id"], "role": row["target_role"]}).first()
    if exists is None:
        conn.execute(text("INSERT INTO access_grant (system, account_id, resource_id, role, level, seen_from, "
                          "last_seen, verifiable) VALUES (:s, :a, :r, :role, :level, :now, :now, :v)"),
                     {"s": row["system"], "a": row["account_row"], "r": row["resource_id"],
                      "role": row["target_role"], "level": int(row["target_level"] or 0), "now": now,
                      "v": bool(row["verifiable"])})
