"""Offboarding: HR says a person leaves; every grant on every system and their IdP sessions go.

An offboarding is an explicit, approved decision, so the mass-revocation threshold does not stop
it; everything else that keeps revocation safe still holds: the last admin of a resource is never
removed, break-glass accounts are never touched, a disputed link is not acted on, and a manual
inventory's access is listed as a manual step. Those items stay *pending* in the receipt, with the
reason.

A run (:func:`run`) is idempotent and resumable: IdP actions are recorded before they are sent;
grants go through the outbox as an approved plan (``reconcile.plan.persist_plan``) and the one
executor (``reconcile.executor.execute``). A system that fails leaves its items pending and the
offboarding ``partially_done``; the scheduler runs it again later (:func:`due`), which finishes
interrupted plans first and plans only what is still open. Only one run of an offboarding happens
at a time, across instances (``sync.locks``).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from accessward.connectors.errors import ConnectorError, NotFoundError
from accessward.connectors.idp import IdentityProvider
from accessward.connectors.protocols import Revoker
from accessward.connectors.scrub import scrub
from accessward.reconcile import executor
from accessward.reconcile.correlate import correlate
from accessward.reconcile.idp_calls import DISABLING_STEPS, Retry, call_idp, disable_hold
from accessward.reconcile.plan import (
    Item,
    PlanResult,
    grant_ref,
    grants_in_flight,
    is_break_glass,
    manual_step,
    persist_plan,
)
from accessward.reconcile.policy import PolicySettings
from accessward.reconcile.subject import PersonNotFound, open_grants, resolve
from accessward.reconcile.takes import Guard, Taken, in_flight_removals, takes_for
from accessward.sync import audit
from accessward.sync.clock import utcnow
from accessward.sync.locks import try_lock
from accessward.sync.models import Action, Grant, Person, Plan
from accessward.sync.service_models import Offboarding, OffboardingItem

FINAL = ("done", "already_gone")
LEASE = timedelta(minutes=15)  # a run that crashed is picked up again after this
MAX_RETRY_DELAY = timedelta(hours=6)
HELD_RECHECK = timedelta(hours=24)


@dataclass
class Tools:
    """What a run needs from outside the store."""

    revokers: Mapping[str, Revoker]
    idps: Mapping[str, IdentityProvider]
    policy: PolicySettings
    attempts: int = 3
    backoff: float = 1.0
    retry_minutes: float = 5
    sleep: Callable[[float], None] = time.sleep


class RequestConflict(ValueError):
    """The request id is already used for another person."""


def find(engine: Engine, request_id: str) -> Offboarding | None:
    with Session(engine) as session:
        return session.execute(select(Offboarding).where(col(Offboarding.request_id) == request_id)).scalars().first()


def _same(existing: Offboarding, person_key: str) -> Offboarding:
    if existing.person_key.strip().lower() != person_key.strip().lower():
        raise RequestConflict(f"request id {existing.request_id!r} was used for another person")
    return existing


def request(engine: Engine, *, request_id: str, person_key: str, effective_at: datetime, requested_by: str,
            source: str, reason: str = "", record_unknown: bool = False) -> tuple[Offboarding, bool]:
    """Record an offboarding once per request id; answer (offboarding, created).

    An unknown person raises :class:`PersonNotFound`, unless ``record_unknown`` (an IdP pushing a
    deprovisioning we cannot match): it is then recorded as ``not_found`` for the auditors.
    """
    existing = find(engine, request_id)
    if existing is not None:
        return _same(existing, person_key), False
    problem = None
    try:
        subject = resolve(engine, person_key)
    except PersonNotFound as exc:
        if not record_unknown:
            raise
        subject, problem = None, str(exc)
    ob = Offboarding(
        request_id=request_id, person_key=person_key, effective_at=effective_at, source=source,
        requested_by=requested_by, reason=reason, status="scheduled" if subject else "not_found",
        person_ids=list(subject.person_ids) if subject else [], person_name=subject.name if subject else "",
        employee_id=subject.employee_id if subject else None,
        next_attempt_at=effective_at if subject else None, last_error=problem,
    )
    try:
        with Session(engine) as session:
            session.add(ob)
            session.flush()
            audit.append(session.connection(), "offboarding.requested", f"offboarding:{request_id}", {
                "person": person_key, "records": ob.person_ids, "effective_at": effective_at.isoformat(),
                "source": source, "reason": reason, "status": ob.status,
            }, actor=requested_by)
            session.commit()
            session.refresh(ob)
    except IntegrityError:
        existing = find(engine, request_id)  # the same request arrived twice at once
        if existing is None:
            raise
        return _same(existing, person_key), False
    return ob, True


def due(engine: Engine, now: datetime | None = None) -> list[int]:
    """Offboardings whose time has come: effective now, a retry due, or a crashed run's lease over."""
    now = now or utcnow()
    with Session(engine) as session:
        return list(session.execute(
            select(col(Offboarding.id)).where(
                col(Offboarding.status).in_(["scheduled", "in_progress", "partially_done"]),
                col(Offboarding.next_attempt_at) <= now)
            .order_by(col(Offboarding.next_attempt_at))
        ).scalars())


def run(engine: Engine, offboarding_id: int, tools: Tools, *, actor: str = "system") -> str:
    """Carry out (or continue) one offboarding; answer its status afterwards."""
    with try_lock(engine, f"offboarding:{offboarding_id}") as mine:
        if not mine:
            return _status(engine, offboarding_id)  # another run is at it
        ob = _start(engine, offboarding_id)
        if ob is None:
            return _status(engine, offboarding_id)
        try:
            return _carry_out(engine, ob, tools, actor)
        except Exception as exc:  # recorded for the receipt; the lease brings the scheduler back to it
            _record_error(engine, offboarding_id, f"internal error: {type(exc).__name__}: {exc}")
            raise


def _record_error(engine: Engine, offboarding_id: int, message: str) -> None:
    with Session(engine) as session:
        ob = session.get(Offboarding, offboarding_id)
        if ob is not None:
            ob.last_error, ob.updated_at = scrub(message)[:2000], utcnow()
            session.add(ob)
            session.commit()


def _carry_out(engine: Engine, ob: Offboarding, tools: Tools, actor: str) -> str:
    who = f"offboarding:{ob.request_id}"
    correlate(engine, plus_addressing=tools.policy.plus_addressing)  # links as of the newest sync
    people = _people(engine, ob.person_ids)
    # The identity providers' steps and the grants on every system go side by side: each system in a
    # lane of its own (executor ``across_systems``), in its own order, one call at a time, each call
    # judged just before it is sent. One decision ties them: whether the IdP account is disabled. It is
    # taken first, on the store as it is, and the grant plan counts the SSO grants the disable takes as
    # removed; the IdP lane's own check just before the call then agrees with the plan whatever the
    # timing (disable_hold counts grant ids, so a grant both remove counts once).
    disabling = _disables_going_ahead(engine, ob, people, tools)
    idp = ThreadPoolExecutor(max_workers=1, thread_name_prefix="offboarding-idp")
    idp_done = idp.submit(_idp_actions, engine, ob, people, tools)
    try:
        for open_plan in _open_plans(engine, ob):  # a crash or a stopped system left these
            executor.execute(engine, open_plan, tools.revokers, max_attempts=tools.attempts, backoff=tools.backoff,
                             sleep=tools.sleep, actor=who, across_systems=True, break_glass=tools.policy.break_glass)
        plan_id = _plan_grants(engine, ob, tools, actor, disabling)
        if plan_id is not None:
            executor.execute(engine, plan_id, tools.revokers, max_attempts=tools.attempts, backoff=tools.backoff,
                             sleep=tools.sleep, actor=who, across_systems=True, break_glass=tools.policy.break_glass)
    finally:
        idp.shutdown(wait=True)  # the IdP's steps end (and are recorded) before anything is settled
    idp_done.result()  # an IdP error raises here, after the grants went on regardless
    refresh_grant_items(engine, ob.id or 0)
    return _settle(engine, ob.id or 0, people, tools, actor)


def _status(engine: Engine, offboarding_id: int) -> str:
    with Session(engine) as session:
        ob = session.get(Offboarding, offboarding_id)
        return ob.status if ob else "unknown"


def _start(engine: Engine, offboarding_id: int) -> Offboarding | None:
    now = utcnow()
    with Session(engine) as session:
        ob = session.get(Offboarding, offboarding_id)
        if ob is None or ob.status in ("done", "not_found") or ob.effective_at > now:
            return None
        ob.status, ob.attempts, ob.updated_at = "in_progress", ob.attempts + 1, now
        ob.started_at = ob.started_at or now
        ob.next_attempt_at = now + LEASE
        session.add(ob)
        session.commit()
        session.refresh(ob)
        return ob


def _people(engine: Engine, ids: list[int]) -> list[Person]:
    with Session(engine) as session:
        return list(session.execute(select(Person).where(col(Person.id).in_(ids)).order_by(col(Person.id)))
                    .scalars())


def _reason(ob: Offboarding, approver: str) -> str:
    return f"offboarding {ob.request_id} of {ob.person_key}, decided by {approver}"


def _open_plans(engine: Engine, ob: Offboarding) -> list[int]:
    """This offboarding's plans still to run: recorded on it, or written just before a crash."""
    prefix = f"offboarding {ob.request_id} of "
    with Session(engine) as session:
        plans = session.execute(select(Plan).where(col(Plan.status).in_(["approved", "applying"]))).scalars()
        return sorted(p.id for p in plans if p.id is not None and (p.id in ob.plan_ids or p.reason.startswith(prefix)))


def _items(session: Session, offboarding_id: int) -> dict[str, OffboardingItem]:
    rows = session.execute(select(OffboardingItem).where(col(OffboardingItem.offboarding_id) == offboarding_id))
    return {i.item_key: i for i in rows.scalars()}


def _save_item(engine: Engine, offboarding_id: int, key: str, **values: Any) -> None:
    with Session(engine) as session:
        item = _items(session, offboarding_id).get(key) or OffboardingItem(offboarding_id=offboarding_id,
                                                                            item_key=key, kind="", system="",
                                                                            target="")
        for name, value in values.items():
            setattr(item, name, value)
        item.updated_at = utcnow()
        session.add(item)
        session.commit()


# -- identity providers -------------------------------------------------------------------------


def _idp_actions(engine: Engine, ob: Offboarding, people: list[Person], tools: Tools) -> None:
    """Each IdP's steps in the order it needs them (``IdentityProvider.offboarding_steps``): Keycloak
    disables before logging out and removes offline tokens; an Entra guest is disabled or deleted, never
    "sessions ended". Each step is recorded before it is sent; a refusal is a failed step in the receipt."""
    disable = tools.policy.offboarding.disable_account
    retry = Retry(tools.attempts, tools.backoff, tools.sleep)
    assert ob.id is not None
    for person in people:
        idp = tools.idps.get(person.source)
        if idp is None:
            continue
        user = person.source_key
        with Session(engine) as session:
            items = _items(session, ob.id)
        try:
            steps = idp.offboarding_steps(user, disable=disable)
        except NotFoundError as exc:
            key = f"idp:{person.source}:{user}:end_sessions"
            if key not in items:
                _save_item(engine, ob.id, key, kind="end_sessions", system=person.source, target=user,
                           target_name=person.display_name, state="already_gone",
                           detail=f"not in the identity provider any more ({exc})", done_at=utcnow())
            continue
        except ConnectorError as exc:  # e.g. Entra reads userType first; retried by the next run
            _save_item(engine, ob.id, f"idp:{person.source}:{user}:read_account", kind="read_account",
                       system=person.source, target=user, target_name=person.display_name, state="failed",
                       detail=f"{exc.kind}: could not read the account to choose its steps: {exc}")
            continue
        read = items.get(f"idp:{person.source}:{user}:read_account")
        if read is not None and read.state not in FINAL:
            _save_item(engine, ob.id, read.item_key, state="done", detail="account read", done_at=utcnow())
        for step in steps:
            key = f"idp:{person.source}:{user}:{step.kind}"
            before = items.get(key)
            if before is not None and before.state in FINAL:
                continue
            held = disable_hold(engine, ob.person_ids, tools.policy.break_glass, idp.name) \
                if step.kind in DISABLING_STEPS else None
            if held is not None:
                _save_item(engine, ob.id, key, kind=step.kind, system=person.source, target=user,
                           target_name=person.display_name, state="held", detail=held,
                           request=step.preview.render())
                continue
            # recorded before it is sent, like every revocation
            _save_item(engine, ob.id, key, kind=step.kind, system=person.source, target=user,
                       target_name=person.display_name, state="pending", detail="being sent",
                       request=step.preview.render(), attempts=(before.attempts if before else 0) + 1)
            state, detail = call_idp(step.run, retry)
            _save_item(engine, ob.id, key, state=state, detail=detail, done_at=utcnow() if state in FINAL else None)
            audit.record(engine, f"offboarding.{step.kind}", f"offboarding:{ob.request_id}",
                         {"system": person.source, "user": user, "state": state, "detail": detail},
                         actor=f"offboarding:{ob.request_id}")


# -- grants -------------------------------------------------------------------------------------


def _plan_grants(engine: Engine, ob: Offboarding, tools: Tools, actor: str,
                 disabling: frozenset[str] = frozenset()) -> int | None:
    """Write every open grant of the person to the outbox (or hold it, with the reason)."""
    assert ob.id is not None
    rows = open_grants(engine, ob.person_ids)
    with Session(engine) as session:
        items = _items(session, ob.id)
    in_flight = grants_in_flight(engine)
    break_glass = {b.lower() for b in tools.policy.break_glass}
    # Invariant 5, as in reconcile.plan: every grant a revocation takes away (a business membership
    # takes every asset assignment) is judged, counting what other unfinished plans remove.
    guard = Guard(break_glass, going=in_flight_removals(engine, tools.revokers), cache_admins=True)
    mine = set(ob.person_ids)
    # Grants the person reached through SSO are gone with a disabled IdP account: they count as
    # removed, so a native admin grant beside them is not taken as "another admin remains".
    guard.going.update(_disabled_sso_grants(engine, ob, rows, disabling))
    to_revoke: list[Item] = []
    for row in rows:
        key = f"grant:{row['grant_id']}"
        if key in items and items[key].state in FINAL:
            continue
        revoker = tools.revokers.get(str(row["system"]))
        why = _hold_reason(row, mine, revoker, break_glass)
        if why is None and row["grant_id"] in in_flight:
            _save_grant_item(engine, ob.id, row, "pending", f"in plan {in_flight[row['grant_id']]}, being revoked")
            continue
        if why is None:
            why = _judge_takes(engine, guard, revoker, row)
        if why is not None:
            _save_grant_item(engine, ob.id, row, "held", why)
            continue
        assert revoker is not None
        preview = revoker.preview_revoke(grant_ref(row)).render()
        to_revoke.append(Item(
            finding_id=None, grant_id=row["grant_id"], rule="offboarding", system=row["system"],
            account=row["account"], account_name=row["account_name"], resource=row["resource"],
            resource_name=row["resource_name"], role=row["role"], level=row["level"],
            reason=f"offboarding {ob.request_id}", request=preview,
        ))
        _save_grant_item(engine, ob.id, row, "pending", "planned", request=preview)
    if not to_revoke:
        return None
    approver = ob.requested_by or actor
    result = PlanResult(None, "approved", _reason(ob, approver), revocations=to_revoke)
    plan_id = persist_plan(engine, result, actor, supersede=False, approved_by=approver, origin="offboarding")
    with Session(engine) as session:
        actions = {a.grant_id: a.id for a in session.execute(
            select(Action).where(col(Action.plan_id) == plan_id)).scalars()}
        saved = session.get(Offboarding, ob.id)
        assert saved is not None
        saved.plan_ids = [*saved.plan_ids, plan_id]
        session.add(saved)
        for item in _items(session, ob.id).values():
            if item.grant_id in actions:
                item.action_id = actions[item.grant_id]
                session.add(item)
        session.commit()
    return plan_id


def _disables_going_ahead(engine: Engine, ob: Offboarding, people: list[Person], tools: Tools) -> frozenset[str]:
    """The identity sources whose account of this person will be disabled in this run: the policy asks
    for it and nothing holds it now (judged before this run's grant plan exists)."""
    if not tools.policy.offboarding.disable_account:
        return frozenset()
    going = set()
    for person in people:
        idp = tools.idps.get(person.source)
        if idp is not None and disable_hold(engine, ob.person_ids, tools.policy.break_glass, idp.name) is None:
            going.add(person.source)
    return frozenset(going)


def _disabled_sso_grants(engine: Engine, ob: Offboarding, rows: list[Any],
                         disabling: frozenset[str] = frozenset()) -> dict[int, Taken]:
    """The SSO grants of people whose IdP account this offboarding disables now (``disabling``), has
    disabled, or has sent the disable for (a run that crashed after sending it)."""
    assert ob.id is not None
    with Session(engine) as session:
        items = _items(session, ob.id)
    sent = {i.system for i in items.values()
            if i.kind in DISABLING_STEPS and i.state in ("done", "already_gone", "pending")}
    disabled_sources = set(disabling) | sent
    if not disabled_sources:
        return {}
    people = {p.id: p.source for p in _people(engine, ob.person_ids)}
    out: dict[int, Taken] = {}
    with engine.connect() as conn:
        for row in rows:
            if row["sso"] is True and people.get(row["person_id"]) in disabled_sources:
                _, taken = takes_for(conn, None, row)
                out.update({t.grant_id: t for t in taken})
    return out


def _judge_takes(engine: Engine, guard: Guard, revoker: Revoker | None, row: Mapping[str, Any]) -> str | None:
    """Why everything this revocation takes away may not go (last admin, break-glass, manual step), or None."""
    with engine.connect() as conn:
        try:
            takes, taken = takes_for(conn, revoker, row)
        except ConnectorError as exc:
            return f"cannot tell what this revocation removes: {exc}"
        if takes.manual_step:
            return f"manual step, by hand: {takes.manual_step}"
        why = guard.judge(conn, taken, int(row["grant_id"]))
    if why is None:
        guard.accept(taken)
    elif why.startswith("last admin"):
        why += "; make someone else an admin and the next retry removes this one"
    return why


def _hold_reason(row: Mapping[str, Any], mine: set[int], revoker: Revoker | None,
                 break_glass: set[str]) -> str | None:
    if row["person_id"] not in mine:
        return "disputed link: two people match this account; link it by hand (accessward link)"
    if revoker is None:
        return f"no revoker configured for {row['system']}"
    if is_break_glass(row, break_glass):
        return "break-glass account: never revoked"
    if not row["verifiable"]:
        return f"no API to revoke through (manual inventory): {revoker.preview_revoke(grant_ref(row)).render()}"
    return manual_step(revoker, row)


def _save_grant_item(engine: Engine, offboarding_id: int, row: Mapping[str, Any], state: str, detail: str,
                     request: str = "") -> None:
    _save_item(engine, offboarding_id, f"grant:{row['grant_id']}", kind="revoke_grant", system=row["system"],
               target=row["account"], target_name=row["account_name"] or "", resource=row["resource"],
               resource_name=row["resource_name"] or "", role=row["role"], level=row["level"],
               grant_id=row["grant_id"], state=state, detail=detail, request=request)


def refresh_grant_items(engine: Engine, offboarding_id: int) -> None:
    """Bring grant items up to date with their outbox actions and the grants themselves."""
    with Session(engine) as session:
        for item in _items(session, offboarding_id).values():
            if item.kind != "revoke_grant" or item.state in FINAL or item.grant_id is None:
                continue
            grant = session.get(Grant, item.grant_id)
            action = session.get(Action, item.action_id) if item.action_id else None
            state, detail, when = _grant_state(item, grant, action)
            if (state, detail) != (item.state, item.detail):
                item.state, item.detail, item.updated_at = state, detail, utcnow()
                item.done_at = when if state in FINAL else None
                item.attempts = action.attempts if action else item.attempts
                session.add(item)
        session.commit()


def _grant_state(item: OffboardingItem, grant: Grant | None, action: Action | None
                 ) -> tuple[str, str, datetime | None]:
    if action is not None and action.state in FINAL:
        return action.state, "revoked" if action.state == "done" else "already gone on the platform", action.updated_at
    if grant is not None and grant.seen_to is not None:
        return "already_gone", f"no longer on the platform ({grant.closed_by or 'closed'})", grant.seen_to
    if action is None:
        return item.state, item.detail, None
    if action.state == "failed":
        return "failed", action.last_error or "failed", None
    if action.state == "cancelled":
        return "pending", f"cancelled: {action.last_error or ''}; planned again on the next retry", None
    return "pending", action.last_error or "waiting to be sent", None


# -- the outcome --------------------------------------------------------------------------------


def _settle(engine: Engine, offboarding_id: int, people: list[Person], tools: Tools, actor: str) -> str:
    now = utcnow()
    with Session(engine) as session:
        ob = session.get(Offboarding, offboarding_id)
        assert ob is not None
        items = list(_items(session, offboarding_id).values())
        pending = [i for i in items if i.state not in FINAL]
        notes = []
        if tools.idps and not any(p.source in tools.idps for p in people):
            notes.append("no account in a configured identity provider was found for this person: "
                         "their sign-in sessions could not be ended centrally")
        if not items:
            notes.append("nothing to remove: no grant on any synced system is linked to this person")
        ob.notes = notes
        if not pending:
            ob.status, ob.completed_at, ob.next_attempt_at = "done", now, None
        else:
            ob.status = "partially_done"
            if any(i.state != "held" for i in pending):
                delay = timedelta(minutes=tools.retry_minutes) * 2 ** max(0, ob.attempts - 1)
                ob.next_attempt_at = now + min(delay, MAX_RETRY_DELAY)
            else:  # only held items: nothing to retry now, but the reason may go away (a new admin)
                ob.next_attempt_at = now + HELD_RECHECK
        ob.updated_at = now
        counts: dict[str, int] = defaultdict(int)
        for i in items:
            counts[i.state] += 1
        ob.last_error = "; ".join(f"{i.system}: {i.detail}" for i in pending if i.state != "held")[:2000] or None
        session.add(ob)
        audit.append(session.connection(), "offboarding.run", f"offboarding:{ob.request_id}", {
            "status": ob.status, "attempt": ob.attempts, "items": dict(counts),
            "pending_systems": sorted({i.system for i in pending}),
        }, actor=actor)
        session.commit()
        return ob.status
