"""Access reviews in the service: campaigns started on their schedule, reminders, deadlines, closing.

Each ``[[reviews]]`` campaign with a schedule is a job of its own (``review:<name>``, a cron trigger), so
the scheduler's once-per-slot claim starts it once per quarter across instances; the campaign's key (name
and scheduled time) makes a second start of the same slot a no-op anyway. The hourly ``reviews`` job
starts a campaign whose slot was missed while the service was down (within its duration), sends
reminders and overdue notices, and at the deadline applies the non-response rule and closes the campaign
(``close_at_deadline``). Closing holds the apply lock: one reconcile-plan-apply at a time.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from accessward.reconcile import review_close, reviews
from accessward.review_settings import ReviewCampaignSettings
from accessward.runtime import Runtime
from accessward.sync.clock import to_naive_utc, utcnow
from accessward.sync.locks import wait_lock
from accessward.sync.review_models import ReviewCampaign

if TYPE_CHECKING:
    from accessward.serve import JobSpec

ACTOR = "scheduler"


def campaign(rt: Runtime, name: str) -> ReviewCampaignSettings:
    for cfg in rt.settings.reviews:
        if cfg.name == name:
            return cfg
    known = ", ".join(c.name for c in rt.settings.reviews) or "none"
    raise reviews.NotFound(f"no [[reviews]] campaign named {name!r} in the settings (configured: {known})")


def trigger(rt: Runtime, cfg: ReviewCampaignSettings) -> CronTrigger | None:
    tab = cfg.crontab
    return None if tab is None else CronTrigger.from_crontab(tab, timezone=ZoneInfo(rt.settings.service.timezone))


def latest_slot(rt: Runtime, cfg: ReviewCampaignSettings, now: datetime) -> datetime | None:
    """The newest scheduled start at or before ``now``, within the campaign's duration."""
    from accessward.serve import latest_fire_time

    trig = trigger(rt, cfg)
    if trig is None:
        return None
    aware = now.replace(tzinfo=UTC) if now.tzinfo is None else now
    fired = latest_fire_time(trig, aware, timedelta(days=cfg.duration_days))
    return to_naive_utc(fired) if fired else None


def start_scheduled(rt: Runtime, name: str, now: datetime | None = None) -> str:
    """Start the campaign of the newest scheduled time (once); a late start still gives the full duration."""
    cfg = campaign(rt, name)
    now = now or utcnow()
    slot = latest_slot(rt, cfg, now)
    if slot is None:
        return f"{name}: no scheduled start within its duration"
    found, created = reviews.start(rt.engine, cfg, rt.settings.policy, actor=ACTOR, now=now,
                                   key=reviews.campaign_key(name, slot))
    return f"{found.key}: {'started' if created else 'already started'}"


def start_by_hand(rt: Runtime, name: str, *, actor: str) -> ReviewCampaign:
    cfg = campaign(rt, name)
    now = utcnow()
    found, _created = reviews.start(rt.engine, cfg, rt.settings.policy, actor=actor, now=now,
                                    key=reviews.campaign_key(name, now) + ":manual")
    return found


def close(rt: Runtime, campaign_id: int, *, actor: str, now: datetime | None = None,
          wait_seconds: float | None = None) -> review_close.CloseResult:
    """Close a campaign holding the apply lock (waiting ``wait_seconds``, default the misfire grace)."""
    from accessward.jobs import APPLY_LOCK

    svc, cfg = rt.settings.service, rt.settings
    wait = svc.misfire_grace_seconds if wait_seconds is None else wait_seconds
    with wait_lock(rt.engine, APPLY_LOCK, wait) as mine:
        if not mine:
            raise reviews.Conflict("another apply (the nightly run?) holds the lock; try again later")
        with rt.connectors() as (revokers, _idps):
            tools = review_close.Closer(revokers, cfg.policy, [s.name for s in cfg.identity_sources],
                                        attempts=svc.revoke_attempts, backoff=svc.revoke_backoff_seconds,
                                        sleep=rt.sleep)
            return review_close.close(rt.engine, campaign_id, tools, actor=actor, now=now)


def tick(rt: Runtime, stop: threading.Event, now: datetime | None = None) -> str:
    """Missed starts, reminders, overdue notices, and closing at the deadline."""
    now = now or utcnow()
    done: list[str] = []
    for cfg in rt.settings.reviews:
        slot = latest_slot(rt, cfg, now)
        if slot is not None and reviews.find(rt.engine, reviews.campaign_key(cfg.name, slot), missing_ok=True) is None:
            done.append(start_scheduled(rt, cfg.name, now))
    for found in reviews.campaigns(rt.engine, status="open") + reviews.campaigns(rt.engine, status="closing"):
        if stop.is_set():
            break
        assert found.id is not None
        sent = reviews.send_notices(rt.engine, found.id, now)
        if sent:
            done.append(f"{found.key}: {len(sent)} notice(s)")
        if now >= found.deadline and reviews.settings_of(found).close_at_deadline:
            result = close(rt, found.id, actor=ACTOR, now=now)
            done.append(f"{found.key}: {result.status} ({result.reason})")
    return "; ".join(done) or "nothing due"


def _start_job(rt: Runtime, name: str, stop: threading.Event) -> str:
    return start_scheduled(rt, name)


def review_jobs(rt: Runtime) -> list[JobSpec]:
    """The scheduler's review jobs: one per scheduled campaign, and the hourly tick."""
    from apscheduler.triggers.interval import IntervalTrigger

    from accessward.serve import EPOCH, JobSpec

    if not rt.settings.reviews:
        return []
    zone = ZoneInfo(rt.settings.service.timezone)
    specs = [JobSpec("reviews", IntervalTrigger(hours=1, start_date=EPOCH, timezone=zone),
                     lambda s: tick(rt, s))]
    for cfg in rt.settings.reviews:
        trig = trigger(rt, cfg)
        if trig is not None:
            specs.append(JobSpec(f"review:{cfg.name}", trig, partial(_start_job, rt, cfg.name), catch_up=True))
    return specs
