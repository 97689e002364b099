"""The service's CLI commands: token create/list/revoke, offboard (now or --at), receipt, device lost."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session
from typer.testing import CliRunner

from accessward import exitcodes, tokens
from accessward.cli import app
from accessward.sync.service_models import ApiToken
from tests.service.test_offboarding_api import dana_holds


def run(world, *args: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, ["--config", str(world.dir / "accessward.toml"), *args],
                                env={"COLUMNS": "250", "ACCESSWARD_ACTOR": "it-sec@example.com"},
                                catch_exceptions=False)
    return result.exit_code, result.output


def test_token_create_prints_it_once_and_keeps_only_its_hash(world, rt):
    code, out = run(world, "token", "create", "--role", "auditor", "--name", "audit-firm")
    assert code == 0
    token = out.strip().splitlines()[-1]
    assert token.startswith("aw_") and tokens.authenticate(rt.engine, token) is not None
    with Session(rt.engine) as s:
        stored = s.execute(select(ApiToken)).scalars().one()
    assert stored.role == "auditor" and stored.created_by == "it-sec@example.com" and token not in repr(stored)
    code, out = run(world, "token", "list")
    assert code == 0 and "audit-firm" in out and token not in out
    assert run(world, "token", "create", "--role", "root", "--name", "x")[0] == exitcodes.CONFIG
    assert run(world, "token", "revoke", "audit-firm")[0] == 0
    assert tokens.authenticate(rt.engine, token) is None


def test_offboard_now_prints_the_receipt_and_a_later_one_waits(world, rt):
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    code, out = run(world, "offboard", "sam.rivera@example.com", "--at", later, "--request-id", "cli-sam")
    assert code == 0 and "scheduled" in out
    assert world.tiktok.is_member("7100000000000000001", "7300000000000000003")

    code, out = run(world, "offboard", "E1002", "--request-id", "cli-dana", "--json")
    assert code == 0, out
    receipt = json.loads(out)
    assert receipt["status"] == "done" and receipt["requested_by"] == "it-sec@example.com"
    assert not any(dana_holds(world).values())
    code, out = run(world, "receipt", "cli-dana")
    assert code == 0 and "Offboarding cli-dana" in out
    assert run(world, "offboard", "nobody@example.com")[0] == exitcodes.CONFIG


def test_device_lost_by_device_and_owner(world, rt):
    code, out = run(world, "device", "lost", "Dana's YubiKey", "--owner", "E1002", "--json")
    assert code == 0, out
    report = json.loads(out)
    actions = [a["action"] for a in report["identity_providers"][0]["actions"]]
    assert actions == ["end_sessions", "remove_offline_tokens", "remove_mfa_method"]
    labels = {c.user_label for c in world.kc.user(world.kc_ids["dana.leaver"]).credentials}
    assert "Dana's YubiKey" not in labels and "Dana's Pixel 8" in labels
    code, out = run(world, "device", "lost", "some-phone")
    assert code == exitcodes.CONFIG and "--owner" in out
