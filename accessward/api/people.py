"""GET /v1/people and /v1/people/{key}: find a person; what they hold everywhere, now or as of a date.

Read by every role that acts on people (HR before an offboarding, the service desk before a lost
device, reviewers, approvers, auditors). ``/v1/reports/person/{key}`` is the auditors' export of
the same; GET /v1/devices/{id} is a lost-device report.
"""

from __future__ import annotations

from datetime import datetime
from itertools import islice
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from sqlmodel import Session

from accessward.api.auth import Caller, require
from accessward.api.devices import as_json as device_json
from accessward.api.reports import _jsonable
from accessward.reports.filters import Filters
from accessward.reports.people import people_rows, person_report
from accessward.runtime import Runtime
from accessward.sync.clock import to_naive_utc, utcnow
from accessward.sync.service_models import DeviceReport

router = APIRouter(tags=["people"])
READERS = ("hr", "service_desk", "auditor", "approver", "reviewer")


@router.get("/v1/people", summary="People (every identity record), optionally matching a name, email or id")
def search(request: Request, _caller: Annotated[Caller, Depends(require(*READERS))],
           q: Annotated[str | None, Query(max_length=320)] = None,
           limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict[str, Any]]:
    rt: Runtime = request.app.state.runtime
    rows: list[dict[str, Any]] = _jsonable(list(islice(people_rows(rt.engine, Filters(person=q) if q else None),
                                                       limit)))
    return rows


@router.get("/v1/people/{key}", summary="One person: records, every grant (now or as of), findings, actions")
def person(key: Annotated[str, Path(max_length=320)], request: Request,
           _caller: Annotated[Caller, Depends(require(*READERS))],
           as_of: Annotated[datetime | None, Query(description="ISO date/time; default now")] = None,
           ) -> dict[str, Any]:
    rt: Runtime = request.app.state.runtime
    found = person_report(rt.engine, key, to_naive_utc(as_of) or utcnow())
    if not found.records:
        raise HTTPException(404, "no person matches")
    body: dict[str, Any] = _jsonable({"person": key, "as_of": found.as_of,
                                      **{n: rows for n, _c, rows in found.sections()}})
    return body


@router.get("/v1/devices/{report_id}", tags=["devices"], summary="A lost or stolen device report and what was done")
def device(report_id: Annotated[int, Path(ge=1)], request: Request,
           _caller: Annotated[Caller, Depends(require("service_desk", "hr", "auditor"))]) -> dict[str, Any]:
    rt: Runtime = request.app.state.runtime
    with Session(rt.engine) as session:
        found = session.get(DeviceReport, report_id)
    if found is None:
        raise HTTPException(404, f"no device report {report_id}")
    return device_json(found)
