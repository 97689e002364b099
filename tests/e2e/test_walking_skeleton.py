"""End to end: a real slapd, the Meta simulator, the CLI, a SQLite store.

A person has left (terminated in the directory) but still manages the brand's Facebook page.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session
from typer.testing import CliRunner

from accessward import exitcodes
from accessward.cli import app
from accessward.demo import STAFF
from accessward.sandbox.meta import create_app
from accessward.sandbox.meta_state import MetaState
from accessward.sandbox.server import RunningServer, start_app
from accessward.sandbox.slapd import SlapdServer, people_ldif
from accessward.sync.db import open_store
from accessward.sync.models import Action, AuditEvent, Finding

TOKEN = "e2e-meta-token"
EVERYTHING = ["MANAGE", "CREATE_CONTENT", "MODERATE", "MESSAGING", "ADVERTISE", "ANALYZE"]


@dataclass
class World:
    slapd: SlapdServer
    meta: MetaState
    meta_server: RunningServer
    dir: Path
    ids: dict[str, str]

    def settings(self, action: str = "revoke", max_revocations: int = 10) -> Path:
        path = self.dir / "accessward.toml"
        path.write_text(f"""
[store]
url = "sqlite:///accessward.db"

[[identity_sources]]
name = "ldap"
type = "ldap"
url = "{self.slapd.url}"
bind_dn = "{self.slapd.bind_dn}"
bind_password = {{ env = "E2E_LDAP_PASSWORD" }}
base_dn = "{self.slapd.base_dn}"

[[access_sources]]
name = "meta"
type = "meta"
base_url = "{self.meta_server.url}/v21.0"
business_id = "{self.meta.business_id}"
access_token = {{ env = "E2E_META_TOKEN" }}

[[principals]]
id = "ciso"
email = "ciso@example.com"

[policy]
max_revocations = {max_revocations}

[policy.rules.orphaned]
action = "{action}"
""")
        return path

    def run(self, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, ["--config", str(self.dir / "accessward.toml"), *args], env={
            "E2E_LDAP_PASSWORD": self.slapd.password, "E2E_META_TOKEN": TOKEN,
            "ACCESSWARD_DATABASE_URL": "", "COLUMNS": "300",
        }, catch_exceptions=False)
        return result.exit_code, result.output

    def access_report(self, name: str) -> set[tuple[str, str, str]]:
        code, out = self.run("report", "access", "-o", str(self.dir / name))
        assert code == 0, out
        with (self.dir / name).open() as fh:
            return {(r["resource"], r["account"], r["role"]) for r in csv.DictReader(fh)}

    def engine(self):  # type: ignore[no-untyped-def]
        return open_store(f"sqlite:///{self.dir / 'accessward.db'}")


@pytest.fixture
def world(slapd_factory, tmp_path) -> Iterator[World]:  # type: ignore[no-untyped-def]
    slapd = slapd_factory(people_ldif(STAFF))
    state = MetaState("100000000000001", "Northwind")
    state.add_token(TOKEN)
    main = state.add_page("Northwind Coffee")
    careers = state.add_page("Northwind Careers")
    ids = {}
    for p in STAFF:
        ids[p.uid] = state.add_business_user(p.common_name, p.mail or "").id
    scheduler = state.add_system_user("Scheduler")
    state.assign(main.id, ids["alex.morgan"], EVERYTHING)
    state.assign(main.id, ids["dana.leaver"], ["MANAGE", "CREATE_CONTENT"])  # the leaver, still admin
    state.assign(main.id, ids["priya.shah"], ["ANALYZE"])
    state.assign(main.id, scheduler.id, ["CREATE_CONTENT"])
    state.assign(careers.id, ids["jordan.lee"], ["CREATE_CONTENT", "MODERATE"])
    state.assign(careers.id, ids["alex.morgan"], EVERYTHING)
    ids["main"], ids["careers"] = main.id, careers.id
    with start_app(create_app(state)) as server:
        yield World(slapd, state, server, tmp_path, ids)
    if slapd.running:
        slapd.stop()


def test_orphaned_on_revoke_removes_exactly_the_leavers_access(world):
    world.settings(action="revoke")
    code, out = world.run("sync")
    assert code == 0, out
    before = world.access_report("before.csv")
    code, out = world.run("apply")
    assert code == 0, out

    deletes = [(c.path, c.params.get("user")) for c in world.meta.revoke_calls]
    assert deletes == [(f"/v21.0/{world.ids['main']}/assigned_users", world.ids["dana.leaver"])]
    assert not world.meta.is_assigned(world.ids["main"], world.ids["dana.leaver"])
    assert world.meta.is_assigned(world.ids["main"], world.ids["alex.morgan"])

    with Session(world.engine()) as s:
        actions = s.execute(select(Action)).scalars().all()
        events = [e.kind for e in s.execute(select(AuditEvent)).scalars()]
    assert [(a.state, a.system) for a in actions] == [("done", "meta")]
    assert events.count("revocation.done") == 1

    after = world.access_report("after.csv")
    assert before - after == {("Northwind Coffee", "Dana Leaver", "CREATE_CONTENT,MANAGE")}
    assert after - before == set()

    code, out = world.run("sync")  # the platform agrees on the next sync
    assert code == 0 and world.access_report("after-sync.csv") == after
    assert world.run("audit", "verify")[0] == 0


def test_orphaned_on_flag_removes_nothing_and_opens_a_finding(world):
    world.settings(action="flag")
    assert world.run("sync")[0] == 0
    code, out = world.run("apply")
    assert code == 0, out
    assert world.meta.revoke_calls == []
    assert world.meta.is_assigned(world.ids["main"], world.ids["dana.leaver"])
    with Session(world.engine()) as s:
        findings = s.execute(select(Finding)).scalars().all()
    assert [(f.rule, f.state, f.evidence["reason"], f.evidence["account_name"]) for f in findings] == [
        ("orphaned", "open", "terminated", "Dana Leaver")]


def test_ldap_down_revokes_nothing(world):
    """The directory never answered: every account looks unmatched, and nothing is revoked."""
    world.settings(action="revoke")
    world.slapd.stop()
    code, out = world.run("sync")
    assert code == exitcodes.SOURCE_FAILED and "failed" in out
    code, out = world.run("apply")
    assert world.meta.revoke_calls == []
    assert "5 held back" in out and "ldap: newest sync (run 1) failed: transient" in out


def test_ldap_down_after_a_good_run_revokes_nothing(world):
    world.settings(action="flag")
    assert world.run("sync")[0] == 0
    world.slapd.stop()
    world.settings(action="revoke")
    assert world.run("sync")[0] == exitcodes.SOURCE_FAILED
    world.run("apply")
    assert world.meta.revoke_calls == []


def test_threshold_stops_before_the_first_revocation(world):
    world.settings(action="revoke", max_revocations=0)
    assert world.run("sync")[0] == 0
    code, out = world.run("apply")
    assert code == exitcodes.NEEDS_APPROVAL, out
    assert "exceed max_revocations = 0" in out and world.meta.revoke_calls == []
    with Session(world.engine()) as s:
        (action,) = s.execute(select(Action)).scalars().all()
        plan_id = action.plan_id
    assert action.state == "planned"
    assert world.run("approve", str(plan_id))[0] == exitcodes.CONFIG  # a personal token is needed
    code, out = world.run("token", "create", "--principal", "ciso", "--role", "approver", "--name", "ciso")
    assert code == 0, out
    assert world.run("approve", str(plan_id), "--token", out.strip().splitlines()[-1])[0] == 0
    code, out = world.run("apply", "--plan", str(plan_id))
    assert code == 0, out
    assert len(world.meta.revoke_calls) == 1
