"""GET /v1/reports/...: the auditors' reports, with the filters and formats of the CLI.

Every report of ``reports.catalog`` has its route; ``format`` is json (default) or csv, both
streamed, or xlsx, html or pdf, written to a temporary file and sent as a download. The console
uses the same routes (and ``/v1/reports/summary`` for its tiles and charts). An access report
asked for a moment before the first sync says so in the ``X-Accessward-Warning`` header.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from accessward.api.auth import Caller, require
from accessward.reports import export, render
from accessward.reports.access import as_of_warning
from accessward.reports.catalog import REPORTS
from accessward.reports.catalog import Query as ReportQuery
from accessward.reports.filters import Filters
from accessward.reports.people import person_report
from accessward.reports.summary import summarise
from accessward.runtime import Runtime
from accessward.sync.clock import to_naive_utc, utcnow

router = APIRouter(prefix="/v1/reports", tags=["reports"])
Format = Annotated[Literal["json", "csv", "xlsx", "html", "pdf"],
                   Query(description="json (default), csv, xlsx, html or pdf")]
Auditor = Annotated[Caller, Depends(require("auditor"))]
MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "html": "text/html; charset=utf-8", "pdf": "application/pdf"}
FINDING_STATES = ("open", "accepted", "resolved", "revoked")
SEVERITIES = ("low", "medium", "high", "critical")


def filters(
    system: Annotated[str | None, Query(description="an access or identity source")] = None,
    resource: Annotated[str | None, Query(description="resource id or name")] = None,
    person: Annotated[str | None, Query(description="employee id, username, email or name")] = None,
    department: str | None = None,
    rule: str | None = None,
    severity: Annotated[str | None, Query(description="low | medium | high | critical")] = None,
    state: Annotated[str | None, Query(description="findings: open | accepted | resolved | revoked; actions: "
                                       "planned | done | already_gone | failed | cancelled; offboardings: their "
                                       "status; people: active | suspended | terminated | missing; audit: the "
                                       "event kind")] = None,
    since: Annotated[datetime | None, Query(alias="from", description="start of the date range")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="end of the date range")] = None,
) -> Filters:
    if severity is not None and severity not in SEVERITIES:
        raise HTTPException(422, "severity is one of low, medium, high, critical")
    return Filters(system=system, resource=resource, person=person, department=department, rule=rule,
                   severity=severity, state=state, since=to_naive_utc(since), until=to_naive_utc(until))


Filtered = Annotated[Filters, Depends(filters)]


def _respond(rt: Runtime, name: str, query: ReportQuery, fmt: str, warning: str | None = None) -> Response:
    spec = REPORTS[name]
    headers = {"X-Accessward-Warning": warning} if warning else {}
    if fmt in ("csv", "json"):
        if fmt == "csv":
            headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return StreamingResponse(export.chunks(spec.rows(rt.engine, query), spec.columns, fmt), media_type=MEDIA[fmt],
                                 headers=headers)
    return _file(fmt, name, headers, lambda path: render.write(
        rt.engine, render.sections_for(rt.engine, [name], query), query, fmt, path,
        title=f"Accessward: {spec.title}", warnings=[warning] if warning else []))


def _file(fmt: str, name: str, headers: dict[str, str], write: Callable[[Path], Any]) -> FileResponse:
    fd, tmp = tempfile.mkstemp(prefix="accessward-report-", suffix=f".{fmt}")
    os.close(fd)
    path = Path(tmp)
    try:
        write(path)
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return FileResponse(path, media_type=MEDIA[fmt], filename=f"{name}.{fmt}", headers=headers,
                        background=BackgroundTask(path.unlink, missing_ok=True))


def _runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


@router.get("/access", summary="Who has (or had, as of a date) which role on which resource, matched to whom")
def report_access(request: Request, caller: Auditor, f: Filtered, format: Format = "json",
                  as_of: Annotated[datetime | None, Query(description="ISO date/time; default now")] = None,
                  ) -> Response:
    rt = _runtime(request)
    at = to_naive_utc(as_of) or utcnow()
    return _respond(rt, "access", ReportQuery(at, f), format, as_of_warning(rt.engine, at) if as_of else None)


@router.get("/access-changes", summary="Access granted and removed in a date range")
def report_access_changes(request: Request, caller: Auditor, f: Filtered, format: Format = "json") -> Response:
    return _respond(_runtime(request), "access_changes", ReportQuery(f.until or utcnow(), f), format)


@router.get("/findings", summary="Every finding: ids, severity, exception, plan and approver, time-to-revoke")
def report_findings(request: Request, caller: Auditor, f: Filtered, format: Format = "json") -> Response:
    if f.state is not None and f.state not in FINDING_STATES:
        raise HTTPException(422, "state is one of open, accepted, resolved, revoked")
    return _respond(_runtime(request), "findings", ReportQuery(utcnow(), f), format)


@router.get("/actions", summary="Every revocation and manual step: trigger, plan, approver, request, outcome")
def report_actions(request: Request, caller: Auditor, f: Filtered, format: Format = "json") -> Response:
    return _respond(_runtime(request), "actions", ReportQuery(utcnow(), f), format)


@router.get("/offboardings", summary="Every offboarding receipt line: who asked, each system, what is pending")
def report_offboardings(request: Request, caller: Auditor, f: Filtered, format: Format = "json") -> Response:
    return _respond(_runtime(request), "offboardings", ReportQuery(utcnow(), f), format)


@router.get("/people", summary="Every identity and its status per source, groups and SSO/MFA posture")
def report_people(request: Request, caller: Auditor, f: Filtered, format: Format = "json") -> Response:
    return _respond(_runtime(request), "people", ReportQuery(utcnow(), f), format)


@router.get("/audit", summary="The audit trail: each event with its hash and the chain's verification at it")
def report_audit(request: Request, caller: Auditor, f: Filtered, format: Format = "json") -> Response:
    return _respond(_runtime(request), "audit", ReportQuery(utcnow(), f), format)


@router.get("/unmatched", summary="Human accounts that match nobody, with the closest candidates")
def report_unmatched(request: Request, caller: Auditor, format: Format = "json") -> Response:
    return _respond(_runtime(request), "unmatched", ReportQuery(utcnow(), Filters()), format)


@router.get("/person/{person}", summary="One person's every grant everywhere (now or as of), findings and actions")
def report_person(request: Request, caller: Auditor, person: str, format: Format = "json",
                  as_of: Annotated[datetime | None, Query(description="ISO date/time; default now")] = None,
                  ) -> Response:
    rt = _runtime(request)
    at = to_naive_utc(as_of) or utcnow()
    found = person_report(rt.engine, person, at)
    if not found.records:
        raise HTTPException(404, "no person matches")
    warning = as_of_warning(rt.engine, at) if as_of else None
    headers = {"X-Accessward-Warning": warning} if warning else {}
    if format == "json":
        body = {"person": person, "as_of": at.isoformat(), **{n: rows for n, _c, rows in found.sections()}}
        return JSONResponse(_jsonable(body), headers=headers)
    sections = [render.Section(n, n.title(), cols, rows) for n, cols, rows in found.sections()]
    if format == "csv":
        grants = [s for s in sections if s.name == "grants"]
        return StreamingResponse(export.chunks(grants[0].rows, grants[0].columns, "csv"), media_type=MEDIA["csv"],
                                 headers=headers)
    query = ReportQuery(at, Filters(person=person))
    return _file(format, "person", headers, lambda path: render.write(
        rt.engine, sections, query, format, path, title=f"Accessward: {person}", warnings=[warning] if warning else []))


@router.get("/summary", summary="Tiles and chart data of the report pages (for the console)")
def report_summary(request: Request, caller: Auditor,
                   as_of: Annotated[datetime | None, Query(description="ISO date/time; default now")] = None,
                   ) -> dict[str, Any]:
    s = summarise(_runtime(request).engine, to_naive_utc(as_of) or utcnow())
    return {"as_of": s.as_of.isoformat(), "tiles": dict(s.tiles), "findings_by_rule": s.findings_by_rule,
            "findings_by_severity": s.findings_by_severity, "time_to_revoke": s.time_to_revoke,
            "access_by_level": s.access_by_level, "audit_chain_verified": s.chain_ok}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
