"""The store and sync jobs, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session

from accessward.connectors.errors import AuthError
from accessward.connectors.records import Level, PersonStatus
from accessward.sync.models import Grant, Person, SyncRun
from accessward.sync.runner import SyncGuard, confirm_run, sync_access, sync_identity
from tests.fakes import FakeAccess, FakeIdentity, person


def open_grants(engine):
    with Session(engine) as s:
        return s.execute(select(Grant).where(Grant.seen_to.is_(None)).order_by(Grant.id)).scalars().all()


def test_access_sync_records_intervals(engine):
    src = FakeAccess(grants=[("ann", "page1", "MANAGE", Level.admin), ("bob", "page1", "CREATE_CONTENT",
                                                                         Level.full_publishing)])
    first = sync_access(engine, src)
    assert first.ok and first.counts["grants"] == 2
    assert len(open_grants(engine)) == 2

    src.grants = src.grants[:1]  # bob's access is gone on the platform
    second = sync_access(engine, src, guard=SyncGuard())
    assert second.ok and second.counts["closed"] == 1
    rows = open_grants(engine)
    assert [(r.role, r.level) for r in rows] == [("MANAGE", int(Level.admin))]
    with Session(engine) as s:
        closed = s.execute(select(Grant).where(Grant.seen_to.is_not(None))).scalars().one()
    assert closed.role == "CREATE_CONTENT" and closed.closed_by == "unseen"

    src.grants.append(("bob", "page1", "CREATE_CONTENT", Level.full_publishing))  # given back
    sync_access(engine, src, guard=SyncGuard())
    with Session(engine) as s:
        bob = s.execute(select(Grant).where(Grant.role == "CREATE_CONTENT").order_by(Grant.id)).scalars().all()
    assert len(bob) == 2 and bob[0].seen_to is not None and bob[1].seen_to is None, "a new interval opens"


def test_failed_access_sync_keeps_previous_data(engine):
    src = FakeAccess(grants=[(f"u{i}", "page", "MANAGE", Level.admin) for i in range(30)])
    assert sync_access(engine, src).ok
    src.fail_after = 5
    outcome = sync_access(engine, src)
    assert outcome.status == "failed" and "503" in (outcome.error or "")
    assert len(open_grants(engine)) == 30, "a failed run closes nothing"


def test_zero_records_where_there_were_many_is_a_failure(engine):
    src = FakeAccess(grants=[(f"u{i}", "page", "MANAGE", Level.admin) for i in range(5)])
    assert sync_access(engine, src).ok
    src.grants = []
    outcome = sync_access(engine, src)
    assert outcome.status == "failed" and "0 records" in (outcome.error or "")
    assert len(open_grants(engine)) == 5


def test_sharp_drop_is_quarantined_until_confirmed(engine):
    src = FakeAccess(grants=[(f"u{i}", "page", "MANAGE", Level.admin) for i in range(100)])
    assert sync_access(engine, src).ok
    src.grants = src.grants[:50]
    outcome = sync_access(engine, src)
    assert outcome.status == "quarantined"
    assert len(open_grants(engine)) == 100, "quarantined runs close nothing"
    confirmed = confirm_run(engine, outcome.run_id, actor="test")
    assert confirmed.ok and confirmed.counts["closed"] == 50
    assert len(open_grants(engine)) == 50


def test_identity_sync_marks_missing_only_after_a_complete_run(engine):
    src = FakeIdentity(people=[person(f"p{i}") for i in range(10)])
    assert sync_identity(engine, src).ok
    src.people = src.people[1:]
    src.fail_after = 3
    assert sync_identity(engine, src).status == "failed"
    with Session(engine) as s:
        missing = select(func.count()).select_from(Person).where(Person.missing_since.is_not(None))
        assert s.execute(missing).scalar() == 0
    src.fail_after = None
    assert sync_identity(engine, src).ok
    with Session(engine) as s:
        missing = s.execute(select(Person.source_key).where(Person.missing_since.is_not(None))).scalars().all()
    assert missing == ["p0"]


def test_identity_sync_updates_status_and_emails(engine):
    src = FakeIdentity(people=[person("dana", "Dana.Leaver@Example.com")])
    sync_identity(engine, src)
    src.people = [person("dana", "dana@new.example.com", status=PersonStatus.terminated)]
    sync_identity(engine, src)
    with Session(engine) as s:
        p = s.execute(select(Person)).scalars().one()
        runs = s.execute(select(SyncRun)).scalars().all()
    assert p.status == "terminated" and p.emails == ["dana@new.example.com"]
    assert [r.status for r in runs] == ["succeeded", "succeeded"]


def test_an_auth_error_fails_the_run_with_its_kind(engine):
    src = FakeIdentity(people=[person("a")], fail_after=0, error=AuthError("token expired"))
    outcome = sync_identity(engine, src)
    assert outcome.status == "failed" and outcome.error and outcome.error.startswith("auth:")


def test_a_bug_in_a_connector_fails_the_run_not_the_process(engine):
    class Broken:
        name = "broken"

        def list_people(self):
            yield person("a")
            raise KeyError("surprise")

    outcome = sync_identity(engine, Broken())
    assert outcome.status == "failed" and "KeyError" in (outcome.error or "")


def test_two_runs_of_one_source_at_once_do_not_make_each_other_s_people_missing(engine):
    """Review finding: 'missing' is 'not seen since this run started', not 'not written by this run'."""
    from accessward.sync.runner import _start
    from accessward.sync.writer import close_unseen_grants, mark_missing_people

    src = FakeIdentity(people=[person(f"p{i}") for i in range(10)])
    assert sync_identity(engine, src).ok
    slow = _start(engine, "dir", "FakeIdentity", "identity")  # a run that started first ...
    assert sync_identity(engine, src).ok                     # ... another run writes everyone ...
    assert mark_missing_people(engine, "dir", slow) == 0       # ... the first one finishes: nobody is missing
    access = FakeAccess(grants=[("a", "page", "MANAGE", Level.admin)])
    assert sync_access(engine, access).ok
    slow_access = _start(engine, "social", "FakeAccess", "access")
    assert sync_access(engine, access).ok
    assert close_unseen_grants(engine, "social", slow_access) == 0


def test_a_small_source_losing_more_than_half_is_quarantined(engine):
    src = FakeIdentity(people=[person(f"p{i}") for i in range(10)])
    assert sync_identity(engine, src).ok
    src.people = src.people[:3]
    outcome = sync_identity(engine, src)
    assert outcome.status == "quarantined"
