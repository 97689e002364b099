"""Prometheus metrics of the service.

Two kinds: what this process did (HTTP calls, job runs and their durations, sync durations it
observed) as counters and histograms, and what the store says (the newest sync of every source,
findings by rule and state, revocations by outcome, offboardings by status) read at scrape time,
so every instance behind a load balancer reports the same store-wide numbers. One registry per
:class:`Metrics`, so several apps in one process (tests) do not collide.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import JSON, DateTime, Engine, text

NEWEST_RUNS_SQL = """
SELECT s.source, s.status, s.started_at, s.finished_at, s.counts
FROM sync_run s
WHERE s.id IN (SELECT MAX(id) FROM sync_run WHERE finished_at IS NOT NULL GROUP BY source)
"""
LAST_SUCCESS_SQL = ("SELECT source, MAX(finished_at) AS finished_at FROM sync_run WHERE status = 'succeeded' "
                    "GROUP BY source")


class StoreCollector(Collector):
    """Gauges read from the store on every scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        duration = GaugeMetricFamily("accessward_sync_last_duration_seconds",
                                     "Duration of the newest finished sync run of each source",
                                     labels=["source", "status"])
        records = GaugeMetricFamily("accessward_sync_last_records", "Records counted by the newest sync run",
                                    labels=["source", "kind"])
        success = GaugeMetricFamily("accessward_sync_last_success_timestamp_seconds",
                                    "When the newest successful sync of each source finished", labels=["source"])
        findings = GaugeMetricFamily("accessward_findings", "Findings by rule and state", labels=["rule", "state"])
        revocations = GaugeMetricFamily("accessward_revocations", "Outbox actions (revocations) by outcome",
                                        labels=["outcome"])
        offboardings = GaugeMetricFamily("accessward_offboardings", "Offboardings by status", labels=["status"])
        notifications = GaugeMetricFamily("accessward_notifications", "Notification outbox by state (dead: given up)",
                                          labels=["state"])
        unmatched = GaugeMetricFamily("accessward_scim_unmatched",
                                      "SCIM deprovisionings of people no identity source knew, by state "
                                      "(waiting, matched, expired)", labels=["state"])
        with self.engine.connect() as conn:
            runs = conn.execute(text(NEWEST_RUNS_SQL).columns(counts=JSON, started_at=DateTime,
                                                              finished_at=DateTime)).all()
            for source, status, started, finished, counts in runs:
                duration.add_metric([source, status], (finished - started).total_seconds())
                for kind, n in (counts or {}).items():
                    records.add_metric([source, str(kind)], float(n))
            for source, finished in conn.execute(text(LAST_SUCCESS_SQL).columns(finished_at=DateTime)):
                if finished is not None:
                    success.add_metric([source], finished.replace(tzinfo=UTC).timestamp())
            for rule, state, n in conn.execute(text("SELECT rule, state, COUNT(*) FROM finding GROUP BY rule, state")):
                findings.add_metric([rule, state], float(n))
            for state, n in conn.execute(text("SELECT state, COUNT(*) FROM action GROUP BY state")):
                revocations.add_metric([state], float(n))
            for status, n in conn.execute(text("SELECT status, COUNT(*) FROM offboarding GROUP BY status")):
                offboardings.add_metric([status], float(n))
            for state, n in conn.execute(text("SELECT state, COUNT(*) FROM notification GROUP BY state")):
                notifications.add_metric([state], float(n))
            for state, n in conn.execute(text("SELECT state, COUNT(*) FROM scim_unmatched GROUP BY state")):
                unmatched.add_metric([state], float(n))
        yield from (duration, records, success, findings, revocations, offboardings, notifications, unmatched)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter("accessward_http_requests", "HTTP requests served",
                                     ["method", "route", "status"], registry=self.registry)
        self.job_runs = Counter("accessward_job_runs", "Scheduled job runs by outcome (ran, skipped, failed...)",
                                ["job", "outcome"], registry=self.registry)
        self.job_duration = Histogram("accessward_job_duration_seconds", "Duration of scheduled jobs run here",
                                      ["job"], registry=self.registry,
                                      buckets=(1, 5, 15, 60, 300, 900, 1800, 3600, 7200, float("inf")))
        self.sync_duration = Histogram("accessward_sync_duration_seconds", "Duration of syncs run here",
                                       ["source", "status"], registry=self.registry,
                                       buckets=(1, 5, 15, 60, 300, 900, 1800, 3600, float("inf")))
        self._store: StoreCollector | None = None

    def attach_store(self, engine: Engine) -> None:
        if self._store is None:
            self._store = StoreCollector(engine)
            self.registry.register(self._store)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
