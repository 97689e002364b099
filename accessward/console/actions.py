"""The console's forms (POST): each checks the CSRF token, then the role, then runs the operation.

The operations are the API's and the CLI's (``accessward.operations``, ``executor.approve``,
``reviews.decide``, the offboarding and lost-device runs), called with the logged-in principal,
so four-eyes and own-access refusals are the same everywhere and the audit trail names the person.
Each answer is a redirect (post/redirect/get) with a one-line message for the next page.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from accessward import jobs_reviews, operations
from accessward.console.pages import REVIEW_ROLES, rt_of
from accessward.console.session import caller, check_csrf
from accessward.reconcile import reviews
from accessward.reconcile.four_eyes import FourEyesRefused
from accessward.reconcile.subject import PersonNotFound
from accessward.review_principal import current_principal
from accessward.sync.clock import utcnow
from accessward.sync.models import Finding

router = APIRouter(include_in_schema=False)


def _back(request: Request, to: str, message: str, ok: bool = True) -> RedirectResponse:
    request.session["flash"] = {"ok": ok, "text": message}
    return RedirectResponse(to, status_code=303)


def _text(form: dict[str, Any], name: str, limit: int = 2000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


@router.post("/plans")
async def start_plan(request: Request) -> Response:
    await check_csrf(request)
    who = caller(request, "approver").principal
    assert who is not None
    started = await run_in_threadpool(operations.start_plan, rt_of(request), who)
    if started.plan_id is None:
        return _back(request, "/plans", f"nothing to revoke: {started.reason}")
    return _back(request, f"/plans/{started.plan_id}", f"plan {started.plan_id}: {started.status} — {started.reason}")


@router.post("/plans/{plan_id}/approve")
async def approve(request: Request, plan_id: int) -> Response:
    form = await check_csrf(request)
    who = caller(request, "approver").principal
    assert who is not None
    try:
        operations.approve_plan(rt_of(request), plan_id, who, note=_text(form, "note", 500))
    except FourEyesRefused as exc:
        return _back(request, f"/plans/{plan_id}", f"Refused: {exc}", ok=False)
    except ValueError as exc:
        return _back(request, f"/plans/{plan_id}", str(exc), ok=False)
    return _back(request, f"/plans/{plan_id}", f"plan {plan_id} approved by {who.display_name or who.key}; "
                                               "the service carries it out on its next run")


@router.post("/plans/{plan_id}/reject")
async def reject(request: Request, plan_id: int) -> Response:
    form = await check_csrf(request)
    who = caller(request, "approver").principal
    assert who is not None
    try:
        operations.reject_plan(rt_of(request), plan_id, who, _text(form, "reason", 500))
    except ValueError as exc:
        return _back(request, f"/plans/{plan_id}", str(exc), ok=False)
    return _back(request, f"/plans/{plan_id}", f"plan {plan_id} rejected")


@router.post("/findings/{finding_id}/accept")
async def accept(request: Request, finding_id: int) -> Response:
    form = await check_csrf(request)
    who = caller(request, "approver").principal
    assert who is not None
    from accessward.reports.evidence import moment

    try:
        until = moment(_text(form, "until", 40), end_of_day=True)
        exc_id = operations.accept_finding(rt_of(request), who, finding_id, owner=_text(form, "owner", 200),
                                           reason=_text(form, "reason", 1000), expires_at=until)
    except ValueError as exc:
        return _back(request, "/findings", f"Refused: {exc}", ok=False)
    return _back(request, "/findings", f"finding {finding_id} accepted as exception {exc_id}; "
                                       "it applies from the next reconcile")


@router.post("/findings/{finding_id}/link")
async def link(request: Request, finding_id: int) -> Response:
    form = await check_csrf(request)
    who = caller(request, "approver", "reviewer").principal
    assert who is not None
    rt = rt_of(request)
    with Session(rt.engine) as session:
        found = session.get(Finding, finding_id)
        account_id = found.account_id if found else None
    if account_id is None:
        return _back(request, "/findings", f"finding {finding_id} names no account", ok=False)
    try:
        operations.link_account(rt, who, account_id, _text(form, "person", 320))
    except ValueError as exc:
        return _back(request, "/findings", f"Refused: {exc}", ok=False)
    person = _text(form, "person", 320)
    return _back(request, "/findings", f"the account of finding {finding_id} is linked to {person}; "
                                       "the next reconcile uses it")


@router.post("/people/{key:path}/offboard")
async def offboard(request: Request, key: str) -> Response:
    form = await check_csrf(request)
    c = caller(request, "hr")
    rt = rt_of(request)
    try:
        ob = await run_in_threadpool(lambda: operations.offboard(
            rt, person_key=key, requested_by=c.actor, reason=_text(form, "reason", 500)))
    except PersonNotFound as exc:
        return _back(request, f"/people/{key}", f"Refused: {exc}", ok=False)
    return _back(request, f"/offboardings/{ob.request_id}", f"offboarding {ob.request_id} recorded")


@router.post("/people/{key:path}/device-lost")
async def device_lost(request: Request, key: str) -> Response:
    form = await check_csrf(request)
    c = caller(request, "service_desk")
    status = "stolen" if _text(form, "status") == "stolen" else "lost"
    rt = rt_of(request)
    try:
        rep, _created = await run_in_threadpool(lambda: rt.report_device(
            person_key=key, device=_text(form, "device", 200), status=status, reported_by=c.actor))
    except PersonNotFound as exc:
        return _back(request, f"/people/{key}", f"Refused: {exc}", ok=False)
    return _back(request, f"/devices/{rep.id}", f"device reported {status}: {rep.outcome}")


@router.post("/reviews/{campaign_id}/decisions")
async def decide(request: Request, campaign_id: int) -> Response:
    form = await check_csrf(request)
    c = caller(request, *REVIEW_ROLES)
    me = current_principal(c)
    raw = form["_all"].getlist("item")
    try:
        item_ids = [int(v) for v in raw if isinstance(v, str)]
    except ValueError:
        item_ids = []
    decision = _text(form, "decision")
    if not item_ids:
        return _back(request, f"/reviews/{campaign_id}", "choose at least one item", ok=False)
    if decision not in ("keep", "revoke", "reduce"):
        return _back(request, f"/reviews/{campaign_id}", "choose keep, revoke or reduce", ok=False)
    try:
        rows = reviews.decide(rt_of(request).engine, campaign_id, item_ids, decision, by=me.id, keys=me.keys,
                              justification=_text(form, "justification"),
                              reduce_to=_text(form, "reduce_to") or None if decision == "reduce" else None)
    except reviews.ReviewError as exc:
        return _back(request, f"/reviews/{campaign_id}", f"Refused: {exc}", ok=False)
    return _back(request, f"/reviews/{campaign_id}", f"{len(rows)} item(s): {decision}")


@router.post("/reviews/{campaign_id}/close")
async def close(request: Request, campaign_id: int) -> Response:
    await check_csrf(request)
    c = caller(request, "admin")
    rt = rt_of(request)
    try:
        result = await run_in_threadpool(jobs_reviews.close, rt, campaign_id, actor=current_principal(c).id)
    except reviews.ReviewError as exc:
        return _back(request, f"/reviews/{campaign_id}", f"Refused: {exc}", ok=False)
    return _back(request, f"/reviews/{campaign_id}", f"closed; plan {result.plan_id}: {result.plan_status}")


def default_until() -> str:
    return (utcnow() + timedelta(days=90)).date().isoformat()
