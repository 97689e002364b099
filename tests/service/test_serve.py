"""`accessward serve`: scheduled jobs run once per slot across instances on PostgreSQL; SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from sqlmodel import Session

from accessward import jobs
from accessward.runtime import Runtime
from accessward.serve import EPOCH, JobSpec, Service, latest_fire_time
from accessward.settings import Settings
from accessward.sync.clock import to_naive_utc
from accessward.sync.db import open_store
from accessward.sync.models import AuditEvent
from accessward.sync.service_models import JobRun

SKIPS = ("skipped_running_elsewhere", "skipped_already_ran")


def runtimes(url: str, base: Path, n: int) -> list[Runtime]:
    return [Runtime(Settings(), base, open_store(url)) for _ in range(n)]


def job_runs(rt: Runtime) -> list[JobRun]:
    with Session(rt.engine) as s:
        return list(s.execute(select(JobRun).order_by(JobRun.slot)).scalars())


def audit_kinds(rt: Runtime) -> Counter[str]:
    with Session(rt.engine) as s:
        return Counter(e.kind for e in s.execute(select(AuditEvent)).scalars())


@pytest.mark.postgres
def test_two_instances_on_one_postgresql_run_each_nightly_slot_exactly_once(pg_database, tmp_path):
    rts = runtimes(pg_database, tmp_path, 2)

    def specs(rt: Runtime) -> list[JobSpec]:
        def nightly(stop: threading.Event) -> str:
            time.sleep(0.3)  # long enough for the other instance to fire while this one runs
            return jobs.nightly(rt, stop)

        return [JobSpec("nightly", CronTrigger(second="*/2", timezone=UTC), nightly),
                JobSpec("offboardings", IntervalTrigger(seconds=1, start_date=EPOCH, timezone=UTC),
                        lambda stop: jobs.due_offboardings(rt, stop))]

    services = [Service(rt, specs=specs(rt), instance=f"instance-{n}") for n, rt in enumerate(rts)]
    try:
        for service in services:
            service.start()
        time.sleep(5)
        while not 0.8 < time.time() % 2 < 1.8:  # stop between two slots, not while one runs
            time.sleep(0.02)
    finally:
        for service in services:
            service.shutdown()

    runs = job_runs(rts[0])
    nightly_runs = [r for r in runs if r.job == "nightly"]
    assert len(nightly_runs) >= 2 and {r.status for r in runs} == {"succeeded"}
    assert {r.instance for r in runs} <= {"instance-0", "instance-1"}
    outcomes = Counter(o for service in services for key, o in service.outcomes if key == "nightly")
    # every slot fired in both instances: one ran it, the other stood aside
    assert outcomes["succeeded"] == len(nightly_runs)
    assert sum(outcomes[s] for s in SKIPS) == len(nightly_runs)
    kinds = audit_kinds(rts[0])
    assert kinds["reconcile.finished"] == len(nightly_runs)  # the nightly work itself happened once per slot
    interval_runs = [r for r in runs if r.job == "offboardings"]
    ran = sum(1 for service in services for key, o in service.outcomes if key == "offboardings" and o == "succeeded")
    assert len(interval_runs) >= 3 and ran == len(interval_runs)
    assert kinds["job.run"] == len(runs)


@pytest.mark.postgres
def test_a_slot_an_instance_died_in_is_taken_over_once_at_start_up(pg_database, tmp_path):
    first, second = runtimes(pg_database, tmp_path, 2)
    earlier = datetime.now(UTC) - timedelta(minutes=5)
    trigger = CronTrigger(hour=earlier.hour, minute=earlier.minute, timezone=UTC)  # missed 5 minutes ago
    slot = latest_fire_time(trigger, datetime.now(UTC), timedelta(hours=1))
    assert slot is not None
    with Session(first.engine) as s:  # an instance crashed while running it
        s.add(JobRun(job="nightly", slot=to_naive_utc(slot), instance="crashed", status="running"))
        s.commit()
    calls: list[str] = []

    def spec(name: str) -> JobSpec:
        return JobSpec("nightly", trigger, lambda stop: calls.append(name) or "ok", catch_up=True)

    a = Service(first, specs=[spec("a")], instance="a")
    a.start()
    deadline = time.monotonic() + 10
    while not a.outcomes and time.monotonic() < deadline:
        time.sleep(0.05)
    b = Service(second, specs=[spec("b")], instance="b")
    b.start()  # the slot is finished now: not run again
    time.sleep(0.5)
    a.shutdown()
    b.shutdown()

    assert calls == ["a"] and b.outcomes == []
    [run] = job_runs(first)
    assert (run.status, run.instance) == ("succeeded", "a")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_then_stops_gracefully_on_sigterm(tmp_path):
    port = _free_port()
    (tmp_path / "accessward.toml").write_text(f"""
[store]
url = "sqlite:///store.db"

[service]
port = {port}
sync_every_minutes = 0
offboarding_check_seconds = 5
""")
    env = {k: v for k, v in os.environ.items() if k != "ACCESSWARD_DATABASE_URL"}
    proc = subprocess.Popen([sys.executable, "-m", "accessward", "-c", str(tmp_path / "accessward.toml"),
                             "--log-level", "info", "serve"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline, health = time.monotonic() + 30, None
        while time.monotonic() < deadline and health is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
            except httpx.TransportError:
                time.sleep(0.1)
        assert health == {"status": "ok", "store": "ok", "version": "0.1.0"}
        refused = httpx.post(f"http://127.0.0.1:{port}/v1/offboarding", json={"request_id": "x", "person": "y"})
        assert refused.status_code == 401
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        stderr = proc.stderr.read() if proc.stderr else ""
    assert "accessward stopped" in stderr
    assert "info    accessward.serve: accessward serving" in stderr, "the start is logged at info"
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    with Session(engine) as s:
        calls = [(e.subject, e.data["status"]) for e in s.execute(select(AuditEvent)).scalars()
                 if e.kind == "api.call"]
    assert calls == [("POST /v1/offboarding", 401)]

