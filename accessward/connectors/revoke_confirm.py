"""What every token-holding platform connector repeated: its lifecycle, its token's header and scrubbing,
and settling an ambiguous revocation answer by reading again.

Meta, Pinterest, SCIM, LinkedIn and TikTok each held one API token and one
:class:`~connectors.http.HttpClient`, and each wrote the same ``close``/``with`` methods, the same
bearer header and the same scrub of the token out of an exception (defence in depth: the client
never puts the token in a message, but nothing leaving a connector may carry it). They share
:class:`TokenConnector` now.

They also settled an ambiguous answer to a removal (a 404, a refusal, an answer that leaves the
subject out) the same way, the way that keeps a failure from ever looking like "no access left":
read again; no longer there -> ``already_gone``; still there -> a :class:`RejectedError` with the
platform's words. :func:`settle` is that decision; each connector still does its own reading.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Self

from accessward.connectors.errors import ConnectorError, RejectedError
from accessward.connectors.http import HttpClient
from accessward.connectors.records import RevokeOutcome, RevokeResult

__all__ = ["TokenConnector", "scrub_tokens", "settle"]


def scrub_tokens(exc: ConnectorError, tokens: Iterable[str]) -> None:
    """Replace every token's text in ``exc`` (its args and its detail) by ``***``."""
    for token in tokens:
        if token:
            exc.args = tuple(a.replace(token, "***") if isinstance(a, str) else a for a in exc.args)
            exc.detail = exc.detail.replace(token, "***")


class TokenConnector:
    """Base of a connector holding one API token (``_token``) and one HttpClient (``_client``).

    A subclass sets ``name``, ``_token`` and ``_client`` in its ``__init__`` (building the client with
    ``auth=self._auth_headers``), and overrides :meth:`_auth_headers` when its platform does not take
    a bearer token, or :meth:`_secrets` when it meets more tokens than its own.
    """

    name: str
    _token: str
    _client: HttpClient

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def _secrets(self) -> Iterable[str]:
        """Every token whose text must never leave this connector in an exception."""
        return (self._token,)

    def _scrub(self, exc: ConnectorError) -> None:
        """Defence in depth: no token text in an exception leaving this connector."""
        scrub_tokens(exc, self._secrets())


def settle(still_there: bool, *, gone: str, refused: str, system: str, cause: ConnectorError | None = None,
           detail: str = "", keep_code: bool = True) -> RevokeResult:
    """Decide an ambiguous removal answer from a fresh read.

    ``still_there`` is what that read found. Gone -> ``already_gone`` with ``gone``; still there ->
    raise :class:`RejectedError` (``refused``), chained to ``cause`` and keeping its detail, status and
    (with ``keep_code``) code; without a cause, ``detail`` is the detail. What could not be read must
    have raised before this is called: it is never "already gone".
    """
    if not still_there:
        return RevokeResult(RevokeOutcome.already_gone, gone)
    raise RejectedError(refused, system=system, detail=cause.detail if cause else detail,
                        status=cause.status if cause else None,
                        code=cause.code if cause is not None and keep_code else None) from cause
