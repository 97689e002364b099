"""Meta: what the platform really holds (issue 11) — Page tokens, /roles, the task ladder, business
tasks and invitations, partnerships. Each test fails on the connector and simulator before it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from accessward.connectors.errors import RejectedError, StopError
from accessward.connectors.meta import PageTokenError
from accessward.connectors.meta_tasks import (
    BUSINESS_TASK_LEVELS,
    TASK_LEVELS,
    UNKNOWN_TASK_LEVEL,
    business_role_and_level,
    role_and_level,
    task_level,
)
from accessward.connectors.records import (
    AccessRecord,
    AccountKind,
    AccountRecord,
    GrantRecord,
    GrantRef,
    Level,
    PersonStatus,
    RevocationScope,
    RevokeOutcome,
)
from accessward.reconcile.links import link
from accessward.reconcile.plan import build_plan
from accessward.reconcile.policy import PolicySettings, RuleSettings
from accessward.reconcile.run import reconcile
from accessward.reports.access import access_rows
from accessward.sandbox.meta import PAGE_TOKEN_REQUIRED, MetaState, create_app
from accessward.sandbox.server import RunningServer, start_app
from accessward.sync.clock import utcnow
from accessward.sync.runner import sync_access, sync_identity
from tests.connectors.test_meta import TOKEN, connector
from tests.fakes import FakeIdentity, person

BUSINESS = "100000000000001"
MAIN, SIDE = "200000000000001", "200000000000002"
ALEX, DANA = "300000000000001", "300000000000002"
AGENCY = "700000000000001"

#: Every Page task the docs list (Graph's refusal list and the SDKs' Page.Tasks / PAGE_TASKS).
DOCUMENTED_PAGE_TASKS = [
    "MANAGE", "CREATE_CONTENT", "MODERATE", "MESSAGING", "ADVERTISE", "ANALYZE", "MODERATE_COMMUNITY", "MANAGE_JOBS",
    "PAGES_MESSAGING", "PAGES_MESSAGING_SUBSCRIPTIONS", "READ_PAGE_MAILBOXES", "VIEW_MONETIZATION_INSIGHTS",
    "MANAGE_LEADS", "CASHIER_ROLE", "GLOBAL_STRUCTURE_MANAGEMENT",
    "PROFILE_PLUS_FULL_CONTROL", "PROFILE_PLUS_MANAGE", "PROFILE_PLUS_FACEBOOK_ACCESS", "PROFILE_PLUS_CREATE_CONTENT",
    "PROFILE_PLUS_MODERATE", "PROFILE_PLUS_MESSAGING", "PROFILE_PLUS_ADVERTISE", "PROFILE_PLUS_ANALYZE",
    "PROFILE_PLUS_CREATIVE_MANAGEMENT", "PROFILE_PLUS_CREATOR_MANAGEMENT", "PROFILE_PLUS_GLOBAL_STRUCTURE_MANAGEMENT",
    "PROFILE_PLUS_MANAGE_LEADS", "PROFILE_PLUS_MODERATE_DELEGATE_COMMUNITY", "PROFILE_PLUS_REVENUE",
]
DOCUMENTED_BUSINESS_TASKS = [
    "ADMIN", "ADS_RIGHTS_REVIEWER", "DEFAULT", "DEVELOPER", "EMPLOYEE", "FINANCE_ANALYST", "FINANCE_EDIT",
    "FINANCE_EDITOR", "FINANCE_VIEW", "MANAGE", "PARTNER_CENTER_ADMIN", "PARTNER_CENTER_ANALYST",
    "PARTNER_CENTER_EDUCATION", "PARTNER_CENTER_MARKETING", "PARTNER_CENTER_OPERATIONS",
]


@pytest.fixture
def state() -> MetaState:
    st = MetaState(BUSINESS, "Page Test")
    st.add_token(TOKEN)
    main, side = st.add_page("Main", page_id=MAIN), st.add_page("Side", page_id=SIDE)
    alex = st.add_business_user("Alex Admin", "alex@example.com", role="ADMIN", user_id=ALEX)
    dana = st.add_business_user("Dana Leaver", "dana@example.com", user_id=DANA)
    st.assign(main.id, alex.id, ["PROFILE_PLUS_FULL_CONTROL"])
    st.assign(side.id, alex.id, ["MANAGE"])
    st.assign(main.id, dana.id, ["PROFILE_PLUS_CREATE_CONTENT", "PROFILE_PLUS_ANALYZE"])
    return st


@pytest.fixture
def server(state: MetaState) -> Iterator[RunningServer]:
    with start_app(create_app(state)) as srv:
        yield srv


def listing(srv: RunningServer, **options: Any) -> list[AccessRecord]:
    return list(connector(srv, [], TOKEN, **options).list_access())


def grant_map(records: list[AccessRecord]) -> dict[tuple[str, str], GrantRecord]:
    return {(r.account_id, r.resource_id): r for r in records if isinstance(r, GrantRecord)}


# -- the task ladder ------------------------------------------------------------------------------


def test_every_documented_task_is_ranked_and_an_unknown_one_ranks_admin() -> None:
    for task in DOCUMENTED_PAGE_TASKS:
        assert task in TASK_LEVELS, f"{task} is documented but not ranked"
    for task in DOCUMENTED_BUSINESS_TASKS:
        assert task in BUSINESS_TASK_LEVELS, f"{task} is documented but not ranked"
    assert task_level("PROFILE_PLUS_FULL_CONTROL") is Level.admin
    assert task_level("MANAGE") is Level.admin
    assert task_level("PROFILE_PLUS_CREATE_CONTENT") is Level.full_publishing
    assert task_level("PROFILE_PLUS_MESSAGING") is Level.can_reply
    assert task_level("PROFILE_PLUS_ANALYZE") is Level.read_only
    assert task_level("SOMETHING_META_ADDS_NEXT_YEAR") is UNKNOWN_TASK_LEVEL is Level.admin
    assert role_and_level(["ANALYZE", "profile_plus_brand_new"]) == ("ANALYZE,PROFILE_PLUS_BRAND_NEW", Level.admin)
    assert business_role_and_level("EMPLOYEE", ["EMPLOYEE", "MANAGE"]) == ("EMPLOYEE:MANAGE", Level.admin)
    assert business_role_and_level("EMPLOYEE", ["FINANCE_VIEW"]) == ("EMPLOYEE:FINANCE_VIEW", Level.read_only)
    assert business_role_and_level("NEW_ROLE", []) == ("NEW_ROLE", Level.admin)


def test_a_full_control_holder_is_listed_as_admin(server: RunningServer) -> None:
    grants = grant_map(listing(server))
    assert (grants[(ALEX, MAIN)].role, grants[(ALEX, MAIN)].level) == ("PROFILE_PLUS_FULL_CONTROL", Level.admin)
    assert grants[(DANA, MAIN)].level is Level.full_publishing


# -- Page tokens ----------------------------------------------------------------------------------


def test_simulator_refuses_a_system_user_token_on_page_edges_with_code_190(state: MetaState,
                                                                          server: RunningServer) -> None:
    for edge, params in (("assigned_users", {"business": BUSINESS}), ("agencies", {}), ("roles", {})):
        answer = httpx.get(f"{server.url}/v21.0/{MAIN}/{edge}", params={"access_token": TOKEN, **params})
        error = answer.json()["error"]
        assert answer.status_code == 400
        assert (error["code"], error["type"], error["message"]) == (190, "OAuthException", PAGE_TOKEN_REQUIRED)
        assert "fbtrace_id" in error and "error_subcode" not in error
    deleted = httpx.delete(f"{server.url}/v21.0/{MAIN}/assigned_users", params={"access_token": TOKEN, "user": DANA})
    assert deleted.json()["error"]["code"] == 190 and state.is_assigned(MAIN, DANA)
    page_token = httpx.get(f"{server.url}/v21.0/{MAIN}", params={"access_token": TOKEN, "fields": "id,access_token"})
    value = page_token.json()["access_token"]
    ok = httpx.get(f"{server.url}/v21.0/{MAIN}/assigned_users", params={"access_token": value, "business": BUSINESS})
    assert ok.status_code == 200 and {i["id"] for i in ok.json()["data"]} == {ALEX, DANA}
    other_page = httpx.get(f"{server.url}/v21.0/{SIDE}/agencies", params={"access_token": value})
    assert other_page.json()["error"]["code"] == 190  # a Page token is for its own Page only


def test_a_page_whose_token_cannot_be_had_fails_the_listing_naming_the_page_and_the_fix(
        state: MetaState, server: RunningServer) -> None:
    state.add_token("scoped-token", pages=frozenset({MAIN}))  # the system user is not assigned to Side

    with pytest.raises(PageTokenError) as err:
        list(connector(server, [], "scoped-token").list_access())

    message = str(err.value)
    assert isinstance(err.value, StopError)
    assert f"Side ({SIDE})" in message and "assign the system user to the Page with the MANAGE task" in message
    assert "expired" not in message and "Main" not in message.split("Page(s):")[1].split(";")[0]
    assert state.calls_to(f"{MAIN}/assigned_users")  # the other Page was read before the run failed


def test_a_revocation_on_a_page_without_a_token_is_rejected_with_the_fix_and_sends_nothing(
        state: MetaState, server: RunningServer) -> None:
    state.add_token("scoped-token", pages=frozenset({SIDE}))

    with pytest.raises(RejectedError) as err:
        connector(server, [], "scoped-token").revoke(GrantRef(DANA, MAIN, "PROFILE_PLUS_ANALYZE", "facebook_page"))

    assert "MANAGE" in str(err.value) and "expired" not in str(err.value)
    assert state.revoke_calls == [] and state.is_assigned(MAIN, DANA)


def test_page_tokens_are_fetched_when_needed_and_never_shown(state: MetaState, server: RunningServer,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    meta = connector(server, [], TOKEN)
    grant = GrantRef(DANA, MAIN, "PROFILE_PLUS_ANALYZE,PROFILE_PLUS_CREATE_CONTENT", "facebook_page")
    preview = meta.preview_revoke(grant).render()

    result = meta.revoke(grant)

    assert result.outcome is RevokeOutcome.done and not state.is_assigned(MAIN, DANA)
    page_tokens = [v for v, info in state.tokens.items() if info.page_id == MAIN]
    assert page_tokens, "the revocation asked for the Page's token"
    [delete] = state.revoke_calls
    assert delete.status == 200 and "access_token" not in delete.params
    for token in page_tokens:
        assert token not in preview and token not in caplog.text and token not in result.detail
    assert len(state.calls_to(MAIN)) == 1  # one Page-token read for this revocation


# -- /roles: people with Page access outside the business -----------------------------------------


def test_people_with_a_task_on_the_page_outside_the_business_are_listed(state: MetaState,
                                                                      server: RunningServer) -> None:
    freelancer = state.add_page_role(MAIN, "Former Freelancer", ["PROFILE_PLUS_FULL_CONTROL"])

    records = listing(server)

    account = next(r for r in records if isinstance(r, AccountRecord) and r.display_name == "Former Freelancer")
    assert (account.external_id, account.kind) == (f"pagerole:{freelancer.id}", AccountKind.human)
    grant = grant_map(records)[(account.external_id, MAIN)]
    assert (grant.role, grant.level) == ("PROFILE_PLUS_FULL_CONTROL", Level.admin)
    assert state.calls_to(f"{MAIN}/roles") and state.calls_to(f"{SIDE}/roles")


def test_a_page_role_is_a_manual_step_in_the_plan_and_never_sent(engine: Engine, state: MetaState,
                                                                 server: RunningServer) -> None:
    freelancer = state.add_page_role(MAIN, "Former Freelancer", ["PROFILE_PLUS_MANAGE"])
    meta = connector(server, [], TOKEN)
    people = [person("alex", email="alex@example.com"),
              person("fred", email="fred@example.com", status=PersonStatus.terminated)]
    assert sync_identity(engine, FakeIdentity(people=people)).ok
    assert sync_access(engine, meta).ok
    link(engine, meta.name, f"pagerole:{freelancer.id}", "fred@example.com", actor="it")  # matched by hand
    policy = PolicySettings(rules={"orphaned": RuleSettings(action="revoke")})
    reconcile(engine, policy)

    result = build_plan(engine, policy, {meta.name: meta}, ["dir"], utcnow())

    [held] = [h for h in result.held if h.account.startswith("pagerole:")]
    assert "manual step" in held.held_because  # the MANUAL preview (main) or Takes.manual_step
    assert "Page access" in held.held_because
    assert not any(i.account.startswith("pagerole:") for i in result.revocations)
    with pytest.raises(RejectedError):
        meta.revoke(GrantRef(held.account, MAIN, held.role, "facebook_page"))
    assert state.revoke_calls == [] or all("/roles" not in c.path for c in state.revoke_calls)


# -- business-level rights and invitations --------------------------------------------------------


def test_business_tasks_and_open_invitations_reach_the_store_rules_and_report(engine: Engine, state: MetaState,
                                                                            server: RunningServer) -> None:
    state.add_business_user("Eve Employee", "eve@example.com", user_id="300000000000009", tasks=["EMPLOYEE", "MANAGE"])
    state.add_pending_user("dana@example.com", role="ADMIN")  # a leaver's invitation, still open
    state.add_pending_user("someone@outside.example")
    meta = connector(server, [], TOKEN)
    people = [person("alex", email="alex@example.com"), person("eve", email="eve@example.com"),
              person("dana", email="dana@example.com", status=PersonStatus.terminated)]
    assert sync_identity(engine, FakeIdentity(people=people)).ok
    assert sync_access(engine, meta).ok

    reconcile(engine, PolicySettings())
    rows = {(r["account_id"], r["resource_id"]): r for r in access_rows(engine, utcnow())}

    eve = rows[("300000000000009", BUSINESS)]
    assert (eve["role"], eve["level"]) == ("EMPLOYEE:MANAGE", "admin")  # listed even in the default "admins" mode
    invites = {r["account_email"]: r for k, r in rows.items() if k[0].startswith("invite:")}
    assert invites["dana@example.com"]["role"] == "INVITED:ADMIN" and invites["dana@example.com"]["level"] == "admin"
    assert invites["dana@example.com"]["findings"] >= 1  # the leaver's open invitation is a finding
    assert invites["someone@outside.example"]["person_status"] == "no matching person"


def test_an_invitation_is_cancelled_by_deleting_the_request(state: MetaState, server: RunningServer) -> None:
    invite = state.add_pending_user("dana@example.com")
    meta = connector(server, [], TOKEN)
    grant = GrantRef(f"invite:{invite.id}", BUSINESS, "INVITED:EMPLOYEE", "meta_business")

    assert meta.preview_revoke(grant).render() == f"DELETE {server.url}/v21.0/{invite.id}"
    assert meta.revoke(grant).outcome is RevokeOutcome.done
    assert invite.id not in state.pending_users
    assert meta.revoke(grant).outcome is RevokeOutcome.already_gone and len(state.revoke_calls) == 1


# -- partnerships ---------------------------------------------------------------------------------


def test_our_own_business_and_pending_requests_are_never_partners(state: MetaState, server: RunningServer) -> None:
    own = state.add_partner("Page Test (ourselves)", partner_id=BUSINESS)
    state.share(MAIN, own.id, ["MANAGE"])
    state.add_partner("Requesting Agency", partner_id=AGENCY)
    state.share(MAIN, AGENCY, ["ADVERTISE"], status="PENDING")

    records = listing(server)

    accounts = {r.external_id for r in records if isinstance(r, AccountRecord)}
    assert f"partner:{BUSINESS}" not in accounts
    assert (f"partner:{AGENCY}", MAIN) not in grant_map(records)  # a request is not access
    assert grant_map(records)[(f"partner:{AGENCY}", BUSINESS)].role == "PARTNER"  # linked, no asset


def test_a_whole_partnership_is_a_manual_step_unless_asked_and_lists_what_it_takes(state: MetaState,
                                                                                 server: RunningServer) -> None:
    state.add_partner("Idle On Pages", partner_id=AGENCY)
    grant = GrantRef(f"partner:{AGENCY}", BUSINESS, "PARTNER", "meta_business", AccountKind.agency)

    default = connector(server, [], TOKEN).revocation_takes(grant)
    asked = connector(server, [], TOKEN, remove_partnerships=True).revocation_takes(grant)

    assert default.scope is asked.scope is RevocationScope.account_on_system
    assert "ad accounts, catalogs and pixels" in default.manual_step and asked.manual_step == ""
    with pytest.raises(RejectedError):
        connector(server, [], TOKEN).revoke(grant)
    assert state.revoke_calls == [] and state.is_partner(AGENCY)


def test_membership_removal_declares_every_asset_it_takes(server: RunningServer) -> None:
    meta = connector(server, [], TOKEN)
    member = meta.revocation_takes(GrantRef(DANA, BUSINESS, "EMPLOYEE", "meta_business"))
    page = meta.revocation_takes(GrantRef(DANA, MAIN, "PROFILE_PLUS_ANALYZE", "facebook_page"))
    assert member.scope is RevocationScope.account_on_system and "every asset" in member.note
    assert member.manual_step == "" and page.scope is RevocationScope.grant
    system = meta.revocation_takes(GrantRef("400000000000001", BUSINESS, "EMPLOYEE", "meta_business",
                                            AccountKind.system))
    assert "removed by hand" in system.manual_step


def test_remove_partnerships_is_a_setting_of_the_meta_source(server: RunningServer, tmp_path: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from accessward.settings import MetaSource
    from accessward.wiring import access_connector

    monkeypatch.setenv("META_T", TOKEN)
    grant = GrantRef(f"partner:{AGENCY}", BUSINESS, "PARTNER", "meta_business", AccountKind.agency)
    for flag, manual in ((False, True), (True, False)):
        cfg = MetaSource.model_validate({"type": "meta", "name": "meta", "base_url": f"{server.url}/v21.0",
                                         "business_id": BUSINESS, "access_token": {"env": "META_T"},
                                         "remove_partnerships": flag})
        with access_connector(cfg, tmp_path) as meta:
            assert bool(meta.revocation_takes(grant).manual_step) is manual


def test_a_page_token_refusal_is_a_page_problem_not_an_expired_token() -> None:
    from accessward.connectors.errors import AuthError
    from accessward.connectors.meta import classify_graph_error

    def answer(message: str, subcode: int | None = None) -> httpx.Response:
        error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": 190, "fbtrace_id": "Ax"}
        if subcode is not None:
            error["error_subcode"] = subcode
        return httpx.Response(400, json={"error": error})

    page = classify_graph_error(answer(PAGE_TOKEN_REQUIRED))
    expired = classify_graph_error(answer("Error validating access token: Session has expired", 463))

    assert isinstance(page, PageTokenError) and "MANAGE" in str(page) and "expired" not in str(page)
    assert isinstance(expired, AuthError) and "expired" in str(expired)


def test_an_ended_partner_that_looks_idle_on_pages_is_a_manual_step_not_a_planned_removal(
        engine: Engine, state: MetaState, server: RunningServer) -> None:
    """It may still work on ad accounts, catalogs or pixels this read never sees."""
    from datetime import date

    from accessward.reconcile.policy import Engagement

    state.add_partner("Ended Agency", partner_id=AGENCY)  # linked, no Page or Instagram asset
    meta = connector(server, [], TOKEN)
    assert sync_identity(engine, FakeIdentity(people=[person("alex", email="alex@example.com")])).ok
    assert sync_access(engine, meta).ok
    policy = PolicySettings(rules={"agency": RuleSettings(action="revoke")}, agencies=[
        Engagement(name="Ended Agency", partner_accounts=[f"{meta.name}:partner:{AGENCY}"], end=date(2025, 1, 1))])
    reconcile(engine, policy)

    result = build_plan(engine, policy, {meta.name: meta}, ["dir"], utcnow())

    [held] = [h for h in result.held if h.account == f"partner:{AGENCY}"]
    assert held.held_because.startswith("manual step, by hand:")
    assert "ad accounts, catalogs and pixels" in held.held_because
    assert result.revocations == [] and state.is_partner(AGENCY)
