"""The web console at ``/``: pages for reviewers, approvers, HR, the service desk and auditors.

``install(app, runtime)`` adds it to the API's app: the session middleware, a strict
Content-Security-Policy on every answer, the package's own static files (CSS, script, the
vendored Swagger UI: no CDN), the pages, the forms and the login. The API at ``/v1`` is unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from accessward.runtime import Runtime

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


API_PREFIXES = ("/v1", "/scim", "/healthz", "/metrics", "/openapi.json", "/static")


def install(app: FastAPI, rt: Runtime) -> None:
    from urllib.parse import quote

    from accessward.console import actions, downloads, login, pages
    from accessward.console.session import Forbidden, LoginRequired, cookie_secure, session_secret

    for router in (login.router, actions.router, downloads.router, pages.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=pages.static_dir()), name="static")

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:
        if request.method != "GET":
            return Response("log in first", status_code=401, media_type="text/plain")
        nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(nxt)}", status_code=303)

    previous = app.exception_handlers.get(StarletteHTTPException)  # SCIM's, which passes others on

    @app.exception_handler(StarletteHTTPException)
    async def http_problem(request: Request, exc: StarletteHTTPException) -> Response:
        """The API keeps its JSON (and SCIM) problems; a console page answers a readable page."""
        if request.url.path.startswith(API_PREFIXES):
            if previous is not None:
                answer = previous(request, exc)
                return await answer if inspect.isawaitable(answer) else answer
            return await http_exception_handler(request, exc)
        return pages.render(request, "error.html", status=exc.status_code, message=str(exc.detail),
                            title="Not found" if exc.status_code == 404 else "Not possible")

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return pages.render(request, "error.html", status=403, message=exc.message)

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    cfg = rt.settings
    if cfg.console.demo_users:  # the demo login names principals of the settings: they must exist
        from accessward.sync import principals

        principals.sync_from_settings(rt.engine, cfg, actor="console")
    app.add_middleware(SessionMiddleware, secret_key=session_secret(cfg), session_cookie="accessward_session",
                       max_age=int(cfg.console.session_hours * 3600), same_site="lax",
                       https_only=cookie_secure(cfg))
