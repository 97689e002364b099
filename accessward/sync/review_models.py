"""SQLModel tables of access reviews: a campaign, its items (one per grant in scope) and every decision.

An item keeps a snapshot of what the reviewer was shown (``facts``: the person in every source, MFA/SSO,
last activity, agency engagement, open findings) and the recommendation with its reason, because an auditor
asks what the reviewer knew when they decided, not what the store says today. The item holds the decision in
force; ``review_decision`` keeps each one (and each delegation) in order. Timestamps are naive UTC.
"""

from __future__ import annotations

from typing import Any

from pydantic import NaiveDatetime
from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from accessward.sync.clock import utcnow


class ReviewCampaign(SQLModel, table=True):
    """One run of a ``[[reviews]]`` campaign. ``key`` (name and scheduled time) makes a start happen once.

    ``status``: open | closing (decisions being carried out, or a plan waiting for approval) | closed.
    """

    __tablename__ = "review_campaign"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    name: str = Field(index=True)
    status: str = Field(default="open", index=True)
    started_at: NaiveDatetime = Field(default_factory=utcnow)
    started_by: str = ""
    deadline: NaiveDatetime
    closed_at: NaiveDatetime | None = None
    closed_by: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    plan_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    notices: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # reminders sent
    note: str = ""


class ReviewItem(SQLModel, table=True):
    """One grant under review. ``decision``: keep | revoke | reduce (``reduce_to`` a level name), or NULL.

    ``decided_via``: reviewer | non_response. ``outcome`` after closing: kept | planned | done | already_gone
    | failed | held | needs_approval, with ``outcome_detail`` saying why.
    """

    __tablename__ = "review_item"
    __table_args__ = (UniqueConstraint("campaign_id", "grant_id"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="review_campaign.id", index=True)
    grant_id: int = Field(foreign_key="access_grant.id")
    system: str
    resource: str
    resource_name: str = ""
    account: str
    account_name: str = ""
    role: str
    level: int
    person_id: int | None = Field(default=None, foreign_key="person.id")
    person_name: str = ""
    subject_keys: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reviewer: str = Field(default="", index=True)
    reviewer_source: str = ""  # owner | manager | named | fallback | delegated
    facts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    recommendation: str = "keep"
    recommendation_reason: str = ""
    decision: str | None = None
    reduce_to: str | None = None
    justification: str = ""
    decided_by: str | None = None
    decided_at: NaiveDatetime | None = None
    decided_via: str | None = None
    action_id: int | None = Field(default=None, foreign_key="action.id")
    outcome: str = ""
    outcome_detail: str = ""


class ReviewDecision(SQLModel, table=True):
    """Every decision and delegation on an item, in order (the item holds the one in force)."""

    __tablename__ = "review_decision"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="review_item.id", index=True)
    kind: str  # keep | revoke | reduce | delegate
    reduce_to: str | None = None
    delegate_to: str | None = None
    justification: str = ""
    decided_by: str
    via: str = "reviewer"  # reviewer | non_response
    at: NaiveDatetime = Field(default_factory=utcnow)
