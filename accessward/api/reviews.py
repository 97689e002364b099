"""/v1/reviews: access-review campaigns, their items, decisions, delegations, closing and the report.

Any authenticated token may list campaigns; deciding and delegating take a personal token (a person, role
``reviewer``), and only on the items assigned to that person, never on their own access (403). Starting and
closing a campaign take a personal ``admin`` token, which may also reassign items; auditors read everything.
Every decision is recorded against the caller's principal (``review_principal.current_principal``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from accessward import jobs_reviews
from accessward.api.auth import Caller, require, require_person
from accessward.reconcile import reviews
from accessward.reports.reviews import campaign_rows, campaign_summary
from accessward.review_principal import current_principal
from accessward.runtime import Runtime
from accessward.sync.review_models import ReviewItem

router = APIRouter(prefix="/v1/reviews", tags=["reviews"])
ANYONE = ("reviewer", "hr", "service_desk", "auditor")


class StartRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="A [[reviews]] campaign of the settings")


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[int] = Field(min_length=1, max_length=5000, description="One item, or many (a bulk decision)")
    decision: Literal["keep", "revoke", "reduce"]
    justification: str = Field("", max_length=2000)
    reduce_to: Literal["read_only", "needs_approval", "can_reply", "full_publishing"] | None = None


class DelegationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[int] = Field(min_length=1, max_length=5000)
    to: str = Field(min_length=1, max_length=320, description="The reviewer's key (their email)")
    justification: str = Field("", max_length=2000)


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _fail(exc: reviews.ReviewError) -> HTTPException:
    return HTTPException(exc.status, str(exc))


def item_json(i: ReviewItem) -> dict[str, Any]:
    return {
        "id": i.id, "grant": i.grant_id, "system": i.system, "resource": i.resource, "resource_name": i.resource_name,
        "account": i.account, "account_name": i.account_name, "role": i.role, "level": i.facts.get("level"),
        "person": i.person_name, "facts": i.facts, "recommendation": i.recommendation,
        "recommendation_reason": i.recommendation_reason, "reviewer": i.reviewer,
        "reviewer_source": i.reviewer_source, "decision": i.decision, "reduce_to": i.reduce_to,
        "justification": i.justification, "decided_by": i.decided_by, "decided_via": i.decided_via,
        "decided_at": i.decided_at.isoformat() if i.decided_at else None, "outcome": i.outcome,
        "outcome_detail": i.outcome_detail,
    }


def _campaign(rt: Runtime, campaign_id: int) -> dict[str, Any]:
    summary = campaign_summary(rt.engine, campaign_id)
    if not summary:
        raise HTTPException(404, f"no review campaign {campaign_id}")
    return summary


@router.get("", summary="Review campaigns, newest first")
def list_campaigns(request: Request, caller: Annotated[Caller, Depends(require(*ANYONE))],
                   status: Annotated[str | None, Query(pattern="^(open|closing|closed)$")] = None
                   ) -> list[dict[str, Any]]:
    rt = _rt(request)
    return [campaign_summary(rt.engine, c.id) for c in reviews.campaigns(rt.engine, status=status) if c.id]


@router.post("", status_code=201, summary="Start a campaign of the settings by hand")
def start(body: StartRequest, request: Request,
          caller: Annotated[Caller, Depends(require_person())]) -> dict[str, Any]:
    rt = _rt(request)
    try:
        found = jobs_reviews.start_by_hand(rt, body.name, actor=current_principal(caller).id)
    except reviews.ReviewError as exc:
        raise _fail(exc) from None
    assert found.id is not None
    return _campaign(rt, found.id)


@router.get("/{campaign_id}", summary="A campaign: dates, completion, decisions and outcomes")
def get_campaign(campaign_id: int, request: Request,
                 caller: Annotated[Caller, Depends(require(*ANYONE))]) -> dict[str, Any]:
    return _campaign(_rt(request), campaign_id)


@router.get("/{campaign_id}/items", summary="Items to review, with what a reviewer needs to decide")
def list_items(campaign_id: int, request: Request, caller: Annotated[Caller, Depends(require(*ANYONE))],
               reviewer: str | None = None, pending: bool | None = None) -> list[dict[str, Any]]:
    rt = _rt(request)
    _campaign(rt, campaign_id)
    me = current_principal(caller)
    if caller.role not in ("admin", "auditor"):
        mine = reviewer.strip().lower() if reviewer else None
        if mine is not None and mine not in me.keys:
            raise HTTPException(403, "you may list your own items only")
        return [item_json(i) for key in sorted(me.keys)
                for i in reviews.items(rt.engine, campaign_id, reviewer=key, pending=pending)]
    return [item_json(i) for i in reviews.items(rt.engine, campaign_id, reviewer=reviewer, pending=pending)]


@router.post("/{campaign_id}/decisions", summary="Keep, revoke or reduce one or many items (justification required "
                                                  "by default)")
def decide(campaign_id: int, body: DecisionRequest, request: Request,
           caller: Annotated[Caller, Depends(require_person(*ANYONE))]) -> list[dict[str, Any]]:
    rt = _rt(request)
    me = current_principal(caller)
    try:
        rows = reviews.decide(rt.engine, campaign_id, body.items, body.decision, by=me.id, keys=me.keys,
                              justification=body.justification, reduce_to=body.reduce_to,
                              owns=me.owns(rt.engine) if rt.settings.policy.four_eyes else None)
    except reviews.ReviewError as exc:
        raise _fail(exc) from None
    return [item_json(i) for i in rows]


@router.post("/{campaign_id}/delegations", summary="Hand items to another reviewer")
def delegate(campaign_id: int, body: DelegationRequest, request: Request,
             caller: Annotated[Caller, Depends(require_person(*ANYONE))]) -> list[dict[str, Any]]:
    me = current_principal(caller)
    try:
        rows = reviews.delegate(_rt(request).engine, campaign_id, body.items, body.to, by=me.id, keys=me.keys,
                                justification=body.justification, may_reassign=me.is_admin)
    except reviews.ReviewError as exc:
        raise _fail(exc) from None
    return [item_json(i) for i in rows]


@router.post("/{campaign_id}/close", summary="Apply the non-response rule and carry out every revoke/reduce decision")
async def close(campaign_id: int, request: Request,
                caller: Annotated[Caller, Depends(require_person())]) -> dict[str, Any]:
    rt = _rt(request)
    try:
        result = await run_in_threadpool(jobs_reviews.close, rt, campaign_id, actor=current_principal(caller).id,
                                         wait_seconds=rt.settings.service.request_wait_seconds)
    except reviews.ReviewError as exc:
        raise _fail(exc) from None
    return {**_campaign(rt, campaign_id), "plan": result.plan_id, "plan_status": result.plan_status,
            "reason": result.reason}


@router.get("/{campaign_id}/report", summary="The campaign report: item, reviewer, decision, justification, time, "
                                             "outcome")
def report(campaign_id: int, request: Request,
           caller: Annotated[Caller, Depends(require("auditor"))]) -> dict[str, Any]:
    rt = _rt(request)
    return {"campaign": _campaign(rt, campaign_id), "rows": campaign_rows(rt.engine, campaign_id)}
