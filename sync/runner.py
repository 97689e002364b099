"""Sync jobs: run one source into the store and record the run.

A run is trusted only when it completed *and* its size is plausible against the last good run.
Only a trusted run closes grant intervals or marks people missing; a failed run leaves the
previous data exactly as it was, and a sharp drop quarantines the run until someone confirms it
(DESIGN.md invariants 1 and 2).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from connectors.errors import ConnectorError
from connectors.protocols import AccessSource, IdentitySource
from sync import audit
from sync.clock import utcnow
from sync.models import SyncRun
from sync.writer import AccessWriter, PeopleWriter, close_unseen_grants, mark_missing_people

log = logging.getLogger("accessward.sync")


@dataclass(frozen=True)
class SyncGuard:
    """When a completed run is still not trusted.

    ``max_drop``: share of the last good count that may vanish at once (0.3 = 30 %).
    ``min_baseline``: below this many records a drop is not judged (tiny sources swing).
    """

    max_drop: float = 0.3
    min_baseline: int = 20


@dataclass(frozen=True)
class SyncOutcome:
    run_id: int
    source: str
    status: str
    counts: dict[str, int]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"


def last_good_run(engine: Engine, source: str, before: int | None = None) -> SyncRun | None:
    with Session(engine) as session:
        stmt = select(SyncRun).where(col(SyncRun.source) == source, col(SyncRun.status) == "succeeded")
        if before is not None:
            stmt = stmt.where(col(SyncRun.id) < before)
        return session.execute(stmt.order_by(col(SyncRun.id).desc()).limit(1)).scalars().first()


def _start(engine: Engine, source: str, source_type: str, role: str) -> int:
    with Session(engine) as session:
        run = SyncRun(source=source, source_type=source_type, role=role)
        session.add(run)
        session.commit()
        assert run.id is not None
        return run.id


def _finish(engine: Engine, run_id: int, status: str, counts: dict[str, int],
            error: str | None = None, error_kind: str | None = None) -> None:
    with Session(engine) as session:
        run = session.get(SyncRun, run_id)
        assert run is not None
        run.status, run.counts, run.error, run.error_kind = status, dict(counts), error, error_kind
        run.finished_at = utcnow()
        source = run.source
        session.add(run)
        session.commit()
    audit.record(engine, "sync.finished", source,
                 {"run": run_id, "status": status, "counts": counts, "error": error})


def judge(count: int, baseline: int | None, guard: SyncGuard) -> tuple[str, str | None]:
    """Status of a completed run from its size against the last good run's."""
    if baseline is None or baseline == 0:
        return "succeeded", None
    if count == 0:
        return "failed", f"returned 0 records where the last good run had {baseline}"
    if baseline >= guard.min_baseline and count < baseline * (1 - guard.max_drop):
        return "quarantined", (
            f"returned {count} records where the last good run had {baseline} "
            f"(a drop of more than {guard.max_drop:.0%}); confirm with `accessward sync confirm`"
        )
    return "succeeded", None


Watch = Callable[[Iterable[Any], str], Iterable[Any]]


def _unwatched(items: Iterable[Any], _label: str) -> Iterable[Any]:
    return items


def sync_identity(engine: Engine, source: IdentitySource, *, source_type: str = "",
                  guard: SyncGuard = SyncGuard(), watch: Watch = _unwatched) -> SyncOutcome:
    run_id = _start(engine, source.name, source_type or type(source).__name__, "identity")
    writer = PeopleWriter(engine, source.name, run_id)
    try:
        writer.write(watch(source.list_people(), f"sync {source.name}"))
    except Exception as exc:  # any failure, even a bug, fails the run and changes nothing else
        return _failed(engine, run_id, source.name, {"people": writer.seen}, exc)
    counts = {"people": writer.seen}
    baseline = last_good_run(engine, source.name, before=run_id)
    status, why = judge(writer.seen, baseline.counts.get("people") if baseline else None, guard)
    if status == "succeeded":
        counts["missing"] = mark_missing_people(engine, source.name, run_id)
    _finish(engine, run_id, status, counts, why, None if status == "succeeded" else "count")
    return SyncOutcome(run_id, source.name, status, counts, why)


def sync_access(engine: Engine, source: AccessSource, *, source_type: str = "",
                guard: SyncGuard = SyncGuard(), watch: Watch = _unwatched) -> SyncOutcome:
    run_id = _start(engine, source.name, source_type or type(source).__name__, "access")
    writer = AccessWriter(engine, source.name, run_id)
    try:
        writer.write(watch(source.list_access(), f"sync {source.name}"))
    except Exception as exc:  # any failure, even a bug, fails the run and changes nothing else
        return _failed(engine, run_id, source.name, writer.counts, exc)
    counts = dict(writer.counts)
    baseline = last_good_run(engine, source.name, before=run_id)
    status, why = judge(counts["grants"], baseline.counts.get("grants") if baseline else None, guard)
    if status == "succeeded":
        counts["closed"] = close_unseen_grants(engine, source.name, run_id)
    _finish(engine, run_id, status, counts, why, None if status == "succeeded" else "count")
    return SyncOutcome(run_id, source.name, status, counts, why)


def _failed(engine: Engine, run_id: int, source: str, counts: dict[str, int],
            exc: Exception) -> SyncOutcome:
    if isinstance(exc, ConnectorError):
        kind = exc.kind
        message = f"{kind}: {exc}" + (f" ({exc.detail})" if exc.detail else "")
        log.error("sync failed", extra={"source": source, "run": run_id, "error": message})
    else:
        kind = "internal"
        message = f"internal error: {type(exc).__name__}: {exc}"
        log.exception("sync failed on an unexpected error", extra={"source": source, "run": run_id})
    _finish(engine, run_id, "failed", counts, message, kind)
    return SyncOutcome(run_id, source, "failed", dict(counts), message)


def confirm_run(engine: Engine, run_id: int, *, actor: str) -> SyncOutcome:
    """A person confirms a quarantined run: it becomes the new baseline and closes what it missed.

    Only the newest run of its source can be confirmed; confirming an older one would close
    grants a later run saw.
    """
    with Session(engine) as session:
        run = session.get(SyncRun, run_id)
        if run is None or run.status != "quarantined":
            raise ValueError(f"sync run {run_id} is not quarantined")
        newest = session.execute(
            select(col(SyncRun.id)).where(col(SyncRun.source) == run.source).order_by(col(SyncRun.id).desc()).limit(1)
        ).scalar()
        if newest != run_id:
            raise ValueError(f"sync run {run_id} is not the newest run of {run.source}; sync again")
        source, role, counts = run.source, run.role, dict(run.counts)
    if role == "identity":
        counts["missing"] = mark_missing_people(engine, source, run_id)
    else:
        counts["closed"] = close_unseen_grants(engine, source, run_id)
    with Session(engine) as session:
        run = session.get(SyncRun, run_id)
        assert run is not None
        run.status, run.counts, run.error = "succeeded", counts, None
        session.add(run)
        session.commit()
    audit.record(engine, "sync.confirmed", source, {"run": run_id, "counts": counts}, actor=actor)
    return SyncOutcome(run_id, source, "succeeded", counts)
