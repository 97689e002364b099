"""Access reviews end to end: a quarterly campaign started by the scheduler over the seeded world, two
reviewers deciding through the API, the non-response rule, and closing through the outbox."""

from __future__ import annotations

import threading
from datetime import UTC

from sqlmodel import Session, col, select

from accessward import jobs_reviews, tokens
from accessward.reconcile import reviews
from accessward.reports.reviews import campaign_rows
from accessward.runtime import Runtime
from accessward.serve import Service
from accessward.settings import load_settings
from accessward.sync import principals
from accessward.sync.clock import utcnow
from accessward.sync.db import open_store
from accessward.sync.models import AuditEvent
from tests.service.world import DANA, World

MAIN, SHOP = "200000000000001", "200000000000003"
ALEX_META, SAM_META = "300000000000001", "300000000000003"
ALEX, PRIYA = "alex.morgan@example.com", "priya.shah@example.com"

REVIEWS = f"""
[[reviews]]
name = "quarterly-access"
systems = ["meta"]
resources = ["meta:{MAIN}", "meta:{SHOP}"]
min_level = "full_publishing"
reviewers = ["owner"]
owners = {{ "meta:{MAIN}" = "{ALEX}", "meta:{SHOP}" = "sam.rivera@example.com" }}
fallback = "{PRIYA}"
duration_days = 90
on_no_response = "revoke"
"""


def review_runtime(world: World) -> Runtime:
    path = world.write_settings()
    path.write_text(path.read_text() + REVIEWS)
    rt = Runtime(load_settings(path), world.dir, open_store(f"sqlite:///{world.dir / 'store.db'}"),
                 sleep=lambda s: None)
    world._runtimes.append(rt)
    return rt


def personal_token(rt: Runtime, email: str, role: str = "reviewer") -> str:
    """A person's own token: decisions are recorded against their principal."""
    who = principals.ensure(rt.engine, email.split("@")[0], display_name=email, email=email if "@" in email else None)
    return tokens.create(rt.engine, name=f"{email}-{role}", role=role, actor="test", principal_id=who.id)


def actor(email: str) -> str:
    return f"principal:{email.split('@')[0]}"


def bearer(rt: Runtime, name: str, role: str = "reviewer") -> dict[str, str]:
    return {"Authorization": f"Bearer {personal_token(rt, name, role)}"}


def decisions_in_trail(rt: Runtime) -> dict[int, str]:
    with Session(rt.engine) as s:
        events = s.execute(select(AuditEvent).where(col(AuditEvent.kind) == "review.decided")).scalars()
        return {int(i["item"]): e.actor for e in events for i in e.data["items"]}


def test_quarterly_campaign_from_the_scheduler_decided_through_the_api_and_closed_through_the_outbox(world):
    rt = review_runtime(world)
    world.sync(rt)
    service = Service(rt, instance="test")
    spec = next(s for s in service.specs if s.key == "review:quarterly-access")
    slot = jobs_reviews.latest_slot(rt, rt.settings.reviews[0], utcnow())  # the quarter's first day, 06:00
    assert slot is not None and slot.day == 1 and slot.month in (1, 4, 7, 10) and slot.hour == 6
    assert service.run_job(spec, slot.replace(tzinfo=UTC)) == "succeeded"
    assert service.run_job(spec, slot.replace(tzinfo=UTC)) == "skipped_already_ran"
    assert jobs_reviews.tick(rt, threading.Event()) == "nothing due"  # the slot's campaign exists: no second one
    [campaign] = reviews.campaigns(rt.engine)
    assert campaign.key == f"quarterly-access:{slot:%Y-%m-%dT%H:%M}"
    assert campaign.started_by == "scheduler" and campaign.status == "open"
    items = {(i.resource, i.account_name): i for i in reviews.items(rt.engine, campaign.id)}
    dana, sam_main = items[(MAIN, "Dana Leaver")], items[(MAIN, "Sam Rivera")]
    alex_main, sam_shop = items[(MAIN, "Alex Morgan")], items[(SHOP, "Sam Rivera")]
    agency = [i for (r, _), i in items.items() if r == MAIN and i.account_name.startswith(("Taylor", "Brightside"))]
    # a freelancer added straight to the Page (Meta's /roles), outside any business: the owner reviews it too
    agency += [i for (r, _), i in items.items() if r == MAIN and i.account_name.startswith("Riley")]
    assert any(i.account_name.startswith("Riley") for i in agency)
    # the owner reviews, but never their own access: Alex's own grant and Sam's shop go to the fallback
    assert (dana.reviewer, dana.reviewer_source) == (ALEX, "owner")
    assert (alex_main.reviewer, alex_main.reviewer_source) == (PRIYA, "fallback")
    assert (sam_shop.reviewer, sam_shop.reviewer_source) == (PRIYA, "fallback")
    assert dana.facts["level"] == "admin" and dana.facts["sources"][0]["status"] == "active"
    assert dana.facts["mfa"] == "no" and dana.recommendation == "keep" and dana.recommendation_reason

    alex, priya = bearer(rt, ALEX), bearer(rt, PRIYA)
    admin = bearer(rt, "ciso", role="admin")
    with world.client(rt) as client:
        url = f"/v1/reviews/{campaign.id}"
        mine = client.get(f"{url}/items", headers=alex).json()
        assert {i["id"] for i in mine} == {dana.id, sam_main.id, *(i.id for i in agency)}
        # refusals: a justification is required; another reviewer's item; one's own access
        r = client.post(f"{url}/decisions", headers=alex, json={"items": [dana.id], "decision": "revoke"})
        assert r.status_code == 422 and "justification" in r.text
        r = client.post(f"{url}/decisions", headers=alex, json={"items": [alex_main.id], "decision": "keep",
                                                               "justification": "I still need it"})
        assert r.status_code == 403
        r = client.post(f"{url}/delegations", headers=priya, json={"items": [alex_main.id], "to": ALEX})
        assert r.status_code == 403 and "own access" in r.text

        r = client.post(f"{url}/decisions", headers=alex, json={
            "items": [dana.id], "decision": "revoke", "justification": "moved to another team in October"})
        assert r.status_code == 200, r.text
        r = client.post(f"{url}/decisions", headers=alex, json={
            "items": [sam_main.id, *(i.id for i in agency)], "decision": "keep", "justification": "still needed"})
        assert r.status_code == 200 and len(r.json()) == 1 + len(agency)  # a bulk decision
        r = client.post(f"{url}/decisions", headers=priya, json={
            "items": [alex_main.id], "decision": "keep", "justification": "head of social"})
        assert r.status_code == 200
        # Sam's shop admin is left undecided: at closing it falls to on_no_response = "revoke"
        assert client.post(f"{url}/close", headers=alex).status_code == 403
        r = client.post(f"{url}/close", headers=admin)
        assert r.status_code == 200, r.text
        closed = r.json()
        assert closed["status"] == "closed" and closed["plan_status"] == "ready"
        report = client.get(f"{url}/report", headers=admin).json()

    # exactly the decided grant went, on the platform itself
    assert not world.meta.is_assigned(MAIN, DANA["meta"])
    assert world.meta.is_assigned("200000000000002", DANA["meta"])  # careers page: not in the campaign
    assert world.meta.is_assigned(MAIN, ALEX_META) and world.meta.is_assigned(SHOP, SAM_META)
    assert world.meta.is_assigned(MAIN, SAM_META)
    assert len(world.meta.revoke_calls) == 1
    # the non-response revoke met the last-admin guard: Sam is the shop's only manager
    after = {i.id: i for i in reviews.items(rt.engine, campaign.id)}
    assert (after[sam_shop.id].decision, after[sam_shop.id].decided_via) == ("revoke", "non_response")
    assert after[sam_shop.id].outcome == "held" and "last admin" in after[sam_shop.id].outcome_detail
    assert after[dana.id].outcome == "done" and after[alex_main.id].outcome == "kept"
    # every decision is in the audit trail against who made it
    trail = decisions_in_trail(rt)
    assert trail[dana.id] == trail[sam_main.id] == actor(ALEX)
    assert trail[alex_main.id] == actor(PRIYA)
    assert trail[sam_shop.id] == reviews.NON_RESPONSE
    rows = {r["item"]: r for r in report["rows"]}
    assert rows[dana.id]["justification"] == "moved to another team in October"
    assert rows[dana.id]["decided_by"] == actor(ALEX) and rows[dana.id]["decided_at"]
    assert rows[dana.id]["outcome"] == "done" and rows[sam_shop.id]["outcome"] == "held"
    assert report["campaign"]["completion"] == round(5 / 6, 3) if len(items) == 6 else True
    assert rows == {r["item"]: r for r in campaign_rows(rt.engine, campaign.id)}


def test_at_the_deadline_the_scheduler_sends_overdue_notices_applies_non_response_and_closes(world):
    rt = review_runtime(world)
    world.sync(rt)
    stop = threading.Event()
    assert "started" in jobs_reviews.tick(rt, stop)  # a slot missed while the service was down is caught up
    [campaign] = reviews.campaigns(rt.engine)
    assert reviews.find(rt.engine, campaign.id).status == "open"  # type: ignore[union-attr]
    out = jobs_reviews.tick(rt, stop, now=campaign.deadline)
    assert "closed" in out
    with Session(rt.engine) as s:
        overdue = {e.data["reviewer"] for e in s.execute(
            select(AuditEvent).where(col(AuditEvent.kind) == "review.overdue")).scalars()}
    assert overdue == {ALEX, PRIYA}
    after = reviews.items(rt.engine, campaign.id)
    assert {i.decided_via for i in after} == {"non_response"} and {i.decision for i in after} == {"revoke"}
    # everything fell to on_no_response = "revoke", but the newest sync is 90 days old by then: nothing is revoked
    assert world.meta.revoke_calls == []
    assert all(i.outcome == "held" and "older than 36 h" in i.outcome_detail for i in after)
    assert reviews.find(rt.engine, campaign.id).status == "closed"  # type: ignore[union-attr]
    assert jobs_reviews.tick(rt, stop, now=campaign.deadline) == "nothing due"


def test_the_api_starts_by_hand_for_admins_and_shows_reviewers_only_their_own_items(world):
    rt = review_runtime(world)
    world.sync(rt)
    alex, priya = bearer(rt, ALEX), bearer(rt, PRIYA)
    admin, auditor = bearer(rt, "ciso", role="admin"), bearer(rt, "audit-firm", role="auditor")
    with world.client(rt) as client:
        assert client.post("/v1/reviews", headers=alex, json={"name": "quarterly-access"}).status_code == 403
        assert client.post("/v1/reviews", headers=admin, json={"name": "nope"}).status_code == 404
        r = client.post("/v1/reviews", headers=admin, json={"name": "quarterly-access"})
        assert r.status_code == 201 and r.json()["started_by"] == actor("ciso") and r.json()["completion"] == 0
        cid = r.json()["id"]
        assert client.get("/v1/reviews", headers=priya).json()[0]["id"] == cid
        mine = client.get(f"/v1/reviews/{cid}/items", headers=priya).json()
        assert mine and {i["reviewer"] for i in mine} == {PRIYA}
        assert all(i["facts"]["sources"] and i["recommendation_reason"] for i in mine)
        assert client.get(f"/v1/reviews/{cid}/items?reviewer={ALEX}", headers=priya).status_code == 403
        everyone = client.get(f"/v1/reviews/{cid}/items", headers=auditor).json()
        assert {i["reviewer"] for i in everyone} == {ALEX, PRIYA}
        assert client.get(f"/v1/reviews/{cid}/report", headers=alex).status_code == 403
        assert len(client.get(f"/v1/reviews/{cid}/report", headers=auditor).json()["rows"]) == len(everyone)
        r = client.post(f"/v1/reviews/{cid}/decisions", headers=priya, json={
            "items": [mine[0]["id"]], "decision": "reduce", "justification": "x"})
        assert r.status_code == 422  # reduce needs reduce_to
        service = {"Authorization": "Bearer " + tokens.create(rt.engine, name=PRIYA, role="reviewer", actor="t")}
        r = client.post(f"/v1/reviews/{cid}/decisions", headers=service, json={
            "items": [mine[0]["id"]], "decision": "keep", "justification": "x"})
        assert r.status_code == 403  # a token bound to no person never decides, whatever its name
    with Session(rt.engine) as s:
        calls = [e for e in s.execute(select(AuditEvent).where(col(AuditEvent.kind) == "api.call")).scalars()
                 if e.subject.startswith(("GET /v1/reviews", "POST /v1/reviews"))]
    assert calls and {e.actor for e in calls} >= {actor(ALEX), actor(PRIYA), actor("ciso")}


PINTEREST_REVIEW = f"""
[[reviews]]
name = "pinterest-admins"
schedule = "manual"
systems = ["pinterest"]
min_level = "admin"
reviewers = ["named"]
named = ["{PRIYA}"]
fallback = "jordan.lee@example.com"
"""


def test_a_downgrade_of_the_only_pinterest_business_admin_is_held_and_nothing_is_sent(world):
    path = world.write_settings()
    path.write_text(path.read_text() + PINTEREST_REVIEW)
    rt = Runtime(load_settings(path), world.dir, open_store(f"sqlite:///{world.dir / 'store.db'}"),
                 sleep=lambda s: None)
    world._runtimes.append(rt)
    world.sync(rt)
    priya = bearer(rt, PRIYA)
    with world.client(rt) as client:
        r = client.post("/v1/reviews", headers=bearer(rt, "ciso", role="admin"), json={"name": "pinterest-admins"})
        cid = r.json()["id"]
        [alex] = client.get(f"/v1/reviews/{cid}/items", headers=priya).json()
        assert (alex["account"], alex["level"]) == ("1409000000000001", "admin")
        r = client.post(f"/v1/reviews/{cid}/decisions", headers=priya, json={
            "items": [alex["id"]], "decision": "reduce", "reduce_to": "read_only", "justification": "too many"})
        assert r.status_code == 200, r.text
        assert client.post(f"/v1/reviews/{cid}/close", headers=bearer(rt, "ciso2", role="admin")).status_code == 200
    [after] = reviews.items(rt.engine, cid)
    assert after.outcome == "held" and "last admin" in after.outcome_detail
    assert world.pinterest.writes == []  # the PATCH that lowers the role was never sent
