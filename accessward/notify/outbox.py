"""The notification outbox: recorded first, retried, never lost, never sent twice by two workers.

``scan`` reads the audit trail after its cursor and writes one notification per configured channel
for every event that calls for one, moving the cursor **in the same transaction**: a crash leaves
both as they were, and the unique ``dedup_key`` (fact + channel) keeps a fact seen twice to one
message. The first scan of an install starts at the trail's end: switching notifications on does
not replay history.

``deliver`` claims one due notification at a time with a conditional UPDATE (``pending`` and due,
or ``sending`` with its lease run out) that only one worker can win, on SQLite and PostgreSQL alike;
the claim is committed before the send, and the outcome after it:

- accepted -> ``sent`` (never sent again);
- refused for good (a 4xx from a webhook, a 5xx SMTP reply) or out of attempts -> ``dead``, with the reason;
- anything else (the mail server is down, a timeout, 429/5xx) -> ``pending`` again with a doubling delay.

A crash *between* the channel accepting a message and the ``sent`` mark is the one window no outbox
can close without the channel's help: the claim's lease runs out and the message is sent again,
with the same ``Message-ID`` (mail) and ``Idempotency-Key`` header (webhooks), so mail systems
collapse it; everything else is at most once per claim and at least once overall.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, Table, and_, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from accessward.notify.channels import Outgoing, Sender, SendError, sender_for
from accessward.notify.events import from_audit
from accessward.settings import NotificationSettings
from accessward.sync.clock import utcnow
from accessward.sync.models import AuditEvent
from accessward.sync.principal_models import Notification, NotifyCursor

log = logging.getLogger("accessward.notify")
_NOTES: Table = Notification.__table__  # type: ignore[attr-defined]
_AUDIT: Table = AuditEvent.__table__  # type: ignore[attr-defined]
CURSOR = "audit"
LEASE = timedelta(minutes=5)
MAX_DELAY = timedelta(hours=1)
BATCH = 500


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


def scan(engine: Engine, cfg: NotificationSettings) -> int:
    """Turn new audit events into notifications; answer how many were written."""
    written = 0
    while True:
        with Session(engine) as session:
            conn = session.connection()
            cursor = session.get(NotifyCursor, CURSOR)
            if cursor is None:  # the first scan starts at the end of the trail
                last = conn.execute(select(_AUDIT.c.id).order_by(_AUDIT.c.id.desc()).limit(1)).scalar() or 0
                session.add(NotifyCursor(name=CURSOR, last_event_id=int(last)))
                session.commit()
                return 0
            rows = conn.execute(select(_AUDIT).where(_AUDIT.c.id > cursor.last_event_id).order_by(_AUDIT.c.id)
                                .limit(BATCH)).mappings().all()
            if not rows:
                return written
            for row in rows:
                message = from_audit(conn, dict(row), cfg.source_failures)
                if message is None:
                    continue
                for channel in cfg.events.get(message.event, []):
                    written += _insert(conn, {
                        "dedup_key": f"{message.key}:{channel}", "event": message.event, "channel": channel,
                        "title": message.title, "body": message.body,
                        "link": cfg.base_url.rstrip("/") + message.path,
                        "recipients": list(message.recipients) if cfg.channels[channel].type == "email" else [],
                        "facts": message.facts, "state": "pending", "attempts": 0, "next_attempt_at": utcnow(),
                        "created_at": utcnow()})
            cursor.last_event_id = int(rows[-1]["id"])
            cursor.updated_at = utcnow()
            session.add(cursor)
            session.commit()


def _insert(conn: Connection, values: dict[str, object]) -> int:
    """Insert unless the dedup key exists (ON CONFLICT DO NOTHING on both databases)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(_NOTES).values(**values).on_conflict_do_nothing(index_elements=["dedup_key"])
    return int(conn.execute(stmt).rowcount or 0)


def _claim(engine: Engine, note_id: int, now: datetime) -> bool:
    with engine.begin() as conn:
        won = conn.execute(update(_NOTES).where(_NOTES.c.id == note_id, or_(
            and_(_NOTES.c.state == "pending", _NOTES.c.next_attempt_at <= now),
            and_(_NOTES.c.state == "sending", _NOTES.c.claimed_until < now),
        )).values(state="sending", claimed_until=now + LEASE, attempts=_NOTES.c.attempts + 1))
        return won.rowcount == 1


def _due(engine: Engine, now: datetime, limit: int) -> list[int]:
    with engine.connect() as conn:
        return [int(i) for i in conn.execute(select(_NOTES.c.id).where(or_(
            and_(_NOTES.c.state == "pending", _NOTES.c.next_attempt_at <= now),
            and_(_NOTES.c.state == "sending", _NOTES.c.claimed_until < now),
        )).order_by(_NOTES.c.id).limit(limit)).scalars()]


def mark_sent(engine: Engine, note_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(update(_NOTES).where(_NOTES.c.id == note_id).values(
            state="sent", sent_at=utcnow(), claimed_until=None, last_error=None))


def deliver(engine: Engine, cfg: NotificationSettings, *, senders: Mapping[str, Sender] | None = None,
            now: Callable[[], datetime] = utcnow, limit: int = 200) -> DeliveryReport:
    """Send every due notification once; failures are rescheduled or given up, with the reason."""
    report = DeliveryReport()
    built: dict[str, Sender] = dict(senders or {})
    for note_id in _due(engine, now(), limit):
        if not _claim(engine, note_id, now()):
            continue  # another worker has it
        with Session(engine) as session:
            note = session.get(Notification, note_id)
            assert note is not None and note.id is not None
            outgoing = Outgoing(note.id, note.dedup_key, note.event, note.title, note.body, note.link,
                                {str(k): str(v) for k, v in note.facts.items()}, tuple(note.recipients))
            channel, attempts = note.channel, note.attempts
        try:
            if channel not in cfg.channels:
                raise SendError(f"channel {channel!r} is no longer configured", permanent=True)
            sender = built.setdefault(channel, sender_for(cfg.channels[channel]))
            sender.send(outgoing)
        except SendError as exc:
            _failed(engine, note_id, str(exc), attempts, cfg, permanent=exc.permanent, now=now(), report=report)
            continue
        except Exception as exc:  # a bug in a sender must not stop the others; the message is kept
            _failed(engine, note_id, f"internal error: {type(exc).__name__}", attempts, cfg, permanent=False,
                    now=now(), report=report)
            log.exception("notification sender failed", extra={"notification": note_id})
            continue
        mark_sent(engine, note_id)
        report.sent += 1
    return report


def _failed(engine: Engine, note_id: int, error: str, attempts: int, cfg: NotificationSettings, *,
            permanent: bool, now: datetime, report: DeliveryReport) -> None:
    dead = permanent or attempts >= cfg.max_attempts
    delay = min(timedelta(seconds=cfg.retry_seconds) * 2 ** max(0, attempts - 1), MAX_DELAY)
    with engine.begin() as conn:
        conn.execute(update(_NOTES).where(_NOTES.c.id == note_id).values(
            state="dead" if dead else "pending", next_attempt_at=now + delay, claimed_until=None,
            last_error=error[:1000]))
    if dead:
        report.dead += 1
    else:
        report.retrying += 1
    report.errors.append(f"notification {note_id}: {error}")
    log.warning("notification not delivered", extra={"notification": note_id, "dead": dead})


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT state, COUNT(*) FROM notification GROUP BY state"))
        return {str(s): int(n) for s, n in rows}
