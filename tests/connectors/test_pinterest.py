"""The Pinterest connector against the business-access simulator on a loopback port, and the simulator.

The simulator is tested first: one that accepted any token, any page size or any DELETE body
would let a broken connector pass every other test here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from accessward.connectors.errors import AuthError, MalformedResponseError, RejectedError, StopError, TransientError
from accessward.connectors.pinterest import (
    BUSINESS_KIND,
    PinterestBusinessConnector,
    grant_role_and_level,
    rate_limit_wait,
)
from accessward.connectors.protocols import Reducer, WideRevoker
from accessward.connectors.records import (
    AccessRecord,
    AccountKind,
    AccountRecord,
    GrantRecord,
    GrantRef,
    Level,
    ResourceRecord,
    RevocationScope,
    RevokeOutcome,
)
from accessward.sandbox.pinterest import (
    DEMO_BUSINESS_ID,
    DEMO_TOKEN,
    LAST_ADMIN_MESSAGE,
    READ_SCOPE,
    BookmarkEnd,
    FaultKind,
    LastAdmin,
    PinterestState,
    RepeatMemberDelete,
    create_app,
    demo_state,
)
from accessward.sandbox.server import RunningServer, start_app

TOKEN = "pina_S3cr3t-test-token-value"
BUSINESS = "549755800001"
ALEX, DANA, SAM, PRIYA, JORDAN = (f"140900000000000{i}" for i in range(1, 6))
SCHEDULER = "1409000000000009"
BRIGHTSIDE, OLD_PIXEL, BEANERY = "5497000000000011", "5497000000000012", "5497000000000013"
BIG = 600  # members: three pages at page_size 250


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def state() -> PinterestState:
    st = PinterestState(BUSINESS, "Test Business")
    st.add_token(TOKEN)
    return st


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[Starlette, RunningServer]]:
    """One simulator process for the module; each test points it at its own fresh state."""
    app = create_app(PinterestState(BUSINESS))
    with start_app(app) as srv:
        yield app, srv


@pytest.fixture
def server(shared: tuple[Starlette, RunningServer], state: PinterestState) -> RunningServer:
    shared[0].state.pinterest = state
    return shared[1]


@pytest.fixture
def demo() -> PinterestState:
    return demo_state()


@pytest.fixture
def demo_server(shared: tuple[Starlette, RunningServer], demo: PinterestState) -> RunningServer:
    shared[0].state.pinterest = demo
    return shared[1]


@pytest.fixture
def waits() -> list[float]:
    return []


def connector(srv: RunningServer, waits: list[float], token: str = TOKEN, business: str = BUSINESS,
              **kw: Any) -> PinterestBusinessConnector:
    kw.setdefault("sleep", waits.append)
    return PinterestBusinessConnector("pinterest-test", f"{srv.url}/v5", business, token, **kw)


def demo_connector(srv: RunningServer, waits: list[float], **kw: Any) -> PinterestBusinessConnector:
    return connector(srv, waits, DEMO_TOKEN, DEMO_BUSINESS_ID, business_name="Northwind Coffee Roasters", **kw)


def seed_members(state: PinterestState, n: int = BIG) -> None:
    profile = state.add_asset("profiles")
    state.add_member("admin", "admin@example.com", role="BIZ_ADMIN")
    for i in range(n - 1):
        state.add_member(f"user{i:03d}", f"user{i:03d}@example.com", assets={profile: ["ANALYST"]})


def grants(records: list[AccessRecord]) -> list[GrantRecord]:
    return [r for r in records if isinstance(r, GrantRecord)]


def api(srv: RunningServer, method: str, path: str, token: str | None = TOKEN, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.request(method, f"{srv.url}/v5/businesses/{BUSINESS}/{path}", headers=headers, **kw)


def ref(account: str, kind: AccountKind = AccountKind.human, role: str = "EMPLOYEE",
        business: str = DEMO_BUSINESS_ID) -> GrantRef:
    return GrantRef(account_id=account, resource_id=business, role=role, resource_kind=BUSINESS_KIND,
                    account_kind=kind)


# -- the simulator itself ------------------------------------------------------------------------


def test_simulator_refuses_missing_unknown_and_expired_tokens(state: PinterestState, server: RunningServer) -> None:
    missing = api(server, "GET", "members", token=None)
    unknown = api(server, "GET", "members", token="not-a-token")
    ok = api(server, "GET", "members")
    state.expire_token(TOKEN)
    expired = api(server, "GET", "members")

    assert ok.status_code == 200 and ok.json() == {"items": [], "bookmark": None}
    for answer in (missing, unknown, expired):
        assert answer.status_code == 401
        assert set(answer.json()) == {"code", "message"} and isinstance(answer.json()["code"], int)


def test_simulator_needs_the_write_scope_and_an_admin_to_delete(state: PinterestState,
                                                                server: RunningServer) -> None:
    member = state.add_member("someone", "someone@example.com")
    state.add_token("read-only", scopes=frozenset({READ_SCOPE}))
    state.add_token("not-admin", is_admin=False)
    body = {"members": [{"member_id": member.id, "business_role": "EMPLOYEE"}]}

    assert api(server, "GET", "members", token="read-only").status_code == 200
    assert api(server, "DELETE", "members", token="read-only", json=body).status_code == 403
    assert api(server, "DELETE", "members", token="not-admin", json=body).status_code == 403
    assert state.is_member(member.id)


def test_simulator_pages_with_bookmarks_and_caps_page_size(state: PinterestState, server: RunningServer) -> None:
    seed_members(state, 260)
    first = api(server, "GET", "members", params={"page_size": 250}).json()
    last = api(server, "GET", "members", params={"page_size": 250, "bookmark": first["bookmark"]}).json()
    default = api(server, "GET", "members").json()
    too_big = api(server, "GET", "members", params={"page_size": 251})
    foreign = api(server, "GET", "members", params={"page_size": 250, "bookmark": first["bookmark"],
                                                    "fetch_system_users": "true"})

    assert (len(first["items"]), len(last["items"]), len(default["items"])) == (250, 10, 25)
    assert last["bookmark"] is None and first["bookmark"]
    assert too_big.status_code == 400 and "250" in too_big.json()["message"]
    assert foreign.status_code == 400  # a bookmark serves only the query it was issued for
    binding = first["items"][0]
    assert set(binding) >= {"id", "business_roles", "user", "created_time"} and "assets_summary" not in binding
    summary = api(server, "GET", "members", params={"assets_summary": "true", "page_size": 1}).json()
    assert set(summary["items"][0]["assets_summary"]) == {"ad_accounts", "profiles"}


def test_simulator_enforces_delete_bodies(demo: PinterestState, demo_server: RunningServer) -> None:
    def delete(path: str, body: Any) -> httpx.Response:
        return httpx.request("DELETE", f"{demo_server.url}/v5/businesses/{DEMO_BUSINESS_ID}/{path}",
                             headers={"Authorization": f"Bearer {DEMO_TOKEN}"}, json=body)

    no_members = delete("members", {"members": []})
    too_many = delete("members", {"members": [{"member_id": str(i), "business_role": "EMPLOYEE"} for i in range(51)]})
    bad_role = delete("members", {"members": [{"member_id": DANA, "business_role": "PARTNER"}]})
    no_type = delete("partners", {"partner_ids": [BRIGHTSIDE]})
    wrong_type = delete("partners", {"partner_ids": [BRIGHTSIDE, BEANERY], "partner_type": "INTERNAL"})
    unknown = delete("partners", {"partner_ids": ["1234"], "partner_type": "INTERNAL"})
    too_many_partners = delete("partners", {"partner_ids": [str(i) for i in range(51)], "partner_type": "INTERNAL"})

    assert [r.status_code for r in (no_members, too_many, bad_role, no_type, too_many_partners)] == [400] * 5
    assert wrong_type.status_code == unknown.status_code == 404  # one partner_type per call
    assert "1234" in unknown.json()["message"]
    assert demo.is_partner(BRIGHTSIDE) and demo.is_partner(BEANERY) and demo.is_member(DANA)
    ok = delete("partners", {"partner_ids": [BRIGHTSIDE], "partner_type": "INTERNAL"})
    assert ok.json() == {"deleted_partners": [BRIGHTSIDE]} and not demo.is_partner(BRIGHTSIDE)
    assert [w.body for w in demo.writes][-1] == {"partner_ids": [BRIGHTSIDE], "partner_type": "INTERNAL"}


def test_simulator_throttles_with_429_and_retry_after(state: PinterestState, server: RunningServer) -> None:
    state.throttle(retry_after=3)
    throttled = api(server, "GET", "members")
    after = api(server, "GET", "members")
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "3"
    assert set(throttled.json()) == {"code", "message"}
    assert after.status_code == 200


# -- listing -------------------------------------------------------------------------------------


def test_lists_the_demo_business_with_levels_from_asset_permissions(demo_server: RunningServer,
                                                                    waits: list[float]) -> None:
    records = list(demo_connector(demo_server, waits).list_access())

    assert records[0] == ResourceRecord(DEMO_BUSINESS_ID, BUSINESS_KIND, "Northwind Coffee Roasters")
    seen: set[str] = set()
    for record in records:
        if isinstance(record, GrantRecord):
            assert record.account_id in seen and record.resource_id in seen
        else:
            seen.add(record.external_id)
    accounts = {r.external_id: r for r in records if isinstance(r, AccountRecord)}
    by_account = {g.account_id: g for g in grants(records)}

    assert accounts[DANA] == AccountRecord(DANA, AccountKind.human, "danaleaver", "danaleaver",
                                           "dana.leaver@example.com")
    assert accounts[SCHEDULER].kind is AccountKind.system and accounts[SCHEDULER].email is None
    assert accounts[BRIGHTSIDE].kind is AccountKind.agency
    assert BEANERY not in accounts  # EXTERNAL: we reach its assets, it does not reach ours
    levels = {a: (g.role, g.level) for a, g in by_account.items()}
    assert levels == {
        ALEX: ("BIZ_ADMIN[ADMIN]", Level.admin),
        DANA: ("EMPLOYEE[ANALYST,PROFILE_PUBLISHER]", Level.full_publishing),
        SAM: ("EMPLOYEE[CAMPAIGN_MANAGER]", Level.full_publishing),
        PRIYA: ("EMPLOYEE[ANALYST,FINANCE_VIEW]", Level.read_only),
        JORDAN: ("EMPLOYEE", Level.read_only),
        SCHEDULER: ("EMPLOYEE[PROFILE_PUBLISHER]", Level.full_publishing),
        BRIGHTSIDE: ("PARTNER[CAMPAIGN_MANAGER,PROFILE_PUBLISHER]", Level.full_publishing),
        OLD_PIXEL: ("PARTNER[ANALYST]", Level.read_only),
    }
    assert {g.resource_id for g in by_account.values()} == {DEMO_BUSINESS_ID} and waits == []


@pytest.mark.parametrize("end", list(BookmarkEnd))
def test_lists_600_members_across_three_pages(state: PinterestState, server: RunningServer,
                                              waits: list[float], end: BookmarkEnd) -> None:
    state.bookmark_end = end
    seed_members(state)
    records = list(connector(server, waits, page_size=250, include_partners=False).list_access())

    assert len({g.account_id for g in grants(records)}) == BIG
    calls = state.calls_to("/members")
    people = [c for c in calls if c.params["fetch_system_users"] == "false"]
    assert len(people) == 3 and all(c.params["page_size"] == "250" for c in calls)
    assert "bookmark" not in people[0].params and people[1].params["bookmark"] != people[2].params["bookmark"]


@pytest.mark.parametrize(("retry_after", "reset", "expected"), [(0, None, 0.0), (None, 7, 7.0), (2, 9, 2.0)])
def test_throttle_mid_listing_is_waited_out_and_listing_completes(
    state: PinterestState, server: RunningServer, waits: list[float], retry_after: float | None,
    reset: int | None, expected: float,
) -> None:
    seed_members(state)
    state.throttle(at_call=2, retry_after=retry_after, reset_seconds=reset)

    records = list(connector(server, waits, page_size=250).list_access())

    assert waits == [expected]
    assert len(grants(records)) == BIG
    throttled, retried = state.requests[1], state.requests[2]
    assert throttled.status == 429 and retried.status == 200
    assert throttled.params == retried.params  # the same page (same bookmark) asked again


def test_throttle_without_any_header_backs_off(state: PinterestState, server: RunningServer,
                                               waits: list[float]) -> None:
    seed_members(state, 3)
    state.throttle(at_call=1, retry_after=None)
    assert len(grants(list(connector(server, waits, backoff=0.25).list_access()))) == 3
    assert len(waits) == 1 and 0.25 <= waits[0] <= 0.32


def test_persistent_throttling_fails_the_source(state: PinterestState, server: RunningServer,
                                                waits: list[float]) -> None:
    seed_members(state, 3)
    state.throttle(at_call=1, times=50)
    with pytest.raises(TransientError) as err:
        list(connector(server, waits, max_attempts=3).list_access())
    assert err.value.status == 429 and len(waits) == 2


def test_expired_token_mid_listing_raises_auth_error(state: PinterestState, server: RunningServer,
                                                     waits: list[float]) -> None:
    seed_members(state)
    state.expire_token_at(2)
    got: list[AccessRecord] = []

    with pytest.raises(AuthError) as err:
        got.extend(connector(server, waits, page_size=250).list_access())

    assert "not an empty listing" in str(err.value) and err.value.status == 401
    assert err.value.detail == "Authentication failed."
    assert state.calls == 2 and waits == []  # never retried
    assert len(grants(got)) == 250  # a partial listing, ended by the error


def test_token_dying_on_the_clock_between_pages_stops_the_listing(state: PinterestState, server: RunningServer,
                                                                  waits: list[float]) -> None:
    state.tokens.clear()
    state.add_token(TOKEN, ttl_seconds=3600)
    seed_members(state)
    listing = connector(server, waits, page_size=250).list_access()
    first = [next(listing) for _ in range(300)]
    state.clock.advance(3601)
    with pytest.raises(AuthError):
        list(listing)
    assert isinstance(first[0], ResourceRecord)


@pytest.mark.parametrize("kind", [FaultKind.html, FaultKind.redirect, FaultKind.no_items])
@pytest.mark.parametrize("at_call", [1, 2])
def test_non_json_redirect_or_missing_items_fails_the_source(state: PinterestState, server: RunningServer,
                                                             waits: list[float], kind: FaultKind,
                                                             at_call: int) -> None:
    seed_members(state)
    state.inject(kind, at_call=at_call)
    got: list[AccessRecord] = []
    with pytest.raises(MalformedResponseError):
        got.extend(connector(server, waits, page_size=250).list_access())
    assert len(grants(got)) < BIG and waits == [] and state.calls == at_call


def test_server_error_is_retried(state: PinterestState, server: RunningServer, waits: list[float]) -> None:
    seed_members(state, 3)
    state.inject(FaultKind.server_error, at_call=1)
    assert len(grants(list(connector(server, waits).list_access()))) == 3
    assert len(waits) == 1 and state.requests[0].status == 503


def test_unknown_business_is_a_stop_error_and_bad_settings_fail_early(server: RunningServer,
                                                                      waits: list[float]) -> None:
    with pytest.raises(StopError) as err:
        list(connector(server, waits, business="123456").list_access())
    assert "123456" in str(err.value)
    with pytest.raises(StopError):
        connector(server, waits, page_size=251)
    with pytest.raises(StopError):
        connector(server, waits, business="Northwind Coffee")


def scripted(pages: list[Any]) -> Callable[..., PinterestBusinessConnector]:
    """A connector whose every GET answers the next of ``pages`` (JSON), without a server."""
    answers = iter(pages)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=next(answers))

    def make(**kw: Any) -> PinterestBusinessConnector:
        kw.setdefault("include_system_users", False)
        kw.setdefault("include_partners", False)
        return PinterestBusinessConnector("pinterest-test", "https://api.pinterest.test/v5", BUSINESS, TOKEN,
                                          transport=httpx.MockTransport(handler), **kw)
    return make


def binding(member_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": member_id, "business_roles": ["EMPLOYEE"], "user": {"id": member_id, "username": "u"}, **extra}


def test_repeated_bookmark_is_malformed_not_the_end() -> None:
    pages = [{"items": [binding("1")], "bookmark": "b1"}, {"items": [binding("2")], "bookmark": "b1"}]
    with pytest.raises(MalformedResponseError) as err:
        list(scripted(pages)().list_access())
    assert "bookmark" in str(err.value)


@pytest.mark.parametrize("page", [
    {"items": [{"business_roles": ["EMPLOYEE"], "user": {}}], "bookmark": None},  # no id anywhere
    {"items": [binding("1", business_roles="EMPLOYEE")], "bookmark": None},  # roles not a list
    {"items": [binding("1", assets_summary=[])], "bookmark": None},
    {"items": [binding("1")], "bookmark": 17},
    {"items": [binding("../../me")], "bookmark": None},
    {"items": {"1": binding("1")}, "bookmark": None},
])
def test_malformed_bindings_fail_the_source(page: dict[str, Any]) -> None:
    with pytest.raises(MalformedResponseError):
        list(scripted([page])().list_access())


def test_member_without_assets_summary_is_assumed_to_publish() -> None:
    pages = [{"items": [binding("1"), binding("2", assets_summary={"profiles": [], "ad_accounts": None})]}]
    levels = {g.account_id: g.level for g in grants(list(scripted(pages)().list_access()))}
    assert levels == {"1": Level.full_publishing, "2": Level.read_only}


def test_a_shared_partner_in_the_internal_listing_is_not_access_to_our_brand() -> None:
    partner = {"id": "9", "business_roles": ["PARTNER"], "user": {"id": "9", "username": "ours"},
               "is_shared_partner": False}
    shared = {**partner, "id": "8", "user": {"id": "8", "username": "theirs"}, "is_shared_partner": True}
    make = scripted([{"items": [binding("1")]}, {"items": [partner, shared], "bookmark": None}])
    records = list(make(include_partners=True).list_access())
    assert [(g.account_id, g.role) for g in grants(records)] == [("1", "EMPLOYEE"), ("9", "PARTNER")]


def test_role_and_level_mapping() -> None:
    assert grant_role_and_level(["BIZ_ADMIN"], []) == ("BIZ_ADMIN", Level.admin)
    assert grant_role_and_level(["EMPLOYEE"], ["ANALYST", "FINANCE_VIEW"])[1] is Level.read_only
    assert grant_role_and_level(["EMPLOYEE"], ["ANALYST", "CATALOGS_MANAGER"])[1] is Level.full_publishing
    assert grant_role_and_level(["EMPLOYEE"], ["ANALYST", "ADMIN"])[1] is Level.admin
    assert grant_role_and_level(["PARTNER"], ["SOMETHING_NEW"]) == ("PARTNER[SOMETHING_NEW]", Level.full_publishing)
    assert grant_role_and_level(["EMPLOYEE"], None) == ("EMPLOYEE", Level.full_publishing)
    assert grant_role_and_level(["EMPLOYEE"], []) == ("EMPLOYEE", Level.read_only)


def test_rate_limit_wait_reads_retry_after_then_reset() -> None:
    def answer(**headers: str) -> httpx.Response:
        return httpx.Response(429, headers=headers)

    assert rate_limit_wait(answer(**{"Retry-After": "4"})) == 4.0
    assert rate_limit_wait(answer(**{"X-RateLimit-Reset": "30"})) == 30.0
    assert rate_limit_wait(answer(**{"X-RateLimit-Reset": "2000000060"}), now=2_000_000_000) == 60.0
    assert rate_limit_wait(answer()) is None


def test_token_never_reaches_logs_or_errors(state: PinterestState, server: RunningServer, waits: list[float],
                                           caplog: pytest.LogCaptureFixture) -> None:
    seed_members(state, 30)
    caplog.set_level(logging.DEBUG)
    state.throttle(at_call=2, retry_after=0)
    state.expire_token_at(4)
    with pytest.raises(AuthError) as err:
        list(connector(server, waits, page_size=10).list_access())
    assert waits == [0.0] and "HTTP Request" in caplog.text
    assert TOKEN not in caplog.text and TOKEN not in str(err.value) and TOKEN not in err.value.detail
    assert TOKEN not in repr(connector(server, waits))


# -- revoking ------------------------------------------------------------------------------------


def test_revoke_member_sends_exactly_the_previewed_request(demo: PinterestState, demo_server: RunningServer,
                                                           waits: list[float]) -> None:
    pinterest = demo_connector(demo_server, waits)
    grant = ref(DANA, role="EMPLOYEE[ANALYST,PROFILE_PUBLISHER]")
    preview = pinterest.preview_revoke(grant)

    result = pinterest.revoke(grant)

    assert result.outcome is RevokeOutcome.done and not demo.is_member(DANA) and demo.is_member(SAM)
    [write] = demo.writes
    assert (write.method, write.path, write.status) == ("DELETE", f"/v5/businesses/{DEMO_BUSINESS_ID}/members", 200)
    assert write.body == {"members": [{"member_id": DANA, "business_role": "EMPLOYEE"}]}
    assert preview.method == "DELETE" and preview.url == f"{demo_server.url}/v5/businesses/{DEMO_BUSINESS_ID}/members"
    assert json.loads(preview.body or "") == write.body
    assert DEMO_TOKEN not in preview.render()


@pytest.mark.parametrize("repeat", list(RepeatMemberDelete))
def test_revoking_a_member_already_removed_is_already_gone(demo: PinterestState, demo_server: RunningServer,
                                                           waits: list[float], repeat: RepeatMemberDelete) -> None:
    demo.repeat_member_delete = repeat
    pinterest = demo_connector(demo_server, waits)
    assert pinterest.revoke(ref(DANA)).outcome is RevokeOutcome.done

    again = pinterest.revoke(ref(DANA))

    assert again.outcome is RevokeOutcome.already_gone
    assert len(demo.writes) == 1  # read first; nothing sent twice


@pytest.mark.parametrize(("repeat", "expected"), [
    (RepeatMemberDelete.omit, RevokeOutcome.already_gone),
    (RepeatMemberDelete.echo, RevokeOutcome.done),
    (RepeatMemberDelete.not_found, RevokeOutcome.already_gone),
])
def test_member_removed_between_our_read_and_our_delete(demo: PinterestState, demo_server: RunningServer,
                                                        waits: list[float], repeat: RepeatMemberDelete,
                                                        expected: RevokeOutcome) -> None:
    """Every plausible answer to removing someone already gone ends as done or already_gone."""
    demo.repeat_member_delete = repeat

    def remove_behind_our_back(response: httpx.Response) -> None:
        if response.request.method == "GET" and demo.is_member(DANA):
            demo.delete_members([(DANA, "EMPLOYEE")])

    result = demo_connector(demo_server, waits, on_response=remove_behind_our_back).revoke(ref(DANA))

    assert result.outcome is expected
    assert demo.writes[0].status == (404 if repeat is RepeatMemberDelete.not_found else 200)
    assert len(demo.calls_to("/members")) == (1 if expected is RevokeOutcome.done else 2)  # re-read when unclear


def test_removing_the_last_admin_is_rejected_with_pinterests_message(demo: PinterestState,
                                                                     demo_server: RunningServer,
                                                                     waits: list[float]) -> None:
    with pytest.raises(RejectedError) as err:
        demo_connector(demo_server, waits).revoke(ref(ALEX, role="BIZ_ADMIN[ADMIN]"))

    assert LAST_ADMIN_MESSAGE in str(err.value) and err.value.detail == LAST_ADMIN_MESSAGE
    assert err.value.status == 400 and demo.is_member(ALEX)
    assert demo.writes[0].body == {"members": [{"member_id": ALEX, "business_role": "BIZ_ADMIN"}]}


def test_a_silent_refusal_is_rejected_after_a_re_read(demo: PinterestState, demo_server: RunningServer,
                                                      waits: list[float]) -> None:
    demo.last_admin = LastAdmin.silent
    with pytest.raises(RejectedError) as err:
        demo_connector(demo_server, waits).revoke(ref(ALEX, role="BIZ_ADMIN"))
    assert "did not remove" in str(err.value) and "still listed with BIZ_ADMIN" in str(err.value)
    assert demo.is_member(ALEX) and demo.writes[0].status == 200


def test_revoke_partner_and_its_repeat(demo: PinterestState, demo_server: RunningServer,
                                       waits: list[float]) -> None:
    pinterest = demo_connector(demo_server, waits)
    grant = ref(OLD_PIXEL, AccountKind.agency, "PARTNER[ANALYST]")
    preview = pinterest.preview_revoke(grant)

    assert pinterest.revoke(grant).outcome is RevokeOutcome.done
    assert pinterest.revoke(grant).outcome is RevokeOutcome.already_gone

    [write] = demo.writes
    assert write.path.endswith("/partners") and write.body == {"partner_ids": [OLD_PIXEL], "partner_type": "INTERNAL"}
    assert json.loads(preview.body or "") == write.body
    assert not demo.is_partner(OLD_PIXEL) and demo.is_partner(BRIGHTSIDE)


def test_partner_removed_meanwhile_gets_404_and_is_already_gone(demo: PinterestState, demo_server: RunningServer,
                                                                waits: list[float]) -> None:
    def remove_behind_our_back(response: httpx.Response) -> None:
        if response.request.method == "GET" and demo.is_partner(BRIGHTSIDE):
            demo.delete_partners([BRIGHTSIDE], "INTERNAL")

    pinterest = demo_connector(demo_server, waits, on_response=remove_behind_our_back)
    result = pinterest.revoke(ref(BRIGHTSIDE, AccountKind.agency, "PARTNER"))
    assert result.outcome is RevokeOutcome.already_gone and "404" in result.detail
    assert demo.writes[0].status == 404


def test_simulator_has_no_delete_for_system_users(demo: PinterestState, demo_server: RunningServer) -> None:
    """v5 has PATCH only on the system-user path: a DELETE is an unknown method and removes nothing."""
    url = f"{demo_server.url}/v5/businesses/{DEMO_BUSINESS_ID}/system_users/{SCHEDULER}"
    headers = {"Authorization": f"Bearer {DEMO_TOKEN}"}

    answer = httpx.delete(url, headers=headers)
    renamed = httpx.patch(url, headers=headers, json={"name": "scheduler-2"})

    assert answer.status_code == 405 and answer.headers["allow"] == "PATCH"
    assert set(answer.json()) == {"code", "message"}
    assert demo.is_member(SCHEDULER) and renamed.status_code == 204


def test_a_system_user_is_a_manual_step_never_a_call(demo: PinterestState, demo_server: RunningServer,
                                                     waits: list[float]) -> None:
    pinterest = demo_connector(demo_server, waits)
    grant = ref(SCHEDULER, AccountKind.system, "EMPLOYEE[PROFILE_PUBLISHER]")

    preview = pinterest.preview_revoke(grant)
    with pytest.raises(RejectedError) as err:
        pinterest.revoke(grant)

    assert preview.method == "MANUAL" and preview.url.startswith("manual://pinterest/")
    assert "Business Hub" in (preview.body or "") and SCHEDULER in (preview.body or "")
    assert "by hand" in str(err.value)
    assert demo.is_member(SCHEDULER) and demo.writes == []  # nothing was sent
    assert pinterest.revocation_takes(grant).scope is RevocationScope.grant


def test_a_system_user_already_gone_is_already_gone(demo: PinterestState, demo_server: RunningServer,
                                                    waits: list[float]) -> None:
    del demo.members[SCHEDULER]
    result = demo_connector(demo_server, waits).revoke(ref(SCHEDULER, AccountKind.system))
    assert result.outcome is RevokeOutcome.already_gone and demo.writes == []


def test_member_and_partner_removal_declare_the_whole_account(demo_server: RunningServer,
                                                              waits: list[float]) -> None:
    pinterest = demo_connector(demo_server, waits)
    member = pinterest.revocation_takes(ref(DANA, role="EMPLOYEE[PROFILE_PUBLISHER]"))
    partner = pinterest.revocation_takes(ref(BRIGHTSIDE, AccountKind.agency, "PARTNER[PROFILE_PUBLISHER]"))
    assert member.scope is partner.scope is RevocationScope.account_on_system
    assert "membership" in member.note and "partnership" in partner.note
    assert isinstance(pinterest, WideRevoker) and isinstance(pinterest, Reducer)


def test_reduce_lowers_a_biz_admin_to_employee_with_the_previewed_patch(demo: PinterestState,
                                                                       demo_server: RunningServer,
                                                                       waits: list[float]) -> None:
    demo.add_member("kimadmin", "kim@example.com", role="BIZ_ADMIN", member_id="1409000000000007",
                    assets={"664210000000001": ["PROFILE_PUBLISHER"]})
    pinterest = demo_connector(demo_server, waits)
    grant = ref("1409000000000007", role="BIZ_ADMIN[PROFILE_PUBLISHER]")

    roles = pinterest.reduce_roles(grant)
    [preview] = pinterest.preview_reduce(grant, "EMPLOYEE")
    result = pinterest.reduce(grant, "EMPLOYEE")

    assert roles == {Level.full_publishing: "EMPLOYEE"}
    assert result.outcome is RevokeOutcome.done
    assert demo.members["1409000000000007"].business_roles == ["EMPLOYEE"]
    [write] = demo.writes
    assert (write.method, write.status) == ("PATCH", 200)
    assert write.body == [{"member_id": "1409000000000007", "business_role": "EMPLOYEE"}]
    assert preview.method == "PATCH" and json.loads(preview.body or "") == write.body
    again = pinterest.reduce(grant, "EMPLOYEE")
    assert again.outcome is RevokeOutcome.already_gone and len(demo.writes) == 1


def test_reduce_offers_nothing_it_cannot_do(demo_server: RunningServer, waits: list[float]) -> None:
    pinterest = demo_connector(demo_server, waits)
    assert pinterest.reduce_roles(ref(ALEX, role="BIZ_ADMIN[ADMIN]")) == {}  # asset ADMIN stays admin
    assert pinterest.reduce_roles(ref(DANA, role="EMPLOYEE[PROFILE_PUBLISHER]")) == {}
    assert pinterest.reduce_roles(ref(BRIGHTSIDE, AccountKind.agency, "PARTNER")) == {}
    assert pinterest.reduce_roles(ref(SCHEDULER, AccountKind.system)) == {}
    assert pinterest.reduce_roles(ref(ALEX, role="BIZ_ADMIN")) == {Level.full_publishing: "EMPLOYEE"}


def test_reducing_the_last_biz_admin_is_refused(demo: PinterestState, demo_server: RunningServer,
                                               waits: list[float]) -> None:
    demo.members[ALEX].assets = {"664210000000001": ["ANALYST"]}
    with pytest.raises(RejectedError) as err:
        demo_connector(demo_server, waits).reduce(ref(ALEX, role="BIZ_ADMIN[ANALYST]"), "EMPLOYEE")
    assert LAST_ADMIN_MESSAGE in str(err.value) and demo.members[ALEX].business_roles == ["BIZ_ADMIN"]


def test_revoke_with_a_dead_token_is_an_auth_error_not_already_gone(demo: PinterestState,
                                                                    demo_server: RunningServer,
                                                                    waits: list[float]) -> None:
    demo.expire_token()
    with pytest.raises(AuthError):
        demo_connector(demo_server, waits).revoke(ref(DANA))
    assert demo.is_member(DANA) and demo.writes == []


def test_revoke_without_the_write_scope_is_an_auth_error(demo: PinterestState, demo_server: RunningServer,
                                                         waits: list[float]) -> None:
    demo.add_token("read-only", scopes=frozenset({READ_SCOPE}))
    pinterest = PinterestBusinessConnector("p", f"{demo_server.url}/v5", DEMO_BUSINESS_ID, "read-only",
                                           sleep=waits.append)
    with pytest.raises(AuthError) as err:
        pinterest.revoke(ref(DANA))
    assert err.value.status == 403 and "biz_access:write" in err.value.detail
    assert demo.is_member(DANA) and demo.writes[0].status == 403


def test_revoke_refuses_grants_it_does_not_handle(demo_server: RunningServer, waits: list[float]) -> None:
    pinterest = demo_connector(demo_server, waits)
    with pytest.raises(StopError):
        pinterest.revoke(GrantRef(DANA, DEMO_BUSINESS_ID, "EMPLOYEE", resource_kind="facebook_page"))
    with pytest.raises(StopError):
        pinterest.revoke(ref(DANA, business="999"))
    with pytest.raises(RejectedError):
        pinterest.preview_revoke(ref("1409/../../me"))


def test_the_plan_holds_a_system_user_as_a_manual_step(sqlite_engine: Any, demo: PinterestState,
                                                      demo_server: RunningServer, waits: list[float]) -> None:
    """A finding on a system user is never sent: the plan holds it with the Business Hub instructions."""
    from sqlalchemy import select as sa_select
    from sqlmodel import Session

    from accessward.reconcile.plan import build_plan
    from accessward.reconcile.policy import PolicySettings, RuleSettings
    from accessward.sync.clock import utcnow
    from accessward.sync.models import Account, Finding, Grant
    from accessward.sync.runner import sync_access, sync_identity
    from tests.fakes import FakeIdentity, person

    pinterest = demo_connector(demo_server, waits)
    assert sync_identity(sqlite_engine, FakeIdentity(people=[person("ana")])).ok
    assert sync_access(sqlite_engine, pinterest).ok
    with Session(sqlite_engine) as session:
        account = session.execute(sa_select(Account).where(Account.external_id == SCHEDULER)).scalars().one()
        grant = session.execute(sa_select(Grant).where(Grant.account_id == account.id)).scalars().one()
        session.add(Finding(key=f"orphaned:grant:{grant.id}", rule="orphaned", system=pinterest.name,
                            account_id=account.id, grant_id=grant.id, evidence={"reason": "terminated"}))
        session.commit()
    policy = PolicySettings(rules={"orphaned": RuleSettings(action="revoke")})

    plan = build_plan(sqlite_engine, policy, {pinterest.name: pinterest}, ["dir"], utcnow())

    assert plan.revocations == [] and plan.status == "empty"
    [held] = plan.held
    assert held.account == SCHEDULER and "a manual step" in held.held_because
    assert "Business Hub" in held.held_because
    assert demo.writes == []
