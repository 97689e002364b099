"""In-memory state of the Microsoft Graph + Entra token simulator (``sandbox.graph``).

One tenant: its app registrations (client id, secret, application permissions), the users with
their authentication methods, the tokens issued, a change log for delta queries, and the
switches that make the simulator misbehave as the real service does: an injectable clock for
token and delta-token expiry, 429/503/504 with or without ``Retry-After``, HTML or malformed
pages, a token that dies mid-listing, a revoked client secret. Every request and every write is
recorded (tokens never are). Behaviour the public docs leave open is marked **(unverified)**.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from accessward.sandbox import oauth
from accessward.sandbox.clock import Clock

__all__ = [
    "ALL_ROLES",
    "DEFAULT_USER_PROPERTIES",
    "GRAPH_SCOPE",
    "METHOD_SEGMENTS",
    "PASSWORD_METHOD_ID",
    "USER_PROPERTIES",
    "AppRegistration",
    "AuthMethod",
    "Clock",
    "Fault",
    "FaultKind",
    "GraphApiError",
    "GraphState",
    "GraphUser",
    "IssuedToken",
    "RecordedCall",
    "TokenError",
    "Tombstone",
    "WriteRecord",
    "decode_state_token",
    "encode_state_token",
]

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_SCOPES = frozenset({GRAPH_SCOPE, f"{GRAPH_APP_ID}/.default"})
PASSWORD_METHOD_ID = "28c10230-6103-485e-b985-444c60001490"  # fixed id of the password method

#: Application permissions the simulator knows; an app registration gets all of them by default.
ALL_ROLES = frozenset({
    "User.Read.All", "User.ReadWrite.All", "User.EnableDisableAccount.All", "User.RevokeSessions.All",
    "UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All",
    "User-LifeCycleInfo.Read.All",
})

#: Properties of ``microsoft.graph.user`` the simulator stores (Graph JSON names).
USER_PROPERTIES = frozenset({
    "id", "displayName", "givenName", "surname", "userPrincipalName", "mail", "otherMails", "proxyAddresses",
    "employeeId", "employeeType", "accountEnabled", "employeeHireDate", "employeeLeaveDateTime", "userType",
    "department", "jobTitle", "businessPhones", "mobilePhone", "officeLocation", "preferredLanguage",
    "mailNickname", "createdDateTime", "onPremisesSamAccountName", "onPremisesSyncEnabled",
})
#: What ``/users`` returns without ``$select`` (reference 1.3).
DEFAULT_USER_PROPERTIES = (
    "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation",
    "preferredLanguage", "surname", "userPrincipalName", "id",
)
#: Array-valued properties: Graph answers ``[]`` for them, never ``null``.
ARRAY_PROPERTIES = frozenset({"otherMails", "proxyAddresses", "businessPhones"})

#: URL segment under ``/users/{id}/authentication/`` -> ``@odata.type`` of its methods.
METHOD_SEGMENTS: dict[str, str] = {
    "microsoftAuthenticatorMethods": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
    "fido2Methods": "#microsoft.graph.fido2AuthenticationMethod",
    "phoneMethods": "#microsoft.graph.phoneAuthenticationMethod",
    "softwareOathMethods": "#microsoft.graph.softwareOathAuthenticationMethod",
    "emailMethods": "#microsoft.graph.emailAuthenticationMethod",
    "windowsHelloForBusinessMethods": "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod",
    "temporaryAccessPassMethods": "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
    "passwordMethods": "#microsoft.graph.passwordAuthenticationMethod",
}


class GraphApiError(Exception):
    """An error the simulator answers in Graph's ``{"error": {"code", "message", "innerError"}}`` shape."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class TokenError(Exception):
    """An OAuth error of the token endpoint: ``{"error", "error_description", "error_codes", ...}``."""

    def __init__(self, status: int, error: str, aadsts: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.aadsts = aadsts
        self.description = f"AADSTS{aadsts}: {description}"


class FaultKind(StrEnum):
    throttle = "throttle"  # 429 TooManyRequests with Retry-After
    unavailable = "unavailable"  # 503 serviceNotAvailable, Retry-After when given
    gateway_timeout = "gateway_timeout"  # 504 UnknownError, Retry-After when given
    html = "html"  # 200 text/html sign-in page (a captive proxy)
    malformed = "malformed"  # 200 JSON object without "value"
    expire_token = "expire_token"  # the presented token dies just before this call is checked


class Fault(oauth.Fault[FaultKind]):
    """Active for Graph calls ``first_call`` .. ``first_call + times - 1`` whose path contains ``route``."""


@dataclass
class AuthMethod:
    """One authentication method of a user; ``segment`` is its URL segment (``fido2Methods`` ...)."""

    id: str
    segment: str
    props: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"@odata.type": METHOD_SEGMENTS[self.segment], "id": self.id, **self.props}


@dataclass
class GraphUser:
    """A user: ``props`` holds Graph's JSON properties (``id`` included); ``version`` the last change."""

    props: dict[str, Any]
    methods: list[AuthMethod] = field(default_factory=list)
    manager_id: str | None = None
    version: int = 0
    ever_set: set[str] = field(default_factory=set)  # properties that ever had a value (delta rules)
    sessions_revoked_at: datetime | None = None

    @property
    def id(self) -> str:
        return str(self.props["id"])

    def value(self, name: str) -> Any:
        value = self.props.get(name)
        if value is None and name in ARRAY_PROPERTIES:
            return []
        return value


@dataclass
class Tombstone:
    """A deleted user as delta reports it: ``reason`` "changed" (soft-deleted) or "deleted"."""

    id: str
    version: int
    reason: str
    user: GraphUser | None = None  # kept for a restore of a soft-deleted user


@dataclass
class AppRegistration:
    client_id: str
    secret: str
    roles: frozenset[str] = ALL_ROLES
    display_name: str = "Accessward"
    secret_expired: bool = False


@dataclass
class IssuedToken:
    value: str
    client_id: str
    roles: frozenset[str]
    expires_at: datetime


@dataclass
class RecordedCall:
    """One request as the simulator saw it (tokens and secrets are never recorded)."""

    call: int
    method: str
    path: str
    params: dict[str, str]
    status: int = 0
    error_code: str | None = None


@dataclass
class WriteRecord:
    """One write that reached a user: what was asked and what was answered."""

    method: str
    path: str
    user_id: str
    action: str  # revokeSignInSessions | update | deleteMethod
    body: dict[str, Any]
    status: int


def encode_state_token(state: dict[str, Any]) -> str:
    """An opaque-looking token (``$skiptoken``/``$deltatoken``) carrying paging or sync state."""
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_state_token(token: str) -> dict[str, Any] | None:
    """The state in a token made by ``encode_state_token``, or None if it is not one."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        state = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return state if isinstance(state, dict) else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _jwt(tenant: str, client_id: str, roles: list[str], exp: int) -> str:
    """An app-only access token shaped as Entra's: a JWT whose ``roles`` claim lists the granted
    application permissions (the signature is random: only the simulator checks the token)."""
    header = {"typ": "JWT", "alg": "RS256", "kid": "sandbox"}
    claims = {"aud": "https://graph.microsoft.com", "iss": f"https://sts.windows.net/{tenant}/", "tid": tenant,
              "appid": client_id, "idtyp": "app", "roles": roles, "exp": exp, "jti": secrets.token_urlsafe(8)}
    return ".".join((_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()),
                     _b64(secrets.token_bytes(32))))


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class GraphState:
    """The tenant behind the simulator; thread-safe (the app runs in uvicorn's thread)."""

    def __init__(
        self,
        tenant_id: str | None = None,
        *,
        clock: Clock | None = None,
        token_lifetime: int = 3599,
        delta_token_lifetime: timedelta = timedelta(days=7),
        delta_page_size: int = 200,
        stale_delta_status: int = 400,
    ) -> None:
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.clock = clock or Clock()
        #: ``expires_in`` of issued tokens. msal treats a token with < 5 minutes left as expired, so
        #: a value below 300 makes it fetch a new token for every Graph call.
        self.token_lifetime = token_lifetime
        self.delta_token_lifetime = delta_token_lifetime
        self.delta_page_size = delta_page_size
        #: HTTP status of ``syncStateNotFound``: 400 as announced; 410 is documented for resets
        #: too (unverified which one a directory delta token gets), so it is switchable.
        self.stale_delta_status = stale_delta_status
        self.lock = threading.RLock()
        self.users: dict[str, GraphUser] = {}
        self.tombstones: dict[str, Tombstone] = {}
        self.apps: dict[str, AppRegistration] = {}
        self.tokens: dict[str, IssuedToken] = {}
        self.faults: list[Fault] = []
        self.requests: list[RecordedCall] = []
        self.writes: list[WriteRecord] = []
        self.token_requests = 0  # token endpoint calls, successful or not
        self.tokens_issued = 0
        self.token_endpoint_failures = 0  # answer the next N token requests with 503
        self.calls = 0  # Graph calls (token endpoint and discovery not counted)
        self.version = 0
        self.delta_epoch = 0
        self._ids = itertools.count(1)

    # -- apps and tokens ----------------------------------------------------------------------

    def add_app(self, client_id: str | None = None, secret: str | None = None, *,
                roles: frozenset[str] | set[str] = ALL_ROLES) -> AppRegistration:
        with self.lock:
            app = AppRegistration(client_id or str(uuid.uuid4()), secret or secrets.token_urlsafe(30),
                                  frozenset(roles))
            self.apps[app.client_id] = app
            return app

    def rotate_secret(self, client_id: str) -> str:
        """Replace the app's secret (the old one is refused from now on); returns the new one."""
        with self.lock:
            app = self.apps[client_id]
            app.secret = secrets.token_urlsafe(30)
            return app.secret

    def issue_token(self, tenant: str, form: dict[str, str], basic: tuple[str, str] | None) -> dict[str, Any]:
        """The token endpoint: validate a client-credentials request and answer like Entra."""
        with self.lock:
            self.token_requests += 1
            if self.token_endpoint_failures > 0:
                self.token_endpoint_failures -= 1
                raise TokenError(503, "temporarily_unavailable", 90033,
                                 "A transient error has occurred. Please try again.")
            if tenant != self.tenant_id:
                raise TokenError(400, "invalid_request", 90002, f"Tenant '{tenant}' not found. Check to make "
                                 "sure you have the correct tenant ID and are signing into the correct cloud.")
            grant = form.get("grant_type", "")
            if grant != "client_credentials":
                raise TokenError(400, "unsupported_grant_type", 70003,
                                 f"The app requested an unsupported grant type '{grant}'.")
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
            if basic is not None:  # client_secret_basic is accepted too (msal sends the body form)
                client_id, secret = client_id or basic[0], secret or basic[1]
            if not client_id:
                raise TokenError(400, "invalid_request", 900144,
                                 "The request body must contain the following parameter: 'client_id'.")
            app = self.apps.get(client_id)
            if app is None:
                raise TokenError(400, "unauthorized_client", 700016,
                                 f"Application with identifier '{client_id}' was not found in the directory "
                                 f"'{self.tenant_id}'.")
            if not secret:
                raise TokenError(401, "invalid_client", 7000218, "The request body must contain the following "
                                 "parameter: 'client_assertion' or 'client_secret'.")
            if not secrets.compare_digest(secret, app.secret):
                raise TokenError(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the "
                                 "secret being sent in the request is the client secret value, not the client "
                                 f"secret ID, for a secret added to app '{app.client_id}'.")
            if app.secret_expired:
                raise TokenError(401, "invalid_client", 7000222,
                                 f"The provided client secret keys for app '{app.client_id}' are expired.")
            scope = form.get("scope", "")
            if scope not in GRAPH_SCOPES:
                raise TokenError(400, "invalid_scope", 1002012, f"The provided value for scope {scope} is not "
                                 "valid. Client credential flows must have a scope value with /.default suffixed "
                                 "to the resource identifier (application ID URI).")
            value = _jwt(self.tenant_id, app.client_id, sorted(app.roles),
                         int((self.clock.now() + timedelta(seconds=self.token_lifetime)).timestamp()))
            expires_at = self.clock.now() + timedelta(seconds=self.token_lifetime)
            self.tokens[value] = IssuedToken(value, app.client_id, app.roles, expires_at)
            self.tokens_issued += 1
            return {"token_type": "Bearer", "expires_in": self.token_lifetime,
                    "ext_expires_in": self.token_lifetime, "access_token": value}

    def expire_tokens(self) -> None:
        """Every token issued so far is expired from now on (clients must fetch a new one)."""
        with self.lock:
            oauth.expire_all(self.tokens.values(), self.clock.now())

    def check_token(self, authorization: str) -> IssuedToken:
        """The token of an ``Authorization`` header, or the 401 Graph answers."""
        scheme, _, value = authorization.partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            raise GraphApiError(401, "InvalidAuthenticationToken", "Access token is empty.")
        with self.lock:
            token = self.tokens.get(value)
            if token is None:
                raise GraphApiError(401, "InvalidAuthenticationToken",
                                    "IDX14100: JWT is not well formed, there are no dots (.).")
            if self.clock.now() >= token.expires_at:
                raise GraphApiError(401, "InvalidAuthenticationToken",
                                    "Lifetime validation failed, the token is expired.",
                                    headers={"WWW-Authenticate": (
                                        'Bearer realm="", authorization_uri="https://login.microsoftonline.com/'
                                        f'common/oauth2/authorize", client_id="{GRAPH_APP_ID}"')})
            return token

    # -- users --------------------------------------------------------------------------------

    def _touch(self, user: GraphUser) -> None:
        self.version += 1
        user.version = self.version
        user.ever_set.update(k for k, v in user.props.items() if v is not None and v != [])

    def add_user(self, display_name: str, upn: str | None = None, **props: Any) -> GraphUser:
        """A member user; ``props`` are Graph properties (``accountEnabled``, ``employeeId`` ...).

        ``employeeLeaveDateTime``/``employeeHireDate`` may be given as datetimes.
        """
        unknown = set(props) - USER_PROPERTIES
        if unknown:
            raise ValueError(f"not user properties: {sorted(unknown)}")
        with self.lock:
            n = next(self._ids)
            nick = display_name.lower().replace(" ", ".")
            base: dict[str, Any] = {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.tenant_id}/users/{n}")),
                "displayName": display_name, "userPrincipalName": upn or f"{nick}@contoso.example",
                "mail": upn or f"{nick}@contoso.example", "accountEnabled": True, "userType": "Member",
                "otherMails": [], "proxyAddresses": [], "businessPhones": [], "mailNickname": nick,
                "createdDateTime": _iso(self.clock.now()),
            }
            base.update({k: _iso(v) if isinstance(v, datetime) else v for k, v in props.items()})
            user = GraphUser(base)
            self.users[user.id] = user
            self._touch(user)
            return user

    def add_guest(self, display_name: str, email: str, **props: Any) -> GraphUser:
        """A B2B guest: ``userType`` Guest and an ``#EXT#`` UPN."""
        upn = email.replace("@", "_") + "#EXT#@contoso.example"
        props.setdefault("mail", email)
        props.setdefault("otherMails", [email])
        return self.add_user(display_name, upn, userType="Guest", **props)

    def user(self, user_id: str) -> GraphUser:
        with self.lock:
            return self.users[user_id]

    def update_user(self, user_id: str, **props: Any) -> GraphUser:
        unknown = set(props) - USER_PROPERTIES
        if unknown:
            raise ValueError(f"not user properties: {sorted(unknown)}")
        with self.lock:
            user = self.users[user_id]
            user.props.update({k: _iso(v) if isinstance(v, datetime) else v for k, v in props.items()})
            self._touch(user)
            return user

    def set_manager(self, user_id: str, manager_id: str | None) -> None:
        with self.lock:
            self.users[user_id].manager_id = manager_id
            self._touch(self.users[user_id])

    def delete_user(self, user_id: str, *, permanent: bool = False) -> None:
        """Delete: soft (delta says ``changed``, restorable) or permanent (``deleted``)."""
        with self.lock:
            user = self.users.pop(user_id)
            self.version += 1
            self.tombstones[user_id] = Tombstone(user_id, self.version, "deleted" if permanent else "changed",
                                                 None if permanent else user)

    def restore_user(self, user_id: str) -> GraphUser:
        """Restore a soft-deleted user (delta reports it as changed again)."""
        with self.lock:
            tomb = self.tombstones.pop(user_id)
            if tomb.user is None:
                raise ValueError(f"user {user_id} was deleted permanently")
            self.users[user_id] = tomb.user
            self._touch(tomb.user)
            return tomb.user

    def add_method(self, user_id: str, segment: str, method_id: str | None = None, **props: Any) -> AuthMethod:
        """Register an authentication method, e.g. ``add_method(uid, "microsoftAuthenticatorMethods",
        displayName="Pixel 8")``."""
        if segment not in METHOD_SEGMENTS:
            raise ValueError(f"unknown method segment {segment!r}")
        with self.lock:
            method = AuthMethod(method_id or str(uuid.uuid4()), segment, dict(props))
            self.users[user_id].methods.append(method)
            return method

    def add_authenticator(self, user_id: str, device: str) -> AuthMethod:
        return self.add_method(user_id, "microsoftAuthenticatorMethods", displayName=device,
                               deviceTag="SoftwareTokenActivated", phoneAppVersion="6.2401.0119",
                               createdDateTime=_iso(self.clock.now()))

    def add_password(self, user_id: str) -> AuthMethod:
        return self.add_method(user_id, "passwordMethods", PASSWORD_METHOD_ID, password=None,
                               createdDateTime=_iso(self.clock.now()))

    def live_users_sorted(self) -> list[GraphUser]:
        with self.lock:
            return sorted(self.users.values(), key=lambda u: u.id)

    def invalidate_delta_tokens(self) -> None:
        """Every delta/skip token handed out so far gets ``syncStateNotFound`` (a reset)."""
        with self.lock:
            self.delta_epoch += 1

    # -- faults -------------------------------------------------------------------------------

    def inject(self, kind: FaultKind, *, at_call: int | None = None, times: int = 1,
               retry_after: float | None = None, route: str | None = None) -> Fault:
        """Make Graph calls fail: by number (``at_call``, default the next call) or, with ``route``,
        the next ``times`` calls whose path contains ``route`` from call ``at_call`` on."""
        with self.lock:
            first = at_call if at_call is not None else self.calls + 1
            fault = Fault(kind, first, times, retry_after, route)
            self.faults.append(fault)
            return fault

    def throttle(self, *, at_call: int | None = None, times: int = 1, retry_after: float | None = 2,
                 route: str | None = None) -> Fault:
        return self.inject(FaultKind.throttle, at_call=at_call, times=times, retry_after=retry_after, route=route)

    def unavailable(self, *, at_call: int | None = None, times: int = 1, retry_after: float | None = None,
                    route: str | None = None, gateway: bool = False) -> Fault:
        kind = FaultKind.gateway_timeout if gateway else FaultKind.unavailable
        return self.inject(kind, at_call=at_call, times=times, retry_after=retry_after, route=route)

    def expire_token_at(self, call: int) -> Fault:
        """The token presented on Graph call ``call`` expires just before that call is checked."""
        return self.inject(FaultKind.expire_token, at_call=call)

    def take_fault(self, call: int, path: str, kinds: set[FaultKind]) -> Fault | None:
        with self.lock:
            return oauth.take_fault(self.faults, call, path, kinds)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    # -- request log --------------------------------------------------------------------------

    def begin_call(self, method: str, path: str, params: dict[str, str]) -> RecordedCall:
        with self.lock:
            self.calls += 1
            record = RecordedCall(self.calls, method, path, dict(params))
            self.requests.append(record)
            return record

    def calls_to(self, path_suffix: str, method: str = "GET") -> list[RecordedCall]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]

    def record_write(self, method: str, path: str, user_id: str, action: str, body: dict[str, Any],
                     status: int) -> None:
        with self.lock:
            self.writes.append(WriteRecord(method, path, user_id, action, dict(body), status))
