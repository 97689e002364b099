"""The IdP adapters against the Graph simulator (Entra ID, over HTTPS) and the Keycloak simulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accessward.connectors.entra import EntraSource
from accessward.connectors.errors import NotFoundError
from accessward.connectors.idp import EntraIdp, IdpStep, KeycloakIdp
from accessward.connectors.keycloak import KeycloakSource
from accessward.connectors.records import RequestPreview, RevokeOutcome, RevokeResult
from accessward.reconcile.idp_calls import Retry, call_idp
from accessward.sandbox import keycloak
from accessward.sandbox.graph import DEMO_CLIENT_ID, DEMO_SECRET, DEMO_TENANT, create_app, demo_state
from accessward.sandbox.graph_state import GraphState
from accessward.sandbox.server import start_app
from accessward.sandbox.tls import TestCA, start_tls_app


@pytest.fixture
def graph() -> Iterator[tuple[GraphState, EntraIdp]]:
    state = demo_state()
    with TestCA() as ca, start_tls_app(create_app(state), ca) as srv:
        source = EntraSource("entra", DEMO_TENANT, DEMO_CLIENT_ID, DEMO_SECRET, authority_host=srv.url,
                             graph_url=f"{srv.url}/v1.0", verify=ca.ca_file, sleep=lambda s: None)
        yield state, EntraIdp(source)
        source.close()


def _user(state: GraphState, name: str) -> str:
    return next(u.id for u in state.live_users_sorted() if u.props.get("displayName") == name)


def test_entra_ends_sessions_disables_and_removes_the_lost_phone_only(graph):
    state, idp = graph
    ana = _user(state, "Ana Admin")
    state.add_method(ana, "fido2Methods", displayName="YubiKey 5C", model="YubiKey 5C NFC")
    methods = idp.mfa_methods(ana)
    assert {(m.label, m.device_bound) for m in methods} == {("Ana's iPhone", True), ("YubiKey 5C", True)}
    [phone] = [m for m in methods if m.matches("ana's iphone")]

    assert call_idp(lambda: idp.end_sessions(ana), Retry())[0] == "done"
    assert state.user(ana).sessions_revoked_at is not None
    assert idp.remove_mfa_method(ana, phone).outcome == RevokeOutcome.done
    assert [m.label for m in idp.mfa_methods(ana)] == ["YubiKey 5C"]
    assert idp.remove_mfa_method(ana, phone).outcome == RevokeOutcome.already_gone
    assert "microsoftAuthenticatorMethods" in idp.preview_remove_mfa_method(ana, phone).render()
    assert idp.disable(ana).outcome == RevokeOutcome.done and state.user(ana).props["accountEnabled"] is False
    assert idp.disable(ana).outcome == RevokeOutcome.already_gone
    assert call_idp(lambda: idp.end_sessions("00000000-0000-0000-0000-000000000000"), Retry())[0] == "already_gone"


def test_keycloak_ends_sessions_and_deletes_the_device_credential():
    state = keycloak.demo_state()
    with start_app(keycloak.create_app(state)) as srv:
        source = KeycloakSource("kc", srv.url, keycloak.DEMO_REALM, keycloak.DEMO_CLIENT_ID, keycloak.DEMO_SECRET,
                                sleep=lambda s: None)
        idp = KeycloakIdp(source)
        ana = next(u.id for u in state.users.values() if u.username == "ana")
        [otp] = idp.mfa_methods(ana)
        assert (otp.kind, otp.label, otp.device_bound) == ("otp", "Ana's phone", True)
        assert idp.end_sessions(ana).outcome == RevokeOutcome.done and state.user(ana).sessions == []
        assert idp.remove_mfa_method(ana, otp).outcome == RevokeOutcome.done and idp.mfa_methods(ana) == []
        assert idp.disable(ana).outcome == RevokeOutcome.done and state.user(ana).enabled is False
        source.close()


# -- offboarding order and refusals, end to end (HR webhook -> Keycloak simulator) --------------------


def _offboard(world, client, request_id: str):  # type: ignore[no-untyped-def]
    from tests.service.world import signed

    raw, headers = signed({"request_id": request_id, "person": "dana.leaver@example.com", "reason": "resigned"})
    response = client.post("/v1/offboarding", content=raw, headers=headers)
    assert response.status_code == 201, response.text
    return {s["system"]: s for s in response.json()["systems"]}, response.json()


def test_offboarding_disables_before_logging_out_and_removes_offline_tokens(world, rt):  # type: ignore[no-untyped-def]
    world.disable = True
    runtime = world.runtime()
    dana = world.kc_ids["dana.leaver"]
    world.kc.add_offline_token(dana, "brand-mobile")
    with world.client(runtime) as client:
        systems, _ = _offboard(world, client, "hr-order-1")
    items = [(i["action"], i["state"]) for i in systems["keycloak"]["items"]]
    assert items == [("disable_account", "done"), ("end_sessions", "done"), ("remove_offline_tokens", "done")]
    kc_writes = [(w.action, w.status) for w in world.kc.writes if w.user_id == dana]
    assert kc_writes == [("update", 204), ("logout", 204), ("revokeConsent", 204)]  # disable first
    assert world.kc.user(dana).enabled is False and world.kc.user(dana).consents == []


@pytest.mark.parametrize("refusal", [keycloak.PROFILE_REFUSAL, keycloak.LDAP_READ_ONLY_REFUSAL])
def test_a_disable_keycloak_refuses_is_a_failed_step_in_the_receipt(world, rt, refusal):  # type: ignore[no-untyped-def]
    world.disable = True
    runtime = world.runtime()
    dana = world.kc_ids["dana.leaver"]
    world.kc.user(dana).refuse_update = refusal
    with world.client(runtime) as client:
        systems, receipt = _offboard(world, client, "hr-refused-1")
    steps = {i["action"]: i for i in systems["keycloak"]["items"]}
    assert steps["disable_account"]["state"] == "failed"
    assert refusal["errorMessage"] in steps["disable_account"]["detail"]
    assert steps["end_sessions"]["state"] == "done"  # the sessions still end
    assert receipt["status"] == "partially_done" and systems["keycloak"]["status"] != "done"
    assert world.kc.user(dana).enabled is True and world.kc.user(dana).sessions == []


def test_entra_guest_offboarding_disables_the_guest_and_never_says_sessions_ended(graph):  # type: ignore[no-untyped-def]
    state, idp = graph
    gus = _user(state, "Gus Guest")
    steps = idp.offboarding_steps(gus, disable=False)
    outcomes = [(s.kind, *call_idp(s.run, Retry())) for s in steps]
    assert [(k, st) for k, st, _ in outcomes] == [("disable_guest", "done")]
    assert "sessions were not ended" in outcomes[0][2]
    assert state.user(gus).props["accountEnabled"] is False and state.user(gus).sessions_revoked_at is None
    gone = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(NotFoundError):
        idp.offboarding_steps(gone, disable=True)


def test_keycloak_offboarding_steps_without_disable_still_end_sessions_and_offline_tokens():
    state = keycloak.demo_state()
    with start_app(keycloak.create_app(state)) as srv:
        source = KeycloakSource("kc", srv.url, keycloak.DEMO_REALM, keycloak.DEMO_CLIENT_ID, keycloak.DEMO_SECRET,
                                sleep=lambda s: None)
        idp = KeycloakIdp(source)
        ana = next(u.id for u in state.users.values() if u.username == "ana")
        assert [s.kind for s in idp.offboarding_steps(ana, disable=False)] == ["end_sessions",
                                                                               "remove_offline_tokens"]
        assert [s.kind for s in idp.lost_device_steps(ana)] == ["end_sessions", "remove_offline_tokens"]
        source.close()


# -- an IdP disable is wide: the last-admin and break-glass guards judge what it takes -------------


class _RecordingIdp:
    """An IdP that only records the steps it is asked to run (the store side is what is tested)."""

    name = "dir"

    def __init__(self) -> None:
        self.sent: list[str] = []

    def _step(self, kind: str) -> IdpStep:
        def run() -> RevokeResult:
            self.sent.append(kind)
            return RevokeResult(RevokeOutcome.done, kind)
        return IdpStep(kind, RequestPreview("POST", f"https://idp.test/{kind}"), run)

    def offboarding_steps(self, user_id: str, *, disable: bool) -> list[IdpStep]:
        return [self._step("disable_account")] * disable + [self._step("end_sessions")]

    def lost_device_steps(self, user_id: str) -> list[IdpStep]:
        return [self._step("end_sessions")]


@pytest.mark.parametrize(("sole_admin", "held"), [(True, True), (False, False)])
def test_disabling_the_idp_account_of_an_sso_last_admin_is_held(sqlite_engine, sole_admin, held):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from accessward.connectors.records import Level, PersonStatus
    from accessward.reconcile import offboarding
    from accessward.reconcile.policy import OffboardingPolicy, PolicySettings
    from accessward.sync.clock import utcnow
    from accessward.sync.runner import sync_access, sync_identity
    from tests.fakes import FakeAccess, FakeIdentity, RecordingRevoker, person

    people = [person("dana", status=PersonStatus.active), person("alex")]
    grants = [("dana", "suite", "Account Owner", Level.admin)]
    if not sole_admin:
        grants.append(("alex", "suite", "Account Owner", Level.admin))
    access = FakeAccess(grants=grants, facts={"dana": {"sso": True}})
    assert sync_identity(sqlite_engine, FakeIdentity(people=people)).ok
    assert sync_access(sqlite_engine, access).ok
    idp = _RecordingIdp()
    tools = offboarding.Tools(revokers={"social": RecordingRevoker(access)}, idps={"dir": idp},  # type: ignore[dict-item]
                              policy=PolicySettings(offboarding=OffboardingPolicy(disable_account=True)),
                              sleep=lambda s: None)
    ob, _ = offboarding.request(sqlite_engine, request_id="hr-1", person_key="dana", requested_by="hr",
                                effective_at=utcnow() - timedelta(minutes=1), source="test")
    assert ob.id is not None

    offboarding.run(sqlite_engine, ob.id, tools)

    from sqlmodel import Session, select

    from accessward.sync.service_models import OffboardingItem
    with Session(sqlite_engine) as session:
        items = {i.kind: i for i in session.execute(select(OffboardingItem)).scalars()}
    if held:
        assert idp.sent == ["end_sessions"]  # sessions end; the disable waits
        assert items["disable_account"].state == "held"
        assert "last admin of Suite" in items["disable_account"].detail and "SSO" in items["disable_account"].detail
    else:
        assert idp.sent == ["disable_account", "end_sessions"]
        assert items["disable_account"].state == "done"


def test_an_entra_guest_offboarding_whose_account_read_failed_finishes_on_the_next_run(graph, sqlite_engine):  # type: ignore[no-untyped-def]
    """Graph unavailable while reading userType: nothing is sent, the run is partial; the next run disables the
    guest and the offboarding is done (the failed read does not stay pending for ever)."""
    from datetime import timedelta

    from sqlmodel import Session, select

    from accessward.reconcile import offboarding
    from accessward.reconcile.policy import PolicySettings
    from accessward.sync.clock import utcnow
    from accessward.sync.runner import sync_identity
    from accessward.sync.service_models import OffboardingItem

    state, idp = graph
    assert sync_identity(sqlite_engine, idp.source).ok
    gus = _user(state, "Gus Guest")
    tools = offboarding.Tools(revokers={}, idps={"entra": idp}, policy=PolicySettings(), sleep=lambda s: None)
    ob, _ = offboarding.request(sqlite_engine, request_id="hr-gus", person_key="gus@agency.example",
                                requested_by="hr", effective_at=utcnow() - timedelta(minutes=1), source="test")
    assert ob.id is not None
    state.unavailable(times=10, route=f"/users/{gus}")

    first = offboarding.run(sqlite_engine, ob.id, tools)
    state.clear_faults()
    from sqlalchemy import update
    with Session(sqlite_engine) as session:  # the scheduler's retry is due
        session.execute(update(offboarding.Offboarding).values(next_attempt_at=utcnow()))
        session.commit()
    second = offboarding.run(sqlite_engine, ob.id, tools)

    with Session(sqlite_engine) as session:
        items = {i.kind: i.state for i in session.execute(select(OffboardingItem)).scalars()}
    assert first == "partially_done" and second == "done"
    assert items == {"read_account": "done", "disable_guest": "done"}
    assert state.user(gus).props["accountEnabled"] is False
    assert not [w for w in state.writes if w.action == "revokeSignInSessions"]
