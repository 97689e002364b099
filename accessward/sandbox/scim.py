"""The real ``scim2-server`` (PyPI) on a loopback port, behind a thin fault-injecting WSGI wrapper.

The SCIM connector is tested against an actual SCIM 2.0 implementation, not a simulator of our
own: ``scim2-server``'s ``BearerTokenApplication`` (the application behind its
``scim2-server --bearer-token`` command; it answers 401 with ``WWW-Authenticate`` to a missing or
unknown bearer token) over its ``InMemoryStorage``, served by wsgiref's threading server exactly as
that command serves it. It pages by 1-based ``startIndex``/``count`` bounded by
``filter.maxResults``, answers PATCH with 204 (or 200 and the resource when ``attributes`` is
asked for), DELETE with 204 then 404, and errors in the SCIM error schema with ``status`` as a
string.

``ScimFaults`` wraps it to add what a real SaaS suite does and the package does not:

- 429 with ``Retry-After`` (RFC 7644 has no 429; providers add it), 503, an HTML page, a redirect,
  a ListResponse without ``Resources``, a server that ignores ``startIndex``, a token that expires
  at a given call (it is removed from the application's tokens, so the *real* server answers 401);
- ``patch_returns_resource``: PATCH answers 200 with the resource (as many providers do) instead
  of the package's 204 - both are allowed by RFC 7644 section 3.5.2;
- ``protected``: users a suite refuses to deactivate or delete (its account owner) with 400
  ``mutability`` and a message (unverified: what a given suite answers is not public);
- ``read_only_tokens``: tokens that may read but get 403 on writes.

Every request that passes the wrapper is recorded (never its token).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode
from wsgiref.simple_server import WSGIRequestHandler, make_server

from scim2_models import Filter, Patch, ScimProvider
from scim2_server.memory import InMemoryStorage
from scim2_server.requests import ScimRequest
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
from scim2_server.testserver.cli import ThreadingWSGIServer
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = [
    "DEMO_TOKEN", "ERROR_SCHEMA", "USER_SCHEMA", "ScimCall", "ScimFault", "ScimFaultKind", "ScimFaults",
    "ScimServer", "demo_users", "start_scim_server",
]

DEMO_TOKEN = "demo-scim-token"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
OWNER_REFUSAL = "The account owner cannot be deactivated or deleted. Transfer ownership first."


class ScimFaultKind(StrEnum):
    throttle = "throttle"  # 429 + Retry-After, SCIM error body
    server_error = "server_error"  # 503, SCIM error body
    html = "html"  # 200 text/html sign-in page
    redirect = "redirect"  # 302 to a sign-in page
    no_resources = "no_resources"  # a ListResponse whose "Resources" was dropped
    ignore_start_index = "ignore_start_index"  # the server answers page 1 whatever startIndex was asked
    expire_token = "expire_token"  # the presented token stops being accepted at this call


@dataclass
class ScimFault:
    kind: ScimFaultKind
    first_call: int
    times: int = 1
    retry_after: float | None = None

    def covers(self, call: int) -> bool:
        return self.first_call <= call < self.first_call + self.times


@dataclass
class ScimCall:
    call: int
    method: str
    path: str
    query: dict[str, str]
    body: Any = None
    status: int = 0


def _scim_error(status: int, detail: str, scim_type: str | None = None) -> bytes:
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return json.dumps(body).encode()


_SIGN_IN = b"""<!DOCTYPE html><html><head><title>Sign in</title></head>
<body><form method="post" action="/sso/login"><input name="email"><button>Continue</button></form></body></html>"""


class ScimFaults:
    """WSGI middleware around the real application: faults, switches and a request log."""

    def __init__(self, app: BearerTokenApplication) -> None:
        self.app = app
        self.patch_returns_resource = False
        self.protected: dict[str, str] = {}  # user id -> the refusal message
        self.read_only_tokens: set[str] = set()
        self.lock = threading.RLock()
        self.calls = 0
        self.requests: list[ScimCall] = []
        self.faults: list[ScimFault] = []

    # -- switches -----------------------------------------------------------------------------

    def inject(self, kind: ScimFaultKind, *, at_call: int | None = None, times: int = 1,
               retry_after: float | None = None) -> ScimFault:
        """Make calls ``at_call`` .. ``at_call + times - 1`` fail (default: the next ``times`` calls)."""
        with self.lock:
            fault = ScimFault(kind, at_call if at_call is not None else self.calls + 1, times, retry_after)
            self.faults.append(fault)
            return fault

    def throttle(self, *, at_call: int | None = None, times: int = 1, retry_after: float | None = 0) -> ScimFault:
        return self.inject(ScimFaultKind.throttle, at_call=at_call, times=times, retry_after=retry_after)

    def expire_token(self, token: str | None = None) -> None:
        """Stop accepting ``token`` (every token when None): the real server then answers 401."""
        with self.lock:
            if token is None:
                self.app.bearer_tokens = {"-expired-"}  # an empty set would accept every request
            else:
                self.app.bearer_tokens.discard(token)
                if not self.app.bearer_tokens:
                    self.app.bearer_tokens = {"-expired-"}

    def _fault(self, call: int, kinds: set[ScimFaultKind]) -> ScimFault | None:
        return next((f for f in self.faults if f.kind in kinds and f.covers(call)), None)

    @property
    def writes(self) -> list[ScimCall]:
        with self.lock:
            return [r for r in self.requests if r.method != "GET"]

    def calls_to(self, path_suffix: str, method: str = "GET") -> list[ScimCall]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]

    # -- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = _Replay(raw)
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")[2].strip()
        with self.lock:
            self.calls += 1
            record = ScimCall(self.calls, method, path, query, body)
            self.requests.append(record)
            call = self.calls

        def recording_start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            record.status = int(status.split()[0])
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        canned = self._canned(call, method, path, token, environ)
        if canned is not None:
            status, headers, payload = canned
            recording_start(status, headers)
            return [payload]
        if self._fault(call, {ScimFaultKind.no_resources}) is not None and method == "GET":
            return self._drop_resources(environ, recording_start)
        return self.app(environ, recording_start)

    def _canned(self, call: int, method: str, path: str, token: str,
                environ: WSGIEnvironment) -> tuple[str, list[tuple[str, str]], bytes] | None:
        """A response the wrapper gives instead of the server, or None (and maybe a rewritten request)."""
        scim = [("Content-Type", "application/scim+json")]
        with self.lock:
            fault = self._fault(call, {ScimFaultKind.html, ScimFaultKind.redirect, ScimFaultKind.server_error,
                                       ScimFaultKind.throttle, ScimFaultKind.expire_token,
                                       ScimFaultKind.ignore_start_index})
            if fault is not None and fault.kind is ScimFaultKind.expire_token:
                self.expire_token(token)
                fault = None
            if fault is not None and fault.kind is ScimFaultKind.ignore_start_index:
                query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
                query.pop("startIndex", None)
                environ["QUERY_STRING"] = urlencode(query)
                fault = None
            protected = self.protected.get(path.rsplit("/", 1)[-1]) if "/Users/" in path else None
            read_only = token in self.read_only_tokens
            patch_resource = self.patch_returns_resource
        if fault is not None:
            if fault.kind is ScimFaultKind.html:
                return "200 OK", [("Content-Type", "text/html; charset=utf-8")], _SIGN_IN
            if fault.kind is ScimFaultKind.redirect:
                return "302 Found", [("Location", "https://sso.example.com/login"), ("Content-Length", "0")], b""
            if fault.kind is ScimFaultKind.server_error:
                return "503 Service Unavailable", scim, _scim_error(503, "Service temporarily unavailable")
            headers = list(scim)
            if fault.retry_after is not None:
                headers.append(("Retry-After", f"{fault.retry_after:g}"))
            return "429 Too Many Requests", headers, _scim_error(429, "Too many requests")
        if method != "GET" and read_only and token in self.app.bearer_tokens:
            return "403 Forbidden", scim, _scim_error(403, "This token may only read.")
        if protected is not None and method in ("PATCH", "DELETE", "PUT") and token in self.app.bearer_tokens:
            return "400 Bad Request", scim, _scim_error(400, protected, "mutability")
        if method == "PATCH" and patch_resource:
            environ["QUERY_STRING"] = urlencode({**dict(parse_qsl(environ.get("QUERY_STRING", ""))),
                                                 "attributes": "userName,active"})
        return None

    def _drop_resources(self, environ: WSGIEnvironment, start_response: Callable[..., Any]) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        payload = b"".join(self.app(environ, capture))
        try:
            body = json.loads(payload)
            body.pop("Resources", None)
            payload = json.dumps(body).encode()
        except (ValueError, AttributeError):
            pass
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(payload)))])
        return [payload]


class _Replay:
    """A re-readable ``wsgi.input`` (the wrapper read the body to record it)."""

    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size is None or size < 0 else self._pos + size
        chunk, self._pos = self._data[self._pos:end], min(end, len(self._data))
        return chunk

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)

    def readlines(self, hint: int = -1) -> list[bytes]:
        return [self.read()]

    def __iter__(self) -> Iterator[bytes]:
        yield self.read()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class ScimServer:
    """``scim2-server`` over an in-memory storage, with ``ScimFaults`` in front, on 127.0.0.1.

    ``tokens`` are the bearer tokens the server accepts; at least one is required, because the
    package accepts every request when it has none. ``patch_supported=False`` announces no PATCH
    (the server then answers 501 to one); ``max_results`` bounds every page (``filter.maxResults``),
    whatever ``count`` the client asks for.
    """

    def __init__(self, tokens: Iterable[str] = (DEMO_TOKEN,), *, patch_supported: bool = True,
                 max_results: int = 1000, host: str = "127.0.0.1", port: int = 0) -> None:
        self.tokens = list(tokens)
        self.host, self._bind_port = host, port
        if not self.tokens:
            raise ValueError("give at least one bearer token: without one scim2-server accepts anybody")
        config = load_default_service_provider_config()
        config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
        config.patch = Patch(supported=patch_supported)
        config.filter = Filter(supported=True, max_results=max_results)
        provider = ScimProvider.from_discovery(load_default_schemas().values(),
                                               load_default_resource_types().values(), config=config)
        self.storage = InMemoryStorage()
        self.app = BearerTokenApplication(self.storage, provider, service=ScimService(provider, secret="sandbox"),
                                          bearer_tokens=self.tokens)
        self.faults = ScimFaults(self.app)
        self._server: ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The SCIM base URL, e.g. ``http://127.0.0.1:54321/v2`` (``/Users`` is below it)."""
        return f"{self.root}/v2"

    def start(self) -> ScimServer:
        server = make_server(self.host, self._bind_port, self.faults, server_class=ThreadingWSGIServer,
                             handler_class=_QuietHandler)
        self._server, self.port = server, server.server_port
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name=f"scim2-server-{self.port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> ScimServer:
        return self if self._server is not None else self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- seeding and inspection, through the package's own request handling -------------------

    def _serve(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any] | None]:
        """Serve a request in-process with the package's handler, past authentication (a back door)."""
        request = ScimRequest(method=method, base_url=self.url, path=path,
                              headers={"Content-Type": "application/scim+json"},
                              body=json.dumps(body).encode() if body is not None else b"")
        try:
            response = self.app.handler.handle(request)
        except Exception as exc:  # the package's own error path: a SCIMException becomes its response
            response = self.app.service.error_response(exc)
        return int(response.status), response.body

    def add_user(self, user_name: str, *, active: bool = True, email: str | None = None,
                 display_name: str | None = None, roles: Iterable[str] = (), employee_number: str | None = None,
                 **attributes: Any) -> str:
        """Create a user as a provisioning client would (POST /Users); returns its id."""
        body: dict[str, Any] = {"schemas": [USER_SCHEMA], "userName": user_name, "active": active, **attributes}
        if email:
            body["emails"] = [{"value": email, "type": "work", "primary": True}]
        if display_name:
            body["displayName"] = display_name
        if roles:
            body["roles"] = [{"value": r} for r in roles]
        if employee_number:
            body["schemas"].append(ENTERPRISE_SCHEMA)
            body[ENTERPRISE_SCHEMA] = {"employeeNumber": employee_number}
        status, created = self._serve("POST", "/Users", body)
        if status != HTTPStatus.CREATED or created is None:
            raise RuntimeError(f"scim2-server refused the user {user_name!r}: {status} {created}")
        return str(created["id"])

    def user(self, user_id: str) -> dict[str, Any] | None:
        """The user as GET /Users/{id} shows it, or None after a deletion."""
        status, body = self._serve("GET", f"/Users/{user_id}")
        return body if status == HTTPStatus.OK else None


def start_scim_server(tokens: Iterable[str] = (DEMO_TOKEN,), **kw: Any) -> ScimServer:
    """A started ``ScimServer``; stop it with ``stop()`` or use it as a context manager."""
    return ScimServer(tokens, **kw).start()


def demo_users(server: ScimServer) -> dict[str, str]:
    """Seed the demo workspace of a social-media suite; returns userName -> id.

    Dana Leaver has left but is still an active publisher; Taylor Brooks is agency staff; Casey
    Former was deactivated already (not access); the scheduler integration has a non-email
    userName. Role names follow the publishing ladder's wording as suites use it.
    """
    people = [
        ("alex.morgan@example.com", "Alex Morgan", ["Account Owner"], True, "E1001"),
        ("dana.leaver@example.com", "Dana Leaver", ["Publisher"], True, "E1002"),
        ("sam.rivera@example.com", "Sam Rivera", ["Can Reply"], True, "E1003"),
        ("priya.shah@example.com", "Priya Shah", ["Read Only"], True, "E1004"),
        ("taylor.brooks@brightside.example", "Taylor Brooks (Brightside Agency)", ["Needs Approval"], True, None),
        ("casey.former@example.com", "Casey Former", ["Publisher"], False, "E0999"),
    ]
    ids = {name: server.add_user(name, email=name, display_name=display, roles=roles, active=active,
                                 employee_number=number)
           for name, display, roles, active, number in people}
    ids["svc-scheduler"] = server.add_user("svc-scheduler", display_name="Publishing Scheduler", roles=["Publisher"])
    server.faults.protected[ids["alex.morgan@example.com"]] = OWNER_REFUSAL
    return ids
