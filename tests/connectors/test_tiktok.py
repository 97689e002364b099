"""The TikTok Business Center connector against its simulator on a loopback port, and the simulator itself.

One server serves the whole module; each test installs a fresh ``TikTokState`` in it. TikTok
answers HTTP 200 with a ``code`` even for errors, so the simulator is tested first: one that
answered errors with HTTP statuses would let a connector that ignores ``code`` pass.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from accessward.connectors.errors import AuthError, MalformedResponseError, RejectedError, StopError, TransientError
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
from accessward.connectors.tiktok import (
    TikTokBusinessCenterConnector,
    TikTokRejectedError,
    classify_tiktok,
    member_role_and_level,
)
from accessward.sandbox.server import RunningServer, start_app
from accessward.sandbox.tiktok import create_app, demo_state
from accessward.sandbox.tiktok_state import (
    API_PREFIX,
    DEMO_BC_ID,
    DEMO_TOKEN,
    DEMO_TT_ACCOUNT_ID,
    EXPIRED_CODES,
    UNKNOWN_MEMBER_CODES,
    BusinessCenter,
    FaultKind,
    TikTokState,
)

TOKEN = "act.test-S3cr3t-tiktok-token"
BC_ID = "7100000000000000777"
ADMIN_ID = "7300000000000000900"
ALEX, DANA = "7300000000000000001", "7300000000000000002"
PRIYA, SAM = "7300000000000000004", "7300000000000000003"
INVITE = "invite:new.hire@example.com"
TT = "tt_account:" + DEMO_TT_ACCOUNT_ID
PARTNER = "partner:7100000000000000099"
MEMBERS, PARTNERS = 45, 100
# A listing of the big BC: /bc/get/ (1), members at 20 a page (2, 3, 4), partners at 50 a page (5, 6): two
# full partner pages, so only page_info.total_page says the second is the last.
CALL_SECOND_MEMBER_PAGE = 3


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app() -> Starlette:
    return create_app(TikTokState())


@pytest.fixture(scope="module")
def server(app: Starlette) -> Iterator[RunningServer]:
    with start_app(app) as srv:
        yield srv


@pytest.fixture
def state(app: Starlette) -> TikTokState:
    st = TikTokState()
    bc = st.add_business_center("Test BC", bc_id=BC_ID)
    st.add_member(bc, "BC Admin", "bc.admin@example.com", role="ADMIN", user_id=ADMIN_ID)
    st.add_token(TOKEN, ADMIN_ID)
    app.state.tiktok = st
    return st


@pytest.fixture
def demo(app: Starlette) -> TikTokState:
    st = demo_state()
    app.state.tiktok = st
    return st


@pytest.fixture
def waits() -> list[float]:
    return []


def connector(srv: RunningServer, waits: list[float], token: str = TOKEN, bc_id: str = BC_ID,
              **http: Any) -> TikTokBusinessCenterConnector:
    http.setdefault("sleep", waits.append)
    return TikTokBusinessCenterConnector("tiktok-test", f"{srv.url}{API_PREFIX}", bc_id, token, **http)


def demo_connector(srv: RunningServer, waits: list[float], **http: Any) -> TikTokBusinessCenterConnector:
    return connector(srv, waits, DEMO_TOKEN, DEMO_BC_ID, **http)


def seed_big_bc(st: TikTokState, members: int = MEMBERS, partners: int = PARTNERS) -> BusinessCenter:
    """``members`` members in all (the admin plus STANDARD ones, a few pending) and ``partners`` partners."""
    bc = st.business_centers[BC_ID]
    for i in range(members - 1):
        if i % 10 == 9:
            st.add_invite(bc, f"invitee{i:03d}@example.com")
        else:
            st.add_member(bc, f"User {i:03d}", f"user{i:03d}@example.com", advertiser_role="ANALYST")
    st.add_invite(bc, "declined@example.com", status="REJECTED")
    for i in range(partners):
        st.add_partner(bc, f"Agency {i:03d}")
    return bc


def grants(records: list[AccessRecord]) -> list[GrantRecord]:
    return [r for r in records if isinstance(r, GrantRecord)]


def api(srv: RunningServer, path: str, token: str | None = TOKEN, **params: Any) -> httpx.Response:
    headers = {"Access-Token": token} if token is not None else {}
    return httpx.get(f"{srv.url}{API_PREFIX}{path}", params=params, headers=headers)


def post(srv: RunningServer, path: str, body: dict[str, Any], token: str = TOKEN) -> httpx.Response:
    return httpx.post(f"{srv.url}{API_PREFIX}{path}", json=body, headers={"Access-Token": token})


def ref(account: str, bc_id: str = DEMO_BC_ID) -> GrantRef:
    return GrantRef(account_id=account, resource_id=bc_id, role="ADMIN", resource_kind="tiktok_business_center")


# -- the simulator itself ------------------------------------------------------------------------


@pytest.mark.parametrize("expired_code", EXPIRED_CODES)
def test_simulator_answers_token_errors_with_http_200_and_a_code(state: TikTokState, server: RunningServer,
                                                                 expired_code: int) -> None:
    state.expired_code = expired_code
    state.add_token("short", ADMIN_ID, ttl_seconds=60)
    state.clock.advance(61)
    answers = [api(server, "/bc/member/get/", token, bc_id=BC_ID)
               for token in (None, "not-a-token", "short", TOKEN)]

    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    codes = [a.json()["code"] for a in answers]
    assert codes == [40104, 40105, expired_code, 0]
    assert "expired" in answers[2].json()["message"]
    assert all(set(a.json()) >= {"code", "message", "request_id"} for a in answers)
    assert answers[3].json()["data"]["list"][0]["user_id"] == ADMIN_ID


def test_simulator_pages_members_and_enforces_page_size(state: TikTokState, server: RunningServer) -> None:
    seed_big_bc(state)
    first = api(server, "/bc/member/get/", bc_id=BC_ID, page=1, page_size=20).json()["data"]
    last = api(server, "/bc/member/get/", bc_id=BC_ID, page=3, page_size=20).json()["data"]
    too_big = api(server, "/bc/member/get/", bc_id=BC_ID, page_size=21).json()
    pending = api(server, "/bc/member/get/", bc_id=BC_ID, page_size=20,
                  filtering=json.dumps({"relation_status": "PENDING"})).json()["data"]
    bad_filter = api(server, "/bc/member/get/", bc_id=BC_ID, filtering="{not json").json()
    partners = api(server, "/bc/partner/get/", bc_id=BC_ID, page=2, page_size=50).json()["data"]

    assert first["page_info"] == {"page": 1, "page_size": 20, "total_number": MEMBERS + 1, "total_page": 3}
    assert len(first["list"]) == 20 and len(last["list"]) == 6
    assert too_big["code"] == 40002 and "page_size" in too_big["message"]
    assert {row["relation_status"] for row in pending["list"]} == {"PENDING"} and len(pending["list"]) == 4
    assert all("user_id" not in row for row in pending["list"])
    assert bad_filter["code"] == 40002
    assert len(partners["list"]) == 50 and set(partners["list"][0]) == {"bc_id", "bc_name"}


@pytest.mark.parametrize("unknown_code", UNKNOWN_MEMBER_CODES)
def test_simulator_member_delete_rules(demo: TikTokState, server: RunningServer, unknown_code: int) -> None:
    demo.unknown_member_code = unknown_code
    demo.add_token("standard-token", PRIYA)
    bc = {"bc_id": DEMO_BC_ID}

    by_standard = post(server, "/bc/member/delete/", {**bc, "user_id": DANA}, "standard-token").json()
    both = post(server, "/bc/member/delete/", {**bc, "user_id": DANA, "user_email": "x@example.com"},
                DEMO_TOKEN).json()
    by_email_of_member = post(server, "/bc/member/delete/", {**bc, "user_email": "dana.leaver@example.com"},
                              DEMO_TOKEN).json()
    removed = post(server, "/bc/member/delete/", {**bc, "user_id": DANA}, DEMO_TOKEN).json()
    again = post(server, "/bc/member/delete/", {**bc, "user_id": DANA}, DEMO_TOKEN).json()
    invite = post(server, "/bc/member/delete/", {**bc, "user_email": "NEW.HIRE@example.com"}, DEMO_TOKEN).json()
    last_admin = post(server, "/bc/member/delete/", {**bc, "user_id": ALEX}, DEMO_TOKEN).json()
    partner = post(server, "/bc/partner/delete/", {**bc, "partner_id": "7100000000000000099"}, DEMO_TOKEN).json()
    partner_again = post(server, "/bc/partner/delete/", {**bc, "partner_id": "7100000000000000099"},
                         DEMO_TOKEN).json()
    wrong_method = httpx.get(f"{server.url}{API_PREFIX}/bc/member/delete/", headers={"Access-Token": DEMO_TOKEN})

    assert by_standard["code"] == 40001 and both["code"] == 40002
    assert by_email_of_member["code"] == unknown_code  # only invitations are cancelled by email
    assert removed["code"] == invite["code"] == partner["code"] == 0
    assert again["code"] == partner_again["code"] == unknown_code
    assert last_admin["code"] == 40002 and "only admin" in last_admin["message"]
    assert not demo.is_member(DEMO_BC_ID, DANA) and demo.is_member(DEMO_BC_ID, ALEX)
    assert not demo.has_invite(DEMO_BC_ID, "new.hire@example.com")
    assert wrong_method.status_code == 405
    assert [w.code for w in demo.writes] == [40001, 40002, unknown_code, 0, unknown_code, 0, 40002, 0, unknown_code]


def test_simulator_throttles_with_code_40100_and_404s_unknown_paths(state: TikTokState,
                                                                    server: RunningServer) -> None:
    state.throttle()
    throttled = api(server, "/bc/get/")
    after = api(server, "/bc/get/")
    unknown = httpx.get(f"{server.url}/open_api/v1.2/bc/get/", headers={"Access-Token": TOKEN})

    assert throttled.status_code == 200 and throttled.json()["code"] == 40100
    assert after.json()["code"] == 0 and after.json()["data"]["list"][0]["bc_info"]["bc_id"] == BC_ID
    assert unknown.status_code == 404 and "json" not in unknown.headers["content-type"]


# -- listing -------------------------------------------------------------------------------------


def test_lists_the_demo_business_center(demo: TikTokState, server: RunningServer, waits: list[float]) -> None:
    records = list(demo_connector(server, waits).list_access())

    assert records[0] == ResourceRecord(DEMO_BC_ID, "tiktok_business_center", "Northwind Coffee Roasters")
    seen: set[str] = set()
    for record in records:
        if isinstance(record, GrantRecord):
            assert record.account_id in seen and record.resource_id in seen
        else:
            seen.add(record.external_id)
    accounts = {r.external_id: r for r in records if isinstance(r, AccountRecord)}
    assert accounts[DANA] == AccountRecord(DANA, AccountKind.human, "Dana Leaver", "dana.leaver@example.com",
                                           "dana.leaver@example.com")
    assert accounts[PARTNER].kind is AccountKind.agency and accounts[PARTNER].display_name == "Brightside Agency"
    assert accounts[INVITE].email == "new.hire@example.com"
    by_account = {g.account_id: (g.role, g.level) for g in grants(records) if g.resource_id == DEMO_BC_ID}
    assert by_account == {
        ALEX: ("ADMIN,advertiser:ADMIN,finance:MANAGER", Level.admin),
        DANA: ("ADMIN,advertiser:ADMIN", Level.admin),
        PRIYA: ("STANDARD,advertiser:ANALYST", Level.read_only),
        SAM: ("STANDARD,advertiser:OPERATOR,catalog:AD_PROMOTE", Level.full_publishing),
        INVITE: ("STANDARD,relation:PENDING", Level.read_only),
        PARTNER: ("PARTNER", Level.full_publishing),
    }  # the declined invitation is not there
    account = ResourceRecord(TT, "tiktok_account", "@northwindcoffee")
    assert account in records
    holders = {g.account_id: (g.role, g.level) for g in grants(records) if g.resource_id == TT}
    assert holders == {  # who can post as the brand: not visible in the member list
        ALEX: ("TT_ACCOUNT:DIRECT_MESSAGE+LIVE+POST", Level.full_publishing),
        SAM: ("TT_ACCOUNT:POST", Level.full_publishing),
        PARTNER: ("PARTNER:TT_ACCOUNT:POST", Level.full_publishing),
    }
    assert waits == []


def test_member_roles_and_levels() -> None:
    def level(**row: Any) -> tuple[str, Level]:
        return member_role_and_level({"relation_status": "BOUND", **row}, "tiktok")

    assert level(user_role="ADMIN") == ("ADMIN", Level.admin)
    assert level(user_role="STANDARD") == ("STANDARD", Level.read_only)
    assert level(user_role="STANDARD", advertiser_role="ADMIN")[1] is Level.full_publishing
    assert level(user_role="STANDARD", advertiser_role="OPERATOR")[1] is Level.full_publishing
    assert level(user_role="STANDARD", advertiser_role="ANALYST", catalog_role="ADMIN") == (
        "STANDARD,advertiser:ANALYST,catalog:ADMIN", Level.read_only)
    assert level(user_role="STANDARD", ext_user_role={"finance_role": "MANAGER"}) == (
        "STANDARD,finance:MANAGER", Level.read_only)
    pending_admin = member_role_and_level({"relation_status": "PENDING", "user_role": "ADMIN"}, "tiktok")
    assert pending_admin == ("ADMIN,relation:PENDING", Level.full_publishing)  # never counted as an admin
    with pytest.raises(MalformedResponseError):
        level(advertiser_role="ADMIN")


def test_lists_members_and_partners_across_pages(state: TikTokState, server: RunningServer,
                                                 waits: list[float]) -> None:
    seed_big_bc(state)

    records = list(connector(server, waits).list_access())

    assert len(grants(records)) == MEMBERS + PARTNERS
    assert len([g for g in grants(records) if g.role.endswith("relation:PENDING")]) == 4
    members = state.calls_to("/bc/member/get/")
    partners = state.calls_to("/bc/partner/get/")
    assert [(c.params["page"], c.params["page_size"]) for c in members] == [("1", "20"), ("2", "20"), ("3", "20")]
    assert [c.params["page"] for c in partners] == ["1", "2"] and partners[0].params["page_size"] == "50"
    assert len(state.requests) == 7  # no third, empty partner page: total_page said 2; then the TikTok accounts
    assert state.requests[-1].path == "/bc/asset/admin/get/" and state.requests[-1].params["asset_type"] == "TT_ACCOUNT"


@pytest.mark.parametrize("kind", [FaultKind.throttle, FaultKind.internal_error, FaultKind.gateway_error])
def test_throttling_or_internal_errors_mid_listing_are_retried(state: TikTokState, server: RunningServer,
                                                               waits: list[float], kind: FaultKind) -> None:
    seed_big_bc(state)
    state.inject(kind, at_call=CALL_SECOND_MEMBER_PAGE)

    records = list(connector(server, waits).list_access())

    assert len(grants(records)) == MEMBERS + PARTNERS
    assert len(waits) == 1 and 0.5 <= waits[0] <= 0.625  # the client's backoff: TikTok gives no hint
    failed, retried = state.requests[CALL_SECOND_MEMBER_PAGE - 1], state.requests[CALL_SECOND_MEMBER_PAGE]
    assert failed.http_status == (503 if kind is FaultKind.gateway_error else 200)
    assert retried.code == 0 and retried.params["page"] == failed.params["page"] == "2"


def test_qps_limit_is_waited_out_on_the_simulator_clock(state: TikTokState, server: RunningServer) -> None:
    seed_big_bc(state)
    state.set_rate_limit(2, window_seconds=1.0)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        state.clock.advance(seconds)

    records = list(connector(server, [], sleep=sleep).list_access())

    assert len(grants(records)) == MEMBERS + PARTNERS
    assert slept and any(c.code == 40100 for c in state.requests)


def test_persistent_throttling_fails_the_source(state: TikTokState, server: RunningServer,
                                                waits: list[float]) -> None:
    state.throttle(at_call=2, times=50)
    with pytest.raises(TransientError) as err:
        list(connector(server, waits, max_attempts=3).list_access())
    assert err.value.code == 40100 and len(waits) == 2


@pytest.mark.parametrize("expired_code", EXPIRED_CODES)
def test_expired_token_mid_listing_raises_auth_error(state: TikTokState, server: RunningServer,
                                                     waits: list[float], expired_code: int) -> None:
    state.expired_code = expired_code
    seed_big_bc(state)
    state.expire_token_at(CALL_SECOND_MEMBER_PAGE)
    got: list[AccessRecord] = []

    with pytest.raises(AuthError) as err:
        got.extend(connector(server, waits).list_access())

    assert err.value.code == expired_code and "not an empty listing" in str(err.value)
    assert "expired" in err.value.detail
    assert state.calls == CALL_SECOND_MEMBER_PAGE and waits == []  # never retried
    assert len(grants(got)) == 20  # a partial listing, ended by the error


def test_revoked_token_is_an_auth_error_not_an_empty_business_center(state: TikTokState, server: RunningServer,
                                                                     waits: list[float]) -> None:
    state.revoke_token(TOKEN)
    with pytest.raises(AuthError) as err:
        list(connector(server, waits).list_access())
    assert err.value.code == 40105


@pytest.mark.parametrize(("kind", "at_call"), [
    (FaultKind.html, 1), (FaultKind.html, CALL_SECOND_MEMBER_PAGE), (FaultKind.no_data, CALL_SECOND_MEMBER_PAGE),
    (FaultKind.no_list, CALL_SECOND_MEMBER_PAGE), (FaultKind.no_list, 5),
])
def test_non_json_or_incomplete_answers_fail_the_source(state: TikTokState, server: RunningServer,
                                                        waits: list[float], kind: FaultKind, at_call: int) -> None:
    seed_big_bc(state)
    state.inject(kind, at_call=at_call)
    got: list[AccessRecord] = []

    with pytest.raises(MalformedResponseError):
        got.extend(connector(server, waits).list_access())

    assert len(grants(got)) < MEMBERS + PARTNERS and waits == []
    assert state.calls == at_call


def _response(status: int, body: Any = None, text: str = "") -> httpx.Response:
    request = httpx.Request("GET", "https://business-api.tiktok.com/open_api/v1.3/bc/member/get/")
    if body is not None:
        return httpx.Response(status, json=body, request=request)
    return httpx.Response(status, text=text, headers={"content-type": "text/html"}, request=request)


def test_classification_of_tiktok_answers() -> None:
    def kind(code: int) -> type | None:
        error = classify_tiktok(_response(200, {"code": code, "message": "m", "request_id": "r", "data": {}}))
        return type(error) if error is not None else None

    assert kind(0) is None
    assert kind(40100) is TransientError and kind(50000) is TransientError
    # by meaning, not by range: 40132 sits among the 401xx auth codes but is throttling
    assert kind(40132) is kind(61000) is kind(60001) is TransientError
    assert kind(40003) is AuthError  # FORBIDDEN: an authorisation problem, not one refused request
    assert kind(40101) is kind(40102) is kind(40104) is kind(40105) is AuthError
    assert kind(40001) is AuthError and kind(40002) is TikTokRejectedError
    assert isinstance(classify_tiktok(_response(200, {"message": "no code"})), MalformedResponseError)
    assert isinstance(classify_tiktok(_response(200, {"code": "0"})), MalformedResponseError)
    assert classify_tiktok(_response(200, text="<html>")) is None  # expect_json_object reports it
    assert isinstance(classify_tiktok(_response(503, text="<html>")), TransientError)
    assert isinstance(classify_tiktok(_response(404, text="404 page not found")), StopError)
    assert isinstance(classify_tiktok(_response(400, text="bad")), MalformedResponseError)


def test_invisible_business_center_or_wrong_base_url_is_a_stop_error(state: TikTokState, server: RunningServer,
                                                                      waits: list[float]) -> None:
    with pytest.raises(StopError) as invisible:
        list(connector(server, waits, bc_id="7100000000000000000").list_access())
    wrong = TikTokBusinessCenterConnector("tiktok-test", f"{server.url}/open_api/v1.2", BC_ID, TOKEN,
                                          sleep=waits.append)
    with pytest.raises(StopError) as path:
        list(wrong.list_access())

    assert "7100000000000000000" in str(invisible.value) and path.value.status == 404


def test_token_never_reaches_logs_errors_or_previews(state: TikTokState, server: RunningServer,
                                                    waits: list[float], caplog: pytest.LogCaptureFixture) -> None:
    seed_big_bc(state)
    caplog.set_level(logging.DEBUG)
    state.throttle(at_call=2)
    state.expire_token_at(4)
    tt = connector(server, waits)

    with pytest.raises(AuthError) as err:
        list(tt.list_access())

    assert len(waits) == 1 and "HTTP Request" in caplog.text
    assert TOKEN not in caplog.text and TOKEN not in str(err.value) and TOKEN not in err.value.detail
    assert TOKEN not in repr(tt) and TOKEN not in tt.preview_revoke(ref(ADMIN_ID, BC_ID)).render()


# -- revoking ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("account", "path", "field", "value"), [
    (DANA, "/bc/member/delete/", "user_id", DANA),
    (INVITE, "/bc/member/delete/", "user_email", "new.hire@example.com"),
    (PARTNER, "/bc/partner/delete/", "partner_id", "7100000000000000099"),
])
def test_revoke_removes_and_sends_exactly_the_previewed_request(demo: TikTokState, server: RunningServer,
                                                                 waits: list[float], account: str, path: str,
                                                                 field: str, value: str) -> None:
    tt = demo_connector(server, waits)
    preview = tt.preview_revoke(ref(account))

    result = tt.revoke(ref(account))

    assert result.outcome is RevokeOutcome.done
    [write] = demo.writes
    assert (write.path, write.code) == (path, 0)
    assert write.body == {"bc_id": DEMO_BC_ID, field: value}
    assert preview.body is not None and json.loads(preview.body) == write.body
    assert (preview.method, preview.url) == ("POST", f"{server.url}{API_PREFIX}{path}")
    assert DEMO_TOKEN not in preview.render()
    assert not {DANA: lambda: demo.is_member(DEMO_BC_ID, DANA),
                INVITE: lambda: demo.has_invite(DEMO_BC_ID, "new.hire@example.com"),
                PARTNER: lambda: demo.is_partner(DEMO_BC_ID, "7100000000000000099")}[account]()
    assert demo.is_member(DEMO_BC_ID, ALEX) and demo.is_member(DEMO_BC_ID, SAM)


@pytest.mark.parametrize("unknown_code", UNKNOWN_MEMBER_CODES)
@pytest.mark.parametrize("account", [DANA, INVITE, PARTNER])
def test_revoking_again_is_already_gone(demo: TikTokState, server: RunningServer, waits: list[float],
                                        unknown_code: int, account: str) -> None:
    demo.unknown_member_code = unknown_code
    tt = demo_connector(server, waits)
    assert tt.revoke(ref(account)).outcome is RevokeOutcome.done

    again = tt.revoke(ref(account))

    assert again.outcome is RevokeOutcome.already_gone
    assert len(demo.writes) == 1  # the list was read first; nothing was sent twice


@pytest.mark.parametrize("unknown_code", UNKNOWN_MEMBER_CODES)
@pytest.mark.parametrize("account", [DANA, PARTNER])
def test_removal_racing_another_admin_is_already_gone(demo: TikTokState, server: RunningServer,
                                                      waits: list[float], unknown_code: int, account: str) -> None:
    """Someone removes the account between our read and our POST: TikTok's non-zero code is re-checked."""
    demo.unknown_member_code = unknown_code
    bc = demo.business_centers[DEMO_BC_ID]

    def remove_behind_our_back(response: httpx.Response) -> None:
        if response.request.method == "GET":
            bc.members[:] = [m for m in bc.members if m.user_id != DANA]
            bc.partners.clear()

    result = demo_connector(server, waits, on_response=remove_behind_our_back).revoke(ref(account))

    assert result.outcome is RevokeOutcome.already_gone
    assert demo.writes[0].code == unknown_code


def test_removing_the_last_admin_is_rejected_with_tiktoks_message(demo: TikTokState, server: RunningServer,
                                                                  waits: list[float]) -> None:
    tt = demo_connector(server, waits)
    assert tt.revoke(ref(DANA)).outcome is RevokeOutcome.done

    with pytest.raises(RejectedError) as err:
        tt.revoke(ref(ALEX))

    assert "only admin" in str(err.value) and "only admin" in err.value.detail
    assert err.value.code == 40002 and demo.is_member(DEMO_BC_ID, ALEX)
    assert [w.code for w in demo.writes] == [0, 40002]


def test_revoke_by_a_standard_member_is_an_auth_error(demo: TikTokState, server: RunningServer,
                                                      waits: list[float]) -> None:
    demo.add_token("standard-token", PRIYA)
    with pytest.raises(AuthError) as err:
        connector(server, waits, "standard-token", DEMO_BC_ID).revoke(ref(DANA))
    assert err.value.code == 40001 and demo.writes[0].code == 40001
    assert demo.is_member(DEMO_BC_ID, DANA)


def test_revoke_with_a_dead_token_is_an_auth_error_not_already_gone(demo: TikTokState, server: RunningServer,
                                                                    waits: list[float]) -> None:
    demo.expire_token()
    with pytest.raises(AuthError):
        demo_connector(server, waits).revoke(ref(DANA))
    assert demo.writes == [] and demo.is_member(DEMO_BC_ID, DANA)


def test_revoke_refuses_grants_it_does_not_handle(demo: TikTokState, server: RunningServer,
                                                  waits: list[float]) -> None:
    tt = demo_connector(server, waits)
    with pytest.raises(StopError):
        tt.revoke(ref(DANA, bc_id="7100000000000000002"))
    with pytest.raises(StopError):
        tt.revoke(GrantRef(DANA, DEMO_BC_ID, "ADMIN", resource_kind="tiktok_advertiser"))
    for bad in ("urn:li:person:x", "partner:abc", "invite:not-an-email", "73000/../1"):
        with pytest.raises(RejectedError):
            tt.preview_revoke(ref(bad))
    assert demo.requests == []
