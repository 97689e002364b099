"""The SCIM connector against the real ``scim2-server`` from PyPI on a loopback port.

``sandbox.scim`` serves the package's own bearer-token application; its thin wrapper adds the
faults a hosted suite has and the package has not (429, HTML pages, redirects, expiring tokens).
The first tests pin down what the real server does, so the connector tests rest on facts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from accessward.connectors.errors import AuthError, MalformedResponseError, RejectedError, StopError, TransientError
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
from accessward.connectors.scim import (
    DEACTIVATE_BODY,
    NO_ROLE,
    WORKSPACE_KIND,
    ScimConnector,
    is_active,
    normalize_role,
    primary_email,
    role_values,
)
from accessward.sandbox.scim import ERROR_SCHEMA, OWNER_REFUSAL, ScimFaultKind, ScimServer, demo_users

TOKEN = "scim-S3cr3t-token-value"
WORKSPACE = "northwind-suite"
BIG = 230


@pytest.fixture
def scim() -> Iterator[ScimServer]:
    with ScimServer([TOKEN]) as srv:
        yield srv


@pytest.fixture
def demo(scim: ScimServer) -> dict[str, str]:
    return demo_users(scim)


@pytest.fixture
def waits() -> list[float]:
    return []


def connector(srv: ScimServer, waits: list[float], token: str = TOKEN, **kw: Any) -> ScimConnector:
    kw.setdefault("sleep", waits.append)
    return ScimConnector("suite", srv.url, token, workspace_id=WORKSPACE, workspace_name="Northwind suite", **kw)


def seed(srv: ScimServer, n: int = BIG) -> list[str]:
    return [srv.add_user(f"u{i:03d}@example.com", roles=["Read Only"]) for i in range(n)]


def grants(records: list[AccessRecord]) -> list[GrantRecord]:
    return [r for r in records if isinstance(r, GrantRecord)]


def ref(user_id: str, workspace: str = WORKSPACE) -> GrantRef:
    return GrantRef(account_id=user_id, resource_id=workspace, role="Publisher", resource_kind=WORKSPACE_KIND)


# -- the real server ------------------------------------------------------------------------------


def test_real_server_refuses_missing_and_unknown_tokens_with_the_scim_error_schema(scim: ScimServer) -> None:
    missing = httpx.get(f"{scim.url}/Users")
    unknown = httpx.get(f"{scim.url}/Users", headers={"Authorization": "Bearer nope"})
    ok = httpx.get(f"{scim.url}/Users", headers={"Authorization": f"Bearer {TOKEN}"})
    config = httpx.get(f"{scim.url}/ServiceProviderConfig")  # RFC 7643 section 5: no auth needed

    for answer in (missing, unknown):
        assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer")
        assert answer.json()["schemas"] == [ERROR_SCHEMA] and answer.json()["status"] == "401"  # a string
    assert ok.status_code == 200 and ok.json()["totalResults"] == 0
    assert config.status_code == 200


def test_real_server_pages_filters_and_deletes_as_rfc_7644_says(scim: ScimServer) -> None:
    ids = seed(scim, 5)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    page = httpx.get(f"{scim.url}/Users", params={"startIndex": 5, "count": 2}, headers=headers).json()
    bad_filter = httpx.get(f"{scim.url}/Users", params={"filter": 'userName zz "x"'}, headers=headers)
    first = httpx.delete(f"{scim.url}/Users/{ids[0]}", headers=headers)
    again = httpx.delete(f"{scim.url}/Users/{ids[0]}", headers=headers)

    assert (page["totalResults"], page["startIndex"], len(page["Resources"])) == (5, 5, 1)
    assert bad_filter.status_code == 400 and bad_filter.json()["scimType"] == "invalidFilter"
    assert first.status_code == 204 and again.status_code == 404 and again.json()["status"] == "404"


# -- listing -------------------------------------------------------------------------------------


def test_lists_the_demo_workspace(scim: ScimServer, demo: dict[str, str], waits: list[float]) -> None:
    records = list(connector(scim, waits).list_access())

    assert records[0] == ResourceRecord(WORKSPACE, WORKSPACE_KIND, "Northwind suite")
    accounts = {r.login: r for r in records if isinstance(r, AccountRecord)}
    levels = {accounts[login].external_id: login for login in accounts}
    by_login = {levels[g.account_id]: (g.role, g.level) for g in grants(records)}

    assert "casey.former@example.com" not in accounts  # active=false is not access
    dana = accounts["dana.leaver@example.com"]
    assert dana == AccountRecord(demo["dana.leaver@example.com"], AccountKind.human, "Dana Leaver",
                                 "dana.leaver@example.com", "dana.leaver@example.com", "E1002")
    assert accounts["svc-scheduler"].email is None and accounts["svc-scheduler"].display_name == "Publishing Scheduler"
    assert by_login == {
        "alex.morgan@example.com": ("Account Owner", Level.admin),
        "dana.leaver@example.com": ("Publisher", Level.full_publishing),
        "sam.rivera@example.com": ("Can Reply", Level.can_reply),
        "priya.shah@example.com": ("Read Only", Level.read_only),
        "taylor.brooks@brightside.example": ("Needs Approval", Level.needs_approval),
        "svc-scheduler": ("Publisher", Level.full_publishing),
    }
    assert all(g.resource_id == WORKSPACE for g in grants(records)) and waits == []


def test_lists_230_users_across_three_pages(scim: ScimServer, waits: list[float]) -> None:
    ids = seed(scim)
    records = list(connector(scim, waits).list_access())

    assert {g.account_id for g in grants(records)} == set(ids)
    calls = scim.faults.calls_to("/Users")
    assert [c.query["startIndex"] for c in calls] == ["1", "101", "201"]
    assert all(c.query["count"] == "100" for c in calls)


def test_a_server_returning_fewer_than_count_is_paged_by_total_results(waits: list[float]) -> None:
    with ScimServer([TOKEN], max_results=40) as capped:
        ids = seed(capped, 130)
        records = list(connector(capped, waits).list_access())
        starts = [c.query["startIndex"] for c in capped.faults.calls_to("/Users")]
    assert len(grants(records)) == 130 and {g.account_id for g in grants(records)} == set(ids)
    assert starts == ["1", "41", "81", "121"]  # a 40-item page after asking 100 was not the last


def test_the_configured_filter_is_sent_and_a_refused_one_stops_the_run(scim: ScimServer,
                                                                      waits: list[float]) -> None:
    seed(scim, 12)
    records = list(connector(scim, waits, user_filter='userName sw "u00"').list_access())
    assert sorted(a.login or "" for a in records if isinstance(a, AccountRecord)) == [
        f"u00{i}@example.com" for i in range(10)]
    with pytest.raises(StopError) as err:
        list(connector(scim, waits, user_filter='userName zz "u"').list_access())
    assert err.value.code == "invalidFilter"


def test_throttle_mid_listing_honours_retry_after(scim: ScimServer, waits: list[float]) -> None:
    ids = seed(scim)
    scim.faults.throttle(at_call=2, retry_after=2)

    records = list(connector(scim, waits).list_access())

    assert waits == [2.0] and len(grants(records)) == len(ids)
    throttled, retried = scim.faults.requests[1], scim.faults.requests[2]
    assert (throttled.status, retried.status) == (429, 200) and throttled.query == retried.query


def test_persistent_throttling_fails_the_source(scim: ScimServer, waits: list[float]) -> None:
    seed(scim, 3)
    scim.faults.throttle(times=50, retry_after=1)
    with pytest.raises(TransientError) as err:
        list(connector(scim, waits, max_attempts=3).list_access())
    assert err.value.status == 429 and waits == [1.0, 1.0]


def test_expired_token_mid_listing_is_an_auth_error(scim: ScimServer, waits: list[float]) -> None:
    seed(scim)
    scim.faults.inject(ScimFaultKind.expire_token, at_call=2)
    got: list[AccessRecord] = []

    with pytest.raises(AuthError) as err:
        got.extend(connector(scim, waits).list_access())

    assert "not an empty listing" in str(err.value) and err.value.status == 401
    assert "Authorization failure" in err.value.detail  # the real server's own words
    assert scim.faults.calls == 2 and waits == [] and len(grants(got)) == 100


@pytest.mark.parametrize(("kind", "at_call"), [
    (ScimFaultKind.html, 1), (ScimFaultKind.html, 2), (ScimFaultKind.redirect, 1), (ScimFaultKind.redirect, 3),
    (ScimFaultKind.no_resources, 1), (ScimFaultKind.no_resources, 2), (ScimFaultKind.ignore_start_index, 2),
])
def test_html_redirects_and_broken_list_responses_fail_the_source(scim: ScimServer, waits: list[float],
                                                                  kind: ScimFaultKind, at_call: int) -> None:
    seed(scim)
    scim.faults.inject(kind, at_call=at_call)
    got: list[AccessRecord] = []
    with pytest.raises(MalformedResponseError):
        got.extend(connector(scim, waits).list_access())
    assert len(grants(got)) < BIG and waits == [] and scim.faults.calls == at_call


def test_server_error_is_retried(scim: ScimServer, waits: list[float]) -> None:
    seed(scim, 3)
    scim.faults.inject(ScimFaultKind.server_error, at_call=1)
    assert len(grants(list(connector(scim, waits, backoff=0).list_access()))) == 3
    assert len(waits) == 1 and scim.faults.requests[0].status == 503


def listing(pages: list[Any]) -> ScimConnector:
    answers = iter(pages)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=next(answers), headers={"content-type": "application/scim+json"})

    return ScimConnector("suite", "https://suite.test/scim/v2", TOKEN, workspace_id=WORKSPACE, page_size=2,
                         transport=httpx.MockTransport(handler))


def user(uid: str, **extra: Any) -> dict[str, Any]:
    return {"id": uid, "userName": f"{uid}@example.com", **extra}


LR = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@pytest.mark.parametrize("page", [
    {"schemas": [LR], "Resources": [user("a")]},  # no totalResults
    {"schemas": [LR], "totalResults": "1", "Resources": [user("a")]},
    {"schemas": [LR], "totalResults": 3},  # no Resources although users exist
    {"schemas": [LR], "totalResults": 1, "Resources": [{"userName": "x"}]},  # no id
    {"schemas": [LR], "totalResults": 1, "Resources": [user("a", active="maybe")]},
    {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "totalResults": 0},
    {"schemas": [LR], "totalResults": 5, "startIndex": 1, "Resources": []},  # more promised, none given
])
def test_malformed_list_responses_fail_the_source(page: dict[str, Any]) -> None:
    with pytest.raises(MalformedResponseError):
        list(listing([page, page]).list_access())


def test_an_empty_workspace_and_a_list_response_without_schemas_are_accepted() -> None:
    assert len(list(listing([{"schemas": [LR], "totalResults": 0}]).list_access())) == 1
    users = list(listing([{"totalResults": 1, "Resources": [user("a", active="False")]}]).list_access())
    assert len(users) == 1  # only the workspace: "False" as a string is still inactive


def test_a_user_seen_twice_across_pages_is_listed_once() -> None:
    pages = [{"totalResults": 3, "startIndex": 1, "Resources": [user("a"), user("b")]},
             {"totalResults": 3, "startIndex": 3, "Resources": [user("b")]},
             {"totalResults": 3, "startIndex": 4, "Resources": []}]
    assert [g.account_id for g in grants(list(listing(pages).list_access()))] == ["a", "b"]


def test_role_attribute_paths_and_level_mapping() -> None:
    someone = {
        "roles": [{"value": "Publisher"}, {"display": "Needs Approval"}],
        "groups": [{"value": "g1", "display": "Social Admins"}],
        "userType": "Agency",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Social"},
    }
    assert role_values(someone, "roles") == ["Publisher", "Needs Approval"]
    assert role_values(someone, "groups.display") == ["Social Admins"]
    assert role_values(someone, "GROUPS[].value") == ["g1"]
    assert role_values(someone, "userType") == ["Agency"]
    assert role_values(someone, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department") == ["Social"]
    assert role_values(someone, "entitlements") == []
    assert normalize_role(" Needs_Approval ") == normalize_role("needs-approval") == "needs approval"

    def make(**kw: Any) -> ScimConnector:
        return ScimConnector("suite", "https://suite.test/v2", TOKEN, workspace_id=WORKSPACE, **kw)

    assert make().role_and_level(someone) == ("Needs Approval,Publisher", Level.full_publishing)
    assert make(role_levels={"publisher": "can_reply"}).role_and_level(someone)[1] is Level.can_reply
    assert make(role_attribute="groups.display", role_levels={"Social Admins": Level.admin}).role_and_level(
        someone) == ("Social Admins", Level.admin)
    assert make(role_attribute="userType").role_and_level(someone) == ("Agency", Level.full_publishing)  # unknown
    assert make(default_level="read_only").role_and_level({}) == (NO_ROLE, Level.read_only)
    with pytest.raises(StopError):
        make(role_levels={"x": "owner"})
    with pytest.raises(StopError):
        make(revoke_mode="suspend")  # type: ignore[arg-type]


def test_email_and_active_rules() -> None:
    emails = [{"value": "home@example.net", "type": "home"}, {"value": "work@example.com", "type": "work"}]
    assert primary_email({"emails": [*emails, {"value": "p@example.com", "primary": True}]}) == "p@example.com"
    assert primary_email({"emails": emails}) == "work@example.com"
    assert primary_email({"userName": "someone@example.com"}) == "someone@example.com"
    assert primary_email({"userName": "someone"}) is None
    assert is_active({}, "s") and not is_active({"active": False}, "s") and not is_active({"Active": "false"}, "s")


def test_token_never_reaches_logs_or_errors(scim: ScimServer, waits: list[float],
                                           caplog: pytest.LogCaptureFixture) -> None:
    seed(scim, 30)
    caplog.set_level(logging.DEBUG)
    scim.faults.throttle(at_call=2, retry_after=0)
    scim.faults.inject(ScimFaultKind.expire_token, at_call=4)
    with pytest.raises(AuthError) as err:
        list(connector(scim, waits, page_size=10).list_access())
    assert waits == [0.0] and "HTTP Request" in caplog.text
    assert TOKEN not in caplog.text and TOKEN not in str(err.value) and TOKEN not in err.value.detail
    assert TOKEN not in repr(connector(scim, waits))


# -- revoking ------------------------------------------------------------------------------------


@pytest.mark.parametrize("returns_resource", [False, True])
def test_deactivate_sends_exactly_the_previewed_patch(scim: ScimServer, demo: dict[str, str], waits: list[float],
                                                      returns_resource: bool) -> None:
    scim.faults.patch_returns_resource = returns_resource
    dana = demo["dana.leaver@example.com"]
    suite = connector(scim, waits)
    preview = suite.preview_revoke(ref(dana))

    result = suite.revoke(ref(dana))

    assert result.outcome is RevokeOutcome.done
    assert (scim.user(dana) or {})["active"] is False  # kept, deactivated
    [write] = scim.faults.writes
    assert (write.method, write.path, write.body) == ("PATCH", f"/v2/Users/{dana}", DEACTIVATE_BODY)
    assert write.status == (200 if returns_resource else 204)
    assert (preview.method, preview.url) == ("PATCH", f"{scim.url}/Users/{dana}")
    assert json.loads(preview.body or "") == DEACTIVATE_BODY and TOKEN not in preview.render()
    assert dana not in {g.account_id for g in grants(list(suite.list_access()))}


def test_deactivating_twice_or_a_deleted_user_is_already_gone(scim: ScimServer, demo: dict[str, str],
                                                              waits: list[float]) -> None:
    suite = connector(scim, waits)
    dana, casey = demo["dana.leaver@example.com"], demo["casey.former@example.com"]
    assert suite.revoke(ref(dana)).outcome is RevokeOutcome.done
    assert suite.revoke(ref(dana)).outcome is RevokeOutcome.already_gone
    assert suite.revoke(ref(casey)).outcome is RevokeOutcome.already_gone  # deactivated by someone else
    connector(scim, waits, revoke_mode="delete").revoke(ref(demo["sam.rivera@example.com"]))
    gone = suite.revoke(ref(demo["sam.rivera@example.com"]))
    assert gone.outcome is RevokeOutcome.already_gone and "not found" in gone.detail
    assert [w.method for w in scim.faults.writes] == ["PATCH", "DELETE"]  # checked first, nothing resent


def test_delete_then_delete_again_is_already_gone(scim: ScimServer, demo: dict[str, str],
                                                  waits: list[float]) -> None:
    suite = connector(scim, waits, revoke_mode="delete")
    dana = demo["dana.leaver@example.com"]
    preview = suite.preview_revoke(ref(dana))

    first, second = suite.revoke(ref(dana)), suite.revoke(ref(dana))

    assert (first.outcome, second.outcome) == (RevokeOutcome.done, RevokeOutcome.already_gone)
    assert scim.user(dana) is None
    assert [(w.method, w.status) for w in scim.faults.writes] == [("DELETE", 204), ("DELETE", 404)]
    assert preview.render() == f"DELETE {scim.url}/Users/{dana}"


@pytest.mark.parametrize("mode", ["deactivate", "delete"])
def test_a_refusal_is_rejected_with_the_servers_message(scim: ScimServer, demo: dict[str, str],
                                                        waits: list[float], mode: Any) -> None:
    alex = demo["alex.morgan@example.com"]
    with pytest.raises(RejectedError) as err:
        connector(scim, waits, revoke_mode=mode).revoke(ref(alex))
    assert OWNER_REFUSAL in str(err.value) and err.value.detail == OWNER_REFUSAL
    assert (err.value.status, err.value.code) == (400, "mutability")
    assert (scim.user(alex) or {})["active"] is True


def test_patch_not_supported_is_a_stop_error_naming_the_fix(waits: list[float]) -> None:
    with ScimServer([TOKEN], patch_supported=False) as no_patch:
        uid = no_patch.add_user("someone@example.com")
        with pytest.raises(StopError) as err:
            connector(no_patch, waits).revoke(ref(uid))
        assert "revoke_mode" in str(err.value) and err.value.status == 501
        assert connector(no_patch, waits, revoke_mode="delete").revoke(ref(uid)).outcome is RevokeOutcome.done


@pytest.mark.parametrize("mode", ["deactivate", "delete"])
def test_revoke_with_a_dead_token_is_an_auth_error_not_already_gone(scim: ScimServer, demo: dict[str, str],
                                                                    waits: list[float], mode: Any) -> None:
    dana = demo["dana.leaver@example.com"]
    scim.faults.expire_token(TOKEN)
    with pytest.raises(AuthError):
        connector(scim, waits, revoke_mode=mode).revoke(ref(dana))
    assert (scim.user(dana) or {})["active"] is True


def test_revoke_with_a_read_only_token_is_an_auth_error(waits: list[float]) -> None:
    with ScimServer([TOKEN, "reader-token"]) as srv:
        uid = srv.add_user("someone@example.com")
        srv.faults.read_only_tokens.add("reader-token")
        with pytest.raises(AuthError) as err:
            connector(srv, waits, "reader-token").revoke(ref(uid))
        assert err.value.status == 403 and (srv.user(uid) or {})["active"] is True


def scripted_revoke(status: int, body: Any = None, ctype: str = "application/scim+json", **kw: Any) -> ScimConnector:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=user("a", active=True), headers={"content-type": ctype})
        if isinstance(body, str):
            return httpx.Response(status, text=body, headers={"content-type": "text/html"})
        return httpx.Response(status, json=body, headers={"content-type": ctype})

    return ScimConnector("suite", "https://suite.test/scim/v2", TOKEN, workspace_id=WORKSPACE,
                         transport=httpx.MockTransport(handler), sleep=lambda s: None, **kw)


@pytest.mark.parametrize("mode", ["deactivate", "delete"])
def test_a_404_that_is_not_a_scim_error_is_never_already_gone(mode: Any) -> None:
    with pytest.raises(MalformedResponseError) as err:
        scripted_revoke(404, "<html>Not Found</html>", revoke_mode=mode).revoke(ref("a"))
    assert "not taken as proof" in str(err.value)


def test_a_patch_answered_with_the_user_still_active_is_rejected() -> None:
    with pytest.raises(RejectedError):
        scripted_revoke(200, user("a", active=True)).revoke(ref("a"))
    assert scripted_revoke(200, user("a", active=False)).revoke(ref("a")).outcome is RevokeOutcome.done


def test_revoke_refuses_grants_it_does_not_handle(scim: ScimServer, waits: list[float]) -> None:
    suite = connector(scim, waits)
    assert suite.preview_revoke(ref("a/b?c")).url == f"{scim.url}/Users/a%2Fb%3Fc"
    with pytest.raises(RejectedError):
        suite.revoke(ref(".."))
    with pytest.raises(StopError):
        suite.revoke(ref("a", workspace="another-workspace"))
    with pytest.raises(StopError):
        suite.revoke(GrantRef("a", WORKSPACE, "Publisher", resource_kind="facebook_page"))


# -- wide revocations and reduce --------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["deactivate", "delete"])
def test_revoking_a_scim_user_declares_every_grant_of_the_account(scim: ScimServer, waits: list[float],
                                                                  mode: str) -> None:
    suite = connector(scim, waits, revoke_mode=mode)
    takes = suite.revocation_takes(ref("u1"))
    assert isinstance(suite, WideRevoker)
    assert takes.scope is RevocationScope.account_on_system and ("deleting" if mode == "delete" else
                                                                 "deactivating") in takes.note


SUITE_ROLES = {"Read Only": "read_only", "Can Reply": "can_reply", "Publisher": "full_publishing",
               "Account Owner": "admin"}


def test_reduce_replaces_the_role_on_the_real_server(scim: ScimServer, demo: dict[str, str],
                                                     waits: list[float]) -> None:
    dana = demo["dana.leaver@example.com"]
    suite = connector(scim, waits, role_levels=SUITE_ROLES)
    grant = GrantRef(account_id=dana, resource_id=WORKSPACE, role="Publisher", resource_kind=WORKSPACE_KIND)

    offered = suite.reduce_roles(grant)
    [preview] = suite.preview_reduce(grant, "Can Reply")
    result = suite.reduce(grant, "Can Reply")

    assert isinstance(suite, Reducer)
    assert offered == {Level.read_only: "Read Only", Level.can_reply: "Can Reply"}
    assert result.outcome is RevokeOutcome.done
    assert [r["value"] for r in (scim.user(dana) or {})["roles"]] == ["Can Reply"]
    assert (scim.user(dana) or {})["active"] is True  # reduced, not revoked
    [write] = scim.faults.writes
    assert write.method == "PATCH" and write.body == json.loads(preview.body or "")
    assert write.body["Operations"] == [{"op": "replace", "path": "roles", "value": [{"value": "Can Reply"}]}]
    level = {g.account_id: g.level for g in grants(list(suite.list_access()))}[dana]
    assert level is Level.can_reply
    again = suite.reduce(grant, "Can Reply")
    assert again.outcome is RevokeOutcome.already_gone and len(scim.faults.writes) == 1


def test_reduce_offers_nothing_for_groups_or_without_configured_names(scim: ScimServer, waits: list[float]) -> None:
    grant = GrantRef(account_id="u1", resource_id=WORKSPACE, role="Publisher", resource_kind=WORKSPACE_KIND)
    assert connector(scim, waits).reduce_roles(grant) == {}
    assert connector(scim, waits, role_attribute="groups.display", role_levels=SUITE_ROLES).reduce_roles(grant) == {}
    with pytest.raises(RejectedError):
        connector(scim, waits, role_attribute="groups.display").preview_reduce(grant, "Read Only")
