"""The HTTP API: offboarding, lost devices, auditors' reports, inbound SCIM, health and metrics.

Every call to /v1 and /scim is written to the audit trail (who, what, the answer's status), also
when it was refused; /healthz, /metrics and the OpenAPI document are not (a scraper would flood
the trail). OpenAPI is published at /openapi.json, the browsable form at /docs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from accessward import __version__
from accessward.api import devices, findings, offboarding, people, plans, reports, reviews, scim
from accessward.api.auth import Caller
from accessward.api.limits import TOO_LARGE_FLAG, BodyLimit, method_label, validation_problem
from accessward.runtime import Runtime
from accessward.sync import audit

log = logging.getLogger("accessward.api")
UNAUDITED = ("/healthz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")

DESCRIPTION = """Who can still act as our brand on social media, and should they?

* **HR** offboards a person (`POST /v1/offboarding`, a signed webhook or an `hr` token) and gets a
  receipt: every system, every grant, what was done, when, and what is still pending.
* **Service desk** reports a lost or stolen device (`POST /v1/devices/lost`).
* **Auditors** export access and findings (`GET /v1/reports/...`).
* **Identity providers** push deprovisioning over SCIM 2.0 (`/scim/v2/Users`).

Signed requests: `X-Accessward-Timestamp` (Unix seconds) and `X-Accessward-Signature:
sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with the shared secret>`; the timestamp must be
within 5 minutes and a signature is accepted once.
"""


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="Accessward", version=__version__, description=DESCRIPTION, docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    for router in (offboarding.router, devices.router, plans.router, reports.router, scim.router, reviews.router,
                   findings.router, people.router):
        app.include_router(router)

    scim.install(app)  # SCIM Error bodies for every error under /scim/v2

    app.add_exception_handler(RequestValidationError, validation_problem)

    @app.middleware("http")
    async def audited(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            if request.scope.get(TOO_LARGE_FLAG):
                status = 413
            route = request.scope.get("route")
            template = getattr(route, "path", "unmatched")
            runtime.metrics.http_requests.labels(method_label(request.method), template, str(status)).inc()
            if _audited(request):
                await run_in_threadpool(_audit, runtime, request, template, status)

    @app.get("/healthz", tags=["operations"], summary="Liveness and the store's reachability")
    def healthz() -> Response:
        try:
            with runtime.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            log.error("health check: store unreachable", extra={"error": type(exc).__name__})
            return JSONResponse({"status": "unavailable", "store": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "store": "ok", "version": __version__})

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    def metrics() -> Response:
        body, content_type = runtime.metrics.render()
        return Response(body, media_type=content_type)

    from accessward import console  # the web console at / (its pages, forms, login and assets)

    console.install(app, runtime)
    # outermost: before authentication, before anything reads the body
    app.add_middleware(BodyLimit, max_bytes=runtime.settings.service.max_body_bytes)
    return app


def _audited(request: Request) -> bool:
    """Every API call; of the console, its forms (the pages it reads and its assets are not recorded)."""
    path = request.url.path
    if path.startswith(UNAUDITED) or path.startswith("/static/"):
        return False
    return path.startswith(("/v1", "/scim")) or request.method not in ("GET", "HEAD")


def _audit(runtime: Runtime, request: Request, template: str, status: int) -> None:
    caller: Caller | None = getattr(request.state, "caller", None)
    try:
        audit.record(runtime.engine, "api.call", f"{method_label(request.method)} {template}", {
            "path": request.url.path, "query": request.url.query, "status": status,
            "role": caller.role if caller else None, "via": caller.via if caller else None,
            "client": request.client.host if request.client else None,
        }, actor=caller.actor if caller else "anonymous")
    except Exception:
        log.exception("could not write the audit event of an API call")
