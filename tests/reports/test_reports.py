"""Access and findings reports: content, history and spreadsheet safety."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from accessward.connectors.records import Level, PersonStatus
from accessward.reconcile.policy import PolicySettings
from accessward.reconcile.run import reconcile
from accessward.reports.access import ACCESS_COLUMNS, access_rows
from accessward.reports.export import write_rows
from accessward.reports.findings import FINDING_COLUMNS, finding_rows
from accessward.reports.safe import safe_cell
from accessward.sync.clock import utcnow
from accessward.sync.runner import SyncGuard, sync_access, sync_identity
from tests.fakes import FakeAccess, FakeIdentity, person


def test_safe_cell_neutralises_formulas():
    for evil in ("=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "\uff1d1+1"):
        assert safe_cell(evil).startswith("'"), evil
    assert safe_cell("Dana Leaver") == "Dana Leaver"
    assert safe_cell(-3) == -3 and safe_cell(None) == ""


def test_access_report_csv(engine):
    sync_identity(engine, FakeIdentity(people=[person("ann"), person("dana", status=PersonStatus.terminated)]))
    src = FakeAccess(grants=[("ann", "page", "MANAGE", Level.admin), ("dana", "page", "=cmd|' /C calc'!A0",
                                                                      Level.full_publishing)])
    sync_access(engine, src)
    reconcile(engine, PolicySettings())
    buf = io.StringIO()
    assert write_rows(access_rows(engine, utcnow()), ACCESS_COLUMNS, "csv", buf) == 2
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    by_account = {r["account"]: r for r in rows}
    assert by_account["ann"]["level"] == "admin" and by_account["ann"]["person_status"] == "active"
    assert by_account["dana"]["person_status"] == "terminated" and by_account["dana"]["findings"] == "1"
    assert by_account["dana"]["role"].startswith("'="), "formula neutralised"


def test_access_report_as_of_a_past_moment(engine):
    src = FakeAccess(grants=[("ann", "page", "MANAGE", Level.admin), ("bob", "page", "MANAGE", Level.admin)])
    sync_access(engine, src)
    between = utcnow()
    src.grants = src.grants[:1]
    sync_access(engine, src, guard=SyncGuard())
    now_accounts = {r["account"] for r in access_rows(engine, utcnow())}
    then_accounts = {r["account"] for r in access_rows(engine, between)}
    before_accounts = {r["account"] for r in access_rows(engine, between - timedelta(hours=1))}
    assert now_accounts == {"ann"} and then_accounts == {"ann", "bob"} and before_accounts == set()


def test_findings_report(engine):
    sync_identity(engine, FakeIdentity(people=[person("dana", status=PersonStatus.terminated)]))
    sync_access(engine, FakeAccess(grants=[("dana", "page", "MANAGE", Level.admin)]))
    reconcile(engine, PolicySettings())
    rows = list(finding_rows(engine, "open"))
    assert [(r["rule"], r["reason"], r["state"], r["account"]) for r in rows] == [
        ("orphaned", "terminated", "open", "dana")]
    buf = io.StringIO()
    write_rows(rows, FINDING_COLUMNS, "json", buf)
    assert '"reason": "terminated"' in buf.getvalue()


def test_unmatched_accounts_come_with_their_closest_candidates(engine):
    from accessward.reports.unmatched import unmatched_rows

    sync_identity(engine, FakeIdentity(people=[person("alex.morgan", "alex.morgan@example.com"),
                                               person("zed", "zed@example.com")]))
    sync_access(engine, FakeAccess(grants=[("ext", "page", "MANAGE", Level.admin),
                                           ("zed", "page", "ANALYZE", Level.read_only)],
                                   emails={"ext": "alex.morgan@agency.example"}))
    reconcile(engine, PolicySettings())
    rows = list(unmatched_rows(engine))
    assert [(r["account_id"], r["open_grants"]) for r in rows] == [("ext", 1)]
    assert rows[0]["candidates"].startswith("Alex.Morgan (")
