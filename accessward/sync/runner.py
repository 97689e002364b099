"""Sync jobs: run one source into the store and record the run.

A run is trusted only when it completed *and* its size is plausible against the last good run.
Only a trusted run closes grant intervals or marks people missing; a failed run leaves the
previous data exactly as it was, and a sharp drop quarantines the run until someone confirms it
(DESIGN.md invariants 1 and 2).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from accessward.connectors.errors import ConnectorError, ResyncRequired
from accessward.connectors.protocols import (
    AccessSource,
    ChangeRun,
    DigestingSource,
    IdentitySource,
    IncrementalIdentitySource,
)
from accessward.connectors.records import PersonRecord, RemovedPerson, UnchangedPerson
from accessward.connectors.scrub import scrub
from accessward.sync import audit
from accessward.sync.clock import utcnow
from accessward.sync.models import SyncRun
from accessward.sync.writer import (
    AccessWriter,
    PeopleWriter,
    close_unseen_grants,
    count_open_grants,
    count_present_people,
    mark_missing_people,
    mark_people_removed,
    stored_digests,
)

log = logging.getLogger("accessward.sync")


@dataclass(frozen=True)
class SyncGuard:
    """When a completed run is still not trusted.

    ``max_drop``: share of what the store holds for the source that may vanish at once (0.3 = 30 %).
    It applies to small sources as to large ones: a five-person roster that comes back with three
    is as suspicious as a directory losing 40 % (a filter mistake marked active staff missing).
    Losing a single record is never judged, so a three-person roster can lose its one leaver.
    """

    max_drop: float = 0.3


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
            error: str | None = None, error_kind: str | None = None, *, cursor: str | None = None,
            full: bool = True) -> None:
    with Session(engine) as session:
        run = session.get(SyncRun, run_id)
        assert run is not None
        error = scrub(error) if error else error  # a platform's words may echo a token
        run.status, run.counts, run.error, run.error_kind = status, dict(counts), error, error_kind
        run.cursor, run.full = cursor, full
        run.finished_at = utcnow()
        source = run.source
        session.add(run)
        session.commit()
    audit.record(engine, "sync.finished", source,
                 {"run": run_id, "status": status, "counts": counts, "error": error})


def judge(count: int, baseline: int | None, guard: SyncGuard) -> tuple[str, str | None]:
    """Status of a complete listing from its size against what the store held before it.

    The baseline is what the store holds as present for the source (people not missing, open
    grants), not the last run's count: an incremental run's count is only what changed, and
    judging a full listing against it would let an empty answer through.
    """
    if baseline is None or baseline == 0:
        return "succeeded", None
    if count == 0:
        return "failed", f"returned 0 records where the store holds {baseline}"
    limit = guard.max_drop
    if too_many_gone(baseline - count, baseline, guard):
        return "quarantined", (
            f"returned {count} records where the store holds {baseline} "
            f"(a drop of more than {limit:.0%}); confirm with `accessward sync confirm`"
        )
    return "succeeded", None


def too_many_gone(lost: int, baseline: int, guard: SyncGuard) -> bool:
    """More than ``max_drop`` of the baseline gone at once, and more than a single record."""
    return lost > 1 and lost > baseline * guard.max_drop


Watch = Callable[[Iterable[Any], str], Iterable[Any]]


def _unwatched(items: Iterable[Any], _label: str) -> Iterable[Any]:
    return items


def sync_identity(engine: Engine, source: IdentitySource, *, source_type: str = "",
                  guard: SyncGuard = SyncGuard(), watch: Watch = _unwatched, full: bool = False) -> SyncOutcome:
    """Sync one identity source: incrementally from the last good run's cursor when the source
    supports it (and ``full`` is not asked for), else a complete listing."""
    if isinstance(source, IncrementalIdentitySource):
        last = last_good_run(engine, source.name)
        earlier = last.cursor if last else None
        return _sync_changes(engine, source, None if full else earlier, source_type=source_type, guard=guard,
                             watch=watch, earlier=earlier)
    present = count_present_people(engine, source.name)
    run_id = _start(engine, source.name, source_type or type(source).__name__, "identity")
    writer = PeopleWriter(engine, source.name, run_id)
    try:
        writer.write(watch(source.list_people(), f"sync {source.name}"))
    except Exception as exc:  # any failure, even a bug, fails the run and changes nothing else
        return _failed(engine, run_id, source.name, {"people": writer.seen}, exc)
    counts = {"people": writer.seen}
    status, why = judge(writer.seen, present, guard)
    _settle_people(engine, source.name, run_id, writer, status, counts)
    _finish(engine, run_id, status, counts, why, None if status == "succeeded" else "count")
    return SyncOutcome(run_id, source.name, status, counts, why)


def _settle_people(engine: Engine, source: str, run_id: int, writer: PeopleWriter, status: str,
                   counts: dict[str, int]) -> None:
    """After a complete listing was judged: mark missing people (trusted), or stamp the unchanged
    people as seen (quarantined), so that a later confirmation, which judges by ``last_seen``, does
    not take the people this run saw but did not rewrite for missing ones."""
    if status == "succeeded":
        counts["missing"] = mark_missing_people(engine, source, run_id, writer.seen_ids)
    elif status == "quarantined":
        writer.touch_unchanged()


def _sync_changes(engine: Engine, source: IncrementalIdentitySource, cursor: str | None, *, source_type: str,
                  guard: SyncGuard, watch: Watch, earlier: str | None = None) -> SyncOutcome:
    """An incremental round (or a full one, without a cursor or when the cursor has expired).

    A full round is judged and closes what it did not see, like any complete listing. A changes
    round applies what changed and marks the people the source says were removed as missing;
    if it removes more than ``max_drop`` of the people the store holds for the source, it is
    quarantined instead, and nothing is removed and its cursor is not kept.

    A ``DigestingSource`` is handed the stored digests before each round (``earlier``: the last good
    run's cursor, which it may read for its watermark) and yields ``UnchangedPerson`` for the people
    it recognises unchanged; they count as seen, exactly as a person listed and found unchanged.
    """
    present = count_present_people(engine, source.name)
    run_id = _start(engine, source.name, source_type or type(source).__name__, "identity")
    writer = PeopleWriter(engine, source.name, run_id)
    removed: list[str] = []

    def people(run: ChangeRun) -> Iterator[PersonRecord | UnchangedPerson]:
        for change in watch(run, f"sync {source.name}"):
            if isinstance(change, RemovedPerson):
                removed.append(change.source_key)
            else:
                yield change

    try:
        def expect() -> None:
            if isinstance(source, DigestingSource) and writer.digests:
                source.expect(lambda: stored_digests(engine, source.name, earlier))

        try:
            expect()
            run = source.list_changes(cursor)
            writer.write(people(run))
        except ResyncRequired:
            if cursor is None:
                raise
            log.warning("incremental cursor expired; running a full sync", extra={"source": source.name})
            removed.clear()
            writer.forget_seen()  # what the full round sees, not what the aborted round saw
            expect()
            run = source.list_changes(None)
            writer.write(people(run))
        next_cursor = run.cursor
    except Exception as exc:  # any failure, even a bug, fails the run and changes nothing else
        return _failed(engine, run_id, source.name, {"people": writer.seen}, exc)
    counts = {"people": writer.seen}
    if run.full:
        status, why = judge(writer.seen, present, guard)
        _settle_people(engine, source.name, run_id, writer, status, counts)
    else:
        status, why = "succeeded", None
        if too_many_gone(len(removed), present, guard):
            status, why = "quarantined", (
                f"removed {len(removed)} of {present} people at once (more than {guard.max_drop:.0%}); "
                "nothing was removed: run `accessward sync --full` and confirm it")
        else:
            counts["removed"] = mark_people_removed(engine, source.name, removed)
    _finish(engine, run_id, status, counts, why, None if status == "succeeded" else "count",
            cursor=next_cursor if status == "succeeded" else None, full=run.full)
    return SyncOutcome(run_id, source.name, status, counts, why)


def sync_access(engine: Engine, source: AccessSource, *, source_type: str = "",
                guard: SyncGuard = SyncGuard(), watch: Watch = _unwatched) -> SyncOutcome:
    present = count_open_grants(engine, source.name)
    run_id = _start(engine, source.name, source_type or type(source).__name__, "access")
    writer = AccessWriter(engine, source.name, run_id)
    try:
        writer.write(watch(source.list_access(), f"sync {source.name}"))
    except Exception as exc:  # any failure, even a bug, fails the run and changes nothing else
        return _failed(engine, run_id, source.name, writer.counts, exc)
    counts = dict(writer.counts)
    status, why = judge(counts["grants"], present, guard)
    if status == "succeeded":
        counts["closed"] = close_unseen_grants(engine, source.name, run_id, writer.seen_ids)
    elif status == "quarantined":
        writer.touch_unchanged()  # a later confirmation judges by last_seen (see _settle_people)
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
        message = scrub(f"internal error: {type(exc).__name__}: {exc}")
        log.exception("sync failed on an unexpected error", extra={"source": source, "run": run_id})
    message = scrub(message)
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
        if not run.full:
            raise ValueError(f"sync run {run_id} was incremental: run `accessward sync --full` and confirm that run")
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
