"""The console's pages (GET): server-rendered, read from the store through the reports' queries.

Each page asks :func:`session.caller` for the roles its ``/v1`` twin requires, so what a person
sees is what their token would let them read.
"""

from __future__ import annotations

from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import DateTime, text
from sqlmodel import Session, col, select

from accessward import __version__
from accessward.connectors.records import Level
from accessward.console import overview
from accessward.console.session import caller as session_caller
from accessward.console.session import csrf_token, current
from accessward.reconcile import reviews
from accessward.reconcile.receipt import build as build_receipt
from accessward.reports.access import access_rows
from accessward.reports.audit_trail import audit_rows, chain_status
from accessward.reports.catalog import REPORTS
from accessward.reports.filters import Filters
from accessward.reports.findings import finding_rows
from accessward.reports.people import people_rows, person_report
from accessward.reports.reviews import campaign_summary
from accessward.review_principal import current_principal
from accessward.runtime import Runtime
from accessward.sync.clock import to_naive_utc, utcnow
from accessward.sync.models import Action, AuditEvent, Plan, SyncRun
from accessward.sync.service_models import DeviceReport, Offboarding

router = APIRouter(include_in_schema=False)
ENV = Environment(loader=PackageLoader("accessward.console", "templates"), autoescape=select_autoescape(),
                  trim_blocks=True, lstrip_blocks=True)
LEVELS = [lv.name for lv in Level]
REVIEW_ROLES = ("reviewer", "approver", "hr", "service_desk", "auditor")
PAGE_ROWS = 500


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, str) and len(value) >= 16 and value[4] == "-":
        return value[:16].replace("T", " ")
    return "" if value is None else str(value)


def _level(value: Any) -> str:
    try:
        return Level(int(value)).name.replace("_", " ")
    except (TypeError, ValueError):
        return str(value).replace("_", " ") if value is not None else ""


ENV.filters["when"] = _when
ENV.filters["roles"] = lambda value: str(value or "").replace(",", ", ")  # long role lists wrap
ENV.filters["level"] = _level


def rt_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    found = current(request)
    flash = request.session.pop("flash", None) if found else None
    html = ENV.get_template(template).render(
        request=request, me=found[0] if found else None, roles=found[1] if found else [], csrf=csrf_token(request),
        flash=flash, version=__version__, path=request.url.path, **context)
    return HTMLResponse(html, status_code=status)


def _dt(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return to_naive_utc(datetime.fromisoformat(value))
    except ValueError:
        raise HTTPException(422, f"{value!r} is not an ISO date") from None


@router.get("/")
def home(request: Request) -> Response:
    session_caller(request)
    rt = rt_of(request)
    return render(request, "overview.html", o=overview.build(rt), chain=chain_status(rt.engine))


@router.get("/charts/findings-trend.svg")
def trend_chart(request: Request) -> Response:
    session_caller(request)
    return Response(overview.trend_svg(rt_of(request)), media_type="image/svg+xml",
                    headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


@router.get("/accounts")
def accounts(request: Request, system: str | None = None, q: str | None = None) -> Response:
    session_caller(request)
    rows = [r for r in overview.build(rt_of(request)).exposure
            if (not system or r["system"] == system) and (not q or q.lower() in (r["resource"] or "").lower()
                                                          or q.lower() in r["resource_id"].lower())]
    systems = sorted({r["system"] for r in overview.build(rt_of(request)).exposure})
    return render(request, "accounts.html", rows=rows, systems=systems, system=system or "", q=q or "")


SORTS = {"account": "account", "role": "level", "person": "person", "since": "seen_from"}


@router.get("/accounts/{resource_id:path}")
def account(request: Request, resource_id: str, sort: str = "role", level: str | None = None,
            person: str | None = None) -> Response:
    session_caller(request)
    rt = rt_of(request)
    rows = [r for r in access_rows(rt.engine, utcnow(), Filters(resource=resource_id))
            if r["resource_id"] == resource_id]
    if not rows:
        raise HTTPException(404, f"nobody holds anything on {resource_id!r}")
    if level:
        rows = [r for r in rows if r["level"] == level]
    if person:
        rows = [r for r in rows if person.lower() in f"{r['person']} {r['account']} {r['account_email']}".lower()]
    key = SORTS.get(sort, "level")
    rank = {name: i for i, name in enumerate(LEVELS)}
    rows.sort(key=lambda r: (-rank.get(r["level"], 0)) if key == "level" else str(r[key] or "").lower())
    return render(request, "account.html", rows=rows, resource=rows[0]["resource"] if rows else resource_id,
                  resource_id=resource_id, system=rows[0]["system"] if rows else "", sort=sort, level=level or "",
                  person=person or "", levels=LEVELS)


@router.get("/people")
def people(request: Request, q: str | None = None) -> Response:
    session_caller(request)
    rows = list(islice(people_rows(rt_of(request).engine, Filters(person=q) if q else None), PAGE_ROWS))
    return render(request, "people.html", rows=rows, q=q or "")


@router.get("/people/{key:path}")
def person(request: Request, key: str, as_of: str | None = None) -> Response:
    session_caller(request)
    rt = rt_of(request)
    at = _dt(as_of) or utcnow()
    report = person_report(rt.engine, key, at)
    if not report.records:
        raise HTTPException(404, f"nobody matches {key!r}")
    ids = [int(r["person_id"]) for r in report.records]
    with Session(rt.engine) as session:
        obs = [o for o in session.exec(select(Offboarding).order_by(col(Offboarding.id).desc()))
               if set(o.person_ids) & set(ids)]
        devices = [d for d in session.exec(select(DeviceReport).order_by(col(DeviceReport.id).desc()))
                   if set(d.person_ids) & set(ids)]
    return render(request, "person.html", key=key, r=report, as_of=as_of or "", offboardings=obs, devices=devices)


@router.get("/findings")
def findings(request: Request, rule: str | None = None, severity: str | None = None, state: str | None = "open",
             system: str | None = None, person: str | None = None) -> Response:
    session_caller(request)
    f = Filters(rule=rule or None, severity=severity or None, state=state or None, system=system or None,
                person=person or None)
    rows = list(islice(finding_rows(rt_of(request).engine, filters=f), PAGE_ROWS))
    return render(request, "findings.html", rows=rows, f=f, today=utcnow().date().isoformat())


@router.get("/plans")
def plans(request: Request) -> Response:
    session_caller(request, "approver", "auditor")
    with Session(rt_of(request).engine) as session:
        rows = list(session.exec(select(Plan).order_by(col(Plan.id).desc()).limit(100)))
    return render(request, "plans.html", plans=rows)


@router.get("/plans/{plan_id}")
def plan(request: Request, plan_id: int) -> Response:
    session_caller(request, "approver", "auditor")
    rt = rt_of(request)
    with Session(rt.engine) as session:
        found = session.get(Plan, plan_id)
        if found is None:
            raise HTTPException(404, f"no plan {plan_id}")
        actions = list(session.exec(select(Action).where(col(Action.plan_id) == plan_id).order_by(col(Action.id))))
        events = list(session.exec(select(AuditEvent).where(col(AuditEvent.subject) == f"plan:{plan_id}")
                                   .order_by(col(AuditEvent.id))))
    held = [h for e in events if e.kind == "plan.held" for h in e.data.get("held", [])]
    created = next((e for e in events if e.kind == "plan.created"), None)
    with rt.engine.connect() as conn:
        grants = {int(r.id): dict(r._mapping) for r in conn.execute(text(
            "SELECT g.id, r.name AS resource, a.display_name AS account, g.role, g.level FROM access_grant g "
            "JOIN resource r ON r.id = g.resource_id JOIN account a ON a.id = g.account_id "
            "WHERE g.id IN (SELECT grant_id FROM action WHERE plan_id = :p)"), {"p": plan_id})}
    return render(request, "plan.html", plan=found, actions=actions, grants=grants, events=events, held=held,
                  held_count=int(created.data.get("held", 0)) if created else 0)


@router.get("/reviews")
def review_list(request: Request) -> Response:
    session_caller(request, *REVIEW_ROLES)
    rt = rt_of(request)
    rows = [campaign_summary(rt.engine, c.id) for c in reviews.campaigns(rt.engine) if c.id]
    return render(request, "reviews.html", campaigns=rows)


@router.get("/reviews/{campaign_id}")
def review(request: Request, campaign_id: int, show: str = "pending") -> Response:
    c = session_caller(request, *REVIEW_ROLES)
    rt = rt_of(request)
    summary = campaign_summary(rt.engine, campaign_id)
    if not summary:
        raise HTTPException(404, f"no review campaign {campaign_id}")
    me = current_principal(c)
    pending = True if show == "pending" else (False if show == "decided" else None)
    everything = reviews.items(rt.engine, campaign_id, pending=pending)
    mine = [i for i in everything if i.reviewer in me.keys]
    oversee = c.role in ("admin", "auditor")
    return render(request, "review.html", c=summary, items=mine, others=everything if oversee else [],
                  show=show, levels=LEVELS[:-1], oversee=oversee)


@router.get("/offboardings")
def offboardings(request: Request) -> Response:
    session_caller(request, "hr", "auditor")
    with Session(rt_of(request).engine) as session:
        rows = list(session.exec(select(Offboarding).order_by(col(Offboarding.id).desc()).limit(200)))
    return render(request, "offboardings.html", rows=rows)


@router.get("/offboardings/{request_id}")
def offboarding(request: Request, request_id: str) -> Response:
    session_caller(request, "hr", "auditor")
    rt = rt_of(request)
    found = build_receipt(rt.engine, request_id, stale_after_hours=rt.settings.policy.stale_after_hours)
    if found is None:
        raise HTTPException(404, f"no offboarding {request_id!r}")
    return render(request, "receipt.html", r=found)


@router.get("/devices/{report_id}")
def device(request: Request, report_id: int) -> Response:
    session_caller(request, "service_desk", "hr", "auditor")
    with Session(rt_of(request).engine) as session:
        found = session.get(DeviceReport, report_id)
    if found is None:
        raise HTTPException(404, f"no device report {report_id}")
    return render(request, "device.html", d=found)


@router.get("/sources/{name}")
def source(request: Request, name: str) -> Response:
    session_caller(request)
    with Session(rt_of(request).engine) as session:
        runs = list(session.exec(select(SyncRun).where(col(SyncRun.source) == name).order_by(col(SyncRun.id).desc())
                                 .limit(50)))
    if not runs:
        raise HTTPException(404, f"no sync of {name!r}")
    return render(request, "source.html", name=name, runs=runs)


@router.get("/reports")
def reports_page(request: Request) -> Response:
    session_caller(request, "auditor")
    rt = rt_of(request)
    today = utcnow().date()
    quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    return render(request, "reports.html", reports=REPORTS, formats=("csv", "json", "xlsx", "html", "pdf"),
                  quarter=quarter, signing=rt.settings.reports.signing_key is not None)


@router.get("/audit")
def audit_page(request: Request, kind: str | None = None, actor: str | None = None) -> Response:
    session_caller(request, "auditor")
    rt = rt_of(request)
    status = chain_status(rt.engine)
    rows = [r for r in audit_rows(rt.engine, status=status)
            if (not kind or str(r["kind"]).startswith(kind)) and (not actor or actor in str(r["actor"]))]
    rows.reverse()
    return render(request, "audit.html", rows=rows[:PAGE_ROWS], total=len(rows), chain=status, kind=kind or "",
                  actor=actor or "")


@router.get("/docs")
def swagger(request: Request) -> Response:
    """The OpenAPI page with Swagger UI from the package (no CDN), started by a static script (strict CSP)."""
    return HTMLResponse(ENV.get_template("swagger.html").render())


def static_dir() -> Path:
    return Path(__file__).parent / "static"


def recent_sync_runs(rt: Runtime) -> list[dict[str, Any]]:
    with rt.engine.connect() as conn:
        return [dict(r) for r in conn.execute(text("SELECT * FROM sync_run ORDER BY id DESC LIMIT 20")
                                              .columns(started_at=DateTime)).mappings()]
