"""SQLModel tables of the service (``accessward serve``): API tokens, offboardings and their receipts,
lost-device reports, replay protection, inbound SCIM users and the scheduler's job runs.

Kept apart from ``sync.models`` (the normalized model of DESIGN.md) because they describe the
service's own work, not what the outside systems hold. Timestamps are naive UTC (``sync.clock``).
No secret is ever stored: an API token is kept as the SHA-256 of its value, a webhook signature
only as the SHA-256 of the signature.
"""

from __future__ import annotations

from typing import Any

from pydantic import NaiveDatetime
from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from accessward.sync import principal_models  # noqa: F401  (api_token.principal_id refers to it)
from accessward.sync.clock import utcnow


class ApiToken(SQLModel, table=True):
    """A bearer token of the HTTP API; ``token_hash`` is sha256(token) in hex, never the token."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    role: str  # hr | service_desk | auditor | approver | reviewer | admin
    token_hash: str = Field(unique=True)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    created_by: str = ""
    last_used_at: NaiveDatetime | None = None
    revoked_at: NaiveDatetime | None = None
    # A personal token is bound to a person principal; a service token (an HR system) has none.
    principal_id: int | None = Field(default=None, foreign_key="principal.id", index=True)
    expires_at: NaiveDatetime | None = None  # refused from then on


class Offboarding(SQLModel, table=True):
    """An HR decision that a person leaves: every grant, every IdP session, with a receipt.

    ``request_id`` is the caller's idempotency key (the public id of the receipt). ``status``:
    scheduled | in_progress | done | partially_done | not_found. ``next_attempt_at`` is when the
    scheduler looks at it again (due, retry, or a crashed run's lease running out).
    """

    __tablename__ = "offboarding"
    __table_args__ = (Index("ix_offboarding_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(unique=True)
    person_key: str
    person_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    person_name: str = ""
    employee_id: str | None = None
    effective_at: NaiveDatetime
    status: str = "scheduled"
    source: str = "api"  # api | cli | scim
    requested_by: str = ""
    reason: str = ""
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    updated_at: NaiveDatetime = Field(default_factory=utcnow)
    started_at: NaiveDatetime | None = None
    completed_at: NaiveDatetime | None = None
    attempts: int = 0
    next_attempt_at: NaiveDatetime | None = None
    last_error: str | None = None
    plan_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    notes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class OffboardingItem(SQLModel, table=True):
    """One line of a receipt: a grant to revoke, or an IdP action (end sessions, disable).

    ``state``: pending | done | already_gone | failed | held. ``action_id`` is the newest outbox
    action for a grant; ``detail`` says what happened or why it is still pending.
    """

    __tablename__ = "offboarding_item"
    __table_args__ = (UniqueConstraint("offboarding_id", "item_key"),)

    id: int | None = Field(default=None, primary_key=True)
    offboarding_id: int = Field(foreign_key="offboarding.id", index=True)
    item_key: str  # grant:<id> | idp:<system>:<user>:<kind>
    kind: str  # revoke_grant | end_sessions | disable_account
    system: str
    target: str  # account id on the system, or the IdP user id
    target_name: str = ""
    resource: str = ""
    resource_name: str = ""
    role: str = ""
    level: int | None = None
    grant_id: int | None = Field(default=None, foreign_key="access_grant.id")
    action_id: int | None = Field(default=None, foreign_key="action.id")
    state: str = "pending"
    detail: str = ""
    request: str = ""
    attempts: int = 0
    done_at: NaiveDatetime | None = None
    updated_at: NaiveDatetime = Field(default_factory=utcnow)


class DeviceReport(SQLModel, table=True):
    """A device reported lost or stolen, and what was done about it (``result``)."""

    __tablename__ = "device_report"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str | None = Field(default=None, unique=True)
    device: str = ""
    person_key: str
    person_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = "lost"  # lost | stolen
    reported_by: str = ""
    reported_at: NaiveDatetime = Field(default_factory=utcnow)
    outcome: str = "done"  # done | partially_done
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class SeenNonce(SQLModel, table=True):
    """A signed request already accepted (sha256 of its signature): a second one is a replay."""

    __tablename__ = "seen_nonce"

    nonce: str = Field(primary_key=True)
    seen_at: NaiveDatetime = Field(default_factory=utcnow, index=True)


class ScimUser(SQLModel, table=True):
    """A user an identity provider provisioned to us over inbound SCIM 2.0.

    ``resource`` is the SCIM representation as last written, reduced to the announced schemas (no
    password, nothing unknown); it holds ``active`` only when the IdP asserted it. ``active`` (the
    column) is the lifecycle state: it turns false on a deprovisioning and only an explicit
    ``active: true`` turns it back (counted in ``reactivations``, which re-grants nothing).
    ``deactivations`` counts active true -> false transitions (and deletions), so each one starts
    exactly one offboarding.
    """

    __tablename__ = "scim_user"

    id: str = Field(primary_key=True)
    user_name: str = Field(unique=True)  # stored lower-cased: userName is caseExact false
    external_id: str | None = Field(default=None, index=True)
    active: bool = True
    resource: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    deactivations: int = 0
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    updated_at: NaiveDatetime = Field(default_factory=utcnow)
    version: int = 1
    reactivations: int = 0
    reactivated_at: NaiveDatetime | None = None


class JobRun(SQLModel, table=True):
    """One run of a scheduled job for one scheduled time (``slot``); the unique key makes it once."""

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job", "slot"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(index=True)
    slot: NaiveDatetime
    instance: str = ""
    started_at: NaiveDatetime = Field(default_factory=utcnow)
    finished_at: NaiveDatetime | None = None
    status: str = "running"  # running | succeeded | failed | abandoned
    detail: str = ""


class ScimUnmatched(SQLModel, table=True):
    """A SCIM deprovisioning of someone no identity source knew (yet): its ``not_found`` offboarding
    is retried against each later identity sync until ``retry_until``, and started as soon as one
    of ``keys`` (employee number, userName, externalId, emails: the SCIM user's, strongest first)
    names exactly one person. ``state``: waiting | matched | expired.
    """

    __tablename__ = "scim_unmatched"

    id: int | None = Field(default=None, primary_key=True)
    offboarding_id: int = Field(foreign_key="offboarding.id", unique=True)
    scim_user_id: str
    user_name: str
    keys: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    received_at: NaiveDatetime = Field(default_factory=utcnow)
    retry_until: NaiveDatetime
    state: str = Field(default="waiting", index=True)
    attempts: int = 0
    last_tried_at: NaiveDatetime | None = None
    matched_key: str | None = None
    settled_at: NaiveDatetime | None = None
