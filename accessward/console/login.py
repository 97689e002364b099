"""Login and logout: OIDC (authorization code + PKCE) against the company IdP, or the demo's local login."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from accessward.console.pages import render, rt_of
from accessward.console.session import (
    Forbidden,
    check_csrf,
    is_loopback,
    login,
    oauth_client,
    roles_from_groups,
)
from accessward.sync import audit, principals

router = APIRouter(include_in_schema=False)


def _client(request: Request) -> Any:
    app = request.app
    client = getattr(app.state, "oidc_client", None)
    if client is None:
        client = oauth_client(rt_of(request))
        app.state.oidc_client = client
    return client


def _demo_allowed(request: Request) -> bool:
    return bool(rt_of(request).settings.console.demo_users) and is_loopback(
        request.client.host if request.client else "")


def _safe_next(value: Any) -> str:
    return value if isinstance(value, str) and value.startswith("/") and not value.startswith("//") else "/"


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    cfg = rt_of(request).settings.console
    request.session["next"] = _safe_next(next)
    demo = sorted(cfg.demo_users.items()) if _demo_allowed(request) else []
    return render(request, "login.html", oidc=bool(cfg.issuer and cfg.client_id), demo=demo)


@router.get("/login/oidc")
async def login_oidc(request: Request) -> Response:
    cfg = rt_of(request).settings.console
    base = (cfg.base_url or str(request.base_url)).rstrip("/")
    response: Response = await _client(request).authorize_redirect(request, f"{base}/auth/callback")
    return response


@router.get("/auth/callback")
async def callback(request: Request) -> Response:
    from authlib.integrations.base_client import OAuthError

    rt = rt_of(request)
    client = _client(request)
    try:
        token = await client.authorize_access_token(request)
    except OAuthError as exc:
        raise Forbidden(f"the login did not complete: {exc.error}") from None
    claims: dict[str, Any] = dict(token.get("userinfo") or {})
    groups_claim = rt.settings.console.groups_claim
    if groups_claim not in claims:
        claims.update(dict(await client.userinfo(token=token)))
    roles = roles_from_groups(rt.settings, claims.get(groups_claim))
    issuer, sub = str(claims.get("iss") or rt.settings.console.issuer), str(claims.get("sub") or "")
    if not roles:
        audit.record(rt.engine, "console.login_refused", f"login:{issuer}",
                     {"sub": sub, "reason": "no group maps to a role"}, actor=f"login:{issuer}")
        raise Forbidden("your account is in no group that gives a role in Accessward; ask its administrators")
    try:
        who = principals.resolve_or_create(rt.engine, issuer=issuer, sub=sub, email=claims.get("email"),
                                           name=str(claims.get("name") or claims.get("email") or sub),
                                           email_verified=claims.get("email_verified") is True)
    except ValueError as exc:
        raise Forbidden(str(exc)) from None
    nxt = _safe_next(request.session.get("next"))
    login(request, who, roles, "oidc")
    audit.record(rt.engine, "console.login", f"principal:{who.key}", {"via": "oidc", "roles": roles},
                 actor=who.actor)
    return RedirectResponse(nxt, status_code=303)


@router.post("/login/demo")
async def login_demo(request: Request) -> Response:
    form = await check_csrf(request)
    rt = rt_of(request)
    key = form.get("principal")
    users = rt.settings.console.demo_users
    if not _demo_allowed(request) or not isinstance(key, str) or key not in users:
        raise Forbidden("the local login is only for the embedded demo, on this machine")
    who = principals.by_key(rt.engine, key)
    if who is None:
        raise Forbidden(f"no principal {key!r}")
    nxt = _safe_next(request.session.get("next"))
    login(request, who, users[key], "demo")
    audit.record(rt.engine, "console.login", f"principal:{who.key}", {"via": "demo", "roles": users[key]},
                 actor=who.actor)
    return RedirectResponse(nxt, status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await check_csrf(request)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
