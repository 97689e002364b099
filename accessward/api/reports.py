"""GET /v1/reports/access and /v1/reports/findings: the auditors' exports, streamed as CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from accessward.api.auth import Caller, require
from accessward.reports.access import ACCESS_COLUMNS, access_rows
from accessward.reports.findings import FINDING_COLUMNS, finding_rows
from accessward.reports.safe import safe_cell
from accessward.runtime import Runtime
from accessward.sync.clock import to_naive_utc, utcnow

router = APIRouter(prefix="/v1/reports", tags=["reports"])
Format = Annotated[Literal["json", "csv"], Query(description="json (default) or csv")]
BATCH = 500


def _json_default(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _stream(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], fmt: str) -> Iterator[str]:
    buffer = io.StringIO()
    if fmt == "csv":
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for n, row in enumerate(rows, 1):
            writer.writerow([safe_cell(row.get(c)) for c in columns])
            if n % BATCH == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()
        return
    yield "["
    for n, row in enumerate(rows):
        yield ("," if n else "") + "\n  " + json.dumps({c: row.get(c) for c in columns}, default=_json_default)
    yield "\n]\n"


def _response(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], fmt: str, name: str) -> StreamingResponse:
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    headers = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"'} if fmt == "csv" else {}
    return StreamingResponse(_stream(rows, columns, fmt), media_type=media, headers=headers)


@router.get("/access", summary="Who has (or had, as of a date) which role on which resource, matched to whom")
def report_access(request: Request, caller: Annotated[Caller, Depends(require("auditor"))],
                  as_of: Annotated[datetime | None, Query(description="ISO date/time; default now")] = None,
                  format: Format = "json") -> StreamingResponse:
    rt: Runtime = request.app.state.runtime
    return _response(access_rows(rt.engine, to_naive_utc(as_of) or utcnow()), ACCESS_COLUMNS, format, "access")


@router.get("/findings", summary="Every finding: rule, reason, first/last seen, what became of it")
def report_findings(request: Request, caller: Annotated[Caller, Depends(require("auditor"))],
                    state: Annotated[str | None, Query(description="open | accepted | resolved | revoked")] = None,
                    format: Format = "json") -> StreamingResponse:
    if state is not None and state not in ("open", "accepted", "resolved", "revoked"):
        raise HTTPException(422, "state is one of open, accepted, resolved, revoked")
    rt: Runtime = request.app.state.runtime
    return _response(finding_rows(rt.engine, state), FINDING_COLUMNS, format, "findings")
