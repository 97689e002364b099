"""The error taxonomy every connector maps its failures onto (DESIGN.md, Connectors).

The reconciler and executor decide what to do from the class alone, never from a platform's
own codes: *transient* is retried with backoff, *not found* on a revoke means it is already
gone, *auth* stops the source, *rejected* is recorded with the platform's message, *stop* is a
configuration error that aborts the run. A malformed answer is a failure of the source, so it
can never be mistaken for "nobody has access".
"""

from __future__ import annotations

from accessward.connectors.scrub import scrub


class ConnectorError(Exception):
    """Base of the taxonomy.

    ``system`` names the source; ``detail`` is the platform's own words (never a token);
    ``status`` is the HTTP status or the protocol's result code (LDAP result codes too);
    ``code`` is the platform's error code when it has one (Meta's 190, TikTok's 40100...).

    The message and the detail are scrubbed here (``connectors.scrub``), where every connector's
    error is built: a platform that echoes the caller's token in its answer, through httpx or
    through ``requests`` (python-keycloak, msal), cannot carry it into the store or a log.
    """

    def __init__(self, message: str, *, system: str = "", detail: str = "", status: int | None = None,
                 code: str | int | None = None):
        super().__init__(scrub(str(message)))
        self.system = system
        self.detail = scrub(str(detail)) if detail else ""
        self.status = status
        self.code = code

    @property
    def kind(self) -> str:
        return "error"


class TransientError(ConnectorError):
    """Worth retrying: timeouts, 5xx, throttling. ``retry_after`` is in seconds when known."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object):
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after

    @property
    def kind(self) -> str:
        return "transient"


class NotFoundError(ConnectorError):
    """The object does not exist. On a revoke this is success: it is already gone."""

    @property
    def kind(self) -> str:
        return "not_found"


class AuthError(ConnectorError):
    """Credentials are missing, expired or revoked. Stops the source; never means "no access"."""

    @property
    def kind(self) -> str:
        return "auth"


class RejectedError(ConnectorError):
    """The platform understood and refused (last admin, not allowed). Recorded, not retried."""

    @property
    def kind(self) -> str:
        return "rejected"


class StopError(ConnectorError):
    """Configuration error (bad base URL, unknown business id): abort the run."""

    @property
    def kind(self) -> str:
        return "stop"


class MalformedResponseError(ConnectorError):
    """The answer is not what the API documents (HTML login page, redirect, missing ``data``).

    It fails the source's sync: invariant 1 of DESIGN.md.
    """

    @property
    def kind(self) -> str:
        return "malformed"


class ResyncRequired(ConnectorError):
    """An incremental cursor (a Graph delta link, a USN) is no longer valid: run a full sync."""

    @property
    def kind(self) -> str:
        return "resync"
