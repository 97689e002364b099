"""TikTok Business Center, issue 11: codes by meaning, UNBOUND members, the brand's TikTok account (TT_ACCOUNT)
and its holders, child Business Centers, what a member removal takes (``revocation_takes``) and reductions
(``Reducer``: ADMIN -> STANDARD with ``/bc/member/update/``), against the simulator on a loopback port.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette

from accessward.connectors.errors import AuthError, RejectedError
from accessward.connectors.protocols import Reducer, WideRevoker
from accessward.connectors.records import (
    AccountRecord,
    GrantRecord,
    GrantRef,
    Level,
    RevocationScope,
    RevokeOutcome,
)
from accessward.connectors.tiktok import TikTokBusinessCenterConnector
from accessward.sandbox.server import RunningServer, start_app
from accessward.sandbox.tiktok import create_app, demo_state
from accessward.sandbox.tiktok_state import (
    API_PREFIX,
    DEMO_BC_ID,
    DEMO_TOKEN,
    DEMO_TT_ACCOUNT_ID,
    FaultKind,
    TikTokState,
)

ALEX, DANA, PRIYA, SAM = "7300000000000000001", "7300000000000000002", "7300000000000000004", "7300000000000000003"
PARTNER = "partner:7100000000000000099"
INVITE = "invite:new.hire@example.com"
TT = "tt_account:" + DEMO_TT_ACCOUNT_ID
CHILD = "7100000000000000500"
CHILD_ONLY = "7300000000000000777"  # a member of the child BC only
BC_KIND, TT_KIND = "tiktok_business_center", "tiktok_account"


@pytest.fixture(scope="module")
def app() -> Starlette:
    return create_app(TikTokState())


@pytest.fixture(scope="module")
def server(app: Starlette) -> Iterator[RunningServer]:
    with start_app(app) as srv:
        yield srv


@pytest.fixture
def demo(app: Starlette) -> TikTokState:
    st = demo_state()
    parent = st.business_centers[DEMO_BC_ID]
    child = st.add_child(parent, "Northwind Coffee EU", bc_id=CHILD)
    st.add_member(child, "Eu Poster", "eu.poster@example.com", user_id=CHILD_ONLY, advertiser_role="OPERATOR")
    st.add_member(child, "Dana Leaver", "dana.leaver@example.com", role="ADMIN", user_id=DANA)
    st.add_unbound(parent, "Gone Contractor", "gone@example.com", user_id="7300000000000000666")
    app.state.tiktok = st
    return st


@pytest.fixture
def waits() -> list[float]:
    return []


def connector(srv: RunningServer, waits: list[float], **kw: Any) -> TikTokBusinessCenterConnector:
    kw.setdefault("sleep", waits.append)
    kw.setdefault("child_bc_ids", (CHILD,))
    return TikTokBusinessCenterConnector("tiktok-test", f"{srv.url}{API_PREFIX}", DEMO_BC_ID, DEMO_TOKEN, **kw)


def ref(account: str, resource: str = DEMO_BC_ID, role: str = "ADMIN", kind: str = BC_KIND) -> GrantRef:
    return GrantRef(account_id=account, resource_id=resource, role=role, resource_kind=kind)


# -- codes by meaning ----------------------------------------------------------------------------


@pytest.mark.parametrize(("fault", "code"), [(FaultKind.frequency_limited, 40132),
                                              (FaultKind.too_many_requests, 61000),
                                              (FaultKind.maintenance, 60001)])
def test_frequency_limit_and_maintenance_mid_listing_are_retried(demo: TikTokState, server: RunningServer,
                                                                 waits: list[float], fault: FaultKind,
                                                                 code: int) -> None:
    demo.inject(fault, at_call=2)  # the first member page

    records = list(connector(server, waits).list_access())

    assert demo.requests[1].code == code and demo.requests[2].code == 0  # answered with HTTP 200 and the code
    assert len(waits) == 1 and any(isinstance(r, GrantRecord) and r.account_id == DANA for r in records)


def test_forbidden_is_an_authorisation_error(demo: TikTokState, server: RunningServer, waits: list[float]) -> None:
    demo.inject(FaultKind.forbidden, at_call=2)
    with pytest.raises(AuthError) as err:
        list(connector(server, waits).list_access())
    assert err.value.code == 40003 and waits == []  # not retried, not a refusal of one request


# -- what is listed ------------------------------------------------------------------------------


def test_unbound_members_child_bcs_and_tiktok_account_holders(demo: TikTokState, server: RunningServer,
                                                              waits: list[float]) -> None:
    records = list(connector(server, waits).list_access())

    grants = {(g.account_id, g.resource_id): (g.role, g.level) for g in records if isinstance(g, GrantRecord)}
    accounts = [r.external_id for r in records if isinstance(r, AccountRecord)]
    assert "7300000000000000666" not in accounts  # UNBOUND: bound once, then cancelled: no access, no failure
    assert grants[(CHILD_ONLY, CHILD)] == ("STANDARD,advertiser:OPERATOR", Level.full_publishing)
    assert grants[(DANA, CHILD)] == ("ADMIN", Level.admin)  # the child BC's own membership
    assert len(accounts) == len(set(accounts))  # Dana is one account with grants on two BCs
    assert grants[(SAM, TT)][1] is Level.full_publishing and grants[(PARTNER, TT)][1] is Level.full_publishing
    assert (PRIYA, TT) not in grants
    child_calls = [c for c in demo.calls_to("/bc/member/get/") if c.params.get("child_bc_id") == CHILD]
    assert child_calls and child_calls[0].params["bc_id"] == DEMO_BC_ID
    [holders] = demo.calls_to("/bc/asset/member/get/")
    assert holders.params["asset_type"] == "TT_ACCOUNT" and holders.params["asset_id"] == DEMO_TT_ACCOUNT_ID


# -- what a revocation takes ---------------------------------------------------------------------


def test_member_removal_declares_and_takes_everything_the_member_holds(demo: TikTokState, server: RunningServer,
                                                                       waits: list[float]) -> None:
    tt = connector(server, waits)
    assert isinstance(tt, WideRevoker)
    takes = tt.revocation_takes(ref(SAM, role="STANDARD,advertiser:OPERATOR"))
    assert takes.scope is RevocationScope.account_on_system and "TikTok account" in takes.note
    assert tt.revocation_takes(ref(PARTNER, role="PARTNER")).scope is RevocationScope.account_on_system
    assert tt.revocation_takes(ref(INVITE, role="STANDARD,relation:PENDING")).scope is RevocationScope.grant
    assert tt.revocation_takes(ref(SAM, TT, "TT_ACCOUNT:POST", TT_KIND)).scope is RevocationScope.grant
    assert tt.revocation_takes(ref(CHILD_ONLY, CHILD, "STANDARD")).scope is RevocationScope.grant

    assert demo.holds(DEMO_BC_ID, DEMO_TT_ACCOUNT_ID, SAM)
    assert tt.revoke(ref(SAM, role="STANDARD")).outcome is RevokeOutcome.done
    # the simulator, like TikTok, takes the TikTok account away with the membership
    assert not demo.is_member(DEMO_BC_ID, SAM) and not demo.holds(DEMO_BC_ID, DEMO_TT_ACCOUNT_ID, SAM)


def test_tiktok_account_holding_is_unassigned_as_previewed(demo: TikTokState, server: RunningServer,
                                                           waits: list[float]) -> None:
    tt = connector(server, waits)
    grant = ref(SAM, TT, "TT_ACCOUNT:POST", TT_KIND)
    preview = tt.preview_revoke(grant)

    assert tt.revoke(grant).outcome is RevokeOutcome.done
    [write] = demo.writes
    assert write.path == "/bc/asset/unassign/" and write.code == 0
    assert write.body == {"bc_id": DEMO_BC_ID, "user_id": SAM, "asset_type": "TT_ACCOUNT",
                          "asset_id": DEMO_TT_ACCOUNT_ID}
    assert preview.body is not None and json.loads(preview.body) == write.body
    assert demo.is_member(DEMO_BC_ID, SAM) and not demo.holds(DEMO_BC_ID, DEMO_TT_ACCOUNT_ID, SAM)
    assert tt.revoke(grant).outcome is RevokeOutcome.already_gone and len(demo.writes) == 1
    with pytest.raises(RejectedError, match="Partners"):  # a partner's share: a manual step, said so
        tt.preview_revoke(ref(PARTNER, TT, "PARTNER:TT_ACCOUNT:POST", TT_KIND))


def test_child_bc_member_is_removed_with_child_bc_id(demo: TikTokState, server: RunningServer,
                                                     waits: list[float]) -> None:
    tt = connector(server, waits)
    assert tt.revoke(ref(CHILD_ONLY, CHILD, "STANDARD")).outcome is RevokeOutcome.done
    [write] = demo.writes
    assert write.body == {"bc_id": DEMO_BC_ID, "child_bc_id": CHILD, "user_id": CHILD_ONLY}
    assert not demo.is_member(CHILD, CHILD_ONLY) and demo.is_member(DEMO_BC_ID, DANA)


# -- reduce (access reviews) ---------------------------------------------------------------------


def test_admin_is_reduced_to_standard_in_place(demo: TikTokState, server: RunningServer,
                                               waits: list[float]) -> None:
    tt = connector(server, waits)
    assert isinstance(tt, Reducer)
    dana = ref(DANA, role="ADMIN,advertiser:ADMIN")
    assert tt.reduce_roles(dana) == {Level.full_publishing: "STANDARD"}  # STANDARD keeps the advertiser role
    assert tt.reduce_roles(ref(PRIYA, role="STANDARD,advertiser:ANALYST")) == {}
    assert tt.reduce_roles(ref(PARTNER, role="PARTNER")) == {}
    [preview] = tt.preview_reduce(dana, "STANDARD")

    assert tt.reduce(dana, "STANDARD").outcome is RevokeOutcome.done

    [write] = demo.writes
    assert write.path == "/bc/member/update/" and write.code == 0
    assert preview.body is not None and json.loads(preview.body) == write.body == {
        "bc_id": DEMO_BC_ID, "user_id": DANA, "user_role": "STANDARD"}
    assert demo.role_of(DEMO_BC_ID, DANA) == "STANDARD" and demo.is_member(DEMO_BC_ID, DANA)
    assert tt.reduce(dana, "STANDARD").outcome is RevokeOutcome.already_gone and len(demo.writes) == 1
    with pytest.raises(RejectedError, match="only admin"):  # Alex is now the last ADMIN: TikTok refuses
        tt.reduce(ref(ALEX, role="ADMIN,advertiser:ADMIN"), "STANDARD")
    assert demo.role_of(DEMO_BC_ID, ALEX) == "ADMIN"
    with pytest.raises(RejectedError):
        tt.preview_reduce(ref(PRIYA, role="STANDARD,advertiser:ANALYST"), "STANDARD")


def test_child_business_centers_come_from_the_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from accessward.settings import TikTokSource
    from accessward.wiring import access_connector

    monkeypatch.setenv("TT_TOKEN", "t")
    cfg = TikTokSource(type="tiktok", name="tiktok", bc_id=DEMO_BC_ID, access_token={"env": "TT_TOKEN"},
                       child_bc_ids=[CHILD])
    with access_connector(cfg, tmp_path) as tt:
        assert tt.child_bc_ids == (CHILD,)
    with pytest.raises(ValueError):
        TikTokSource(type="tiktok", name="t", bc_id=DEMO_BC_ID, access_token={"env": "TT_TOKEN"},
                     child_bc_ids=["not-an-id"])
