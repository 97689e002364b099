"""``accessward check`` against every simulator, a real slapd and the real scim2-server.

Each capability is shown ``ok`` on a well-set world and ``missing`` when its simulator is set the way a
badly-authorised token is; the exit code follows what the settings and the policy rely on; and the run
writes nothing: no store file, no audit event, no write recorded by any simulator.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from accessward import exitcodes
from accessward.check import CheckReport, run_check
from accessward.cli import app
from accessward.connectors.preflight import CheckItem
from accessward.demo import INVENTORY, STAFF, network_env, network_sources, network_values
from accessward.sandbox import graph, keycloak, linkedin, meta, pinterest, scim, tiktok
from accessward.sandbox.server import start_app
from accessward.sandbox.slapd import SlapdServer, people_ldif
from accessward.sandbox.tls import TestCA, start_tls_app
from accessward.settings import load_settings
from tests.conftest import SlapdFactory

#: The demo's directory and network sources (``accessward.demo.NETWORK_SOURCES``), then the IdPs and the suite.
SETTINGS = """\
[store]
url = "sqlite:///accessward.db"

""" + network_sources("CHK") + """\
[[identity_sources]]
name = "entra"
type = "entra"
tenant_id = "{tenant}"
client_id = "{entra_client}"
client_secret = {{ env = "CHK_ENTRA_SECRET" }}
authority_host = "{graph_url}"
graph_url = "{graph_url}/v1.0"
ca_file = "{ca_file}"
leave_dates = {leave_dates}

[[identity_sources]]
name = "keycloak"
type = "keycloak"
server_url = "{keycloak_url}"
realm = "{realm}"
client_id = "{kc_client}"
client_secret = {{ env = "CHK_KC_SECRET" }}
ca_file = "{ca_file}"

[[access_sources]]
name = "suite"
type = "scim"
base_url = "{scim_url}"
token = {{ env = "CHK_SCIM_TOKEN" }}
workspace_id = "northwind"

[[access_sources]]
name = "x-youtube"
type = "manual"
path = "inventory.csv"

[policy]
{rules}
"""

REVOKING = '[policy.rules.orphaned]\naction = "revoke"\n'


@dataclass
class World:
    """The simulators' states (changed by a test before ``report``), and how to run the check."""

    directory: Path
    slapd: SlapdServer
    ca: TestCA
    meta: meta.MetaState = field(default_factory=meta.demo_state)
    linkedin: linkedin.LinkedInState = field(default_factory=linkedin.demo_state)
    tiktok: tiktok.TikTokState = field(default_factory=tiktok.demo_state)
    pinterest: pinterest.PinterestState = field(default_factory=pinterest.demo_state)
    graph: graph.GraphState = field(default_factory=graph.demo_state)
    keycloak: keycloak.KeycloakState = field(default_factory=keycloak.demo_state)
    scim_patch: bool = True
    leave_dates: bool = True
    rules: str = REVOKING
    env: dict[str, str] = field(default_factory=dict)
    suite: scim.ScimServer | None = None

    @contextlib.contextmanager
    def running(self) -> Iterator[Path]:
        """Serve every simulator; yield the settings file."""
        with contextlib.ExitStack() as stack:
            urls = {name: stack.enter_context(start_app(module.create_app(state))).url
                    for name, module, state in (("meta", meta, self.meta), ("linkedin", linkedin, self.linkedin),
                                                ("tiktok", tiktok, self.tiktok),
                                                ("pinterest", pinterest, self.pinterest))}
            graph_url = stack.enter_context(start_tls_app(graph.create_app(self.graph), self.ca)).url
            kc_url = stack.enter_context(start_tls_app(keycloak.create_app(self.keycloak), self.ca)).url
            self.suite = stack.enter_context(scim.start_scim_server(patch_supported=self.scim_patch))
            scim.demo_users(self.suite)
            text = SETTINGS.format(
                **network_values(self.slapd, urls, self.meta.business_id, self.linkedin.latest_version),
                tenant=graph.DEMO_TENANT, entra_client=graph.DEMO_CLIENT_ID, graph_url=graph_url,
                ca_file=self.ca.ca_file, leave_dates=str(self.leave_dates).lower(),
                keycloak_url=kc_url, realm=keycloak.DEMO_REALM, kc_client=keycloak.DEMO_CLIENT_ID,
                scim_url=self.suite.url, rules=self.rules)
            (self.directory / "accessward.toml").write_text(text)
            (self.directory / "inventory.csv").write_text(INVENTORY)
            env = {**network_env("CHK", self.slapd.password), "CHK_ENTRA_SECRET": graph.DEMO_SECRET,
                   "CHK_KC_SECRET": keycloak.DEMO_SECRET, "CHK_SCIM_TOKEN": scim.DEMO_TOKEN, **self.env}
            with pytest.MonkeyPatch.context() as mp:
                for key, value in env.items():
                    mp.setenv(key, value)
                yield self.directory / "accessward.toml"

    def report(self) -> CheckReport:
        with self.running() as config:
            return run_check(load_settings(config), config.parent)


@pytest.fixture(scope="module")
def ca() -> Iterator[TestCA]:
    with TestCA() as authority:
        yield authority


@pytest.fixture(scope="module")
def directory(slapd_factory: SlapdFactory) -> SlapdServer:
    return slapd_factory(people_ldif(STAFF), base_dn="dc=example,dc=com")


@pytest.fixture
def world(tmp_path: Path, directory: SlapdServer, ca: TestCA) -> World:
    return World(tmp_path, directory, ca)


def item(report: CheckReport, source: str, capability: str) -> CheckItem:
    found = {i.capability: i for s in report.sources if s.source == source for i in s.items}
    assert capability in found, f"{source} has no {capability!r}: {sorted(found)}"
    return found[capability]


def failing(report: CheckReport) -> set[tuple[str, str]]:
    return {(s.source, i.capability) for s in report.sources for i in s.failing}


def recorded_writes(w: World) -> list[Any]:
    """Every call any simulator recorded that is not a read (token requests are not recorded as API calls)."""
    out: list[Any] = []
    for state in (w.meta, w.linkedin, w.tiktok, w.pinterest, w.graph, w.keycloak):
        out += [r for r in state.requests if r.method != "GET"]
    out += list(w.graph.writes) + list(w.keycloak.writes)
    assert w.suite is not None
    out += w.suite.faults.writes
    return out


# -- the whole world, well set ---------------------------------------------------------------------


def test_a_well_set_world_passes_and_nothing_is_written(world: World) -> None:
    report = world.report()
    assert [s.source for s in report.sources] == ["directory", "entra", "keycloak", "meta", "linkedin", "tiktok",
                                                  "pinterest", "suite", "x-youtube"]
    assert failing(report) == set() and report.exit_code == exitcodes.OK
    for source, capability in [("directory", "bind and read people"), ("entra", "leave dates readable"),
                               ("entra", "read users"), ("entra", "end sign-in sessions"),
                               ("keycloak", "user-profile attributes declared"), ("keycloak", "users readable"),
                               ("meta", "permission business_management"), ("meta", "permission pages_manage_metadata"),
                               ("linkedin", "ADMINISTRATOR of the organization"),
                               ("tiktok", f"BC {tiktok.DEMO_BC_ID} ADMIN"),
                               ("pinterest", "members readable (biz_access:read)"),
                               ("suite", "PATCH active=false (deactivate)"), ("x-youtube", "inventory readable")]:
        assert item(report, source, capability).status == "ok", (source, capability)
    # no documented read tells these: unknown with the reason, never a guessed ok
    for source, capability in [("pinterest", "scope biz_access:write"), ("linkedin", "scope rw_organization_admin")]:
        got = item(report, source, capability)
        assert got.status == "unknown" and got.detail and got.fix
    # it asked the platforms (the documented reads), and wrote nothing anywhere
    assert world.meta.calls_to("me/permissions")
    for state in (world.meta, world.linkedin, world.tiktok, world.pinterest, world.graph, world.keycloak):
        assert state.requests, f"{type(state).__name__} was never asked"  # the next line is not vacuous
    assert recorded_writes(world) == []
    assert world.meta.revoke_calls == [] and world.linkedin.writes == [] and world.pinterest.writes == []
    assert sorted(p.name for p in world.directory.iterdir()) == ["accessward.toml", "inventory.csv"]  # no store
    blob = json.dumps(report.as_json())
    for secret in (meta.DEMO_TOKEN, linkedin.DEMO_TOKEN, tiktok.DEMO_TOKEN, pinterest.DEMO_TOKEN, scim.DEMO_TOKEN,
                   graph.DEMO_SECRET, keycloak.DEMO_SECRET, world.slapd.password):
        assert secret not in blob


def test_cli_json_exit_code_and_a_narrow_table(world: World) -> None:
    world.tiktok.tokens[tiktok.DEMO_TOKEN].user_id = "7300000000000000004"  # Priya: a STANDARD member
    runner = CliRunner()
    with world.running() as config:
        as_json = runner.invoke(app, ["-c", str(config), "check", "--format", "json"])
        # the real command in its own process, its output a pipe (not a terminal) 60 columns wide
        table = subprocess.run([sys.executable, "-m", "accessward", "-c", str(config), "check"], capture_output=True,
                               text=True, env={**os.environ, "COLUMNS": "60"}, timeout=120, check=False)
    assert as_json.exit_code == exitcodes.CHECK_MISSING == 8, as_json.output
    body = json.loads(as_json.stdout)
    assert body["ok"] is False and body["exit_code"] == 8 and body["revoking_rules"] == ["orphaned"]
    tk = next(s for s in body["sources"] if s["source"] == "tiktok")
    assert tk["failing"] == [f"BC {tiktok.DEMO_BC_ID} ADMIN"]
    assert table.returncode == 8, table.stderr
    assert max(len(line) for line in table.stdout.splitlines()) <= 60
    assert "missing" in table.stdout and "ADMIN of BC" in table.stdout.replace("\n", " ")
    assert "\x1b[" not in table.stdout  # not a terminal: no colour codes
    with world.running() as config:
        only = runner.invoke(app, ["-c", str(config), "check", "-f", "json", "--source", "meta"])
    assert only.exit_code == exitcodes.OK and [s["source"] for s in json.loads(only.stdout)["sources"]] == ["meta"]
    assert recorded_writes(world) == []
    assert not (world.directory / "accessward.db").exists()


# -- each capability: missing, and whether the policy relies on it ---------------------------------


def test_meta_permission_missing_fails_only_while_a_rule_revokes(world: World) -> None:
    world.meta.add_token("limited", scopes=frozenset({"business_management", "pages_show_list"}))
    world.env["CHK_META_TOKEN"] = "limited"
    report = world.report()
    got = item(report, "meta", "permission pages_manage_metadata")
    assert got.status == "missing" and "pages_manage_metadata" in got.fix and got.use == "revoke"
    assert failing(report) == {("meta", "permission pages_manage_metadata")}
    assert report.exit_code == exitcodes.CHECK_MISSING
    world.rules = ""  # flag-only: nothing revokes, so nothing relies on the revoke permission
    flag_only = world.report()
    assert item(flag_only, "meta", "permission pages_manage_metadata").status == "missing"
    assert flag_only.exit_code == exitcodes.OK


def test_meta_without_business_management_cannot_read(world: World) -> None:
    world.meta.add_token("pages-only", scopes=frozenset({"pages_show_list"}))
    world.env["CHK_META_TOKEN"] = "pages-only"
    world.rules = ""
    report = world.report()
    assert item(report, "meta", "permission business_management").status == "missing"
    assert item(report, "meta", "Pages listed").status == "missing"
    assert report.exit_code == exitcodes.CHECK_MISSING  # a read the sync relies on


def test_meta_expired_token_is_missing_with_the_fix(world: World) -> None:
    world.meta.add_token("expired", ttl_seconds=-1)
    world.env["CHK_META_TOKEN"] = "expired"
    report = world.report()
    assert item(report, "meta", "business visible").status == "missing"
    assert item(report, "meta", "token permissions").status == "missing"
    assert report.exit_code == exitcodes.CHECK_MISSING


def test_entra_leave_dates_unreadable_fails_while_used(world: World) -> None:
    app_reg = world.graph.apps[graph.DEMO_CLIENT_ID]
    app_reg.roles = app_reg.roles - {"User-LifeCycleInfo.Read.All"}
    report = world.report()
    got = item(report, "entra", "leave dates readable")
    assert got.status == "missing" and got.relied_on
    assert "User-LifeCycleInfo.Read.All" in got.detail and "leave_dates = false" in got.fix
    assert ("entra", "leave dates readable") in failing(report)
    assert report.exit_code == exitcodes.CHECK_MISSING
    world.leave_dates = False
    off = world.report()
    assert item(off, "entra", "leave dates readable").status == "missing"
    assert ("entra", "leave dates readable") not in failing(off) and off.exit_code == exitcodes.OK


def test_entra_idp_actions_are_relied_on_whatever_the_rules(world: World) -> None:
    """Offboarding and lost devices end sessions (and disable guests) on the IdP even in flag-only mode."""
    world.graph.apps[graph.DEMO_CLIENT_ID].roles = frozenset({"User.Read.All", "User-LifeCycleInfo.Read.All",
                                                               "UserAuthenticationMethod.Read.All"})
    world.rules = ""
    report = world.report()
    assert item(report, "entra", "read users").status == "ok"
    sessions = item(report, "entra", "end sign-in sessions")
    assert sessions.status == "missing" and "User.RevokeSessions.All" in sessions.fix
    assert failing(report) == {("entra", "end sign-in sessions"), ("entra", "remove MFA methods (lost device)"),
                               ("entra", "disable accounts")}
    assert report.exit_code == exitcodes.CHECK_MISSING
    world.graph.apps[graph.DEMO_CLIENT_ID].roles |= {"User.RevokeSessions.All", "User.EnableDisableAccount.All",
                                                      "UserAuthenticationMethod.ReadWrite.All"}
    assert world.report().exit_code == exitcodes.OK  # the least-privileged set is enough
    world.graph.apps[graph.DEMO_CLIENT_ID].roles = frozenset()
    none = world.report()
    assert item(none, "entra", "read users").status == "missing"


def test_entra_wrong_secret_is_missing(world: World) -> None:
    world.env["CHK_ENTRA_SECRET"] = "not-the-secret"
    report = world.report()
    assert item(report, "entra", "app token").status == "missing"
    assert "not-the-secret" not in json.dumps(report.as_json())


def test_keycloak_undeclared_profile_attribute_is_missing(world: World) -> None:
    world.keycloak = keycloak.demo_state()
    world.keycloak.declared = tuple(a for a in world.keycloak.declared if a != "employeeNumber")
    report = world.report()
    got = item(report, "keycloak", "user-profile attributes declared")
    assert got.status == "missing" and "employeeNumber" in got.detail
    assert ("keycloak", "user-profile attributes declared") in failing(report)


def test_keycloak_without_view_users_is_missing(world: World) -> None:
    world.keycloak.clients[(keycloak.DEMO_REALM, keycloak.DEMO_CLIENT_ID)].roles = frozenset()
    report = world.report()
    assert item(report, "keycloak", "users readable").status == "missing"


def test_keycloak_manage_users_from_the_token_roles(world: World) -> None:
    manage = "end sessions / disable users (manage-users)"
    assert item(world.report(), "keycloak", manage).status == "ok"
    world.keycloak.clients[(keycloak.DEMO_REALM, keycloak.DEMO_CLIENT_ID)].roles = frozenset({"view-users",
                                                                                            "query-users"})
    world.rules = ""
    report = world.report()
    got = item(report, "keycloak", manage)
    assert got.status == "missing" and "manage-users" in got.fix and "view-users" in got.detail
    assert item(report, "keycloak", "users readable").status == "ok"
    assert report.exit_code == exitcodes.CHECK_MISSING  # offboarding ends Keycloak sessions whatever the rules
    assert world.keycloak.writes == []


def test_linkedin_member_not_administrator(world: World) -> None:
    world.linkedin.add_token("analyst", linkedin.DEMO_MEMBERS["priya"])
    world.env["CHK_LINKEDIN_TOKEN"] = "analyst"
    report = world.report()
    assert item(report, "linkedin", "ADMINISTRATOR of the organization").status == "missing"
    assert item(report, "linkedin", "organization ACLs readable").status == "missing"  # LinkedIn: admins only


def test_tiktok_standard_member_cannot_revoke(world: World) -> None:
    world.tiktok.tokens[tiktok.DEMO_TOKEN].user_id = "7300000000000000004"
    world.rules = ""
    report = world.report()
    got = item(report, "tiktok", f"BC {tiktok.DEMO_BC_ID} ADMIN")
    assert got.status == "missing" and "user_role STANDARD" in got.detail and not got.relied_on
    assert report.exit_code == exitcodes.OK  # flag-only


def test_tiktok_bc_the_token_does_not_see_is_missing(world: World) -> None:
    other = tiktok.demo_state()
    other.add_token("outsider", "7399999999999999999")
    world.tiktok = other
    world.env["CHK_TIKTOK_TOKEN"] = "outsider"
    report = world.report()
    got = item(report, "tiktok", f"BC {tiktok.DEMO_BC_ID} visible")
    assert got.status == "missing" and report.exit_code == exitcodes.CHECK_MISSING


def test_pinterest_without_read_scope(world: World) -> None:
    world.pinterest.add_token("no-read", scopes=frozenset({"user_accounts:read"}))
    world.env["CHK_PINTEREST_TOKEN"] = "no-read"
    report = world.report()
    assert item(report, "pinterest", "members readable (biz_access:read)").status == "missing"
    assert report.exit_code == exitcodes.CHECK_MISSING


def test_scim_without_patch_cannot_deactivate(world: World) -> None:
    world.scim_patch = False
    report = world.report()
    got = item(report, "suite", "PATCH active=false (deactivate)")
    assert got.status == "missing" and 'revoke_mode = "delete"' in got.fix
    assert failing(report) == {("suite", "PATCH active=false (deactivate)")}


def test_ldap_wrong_password_is_missing(world: World) -> None:
    world.env["CHK_LDAP_PASSWORD"] = "wrong-password"
    report = world.report()
    got = item(report, "directory", "bind and read people")
    assert got.status == "missing" and "bind" in got.fix
    assert "wrong-password" not in json.dumps(report.as_json())
    assert report.exit_code == exitcodes.CHECK_MISSING


def test_manual_inventory_with_a_bad_row_is_missing(world: World) -> None:
    def bad(config: Path) -> None:
        (config.parent / "inventory.csv").write_text(INVENTORY + "x,@a,A,@b,B,b@example.com,Owner,emperor,2026-01-01\n")

    with world.running() as config:
        bad(config)
        report = run_check(load_settings(config), config.parent)
    assert item(report, "x-youtube", "inventory readable").status == "missing"



def test_meta_page_token_for_each_page(world: World) -> None:
    """A Page the system user may not manage gives no Page token: missing, with the fix; the others are ok."""
    pages = sorted(world.meta.pages)
    world.meta.tokens[meta.DEMO_TOKEN].pages = frozenset(pages[1:])
    report = world.report()
    refused = item(report, "meta", f"Page token {pages[0]}")
    assert refused.status == "missing" and "PROFILE_PLUS_FULL_CONTROL" in refused.fix
    assert all(item(report, "meta", f"Page token {p}").status == "ok" for p in pages[1:])
    assert report.exit_code == exitcodes.CHECK_MISSING
    assert world.meta.revoke_calls == []
    blob = json.dumps(report.as_json())
    assert not any(t.startswith("EAAP") and t in blob for t in world.meta.tokens)  # no Page token shown


def test_meta_every_page_token_is_ok_on_the_demo_business(world: World) -> None:
    report = world.report()
    rows = [i for s in report.sources if s.source == "meta" for i in s.items if i.capability.startswith("Page token")]
    assert len(rows) == len(world.meta.pages) and all(r.status == "ok" and r.relied_on for r in rows)


# -- Active Directory on a slapd with the AD test schema (the real AD runs in tests/connectors/test_samba_ad.py) --


def test_ad_nested_groups_invisible_is_missing_and_deleted_objects_unknown_off_a_dc(
        slapd_factory: SlapdFactory) -> None:
    """A slapd with the AD schema has no ``group`` objects and no highestCommittedUSN: the check says the
    nested groups are not visible (missing, the AD preset expands them) and cannot tell Deleted Objects."""
    from accessward.connectors.ldap import LdapSource, LdapSourceConfig
    from accessward.connectors.ldap import check as ldap_check
    from accessward.sandbox.slapd import SeedPerson

    base = "dc=corp,dc=example,dc=com"
    group = f"cn=Social Media Admins,ou=groups,{base}"
    people = [SeedPerson("jdoe", sn="Doe", mail="jdoe@example.com", groups=(group,))]
    server = slapd_factory(people_ldif(people, base_dn=base, flavor="active_directory"), base_dn=base,
                           ad_schema=True)
    source = LdapSource(LdapSourceConfig(name="ad", url=server.url, base_dn=base, bind_dn=server.bind_dn,
                                         password=server.password, schema="active_directory",
                                         user_filter="(objectClass=user)"))
    items = {i.capability: i for i in ldap_check(source)}
    assert items["bind and read people"].status == "ok"
    nested = items["nested groups visible"]
    assert nested.status == "missing" and nested.relied_on and "memberOf" in nested.fix
    deleted = items["Deleted Objects readable"]
    assert deleted.status == "unknown" and "not an AD DC" in deleted.detail
    off = LdapSource(LdapSourceConfig(name="ad", url=server.url, base_dn=base, bind_dn=server.bind_dn,
                                      password=server.password, schema="active_directory",
                                      user_filter="(objectClass=user)", deleted_objects=False))
    assert not {i.capability: i for i in ldap_check(off)}["Deleted Objects readable"].relied_on
