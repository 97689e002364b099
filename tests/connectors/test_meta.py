"""The Meta connector against the Graph simulator on a loopback port, and the simulator itself.

The simulator is tested first: one that accepted any token or ignored ``limit`` would let a
broken connector pass every other test here.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.errors import AuthError, MalformedResponseError, RejectedError, StopError, TransientError
from connectors.meta import MetaBusinessConnector, mfa_from_two_fac, next_page_link, role_and_level
from connectors.records import (
    AccessRecord,
    AccountKind,
    AccountRecord,
    GrantRecord,
    GrantRef,
    Level,
    ResourceRecord,
    RevokeOutcome,
)
from sandbox.meta import DEMO_TOKEN, MetaState, RepeatDelete, create_app, demo_state
from sandbox.meta_state import FaultKind, Page
from sandbox.server import RunningServer, start_app

TOKEN = "EAAtest-S3cr3t-token-value"
BUSINESS = "100000000000001"
MAIN, SHOP = "200000000000001", "200000000000003"
DANA, SAM = "300000000000002", "300000000000003"
BIG_PAGE_USERS = 230

# Calls made by a listing of the "big" state: business_users takes 3 pages (230 people at
# limit 100), then system_users (4), owned_pages (5), the big page's assigned_users (6, 7, 8).
CALL_SECOND_GRANT_PAGE = 7


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


def grants(records: list[AccessRecord]) -> list[GrantRecord]:
    return [r for r in records if isinstance(r, GrantRecord)]


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
    body = graph_get(server, path, access_token=TOKEN, business=BUSINESS, limit=100, summary="total_count").json()
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
    default = graph_get(server, path, access_token=TOKEN, business=BUSINESS).json()
    capped = graph_get(server, path, access_token=TOKEN, business=BUSINESS, limit=500).json()
    assert len(default["data"]) == 25 and len(capped["data"]) == 100
    assert set(default["data"][0]) == {"id", "name"}  # fields must be asked for


def test_simulator_errors_for_unknown_nodes_edges_and_missing_business(state: MetaState,
                                                                       server: RunningServer) -> None:
    page = seed_big_page(state, 2)
    unknown_node = graph_get(server, "999999/assigned_users", access_token=TOKEN).json()["error"]
    unknown_edge = graph_get(server, f"{page.id}/nonsense", access_token=TOKEN).json()["error"]
    no_business = graph_get(server, f"{page.id}/assigned_users", access_token=TOKEN).json()["error"]

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


# -- listing -------------------------------------------------------------------------------------


def test_lists_demo_business_accounts_before_their_grants(demo_server: RunningServer, waits: list[float]) -> None:
    records = list(connector(demo_server, waits, DEMO_TOKEN).list_access())

    seen: set[str] = set()
    for record in records:
        if isinstance(record, GrantRecord):
            assert record.account_id in seen and record.resource_id in seen
        else:
            seen.add(record.external_id)
    accounts = {r.external_id: r for r in records if isinstance(r, AccountRecord)}
    pages = [r for r in records if isinstance(r, ResourceRecord)]
    by_key = {(g.account_id, g.resource_id): g for g in grants(records)}

    dana = accounts[DANA]
    assert (dana.display_name, dana.email, dana.mfa, dana.kind) == (
        "Dana Leaver", "dana.leaver@example.com", False, AccountKind.human)
    assert accounts["300000000000001"].mfa is True
    assert accounts["400000000000001"].kind is AccountKind.system
    assert {p.kind for p in pages} == {"facebook_page"} and len(pages) == 3
    assert by_key[(DANA, MAIN)].role == "ANALYZE,CREATE_CONTENT,MANAGE,MODERATE"
    assert by_key[(DANA, MAIN)].level is Level.admin
    assert by_key[("300000000000004", MAIN)].level is Level.read_only
    assert by_key[("400000000000001", MAIN)].level is Level.full_publishing
    outsider = next(a for a in accounts.values() if "Brightside" in a.display_name)
    assert by_key[(outsider.external_id, MAIN)].role == "ADVERTISE,ANALYZE"
    assert by_key[(outsider.external_id, MAIN)].level is Level.full_publishing
    assert len(by_key) == 11 and waits == []


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

    assert len(grants(records)) == BIG_PAGE_USERS
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
    assert len(grants(got)) == 100 and waits == []  # a partial listing, ended by the error


def test_token_dying_on_the_clock_between_pages_stops_the_listing(state: MetaState, server: RunningServer,
                                                                  waits: list[float]) -> None:
    state.tokens.clear()
    state.add_token(TOKEN, ttl_seconds=3600)
    seed_big_page(state)
    listing = connector(server, waits).list_access()
    first = [next(listing) for _ in range(150)]  # 150 of 230 people: a second page was fetched
    state.clock.advance(3601)

    with pytest.raises(AuthError):
        list(listing)
    assert all(isinstance(r, AccountRecord) for r in first)


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
    seed_big_page(state, 3)
    state.fail_server(at_call=2)
    assert len(grants(list(connector(server, waits).list_access()))) == 3
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
    assert role_and_level(["ANALYZE", "SOMETHING_NEW"]) == ("ANALYZE,SOMETHING_NEW", Level.read_only)
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
        if response.request.method == "GET" and demo.is_assigned(MAIN, DANA):
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
    assert "cannot confirm" in str(err.value)


def test_revoke_refuses_grants_it_does_not_handle(demo_server: RunningServer, waits: list[float]) -> None:
    meta = connector(demo_server, waits, DEMO_TOKEN)
    with pytest.raises(StopError):
        meta.revoke(GrantRef(DANA, "17841400000000000", "ADMIN", resource_kind="instagram_account"))
    with pytest.raises(RejectedError):
        meta.preview_revoke(ref("3000/../../me", MAIN))


# -- the loopback server helper ------------------------------------------------------------------


def test_running_server_stops_and_frees_its_port() -> None:
    srv = start_app(create_app(demo_state()))
    assert srv.url.startswith("http://127.0.0.1:") and srv.running
    assert httpx.get(f"{srv.url}/v21.0/{BUSINESS}", params={"access_token": DEMO_TOKEN}).status_code == 200

    srv.stop()

    assert not srv.running
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=1)
