"""Who is logged in to the console, and may they: the session, the OIDC login, CSRF, roles.

The session cookie (Starlette's, signed with itsdangerous) holds the principal's id, the roles its
IdP groups mapped to, when the login expires and the CSRF token; it is HttpOnly, SameSite=Lax
and Secure unless the console is reached on a loopback address. The login is OIDC's
authorization-code flow with PKCE (S256) through authlib; the principal is
``principals.resolve_or_create`` (so a person's API token and their login are one principal).
Every state-changing form carries the session's CSRF token, checked before anything is read.
:func:`caller` turns the session into the same ``api.auth.Caller`` a personal token gives, so a
console action runs the code and the authorisation of the API and is audited against the person.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException, Request

from accessward.api.auth import Caller
from accessward.operations import allowed
from accessward.runtime import Runtime
from accessward.settings import Settings
from accessward.sync import principals
from accessward.sync.principals import PrincipalRef

ANY_ROLE = ("hr", "service_desk", "auditor", "approver", "reviewer")


class LoginRequired(Exception):
    """No (or an expired) session: the browser is sent to the login page."""


class Forbidden(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def cookie_secure(cfg: Settings) -> bool:
    """Secure cookies, except when the console is reached over plain HTTP on a loopback address."""
    if cfg.console.base_url:
        parts = urlsplit(cfg.console.base_url)
        return not (parts.scheme == "http" and is_loopback(parts.hostname or ""))
    return not is_loopback(cfg.service.host)


def session_secret(cfg: Settings) -> str:
    ref = cfg.console.session_secret
    return ref.resolve() if ref is not None else secrets.token_urlsafe(32)


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> dict[str, Any]:
    """The form, once its CSRF token matches the session's and no other site sent it (else 403)."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.url.netloc:
        raise Forbidden("this form was sent from another site")
    form = await request.form()
    given = form.get("csrf")
    expected = request.session.get("csrf")
    if not isinstance(given, str) or not isinstance(expected, str) or not hmac.compare_digest(
            given.encode(), expected.encode()):
        raise Forbidden("the form's security token does not match your session: reload the page and try again")
    return {k: v for k, v in form.multi_items()} | {"_all": form}


def login(request: Request, who: PrincipalRef, roles: list[str], via: str) -> None:
    rt: Runtime = request.app.state.runtime
    request.session.clear()
    request.session.update({
        "uid": who.id, "roles": sorted(set(roles)), "via": via,
        "exp": int(time.time() + rt.settings.console.session_hours * 3600), "csrf": secrets.token_urlsafe(32),
    })


def current(request: Request) -> tuple[PrincipalRef, list[str]] | None:
    """The logged-in principal and roles, or None (no session, expired, or the principal disabled)."""
    uid, exp = request.session.get("uid"), request.session.get("exp")
    if not isinstance(uid, int) or not isinstance(exp, int) or exp < time.time():
        return None
    rt: Runtime = request.app.state.runtime
    who = principals.get(rt.engine, uid)
    if who is None or not who.is_person:
        request.session.clear()
        return None
    roles = request.session.get("roles")
    return who, [r for r in roles if isinstance(r, str)] if isinstance(roles, list) else []


def caller(request: Request, *roles: str) -> Caller:
    """The session as an API caller with one of ``roles`` (admin passes); LoginRequired / Forbidden."""
    found = current(request)
    if found is None:
        raise LoginRequired()
    who, have = found
    role = allowed(have, *(roles or ANY_ROLE))
    if role is None:
        raise Forbidden(f"this needs the role {' or '.join(roles)}; you have {', '.join(have) or 'none'}")
    result = Caller(who.actor, role, "console", who)
    request.state.caller = result  # the audit trail's api.call records the person
    return result


def roles_from_groups(cfg: Settings, groups: Any) -> list[str]:
    names = {str(g) for g in groups} if isinstance(groups, list | tuple | set) else (
        {groups} if isinstance(groups, str) else set())
    return sorted(role for role, wanted in cfg.console.roles.items() if names & set(wanted))


def oauth_client(rt: Runtime) -> Any:
    """The authlib client of the company IdP (discovery, PKCE S256), made once per app."""
    from authlib.integrations.starlette_client import OAuth

    cfg = rt.settings.console
    if not cfg.issuer or not cfg.client_id:
        raise HTTPException(404, "no OIDC login is configured ([console] issuer and client_id)")
    oauth = OAuth()
    oauth.register(
        "idp", client_id=cfg.client_id,
        client_secret=cfg.client_secret.resolve() if cfg.client_secret else None,
        server_metadata_url=cfg.issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": cfg.scopes, "code_challenge_method": "S256",
                       "token_endpoint_auth_method": "client_secret_basic" if cfg.client_secret else "none"},
    )
    return oauth.create_client("idp")
