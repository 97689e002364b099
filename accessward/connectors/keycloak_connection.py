"""The connection to Keycloak: python-keycloak's, repeating what a proxy answered 429/5xx or failed to connect.

Split out of ``connectors.keycloak`` so the retry policy (how long to wait, when to give up, and
keeping urllib3 from sleeping on ``Retry-After`` by itself) reads and is reviewed on its own. A
request answered 429/502/503/504 is repeated after ``Retry-After`` (else exponential backoff), and
one that failed to connect, up to ``max_attempts``; ``sleep`` is injectable.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

import requests
from keycloak import KeycloakOpenID, KeycloakOpenIDConnection
from keycloak.exceptions import KeycloakConnectionError

from accessward.connectors.http import parse_retry_after
from accessward.connectors.requests_session import close_pools, mount_without_retry_after

log = logging.getLogger("accessward.keycloak")

_RETRY_STATUSES = frozenset({429, 502, 503, 504})


def _remount_without_retry_after(session: requests.Session) -> None:
    """Keep python-keycloak's one connection-level retry, but stop urllib3 honouring Retry-After.

    python-keycloak mounts ``HTTPAdapter(max_retries=1)``; urllib3 then *sleeps for real* on a
    429/503 carrying ``Retry-After`` (up to six hours) before retrying once. Waiting is this
    connector's job (injectable ``sleep``, ``max_wait``), so urllib3 must hand such answers back.
    """
    mount_without_retry_after(session)


class _RetryingConnection(KeycloakOpenIDConnection):
    """python-keycloak's connection, repeating requests a proxy answered 429/5xx or that failed to connect."""

    def __init__(self, *, sleep: Callable[[float], None], max_attempts: int, backoff: float, max_wait: float,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _remount_without_retry_after(self._s)
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._max_wait = max_wait
        self.last_retry_after: float | None = None

    def _retrying(self, send: Callable[[], requests.Response]) -> requests.Response:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = send()
            except KeycloakConnectionError as exc:
                if isinstance(exc.__cause__, requests.exceptions.SSLError) or attempt >= self._max_attempts:
                    raise
                wait = self._backoff * (2 ** (attempt - 1)) * (1 + random.random() / 4)
            else:
                if response.status_code not in _RETRY_STATUSES:
                    return response
                self.last_retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if attempt >= self._max_attempts:
                    return response
                wait = self.last_retry_after if self.last_retry_after is not None else \
                    self._backoff * (2 ** (attempt - 1)) * (1 + random.random() / 4)
                if wait > self._max_wait:
                    return response
            log.info("keycloak: transient failure, retrying", extra={"attempt": attempt, "wait_s": round(wait, 2)})
            self._sleep(wait)

    @property
    def keycloak_openid(self) -> KeycloakOpenID:
        """The token client python-keycloak creates on first use, with the same urllib3 retry policy."""
        created = self._keycloak_openid is None
        openid = super().keycloak_openid
        if created:
            _remount_without_retry_after(openid.connection._s)
        return openid

    def raw_get(self, *args: Any, **kwargs: Any) -> requests.Response:
        send = super().raw_get
        return self._retrying(lambda: send(*args, **kwargs))

    def raw_post(self, *args: Any, **kwargs: Any) -> requests.Response:
        send = super().raw_post
        return self._retrying(lambda: send(*args, **kwargs))

    def raw_put(self, *args: Any, **kwargs: Any) -> requests.Response:
        send = super().raw_put
        return self._retrying(lambda: send(*args, **kwargs))

    def raw_delete(self, *args: Any, **kwargs: Any) -> requests.Response:
        send = super().raw_delete
        return self._retrying(lambda: send(*args, **kwargs))

    def close(self) -> None:
        """Close the HTTP sessions (admin API and token endpoint); python-keycloak has no public close."""
        _close_session(self._s)
        if self._keycloak_openid is not None:
            _close_session(self._keycloak_openid.connection._s)


def _close_session(session: requests.Session) -> None:
    """Close a session's sockets now. urllib3 2.x's ``PoolManager.clear()`` only forgets its pools, which
    then close when garbage-collected: never, while an exception's traceback still holds a response."""
    close_pools(session)
    session.close()
