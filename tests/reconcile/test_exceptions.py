"""Risk acceptance: accepted findings are never revoked; an expired exception reopens them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlmodel import Session

from accessward.reconcile import exceptions
from accessward.reconcile.plan import build_plan
from accessward.reconcile.run import reconcile
from accessward.sync.clock import utcnow
from accessward.sync.models import AuditEvent, Finding
from tests.reconcile.test_plan_apply import REVOKE, estate


def states(engine):
    with Session(engine) as s:
        return sorted((f.evidence["account"], f.state) for f in s.execute(select(Finding)).scalars())


def test_accepted_finding_is_not_revoked_until_the_exception_expires(engine):
    _, _, revoker = estate(engine, leavers=2)
    reconcile(engine, REVOKE)
    with Session(engine) as s:
        l0 = s.execute(select(Finding).where(Finding.key.like("orphaned:%"))).scalars().first()
    exceptions.create(engine, owner="ciso@example.com", reason="contract handover until Friday",
                      expires_at=utcnow() + timedelta(days=3), actor="test", finding_id=l0.id)
    reconcile(engine, REVOKE)
    assert states(engine) == [("l0", "accepted"), ("l1", "open")]
    plan = build_plan(engine, REVOKE, {revoker.name: revoker}, ["dir"], utcnow())
    assert [i.account for i in plan.revocations] == ["l1"]

    with engine.begin() as conn:  # time passes: the exception expires
        conn.execute(text("UPDATE risk_exception SET expires_at = :t"), {"t": utcnow() - timedelta(minutes=1)})
    reconcile(engine, REVOKE)
    assert states(engine) == [("l0", "open"), ("l1", "open")]
    with Session(engine) as s:
        kinds = [e.kind for e in s.execute(select(AuditEvent)).scalars()]
    assert kinds.count("finding.accepted") == 1 and kinds.count("finding.reopened") == 1


def test_pattern_exception_by_account_email_and_withdrawal(engine):
    estate(engine, leavers=2)
    exc = exceptions.create(engine, owner="o", reason="r", expires_at=utcnow() + timedelta(days=1), actor="t",
                            rule="orphaned", account="L1@example.com")
    reconcile(engine, REVOKE)
    assert states(engine) == [("l0", "open"), ("l1", "accepted")]
    exceptions.withdraw(engine, exc, actor="t")
    reconcile(engine, REVOKE)
    assert states(engine) == [("l0", "open"), ("l1", "open")]


@pytest.mark.parametrize("kwargs", [
    {"owner": "", "reason": "r", "rule": "orphaned"},
    {"owner": "o", "reason": "r"},
    {"owner": "o", "reason": "r", "rule": "orphaned", "past": True},
])
def test_exception_needs_owner_reason_scope_and_a_future_expiry(engine, kwargs):
    kwargs = dict(kwargs)
    past = kwargs.pop("past", False)
    with pytest.raises(ValueError):
        exceptions.create(engine, expires_at=utcnow() + timedelta(days=-1 if past else 1), actor="t", **kwargs)
