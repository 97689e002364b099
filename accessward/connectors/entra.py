"""Microsoft Entra ID (Azure AD) over Microsoft Graph v1.0: people, changes, and IdP actions.

:class:`EntraSource` is an :class:`~connectors.protocols.IdentitySource` and the IdP for
Entra-managed sign-ins. App-only: an msal ``ConfidentialClientApplication`` (client secret) gets
tokens for ``https://graph.microsoft.com/.default``; Graph goes through
:class:`connectors.http.HttpClient` (timeouts, retries honouring ``Retry-After``, no redirects,
JSON checks) with an ``auth`` callable asking msal for the token on every attempt, so a renewed
token is used as soon as msal has one.

The pieces: ``entra_auth`` (msal tokens, the verifying session, renewing a refused token),
``entra_records`` (user objects and authentication methods as records), ``entra_check`` (the
``accessward check`` preflight); every public name is re-exported here.

Listing (:meth:`EntraSource.list_people`): ``GET /users?$select=...&$top=999`` and every
``@odata.nextLink`` verbatim (same host only; a repeated link is a loop). Each page must be a
JSON object with a ``value`` list of objects each with an ``id``; anything else (an HTML sign-in
page, a redirect, a body without ``value``) is :class:`MalformedResponseError` and fails the
listing (DESIGN.md, invariant 1). Mapping to :class:`~connectors.records.PersonRecord`:

- ``source_key`` = the object ``id`` (immutable); ``upn`` = ``userPrincipalName``;
  ``employee_id``, ``department``, ``display_name`` as named; ``username`` stays None (Entra has
  no login name apart from the UPN);
- ``emails``: ``mail``, then ``otherMails``, then ``proxyAddresses`` (``SMTP:`` primary first,
  other ``smtp:``; ``X500:``/``SIP:`` are not mail), de-duplicated case-insensitively;
- status, most severe wins: ``employeeLeaveDateTime`` in the past -> terminated; else
  ``accountEnabled`` false -> suspended; else active. ``leave_date`` is set whenever
  ``employeeLeaveDateTime`` is (past or future). Reading that property app-only needs
  ``User-LifeCycleInfo.Read.All`` besides ``User.Read.All``;
- kind: ``userType`` Guest -> agency (B2B guests are outside staff); otherwise ``employeeType``
  through ``employee_types`` (case-insensitive; default: Contractor/Consultant/Vendor ->
  contractor, Agency -> agency), else employee.

Leave dates: with ``leave_dates`` on (the default) every listing and delta round starts by checking
that the app token's ``roles`` claim holds ``User-LifeCycleInfo.Read.All`` (or its ReadWrite twin):
without it Graph does not give ``employeeLeaveDateTime`` and a leaver would look active, so the run
fails with a :class:`StopError` naming the permission. With ``leave_dates`` off the property is not
asked for at all.

Incremental (:meth:`EntraSource.list_changes`), Graph delta query on users:

- ``run = source.list_changes(None)`` starts a *full* round (``run.full`` is True): every user,
  exactly like a listing, ending in a delta link. ``run = source.list_changes(link)`` yields only
  what changed since the round that produced ``link``.
- Iterate ``run``: items are :class:`PersonRecord` (new or changed: the whole person, as for a
  listing; a property Graph omits because it never had a value counts as empty) or
  :class:`RemovedPerson` (deleted: ``permanent`` False for soft-deleted, which Entra can restore
  for 30 days, True for hard-deleted). Only after the iterator is exhausted is
  ``run.delta_link`` available: store it as the cursor of the *next* run, and only if the whole
  run was written (a failed or partial run keeps the old link, and repeats its changes).
- An expired or reset delta link (Graph's ``syncStateNotFound``, HTTP 400 or 410, or any 410)
  raises :class:`DeltaResyncRequired`: discard the stored link and start a full round with
  ``list_changes(None)``. A link pointing at another host is refused (``StopError``): it would
  receive the bearer token.

Actions, each on a user object id (never a UPN: UPNs are mutable), each with a ``preview_*``
returning the exact request:

- :meth:`mfa_methods` -> ``list[AuthMethod]`` (``is_mfa`` False for password and email methods);
- :meth:`revoke_sessions` (``POST /users/{id}/revokeSignInSessions``; Graph cannot tell whether
  there was a session, so a repeat is ``done`` again). It does **not** end a guest's sessions
  (microsoft-graph-docs ``user-revokesigninsessions.md``): :meth:`is_guest` tells (``userType``), and the
  IdP adapter disables or deletes a guest instead (``connectors.idp.EntraIdp``);
- :meth:`delete_user` (``DELETE /users/{id}``, 204, soft-deleted for 30 days; ``User.ReadWrite.All``);
- :meth:`disable` (``PATCH {"accountEnabled": false}``, after reading the user: already disabled
  -> ``already_gone`` and nothing is sent, since Graph answers 204 either way);
- :meth:`remove_authenticator` / :meth:`remove_mfa_method` (``DELETE
  /users/{id}/authentication/{kind}Methods/{methodId}``). A 404 there is ambiguous (unknown user,
  or method already removed; Graph's code for the latter is unverified), so the user's methods
  are read: the user is unknown -> ``NotFoundError``; the method is not listed ->
  ``already_gone``; still listed -> ``RejectedError``.

An unknown user id on any action raises :class:`NotFoundError` (Graph's
``Request_ResourceNotFound``); the executor decides what "already gone" means for it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from accessward.connectors.entra_auth import (
    GRAPH_SCOPE,
    LIFECYCLE_PERMISSION,
    LIFECYCLE_PERMISSIONS,
    _GraphClient,
    _jwt_roles,
    _MsalTokens,
)
from accessward.connectors.entra_records import (
    DEFAULT_EMPLOYEE_TYPES,
    METHOD_SEGMENTS,
    AuthMethod,
    _method_from_json,
    person_from_user,
)
from accessward.connectors.errors import (
    AuthError,
    ConnectorError,
    MalformedResponseError,
    NotFoundError,
    RejectedError,
    ResyncRequired,
    StopError,
    TransientError,
)
from accessward.connectors.http import JSONDict, follow_next_links, parse_retry_after
from accessward.connectors.records import (
    PersonChange,
    PersonKind,
    PersonRecord,
    RemovedPerson,
    RequestPreview,
    RevokeOutcome,
    RevokeResult,
)

__all__ = [
    "DEFAULT_EMPLOYEE_TYPES",
    "GRAPH_SCOPE",
    "LIFECYCLE_PERMISSION",
    "LIFECYCLE_PERMISSIONS",
    "METHOD_SEGMENTS",
    "USER_SELECT",
    "AuthMethod",
    "DeltaResyncRequired",
    "DeltaRun",
    "EntraSource",
    "RemovedPerson",
    "classify_graph_error",
    "person_from_user",
]

USER_SELECT = ",".join((
    "id", "userPrincipalName", "mail", "otherMails", "proxyAddresses", "employeeId", "accountEnabled",
    "employeeLeaveDateTime", "userType", "department", "displayName", "employeeType",
))
MAX_PAGE_SIZE = 999


class DeltaResyncRequired(ResyncRequired):
    """The delta link is no longer valid (``syncStateNotFound``, 410): start a full round."""

    @property
    def kind(self) -> str:
        return "resync"


# -- classification ------------------------------------------------------------------------------


def _graph_error(response: httpx.Response) -> tuple[str | None, str]:
    """(code, message) of a Graph error body, or (None, start of the body)."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return None, response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return error["code"], str(error.get("message", ""))
    return None, response.text[:200]


def classify_graph_error(response: httpx.Response) -> ConnectorError | None:
    """Graph's status codes mean what HTTP says; the body's ``error.code`` is kept as ``code``."""
    status = response.status_code
    if status < 400:
        return None
    code, message = _graph_error(response)
    label = f"HTTP {status}" + (f" {code}" if code else "")
    kw: dict[str, Any] = {"detail": message, "status": status, "code": code}
    if code == "syncStateNotFound" or status == 410:
        return DeltaResyncRequired(f"Graph delta state is gone ({label}): a full sync is needed", **kw)
    if status == 429 or status >= 500:
        return TransientError(f"Graph throttled or unavailable ({label})",
                              retry_after=parse_retry_after(response.headers.get("Retry-After")), **kw)
    if status == 401:
        return AuthError(f"Graph refused the token ({label}): {message}", **kw)
    if status == 403:
        return AuthError(f"Graph permission missing for this app ({label}): {message}", **kw)
    if status == 404:
        return NotFoundError(f"Graph object not found ({label}): {message}", **kw)
    return RejectedError(f"Graph refused the request ({label}): {message}", **kw)


# -- mapping -------------------------------------------------------------------------------------


# -- delta ---------------------------------------------------------------------------------------


class DeltaRun:
    """One delta round: iterate it (once) for changes, then read ``delta_link``.

    ``full`` is True for a round started without a link: it yields every user, so a person it
    does not yield is gone, exactly as for a complete listing.
    """

    def __init__(self, source: EntraSource, start: str, params: Mapping[str, str] | None, full: bool) -> None:
        self.full = full
        self._source = source
        self._start = start
        self._params = params
        self._delta_link: str | None = None
        self._started = False

    @property
    def cursor(self) -> str:
        return self.delta_link

    @property
    def delta_link(self) -> str:
        """The link for the next round; only once every change of this round has been read."""
        if self._delta_link is None:
            raise RuntimeError("the delta round has not been read to its end: no delta link yet")
        return self._delta_link

    def __iter__(self) -> Iterator[PersonChange]:
        if self._started:
            raise RuntimeError("a DeltaRun can be iterated once")
        self._started = True
        return self._source._delta_items(self)

    def _finish(self, link: str) -> None:
        self._delta_link = link


# -- the connector -------------------------------------------------------------------------------


class EntraSource:
    """IdentitySource and IdP actions for one Entra tenant (see the module docstring)."""

    def __init__(
        self,
        name: str,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        *,
        authority_host: str = "https://login.microsoftonline.com",
        graph_url: str = "https://graph.microsoft.com/v1.0",
        page_size: int = MAX_PAGE_SIZE,
        verify: bool | str = True,
        timeout: float = 30.0,
        employee_types: Mapping[str, PersonKind] = DEFAULT_EMPLOYEE_TYPES,
        clock: Callable[[], datetime] | None = None,
        posture: bool = False,
        leave_dates: bool = True,
        **http: Any,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}, not {page_size}")
        if not tenant_id or tenant_id.lower() in ("common", "organizations", "consumers"):
            raise ValueError("tenant_id must be the tenant's id (or domain), not common/organizations/consumers")
        if not authority_host.startswith("https://"):
            raise ValueError("authority_host must be an https:// URL (msal refuses anything else)")
        self.name = name
        self.tenant_id = tenant_id
        self.client_id = client_id
        self._page_size = page_size
        self._with_posture = posture
        self.leave_dates = leave_dates
        self._select = USER_SELECT if leave_dates else ",".join(
            p for p in USER_SELECT.split(",") if p != "employeeLeaveDateTime")
        self._employee_types = employee_types
        self._clock = clock or (lambda: datetime.now(UTC))
        self._tokens = _MsalTokens(name, f"{authority_host.rstrip('/')}/{tenant_id}", client_id, client_secret,
                                   verify=verify, timeout=timeout)
        self._client = _GraphClient(name, graph_url, auth=self._auth_headers, classify=classify_graph_error,
                                    verify=verify, timeout=timeout, on_token_refused=self._tokens.invalidate,
                                    **http)

    def __repr__(self) -> str:
        return f"EntraSource(name={self.name!r}, tenant_id={self.tenant_id!r}, client_id={self.client_id!r})"

    def close(self) -> None:
        self._client.close()
        self._tokens.close()

    def __enter__(self) -> EntraSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._tokens.token()}"}

    def _person(self, item: JSONDict, now: datetime) -> PersonRecord:
        return person_from_user(item, system=self.name, now=now, employee_types=self._employee_types)

    def _pages(self, path: str, params: Mapping[str, str] | None,
               next_link: Callable[[JSONDict], str | None]) -> Iterator[JSONDict]:
        yield from follow_next_links(self._client, path, params, items_key="value", next_link=next_link)

    def _next_link(self, body: JSONDict) -> str | None:
        link = body.get("@odata.nextLink")
        if link is None:
            return None
        if not isinstance(link, str) or not link:
            raise MalformedResponseError("'@odata.nextLink' is not a URL", system=self.name)
        return link

    # -- permissions ----------------------------------------------------------------------------

    def token_roles(self) -> frozenset[str]:
        """The application permissions in the app token's ``roles`` claim (the token is read, not verified:
        it came straight from Entra over TLS; only its claims are looked at)."""
        return _jwt_roles(self._tokens.token(), self.name)

    def check_leave_date_permission(self) -> None:
        """Fail loudly when leave dates are used but the token cannot read them (see the module docstring)."""
        if not self.leave_dates:
            return
        if not self.token_roles() & LIFECYCLE_PERMISSIONS:
            raise StopError(
                f"the Entra app of {self.name} lacks the application permission {LIFECYCLE_PERMISSION}: without "
                "it Graph does not return employeeLeaveDateTime, and a leaver whose leave date is unreadable "
                f"would look active. Grant {LIFECYCLE_PERMISSION} (admin consent), or set leave_dates = false",
                system=self.name)

    # -- IdentitySource -------------------------------------------------------------------------

    def list_people(self) -> Iterator[PersonRecord]:
        """Every user of the tenant, streaming page by page (``/users`` with ``USER_SELECT``)."""
        self.check_leave_date_permission()
        now = self._clock()
        params = {"$select": self._select, "$top": str(self._page_size)}
        try:
            for item in self._pages("users", params, self._next_link):
                person = self._person(item, now)
                yield self._with_mfa(person) if self._with_posture else person
        except NotFoundError as exc:
            raise StopError("Graph has no /users here; check the Graph URL", system=self.name,
                            detail=exc.detail, status=exc.status) from exc

    def _with_mfa(self, person: PersonRecord) -> PersonRecord:
        """Every Entra sign-in is SSO; MFA is the user's registered second factors (one request)."""
        methods = self.mfa_methods(person.source_key)
        second = tuple(sorted({m.type.removesuffix("AuthenticationMethod") for m in methods if m.is_mfa}))
        return dataclasses.replace(person, sso=True, mfa=bool(second), mfa_methods=second)

    # -- incremental ----------------------------------------------------------------------------

    def list_changes(self, delta_link: str | None = None) -> DeltaRun:
        """A delta round: full without ``delta_link``, else the changes since it (module docstring)."""
        self.check_leave_date_permission()
        if delta_link is None:
            return DeltaRun(self, "users/delta", {"$select": self._select}, full=True)
        home, target = httpx.URL(self._client.base_url), httpx.URL(delta_link)
        if (target.scheme, target.host, target.port) != (home.scheme, home.host, home.port):
            raise StopError(f"the stored delta link points to another host ({target.host}), not Graph's "
                            f"({home.host}); refusing to send the token there", system=self.name)
        return DeltaRun(self, delta_link, None, full=False)

    def _delta_items(self, run: DeltaRun) -> Iterator[PersonChange]:
        now = self._clock()
        final: list[str] = []

        def next_link(body: JSONDict) -> str | None:
            link = self._next_link(body)
            if link is None:
                delta = body.get("@odata.deltaLink")
                if not isinstance(delta, str) or not delta:
                    raise MalformedResponseError("the last delta page has neither '@odata.nextLink' nor "
                                                 "'@odata.deltaLink'", system=self.name)
                final.append(delta)
            return link

        for item in self._pages(run._start, run._params, next_link):
            removed = item.get("@removed")
            if removed is not None:
                user_id = item.get("id")
                if not isinstance(user_id, str) or not user_id or not isinstance(removed, dict):
                    raise MalformedResponseError("a removed entry without 'id'", system=self.name)
                yield RemovedPerson(user_id, permanent=removed.get("reason") == "deleted")
            else:
                person = self._person(item, now)
                yield self._with_mfa(person) if self._with_posture else person
        run._finish(final[-1])

    # -- IdP: MFA methods -----------------------------------------------------------------------

    def _user_path(self, user_id: str, *rest: str) -> str:
        if not user_id or "/" in user_id:
            raise RejectedError(f"{user_id!r} is not a Graph object id", system=self.name)
        return "/".join(["users", quote(user_id, safe=""), *(quote(r, safe="") for r in rest)])

    def mfa_methods(self, user_id: str) -> list[AuthMethod]:
        """Every authentication method of the user (``is_mfa`` tells second factors apart)."""
        path = self._user_path(user_id, "authentication", "methods")
        return [_method_from_json(item, self.name) for item in self._pages(path, None, self._next_link)]

    def has_mfa(self, user_id: str) -> bool:
        return any(method.is_mfa for method in self.mfa_methods(user_id))

    # -- IdP: actions ---------------------------------------------------------------------------

    def preview_revoke_sessions(self, user_id: str) -> RequestPreview:
        return RequestPreview("POST", self._client.url(self._user_path(user_id, "revokeSignInSessions")))

    def revoke_sessions(self, user_id: str) -> RevokeResult:
        """End the user's sign-in sessions (refresh tokens); unknown user -> NotFoundError."""
        body = self._client.send_json("POST", self._user_path(user_id, "revokeSignInSessions"))
        if body is not None and body.get("value") is False:
            raise RejectedError("Graph answered value=false to revokeSignInSessions", system=self.name)
        if body is not None and body.get("value") is not True:
            raise MalformedResponseError("revokeSignInSessions answered without 'value'", system=self.name,
                                         detail=f"keys: {', '.join(sorted(body))[:200]}")
        return RevokeResult(RevokeOutcome.done, "sign-in sessions revoked")

    def is_guest(self, user_id: str) -> bool:
        """Whether the user is a B2B guest (``userType`` Guest); unknown user -> NotFoundError."""
        user = self._client.get_json(self._user_path(user_id), {"$select": "id,userType"})
        return str(user.get("userType") or "").lower() == "guest"

    def preview_delete_user(self, user_id: str) -> RequestPreview:
        return RequestPreview("DELETE", self._client.url(self._user_path(user_id)))

    def delete_user(self, user_id: str) -> RevokeResult:
        """Delete the user (soft: restorable for 30 days); already gone -> already_gone."""
        try:
            self._client.send_json("DELETE", self._user_path(user_id))
        except NotFoundError as exc:
            return RevokeResult(RevokeOutcome.already_gone, f"user already deleted ({exc.code or 'HTTP 404'})")
        return RevokeResult(RevokeOutcome.done, "account deleted")

    def preview_disable(self, user_id: str) -> RequestPreview:
        return RequestPreview("PATCH", self._client.url(self._user_path(user_id)),
                              headers={"Content-Type": "application/json"}, body='{"accountEnabled": false}')

    def disable(self, user_id: str) -> RevokeResult:
        """Block sign-in (``accountEnabled`` false); already disabled -> already_gone, nothing sent."""
        user = self._client.get_json(self._user_path(user_id), {"$select": "id,accountEnabled"})
        if user.get("accountEnabled") is False:
            return RevokeResult(RevokeOutcome.already_gone, "account already disabled")
        self._client.send_json("PATCH", self._user_path(user_id), json_body={"accountEnabled": False})
        return RevokeResult(RevokeOutcome.done, "account disabled")

    def preview_remove_mfa_method(self, user_id: str, method_id: str,
                                  segment: str = "microsoftAuthenticatorMethods") -> RequestPreview:
        return RequestPreview("DELETE", self._client.url(self._user_path(user_id, "authentication", segment,
                                                                         method_id)))

    def remove_authenticator(self, user_id: str, method_id: str) -> RevokeResult:
        """Remove a Microsoft Authenticator registration (e.g. of a lost phone)."""
        return self.remove_mfa_method(user_id, method_id, "microsoftAuthenticatorMethods")

    def remove_mfa_method(self, user_id: str, method_id: str,
                          segment: str = "microsoftAuthenticatorMethods") -> RevokeResult:
        """Remove one authentication method; ``segment`` as in ``AuthMethod.segment``."""
        if segment not in METHOD_SEGMENTS.values() or segment == "passwordMethods":
            raise RejectedError(f"cannot remove methods of kind {segment!r}", system=self.name)
        path = self._user_path(user_id, "authentication", segment, method_id)
        try:
            self._client.send_json("DELETE", path)
        except NotFoundError as exc:
            # Unknown user, or the method is already gone: the user's method list tells which.
            remaining = self.mfa_methods(user_id)  # NotFoundError here: the user does not exist
            if any(m.id == method_id for m in remaining):
                raise RejectedError(f"Graph answered 404 to removing method {method_id}, yet still lists it",
                                    system=self.name, detail=exc.detail, status=exc.status) from exc
            return RevokeResult(RevokeOutcome.already_gone, f"method already removed ({exc.code or 'HTTP 404'})")
        return RevokeResult(RevokeOutcome.done, "authentication method removed")


# -- accessward check: in entra_check (re-exported here, where the CLI and the tests import it) -------
from accessward.connectors.entra_check import ENTRA_CAPABILITIES, check  # noqa: E402

__all__ += ["ENTRA_CAPABILITIES", "check"]
