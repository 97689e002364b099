"""Access reviews: start a campaign, record reviewers' decisions and delegations, remind and escalate.

A campaign is started once per scheduled time (its ``key``), by the scheduler or by hand, over the grants
its scope covers (``review_scope``). Each decision is recorded against whoever made it — ``by`` is the
principal's id, ``keys`` every name that principal is known by — and refused when it is not theirs to
make: the item is assigned to someone else, or it is the principal's own access (invariant 8). Closing a
campaign turns revoke/reduce decisions into a plan (``review_close``).

Events other parts subscribe to (notifications) are audit events: ``review.started``, ``review.assigned``,
``review.due_soon``, ``review.overdue``, ``review.decided``, ``review.delegated``, ``review.closed``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Engine, Table, insert, update
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from accessward.connectors.records import Level
from accessward.reconcile.policy import PolicySettings
from accessward.reconcile.review_scope import candidates, choose_reviewer
from accessward.review_settings import ReviewCampaignSettings
from accessward.sync import audit
from accessward.sync.clock import utcnow
from accessward.sync.review_models import ReviewCampaign, ReviewDecision, ReviewItem

DECISIONS = ("keep", "revoke", "reduce")
_ITEMS: Table = ReviewItem.__table__  # type: ignore[attr-defined]
_DECISIONS: Table = ReviewDecision.__table__  # type: ignore[attr-defined]
NON_RESPONSE = "system:non-response"


class ReviewError(ValueError):
    """A request the review cannot take; ``status`` is the HTTP status that says why."""

    status = 422


class NotFound(ReviewError):
    status = 404


class Refused(ReviewError):
    status = 403


class Conflict(ReviewError):
    status = 409


def campaign_key(name: str, when: datetime) -> str:
    return f"{name}:{when:%Y-%m-%dT%H:%M}"


def settings_of(campaign: ReviewCampaign) -> ReviewCampaignSettings:
    return ReviewCampaignSettings.model_validate(campaign.settings)


def link(campaign_id: int, reviewer: str) -> str:
    return f"/v1/reviews/{campaign_id}/items?reviewer={reviewer}"


def subject(campaign: ReviewCampaign) -> str:
    return f"review:{campaign.id}"


def notice(campaign: ReviewCampaign, reviewer: str, items: int) -> dict[str, Any]:
    """The data of review.assigned / due_soon / overdue / escalated, as the notifier reads it."""
    assert campaign.id is not None
    return {"campaign": campaign.name, "campaign_id": campaign.id, "campaign_key": campaign.key,
            "reviewer": reviewer, "reviewer_email": reviewer, "items": items,
            "deadline": campaign.deadline.isoformat(), "due_at": campaign.deadline.isoformat(),
            "link": link(campaign.id, reviewer)}


def start(engine: Engine, cfg: ReviewCampaignSettings, policy: PolicySettings, *, actor: str,
          now: datetime | None = None, key: str | None = None) -> tuple[ReviewCampaign, bool]:
    """Start the campaign (once per ``key``); answer (campaign, created)."""
    now = now or utcnow()
    key = key or campaign_key(cfg.name, now)
    existing = find(engine, key, missing_ok=True)
    if existing is not None:
        return existing, False
    found = list(candidates(engine, cfg, policy, now))
    campaign = ReviewCampaign(key=key, name=cfg.name, started_at=now, started_by=actor,
                              deadline=now + timedelta(days=cfg.duration_days), settings=cfg.model_dump(mode="json"))
    try:
        with Session(engine) as session:
            session.add(campaign)
            session.flush()
            assert campaign.id is not None
            reviewers: Counter[str] = Counter()
            rows = []
            for c in found:
                reviewer, how = choose_reviewer(cfg, c)
                reviewers[reviewer] += 1
                row = c.row
                rows.append({
                    "campaign_id": campaign.id, "grant_id": row["grant_id"], "system": row["system"],
                    "resource": row["resource"], "resource_name": row["resource_name"] or "",
                    "account": row["account"], "account_name": row["account_name"] or "", "role": row["role"],
                    "level": int(row["level"]), "person_id": c.people[0].id if c.people else None,
                    "person_name": c.people[0].display_name if c.people else "",
                    "subject_keys": sorted(c.subject_keys), "reviewer": reviewer, "reviewer_source": how,
                    "facts": c.facts, "recommendation": c.recommendation, "recommendation_reason": c.reason,
                    "justification": "", "outcome": "", "outcome_detail": ""})
            for i in range(0, len(rows), 1000):  # a core insert: a campaign can hold a million grants
                session.execute(insert(_ITEMS), rows[i:i + 1000])
            conn = session.connection()
            audit.append(conn, "review.started", subject(campaign), {
                "campaign": cfg.name, "campaign_id": campaign.id, "campaign_key": key,
                "deadline": campaign.deadline.isoformat(),
                "items": len(found), "reviewers": sorted(r for r in reviewers if r),
                "unassigned": reviewers.get("", 0)}, actor=actor)
            for reviewer, n in sorted(reviewers.items()):
                if reviewer:
                    audit.append(conn, "review.assigned", subject(campaign), notice(campaign, reviewer, n),
                                 actor=actor)
            session.commit()
            session.refresh(campaign)
    except IntegrityError:  # another instance started the same slot at the same moment
        again = find(engine, key, missing_ok=True)
        if again is None:
            raise
        return again, False
    return campaign, True


def find(engine: Engine, ref: str | int, *, missing_ok: bool = False) -> ReviewCampaign | None:
    """A campaign by id, by key, or the newest one of a name."""
    with Session(engine) as session:
        found: ReviewCampaign | None = None
        if isinstance(ref, int) or str(ref).isdigit():
            found = session.get(ReviewCampaign, int(ref))
        if found is None:
            found = session.execute(select(ReviewCampaign).where(
                (col(ReviewCampaign.key) == str(ref)) | (col(ReviewCampaign.name) == str(ref)))
                .order_by(col(ReviewCampaign.id).desc())).scalars().first()
    if found is None and not missing_ok:
        raise NotFound(f"no review campaign {ref!r}")
    return found


def campaigns(engine: Engine, *, status: str | None = None) -> list[ReviewCampaign]:
    with Session(engine) as session:
        stmt = select(ReviewCampaign).order_by(col(ReviewCampaign.id).desc())
        if status:
            stmt = stmt.where(col(ReviewCampaign.status) == status)
        return list(session.execute(stmt).scalars())


def items(engine: Engine, campaign_id: int, *, reviewer: str | None = None,
          pending: bool | None = None) -> list[ReviewItem]:
    with Session(engine) as session:
        stmt = select(ReviewItem).where(col(ReviewItem.campaign_id) == campaign_id).order_by(col(ReviewItem.id))
        if reviewer is not None:
            stmt = stmt.where(col(ReviewItem.reviewer) == reviewer.strip().lower())
        if pending is True:
            stmt = stmt.where(col(ReviewItem.decision).is_(None))
        elif pending is False:
            stmt = stmt.where(col(ReviewItem.decision).is_not(None))
        return list(session.execute(stmt).scalars())


def _open_campaign(session: Session, campaign_id: int) -> ReviewCampaign:
    campaign = session.get(ReviewCampaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no review campaign {campaign_id}")
    if campaign.status != "open":
        raise Conflict(f"campaign {campaign.key} is {campaign.status}: decisions are no longer taken")
    return campaign


def _load_items(session: Session, campaign_id: int, item_ids: Sequence[int]) -> list[ReviewItem]:
    if not item_ids:
        raise ReviewError("name at least one item")
    rows = {i.id: i for i in session.execute(select(ReviewItem).where(
        col(ReviewItem.campaign_id) == campaign_id, col(ReviewItem.id).in_(list(item_ids)))).scalars()}
    missing = sorted(set(item_ids) - set(rows))
    if missing:
        raise NotFound(f"campaign {campaign_id} has no item {', '.join(map(str, missing))}")
    return [rows[i] for i in dict.fromkeys(item_ids)]


def _check_own(item: ReviewItem, keys: frozenset[str]) -> None:
    if keys & set(item.subject_keys):
        raise Refused(f"item {item.id} is your own access ({item.system} {item.resource_name or item.resource}): "
                      "nobody reviews their own access")


def decide(engine: Engine, campaign_id: int, item_ids: Sequence[int], decision: str, *, by: str,
           keys: frozenset[str], justification: str = "", reduce_to: str | None = None,
           owns: Callable[[int], bool] | None = None) -> list[ReviewItem]:
    """Record one decision on one or more items (bulk), all or none, audited against ``by``.

    ``owns(grant_id)`` (four-eyes: the principal's linked accounts) refuses the principal's own access
    beside the item's own subject keys.
    """
    if decision not in DECISIONS:
        raise ReviewError(f"decide keep, revoke or reduce, not {decision!r}")
    justification = justification.strip()
    now = utcnow()
    with Session(engine) as session:
        campaign = _open_campaign(session, campaign_id)
        cfg = settings_of(campaign)
        if cfg.require_justification and not justification:
            raise ReviewError("this campaign requires a justification for every decision")
        rows = _load_items(session, campaign_id, item_ids)
        for item in rows:
            if item.reviewer not in keys:
                raise Refused(f"item {item.id} is assigned to {item.reviewer or 'nobody'}, not to you")
            _check_own(item, keys)
            if owns is not None and owns(item.grant_id):
                raise Refused(f"item {item.id} is your own access: nobody reviews their own access")
            if decision == "reduce":
                _check_reduce(item, reduce_to)
        for item in rows:
            item.decision, item.justification, item.decided_by, item.decided_at = decision, justification, by, now
            item.reduce_to = reduce_to if decision == "reduce" else None
            item.decided_via = "reviewer"
            session.add(item)
            assert item.id is not None
            session.add(ReviewDecision(item_id=item.id, kind=decision, reduce_to=item.reduce_to,
                                       justification=justification, decided_by=by, at=now))
        session.flush()
        audit.append(session.connection(), "review.decided", subject(campaign), _event(campaign, rows, decision,
                                                                                        justification, reduce_to,
                                                                                        "reviewer"), actor=by)
        session.commit()
        for item in rows:
            session.refresh(item)
        return rows


def _check_reduce(item: ReviewItem, reduce_to: str | None) -> None:
    if reduce_to is None or reduce_to not in Level.__members__:
        raise ReviewError(f"reduce needs reduce_to, one of {', '.join(Level.__members__)}")
    if Level[reduce_to] >= item.level:
        raise ReviewError(f"item {item.id} is {Level(item.level).name}: reduce_to must be lower")


def _event(campaign: ReviewCampaign, rows: Sequence[Any], decision: str, justification: str,
           reduce_to: str | None, via: str) -> dict[str, Any]:
    """One audit event per decision call (a bulk decision is one act), naming every item it decided."""
    return {"campaign": campaign.name, "campaign_id": campaign.id, "decision": decision, "reduce_to": reduce_to,
            "justification": justification, "via": via,
            "items": [{"item": i.id, "grant": i.grant_id, "system": i.system, "resource": i.resource,
                       "account": i.account, "role": i.role, "person": i.person_name, "reviewer": i.reviewer}
                      for i in rows]}


def delegate(engine: Engine, campaign_id: int, item_ids: Sequence[int], to: str, *, by: str, keys: frozenset[str],
             justification: str = "", may_reassign: bool = False) -> list[ReviewItem]:
    """Hand items to another reviewer: the assigned reviewer may, an admin (``may_reassign``) too."""
    target = to.strip().lower()
    if not target:
        raise ReviewError("delegate to whom?")
    with Session(engine) as session:
        campaign = _open_campaign(session, campaign_id)
        rows = _load_items(session, campaign_id, item_ids)
        for item in rows:
            if item.reviewer not in keys and not may_reassign:
                raise Refused(f"item {item.id} is assigned to {item.reviewer or 'nobody'}, not to you")
            if target in item.subject_keys:
                raise Refused(f"item {item.id} is {target}'s own access: it cannot be delegated to them")
        for item in rows:
            assert item.id is not None
            session.add(ReviewDecision(item_id=item.id, kind="delegate", delegate_to=target,
                                       justification=justification.strip(), decided_by=by))
            audit.append(session.connection(), "review.delegated", subject(campaign), {
                "item": item.id, "from": item.reviewer, "to": target, "justification": justification.strip()},
                actor=by)
            item.reviewer, item.reviewer_source = target, "delegated"
            session.add(item)
        audit.append(session.connection(), "review.assigned", subject(campaign), notice(campaign, target, len(rows)),
                     actor=by)
        session.commit()
        for item in rows:
            session.refresh(item)
        return rows


def apply_non_response(engine: Engine, campaign_id: int) -> int:
    """At the deadline: every undecided item follows the campaign's ``on_no_response``; answer how many."""
    now = utcnow()
    with Session(engine) as session:
        campaign = session.get(ReviewCampaign, campaign_id)
        assert campaign is not None
        rule = settings_of(campaign).on_no_response
        c = _ITEMS.c  # only the columns needed: a campaign can hold a million items
        undecided = [SimpleNamespace(**r) for r in session.connection().execute(
            core_select(c.id, c.grant_id, c.system, c.resource, c.account, c.role, c.person_name, c.reviewer,
                   c.recommendation, c.recommendation_reason)
            .where(c.campaign_id == campaign_id, c.decision.is_(None))).mappings()]
        why = (f"no response when the campaign closed (deadline {campaign.deadline:%Y-%m-%d %H:%M} UTC): "
               f"on_no_response = {rule}")
        groups: dict[tuple[str, str], list[Any]] = {}
        for item in undecided:
            decision = item.recommendation if rule == "recommendation" else rule
            reason = why + (f" ({item.recommendation_reason})" if rule == "recommendation" else "")
            groups.setdefault((decision, reason), []).append(item)
        conn = session.connection()
        for (decision, reason), group in groups.items():
            ids = [i.id for i in group]
            conn.execute(update(_ITEMS).where(_ITEMS.c.id.in_(ids)).values(
                decision=decision, justification=reason, decided_by=NON_RESPONSE, decided_at=now,
                decided_via="non_response"))
            conn.execute(insert(_DECISIONS), [{"item_id": i, "kind": decision, "justification": reason,
                                               "decided_by": NON_RESPONSE, "via": "non_response", "at": now,
                                               "reduce_to": None, "delegate_to": None} for i in ids])
            audit.append(conn, "review.decided", subject(campaign),
                         _event(campaign, group, decision, reason, None, "non_response"), actor=NON_RESPONSE)
        session.commit()
        return len(undecided)


def send_notices(engine: Engine, campaign_id: int, now: datetime | None = None) -> list[str]:
    """Reminders before the deadline and the overdue notice with its escalation, each once per reviewer."""
    now = now or utcnow()
    sent: list[str] = []
    with Session(engine) as session:
        campaign = session.get(ReviewCampaign, campaign_id)
        if campaign is None or campaign.status != "open":
            return sent
        cfg = settings_of(campaign)
        pending = Counter(i.reviewer for i in session.execute(select(ReviewItem).where(
            col(ReviewItem.campaign_id) == campaign_id, col(ReviewItem.decision).is_(None))).scalars())
        notices = list(campaign.notices)
        conn = session.connection()
        overdue = now >= campaign.deadline
        for reviewer, n in sorted(pending.items()):
            base = {**notice(campaign, reviewer, n), "pending": n}
            if overdue:
                key = f"overdue:{reviewer}"
                if key not in notices:
                    escalate = cfg.escalate_to or cfg.fallback
                    audit.append(conn, "review.overdue", subject(campaign), {**base, "escalate_to": escalate})
                    audit.append(conn, "review.escalated", subject(campaign), {
                        **notice(campaign, escalate, n), "pending": n, "overdue_reviewer": reviewer})
                    notices.append(key)
                    sent.append(key)
                continue
            left = campaign.deadline - now
            for days in sorted(cfg.remind_days_before):
                key = f"due_soon:{days}:{reviewer}"
                if left <= timedelta(days=days) and key not in notices:
                    audit.append(conn, "review.due_soon", subject(campaign),
                                 {**base, "days_left": round(left.total_seconds() / 86400, 1)})
                    notices.append(key)
                    sent.append(key)
                    break  # one reminder at a time: the nearest threshold
        if sent:
            # the older thresholds are behind us too: never send them late
            for reviewer in pending:
                for days in cfg.remind_days_before:
                    key = f"due_soon:{days}:{reviewer}"
                    if campaign.deadline - now <= timedelta(days=days) and key not in notices:
                        notices.append(key)
            campaign.notices = notices
            session.add(campaign)
        session.commit()
    return sent
