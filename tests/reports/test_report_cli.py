"""The report commands: people, whois, report person, findings as xlsx, filters, and usage errors."""

from __future__ import annotations

import json

import openpyxl
import pytest
from typer.testing import CliRunner

from accessward.cli import app
from accessward.connectors.records import Level, PersonStatus
from accessward.reconcile.policy import PolicySettings
from accessward.reconcile.run import reconcile
from accessward.sync.runner import sync_access, sync_identity
from tests.fakes import FakeAccess, FakeIdentity, person


@pytest.fixture
def config(sqlite_engine, tmp_path):
    sync_identity(sqlite_engine, FakeIdentity(people=[
        person("sam", employee_id="E1003", department="Community"),
        person("dana", status=PersonStatus.terminated, department="Brand")]))
    sync_access(sqlite_engine, FakeAccess(grants=[("sam", "page", "MODERATE", Level.can_reply),
                                                  ("dana", "page", "MANAGE", Level.admin)]))
    sync_access(sqlite_engine, FakeAccess(name="tiktok", grants=[("sam", "adv", "Operator", Level.full_publishing)]))
    reconcile(sqlite_engine, PolicySettings())
    path = tmp_path / "accessward.toml"
    path.write_text(f'[store]\nurl = "{sqlite_engine.url}"\n')
    return path


def run(config, *args):
    result = CliRunner().invoke(app, ["-c", str(config), *args])
    return result.exit_code, result.output


def test_people_and_whois(config):
    code, out = run(config, "people", "-f", "json")
    assert code == 0
    people = {p["display_name"]: p for p in json.loads(out)}
    assert people["Dana"]["status"] == "terminated" and people["Sam"]["department"] == "Community"
    code, out = run(config, "whois", "E1003")
    assert code == 0 and "grants (2)" in out and "tiktok" in out and "Page" in out
    code, out = run(config, "report", "person", "sam@example.com")
    body = json.loads(out)
    assert code == 0 and {g["system"] for g in body["grants"]} == {"social", "tiktok"}
    code, out = run(config, "whois", "nobody")
    assert code != 0 and "no person matches" in out
    code, out = run(config, "whois", "E1003", "--as-of", "2001-01-01")
    assert code == 0 and "before the first sync" in out and "grants (0)" in out


def test_findings_filters_and_formats(config, tmp_path):
    code, out = run(config, "report", "findings", "-f", "json", "--severity", "critical")
    assert code == 0 and [f["account"] for f in json.loads(out)] == ["dana"]
    code, out = run(config, "report", "findings", "-f", "json", "--department", "Community")
    assert code == 0 and json.loads(out) == []
    code, _ = run(config, "report", "findings", "-f", "xlsx", "-o", str(tmp_path / "f.xlsx"))
    assert code == 0 and openpyxl.load_workbook(tmp_path / "f.xlsx")["findings"].max_row == 2
    code, out = run(config, "report", "findings", "-f", "xlsx")
    assert code == 2 and "give --output" in out
    code, out = run(config, "report", "access", "-f", "json", "--system", "tiktok")
    assert code == 0 and [r["account"] for r in json.loads(out)] == ["sam"]
    code, out = run(config, "report", "audit", "-f", "csv")
    assert code == 0 and out.startswith('"id","at","actor","kind"') and '"ok"' in out
    code, out = run(config, "report", "evidence", "--period", "2026-Q3")
    assert code == 2 and "no signing key" in out
