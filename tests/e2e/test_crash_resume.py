"""Invariant 4: an apply killed in the middle is finished by the next one, no duplicates, no losses.

The Meta simulator lets the 4th removal happen on the platform and then the apply process is
killed with SIGKILL before it hears the answer — the worst moment. A second apply, in a fresh
process, must finish the plan: every planned grant removed exactly once on the platform, every
action recorded once with a final state. Runs on SQLite and on a real PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from accessward.demo import STAFF
from accessward.sandbox.meta import create_app
from accessward.sandbox.meta_state import MetaState
from accessward.sandbox.server import start_app
from accessward.sandbox.slapd import SeedPerson, people_ldif
from accessward.sync.db import open_store
from accessward.sync.models import Action, Plan

TOKEN = "crash-token"
LEAVERS = [SeedPerson(f"leaver{i}", "Lee", f"Ver{i}", mail=f"leaver{i}@example.com", status="terminated")
           for i in range(8)]


class KillOnNthDelete:
    """Forward to the simulator; after the Nth DELETE has been applied, kill the client process."""

    def __init__(self, app: ASGIApp, n: int):
        self.app, self.n, self.deletes, self.victim = app, n, 0, 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "DELETE":
            self.deletes += 1
            if self.deletes == self.n and self.victim:
                async def swallow(message: dict) -> None:  # the platform acted; the client never hears it
                    if message["type"] == "http.response.body" and not message.get("more_body"):
                        os.kill(self.victim, signal.SIGKILL)

                await self.app(scope, receive, swallow)
                return
        await self.app(scope, receive, send)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_database")


def test_killed_apply_is_finished_without_duplicates_or_losses(slapd_factory, tmp_path: Path, database_url):
    slapd = slapd_factory(people_ldif([*STAFF, *LEAVERS]))
    state = MetaState("100000000000001", "Northwind")
    state.add_token(TOKEN)
    page = state.add_page("Northwind Coffee")
    admin = state.add_business_user("Alex Morgan", "alex.morgan@example.com")
    state.assign(page.id, admin.id, ["MANAGE"])
    leaver_ids = []
    for p in LEAVERS:
        user = state.add_business_user(p.common_name, p.mail or "")
        state.assign(page.id, user.id, ["CREATE_CONTENT", "MODERATE"])
        leaver_ids.append(user.id)
    killer = KillOnNthDelete(create_app(state), n=4)

    with start_app(killer) as server:
        (tmp_path / "accessward.toml").write_text(f"""
[[identity_sources]]
name = "ldap"
type = "ldap"
url = "{slapd.url}"
bind_dn = "{slapd.bind_dn}"
bind_password = {{ env = "CRASH_LDAP_PASSWORD" }}
base_dn = "{slapd.base_dn}"

[[access_sources]]
name = "meta"
type = "meta"
base_url = "{server.url}/v21.0"
business_id = "{state.business_id}"
access_token = {{ env = "CRASH_META_TOKEN" }}

[policy]
max_revocations = 50
max_revocation_share = 1.0

[policy.rules.orphaned]
action = "revoke"
""")
        env = {**os.environ, "ACCESSWARD_CONFIG": str(tmp_path / "accessward.toml"), "CRASH_LDAP_PASSWORD":
               slapd.password, "CRASH_META_TOKEN": TOKEN, "ACCESSWARD_DATABASE_URL": database_url}

        def accessward(*args: str) -> subprocess.Popen[bytes]:
            return subprocess.Popen([sys.executable, "-m", "accessward", *args], env=env, cwd=tmp_path,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

        sync = accessward("sync")
        assert sync.wait(60) == 0, sync.stdout.read() if sync.stdout else ""

        first = accessward("apply")
        killer.victim = first.pid
        assert first.wait(60) == -signal.SIGKILL, "the first apply must die mid-plan"
        killer.victim = 0
        assert sum(1 for i in leaver_ids if not state.is_assigned(page.id, i)) == 4

        engine = open_store(database_url)
        with Session(engine) as s:
            states = [a.state for a in s.execute(select(Action)).scalars()]
        assert len(states) == 8 and "executing" in states, states

        second = accessward("apply")
        out = second.stdout.read().decode() if second.stdout else ""
        assert second.wait(60) == 0, out

    assert not any(state.is_assigned(page.id, i) for i in leaver_ids), "no losses"
    assert state.is_assigned(page.id, admin.id)
    removed = [c.params.get("user") for c in state.revoke_calls if c.status == 200]
    assert sorted(removed) == sorted(leaver_ids), "each grant removed exactly once on the platform"
    with Session(engine) as s:
        actions = s.execute(select(Action)).scalars().all()
        plans = s.execute(select(Plan)).scalars().all()
    assert len(actions) == 8 and len({a.grant_id for a in actions}) == 8, "no duplicate actions"
    assert sorted(a.state for a in actions) == ["already_gone"] + ["done"] * 7
    assert [p.status for p in plans] == ["applied"]
    engine.dispose()
