"""Meta Graph error bodies mapped onto the connector error taxonomy (see ``connectors.meta``).

Every decision is chosen so that a failure can never look like "no access left". One Meta answer
needs care: code 190 with "must be called with a Page Access Token" is not a dead source token but
a Page whose token the connector could not use — a configuration problem of that Page
(:class:`PageTokenError`), named with its fix.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from accessward.connectors.errors import (
    AuthError,
    ConnectorError,
    MalformedResponseError,
    NotFoundError,
    RejectedError,
    StopError,
    TransientError,
)
from accessward.connectors.http import JSONDict

PAGE_TOKEN_FIX = ("assign the system user to the Page with the MANAGE task (full control) in Business Settings "
                  "> Accounts > Pages > Assign people, and give the app pages_manage_metadata and pages_show_list")


class PageTokenError(StopError):
    """No usable Page access token for one Page: the Page's configuration, not the source token."""


_AUTH_CODES = frozenset({102, 104, 190})
_THROTTLE_CODES = frozenset({4, 17, 32, 613})
_TRANSIENT_CODES = frozenset({1, 2})
_TOKEN_STATES = {463: "expired", 460: "invalidated (password changed)", 458: "not authorized for the app",
                 459: "blocked by a checkpoint", 464: "held by an unconfirmed user", 467: "invalid"}


class GraphRejectedError(RejectedError):
    """A refusal whose Graph ``code`` the revoker needs: 100 on a DELETE is ambiguous."""

    def __init__(self, message: str, *, code: int, subcode: int | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.code = code
        self.subcode = subcode


# -- classification ------------------------------------------------------------------------------


def _graph_error(response: httpx.Response) -> JSONDict | None:
    """The ``error`` object of a Graph error body, or None if the body is not one."""
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), int):
        return error
    return None


def regain_access_seconds(response: httpx.Response) -> float | None:
    """The longest ``estimated_time_to_regain_access`` (minutes) in X-Business-Use-Case-Usage, in seconds."""
    try:
        usage = json.loads(response.headers.get("x-business-use-case-usage", ""))
    except ValueError:
        return None
    etas = [
        float(entry["estimated_time_to_regain_access"])
        for entries in (usage.values() if isinstance(usage, dict) else ())
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict) and isinstance(entry.get("estimated_time_to_regain_access"), int | float)
    ]
    return max(etas) * 60.0 if etas else None


def _is_throttle(code: int) -> bool:
    return code in _THROTTLE_CODES or 80000 <= code <= 80099


def classify_graph_error(response: httpx.Response) -> ConnectorError | None:
    """Map a Graph answer onto the error taxonomy by ``error.code`` (see the module docstring)."""
    status = response.status_code
    if status < 400:
        return None
    error = _graph_error(response)
    if error is None:
        if status >= 500:
            return TransientError(f"HTTP {status} without a Graph error body", status=status,
                                  retry_after=regain_access_seconds(response))
        return MalformedResponseError(f"HTTP {status} without a Graph error body", status=status,
                                      detail=response.text[:120])
    code: int = error["code"]
    subcode = error.get("error_subcode") if isinstance(error.get("error_subcode"), int) else None
    message = str(error.get("message", ""))
    trace = error.get("fbtrace_id")
    detail = f"{message} (fbtrace_id {trace})" if trace else message
    label = f"code {code}" + (f"/{subcode}" if subcode is not None else "")
    kw: dict[str, Any] = {"detail": detail, "status": status}
    if code == 190 and "page access token" in message.lower():
        # A Page edge called without (or with a stale) Page token: that Page's configuration, not a
        # dead source token (reference/social-apis.md, "Page edges need a Page token").
        return PageTokenError(f"Meta wants a Page access token for this Page edge ({label}): {message}; "
                              f"{PAGE_TOKEN_FIX}", **kw)
    if code in _AUTH_CODES:
        what = "missing" if code == 104 else _TOKEN_STATES.get(subcode or 0, "expired or revoked")
        return AuthError(f"Meta access token {what} ({label}): {message}. The source is stopped; "
                         "this is a credentials failure, not an empty listing", **kw)
    if code == 10 or 200 <= code <= 299:
        return AuthError(f"Meta permission missing for this token ({label}): {message}", **kw)
    if _is_throttle(code) or code in _TRANSIENT_CODES or status >= 500:
        return TransientError(f"Meta throttled or unavailable ({label}): {message}",
                              retry_after=regain_access_seconds(response), **kw)
    if code == 100 and subcode == 33:
        return NotFoundError(f"Meta object not found or not visible ({label}): {message}", **kw)
    if code == 2500:
        return StopError(f"Meta path not understood ({label}): {message}; check the base URL", **kw)
    return GraphRejectedError(f"Meta refused ({label}): {message}", code=code, subcode=subcode, **kw)

