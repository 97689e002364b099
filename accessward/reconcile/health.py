"""Is a source's data fit to act on? (DESIGN.md invariant 1.)

Data is actionable only when the source's newest run succeeded and finished recently. A newest
run that failed, was quarantined or is still running means what the store holds may be out of
date, so its findings may be flagged but never revoked.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from accessward.sync.models import SyncRun


def source_problem(engine: Engine, source: str, now: datetime, stale_after_hours: float) -> str | None:
    with Session(engine) as session:
        run = session.execute(
            select(SyncRun).where(col(SyncRun.source) == source).order_by(col(SyncRun.id).desc()).limit(1)
        ).scalars().first()
    if run is None:
        return f"{source} has never been synced"
    if run.status != "succeeded":
        return f"{source}: newest sync (run {run.id}) {run.status}" + (f": {run.error}" if run.error else "")
    assert run.finished_at is not None
    if now - run.finished_at > timedelta(hours=stale_after_hours):
        return (f"{source}: newest sync finished {run.finished_at:%Y-%m-%d %H:%M} UTC, "
                f"older than {stale_after_hours:g} h")
    return None


def problems(engine: Engine, sources: Iterable[str], now: datetime, stale_after_hours: float) -> dict[str, str]:
    out = {}
    for name in sources:
        problem = source_problem(engine, name, now, stale_after_hours)
        if problem:
            out[name] = problem
    return out


def execution_blocks(engine: Engine, systems: Iterable[str], identity_sources: Iterable[str], now: datetime,
                     stale_after_hours: float) -> dict[str, str]:
    """Systems whose actions must wait, checked again just before an (approved) plan runs.

    A plan can be approved hours after it was made; if a source has failed or gone stale since,
    its revocations wait. A failing identity source holds back every system: whether someone
    has left is the directory's to say.
    """
    systems = list(systems)
    identity = problems(engine, identity_sources, now, stale_after_hours)
    if identity:
        why = "; ".join(sorted(identity.values()))
        return {system: why for system in systems}
    return problems(engine, systems, now, stale_after_hours)
