"""``accessward serve``: the HTTP API (uvicorn) and the scheduled jobs (APScheduler 3) in one process.

Jobs come from the settings: the nightly full run (cron), frequent syncs, due offboardings, and
hourly housekeeping. APScheduler coalesces missed runs into one and runs a late one within
``misfire_grace_seconds``. Job state is in the store (``job_run``), which is also what makes
several instances safe: each run of a job is for one scheduled time (its *slot*; every instance
computes the same one, interval jobs being anchored to a fixed epoch), and a run holds the job's
lock (``pg_try_advisory_lock`` on PostgreSQL) and claims its slot (a unique row) before doing
anything. Whoever loses either does nothing: each job runs once per slot, whatever the number of
instances. A run that died (its row still ``running`` while nobody holds the lock) or was
abandoned at shutdown is taken over within the grace time; one that finished is never repeated.

On start-up, a nightly slot missed within the grace time (the service was down at 02:00) is run
at once. SIGTERM or SIGINT stops the HTTP server, then the scheduler: jobs see the stop event and
abandon at their next safe point (recorded as ``abandoned``); everything they began is in the
outbox, so the next run finishes it without duplicates.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from accessward import jobs
from accessward.runtime import Runtime
from accessward.sync import audit
from accessward.sync.clock import to_naive_utc, utcnow
from accessward.sync.locks import try_lock
from accessward.sync.service_models import JobRun

log = logging.getLogger("accessward.serve")
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)  # interval jobs fire on the same grid in every instance
RESUMABLE = ("running", "abandoned")

JobFn = Callable[[threading.Event], str]


@dataclass(frozen=True)
class JobSpec:
    key: str
    trigger: Any  # an APScheduler 3 trigger
    fn: JobFn
    catch_up: bool = False  # run a slot missed while the service was down


def default_jobs(rt: Runtime) -> list[JobSpec]:
    svc = rt.settings.service
    zone = ZoneInfo(svc.timezone)
    specs = [
        JobSpec("nightly", CronTrigger.from_crontab(svc.nightly, timezone=zone), lambda s: jobs.nightly(rt, s),
                catch_up=True),
        JobSpec("offboardings", IntervalTrigger(seconds=svc.offboarding_check_seconds, start_date=EPOCH, timezone=zone),
                lambda s: jobs.due_offboardings(rt, s)),
        JobSpec("housekeeping", IntervalTrigger(hours=1, start_date=EPOCH, timezone=zone),
                lambda s: jobs.housekeeping(rt, s)),
    ]
    if rt.settings.notifications.channels:
        specs.append(JobSpec("notifications", IntervalTrigger(seconds=rt.settings.notifications.check_seconds,
                                                              start_date=EPOCH, timezone=zone),
                             lambda s: jobs.notifications(rt, s)))
    if svc.sync_every_minutes:
        specs.append(JobSpec("sync", IntervalTrigger(minutes=svc.sync_every_minutes, start_date=EPOCH, timezone=zone),
                             lambda s: jobs.frequent_sync(rt, s)))
    from accessward.jobs_reviews import review_jobs  # access reviews: a job per scheduled campaign, hourly tick

    return specs + review_jobs(rt)


def latest_fire_time(trigger: Any, now: datetime, lookback: timedelta) -> datetime | None:
    """The newest time ``trigger`` fired at or before ``now``, looking back at most ``lookback``."""
    fire = trigger.get_next_fire_time(None, now - lookback)
    last = None
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return last if isinstance(last, datetime) else None


class Service:
    """The scheduler side of ``serve``; ``outcomes`` keeps what each job firing did (for tests, logs)."""

    def __init__(self, rt: Runtime, *, specs: list[JobSpec] | None = None, instance: str | None = None) -> None:
        self.rt = rt
        self.specs = specs if specs is not None else default_jobs(rt)
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stop = threading.Event()
        self.outcomes: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        svc = rt.settings.service
        self.grace = timedelta(seconds=svc.misfire_grace_seconds)
        self.scheduler = BackgroundScheduler(
            timezone=ZoneInfo(svc.timezone), executors={"default": ThreadPoolExecutor(max(4, len(self.specs)))},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": svc.misfire_grace_seconds})

    def start(self) -> None:
        for spec in self.specs:
            self.scheduler.add_job(self.run_job, spec.trigger, args=[spec], id=spec.key, name=spec.key,
                                   replace_existing=True)
        self.scheduler.start()
        now = datetime.now(UTC)
        for spec in self.specs:
            slot = latest_fire_time(spec.trigger, now, self.grace) if spec.catch_up else None
            if slot is not None and not self._finished(spec.key, slot):
                log.info("running a missed job", extra={"job": spec.key, "slot": slot.isoformat()})
                self.scheduler.add_job(self.run_job, "date", args=[spec, slot], id=f"{spec.key}:catch-up",
                                       replace_existing=True)

    def shutdown(self, wait: bool = True) -> None:
        self.stop.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)

    def _record(self, key: str, outcome: str) -> str:
        with self._lock:
            self.outcomes.append((key, outcome))
        self.rt.metrics.job_runs.labels(key, outcome).inc()
        return outcome

    def _finished(self, key: str, slot: datetime) -> bool:
        with Session(self.rt.engine) as session:
            run = session.execute(select(JobRun).where(col(JobRun.job) == key,
                                                       col(JobRun.slot) == to_naive_utc(slot))).scalars().first()
            return run is not None and run.status not in RESUMABLE

    def run_job(self, spec: JobSpec, slot: datetime | None = None) -> str:
        """Run ``spec`` for its slot unless another instance has it or had it; answer what happened."""
        slot = slot or latest_fire_time(spec.trigger, datetime.now(UTC), self.grace) or datetime.now(UTC)
        when = to_naive_utc(slot)
        assert when is not None
        with try_lock(self.rt.engine, f"job:{spec.key}") as mine:
            if not mine:
                return self._record(spec.key, "skipped_running_elsewhere")
            run_id = self._claim(spec.key, when)
            if run_id is None:
                return self._record(spec.key, "skipped_already_ran")
            started = time.monotonic()
            status, detail = "succeeded", ""
            try:
                detail = spec.fn(self.stop)
            except jobs.Abandoned as exc:
                status, detail = "abandoned", str(exc)
            except Exception as exc:
                log.exception("job failed", extra={"job": spec.key})
                status, detail = "failed", f"{type(exc).__name__}: {exc}"[:1000]
            self._finish(run_id, status, detail)
            self.rt.metrics.job_duration.labels(spec.key).observe(time.monotonic() - started)
            return self._record(spec.key, status)

    def _claim(self, key: str, slot: datetime) -> int | None:
        """Take the slot: a new row, or one a dead or stopped run left (we hold the job's lock)."""
        try:
            with Session(self.rt.engine) as session:
                run = JobRun(job=key, slot=slot, instance=self.instance)
                session.add(run)
                session.commit()
                return run.id
        except IntegrityError:
            pass
        with Session(self.rt.engine) as session:
            left: JobRun | None = session.execute(
                select(JobRun).where(col(JobRun.job) == key, col(JobRun.slot) == slot)).scalars().first()
            if left is None or left.status not in RESUMABLE:
                return None
            log.warning("taking over a job run that did not finish",
                        extra={"job": key, "run": left.id, "was": f"{left.status} on {left.instance}"})
            left.status, left.instance, left.started_at, left.finished_at = "running", self.instance, utcnow(), None
            session.add(left)
            session.commit()
            return left.id

    def _finish(self, run_id: int, status: str, detail: str) -> None:
        with Session(self.rt.engine) as session:
            run = session.get(JobRun, run_id)
            assert run is not None
            run.status, run.detail, run.finished_at = status, detail, utcnow()
            session.add(run)
            audit.append(session.connection(), "job.run", f"job:{run.job}", {
                "slot": run.slot.isoformat(), "status": status, "detail": detail, "instance": self.instance,
            }, actor=jobs.ACTOR)
            session.commit()


def serve(rt: Runtime, *, host: str, port: int, log_level: str = "warning") -> int:
    """Run the API and the scheduler until SIGTERM/SIGINT; answer the exit code."""
    import uvicorn

    from accessward.api.app import create_app

    service = Service(rt)
    server = uvicorn.Server(uvicorn.Config(create_app(rt), host=host, port=port, log_config=None,
                                           log_level=log_level, access_log=False, lifespan="off",
                                           timeout_graceful_shutdown=10))

    def on_signal(sig: int, _frame: FrameType | None) -> None:
        service.stop.set()
        server.should_exit = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    service.start()
    log.warning("accessward serving", extra={"host": host, "port": port, "instance": service.instance,
                                              "jobs": [s.key for s in service.specs]})
    try:
        server.run()
    finally:
        service.shutdown(wait=True)
        rt.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.warning("accessward stopped", extra={"instance": service.instance})
    return 0
