"""Issue 4 end to end: `accessward sync` with an Entra and a Keycloak source fills SSO/MFA facts
that `accessward report access` shows, and the same human seen by both IdPs is one person."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlmodel import Session
from typer.testing import CliRunner

from accessward.cli import app
from accessward.sandbox import graph, keycloak
from accessward.sandbox.meta import create_app as meta_app
from accessward.sandbox.meta_state import MetaState
from accessward.sandbox.server import start_app
from accessward.sandbox.tls import TestCA, start_tls_app
from accessward.sync.db import open_store
from accessward.sync.models import Finding, Link

TOKEN = "posture-meta-token"


def test_entra_and_keycloak_posture_reaches_the_access_report(tmp_path):
    meta = MetaState("100000000000001", "Contoso")
    meta.add_token(TOKEN)
    page = meta.add_page("Contoso Coffee")
    for name, email in (("Ana Admin", "ana.admin@contoso.example"), ("Sam Social", "sam.social@contoso.example"),
                        ("Lee Leaver", "lee.leaver@contoso.example")):
        meta.assign(page.id, meta.add_business_user(name, email).id, ["MANAGE"])

    with TestCA() as ca, start_tls_app(graph.create_app(graph.demo_state()), ca) as entra, \
            start_tls_app(keycloak.create_app(keycloak.demo_state()), ca) as kc, \
            start_app(meta_app(meta)) as meta_server:
        (tmp_path / "accessward.toml").write_text(f"""
[[identity_sources]]
name = "entra"
type = "entra"
tenant_id = "{graph.DEMO_TENANT}"
client_id = "{graph.DEMO_CLIENT_ID}"
client_secret = {{ env = "T_ENTRA_SECRET" }}
authority_host = "{entra.url}"
graph_url = "{entra.url}/v1.0"
ca_file = "{ca.ca_file}"

[[identity_sources]]
name = "keycloak"
type = "keycloak"
server_url = "{kc.url}"
realm = "{keycloak.DEMO_REALM}"
client_id = "{keycloak.DEMO_CLIENT_ID}"
client_secret = {{ env = "T_KC_SECRET" }}
ca_file = "{ca.ca_file}"

[[access_sources]]
name = "meta"
type = "meta"
base_url = "{meta_server.url}/v21.0"
business_id = "{meta.business_id}"
access_token = {{ env = "T_META_TOKEN" }}
""")
        env = {"T_ENTRA_SECRET": graph.DEMO_SECRET, "T_KC_SECRET": keycloak.DEMO_SECRET, "T_META_TOKEN": TOKEN,
               "ACCESSWARD_DATABASE_URL": "", "COLUMNS": "250"}

        def run(*args: str) -> tuple[int, str]:
            result = CliRunner().invoke(app, ["-c", str(tmp_path / "accessward.toml"), *args], env=env,
                                        catch_exceptions=False)
            return result.exit_code, result.output

        code, out = run("sync")
        assert code == 0, out
        code, out = run("report", "access", "-f", "json")
        assert code == 0, out

    rows = {r["account"]: r for r in json.loads(out)}
    assert (rows["Ana Admin"]["person_sso"], rows["Ana Admin"]["person_mfa"]) == ("yes", "yes")
    assert rows["Sam Social"]["person_mfa"] == "no"
    assert rows["Lee Leaver"]["person_status"] == "suspended"
    assert "microsoftAuthenticator" in rows["Ana Admin"]["person_mfa_methods"] or \
        "otp" in rows["Ana Admin"]["person_mfa_methods"]

    engine = open_store(f"sqlite:///{tmp_path / 'accessward.db'}")
    with Session(engine) as s:
        links = s.execute(select(Link)).scalars().all()
    assert all(not lk.disputed and lk.person_id for lk in links), "one human in two IdPs is not a dispute"
    assert all(len(lk.candidates) == 2 for lk in links)

    code, out = run_reconcile(tmp_path, env)
    assert code == 0, out
    with Session(engine) as s:
        found = sorted((f.rule, f.evidence["account_name"], f.evidence["reason"])
                       for f in s.execute(select(Finding)).scalars())
    assert ("mfa_required", "Sam Social", "no_mfa_in_idp") in found
    assert ("orphaned", "Lee Leaver", "disabled") in found
    assert not [f for f in found if f[1] == "Ana Admin"]


def run_reconcile(tmp_path, env):  # the store is local; no simulator needed to reconcile
    result = CliRunner().invoke(app, ["-c", str(tmp_path / "accessward.toml"), "reconcile"], env=env,
                                catch_exceptions=False)
    return result.exit_code, result.output
