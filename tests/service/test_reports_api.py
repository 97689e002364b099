"""GET /v1/reports/...: every report, its filters and formats, for auditors only."""

from __future__ import annotations

import csv
import io

import openpyxl

from tests.service.world import signed

ROUTES = ("/v1/reports/access", "/v1/reports/access-changes", "/v1/reports/findings", "/v1/reports/actions",
          "/v1/reports/offboardings", "/v1/reports/people", "/v1/reports/audit", "/v1/reports/unmatched",
          "/v1/reports/person/E1002", "/v1/reports/summary")


def test_every_report_over_http_with_filters_and_formats(world, rt, client, tmp_path):
    raw, headers = signed({"request_id": "rep-1", "person": "E1002", "reason": "left the company"})
    assert client.post("/v1/offboarding", content=raw, headers=headers).status_code == 201
    auditor = world.token(rt.engine, "auditor")
    hr = world.token(rt.engine, "hr")
    for route in ROUTES:
        assert client.get(route, headers=hr).status_code == 403, route
        assert client.get(route, headers=auditor).status_code == 200, route

    offboardings = client.get("/v1/reports/offboardings", headers=auditor).json()
    assert {r["request_id"] for r in offboardings} == {"rep-1"} and {r["system"] for r in offboardings} >= {
        "meta", "tiktok", "pinterest", "social-suite"}
    assert all(r["requested_by"] and r["pending"] in ("yes", "no") for r in offboardings)
    actions = client.get("/v1/reports/actions", params={"system": "meta"}, headers=auditor).json()
    assert actions and {a["system"] for a in actions} == {"meta"}
    assert all(a["trigger"] == "offboarding" and a["approved_by"] and a["request"] for a in actions)
    person = client.get("/v1/reports/person/E1002", headers=auditor).json()
    assert person["records"] and person["actions"] and all(g["person"] for g in person["grants"])
    assert client.get("/v1/reports/person/nobody-at-all", headers=auditor).status_code == 404
    people = client.get("/v1/reports/people", params={"state": "active"}, headers=auditor).json()
    assert people and all(p["status"] == "active" for p in people)
    audit = client.get("/v1/reports/audit", headers=auditor).json()
    assert audit and all(e["hash"] and e["verified"] == "ok" for e in audit)
    kinds = client.get("/v1/reports/audit", params={"state": "offboarding.requested"}, headers=auditor).json()
    assert {e["kind"] for e in kinds} <= {"offboarding.requested"}
    assert client.get("/v1/reports/findings", params={"severity": "dire"}, headers=auditor).status_code == 422
    early = client.get("/v1/reports/access", params={"as_of": "2001-01-01T00:00:00Z"}, headers=auditor)
    assert early.json() == [] and "before the first sync" in early.headers["x-accessward-warning"]

    csv_text = client.get("/v1/reports/actions", params={"format": "csv"}, headers=auditor).text
    assert csv_text.startswith('"id","plan_id"') and len(list(csv.DictReader(io.StringIO(csv_text)))) >= len(actions)
    xlsx = client.get("/v1/reports/findings", params={"format": "xlsx"}, headers=auditor)
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    (tmp_path / "f.xlsx").write_bytes(xlsx.content)
    assert openpyxl.load_workbook(tmp_path / "f.xlsx").sheetnames == ["findings"]
    page = client.get("/v1/reports/findings", params={"format": "html"}, headers=auditor)
    assert page.headers["content-type"].startswith("text/html") and page.text.count("<svg") == 4
    pdf = client.get("/v1/reports/person/E1002", params={"format": "pdf"}, headers=auditor)
    assert pdf.content.startswith(b"%PDF")
    summary = client.get("/v1/reports/summary", headers=auditor).json()
    assert summary["audit_chain_verified"] is True and "meta" in summary["access_by_level"]
