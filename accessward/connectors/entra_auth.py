"""Entra app-only tokens: msal for the token, a requests session that keeps ``verify``, and a Graph client
that renews a refused token once.

Split out of ``connectors.entra`` so the credential handling (where a secret or token must never leak)
reads on its own; ``connectors.entra`` builds these and re-exports the public names.

Tokens. One msal app per connector, created on first use (its constructor already calls the
authority's OpenID discovery). msal answers from its in-memory cache and fetches a new token when
less than five minutes are left. If Graph still answers 401 (``InvalidAuthenticationToken``: the
token expired early, was revoked, clocks disagree) the connector drops msal's cached tokens and
repeats that request once with a fresh token; a second 401 is an :class:`AuthError`. A token
request msal cannot satisfy maps as: ``invalid_client``/``unauthorized_client`` (wrong, revoked
or expired secret; unknown app) -> ``AuthError``; ``invalid_scope``, unknown tenant or a failed
discovery answering 4xx, or a certificate that does not verify -> ``StopError``; 5xx,
``temporarily_unavailable`` and network failures -> ``TransientError`` (msal itself replays a
429/5xx token answer for its ``Retry-After``, default 5 s; a failure to get a token is not
retried by the HTTP client). The secret and tokens never reach an exception, a log line or
``repr``.

``verify`` (a CA file path, or True for the system store) is given to both httpx and msal. msal's
default requests session would let ``REQUESTS_CA_BUNDLE`` override a session-level ``verify``
(a requests quirk), so the connector hands msal a session that sets ``verify`` on every request.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import httpx
import msal  # type: ignore[import-untyped]
import requests

from accessward.connectors.errors import AuthError, MalformedResponseError, StopError, TransientError
from accessward.connectors.http import HttpClient
from accessward.connectors.requests_session import close_pools, mount_without_retry_after

log = logging.getLogger("accessward.entra")

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
#: The application permission that lets Graph return ``employeeLeaveDateTime`` (or its ReadWrite twin).
LIFECYCLE_PERMISSION = "User-LifeCycleInfo.Read.All"
LIFECYCLE_PERMISSIONS = frozenset({LIFECYCLE_PERMISSION, "User-LifeCycleInfo.ReadWrite.All"})
_AUTH_TOKEN_ERRORS = frozenset({"invalid_client", "unauthorized_client", "invalid_grant", "access_denied"})
_TRANSIENT_TOKEN_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


class _VerifyingSession(requests.Session):
    """A requests session that passes ``verify``/``timeout`` on every request.

    requests merges ``REQUESTS_CA_BUNDLE`` over a *session's* ``verify`` but not over a
    per-request one; msal only sets the session's.
    """

    def __init__(self, verify: bool | str, timeout: float) -> None:
        super().__init__()
        self.verify = verify
        self._timeout = timeout
        # One connection-level retry, as msal's own session has; but urllib3 must not sleep on a
        # 429/503 Retry-After by itself (for real, up to hours): msal throttles those answers.
        mount_without_retry_after(self)

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("verify", self.verify)
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)

    def close(self) -> None:
        close_pools(self)  # urllib3 2.x's PoolManager.clear() only forgets its pools
        super().close()


def _tls_error(system: str, authority: str, exc: Exception) -> StopError:
    return StopError(f"TLS verification of {authority} failed; check the CA (verify=) setting", system=system,
                     detail=str(exc)[:300])


class _MsalTokens:
    """msal's app for one client, created on first use; thread-safe."""

    def __init__(self, system: str, authority: str, client_id: str, secret: str, *, verify: bool | str,
                 timeout: float) -> None:
        self._system = system
        self._authority = authority
        self._client_id = client_id
        self._secret = secret
        self._verify = verify
        self._timeout = timeout
        self._app: Any = None
        self._session: _VerifyingSession | None = None
        self._lock = threading.Lock()

    def _application(self) -> Any:
        with self._lock:
            if self._app is None:
                if self._session is None:
                    self._session = _VerifyingSession(self._verify, self._timeout)
                try:
                    self._app = msal.ConfidentialClientApplication(
                        self._client_id, client_credential=self._secret, authority=self._authority,
                        instance_discovery=False, http_client=self._session,
                    )
                except ValueError as exc:  # msal: discovery answered 4xx (unknown tenant) or bad authority
                    raise StopError(f"Entra authority {self._authority} refused discovery; check the tenant id "
                                    "and authority host", system=self._system, detail=str(exc)[:300]) from exc
                except requests.exceptions.SSLError as exc:
                    raise _tls_error(self._system, self._authority, exc) from exc
                except requests.RequestException as exc:
                    raise TransientError(f"Entra discovery failed: {type(exc).__name__}", system=self._system,
                                         detail=str(exc)[:300]) from exc
                except (msal.exceptions.MsalServiceError, RuntimeError) as exc:  # discovery answered 5xx
                    raise TransientError(f"Entra discovery failed: {exc}", system=self._system,
                                         detail=str(exc)[:300]) from exc
            return self._app

    def token(self) -> str:
        app = self._application()
        try:
            result = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
        except requests.exceptions.SSLError as exc:
            raise _tls_error(self._system, self._authority, exc) from exc
        except requests.RequestException as exc:
            raise TransientError(f"Entra token request failed: {type(exc).__name__}", system=self._system,
                                 detail=str(exc)[:300]) from exc
        except ValueError as exc:  # a token answer that is not JSON
            raise MalformedResponseError("Entra token endpoint answered something that is not JSON",
                                         system=self._system, detail=str(exc)[:200]) from exc
        except (msal.exceptions.MsalServiceError, RuntimeError) as exc:  # a 5xx token answer
            raise TransientError(f"Entra token request failed: {exc}", system=self._system) from exc
        if not isinstance(result, dict):
            raise MalformedResponseError("msal returned no token result", system=self._system)
        token = result.get("access_token")
        if isinstance(token, str) and token:
            return token
        error = str(result.get("error") or "no access_token")
        description = str(result.get("error_description") or "").split("\r\n")[0][:300]
        codes = result.get("error_codes")
        code = f"AADSTS{codes[0]}" if isinstance(codes, list) and codes else error
        kw: dict[str, Any] = {"system": self._system, "detail": description, "code": code}
        if error in _AUTH_TOKEN_ERRORS:
            raise AuthError(f"Entra refused the app's credentials ({error}): the client secret is wrong, "
                            "revoked or expired, or the app is not in this tenant; the source is stopped",
                            **kw)
        if error in _TRANSIENT_TOKEN_ERRORS:
            raise TransientError(f"Entra token endpoint unavailable ({error})", **kw)
        raise StopError(f"Entra token request refused ({error}); check tenant, authority and scope", **kw)

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None
            self._app = None

    def invalidate(self) -> None:
        """Forget cached tokens, so the next ``token()`` asks the token endpoint."""
        with self._lock:
            app = self._app
        if app is not None:
            app.remove_tokens_for_client()


class _GraphClient(HttpClient):
    """HttpClient that answers a Graph 401 by renewing the token and repeating the request once."""

    def __init__(self, *args: Any, on_token_refused: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_token_refused = on_token_refused

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return super().request(method, path, **kwargs)
        except AuthError as exc:
            if exc.status != 401:
                raise
            log.info("Graph refused the token; renewing it and repeating the request once",
                     extra={"system": self.system, "code": exc.code})
            self._on_token_refused()
        try:
            return super().request(method, path, **kwargs)
        except AuthError as exc:
            if exc.status != 401:
                raise
            raise AuthError(f"Graph refused a freshly acquired token too ({exc.code or 'HTTP 401'}); "
                            "the source is stopped", system=self.system, detail=exc.detail, status=401,
                            code=exc.code) from exc


def _jwt_roles(token: str, system: str) -> frozenset[str]:
    """The ``roles`` claim of a JWT access token (payload only; an opaque token has none)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise StopError("the Entra access token is not a JWT, so its permissions cannot be checked", system=system)
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise StopError("the Entra access token's claims cannot be read", system=system) from exc
    roles = claims.get("roles") if isinstance(claims, dict) else None
    return frozenset(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else frozenset()
