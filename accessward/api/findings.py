"""POST /v1/findings/{id}/accept and POST /v1/links: a risk accepted, an account linked by hand, by a person.

Both are decisions recorded against the caller's principal, so they need a personal token (or the
console's login), as ``accessward accept`` and ``accessward link`` do; four-eyes refuses accepting
a finding about one's own access.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from accessward import operations
from accessward.api.auth import Caller, require_person
from accessward.reconcile import links
from accessward.reconcile.four_eyes import FourEyesRefused
from accessward.runtime import Runtime
from accessward.sync.clock import to_naive_utc

router = APIRouter(tags=["findings"])


class Acceptance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner: str = Field(min_length=1, max_length=200, description="Who owns the risk")
    reason: str = Field(min_length=1, max_length=1000)
    expires_at: datetime = Field(description="When the acceptance ends (ISO 8601; no zone = UTC)")


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system: str = Field(min_length=1, max_length=200, description="The access source the account is on")
    account: str = Field(min_length=1, max_length=500, description="The account's id on that system")
    person: str = Field(min_length=1, max_length=320, description="Employee id, email, username or source key")


@router.post("/v1/findings/{finding_id}/accept", status_code=201,
             summary="Accept a finding's risk until a date (owner, reason, expiry)",
             responses={403: {"description": "Not a personal token, or your own access (four-eyes)"},
                        422: {"description": "No such finding, or the expiry is in the past"}})
def accept(finding_id: Annotated[int, Path(ge=1)], body: Acceptance, request: Request,
           caller: Annotated[Caller, Depends(require_person("approver"))]) -> dict[str, Any]:
    rt: Runtime = request.app.state.runtime
    assert caller.principal is not None
    expires = to_naive_utc(body.expires_at)
    assert expires is not None
    try:
        exc_id = operations.accept_finding(rt, caller.principal, finding_id, owner=body.owner, reason=body.reason,
                                           expires_at=expires)
    except FourEyesRefused as exc:
        raise HTTPException(403, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"exception": exc_id, "finding": finding_id, "owner": body.owner, "expires_at": expires.isoformat(),
            "by": caller.actor}


@router.post("/v1/links", status_code=201, summary="Link an account to a person by hand (correlation keeps it)",
             responses={403: {"description": "Not a personal token"},
                        422: {"description": "No such account or person"}})
def link(body: LinkRequest, request: Request,
         caller: Annotated[Caller, Depends(require_person("approver", "reviewer"))]) -> dict[str, Any]:
    rt: Runtime = request.app.state.runtime
    try:
        account_id, person_id = links.link(rt.engine, body.system, body.account, body.person, actor=caller.actor)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"account": account_id, "person": person_id, "method": "manual", "by": caller.actor}
