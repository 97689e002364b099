"""/v1/plans: list, start (reconcile and plan now), read, approve and reject; the console uses the same.

Approval is recorded against the caller's principal, so it needs a personal token (or, later, the
console's login): a service token is refused (403). Four-eyes (``policy.four_eyes``) refuses the
person who started the plan (403); a plan the scheduler built may be approved by any approver.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from accessward import operations
from accessward.api.auth import Caller, require, require_person
from accessward.reconcile.four_eyes import FourEyesRefused
from accessward.runtime import Runtime
from accessward.sync.models import Plan

router = APIRouter(prefix="/v1/plans", tags=["plans"])


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, description="Why the plan is rejected")


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=500, description="Free text kept with the approval (a change ticket)")


def plan_json(plan: Plan) -> dict[str, Any]:
    return {"id": plan.id, "status": plan.status, "reason": plan.reason, "revocations": plan.revocations,
            "created_at": plan.created_at.isoformat(), "started_by": plan.started_by, "origin": plan.origin,
            "approved_by": plan.approved_by, "approved_at": plan.approved_at.isoformat() if plan.approved_at else None}


def _plan(rt: Runtime, plan_id: int) -> dict[str, Any]:
    with Session(rt.engine) as session:
        plan = session.get(Plan, plan_id)
        if plan is None:
            raise HTTPException(404, f"no plan {plan_id}")
        return plan_json(plan)


@router.get("", summary="Plans, newest first")
def list_plans(request: Request, _caller: Annotated[Caller, Depends(require("approver", "auditor"))],
               status: str | None = None) -> list[dict[str, Any]]:
    rt: Runtime = request.app.state.runtime
    with Session(rt.engine) as session:
        stmt = select(Plan).order_by(col(Plan.id).desc()).limit(200)
        if status:
            stmt = stmt.where(col(Plan.status) == status)
        return [plan_json(p) for p in session.exec(stmt)]


@router.post("", status_code=201, summary="Reconcile and start a plan now (four-eyes: you cannot approve it)",
             responses={200: {"description": "Nothing to revoke: no plan was written"}})
async def start_plan(request: Request, response: Response,
                     caller: Annotated[Caller, Depends(require_person("approver"))]) -> dict[str, Any]:
    rt: Runtime = request.app.state.runtime
    assert caller.principal is not None
    started = await run_in_threadpool(operations.start_plan, rt, caller.principal)
    body = {"plan": started.plan_id, "status": started.status, "reason": started.reason,
            "revocations": started.revocations, "held": started.held}
    if started.plan_id is None:
        response.status_code = 200
    return body


@router.get("/{plan_id}", summary="A plan: its status, who started it, who approved it")
def get_plan(plan_id: Annotated[int, Path(ge=1)], request: Request,
             _caller: Annotated[Caller, Depends(require("approver", "auditor"))]) -> dict[str, Any]:
    return _plan(request.app.state.runtime, plan_id)


@router.post("/{plan_id}/approve", summary="Approve a plan that stopped at the threshold (four-eyes)",
             responses={403: {"description": "Not a personal token, or four-eyes: you started this plan"},
                        409: {"description": "The plan does not wait for approval"}})
def approve_plan(plan_id: Annotated[int, Path(ge=1)], request: Request,
                 caller: Annotated[Caller, Depends(require_person("approver"))],
                 body: Approval | None = None) -> dict[str, Any]:
    rt: Runtime = request.app.state.runtime
    assert caller.principal is not None
    try:
        operations.approve_plan(rt, plan_id, caller.principal, note=body.note if body else "")
    except FourEyesRefused as exc:
        raise HTTPException(403, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(404 if str(exc).startswith("no plan") else 409, str(exc)) from None
    return _plan(rt, plan_id)


@router.post("/{plan_id}/reject", summary="Reject a plan that waits for approval: none of its actions will run",
             responses={403: {"description": "Not a personal token"},
                        409: {"description": "The plan does not wait for approval"}})
def reject_plan(plan_id: Annotated[int, Path(ge=1)], body: Rejection, request: Request,
                caller: Annotated[Caller, Depends(require_person("approver"))]) -> dict[str, Any]:
    rt: Runtime = request.app.state.runtime
    assert caller.principal is not None
    try:
        operations.reject_plan(rt, plan_id, caller.principal, body.reason)
    except ValueError as exc:
        raise HTTPException(404 if str(exc).startswith("no plan") else 409, str(exc)) from None
    return _plan(rt, plan_id)
