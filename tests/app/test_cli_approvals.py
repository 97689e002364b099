"""From the CLI, approve / accept / link need a personal token; four-eyes holds; tokens expire."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlmodel import Session
from typer.testing import CliRunner

from accessward import exitcodes, tokens
from accessward.cli import app
from accessward.reconcile.plan import PlanResult, persist_plan
from accessward.sync import principals
from accessward.sync.clock import utcnow
from accessward.sync.db import open_store
from accessward.sync.models import AuditEvent, Plan
from accessward.sync.service_models import ApiToken

SETTINGS = """
[store]
url = "sqlite:///store.db"

[[principals]]
id = "alice"
name = "Alice"
email = "alice@corp.test"

[[principals]]
id = "bob"
name = "Bob"
email = "bob@corp.test"
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "accessward.toml").write_text(SETTINGS)
    return tmp_path


def run(home: Path, *args: str, token: str | None = None) -> tuple[int, str]:
    env = {"COLUMNS": "250", "ACCESSWARD_ACTOR": "it-sec"}
    if token:
        env["ACCESSWARD_TOKEN"] = token
    result = CliRunner().invoke(app, ["--config", str(home / "accessward.toml"), *args], env=env,
                                catch_exceptions=False)
    return result.exit_code, result.output


def token(home: Path, principal: str | None, role: str = "approver", *extra: str) -> str:
    name = f"{principal or 'service'}-{role}-{len(extra)}"
    args = ["token", "create", "--role", role, "--name", name, *extra] + (["--principal", principal] if principal
                                                                          else [])
    code, out = run(home, *args)
    assert code == 0, out
    return out.strip().splitlines()[-1]


def waiting_plan(home: Path, started_by: str = "scheduler", principal_id: int | None = None) -> int:
    engine = open_store(f"sqlite:///{home / 'store.db'}")
    return persist_plan(engine, PlanResult(None, "needs_approval", "exceeds max_revocations"), started_by,
                        principal_id=principal_id)


def status(home: Path, plan_id: int) -> Plan:
    with Session(open_store(f"sqlite:///{home / 'store.db'}")) as s:
        plan = s.get(Plan, plan_id)
        assert plan is not None
        return plan


def test_approve_needs_a_personal_token_and_by_is_only_a_note(home):
    plan_id = waiting_plan(home)
    code, out = run(home, "approve", str(plan_id), "--by", "ciso@example.com")
    assert code == exitcodes.CONFIG and "personal token" in out
    service = token(home, None)  # bound to no person
    code, out = run(home, "approve", str(plan_id), token=service)
    assert code == exitcodes.CONFIG and "not a personal token" in out
    auditor = token(home, "alice", "auditor")
    code, out = run(home, "approve", str(plan_id), token=auditor)
    assert code == exitcodes.CONFIG and "needs approver" in out
    assert status(home, plan_id).status == "needs_approval"

    code, out = run(home, "approve", str(plan_id), "--by", "CAB-7", "--token", token(home, "alice"))
    assert code == 0, out
    plan = status(home, plan_id)
    assert plan.status == "approved" and plan.approved_by == "principal:alice"


def test_approve_refuses_the_one_who_started_the_plan(home):
    alice_token = token(home, "alice")
    engine = open_store(f"sqlite:///{home / 'store.db'}")
    alice = principals.by_key(engine, "alice")
    assert alice is not None
    plan_id = waiting_plan(home, alice.actor, alice.id)
    code, out = run(home, "approve", str(plan_id), token=alice_token)
    assert code == exitcodes.CONFIG and "four-eyes" in out
    assert status(home, plan_id).status == "needs_approval"
    assert run(home, "approve", str(plan_id), token=token(home, "bob"))[0] == 0
    assert status(home, plan_id).approved_by == "principal:bob"


def test_accept_and_link_need_a_personal_token_and_record_it(home):
    code, out = run(home, "accept", "--rule", "dormant", "--owner", "x", "--reason", "y", "--until", "2099-01-01")
    assert code == exitcodes.CONFIG and "personal token" in out
    code, out = run(home, "accept", "--rule", "dormant", "--owner", "x", "--reason", "y", "--until", "2099-01-01",
                    token=token(home, "alice"))
    assert code == 0, out
    code, out = run(home, "link", "meta", "42", "--person", "E1")
    assert code == exitcodes.CONFIG and "personal token" in out
    code, out = run(home, "link", "meta", "42", "--person", "E1", token=token(home, "bob"))
    assert code == exitcodes.CONFIG and "no account" in out  # authenticated, then the ordinary answer
    with Session(open_store(f"sqlite:///{home / 'store.db'}")) as s:
        created = s.execute(select(AuditEvent).where(AuditEvent.kind == "exception.created")).scalars().one()
    assert created.actor == "principal:alice"


def test_token_expires_is_listed_and_refused_once_past(home):
    value = token(home, "alice", "approver", "--expires", "90d")
    engine = open_store(f"sqlite:///{home / 'store.db'}")
    found = tokens.authenticate(engine, value)
    assert found is not None and found.expires_at is not None
    assert timedelta(days=89) < found.expires_at - utcnow() <= timedelta(days=90)
    code, out = run(home, "token", "list")
    assert code == 0 and f"{found.expires_at:%Y-%m-%d}" in out and "alice" in out
    with engine.begin() as conn:
        conn.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert tokens.authenticate(engine, value) is None
    code, out = run(home, "token", "list")
    assert "(expired)" in out
    plan_id = waiting_plan(home)
    code, out = run(home, "approve", str(plan_id), token=value)
    assert code == exitcodes.CONFIG and "expired" in out
    assert run(home, "token", "create", "--role", "hr", "--name", "x", "--expires", "soon")[0] == exitcodes.CONFIG
    assert run(home, "token", "create", "--role", "hr", "--name", "y", "--principal", "nobody")[0] == exitcodes.CONFIG


def test_new_installs_have_four_eyes_and_the_example_notifications_load(tmp_path):
    from accessward.example import EXAMPLE
    from accessward.reconcile.policy import PolicySettings
    from accessward.settings import load_settings

    assert PolicySettings().four_eyes is True
    path = tmp_path / "example.toml"
    path.write_text(EXAMPLE)
    assert load_settings(path).policy.four_eyes is True
    start = EXAMPLE.index("# [notifications]")
    end = EXAMPLE.index("# --- Policy")
    block = "\n".join(line.removeprefix("# ") for line in EXAMPLE[start:end].splitlines() if line.startswith("# "))
    principals_block = EXAMPLE[EXAMPLE.index("# [[principals]]"):EXAMPLE.index("# --- Notifications")]
    people = "\n".join(line.removeprefix("# ") for line in principals_block.splitlines()
                       if line.startswith("# ") and not line.startswith("# ---"))
    path.write_text(EXAMPLE[:start] + block + "\n" + people + "\n" + EXAMPLE[end:])
    cfg = load_settings(path)
    assert set(cfg.notifications.channels) == {"security-mail", "secops-slack", "secops-teams"}
    assert cfg.principals[0].id == "alice"


def test_principal_add_and_list(home):
    assert run(home, "principal", "add", "E1234", "--name", "Casey", "--email", "Casey@corp.test",
               "--person-key", "E1234")[0] == 0
    code, out = run(home, "principal", "list")
    assert code == 0 and "E1234" in out and "casey@corp.test" in out and "alice" in out  # settings ones too
    assert run(home, "principal", "add", " ")[0] == exitcodes.CONFIG
