"""The Meta connector against the Graph simulator on a loopback port, and the simulator itself.

The simulator is tested first: one that accepted any token or ignored ``limit`` would let a
broken connector pass every other test here.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from accessward.connectors.errors import AuthError, MalformedResponseError, RejectedError, StopError, TransientError
from accessward.connectors.meta import (
    INSTAGRAM_TASK_LEVELS,
    MetaBusinessConnector,
    mfa_from_two_fac,
    next_page_link,
    partner_grant,
    role_and_level,
)
from accessward.connectors.records import (
    AccessRecord,
    AccountKind,
    AccountRecord,
    GrantRecord,
    GrantRef,
    Level,
    ResourceRecord,
    RevokeOutcome,
)
from accessward.sandbox.meta import DEMO_TOKEN, LAST_ADMIN_MESSAGE, MetaState, RepeatDelete, create_app, demo_state
from accessward.sandbox.meta_state import FaultKind, Page
from accessward.sandbox.server import RunningServer, start_app

TOKEN = "EAAtest-S3cr3t-token-value"
BUSINESS = "100000000000001"
MAIN, CAREERS, SHOP = "200000000000001", "200000000000002", "200000000000003"
ALEX, DANA, SAM = "300000000000001", "300000000000002", "300000000000003"
SCHEDULER = "400000000000001"
INSTAGRAM, INSTAGRAM_USER = "500000000000001", "17841400000000001"
BRIGHTSIDE, OLD_PIXEL = "700000000000001", "700000000000002"
BIG_PAGE_USERS = 230

# Calls made by a listing of the "big" state: the business node (1), business_users takes 3
# pages (2-4: 230 people at limit 100), system_users (5), pending_users (6), agencies (7),
# owned_pages (8), the big page's Page token (9), its assigned_users (10, 11, 12), roles (13),
# agencies (14), owned_instagram_assets (15).
CALL_SECOND_GRANT_PAGE = 11


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def state() -> MetaState:
    st = MetaState(BUSINESS, "Test Business")
    st.add_token(TOKEN)
    return st


@pytest.fixture
def server(state: MetaState) -> Iterator[RunningServer]:
    with start_app(create_app(state)) as srv:
        yield srv


@pytest.fixture
def demo() -> MetaState:
    return demo_state()


@pytest.fixture
def demo_server(demo: MetaState) -> Iterator[RunningServer]:
    with start_app(create_app(demo)) as srv:
        yield srv


@pytest.fixture
def waits() -> list[float]:
    return []


def connector(srv: RunningServer, waits: list[float], token: str = TOKEN, **http: Any) -> MetaBusinessConnector:
    http.setdefault("sleep", waits.append)
    return MetaBusinessConnector("meta-test", f"{srv.url}/v21.0", BUSINESS, token, **http)


def seed_big_page(state: MetaState, n: int = BIG_PAGE_USERS) -> Page:
    """A page with ``n`` assignees (one MANAGE, the rest ANALYZE), all people of the business."""
    page = state.add_page("Big Page")
    admin = state.add_business_user("Page Admin", "page.admin@example.com", role="ADMIN")
    state.assign(page.id, admin.id, ["MANAGE"])
    for i in range(n - 1):
        user = state.add_business_user(f"User {i:03d}", f"user{i:03d}@example.com")
        state.assign(page.id, user.id, ["ANALYZE"])
    return page


def grants(records: list[AccessRecord], resource: str | None = None) -> list[GrantRecord]:
    return [r for r in records if isinstance(r, GrantRecord) and resource in (None, r.resource_id)]


def members(records: list[AccessRecord]) -> list[GrantRecord]:
    """The business-level grants of business and system users (not invitations)."""
    return [g for g in grants(records, BUSINESS) if not g.account_id.startswith("invite:")]


def assert_accounts_before_grants(records: list[AccessRecord]) -> None:
    seen: set[str] = set()
    for record in records:
        if isinstance(record, GrantRecord):
            assert record.account_id in seen and record.resource_id in seen, record
        else:
            seen.add(record.external_id)


def graph_get(srv: RunningServer, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{srv.url}/v21.0/{path}", params=params)


# -- the simulator itself ------------------------------------------------------------------------


def test_simulator_refuses_missing_unknown_and_expired_tokens(state: MetaState, server: RunningServer) -> None:
    missing = graph_get(server, f"{BUSINESS}/business_users")
    unknown = graph_get(server, f"{BUSINESS}/business_users", access_token="not-a-token")
    ok_query = graph_get(server, f"{BUSINESS}/business_users", access_token=TOKEN)
    ok_header = httpx.get(f"{server.url}/v21.0/{BUSINESS}/business_users",
                          headers={"Authorization": f"Bearer {TOKEN}"})
    state.expire_token(TOKEN)
    expired = graph_get(server, f"{BUSINESS}/business_users", access_token=TOKEN)

    assert (missing.status_code, missing.json()["error"]["code"]) == (400, 104)
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == 190 and "error_subcode" not in unknown.json()["error"]
    assert ok_query.status_code == ok_header.status_code == 200
    assert expired.status_code == 400
    error = expired.json()["error"]
    assert (error["code"], error["error_subcode"], error["type"]) == (190, 463, "OAuthException")
    assert error["fbtrace_id"]


def test_simulator_pages_with_cursors_limit_and_summary(state: MetaState, server: RunningServer) -> None:
    page = seed_big_page(state)
    path = f"{page.id}/assigned_users"
    sizes, ids = [], []
    ptok = state.page_token(TOKEN, page.id)  # a Page edge wants the Page's token
    body = graph_get(server, path, access_token=ptok, business=BUSINESS, limit=100, summary="total_count").json()
    while True:
        sizes.append(len(body["data"]))
        ids += [item["id"] for item in body["data"]]
        assert body["summary"] == {"total_count": BIG_PAGE_USERS}
        assert set(body["paging"]["cursors"]) == {"before", "after"}
        if "next" not in body["paging"]:
            break
        body = httpx.get(body["paging"]["next"]).json()

    assert sizes == [100, 100, 30]
    assert len(set(ids)) == BIG_PAGE_USERS
    default = graph_get(server, path, access_token=ptok, business=BUSINESS).json()
    capped = graph_get(server, path, access_token=ptok, business=BUSINESS, limit=500).json()
    assert len(default["data"]) == 25 and len(capped["data"]) == 100
    assert set(default["data"][0]) == {"id", "name"}  # fields must be asked for


def test_simulator_errors_for_unknown_nodes_edges_and_missing_business(state: MetaState,
                                                                       server: RunningServer) -> None:
    page = seed_big_page(state, 2)
    unknown_node = graph_get(server, "999999/assigned_users", access_token=TOKEN).json()["error"]
    unknown_edge = graph_get(server, f"{page.id}/nonsense", access_token=TOKEN).json()["error"]
    no_business = graph_get(server, f"{page.id}/assigned_users", access_token=state.page_token(TOKEN, page.id)
                            ).json()["error"]

    assert (unknown_node["code"], unknown_node["error_subcode"]) == (100, 33)
    assert unknown_edge["code"] == 100 and "error_subcode" not in unknown_edge
    assert no_business["code"] == 100 and "business" in no_business["message"]


def test_simulator_throttles_with_meta_codes_and_usage_headers(state: MetaState, server: RunningServer) -> None:
    state.throttle(80001, eta_minutes=3)
    throttled = graph_get(server, f"{BUSINESS}/owned_pages", access_token=TOKEN)
    after = graph_get(server, f"{BUSINESS}/owned_pages", access_token=TOKEN)

    assert throttled.status_code == 400  # never 429
    assert throttled.json()["error"]["code"] == 80001
    buc = json.loads(throttled.headers["x-business-use-case-usage"])
    assert buc[BUSINESS][0]["estimated_time_to_regain_access"] == 3
    assert json.loads(throttled.headers["x-app-usage"])["call_count"] == 100
    assert after.status_code == 200


def graph_delete(srv: RunningServer, path: str, token: str = DEMO_TOKEN, **params: Any) -> httpx.Response:
    return httpx.delete(f"{srv.url}/v21.0/{path}", params=params, headers={"Authorization": f"Bearer {token}"})


def test_simulator_serves_instagram_assets_partners_and_their_tasks(demo: MetaState,
                                                                    demo_server: RunningServer) -> None:
    assets = graph_get(demo_server, f"{BUSINESS}/owned_instagram_assets", access_token=DEMO_TOKEN,
                       fields="id,ig_user_id,ig_username").json()
    accounts = graph_get(demo_server, f"{BUSINESS}/owned_instagram_accounts", access_token=DEMO_TOKEN,
                         fields="id,username").json()
    people = graph_get(demo_server, f"{INSTAGRAM}/assigned_users", access_token=DEMO_TOKEN, business=BUSINESS,
                       fields="id,tasks").json()
    no_business = graph_get(demo_server, f"{INSTAGRAM}/assigned_users", access_token=DEMO_TOKEN).json()
    partners = graph_get(demo_server, f"{BUSINESS}/agencies", access_token=DEMO_TOKEN).json()
    on_page = graph_get(demo_server, f"{MAIN}/agencies", access_token=demo.page_token(DEMO_TOKEN, MAIN),
                        fields="id,name,permitted_tasks").json()
    on_ig_user = graph_get(demo_server, f"{INSTAGRAM_USER}/agencies", access_token=DEMO_TOKEN).json()
    ig_user_people = graph_get(demo_server, f"{INSTAGRAM_USER}/assigned_users", access_token=DEMO_TOKEN,
                               business=BUSINESS).json()
    partner_edge = graph_get(demo_server, f"{BRIGHTSIDE}/owned_pages", access_token=DEMO_TOKEN).json()
    partner_node = graph_get(demo_server, BRIGHTSIDE, access_token=DEMO_TOKEN).json()

    assert assets["data"] == [{"id": INSTAGRAM, "ig_user_id": INSTAGRAM_USER, "ig_username": "northwindcoffee"}]
    assert accounts["data"] == [{"id": INSTAGRAM_USER, "username": "northwindcoffee"}]
    assert {p["id"]: p["tasks"] for p in people["data"]}[DANA] == ["CONTENT", "COMMUNITY_ACTIVITY", "ANALYZE"]
    assert no_business["error"]["code"] == 100 and "business" in no_business["error"]["message"]
    assert partners["data"] == [{"id": BRIGHTSIDE, "name": "Brightside Agency"},
                                {"id": OLD_PIXEL, "name": "Old Pixel Studio"}]
    assert on_page["data"] == [{"id": BRIGHTSIDE, "name": "Brightside Agency",
                                "permitted_tasks": ["ADVERTISE", "ANALYZE"]}]
    assert on_ig_user["data"] == [{"id": OLD_PIXEL, "name": "Old Pixel Studio"}]  # GET agencies exists on IGUser
    # the SDK has assigned_users on the InstagramBusinessAsset only; the IGUser edge is a switch
    assert ig_user_people["error"]["code"] == 100 and "nonexisting field (assigned_users)" in \
        ig_user_people["error"]["message"]
    assert (partner_edge["error"]["code"], partner_edge["error"]["error_subcode"]) == (100, 33)
    assert partner_node == {"id": BRIGHTSIDE, "name": "Brightside Agency"}
    demo.ig_user_edges = True
    switched = graph_get(demo_server, f"{INSTAGRAM_USER}/assigned_users", access_token=DEMO_TOKEN,
                         business=BUSINESS).json()
    assert len(switched["data"]) == 4


def test_simulator_refuses_removals_the_real_api_would(demo: MetaState, demo_server: RunningServer) -> None:
    demo.add_token("employee-token", can_manage=False)
    not_admin = graph_delete(demo_server, DANA, "employee-token").json()["error"]
    last_admin = graph_delete(demo_server, ALEX).json()["error"]
    unknown_user = graph_delete(demo_server, "399999999999999").json()["error"]
    page_node = graph_delete(demo_server, MAIN).json()["error"]
    main = demo.page_token(DEMO_TOKEN, MAIN)
    assert main is not None
    no_partner = graph_delete(demo_server, f"{MAIN}/agencies", main).json()["error"]
    not_a_business = graph_delete(demo_server, f"{MAIN}/agencies", main, business="123").json()["error"]
    partner_not_on_page = graph_delete(demo_server, f"{MAIN}/agencies", main, business=OLD_PIXEL).json()["error"]
    no_user = graph_delete(demo_server, f"{INSTAGRAM}/assigned_users").json()["error"]
    ig_user_edge = graph_delete(demo_server, f"{INSTAGRAM_USER}/agencies", business=OLD_PIXEL).json()["error"]
    partner_not_manager = graph_delete(demo_server, f"{BUSINESS}/agencies", "employee-token",
                                       business=OLD_PIXEL).json()["error"]

    assert not_admin["code"] == 200 and partner_not_manager["code"] == 200
    assert (last_admin["code"], last_admin["message"]) == (100, LAST_ADMIN_MESSAGE)
    assert last_admin["error_user_title"] == "Can't remove the last admin"
    assert (unknown_user["code"], unknown_user["error_subcode"]) == (100, 33)
    assert (page_node["code"], page_node["error_subcode"]) == (100, 33)
    assert no_partner["code"] == no_user["code"] == not_a_business["code"] == 100
    assert "not have access" in partner_not_on_page["message"]
    assert "nonexisting field (agencies)" in ig_user_edge["message"]
    assert demo.is_member(DANA) and demo.is_member(ALEX) and demo.is_partner(OLD_PIXEL)
    assert demo.has_agency(INSTAGRAM, OLD_PIXEL)
    assert all(c.status == 400 for c in demo.revoke_calls)


def test_simulator_removals_cascade_and_repeat_per_switch(demo: MetaState, demo_server: RunningServer) -> None:
    removed = graph_delete(demo_server, DANA)
    repeat_error = graph_delete(demo_server, DANA).json()["error"]
    demo.repeat_delete = RepeatDelete.success
    repeat_success = graph_delete(demo_server, DANA)
    unlinked = graph_delete(demo_server, f"{BUSINESS}/agencies", business=OLD_PIXEL)
    unlinked_again = graph_delete(demo_server, f"{BUSINESS}/agencies", business=OLD_PIXEL)

    assert removed.json() == repeat_success.json() == unlinked.json() == unlinked_again.json() == {"success": True}
    assert (repeat_error["code"], repeat_error["error_subcode"]) == (100, 33)  # a deleted node is unknown
    assert not demo.is_member(DANA)
    assert not any(demo.is_assigned(a, DANA) for a in (MAIN, CAREERS, INSTAGRAM))  # her assets went with her
    assert not demo.is_partner(OLD_PIXEL)
    assert not demo.has_agency(CAREERS, OLD_PIXEL) and not demo.has_agency(INSTAGRAM, OLD_PIXEL)
    assert demo.has_agency(MAIN, BRIGHTSIDE)


def test_simulator_refusal_fault_comes_after_auth(demo: MetaState, demo_server: RunningServer) -> None:
    demo.refuse(368, at_call=demo.calls + 1)
    refused = graph_delete(demo_server, DANA).json()["error"]
    assert refused["code"] == 368 and "disallowed" in refused["message"]
    assert demo.is_member(DANA)


# -- listing -------------------------------------------------------------------------------------


def test_lists_demo_business_accounts_before_their_grants(demo_server: RunningServer, waits: list[float]) -> None:
    records = list(connector(demo_server, waits, DEMO_TOKEN).list_access())

    assert_accounts_before_grants(records)
    accounts = {r.external_id: r for r in records if isinstance(r, AccountRecord)}
    resources = {r.external_id: r for r in records if isinstance(r, ResourceRecord)}
    by_key = {(g.account_id, g.resource_id): g for g in grants(records)}

    dana = accounts[DANA]
    assert (dana.display_name, dana.email, dana.mfa, dana.kind) == (
        "Dana Leaver", "dana.leaver@example.com", False, AccountKind.human)
    assert accounts[ALEX].mfa is True
    assert accounts[SCHEDULER].kind is AccountKind.system
    assert {r.kind for r in resources.values()} == {"meta_business", "facebook_page", "instagram_account"}
    assert (resources[BUSINESS].kind, resources[BUSINESS].name) == ("meta_business", "Northwind Coffee Roasters")
    assert (resources[INSTAGRAM].kind, resources[INSTAGRAM].name) == ("instagram_account", "Instagram @northwindcoffee")
    assert len([r for r in resources.values() if r.kind == "facebook_page"]) == 3
    assert by_key[(DANA, MAIN)].role == "ANALYZE,CREATE_CONTENT,MANAGE,MODERATE"
    assert by_key[(DANA, MAIN)].level is Level.admin
    assert by_key[("300000000000004", MAIN)].level is Level.read_only
    assert by_key[(SCHEDULER, MAIN)].level is Level.full_publishing
    outsider = next(a for a in accounts.values() if "Taylor Brooks" in a.display_name)
    assert by_key[(outsider.external_id, MAIN)].role == "ADVERTISE,ANALYZE"
    assert by_key[(outsider.external_id, MAIN)].level is Level.full_publishing
    # Instagram: the asset's own task ladder
    assert (by_key[(DANA, INSTAGRAM)].role, by_key[(DANA, INSTAGRAM)].level) == (
        "ANALYZE,COMMUNITY_ACTIVITY,CONTENT", Level.full_publishing)
    assert by_key[(SAM, INSTAGRAM)].level is Level.can_reply
    assert by_key[(SCHEDULER, INSTAGRAM)].level is Level.full_publishing
    # partners: agency accounts with a grant per shared asset, none on the business (they have assets)
    brightside, old_pixel = accounts[f"partner:{BRIGHTSIDE}"], accounts[f"partner:{OLD_PIXEL}"]
    assert (brightside.kind, brightside.display_name) == (AccountKind.agency, "Brightside Agency")
    assert (old_pixel.kind, old_pixel.display_name) == (AccountKind.agency, "Old Pixel Studio")
    assert (by_key[(f"partner:{BRIGHTSIDE}", MAIN)].role, by_key[(f"partner:{BRIGHTSIDE}", MAIN)].level) == (
        "ADVERTISE,ANALYZE", Level.full_publishing)
    assert by_key[(f"partner:{OLD_PIXEL}", CAREERS)].role == "ANALYZE,CREATE_CONTENT"
    assert by_key[(f"partner:{OLD_PIXEL}", INSTAGRAM)].level is Level.full_publishing
    # the business itself: only its ADMIN is listed by default, and the open invitation
    assert [(g.account_id, g.role, g.level) for g in members(records)] == [(ALEX, "ADMIN", Level.admin)]
    [invite] = [g for g in grants(records, BUSINESS) if g.account_id.startswith("invite:")]
    assert (invite.role, accounts[invite.account_id].email) == ("INVITED:EMPLOYEE", "new.hire@example.com")
    riley = next(a for a in accounts.values() if a.display_name == "Riley Quinn (freelancer)")
    assert riley.external_id.startswith("pagerole:")
    assert by_key[(riley.external_id, MAIN)].level is Level.full_publishing
    assert by_key[("300000000000004", CAREERS)].level is Level.admin  # PROFILE_PLUS_FULL_CONTROL
    assert len(by_key) == 22 and waits == []


@pytest.mark.parametrize(("mode", "expected"), [
    ("admins", {(ALEX, "ADMIN", Level.admin)}),
    ("all", {(ALEX, "ADMIN", Level.admin), (DANA, "EMPLOYEE", Level.read_only), (SAM, "EMPLOYEE", Level.read_only),
             ("300000000000004", "EMPLOYEE", Level.read_only), ("300000000000005", "EMPLOYEE", Level.read_only),
             (SCHEDULER, "EMPLOYEE", Level.read_only)}),
    ("none", set()),
])
def test_business_membership_grants_follow_the_chosen_mode(demo_server: RunningServer, waits: list[float],
                                                           mode: str, expected: set[tuple[str, str, Level]]) -> None:
    records = list(connector(demo_server, waits, DEMO_TOKEN, business_membership=mode).list_access())
    assert {(g.account_id, g.role, g.level) for g in members(records)} == expected
    assert_accounts_before_grants(records)


def test_system_user_with_admin_role_holds_admin_on_the_business(state: MetaState, server: RunningServer,
                                                                 waits: list[float]) -> None:
    bot = state.add_system_user("Ads Automation", role="ADMIN")
    records = list(connector(server, waits).list_access())
    assert [(g.account_id, g.role, g.level) for g in grants(records, BUSINESS)] == [(bot.id, "ADMIN", Level.admin)]


def test_a_partner_without_assets_holds_a_grant_on_the_business(state: MetaState, server: RunningServer,
                                                               waits: list[float]) -> None:
    page = seed_big_page(state, 2)
    busy, idle = state.add_partner("Busy Agency"), state.add_partner("Idle Agency")
    state.share(page.id, busy.id, ["CREATE_CONTENT"])

    records = list(connector(server, waits).list_access())

    assert_accounts_before_grants(records)
    partner_grants = {(g.account_id, g.resource_id, g.role, g.level) for g in grants(records)
                      if g.account_id.startswith("partner:")}
    assert partner_grants == {(f"partner:{busy.id}", page.id, "CREATE_CONTENT", Level.full_publishing),
                              (f"partner:{idle.id}", BUSINESS, "PARTNER", Level.read_only)}


def test_partners_can_be_left_out(demo_server: RunningServer, demo: MetaState, waits: list[float]) -> None:
    records = list(connector(demo_server, waits, DEMO_TOKEN, partners=False).list_access())
    assert not [r for r in records if isinstance(r, AccountRecord) and r.kind is AccountKind.agency]
    assert not demo.calls_to("/agencies")


def test_partner_tasks_ladder_and_unreported_tasks() -> None:
    item = {"id": "7", "name": "Agency", "permitted_tasks": ["ANALYZE", "MESSAGES"]}
    assert partner_grant(item, "5", "meta", INSTAGRAM_TASK_LEVELS) == GrantRecord(
        "partner:7", "5", "ANALYZE,MESSAGES", Level.can_reply)
    no_tasks = partner_grant({"id": "7", "name": "Agency"}, "5", "meta")
    assert (no_tasks.role, no_tasks.level) == ("PARTNER", Level.admin)  # never ranked below what it may hold
    with pytest.raises(MalformedResponseError):
        partner_grant({"id": "7", "permitted_tasks": "MANAGE"}, "5", "meta")


def test_instagram_accounts_listing_uses_the_instagram_user_node(demo: MetaState, demo_server: RunningServer,
                                                                 waits: list[float]) -> None:
    """``instagram="accounts"``: the unverified IGUser shape, on a simulator switched to answer it."""
    demo.ig_user_edges = True
    records = list(connector(demo_server, waits, DEMO_TOKEN, instagram="accounts").list_access())

    resource = next(r for r in records if isinstance(r, ResourceRecord) and r.kind == "instagram_account")
    assert (resource.external_id, resource.name) == (INSTAGRAM_USER, "Instagram @northwindcoffee")
    assert {g.account_id for g in grants(records, INSTAGRAM_USER)} == {
        ALEX, DANA, SAM, SCHEDULER, f"partner:{OLD_PIXEL}"}
    assert demo.calls_to("/owned_instagram_accounts") and not demo.calls_to("/owned_instagram_assets")


def test_instagram_accounts_listing_fails_loudly_where_graph_lacks_the_edge(demo_server: RunningServer,
                                                                          waits: list[float]) -> None:
    with pytest.raises(RejectedError) as err:
        list(connector(demo_server, waits, DEMO_TOKEN, instagram="accounts").list_access())
    assert "nonexisting field (assigned_users)" in err.value.detail


# -- each new listing: many pages, throttled on a later page, token dying on a later page ----------


def seed_many(state: MetaState, what: str, n: int = BIG_PAGE_USERS) -> tuple[str, str]:
    """A world where one listing needs three pages; returns (edge path suffix, resource id)."""
    page = seed_big_page(state, 2)
    if what == "instagram_assigned_users":
        account = state.add_instagram_account("big_ig")
        for i in range(n):
            user = state.add_business_user(f"IG User {i:03d}", f"ig{i:03d}@example.com")
            state.assign(account.id, user.id, ["ANALYZE", "MESSAGES"])
        return f"{account.id}/assigned_users", account.id
    if what == "page_agencies":
        for i in range(n):
            state.share(page.id, state.add_partner(f"Agency {i:03d}").id, ["ADVERTISE"])
        return f"{page.id}/agencies", page.id
    if what == "instagram_agencies":
        account = state.add_instagram_account("big_ig")
        for i in range(n):
            state.share(account.id, state.add_partner(f"Agency {i:03d}").id, ["ANALYZE"])
        return f"{account.id}/agencies", account.id
    assert what == "business_agencies"
    for i in range(n):
        state.add_partner(f"Idle Agency {i:03d}")
    return f"{BUSINESS}/agencies", BUSINESS


def second_page_call(state: MetaState, srv: RunningServer, path_suffix: str) -> int:
    """The call number the *next* listing will use for the second page of ``path_suffix``.

    A listing is read-only and deterministic, so a dry run shows where that page falls.
    """
    before = state.calls
    list(connector(srv, []).list_access())
    run = state.requests[before:]
    index = next(i for i, r in enumerate(run) if r.path.endswith(path_suffix) and "after" in r.params)
    return state.calls + index + 1


def listed_by(records: list[AccessRecord], what: str, resource: str) -> list[GrantRecord]:
    """The grants the listing under test produced on ``resource`` (partners' only, for agencies)."""
    partners_only = what.endswith("agencies")
    return [g for g in grants(records, resource) if not partners_only or g.account_id.startswith("partner:")]


NEW_LISTINGS = ["instagram_assigned_users", "page_agencies", "instagram_agencies", "business_agencies"]


@pytest.mark.parametrize("what", NEW_LISTINGS)
def test_new_listings_follow_every_page(state: MetaState, server: RunningServer, waits: list[float],
                                        what: str) -> None:
    path, resource = seed_many(state, what)
    records = list(connector(server, waits).list_access())

    assert_accounts_before_grants(records)
    assert len({g.account_id for g in listed_by(records, what, resource)}) == BIG_PAGE_USERS
    assert len(state.calls_to(path)) == 3 and waits == []


@pytest.mark.parametrize("what", NEW_LISTINGS)
@pytest.mark.parametrize("code", [17, 80001, 80002])
def test_new_listings_throttled_mid_listing_are_retried(state: MetaState, server: RunningServer,
                                                        waits: list[float], what: str, code: int) -> None:
    path, resource = seed_many(state, what)
    call = second_page_call(state, server, path)
    state.throttle(code, at_call=call, eta_minutes=0)

    records = list(connector(server, waits).list_access())

    assert waits == [0.0]
    throttled, retried = state.requests[call - 1], state.requests[call]
    assert throttled.error_code == code and throttled.path.endswith(path)
    assert (retried.path, retried.params["after"]) == (throttled.path, throttled.params["after"])
    assert len(listed_by(records, what, resource)) == BIG_PAGE_USERS


@pytest.mark.parametrize("what", NEW_LISTINGS)
def test_new_listings_with_a_token_expiring_mid_listing_fail(state: MetaState, server: RunningServer,
                                                             waits: list[float], what: str) -> None:
    path, resource = seed_many(state, what)
    call = second_page_call(state, server, path)
    state.expire_token_at(call)
    got: list[AccessRecord] = []

    with pytest.raises(AuthError) as err:
        got.extend(connector(server, waits).list_access())

    assert "expired" in str(err.value) and state.calls == call and waits == []
    assert len(listed_by(got, what, resource)) < BIG_PAGE_USERS


def test_lists_230_assignees_across_three_pages(state: MetaState, server: RunningServer,
                                                waits: list[float]) -> None:
    page = seed_big_page(state)
    records = list(connector(server, waits).list_access())

    page_grants = [g for g in grants(records) if g.resource_id == page.id]
    assert len({g.account_id for g in page_grants}) == BIG_PAGE_USERS
    assert len(state.calls_to(f"{page.id}/assigned_users")) == 3
    assert len(state.calls_to("/business_users")) == 3
    assert all(r.params["limit"] == "100" for r in state.calls_to("/assigned_users"))


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001])
def test_throttle_mid_listing_is_retried_and_listing_completes(state: MetaState, server: RunningServer,
                                                                 waits: list[float], code: int) -> None:
    page = seed_big_page(state)
    state.throttle(code, at_call=CALL_SECOND_GRANT_PAGE, eta_minutes=0)

    records = list(connector(server, waits).list_access())

    assert waits == [0.0]
    assert len([g for g in grants(records) if g.resource_id == page.id]) == BIG_PAGE_USERS
    throttled, retried = state.requests[CALL_SECOND_GRANT_PAGE - 1], state.requests[CALL_SECOND_GRANT_PAGE]
    assert throttled.error_code == code
    assert (retried.path, retried.params["after"]) == (throttled.path, throttled.params["after"])


def test_throttle_wait_comes_from_estimated_time_to_regain_access(state: MetaState, server: RunningServer,
                                                                  waits: list[float]) -> None:
    seed_big_page(state, 3)
    state.throttle(80001, at_call=2, eta_minutes=1)
    assert any(isinstance(r, GrantRecord) for r in connector(server, waits).list_access())
    assert waits == [60.0]


def test_rate_limit_window_is_waited_out_on_the_simulator_clock(state: MetaState, server: RunningServer) -> None:
    seed_big_page(state)
    state.set_rate_limit(3, window_seconds=60)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        state.clock.advance(seconds)

    records = list(connector(server, [], sleep=sleep).list_access())

    assert len(grants(records)) - len(grants(records, BUSINESS)) == BIG_PAGE_USERS
    assert slept and all(s == 60.0 for s in slept)  # one minute, as estimated_time_to_regain_access said


def test_persistent_throttling_fails_the_source(state: MetaState, server: RunningServer,
                                                waits: list[float]) -> None:
    seed_big_page(state, 3)
    state.throttle(17, at_call=2, times=50)
    with pytest.raises(TransientError) as err:
        list(connector(server, waits, max_attempts=3).list_access())
    assert "17" in str(err.value) and len(waits) == 2


def test_expired_token_mid_listing_raises_auth_error(state: MetaState, server: RunningServer,
                                                     waits: list[float]) -> None:
    seed_big_page(state)
    state.expire_token_at(CALL_SECOND_GRANT_PAGE)
    got: list[AccessRecord] = []

    with pytest.raises(AuthError) as err:
        got.extend(connector(server, waits).list_access())

    assert "expired" in str(err.value) and "not an empty listing" in str(err.value)
    assert "Session has expired" in err.value.detail
    assert state.calls == CALL_SECOND_GRANT_PAGE  # no retry on a dead token
    assert len(grants(got)) == 1 + 100 and waits == []  # a partial listing, ended by the error


def test_token_dying_on_the_clock_between_pages_stops_the_listing(state: MetaState, server: RunningServer,
                                                                  waits: list[float]) -> None:
    state.tokens.clear()
    state.add_token(TOKEN, ttl_seconds=3600)
    seed_big_page(state)
    # read_ahead=False: the listing must still be between pages when the clock moves on
    listing = connector(server, waits, read_ahead=False).list_access()
    first = [next(listing) for _ in range(150)]  # 150 of 230 people: a second page was fetched
    state.clock.advance(3601)

    with pytest.raises(AuthError):
        list(listing)
    assert all(not isinstance(r, GrantRecord) or r.resource_id == BUSINESS for r in first)


def test_revoked_token_is_an_auth_error_not_an_empty_business(state: MetaState, server: RunningServer,
                                                              waits: list[float]) -> None:
    seed_big_page(state, 3)
    state.revoke_token(TOKEN, subcode=460)
    with pytest.raises(AuthError) as err:
        list(connector(server, waits).list_access())
    assert "password changed" in str(err.value)


@pytest.mark.parametrize("kind", [FaultKind.html, FaultKind.redirect, FaultKind.no_data])
@pytest.mark.parametrize("at_call", [1, CALL_SECOND_GRANT_PAGE])
def test_non_json_redirect_or_missing_data_fails_the_source(state: MetaState, server: RunningServer,
                                                            waits: list[float], kind: FaultKind,
                                                            at_call: int) -> None:
    seed_big_page(state)
    state.inject(kind, at_call=at_call)
    got: list[AccessRecord] = []

    with pytest.raises(MalformedResponseError):
        got.extend(connector(server, waits).list_access())

    assert len(grants(got)) < BIG_PAGE_USERS and waits == []  # never "complete", never retried
    assert state.calls == at_call  # stopped at the bad answer


def test_server_error_is_retried_then_fails_the_source(state: MetaState, server: RunningServer,
                                                       waits: list[float]) -> None:
    page = seed_big_page(state, 3)
    state.fail_server(at_call=2)
    assert len(grants(list(connector(server, waits).list_access()), page.id)) == 3
    assert len(waits) == 1

    state.fail_server(times=50)
    with pytest.raises(TransientError):
        list(connector(server, waits, max_attempts=2, backoff=0).list_access())


def test_unknown_business_is_a_stop_error(server: RunningServer, waits: list[float]) -> None:
    bad = MetaBusinessConnector("meta-test", f"{server.url}/v21.0", "123456789", TOKEN, sleep=waits.append)
    with pytest.raises(StopError) as err:
        list(bad.list_access())
    assert "123456789" in str(err.value)


def test_token_never_reaches_logs_or_errors(state: MetaState, server: RunningServer, waits: list[float],
                                           caplog: pytest.LogCaptureFixture) -> None:
    seed_big_page(state, 7)
    raw = graph_get(server, f"{BUSINESS}/business_users", access_token=TOKEN, limit=2).json()
    assert TOKEN in raw["paging"]["next"]  # the simulator does put it in next links, like Graph
    caplog.set_level(logging.DEBUG)
    state.throttle(4, at_call=state.calls + 3)
    state.expire_token_at(state.calls + 6)

    with pytest.raises(AuthError) as err:
        list(connector(server, waits, page_size=2).list_access())

    assert waits == [0.0] and "HTTP Request" in caplog.text  # httpx did log its URLs
    assert TOKEN not in caplog.text
    assert TOKEN not in str(err.value) and TOKEN not in err.value.detail
    assert TOKEN not in repr(connector(server, waits))


def test_next_link_to_another_origin_is_refused() -> None:
    base = "https://graph.facebook.com/v21.0"
    ours = {"paging": {"next": f"{base}/1/assigned_users?after=x&access_token=t"}}
    theirs = {"paging": {"next": "https://evil.example/v21.0/1/assigned_users?after=x"}}

    assert next_page_link(ours, base, "meta") == f"{base}/1/assigned_users?after=x"
    assert next_page_link({"data": []}, base, "meta") is None
    with pytest.raises(MalformedResponseError):
        next_page_link(theirs, base, "meta")


def test_task_levels_and_two_factor_mapping() -> None:
    assert role_and_level(["MODERATE", "MESSAGING"]) == ("MESSAGING,MODERATE", Level.can_reply)
    assert role_and_level(["ANALYZE", "ADVERTISE"]) == ("ADVERTISE,ANALYZE", Level.full_publishing)
    assert role_and_level(["ANALYZE", "SOMETHING_NEW"]) == ("ANALYZE,SOMETHING_NEW", Level.admin)  # unknown: high
    assert role_and_level(["PAGES_MESSAGING", "MANAGE"])[1] is Level.admin
    assert (mfa_from_two_fac("enabled"), mfa_from_two_fac("not_enabled")) == (True, False)
    assert mfa_from_two_fac("something_else") is None and mfa_from_two_fac(None) is None


# -- revoking ------------------------------------------------------------------------------------


def ref(account: str, page: str) -> GrantRef:
    return GrantRef(account_id=account, resource_id=page, role="MANAGE", resource_kind="facebook_page")


def test_revoke_removes_the_user_and_sends_exactly_the_previewed_request(
    demo: MetaState, demo_server: RunningServer, waits: list[float],
) -> None:
    meta = connector(demo_server, waits, DEMO_TOKEN)
    preview = meta.preview_revoke(ref(DANA, MAIN))

    result = meta.revoke(ref(DANA, MAIN))

    assert result.outcome is RevokeOutcome.done
    assert not demo.is_assigned(MAIN, DANA) and demo.is_assigned("200000000000002", DANA)
    [call] = demo.revoke_calls
    assert (call.method, call.path, call.status) == ("DELETE", f"/v21.0/{MAIN}/assigned_users", 200)
    assert call.params == preview.params == {"user": DANA, "business": BUSINESS}
    assert preview.method == "DELETE" and preview.url == f"{demo_server.url}/v21.0/{MAIN}/assigned_users"
    assert DEMO_TOKEN not in preview.render()


@pytest.mark.parametrize("repeat", [RepeatDelete.success, RepeatDelete.error])
def test_revoking_an_already_removed_user_is_already_gone(demo: MetaState, demo_server: RunningServer,
                                                          waits: list[float], repeat: RepeatDelete) -> None:
    demo.repeat_delete = repeat
    meta = connector(demo_server, waits, DEMO_TOKEN)
    assert meta.revoke(ref(DANA, MAIN)).outcome is RevokeOutcome.done

    again = meta.revoke(ref(DANA, MAIN))

    assert again.outcome is RevokeOutcome.already_gone
    assert len(demo.revoke_calls) == 1  # the page was read first; nothing was sent twice


@pytest.mark.parametrize("repeat", [RepeatDelete.success, RepeatDelete.error])
def test_removal_racing_another_admin_is_not_an_error(demo: MetaState, demo_server: RunningServer,
                                                      waits: list[float], repeat: RepeatDelete) -> None:
    """Someone removes Dana between our read and our DELETE: Meta's answer decides the outcome."""
    demo.repeat_delete = repeat

    def remove_behind_our_back(response: httpx.Response) -> None:
        asks_page_token = "access_token" in response.request.url.params.get("fields", "")
        if response.request.method == "GET" and not asks_page_token and demo.is_assigned(MAIN, DANA):
            demo.unassign(MAIN, DANA)

    result = connector(demo_server, waits, DEMO_TOKEN, on_response=remove_behind_our_back).revoke(ref(DANA, MAIN))

    expected = RevokeOutcome.done if repeat is RepeatDelete.success else RevokeOutcome.already_gone
    assert result.outcome is expected
    assert demo.revoke_calls[0].error_code == (None if repeat is RepeatDelete.success else 100)
    assert not demo.is_assigned(MAIN, DANA)


def test_removing_the_last_admin_is_rejected_with_metas_message(demo: MetaState, demo_server: RunningServer,
                                                                waits: list[float]) -> None:
    with pytest.raises(RejectedError) as err:
        connector(demo_server, waits, DEMO_TOKEN).revoke(ref(SAM, SHOP))

    assert "only one with the MANAGE task" in str(err.value)
    assert "only one with the MANAGE task" in err.value.detail
    assert demo.is_assigned(SHOP, SAM)
    assert demo.revoke_calls[0].error_code == 100


def test_revoke_with_a_dead_token_is_an_auth_error_not_already_gone(demo: MetaState,
                                                                    demo_server: RunningServer,
                                                                    waits: list[float]) -> None:
    demo.expire_token()
    with pytest.raises(AuthError):
        connector(demo_server, waits, DEMO_TOKEN).revoke(ref(DANA, MAIN))
    assert demo.is_assigned(MAIN, DANA) and demo.revoke_calls == []


def test_revoke_without_manage_permission_is_an_auth_error(demo: MetaState, demo_server: RunningServer,
                                                           waits: list[float]) -> None:
    demo.add_token("read-only-token", can_manage=False)
    with pytest.raises(AuthError) as err:
        connector(demo_server, waits, "read-only-token").revoke(ref(DANA, MAIN))
    assert "(code 200)" in str(err.value)
    assert demo.is_assigned(MAIN, DANA) and demo.revoke_calls[0].error_code == 200


def test_revoke_on_a_page_that_cannot_be_read_is_never_already_gone(demo_server: RunningServer,
                                                                   waits: list[float]) -> None:
    with pytest.raises(RejectedError) as err:
        connector(demo_server, waits, DEMO_TOKEN).revoke(ref(DANA, "299999999999999"))
    assert "no Page access token" in str(err.value) and "MANAGE" in str(err.value)


def test_revoke_refuses_grants_it_does_not_handle(demo: MetaState, demo_server: RunningServer,
                                                 waits: list[float]) -> None:
    meta = connector(demo_server, waits, DEMO_TOKEN)
    with pytest.raises(StopError):
        meta.revoke(GrantRef(DANA, "act_123", "ADMIN", resource_kind="ad_account"))
    with pytest.raises(RejectedError):
        meta.preview_revoke(ref("3000/../../me", MAIN))
    with pytest.raises(RejectedError):
        meta.preview_revoke(ref(DANA, ".."))
    with pytest.raises(RejectedError):  # an agency account must be partner:<business id>
        meta.preview_revoke(GrantRef(BRIGHTSIDE, MAIN, "ADVERTISE", "facebook_page", AccountKind.agency))
    with pytest.raises(RejectedError) as err:  # another business's membership is not ours to remove
        meta.revoke(GrantRef(DANA, "100000000000999", "EMPLOYEE", "meta_business"))
    assert "100000000000999" in str(err.value)
    assert demo.revoke_calls == []


# -- revoking: Instagram assignments, partners, business membership ------------------------------


@dataclass(frozen=True)
class Case:
    """One kind of revocation on the demo business, and how to see or cause its effect."""

    name: str
    grant: GrantRef
    path: str
    params: dict[str, str]
    present: Callable[[MetaState], bool]
    remove: Callable[[MetaState], object]  # what another admin does behind our back
    options: dict[str, Any] | None = None  # connector options the revocation needs

    def connect(self, srv: RunningServer, waits: list[float], token: str = DEMO_TOKEN,
                **http: Any) -> MetaBusinessConnector:
        return connector(srv, waits, token, **(self.options or {}), **http)

    @property
    def calls_before_delete(self) -> int:
        """The read before the DELETE, and on a Page first its Page token."""
        return 2 if self.grant.resource_kind == "facebook_page" else 1


CASES = [
    Case("instagram_assignment",
         GrantRef(DANA, INSTAGRAM, "ANALYZE,COMMUNITY_ACTIVITY,CONTENT", "instagram_account"),
         f"{INSTAGRAM}/assigned_users", {"user": DANA, "business": BUSINESS},
         lambda st: st.is_assigned(INSTAGRAM, DANA), lambda st: st.unassign(INSTAGRAM, DANA)),
    Case("page_partner",
         GrantRef(f"partner:{BRIGHTSIDE}", MAIN, "ADVERTISE,ANALYZE", "facebook_page", AccountKind.agency),
         f"{MAIN}/agencies", {"business": BRIGHTSIDE},
         lambda st: st.has_agency(MAIN, BRIGHTSIDE), lambda st: st.remove_agency(MAIN, BRIGHTSIDE)),
    Case("instagram_partner",
         GrantRef(f"partner:{OLD_PIXEL}", INSTAGRAM, "ANALYZE,CONTENT", "instagram_account", AccountKind.agency),
         f"{INSTAGRAM}/agencies", {"business": OLD_PIXEL},
         lambda st: st.has_agency(INSTAGRAM, OLD_PIXEL), lambda st: st.remove_agency(INSTAGRAM, OLD_PIXEL)),
    Case("business_member",
         GrantRef(DANA, BUSINESS, "EMPLOYEE", "meta_business"),
         DANA, {},
         lambda st: st.is_member(DANA), lambda st: st.remove_from_business(DANA)),
    Case("business_partner",
         GrantRef(f"partner:{OLD_PIXEL}", BUSINESS, "PARTNER", "meta_business", AccountKind.agency),
         f"{BUSINESS}/agencies", {"business": OLD_PIXEL},
         lambda st: st.is_partner(OLD_PIXEL), lambda st: st.remove_partner(OLD_PIXEL),
         {"remove_partnerships": True}),
]
CASE_IDS = [c.name for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_new_revocations_send_exactly_the_previewed_request(demo: MetaState, demo_server: RunningServer,
                                                            waits: list[float], case: Case) -> None:
    meta = case.connect(demo_server, waits)
    preview = meta.preview_revoke(case.grant)

    result = meta.revoke(case.grant)

    assert result.outcome is RevokeOutcome.done, result
    assert not case.present(demo)
    [call] = demo.revoke_calls
    assert (call.method, call.path, call.status) == ("DELETE", f"/v21.0/{case.path}", 200)
    assert call.params == preview.params == case.params
    assert (preview.method, preview.url) == ("DELETE", f"{demo_server.url}/v21.0/{case.path}")
    assert DEMO_TOKEN not in preview.render()


@pytest.mark.parametrize("repeat", [RepeatDelete.success, RepeatDelete.error])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_new_revocations_of_what_is_already_gone(demo: MetaState, demo_server: RunningServer, waits: list[float],
                                                 case: Case, repeat: RepeatDelete) -> None:
    demo.repeat_delete = repeat
    meta = case.connect(demo_server, waits)
    assert meta.revoke(case.grant).outcome is RevokeOutcome.done

    again = meta.revoke(case.grant)

    assert again.outcome is RevokeOutcome.already_gone
    assert len(demo.revoke_calls) == 1  # read first; nothing was sent twice


@pytest.mark.parametrize("repeat", [RepeatDelete.success, RepeatDelete.error])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_new_revocations_racing_another_admin(demo: MetaState, demo_server: RunningServer, waits: list[float],
                                              case: Case, repeat: RepeatDelete) -> None:
    """Someone removes it between our read and our DELETE: Meta's answer decides the outcome."""
    demo.repeat_delete = repeat

    def remove_behind_our_back(response: httpx.Response) -> None:
        asks_page_token = "access_token" in response.request.url.params.get("fields", "")
        if response.request.method == "GET" and not asks_page_token and case.present(demo):
            case.remove(demo)

    result = case.connect(demo_server, waits, on_response=remove_behind_our_back).revoke(case.grant)

    expected = RevokeOutcome.done if repeat is RepeatDelete.success else RevokeOutcome.already_gone
    assert result.outcome is expected
    assert demo.revoke_calls[0].error_code == (None if repeat is RepeatDelete.success else 100)
    assert not case.present(demo)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_new_revocations_refused_keep_metas_message(demo: MetaState, demo_server: RunningServer,
                                                    waits: list[float], case: Case) -> None:
    demo.refuse(368, "(#368) Removing access is temporarily blocked for this business",
                at_call=demo.calls + case.calls_before_delete + 1)

    with pytest.raises(RejectedError) as err:
        case.connect(demo_server, waits).revoke(case.grant)

    assert "temporarily blocked" in str(err.value) and "temporarily blocked" in err.value.detail
    assert case.present(demo)
    assert [c.error_code for c in demo.revoke_calls] == [368]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_new_revocations_with_an_expired_token_are_auth_errors(demo: MetaState, demo_server: RunningServer,
                                                               waits: list[float], case: Case) -> None:
    demo.expire_token()
    with pytest.raises(AuthError) as err:
        case.connect(demo_server, waits).revoke(case.grant)
    assert "expired" in str(err.value)
    assert case.present(demo) and demo.revoke_calls == []


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_new_revocations_without_manage_permission_are_auth_errors(demo: MetaState, demo_server: RunningServer,
                                                                   waits: list[float], case: Case) -> None:
    demo.add_token("read-only-token", can_manage=False)
    with pytest.raises(AuthError) as err:
        case.connect(demo_server, waits, "read-only-token").revoke(case.grant)
    assert "(code 200)" in str(err.value)
    assert case.present(demo) and demo.revoke_calls[0].error_code == 200


def test_removing_the_last_business_admin_is_rejected_with_metas_message(demo: MetaState,
                                                                        demo_server: RunningServer,
                                                                        waits: list[float]) -> None:
    with pytest.raises(RejectedError) as err:
        connector(demo_server, waits, DEMO_TOKEN).revoke(GrantRef(ALEX, BUSINESS, "ADMIN", "meta_business"))

    assert "only admin of this business" in str(err.value) and "only admin" in err.value.detail
    assert demo.is_member(ALEX) and demo.is_assigned(MAIN, ALEX)
    assert [c.error_code for c in demo.revoke_calls] == [100]


def test_removing_a_person_from_the_business_ends_their_asset_grants(demo: MetaState,
                                                                    demo_server: RunningServer,
                                                                    waits: list[float]) -> None:
    meta = connector(demo_server, waits, DEMO_TOKEN)
    assert meta.revoke(GrantRef(DANA, BUSINESS, "EMPLOYEE", "meta_business")).outcome is RevokeOutcome.done

    page = meta.revoke(ref(DANA, MAIN))
    instagram = meta.revoke(GrantRef(DANA, INSTAGRAM, "CONTENT", "instagram_account"))

    assert page.outcome is instagram.outcome is RevokeOutcome.already_gone
    assert [c.path for c in demo.revoke_calls] == [f"/v21.0/{DANA}"]


def test_system_users_leave_the_business_only_when_asked(demo: MetaState, demo_server: RunningServer,
                                                         waits: list[float]) -> None:
    grant = GrantRef(SCHEDULER, BUSINESS, "EMPLOYEE", "meta_business", AccountKind.system)
    default = connector(demo_server, waits, DEMO_TOKEN)
    assert default.preview_revoke(grant).url.endswith(f"/v21.0/{SCHEDULER}")

    with pytest.raises(RejectedError) as err:
        default.revoke(grant)
    assert "remove_system_users" in str(err.value)
    assert demo.is_member(SCHEDULER) and demo.revoke_calls == []

    asked = connector(demo_server, waits, DEMO_TOKEN, remove_system_users=True)
    assert asked.revoke(grant).outcome is RevokeOutcome.done
    assert not demo.is_member(SCHEDULER) and not demo.is_assigned(MAIN, SCHEDULER)
    # a system user's page assignment is removed like anyone's, without the switch
    other = demo.add_system_user("Other Bot")
    demo.assign(MAIN, other.id, ["ANALYZE"])
    system_on_page = GrantRef(other.id, MAIN, "ANALYZE", "facebook_page", AccountKind.system)
    assert default.revoke(system_on_page).outcome is RevokeOutcome.done


def test_business_member_whose_business_is_invisible_is_never_already_gone(demo: MetaState,
                                                                          demo_server: RunningServer,
                                                                          waits: list[float]) -> None:
    """The member's node is unknown *and* the business cannot be read: a stop, not "already gone"."""
    other = MetaBusinessConnector("meta-test", f"{demo_server.url}/v21.0", "100000000000999", DEMO_TOKEN,
                                  sleep=waits.append)
    with pytest.raises(StopError):
        other.revoke(GrantRef("399999999999999", "100000000000999", "EMPLOYEE", "meta_business"))
    assert demo.revoke_calls == []


# -- the loopback server helper ------------------------------------------------------------------


def test_running_server_stops_and_frees_its_port() -> None:
    srv = start_app(create_app(demo_state()))
    assert srv.url.startswith("http://127.0.0.1:") and srv.running
    assert httpx.get(f"{srv.url}/v21.0/{BUSINESS}", params={"access_token": DEMO_TOKEN}).status_code == 200

    srv.stop()

    assert not srv.running
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=1)
