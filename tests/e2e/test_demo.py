"""`make demo` keeps working: every network shows findings, the plan stops for approval, then revokes."""

from __future__ import annotations

import csv

import openpyxl

from accessward.demo import run_demo
from accessward.reports import evidence, keys


def test_demo_runs_end_to_end(slapd_factory, tmp_path, capfd):  # slapd_factory: fails in CI without slapd
    assert run_demo(tmp_path / "demo") == 0
    captured = capfd.readouterr()
    out = captured.out + captured.err
    assert "needs_approval" in out and "approved by CISO" in out and "audit chain verified" in out
    assert "four-eyes" in out  # the IT lead who started the plan could not approve it
    with (tmp_path / "demo" / "reports" / "findings.csv").open() as fh:
        findings = list(csv.DictReader(fh))
    revoked = {(f["system"], f["rule"]) for f in findings if f["state"] == "revoked"}
    assert {s for s, _ in revoked} == {"meta", "linkedin", "tiktok", "pinterest", "social-suite"}
    assert ("pinterest", "agency") in revoked
    manual = [f for f in findings if f["system"] == "x-youtube"]
    assert [(f["state"], f["account"]) for f in manual] == [("open", "Dana Leaver")], "no API: stays open"
    with (tmp_path / "demo" / "reports" / "access-after.csv").open() as fh:
        after = list(csv.DictReader(fh))
    assert not [r for r in after if r["person"] == "Dana Leaver" and r["system"] != "x-youtube"]
    assert all(f["state"] != "open" for f in findings if f["account"] == "Dana Leaver" and f["system"] == "meta")
    assert not [f for f in findings if "brightside.example" in f["account_email"]], "Brightside's staff, not orphans"
    assert {"critical", "low"} <= {f["severity"] for f in findings}, "severity follows the risk"
    assert all(f["severity"] == "critical" for f in findings
               if f["person"] == "Dana Leaver" and f["level"] == "admin" and f["rule"] == "orphaned")
    # the auditor's side: a workbook, a page, and a pack that verifies against the public key
    demo = tmp_path / "demo"
    assert "pack verified" in out
    book = openpyxl.load_workbook(demo / "reports" / "findings.xlsx")
    assert book.sheetnames == ["findings"] and book["findings"].max_row == len(findings) + 1
    assert (demo / "reports" / "findings.html").read_text().count("<svg") == 4
    result = evidence.verify(demo / "reports" / "evidence.zip", public_key=keys.load_public(demo / "accessward.pub"))
    assert result.ok and result.files > 10, result.problems

