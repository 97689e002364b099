"""The campaign report of an access review: every item, its reviewer, decision, justification, time, outcome.

Rows (``campaign_rows``) are what the evidence pack and the exports include; ``campaign_summary`` gives
the completion figures. Reads the store only.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from accessward.connectors.records import Level
from accessward.sync.review_models import ReviewCampaign, ReviewItem

REPORT_COLUMNS = (
    "campaign", "item", "system", "resource", "account", "person", "role", "level", "recommendation",
    "recommendation_reason", "reviewer", "reviewer_source", "decision", "reduce_to", "decided_by", "decided_via",
    "justification", "decided_at", "outcome", "outcome_detail",
)


def _level(value: int) -> str:
    try:
        return Level(value).name
    except ValueError:
        return str(value)


def campaign_rows(engine: Engine, campaign_id: int) -> list[dict[str, Any]]:
    with Session(engine) as session:
        campaign = session.get(ReviewCampaign, campaign_id)
        if campaign is None:
            return []
        items = session.execute(select(ReviewItem).where(col(ReviewItem.campaign_id) == campaign_id)
                                .order_by(col(ReviewItem.id))).scalars()
        return [{
            "campaign": campaign.key, "item": i.id, "system": i.system,
            "resource": f"{i.resource_name} ({i.resource})" if i.resource_name else i.resource,
            "account": f"{i.account_name} ({i.account})" if i.account_name else i.account,
            "person": i.person_name or "(no matching person)", "role": i.role, "level": _level(i.level),
            "recommendation": i.recommendation, "recommendation_reason": i.recommendation_reason,
            "reviewer": i.reviewer or "(unassigned)", "reviewer_source": i.reviewer_source,
            "decision": i.decision or "", "reduce_to": i.reduce_to or "", "decided_by": i.decided_by or "",
            "decided_via": i.decided_via or "", "justification": i.justification,
            "decided_at": i.decided_at.isoformat(timespec="seconds") if i.decided_at else "",
            "outcome": i.outcome or ("open" if campaign.status == "open" else ""), "outcome_detail": i.outcome_detail,
        } for i in items]


def campaign_summary(engine: Engine, campaign_id: int) -> dict[str, Any]:
    with Session(engine) as session:
        campaign = session.get(ReviewCampaign, campaign_id)
        if campaign is None:
            return {}
        items = list(session.execute(select(ReviewItem).where(col(ReviewItem.campaign_id) == campaign_id)).scalars())
    by_reviewer = sum(1 for i in items if i.decided_via == "reviewer")
    return {
        "id": campaign.id, "key": campaign.key, "name": campaign.name, "status": campaign.status,
        "started_at": campaign.started_at.isoformat(timespec="seconds"), "started_by": campaign.started_by,
        "deadline": campaign.deadline.isoformat(timespec="seconds"),
        "closed_at": campaign.closed_at.isoformat(timespec="seconds") if campaign.closed_at else None,
        "closed_by": campaign.closed_by, "plans": list(campaign.plan_ids), "note": campaign.note,
        "items": len(items), "decided": sum(1 for i in items if i.decision), "decided_by_reviewers": by_reviewer,
        "completion": round(by_reviewer / len(items), 3) if items else 1.0,
        "decisions": dict(Counter(i.decision or "undecided" for i in items)),
        "outcomes": dict(Counter(i.outcome or "open" for i in items)),
        "reviewers": dict(Counter(i.reviewer or "(unassigned)" for i in items)),
    }
