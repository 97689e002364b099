"""Tests that kill the mutants ``make mutate`` found surviving in plan.py, executor.py and takes.py (issue 12).

Each test names the mutant it kills (mutmut 3 names: ``module.x_function__mutmut_N``).
"""

from __future__ import annotations

from sqlalchemy import text

from accessward.connectors.records import Level
from accessward.reconcile import links
from accessward.reconcile.plan import build_plan
from accessward.reconcile.policy import PolicySettings, RuleSettings
from accessward.reconcile.run import reconcile
from accessward.sync.clock import utcnow
from accessward.sync.runner import sync_access, sync_identity
from tests.fakes import FakeAccess, FakeIdentity, RecordingRevoker, person

REVOKE = PolicySettings(rules={"orphaned": RuleSettings(action="revoke")})


def _disputed_estate(engine):  # type: ignore[no-untyped-def]
    """Account x's email belongs to two people (a dispute); boss keeps the page's admin."""
    assert sync_identity(engine, FakeIdentity(people=[person("a1", "shared@example.com"),
                                                      person("a2", "shared@example.com")])).ok
    src = FakeAccess(grants=[("x", "page", "CREATE_CONTENT", Level.full_publishing),
                             ("boss", "page", "MANAGE", Level.admin)],
                     emails={"x": "shared@example.com", "boss": "a1@example.com"})
    assert sync_access(engine, src).ok
    return src, RecordingRevoker(src)


# -- plan._hold_reason: the finding says "disputed" but the link was settled since --------------------


def test_a_finding_raised_on_a_disputed_link_is_held_even_after_the_link_is_settled(engine):
    """Kills plan.x__hold_reason__mutmut_1..7 (``or`` -> ``and``, the evidence key/value changed).

    Between a reconcile and the next plan someone links the account by hand (``accessward link``):
    the link is no longer disputed, but the open finding was raised on the dispute. Acting on it
    would revoke on facts nobody has re-judged; it must wait for the next reconcile.
    """
    _, revoker = _disputed_estate(engine)
    reconcile(engine, REVOKE)
    with engine.connect() as conn:
        reasons = [r for (r,) in conn.execute(text("SELECT evidence FROM finding WHERE state = 'open'"))]
    assert any("disputed" in str(r) for r in reasons)
    links.link(engine, "social", "x", "a2", actor="tester")
    plan = build_plan(engine, REVOKE, {revoker.name: revoker}, ["dir"], utcnow())
    assert plan.revocations == [] and revoker.calls == []
    held = [h for h in plan.held if h.account == "x"]
    assert held and "disputed link" in held[0].held_because
