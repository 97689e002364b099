"""What the service refuses before it does any work: oversized bodies, unauthenticated validation.

:class:`BodyLimit` is a raw ASGI middleware, outermost, so it runs before authentication and before
anything parses the body: a ``Content-Length`` above the limit is answered 413 at once, and a body
sent without one (chunked) is counted as it streams and cut off at the limit. Nothing past the
limit is ever read into memory.

:func:`validation_problem` answers a request that failed body or parameter validation: FastAPI
parses the body before it runs the authentication dependency, so a malformed body would get a 422
describing it to anyone. Unless the caller is authenticated (a valid token or signature), the
answer is the 401 they would have got; an authenticated caller gets the 422.

:data:`METHODS` bounds the ``method`` label of the HTTP metrics: a made-up method is counted as
``other`` instead of creating a new series per request.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
TOO_LARGE_FLAG = "accessward.body_too_large"


def method_label(method: str) -> str:
    return method if method in METHODS else "other"


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            scope[TOO_LARGE_FLAG] = True
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    scope[TOO_LARGE_FLAG] = True
                    raise BodyTooLarge
            return message

        async def watching_send(message: Message) -> None:
            # Whatever the app made of a cut-off body (FastAPI answers 400 "error parsing the
            # body"), the answer is 413.
            nonlocal started
            if scope.get(TOO_LARGE_FLAG):
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._refuse(send)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": f"request body larger than {self.max_bytes} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value) if len(value) <= 18 else 1 << 62
            except ValueError:
                return None
    return None


async def validation_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if getattr(request.state, "caller", None) is None and not await _authenticates(request):
        return JSONResponse({"detail": "authenticate with an API token (Authorization: Bearer) or a signature"},
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})
    return await request_validation_exception_handler(request, exc)


async def _authenticates(request: Request) -> bool:
    """Would this request's credentials be accepted (any role)? A signature is checked without spending it."""
    from accessward.api import auth

    rt: Any = request.app.state.runtime
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        try:
            await run_in_threadpool(auth.verify_token, rt, header[7:].strip())
            return True
        except auth.AuthProblem:
            return False
    if request.headers.get(auth.SIGNATURE_HEADER):
        return await run_in_threadpool(auth.signature_matches, rt, request.headers, await request.body())
    return False
