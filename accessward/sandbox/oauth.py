"""Token handling and faults the identity-provider simulators share (``sandbox.graph``, ``sandbox.keycloak``).

Both simulators issue client-credentials tokens, accept ``client_secret_basic`` besides the form
fields, keep issued tokens with an expiry, let a test expire every token or only the one a given
call presents (``expire_token`` faults), and inject faults by call number or by route. That plumbing
was written twice; it lives here once. What each platform *answers* (Entra's AADSTS errors, Keycloak's
``invalid_token`` header, their token bodies) stays in each simulator: faithfulness is per platform.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import unquote_plus

from starlette.requests import Request

__all__ = ["Expiring", "Fault", "client_basic", "expire_all", "expire_presented", "take_fault"]

K = TypeVar("K", bound=StrEnum)


class Expiring(Protocol):
    """An issued token: anything with a settable ``expires_at``."""

    expires_at: datetime


def client_basic(request: Request) -> tuple[str, str] | None:
    """(client id, secret) from an ``Authorization: Basic`` header (``client_secret_basic``), or None."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return unquote_plus(user), unquote_plus(password)


def expire_all(tokens: Iterable[Expiring], now: datetime) -> None:
    """Every token issued so far is expired from ``now`` on (clients must fetch a new one)."""
    for token in tokens:
        token.expires_at = min(token.expires_at, now - timedelta(seconds=1))


def expire_presented(tokens: Mapping[str, Expiring], authorization: str, now: datetime) -> None:
    """The token this ``Authorization`` header presents dies now, before the call checks it."""
    _, _, value = authorization.partition(" ")
    if value.strip() in tokens:
        tokens[value.strip()].expires_at = now - timedelta(seconds=1)


@dataclass
class Fault(Generic[K]):
    """Active for calls ``first_call`` .. ``first_call + times - 1``, or, with ``route``, for the next
    ``times`` calls whose path contains ``route`` from call ``first_call`` on."""

    kind: K
    first_call: int
    times: int = 1
    retry_after: float | None = None
    route: str | None = None
    hits: int = 0

    def covers(self, call: int, path: str) -> bool:
        if self.route is not None:
            # Counted per matching call: "the 2nd call to /users/delta", whatever else happened.
            return self.route in path and self.hits < self.times and call >= self.first_call
        return self.first_call <= call < self.first_call + self.times


F = TypeVar("F", bound="Fault[Any]")


def take_fault(faults: Iterable[F], call: int, path: str, kinds: set[K]) -> F | None:
    """The first fault of one of ``kinds`` covering this call, counted as hit; the caller holds its lock."""
    for fault in faults:
        if fault.kind in kinds and fault.covers(call, path):
            fault.hits += 1
            return fault
    return None
