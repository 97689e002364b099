"""SQLModel tables of accountability and notifications: principals, and the notification outbox.

A **principal** is who did something (DESIGN.md's model): one per person, keyed by the IdP
subject of their console login, or (before the console exists) by the id the settings give them;
their personal API tokens point at the same row, so a person's token and their login are one
principal, never two. The system (the scheduler, the rules) and services (HR's signed webhook) are
principals too, of other kinds, so every decision in the trail names one.

A **notification** is one message to one channel, recorded before it is sent (an outbox, like the
revocations): its ``dedup_key`` is unique, so the event that caused it can be seen twice and still
yields one message; ``state`` moves pending -> sending -> sent, or back to pending with a later
``next_attempt_at`` when the channel failed, and ``dead`` after the last attempt.
"""

from __future__ import annotations

from typing import Any

from pydantic import NaiveDatetime
from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from accessward.sync.clock import utcnow


class Principal(SQLModel, table=True):
    """A person, the system, or a service; ``key`` is stable and is what the audit trail names."""

    __tablename__ = "principal"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)  # settings id | oidc:<n> | system:scheduler | service:hr-webhook
    kind: str = "person"  # person | system | service
    display_name: str = ""
    email: str | None = Field(default=None, index=True)  # lower-cased
    person_key: str | None = None  # employee id / UPN / source key: how to find their own access
    issuer: str | None = None  # OIDC issuer of the console login
    subject: str | None = None  # OIDC `sub`
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    disabled_at: NaiveDatetime | None = None


class Notification(SQLModel, table=True):
    """One message to one channel; written first, then sent, then marked (see ``accessward.notify``)."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(unique=True)  # <source event>:<channel>
    event: str  # plan.needs_approval | review.assigned | ... (accessward.notify.events.EVENTS)
    channel: str  # the channel's name in the settings
    title: str
    body: str
    link: str = ""  # the console page that acts on it
    recipients: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    facts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: str = "pending"  # pending | sending | sent | dead
    attempts: int = 0
    next_attempt_at: NaiveDatetime = Field(default_factory=utcnow)
    claimed_until: NaiveDatetime | None = None
    last_error: str | None = None
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    sent_at: NaiveDatetime | None = None


class NotifyCursor(SQLModel, table=True):
    """How far the notifier has read the audit trail (the id of the last event it turned into messages)."""

    __tablename__ = "notify_cursor"

    name: str = Field(primary_key=True)
    last_event_id: int = 0
    updated_at: NaiveDatetime = Field(default_factory=utcnow)
