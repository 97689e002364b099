"""What the two connectors built on ``requests`` sessions (Entra through msal, Keycloak through
python-keycloak) must both do to those sessions, written once.

- :func:`mount_without_retry_after`: keep one connection-level retry (as both libraries have), but
  stop urllib3 honouring ``Retry-After`` by itself: it would *sleep for real* on a 429/503 (up to
  hours) before retrying once. Waiting is the connector's job (injectable, bounded) or msal's.
- :func:`close_pools`: close a session's sockets now. urllib3 2.x's ``PoolManager.clear()`` only
  forgets its pools, which then close when garbage-collected: never, while an exception's
  traceback still holds a response.
"""

from __future__ import annotations

import requests
from urllib3.util.retry import Retry

__all__ = ["close_pools", "mount_without_retry_after"]


def mount_without_retry_after(session: requests.Session) -> None:
    """Mount, for https:// and http://, an adapter retrying a failed connection once, never sleeping itself."""
    retry = Retry(total=1, respect_retry_after_header=False, raise_on_status=False, status_forcelist=(),
                  allowed_methods=Retry.DEFAULT_ALLOWED_METHODS | {"POST"})
    for prefix in ("https://", "http://"):
        session.mount(prefix, requests.adapters.HTTPAdapter(max_retries=retry))


def close_pools(session: requests.Session) -> None:
    """Close every connection pool of the session's adapters (the session itself is left to its caller)."""
    for adapter in session.adapters.values():
        if isinstance(adapter, requests.adapters.HTTPAdapter):
            for key in list(adapter.poolmanager.pools.keys()):
                pool = adapter.poolmanager.pools.get(key)
                if pool is not None:
                    pool.close()
