"""Report downloads for auditors: every report in every format, and the signed evidence pack.

The files are the API's (``api.reports``) and the CLI's (``reports.evidence.build``); the console
only asks for them with the logged-in auditor's session instead of a token.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from accessward.api.reports import _respond
from accessward.console.pages import rt_of
from accessward.console.session import caller
from accessward.reports import evidence, keys
from accessward.reports.catalog import REPORTS
from accessward.reports.catalog import Query as ReportQuery
from accessward.reports.filters import Filters
from accessward.settings import SecretRef, SettingsError
from accessward.sync.clock import utcnow

router = APIRouter(include_in_schema=False)
FORMATS = ("csv", "json", "xlsx", "html", "pdf")


@router.get("/reports/evidence.zip")
async def evidence_pack(request: Request, period: str) -> Response:
    caller(request, "auditor")
    rt = rt_of(request)
    ref = rt.settings.reports.signing_key
    if ref is None:
        raise HTTPException(409, "no signing key in the settings ([reports] signing_key)")
    if ref.file is not None and not Path(ref.file).is_absolute():
        ref = SecretRef(file=str(rt.base / ref.file))
    try:
        when = evidence.period(period)
        key = keys.load_private(ref.resolve())
    except (ValueError, SettingsError, keys.KeyProblem) as exc:
        raise HTTPException(422, str(exc)) from None
    fd, tmp = tempfile.mkstemp(prefix="accessward-evidence-", suffix=".zip")
    os.close(fd)
    path = Path(tmp)
    await run_in_threadpool(evidence.build, rt.engine, path, when, key, rt.settings.model_dump(mode="json"))
    return FileResponse(path, media_type="application/zip", filename=f"evidence-{when.label.replace(' ', '_')}.zip",
                        background=BackgroundTask(path.unlink, missing_ok=True))


@router.get("/reports/{name}.{fmt}")
async def report(request: Request, name: str, fmt: str) -> Response:
    caller(request, "auditor")
    if name not in REPORTS or fmt not in FORMATS:
        raise HTTPException(404, f"no report {name}.{fmt}")
    rt = rt_of(request)
    response: Response = await run_in_threadpool(_respond, rt, name, ReportQuery(utcnow(), Filters()), fmt)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response
