"""The scheduled jobs of ``accessward serve``: syncs, the nightly run, due offboardings, housekeeping.

The nightly run lists every source completely; the frequent syncs use incremental changes where
a source offers them (Graph delta links).

Each takes the service's stop event and checks it between steps, so a shutdown abandons a job at
a safe point (between sources, before planning) rather than in the middle of a write. A source is
synced by one job at a time across instances (lock ``sync:<source>``): the nightly run waits for a
frequent sync of the same source to finish, a frequent sync skips a source the nightly run holds.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlmodel import Session, col, delete

from accessward import wiring
from accessward.reconcile import executor, health, lost_device, offboarding, scim_unmatched
from accessward.reconcile.correlate import correlate
from accessward.reconcile.plan import build_plan
from accessward.reconcile.run import reconcile
from accessward.runtime import Runtime
from accessward.sync.clock import utcnow
from accessward.sync.locks import wait_lock
from accessward.sync.runner import SyncGuard, SyncOutcome, sync_access, sync_identity
from accessward.sync.service_models import SeenNonce

log = logging.getLogger("accessward.jobs")
ACTOR = "scheduler"

#: One reconcile-plan-apply at a time, whoever runs it (the nightly job, `accessward apply`).
APPLY_LOCK = "apply"


class Abandoned(Exception):
    """The job stopped at a safe point because the service is shutting down."""


def sync_sources(rt: Runtime, stop: threading.Event, *, only: set[str] | None = None, full: bool = False,
                 wait_seconds: float = 0) -> list[SyncOutcome]:
    """Sync every source (or ``only`` these), one at a time; correlate if any succeeded.

    Identity sources that can are synced incrementally unless ``full``.
    """
    cfg = rt.settings
    guard = SyncGuard(max_drop=cfg.policy.max_drop)
    outcomes: list[SyncOutcome] = []
    sources = [(s.name, "identity") for s in cfg.identity_sources] + [(s.name, "access") for s in cfg.access_sources]
    for name, role in sources:
        if only and name not in only:
            continue
        if stop.is_set():
            raise Abandoned(f"stopped before syncing {name}")
        with wait_lock(rt.engine, f"sync:{name}", wait_seconds, stop=stop) as mine:
            if not mine:
                log.info("sync skipped: another job is syncing the source", extra={"source": name})
                continue
            if role == "identity":
                outcome = sync_identity(rt.engine, wiring.identity_sources(cfg, rt.base, {name})[0], guard=guard,
                                        full=full)
            else:
                outcome = sync_access(rt.engine, wiring.access_sources(cfg, rt.base, {name})[0], guard=guard)
        outcomes.append(outcome)
        rt.metrics.sync_duration.labels(name, outcome.status).observe(_duration(rt, outcome.run_id))
    if any(o.ok for o in outcomes):
        correlate(rt.engine, plus_addressing=cfg.policy.plus_addressing)
    if any(o.ok and o.source in {s.name for s in cfg.identity_sources} for o in outcomes):
        for offboarding_id in scim_unmatched.retry(rt.engine, actor=ACTOR):  # someone a SCIM IdP deprovisioned
            rt.submit_offboarding(offboarding_id, actor=ACTOR)
    return outcomes


def _duration(rt: Runtime, run_id: int) -> float:
    from accessward.sync.models import SyncRun

    with Session(rt.engine) as session:
        run = session.get(SyncRun, run_id)
        if run is None or run.finished_at is None:
            return 0.0
        return (run.finished_at - run.started_at).total_seconds()


def frequent_sync(rt: Runtime, stop: threading.Event) -> str:
    only = set(rt.settings.service.sync_sources) or None
    outcomes = sync_sources(rt, stop, only=only)
    return ", ".join(f"{o.source} {o.status}" for o in outcomes) or "nothing synced"


def nightly(rt: Runtime, stop: threading.Event) -> str:
    """Full sync, reconcile, finish interrupted plans, plan, and revoke within the thresholds."""
    engine = rt.engine
    outcomes = sync_sources(rt, stop, full=True, wait_seconds=rt.settings.service.misfire_grace_seconds)
    synced = ", ".join(f"{o.source} {o.status}" for o in outcomes)
    if stop.is_set():
        raise Abandoned(f"stopped after the sync ({synced}); nothing was planned")
    with wait_lock(engine, APPLY_LOCK, rt.settings.service.misfire_grace_seconds, stop=stop) as mine:
        if not mine:
            raise Abandoned(f"another apply held the lock ({synced}); nothing was planned")
        return _reconcile_and_apply(rt, stop, synced)


def _reconcile_and_apply(rt: Runtime, stop: threading.Event, synced: str) -> str:
    cfg, engine = rt.settings, rt.engine
    reconcile(engine, cfg.policy, actor=ACTOR, identity_sources=[s.name for s in cfg.identity_sources])
    lost_device.resolve_closed(engine)
    identity = [s.name for s in cfg.identity_sources]
    with rt.connectors() as (revokers, _idps):
        # as `accessward apply`: systems whose sources failed since a plan was made wait
        blocked = health.execution_blocks(engine, revokers, identity, utcnow(), cfg.policy.stale_after_hours)
        for plan_id in executor.unfinished_plans(engine):
            if stop.is_set():
                raise Abandoned(f"stopped before finishing plan {plan_id}; the next run finishes it")
            executor.execute(engine, plan_id, revokers, actor=ACTOR, blocked=blocked,
                             break_glass=cfg.policy.break_glass)
        plan = build_plan(engine, cfg.policy, revokers, identity, utcnow(), actor=ACTOR)
        if plan.status == "ready" and plan.plan_id is not None and not stop.is_set():
            report = executor.execute(engine, plan.plan_id, revokers, actor=ACTOR, blocked=blocked,
                                      break_glass=cfg.policy.break_glass)
            return f"{synced}; plan {plan.plan_id} applied: {report.outcomes}"
    return f"{synced}; plan {plan.plan_id}: {plan.status} ({plan.reason})"


def due_offboardings(rt: Runtime, stop: threading.Event) -> str:
    done: list[str] = []
    for offboarding_id in offboarding.due(rt.engine):
        if stop.is_set():
            raise Abandoned(f"stopped after {', '.join(done) or 'none'}; the rest are still due")
        try:
            done.append(f"{offboarding_id}:{rt.run_offboarding(offboarding_id, actor=ACTOR)}")
        except Exception:  # one offboarding's failure must not starve the others; its lease retries it
            log.exception("offboarding run failed", extra={"offboarding": offboarding_id})
            done.append(f"{offboarding_id}:error")
    return ", ".join(done) or "none due"


def notifications(rt: Runtime, stop: threading.Event) -> str:
    """Turn new audit events into notifications and send what is due (accessward.notify.outbox)."""
    from accessward.notify import outbox

    cfg = rt.settings.notifications
    written = outbox.scan(rt.engine, cfg)
    if stop.is_set():
        raise Abandoned(f"{written} notification(s) recorded; stopped before sending")
    report = outbox.deliver(rt.engine, cfg)
    return f"{written} recorded, {report.sent} sent, {report.retrying} to retry, {report.dead} given up"


def housekeeping(rt: Runtime, stop: threading.Event) -> str:
    """Forget signatures too old to verify anyway; resolve lost-device findings whose access is gone."""
    cutoff = utcnow() - timedelta(seconds=3 * rt.settings.service.signature_tolerance_seconds)
    with Session(rt.engine) as session:
        session.exec(delete(SeenNonce).where(col(SeenNonce.seen_at) < cutoff))
        session.commit()
    return f"{lost_device.resolve_closed(rt.engine)} lost-device finding(s) resolved"
