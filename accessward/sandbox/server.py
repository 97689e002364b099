"""Run an ASGI app (a simulator) with uvicorn in a background thread on a loopback port.

Tests and ``accessward demo`` need a real HTTP server, not an in-process transport: the
connectors' timeouts, redirects and content-type checks only mean something over a socket.
The socket is bound here, before uvicorn starts, so port 0 yields a free port whose number is
known without parsing log lines, and ``start_app`` returns only once connections are accepted.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, quote

import uvicorn

__all__ = ["ECHO_MODES", "EchoSwitch", "RunningServer", "ServerStartError", "SlowWrites", "start_app"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: How a careless platform hands the caller's credential back (DESIGN.md invariant 7):
#: a login redirect carrying it, a 400 / 401 JSON error quoting it, a 200 HTML page showing it,
#: a 503 maintenance body repeating it.
ECHO_MODES = ("redirect", "400", "401", "html", "503")
_TOKEN_PATHS = ("/token", "/.well-known/", "/discovery/", "/common/", "/organizations/")


class EchoSwitch:
    """ASGI wrapper shared by every simulator: when ``mode`` is set, answer with the caller's secret.

    The credential echoed is the one the request carries: the bearer token (or TikTok's ``Access-Token``
    header), an ``access_token``
    query parameter, or the ``client_secret`` of a token request. Token endpoints (and msal's
    discovery) pass through unless ``token_requests`` is set, so an OAuth client first gets its
    (JWT) access token and then has *that* echoed back. Requests without a credential pass through.
    """

    def __init__(self, app: Any, mode: str | None = None, *, token_requests: bool = False) -> None:
        if mode is not None and mode not in ECHO_MODES:
            raise ValueError(f"unknown echo mode {mode!r}; one of {', '.join(ECHO_MODES)}")
        self.app, self.mode, self.token_requests = app, mode, token_requests
        self.echoed = 0  # answers that carried a secret back (a test checks the mode was exercised)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.mode is None:
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        token_request = any(p in path for p in _TOKEN_PATHS)
        if token_request and not self.token_requests:
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = bool(message.get("more_body"))
        secret = _credential(scope, body)
        if secret is None:
            await self.app(scope, _replay(body), send)
            return
        self.echoed += 1
        status, headers, content = _echo_answer(self.mode, secret, path)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in headers.items()]})
        await send({"type": "http.response.body", "body": content})


class SlowWrites:
    """ASGI wrapper: every write (any method but GET/HEAD/OPTIONS) waits ``delay`` seconds, and is recorded.

    A platform that takes its time to write is where two runs at once go wrong (the second one
    resumes the first's plan mid-flight); ``writes`` lists ``(method, path?query)`` as received,
    so a test can check each revocation was sent exactly once.
    """

    def __init__(self, app: Any, delay: float = 0.0) -> None:
        self.app, self.delay = app, delay
        self.writes: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method", "GET") not in ("GET", "HEAD", "OPTIONS"):
            query = scope.get("query_string", b"").decode("latin-1")
            with self._lock:
                self.writes.append((str(scope["method"]), str(scope.get("path", "")) + (f"?{query}" if query else "")))
            if self.delay:
                await asyncio.sleep(self.delay)
        await self.app(scope, receive, send)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> MutableMapping[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _credential(scope: Scope, body: bytes) -> str | None:
    headers: dict[str, str] = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value:
        return str(value)
    if scheme.lower() == "basic" and value:
        try:
            return base64.b64decode(value).decode().partition(":")[2] or None
        except (ValueError, UnicodeDecodeError):
            return None
    for name in ("access-token", "x-access-token", "x-api-key"):  # TikTok's Access-Token, and others
        if headers.get(name):
            return headers[name]
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("access_token"):
        return str(query["access_token"][0])
    if "form" in headers.get("content-type", ""):
        form = parse_qs(body.decode("utf-8", "replace"))
        if form.get("client_secret"):
            return str(form["client_secret"][0])
    return None


def _echo_answer(mode: str, secret: str, path: str) -> tuple[int, dict[str, str], bytes]:
    encoded = quote(secret, safe="")
    if mode == "redirect":
        location = (f"https://login.example.test/authorize?access_token={encoded}"
                    f"&next={quote(path + '?access_token=' + encoded, safe='')}&raw={secret}")
        return 302, {"location": location, "content-type": "text/html"}, f'<a href="{location}">login</a>'.encode()
    if mode in ("400", "401"):
        body = {"error": {"message": f"Invalid OAuth access token - cannot parse access token: {secret}",
                          "type": "OAuthException", "code": 190 if mode == "400" else 401,
                          "access_token": secret, "request": f"{path}?access_token={encoded}"},
                "error_description": f"token {secret} is not valid", "message": f"bad credential {secret}"}
        headers = {"content-type": "application/json"}
        if mode == "401":
            headers["www-authenticate"] = f'Bearer error="invalid_token", error_description="{encoded}"'
        return int(mode), headers, json.dumps(body).encode()
    if mode == "html":
        page = (f"<html><body><h1>Session expired</h1><p>Your token {secret} has expired.</p>"
                f'<a href="/login?access_token={encoded}">sign in again</a></body></html>')
        return 200, {"content-type": "text/html; charset=utf-8"}, page.encode()
    body = {"error": "service unavailable", "detail": f"maintenance; retry with token {secret}",
            "echo": {"authorization": f"Bearer {secret}"}}
    return 503, {"content-type": "application/json", "retry-after": "0"}, json.dumps(body).encode()


class ServerStartError(RuntimeError):
    """The server thread died or did not accept connections in time."""


class RunningServer:
    """A uvicorn server serving one app in a daemon thread; stop it with ``stop()`` or ``with``."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, sock: socket.socket) -> None:
        self._server = server
        self._thread = thread
        self._sock = sock
        self.host, self.port = sock.getsockname()[:2]

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for its thread; safe to call twice."""
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():  # a stuck request: close the listener anyway
            self._server.force_exit = True
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningServer({self.url!r}, running={self.running})"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit TCP_NODELAY from the listener. asyncio sets it itself only on
    # sockets made with proto=IPPROTO_TCP (this one has proto 0), and without it every answer after
    # the first on a kept-alive connection waits ~40 ms (Nagle against the client's delayed ACK).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _wait_until_accepting(server: uvicorn.Server, thread: threading.Thread, address: tuple[str, int],
                          deadline: float) -> None:
    """Block until uvicorn reports started and a TCP connect succeeds, or raise."""
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise ServerStartError("the server thread exited during startup (see its log)")
        if server.started:
            try:
                with socket.create_connection(address, timeout=0.5):
                    return
            except OSError:
                pass
        time.sleep(0.01)
    raise ServerStartError(f"server on {address} did not start in time")


def start_app(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    log_level: str = "warning",
    startup_timeout: float = 10.0,
) -> RunningServer:
    """Serve ``app`` (any ASGI application) on ``host:port`` (0 = a free port) until stopped.

    ``app`` is typed ``Any`` because uvicorn's own ASGI type is stricter than Starlette's and
    FastAPI's while accepting both at run time.
    """
    sock = _bind(host, port)
    config = uvicorn.Config(
        app, log_level=log_level, access_log=False, lifespan="auto", timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name=f"uvicorn-{sock.getsockname()[1]}")
    thread.start()
    address = sock.getsockname()[:2]
    try:
        _wait_until_accepting(server, thread, address, time.monotonic() + startup_timeout)
    except BaseException:
        server.should_exit = True
        thread.join(startup_timeout)
        sock.close()
        raise
    return RunningServer(server, thread, sock)
