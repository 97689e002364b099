"""POST /v1/devices/lost and `accessward device lost`: sessions end, the device's MFA method goes, the rest
is flagged."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from accessward.sync.models import Finding


def kc_credentials(world, user: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {c.user_label: c.type for c in world.kc.user(world.kc_ids[user]).credentials if c.user_label}


def test_a_lost_phone_ends_sessions_removes_its_authenticator_and_flags_native_logins(world, rt, client):
    desk = world.token(rt.engine, "service_desk")
    response = client.post("/v1/devices/lost", headers=desk,
                           json={"person": "dana.leaver@example.com", "device": "dana's pixel 8", "status": "stolen",
                                 "request_id": "sd-1"})
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["outcome"] == "done" and report["status"] == "stolen"
    [idp] = report["identity_providers"]
    assert [(a["action"], a["state"]) for a in idp["actions"]] == [
        ("end_sessions", "done"), ("remove_offline_tokens", "already_gone"), ("remove_mfa_method", "done")]
    assert [m["label"] for m in idp["device_methods_left"]] == ["Dana's YubiKey"]

    # the IdP agrees: no session, the phone's OTP gone, the security key kept, the account still enabled
    dana = world.kc.user(world.kc_ids["dana.leaver"])
    assert dana.sessions == [] and dana.enabled is True
    assert dana.required_actions == ["CONFIGURE_TOTP"]  # her only OTP is gone: set one up at next sign-in
    assert kc_credentials(world, "dana.leaver") == {"Dana's YubiKey": "webauthn"}
    assert world.kc.user(world.kc_ids["alex.morgan"]).credentials  # nobody else touched

    # no network reports SSO for Dana's accounts: each grant is flagged, none revoked
    assert len(report["flagged"]) == 6 and report["cut_centrally"] == 0
    assert world.meta.revoke_calls == [] and world.tiktok.writes == []
    with Session(rt.engine) as s:
        findings = list(s.execute(select(Finding).where(Finding.rule == "lost_device")).scalars())
    assert len(findings) == 6 and {f.state for f in findings} == {"open"}
    rows = client.get("/v1/reports/findings", headers=world.token(rt.engine, "auditor")).json()
    assert sum(1 for r in rows if r["rule"] == "lost_device") == 6

    again = client.post("/v1/devices/lost", headers=desk, json={"person": "E1002", "request_id": "sd-1"})
    assert again.status_code == 200 and again.json()["id"] == report["id"]
    assert len(world.kc.calls_to("/logout", "POST")) == 1


def test_without_a_device_name_nothing_is_removed_and_the_methods_are_listed(world, rt, client):
    response = client.post("/v1/devices/lost", headers=world.token(rt.engine, "service_desk"),
                           json={"person": "E1002"})
    report = response.json()
    [idp] = report["identity_providers"]
    assert [a["action"] for a in idp["actions"]] == ["end_sessions", "remove_offline_tokens"]
    assert {m["label"] for m in idp["device_methods_left"]} == {"Dana's Pixel 8", "Dana's YubiKey"}
    assert len(kc_credentials(world, "dana.leaver")) == 2
    assert any("no device named" in n for n in report["notes"])


def test_only_the_service_desk_reports_devices(world, rt, client):
    for role in ("hr", "auditor"):
        response = client.post("/v1/devices/lost", headers=world.token(rt.engine, role), json={"person": "E1002"})
        assert response.status_code == 403
    assert world.kc.user(world.kc_ids["dana.leaver"]).sessions
    unknown = client.post("/v1/devices/lost", headers=world.token(rt.engine, "service_desk"),
                          json={"person": "nobody@example.com"})
    assert unknown.status_code == 422


def test_a_guest_disable_that_would_lock_out_a_last_sso_admin_is_held(sqlite_engine):  # type: ignore[no-untyped-def]
    """A lost device of an agency guest: the guest's disable is held when it would leave a resource without an
    admin who can sign in; nothing is sent for it."""
    from accessward.connectors.idp import IdpStep
    from accessward.connectors.records import Level, RequestPreview, RevokeOutcome, RevokeResult
    from accessward.reconcile import lost_device
    from accessward.reconcile.correlate import correlate
    from accessward.sync.runner import sync_access, sync_identity
    from tests.fakes import FakeAccess, FakeIdentity, person

    sent: list[str] = []

    class GuestIdp:
        name = "dir"

        def lost_device_steps(self, user_id: str) -> list[IdpStep]:
            return [IdpStep("disable_guest", RequestPreview("PATCH", f"https://idp.test/users/{user_id}"),
                            lambda: sent.append("disable_guest") or RevokeResult(RevokeOutcome.done, "disabled"))]

        def mfa_methods(self, user_id: str) -> list:  # type: ignore[type-arg]
            return []

    assert sync_identity(sqlite_engine, FakeIdentity(people=[person("gus")])).ok
    access = FakeAccess(grants=[("gus", "suite", "Account Owner", Level.admin)], facts={"gus": {"sso": True}})
    assert sync_access(sqlite_engine, access).ok
    correlate(sqlite_engine)  # the nightly run links gus's account to gus
    tools = lost_device.DeviceTools({"dir": GuestIdp()})  # type: ignore[dict-item]

    rep, _ = lost_device.report(sqlite_engine, person_key="gus", device="", status="lost", reported_by="desk",
                                tools=tools)

    [side] = rep.result["identity_providers"]
    [action] = side["actions"]
    assert (action["action"], action["state"]) == ("disable_guest", "held") and "last admin" in action["detail"]
    assert sent == [] and rep.outcome == "partially_done"
