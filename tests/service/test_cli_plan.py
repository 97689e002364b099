"""plan previews from the store without write tokens, fits a log, repeats itself without a superseded plan;
reconcile prints tables; offboard --at shows what will go; init writes settings for the directory asked for."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session
from typer.testing import CliRunner

from accessward import exitcodes
from accessward.cli import app
from accessward.settings import load_settings
from accessward.sync.models import Plan

REVOKE = '\n[policy.rules.orphaned]\naction = "revoke"\n\n[policy.rules.agency]\naction = "revoke"\n'
WRITE_TOKENS = ("SVC_META_TOKEN", "SVC_TIKTOK_TOKEN", "SVC_PINTEREST_TOKEN", "SVC_SCIM_TOKEN")


def invoke(world, *args: str, columns: int = 80):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["--config", str(world.dir / "accessward.toml"), *args],
                              env={"COLUMNS": str(columns), "ACCESSWARD_ACTOR": "reviewer@example.com"})


@pytest.fixture
def revoking(world, rt, monkeypatch):  # type: ignore[no-untyped-def]
    path = world.write_settings()
    path.write_text(path.read_text() + REVOKE)
    for name in WRITE_TOKENS:  # a reviewer holds no write token
        monkeypatch.delenv(name)
    return world


def test_plan_previews_without_write_tokens_in_records_that_fit_80_columns(revoking, rt):
    result = invoke(revoking, "plan")
    assert result.exit_code in (exitcodes.OK, exitcodes.NEEDS_APPROVAL), result.output
    out = result.output
    assert "is not set" not in out and "Traceback" not in out
    assert "request" in out and ("DELETE " in out or "POST " in out), out
    assert "(not resolved" not in out, "a preview never shows a credential, not even a placeholder"
    assert all(len(line) <= 80 for line in out.splitlines()), max(out.splitlines(), key=len)
    assert "│" not in out and "┃" not in out, "not a table folded into slivers"
    request_lines = [line for line in out.splitlines() if line.startswith("  request")]
    assert len(request_lines) >= 1 and all(len(line.split(maxsplit=1)[1]) > 20 for line in request_lines)


def test_plan_twice_with_nothing_changed_leaves_one_plan(revoking, rt):
    first = invoke(revoking, "plan")
    second = invoke(revoking, "plan")
    assert first.exit_code == second.exit_code and first.output == second.output
    with Session(rt.engine) as s:
        plans = s.execute(select(Plan)).scalars().all()
    assert [p.status for p in plans] in (["ready"], ["needs_approval"]), [(p.id, p.status) for p in plans]


def test_plan_json_and_markdown_to_a_file(revoking, rt, tmp_path):
    result = invoke(revoking, "plan", "--format", "json")
    body = json.loads(result.stdout)
    assert body["status"] in ("ready", "needs_approval") and body["revocations"]
    first = body["revocations"][0]
    assert first["request"] and first["level"] in ("read_only", "needs_approval", "can_reply", "full_publishing",
                                                   "admin")
    target = tmp_path / "plan.md"
    result = invoke(revoking, "plan", "--format", "markdown", "-o", str(target))
    assert result.exit_code in (exitcodes.OK, exitcodes.NEEDS_APPROVAL) and f"wrote {target}" in result.output
    text = target.read_text()
    assert text.startswith("# Plan ") and "## To revoke" in text and "```http" in text
    assert invoke(revoking, "plan", "--format", "yaml").exit_code == exitcodes.CONFIG


def test_reconcile_prints_tables_not_a_dict(world, rt):
    result = invoke(world, "reconcile", columns=100)
    assert result.exit_code == 0, result.output
    assert "{" not in result.output and "Correlation" in result.output and "matched by" in result.output
    assert "Findings by rule" in result.output and "orphaned" in result.output


def test_offboard_at_shows_what_will_be_removed_then(world, rt):
    later = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    result = invoke(world, "offboard", "E1002", "--at", later, "--request-id", "later-dana", columns=140)
    assert result.exit_code == 0, result.output
    assert "scheduled" in result.output and "To be removed at" in result.output
    assert "meta" in result.output and "tiktok" in result.output
    result = invoke(world, "receipt", "later-dana", "--json")
    body = json.loads(result.stdout)
    assert {r["system"] for r in body["will_remove"]} >= {"meta", "tiktok", "pinterest"}


@pytest.mark.parametrize(("kind", "expect"), [("openldap", 'directory = "openldap"'),
                                              ("active_directory", 'directory = "active_directory"'),
                                              ("entra", 'type = "entra"')])
def test_init_writes_the_directory_asked_for(tmp_path, kind, expect):
    target = tmp_path / "accessward.toml"
    result = CliRunner().invoke(app, ["init", str(target), "--directory", kind])
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert expect in text and tomllib.loads(text)["identity_sources"][0]["name"]
    load_settings(target)  # validates as written


def test_init_without_a_terminal_does_not_ask_and_can_write_every_kind(tmp_path):
    target = tmp_path / "accessward.toml"
    result = CliRunner().invoke(app, ["init", str(target), "--every-kind"], input="")
    assert result.exit_code == 0, result.output
    assert "stdin is not a terminal" in result.output and "--directory" in result.output
    for kind in ("openldap", "active_directory", "entra"):
        load_settings(tmp_path / f"accessward.{kind}.toml")
    assert CliRunner().invoke(app, ["init", str(target)]).exit_code == exitcodes.CONFIG  # exists: --force
