"""SQLModel tables: the normalized model of DESIGN.md, and nothing else.

Timestamps are naive UTC (``sync.clock``), the same on SQLite and PostgreSQL. Grants keep the interval they were seen in
(``seen_from`` .. ``seen_to``; an open grant has ``seen_to`` NULL) so that "who could publish on
3 March?" has an answer. At most one open row exists per (account, resource, role): a partial
unique index enforces it on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from pydantic import NaiveDatetime
from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from accessward.sync.clock import utcnow


class Person(SQLModel, table=True):
    __tablename__ = "person"
    __table_args__ = (UniqueConstraint("source", "source_key"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(index=True)
    source_key: str
    display_name: str = ""
    employee_id: str | None = Field(default=None, index=True)
    username: str | None = Field(default=None, index=True)
    upn: str | None = Field(default=None, index=True)
    emails: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    kind: str = "employee"
    status: str = "active"
    leave_date: NaiveDatetime | None = None
    manager_key: str | None = None
    department: str | None = None
    groups: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    first_seen: NaiveDatetime = Field(default_factory=utcnow)
    last_seen: NaiveDatetime = Field(default_factory=utcnow)
    last_run_id: int | None = None
    # Set when a *complete* sync of the source no longer returned this person.
    missing_since: NaiveDatetime | None = None
    # Sign-in posture as this person's source (an IdP) reported it; NULL = not reported.
    sso: bool | None = None
    mfa: bool | None = None
    mfa_methods: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    last_sign_in: NaiveDatetime | None = None
    # A digest of everything the source said about this person (sync.writer.person_digest): a full
    # run compares it with what arrives and rewrites only the people whose digest changed.
    digest: str | None = None
    # What the source's raw answer for this person digested to (LDAP: the search entry's bytes and
    # its DN), and until when mapping those same bytes gives the same person (an expiry date that
    # has not passed yet; NULL = for good). A full run skips decoding and writing an entry whose
    # bytes digest the same while ``stable_until`` is ahead (connectors.ldap_skip).
    source_digest: str | None = None
    stable_until: NaiveDatetime | None = None


class PersonEmail(SQLModel, table=True):
    """Normalized addresses (lower-cased) for correlation by index, one row per address."""

    __tablename__ = "person_email"
    __table_args__ = (UniqueConstraint("person_id", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    email: str = Field(index=True)


class Account(SQLModel, table=True):
    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("system", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    system: str = Field(index=True)
    external_id: str
    kind: str = "human"
    display_name: str = ""
    login: str | None = None
    email: str | None = None
    employee_id: str | None = None
    sso: bool | None = None
    mfa: bool | None = None
    last_active: NaiveDatetime | None = None
    first_seen: NaiveDatetime = Field(default_factory=utcnow)
    last_seen: NaiveDatetime = Field(default_factory=utcnow)
    last_run_id: int | None = None


class Resource(SQLModel, table=True):
    __tablename__ = "resource"
    __table_args__ = (UniqueConstraint("system", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    system: str = Field(index=True)
    external_id: str
    kind: str = ""
    name: str = ""
    first_seen: NaiveDatetime = Field(default_factory=utcnow)
    last_seen: NaiveDatetime = Field(default_factory=utcnow)


class Grant(SQLModel, table=True):
    __tablename__ = "access_grant"
    __table_args__ = (
        Index(
            "uq_grant_open", "account_id", "resource_id", "role", unique=True,
            sqlite_where=text("seen_to IS NULL"), postgresql_where=text("seen_to IS NULL"),
        ),
        Index("ix_grant_system_open", "system", "seen_to"),
    )

    id: int | None = Field(default=None, primary_key=True)
    system: str
    account_id: int = Field(foreign_key="account.id", index=True)
    resource_id: int = Field(foreign_key="resource.id", index=True)
    role: str
    level: int
    seen_from: NaiveDatetime = Field(default_factory=utcnow)
    seen_to: NaiveDatetime | None = None
    last_seen: NaiveDatetime = Field(default_factory=utcnow)
    last_run_id: int | None = None
    # How the interval closed: "unseen" (a sync no longer saw it) or "revoked" (we removed it).
    closed_by: str | None = None
    # False when no API can confirm it (manual inventories): reports say "unverifiable".
    verifiable: bool = True


class Link(SQLModel, table=True):
    """Account -> person, with how the match was made. One row per account."""

    __tablename__ = "link"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", unique=True)
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    method: str = "none"  # employee_id | username | email | manual | none
    disputed: bool = False
    candidates: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_at: NaiveDatetime = Field(default_factory=utcnow)


class SyncRun(SQLModel, table=True):
    __tablename__ = "sync_run"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(index=True)
    source_type: str = ""
    role: str = ""  # identity | access
    started_at: NaiveDatetime = Field(default_factory=utcnow)
    finished_at: NaiveDatetime | None = None
    # running | succeeded | failed | quarantined
    status: str = "running"
    error: str | None = None
    error_kind: str | None = None
    counts: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    cursor: str | None = None
    full: bool = True


class Finding(SQLModel, table=True):
    __tablename__ = "finding"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)  # rule:grant:<id> — stable across runs
    rule: str = Field(index=True)
    severity: str = "medium"
    system: str = ""
    account_id: int | None = Field(default=None, foreign_key="account.id")
    grant_id: int | None = Field(default=None, foreign_key="access_grant.id", index=True)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    evidence: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    first_seen: NaiveDatetime = Field(default_factory=utcnow)
    last_seen: NaiveDatetime = Field(default_factory=utcnow)
    # open | accepted | resolved | revoked
    state: str = Field(default="open", index=True)
    resolved_at: NaiveDatetime | None = None
    exception_id: int | None = Field(default=None, foreign_key="risk_exception.id")


class RiskException(SQLModel, table=True):
    """A risk acceptance: a finding, or a pattern of findings, accepted by an owner until a date.

    A pattern matches on rule, system, account (id or email) and resource (id), each optional
    (empty matches anything, but at least one must be set). When it expires, or is withdrawn,
    the findings it covered open again.
    """

    __tablename__ = "risk_exception"

    id: int | None = Field(default=None, primary_key=True)
    finding_id: int | None = Field(default=None, index=True)
    rule: str | None = None
    system: str | None = None
    account: str | None = None
    resource: str | None = None
    owner: str
    reason: str
    expires_at: NaiveDatetime
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    created_by: str = ""
    withdrawn_at: NaiveDatetime | None = None


class Plan(SQLModel, table=True):
    __tablename__ = "plan"

    id: int | None = Field(default=None, primary_key=True)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    # ready | needs_approval | approved | applied | superseded
    status: str = "ready"
    reason: str = ""
    revocations: int = 0
    approved_by: str | None = None
    approved_at: NaiveDatetime | None = None
    # Who started it (four-eyes: they cannot approve it): an actor string ("scheduler" for the
    # system) and, when a person started it with their token, their principal.
    started_by: str = ""
    started_by_principal_id: int | None = None
    approved_by_principal_id: int | None = None
    # reconcile | offboarding | review: only the reconciler's own open plans lapse when it plans anew
    origin: str = "reconcile"


class Action(SQLModel, table=True):
    """A planned revocation in the outbox; written before it is attempted (invariant 4)."""

    __tablename__ = "action"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True)
    idempotency_key: str = Field(unique=True)
    finding_id: int | None = Field(default=None, foreign_key="finding.id")
    grant_id: int = Field(foreign_key="access_grant.id")
    system: str
    rule: str
    request: str = ""  # the exact request, as shown in the plan
    kind: str = "revoke"  # revoke | reduce (an access review's lower role, set in place by a Reducer)
    target_role: str | None = None  # reduce: the platform role to set
    target_level: int | None = None
    # planned | executing | done | already_gone | failed | cancelled
    state: str = Field(default="planned", index=True)
    attempts: int = 0
    last_error: str | None = None
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    updated_at: NaiveDatetime = Field(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    """Append-only and hash-chained: each row's hash covers its header, ``digest`` and the previous hash.

    ``digest`` is the SHA-256 of the body (``data``) as written; a body may later be replaced by its
    redacted form (``accessward audit redact``), which keeps the digest and is itself an audited event.
    """

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: NaiveDatetime = Field(default_factory=utcnow)
    actor: str = "system"
    kind: str = Field(index=True)
    subject: str = ""
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = ""
    hash: str = ""
    digest: str = Field(default="", sa_column_kwargs={"server_default": ""})
