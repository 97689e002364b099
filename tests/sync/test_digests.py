"""A full identity sync writes only the people whose digest changed, and keeps every safety rule.

Unchanged people are not rewritten, so ``last_seen`` no longer says who a run saw: these tests pin
that missing people are still marked (stored minus seen), that a sharp drop is still quarantined and,
once confirmed, marks only the people the quarantined run did not see, and that a failed run marks
nobody.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlmodel import Session

from accessward.connectors.records import Level, PersonStatus
from accessward.sync.models import Grant, Person, PersonEmail
from accessward.sync.runner import confirm_run, sync_access, sync_identity
from tests.fakes import FakeAccess, FakeIdentity, person


def written_by(engine, run_id):
    with Session(engine) as s:
        return sorted(s.execute(select(Person.source_key).where(Person.last_run_id == run_id)).scalars())


def missing(engine):
    with Session(engine) as s:
        return sorted(s.execute(select(Person.source_key).where(Person.missing_since.is_not(None))).scalars())


def test_a_full_run_writes_only_changed_people_and_marks_the_missing(engine):
    people = [person(f"p{i:03d}", f"P{i:03d}@Example.com") for i in range(200)]
    src = FakeIdentity(people=list(people))
    first = sync_identity(engine, src)
    assert first.ok and len(written_by(engine, first.run_id)) == 200
    changed = replace(people[5], status=PersonStatus.terminated)
    moved = replace(people[6], emails=("p006@new.example.com",))
    src.people = [changed, moved, *people[7:]]  # p000..p004 left the directory
    second = sync_identity(engine, src)
    assert second.ok and second.counts == {"people": 195, "missing": 5}
    assert written_by(engine, second.run_id) == ["p005", "p006"], "only the two changed people are rewritten"
    assert missing(engine) == [f"p{i:03d}" for i in range(5)]
    with Session(engine) as s:
        p6 = s.execute(select(Person).where(Person.source_key == "p006")).scalars().one()
        emails = s.execute(select(PersonEmail.email).where(PersonEmail.person_id == p6.id)).scalars().all()
        p5 = s.execute(select(Person).where(Person.source_key == "p005")).scalars().one()
    assert emails == ["p006@new.example.com"] and p5.status == "terminated"
    third = sync_identity(engine, src)  # nothing changed: nothing is written, nobody else goes missing
    assert third.ok and third.counts == {"people": 195, "missing": 0}
    assert written_by(engine, third.run_id) == []
    src.people = [people[0], *src.people]  # p000 comes back: rewritten, no longer missing
    fourth = sync_identity(engine, src)
    assert fourth.ok and written_by(engine, fourth.run_id) == ["p000"]
    assert missing(engine) == [f"p{i:03d}" for i in range(1, 5)]


def test_a_failed_digest_run_marks_nobody_missing(engine):
    people = [person(f"p{i}") for i in range(50)]
    src = FakeIdentity(people=list(people))
    assert sync_identity(engine, src).ok
    src.people = people[10:]
    src.fail_after = 30
    assert sync_identity(engine, src).status == "failed"
    assert missing(engine) == []


def test_a_sharp_drop_is_quarantined_and_its_confirmation_marks_only_the_unseen(engine):
    people = [person(f"p{i:03d}") for i in range(100)]
    src = FakeIdentity(people=list(people))
    assert sync_identity(engine, src).ok
    src.people = people[60:]  # 60 % gone at once
    outcome = sync_identity(engine, src)
    assert outcome.status == "quarantined"
    assert missing(engine) == [], "a quarantined run marks nobody missing"
    confirmed = confirm_run(engine, outcome.run_id, actor="test")
    assert confirmed.ok and confirmed.counts["missing"] == 60
    assert missing(engine) == [f"p{i:03d}" for i in range(60)], "the 40 it saw unchanged are not missing"


def grants_written_by(engine, run_id):
    with Session(engine) as s:
        return s.execute(select(Grant).where(Grant.last_run_id == run_id, Grant.seen_to.is_(None))).scalars().all()


def open_keys(engine):
    with Session(engine) as s:
        return s.execute(select(Grant.role, Grant.level).where(Grant.seen_to.is_(None))).all()


def test_a_full_access_run_writes_only_changed_grants_and_closes_the_unseen(engine):
    """A reduced grant is updated in place (same key, still open), gone ones are closed, the rest untouched."""
    grants = [(f"u{i:03d}", f"page{r}", "MANAGE", Level.admin) for i in range(50) for r in range(4)]
    src = FakeAccess(grants=list(grants))
    first = sync_access(engine, src)
    assert first.ok and len(grants_written_by(engine, first.run_id)) == 200
    src.grants = [("u000", "page0", "MANAGE", Level.read_only), *grants[4:]]  # u000: one reduced, three gone
    second = sync_access(engine, src)
    assert second.ok and second.counts["grants"] == 197 and second.counts["closed"] == 3
    rewritten = grants_written_by(engine, second.run_id)
    assert [(g.role, g.level) for g in rewritten] == [("MANAGE", int(Level.read_only))]
    assert len(open_keys(engine)) == 197
    third = sync_access(engine, src)
    assert third.ok and third.counts["closed"] == 0 and grants_written_by(engine, third.run_id) == []
    assert len(open_keys(engine)) == 197


def test_a_sharp_drop_of_grants_is_quarantined_and_confirmed_closes_only_the_unseen(engine):
    grants = [(f"u{i:03d}", "page", "MANAGE", Level.admin) for i in range(100)]
    src = FakeAccess(grants=list(grants))
    assert sync_access(engine, src).ok
    src.grants = grants[:40]
    outcome = sync_access(engine, src)
    assert outcome.status == "quarantined" and len(open_keys(engine)) == 100
    confirmed = confirm_run(engine, outcome.run_id, actor="test")
    assert confirmed.ok and confirmed.counts["closed"] == 60
    assert len(open_keys(engine)) == 40
