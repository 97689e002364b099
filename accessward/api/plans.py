"""GET /v1/plans/{id} and POST /v1/plans/{id}/approve: a plan that waits, and its approval by a person.

Approval is recorded against the caller's principal, so it needs a personal token (or, later, the
console's login): a service token is refused (403). Four-eyes (``policy.four_eyes``) refuses the
person who started the plan (403); a plan the scheduler built may be approved by any approver.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from accessward.api.auth import Caller, require, require_person
from accessward.reconcile import executor
from accessward.reconcile.four_eyes import FourEyesRefused
from accessward.runtime import Runtime
from accessward.sync.models import Plan

router = APIRouter(prefix="/v1/plans", tags=["plans"])


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=500, description="Free text kept with the approval (a change ticket)")


def _plan(rt: Runtime, plan_id: int) -> dict[str, Any]:
    with Session(rt.engine) as session:
        plan = session.get(Plan, plan_id)
        if plan is None:
            raise HTTPException(404, f"no plan {plan_id}")
        return {"id": plan.id, "status": plan.status, "reason": plan.reason, "revocations": plan.revocations,
                "created_at": plan.created_at.isoformat(), "started_by": plan.started_by,
                "approved_by": plan.approved_by,
                "approved_at": plan.approved_at.isoformat() if plan.approved_at else None}


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
        executor.approve(rt.engine, plan_id, who=caller.principal, four_eyes=rt.settings.policy.four_eyes,
                         note=body.note if body else "")
    except FourEyesRefused as exc:
        raise HTTPException(403, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(404 if str(exc).startswith("no plan") else 409, str(exc)) from None
    return _plan(rt, plan_id)
