"""Who is calling, and may they: API tokens with roles, or HR's signed webhook.

A signed request carries ``X-Accessward-Timestamp`` (Unix seconds) and ``X-Accessward-Signature:
sha256=<hex>``, the HMAC-SHA256 with the shared secret over ``<timestamp>.<raw body>``. It is
refused (401) when the secret is not configured, the timestamp is more than the tolerance (5
minutes by default) away from now, or the signature does not match; a signature seen before is a
replay and is refused (409) before anything else happens. Signed callers act with the ``hr`` role.

Otherwise ``Authorization: Bearer <token>``: the token's role must be one the endpoint allows
(``admin`` may do everything); an expired token is refused like a revoked one. A personal token
(bound to a principal) acts as that principal: ``Caller.actor`` is the principal's, and
:func:`require_person` admits only such callers (approvals, review decisions). Who called is left
on ``request.state.caller`` for the audit trail.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col
from starlette.concurrency import run_in_threadpool

from accessward import tokens
from accessward.runtime import Runtime
from accessward.sync import principals
from accessward.sync.clock import utcnow
from accessward.sync.principals import PrincipalRef
from accessward.sync.service_models import SeenNonce

SIGNATURE_HEADER = "X-Accessward-Signature"
TIMESTAMP_HEADER = "X-Accessward-Timestamp"
WEBHOOK_ROLE = "hr"
_UNIX_SECONDS = re.compile(r"^\s*[0-9]{1,12}\s*$")  # anything longer is no timestamp (and would overflow)

_bearer = HTTPBearer(auto_error=False, description="An API token (accessward token create)")
_signature = APIKeyHeader(name=SIGNATURE_HEADER, auto_error=False,
                          description=f"sha256=HMAC-SHA256(secret, '<{TIMESTAMP_HEADER}>.<body>'), HR webhook only")


@dataclass(frozen=True)
class Caller:
    actor: str  # principal:<key> (a personal token) | token:<name> | webhook:hr
    role: str
    via: str  # bearer | signature
    principal: PrincipalRef | None = None  # set for a personal token


class AuthProblem(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(rt: Runtime, headers: Mapping[str, str], body: bytes, now: float | None = None) -> Caller:
    svc = rt.settings.service
    if svc.hr_webhook_secret is None:
        raise AuthProblem(401, "signed requests are not configured (service.hr_webhook_secret)")
    stamp, given = headers.get(TIMESTAMP_HEADER, ""), headers.get(SIGNATURE_HEADER, "")
    if not _UNIX_SECONDS.match(stamp):
        raise AuthProblem(401, f"{TIMESTAMP_HEADER} must be Unix seconds")
    sent = int(stamp)
    if abs((now if now is not None else time.time()) - sent) > svc.signature_tolerance_seconds:
        raise AuthProblem(401, f"{TIMESTAMP_HEADER} is more than {svc.signature_tolerance_seconds} s from now")
    expected = sign(svc.hr_webhook_secret.resolve(), stamp, body)
    if not hmac.compare_digest(expected.encode(), given.strip().lower().encode()):
        raise AuthProblem(401, "the signature does not match")
    _remember(rt, hashlib.sha256(expected.encode()).hexdigest(), svc.signature_tolerance_seconds)
    return Caller("webhook:hr", WEBHOOK_ROLE, "signature")


def signature_matches(rt: Runtime, headers: Mapping[str, str], body: bytes) -> bool:
    """Whether the signature verifies, without recording it as used (for answering 401 vs 422)."""
    svc = rt.settings.service
    stamp = headers.get(TIMESTAMP_HEADER, "")
    if svc.hr_webhook_secret is None or not _UNIX_SECONDS.match(stamp):
        return False
    if abs(time.time() - int(stamp)) > svc.signature_tolerance_seconds:
        return False
    expected = sign(svc.hr_webhook_secret.resolve(), stamp, body)
    return hmac.compare_digest(expected.encode(), headers.get(SIGNATURE_HEADER, "").strip().lower().encode())


def _remember(rt: Runtime, nonce: str, tolerance: int) -> None:
    """Record a signature as used; a second use is a replay (409). Old ones can no longer verify."""
    now = utcnow()
    try:
        with Session(rt.engine) as session:
            session.exec(delete(SeenNonce).where(col(SeenNonce.seen_at) < now - timedelta(seconds=3 * tolerance)))
            session.add(SeenNonce(nonce=nonce, seen_at=now))
            session.commit()
    except IntegrityError:
        raise AuthProblem(409, "this signed request was accepted before: a replay is refused") from None


def verify_token(rt: Runtime, token: str) -> Caller:
    found, problem = tokens.lookup(rt.engine, token)
    if found is None:
        raise AuthProblem(401, problem)
    if found.principal_id is not None:
        who = principals.get(rt.engine, found.principal_id)
        if who is None:
            raise AuthProblem(401, f"API token {found.name!r}: its principal is disabled")
        return Caller(who.actor, found.role, "bearer", who)
    return Caller(f"token:{found.name}", found.role, "bearer")


def require_person(*roles: str) -> Callable[..., Awaitable[Caller]]:
    """Like :func:`require`, and the caller must be a person: a personal token (``Caller.principal`` set)."""
    inner = require(*roles)

    async def dependency(request: Request, bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
                         signature: str | None = Depends(_signature)) -> Caller:
        caller = await inner(request, bearer, signature)
        if caller.principal is None or not caller.principal.is_person:
            raise HTTPException(403, "this decision is recorded against a person: use a personal API token "
                                     "(accessward token create --principal ID)")
        return caller

    return dependency


def require(*roles: str) -> Callable[..., Awaitable[Caller]]:
    """A dependency admitting callers with one of ``roles`` (or ``admin``)."""

    async def dependency(request: Request, bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
                         signature: str | None = Depends(_signature)) -> Caller:
        rt: Runtime = request.app.state.runtime
        try:
            if signature is not None:
                body = await request.body()
                caller = await run_in_threadpool(verify_signature, rt, request.headers, body)
            elif bearer is not None:
                caller = await run_in_threadpool(verify_token, rt, bearer.credentials)
            else:
                raise AuthProblem(401, "authenticate with an API token (Authorization: Bearer) or a signature")
        except AuthProblem as exc:
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            raise HTTPException(exc.status, exc.detail, headers=headers) from None
        request.state.caller = caller
        if caller.role not in roles and caller.role != "admin":
            raise HTTPException(403, f"role {caller.role} may not do this; allowed: {', '.join(roles)}, admin")
        return caller

    return dependency
