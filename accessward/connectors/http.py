"""The one HTTP client every HTTP connector uses.

It owns what each connector would otherwise get subtly wrong: timeouts, retries with backoff
that honour ``Retry-After``, never following redirects (a login redirect is a failure, not an
empty answer), insisting on JSON where JSON is documented, bounded concurrency per system, and
mapping answers onto the error taxonomy. A connector passes a ``classify`` function for its
platform's error bodies (Meta's 400s with codes, TikTok's HTTP 200 with ``code``).
"""

from __future__ import annotations

import json
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from accessward.connectors import scrub
from accessward.connectors.errors import (
    AuthError,
    ConnectorError,
    MalformedResponseError,
    NotFoundError,
    RejectedError,
    TransientError,
)

log = logging.getLogger("accessward.http")

JSONDict = dict[str, Any]
Classifier = Callable[[httpx.Response], ConnectorError | None]

_SEMAPHORES: dict[str, threading.BoundedSemaphore] = {}
_SEMAPHORES_LOCK = threading.Lock()


def _semaphore(system: str, limit: int) -> threading.BoundedSemaphore:
    with _SEMAPHORES_LOCK:
        sem = _SEMAPHORES.get(system)
        if sem is None:
            sem = _SEMAPHORES[system] = threading.BoundedSemaphore(limit)
        return sem


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _body_text(response: httpx.Response, limit: int = 300) -> str:
    try:
        text = response.text
    except Exception:  # undecodable body: show nothing rather than fail the error path
        return ""
    return text[:limit]


def usage_pause(response: httpx.Response, now: float | None = None) -> float:
    """Seconds to wait before the next call, from the platform's usage headers (0: go on).

    Meta reports how much of its budget is used (``X-App-Usage``, ``X-Business-Use-Case-Usage``);
    when it estimates the time to regain access (minutes) on an answer that still succeeded, the
    next call waits for it instead of being throttled mid-listing. Others say how many calls remain and when the
    window resets (``X-RateLimit-Remaining`` / ``X-RateLimit-Reset``, as delta seconds or epoch).
    """
    pause = 0.0
    for header in ("x-app-usage", "x-ad-account-usage", "x-business-use-case-usage"):
        raw = response.headers.get(header)
        if not raw:
            continue
        try:
            body = json.loads(raw)
        except ValueError:
            continue
        entries: list[Any] = [body] if header != "x-business-use-case-usage" else [
            e for v in (body.values() if isinstance(body, dict) else []) if isinstance(v, list) for e in v]
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            # Percentages alone give no wait; only the platform's own estimate is honoured.
            eta = entry.get("estimated_time_to_regain_access")
            if isinstance(eta, int | float) and eta > 0:
                pause = max(pause, float(eta) * 60)
    remaining, reset = response.headers.get("x-ratelimit-remaining"), response.headers.get("x-ratelimit-reset")
    if remaining is not None and reset is not None:
        try:
            left, until = int(remaining), float(reset)
        except ValueError:
            return pause
        if left <= 0:
            current = time.time() if now is None else now
            pause = max(pause, until - current if until > 1_000_000_000 else until)
    return max(0.0, pause)


_CREDENTIAL_HEADERS = ("authorization", "x-api-key", "access-token", "x-access-token")
_CREDENTIAL_PARAMS = ("access_token", "token", "client_secret", "api_key")


def _remember_credentials(headers: Mapping[str, str], params: Mapping[str, Any] | None) -> None:
    """Register every credential this client sends, so an echo of it is scrubbed wherever it lands.

    Tokens obtained at run time (an OAuth client-credentials token, a refreshed one) are never in
    the settings; the client is the one place they all pass through.
    """
    for name, value in headers.items():
        if name.lower() in _CREDENTIAL_HEADERS and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            scrub.register(token if token and scheme.lower() in ("bearer", "basic", "token") else value)
    for name, value in (params or {}).items():
        if name.lower() in _CREDENTIAL_PARAMS and isinstance(value, str):
            scrub.register(value)


def default_classify(response: httpx.Response) -> ConnectorError | None:
    """Status-code mapping for APIs whose status codes mean what HTTP says."""
    status = response.status_code
    if status < 400:
        return None
    detail = _body_text(response)
    if status == 429 or status >= 500:
        return TransientError(
            f"HTTP {status}", retry_after=parse_retry_after(response.headers.get("Retry-After")),
            detail=detail, status=status,
        )
    if status == 401:
        return AuthError(f"HTTP {status}: credentials refused", detail=detail, status=status)
    if status == 403:
        return AuthError(f"HTTP {status}: not allowed", detail=detail, status=status)
    if status == 404:
        return NotFoundError(f"HTTP {status}: not found", detail=detail, status=status)
    return RejectedError(f"HTTP {status}", detail=detail, status=status)


class HttpClient:
    """A small retrying JSON client bound to one system.

    ``auth`` returns the headers to send on each attempt, so a token refreshed between
    attempts is picked up. ``sleep`` is injectable so tests don't wait for real.
    """

    def __init__(
        self,
        system: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: Callable[[], Mapping[str, str]] | None = None,
        classify: Classifier = default_classify,
        timeout: float = 30.0,
        max_attempts: int = 5,
        backoff: float = 0.5,
        max_wait: float = 120.0,
        max_concurrency: int = 4,
        verify: bool | str = True,
        sleep: Callable[[float], None] = time.sleep,
        on_response: Callable[[httpx.Response], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        self.system = system
        self.base_url = base_url.rstrip("/")
        self._auth = auth
        self._classify = classify
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._max_wait = max_wait
        self._sleep = sleep
        self._on_response = on_response
        self._sem = _semaphore(system, max_concurrency)
        self._pause_until = 0.0  # monotonic time before which no call is sent (usage headers)
        self._client = httpx.Client(
            headers=dict(headers or {}),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
            verify=ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify,
            transport=transport,
        )
        _remember_credentials(self._client.headers, None)
        self.calls = 0

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request, retrying transient failures; return a 2xx answer or raise."""
        url = self.url(path)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._send(method, url, params, json_body, data, headers)
                error = self._check(response)
            except httpx.TransportError as exc:
                error = TransientError(f"{type(exc).__name__}: {exc}", detail=str(exc))
            except TransientError as exc:  # the auth callable's token endpoint may be down too
                error = exc
            if error is None:
                return response
            error.system = error.system or self.system
            if not isinstance(error, TransientError) or attempt >= self._max_attempts:
                raise error
            wait = error.retry_after
            if wait is None:
                wait = self._backoff * (2 ** (attempt - 1)) * (1 + random.random() / 4)
            if wait > self._max_wait:
                raise TransientError(
                    f"{error}; asked to wait {wait:.0f}s, more than {self._max_wait:.0f}s",
                    retry_after=wait, system=self.system, detail=error.detail, status=error.status,
                )
            log.info("transient failure, retrying", extra={
                "system": self.system, "attempt": attempt, "wait_s": round(wait, 2), "error": str(error),
            })
            self._sleep(wait)

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
        data: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        wait = self._pause_until - time.monotonic()
        if wait > 0:
            log.info("pausing for the platform's usage budget", extra={"system": self.system, "wait_s": round(wait)})
            self._sleep(wait)
        merged = dict(self._auth() if self._auth else {})
        merged.update(headers or {})
        _remember_credentials(merged, params)
        with self._sem:
            self.calls += 1
            response = self._client.request(
                method, url, params=params, json=json_body, data=data, headers=merged,
            )
        # Error answers carry their own wait (Retry-After, Meta's throttle codes) on the retry path;
        # usage headers on a *successful* answer pace the calls that follow.
        pause = min(usage_pause(response), self._max_wait) if response.status_code < 300 else 0.0
        if pause > 0:
            self._pause_until = time.monotonic() + pause
        if self._on_response is not None:
            self._on_response(response)
        return response

    def _check(self, response: httpx.Response) -> ConnectorError | None:
        if 300 <= response.status_code < 400:
            return MalformedResponseError(
                f"HTTP {response.status_code} redirect to {response.headers.get('location', '?')!r}; "
                "a redirect is never followed (it is usually a login page)",
                status=response.status_code,
            )
        return self._classify(response)

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> JSONDict:
        return expect_json_object(self.request("GET", path, params=params), self.system)

    def send_json(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> JSONDict | None:
        """A write; returns the JSON object answered, or None for an empty (204) answer."""
        response = self.request(method, path, params=params, json_body=json_body, headers=headers)
        if response.status_code == 204 or not response.content:
            return None
        return expect_json_object(response, self.system)


def expect_json_object(response: httpx.Response, system: str) -> JSONDict:
    """The body as a JSON object, or MalformedResponseError (an HTML page is never "empty")."""
    ctype = response.headers.get("content-type", "")
    if "json" not in ctype:
        raise MalformedResponseError(
            f"expected JSON, got {ctype or 'no content type'}", system=system,
            detail=_body_text(response, 120), status=response.status_code,
        )
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedResponseError(f"invalid JSON: {exc}", system=system, status=response.status_code) from exc
    if not isinstance(body, dict):
        raise MalformedResponseError("expected a JSON object", system=system, status=response.status_code)
    return body


def require_list(body: JSONDict, key: str, system: str) -> list[JSONDict]:
    """``body[key]`` as a list of objects, or MalformedResponseError."""
    items = body.get(key)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        # Only the keys: a body may hold personal data or a next-page URL with a token in it.
        raise MalformedResponseError(f"answer has no list {key!r}", system=system,
                                     detail=f"keys: {', '.join(sorted(map(str, body)))[:200]}")
    return items


def follow_next_links(
    client: HttpClient,
    path: str,
    params: Mapping[str, Any] | None,
    *,
    items_key: str,
    next_link: Callable[[JSONDict], str | None],
    max_pages: int = 100_000,
) -> Iterator[JSONDict]:
    """Yield items page by page, following an absolute next-page URL until there is none.

    Used for Meta's ``paging.next`` and Graph's ``@odata.nextLink``. A next link seen twice
    is a malformed answer (it would loop forever), not the end of the list; so is one that
    leaves the API's host (credentials would follow it there).
    """
    body = client.get_json(path, params)
    seen: set[str] = set()
    home = httpx.URL(client.base_url)
    for _ in range(max_pages):
        yield from require_list(body, items_key, client.system)
        link = next_link(body)
        if not link:
            return
        target = httpx.URL(client.url(link))
        if (target.scheme, target.host, target.port) != (home.scheme, home.host, home.port):
            raise MalformedResponseError(f"next page is on another host ({target.host})", system=client.system)
        if link in seen:
            raise MalformedResponseError(f"paging loops on {link!r}", system=client.system)
        seen.add(link)
        body = client.get_json(link)
    raise MalformedResponseError(f"more than {max_pages} pages", system=client.system)


def offset_pages(
    client: HttpClient,
    path: str,
    params: Mapping[str, Any] | None,
    *,
    items_key: str,
    start_param: str,
    count_param: str,
    page_size: int,
    first: int = 0,
    max_pages: int = 100_000,
) -> Iterator[JSONDict]:
    """Yield items from start/count paging; a page shorter than asked is the last one."""
    start = first
    for _ in range(max_pages):
        query = dict(params or {})
        query[start_param] = start
        query[count_param] = page_size
        page = require_list(client.get_json(path, query), items_key, client.system)
        yield from page
        if len(page) < page_size:
            return
        start += len(page)
    raise MalformedResponseError(f"more than {max_pages} pages", system=client.system)
