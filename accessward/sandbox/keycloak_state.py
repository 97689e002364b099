"""The Keycloak simulator's state (``sandbox.keycloak``): realms, users, clients, tokens, faults, logs.

Split out of ``sandbox.keycloak`` (which re-exports every name here) so the admin REST routes and
what they act on read apart, as ``graph``/``graph_state`` and ``tiktok``/``tiktok_state`` do. What
the routes answer is described in ``sandbox.keycloak``'s docstring.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from accessward.sandbox import oauth
from accessward.sandbox.clock import Clock

DEMO_REALM = "brand"
DEMO_CLIENT_ID = "accessward"
DEMO_SECRET = "demo-keycloak-client-secret"
DEFAULT_MAX = 100
ALL_ROLES = frozenset({"view-users", "query-users", "manage-users"})
BUILTIN_ATTRIBUTES = ("username", "email", "firstName", "lastName")
SHOWS_UNMANAGED = frozenset({"ENABLED", "ADMIN_VIEW", "ADMIN_EDIT"})
OFFLINE_TOKEN = "Offline Token"
PROFILE_REFUSAL = {"field": "email", "errorMessage": "error-invalid-email", "params": ["email"]}
LDAP_READ_ONLY_REFUSAL = {"errorMessage": "error-user-attribute-read-only"}


class FaultKind(StrEnum):
    throttle = "throttle"  # 429 with Retry-After
    unavailable = "unavailable"  # 503, Retry-After when given
    html = "html"  # 200 text/html login page
    malformed = "malformed"  # 200 JSON object where the route answers a list
    empty = "empty"  # 200 [] on a list route, whatever the realm holds (a broken proxy or filter)
    expire_token = "expire_token"  # the presented token dies just before this call is checked


class Fault(oauth.Fault[FaultKind]):
    """Active for admin-API calls from ``first_call`` on (``sandbox.oauth.Fault``)."""


@dataclass
class KcCredential:
    id: str
    type: str  # password | otp | webauthn | webauthn-passwordless
    user_label: str = ""
    created: int = 0  # epoch ms
    priority: int = 10

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type, "createdDate": self.created,
                               "credentialData": "{}", "priority": self.priority}
        if self.user_label:
            out["userLabel"] = self.user_label
        return out


@dataclass
class KcSession:
    id: str
    ip_address: str
    start: int
    last_access: int
    clients: dict[str, str] = field(default_factory=dict)


@dataclass
class KcUser:
    id: str
    username: str
    email: str | None = None
    first_name: str = ""
    last_name: str = ""
    enabled: bool = True
    email_verified: bool = True
    created: int = 0
    federation_link: str | None = None
    attributes: dict[str, list[str]] = field(default_factory=dict)
    required_actions: list[str] = field(default_factory=list)
    credentials: list[KcCredential] = field(default_factory=list)
    identities: list[dict[str, str]] = field(default_factory=list)  # {identityProvider, userId, userName}
    sessions: list[KcSession] = field(default_factory=list)
    not_before: int = 0
    consents: list[dict[str, Any]] = field(default_factory=list)  # UserConsentRepresentation
    refuse_update: dict[str, Any] | None = None  # the 400 body a PUT gets (validation, read-only LDAP)

    def as_json(self, *, brief: bool = False, visible: Callable[[str], bool] = lambda _: True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "username": self.username, "firstName": self.first_name, "lastName": self.last_name,
            "emailVerified": self.email_verified, "createdTimestamp": self.created, "enabled": self.enabled,
            "totp": any(c.type == "otp" for c in self.credentials),
            "disableableCredentialTypes": [], "requiredActions": list(self.required_actions),
            "notBefore": self.not_before,
            "access": {"manageGroupMembership": True, "view": True, "mapRoles": True, "impersonate": False,
                       "manage": True},
        }
        if self.email is not None:
            out["email"] = self.email
        if self.federation_link is not None:
            out["federationLink"] = self.federation_link
        shown = {k: list(v) for k, v in self.attributes.items() if visible(k)}
        if shown and not brief:
            out["attributes"] = shown
        return out


@dataclass
class KcClient:
    realm: str
    client_id: str
    secret: str
    roles: frozenset[str] = ALL_ROLES
    service_accounts: bool = True


@dataclass
class KcToken:
    realm: str
    client_id: str
    roles: frozenset[str]
    expires_at: datetime


@dataclass
class RecordedCall:
    call: int
    method: str
    path: str
    params: dict[str, str]
    status: int = 0


@dataclass
class WriteRecord:
    method: str
    path: str
    user_id: str
    action: str  # update | logout | deleteCredential
    body: dict[str, Any]
    status: int


class KcError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.headers = headers or {}


def _user_not_found() -> KcError:
    return KcError(404, {"error": "User not found"})


class KeycloakState:
    """Realms with users, confidential clients and tokens; thread-safe."""

    def __init__(self, realm: str = DEMO_REALM, *, clock: Clock | None = None, token_lifespan: int = 300,
                 declared: tuple[str, ...] = (), unmanaged_policy: str | None = "ENABLED") -> None:
        self.realm = realm
        #: The user profile: attributes declared besides the built-in four, and the unmanaged-attribute
        #: policy (None: a new 24+ realm, undeclared attributes are hidden from every user read).
        self.declared = tuple(dict.fromkeys(BUILTIN_ATTRIBUTES + tuple(declared)))
        self.unmanaged_policy = unmanaged_policy
        self.clock = clock or Clock()
        self.token_lifespan = token_lifespan
        self.lock = threading.RLock()
        self.users: dict[str, KcUser] = {}
        self.clients: dict[tuple[str, str], KcClient] = {}
        self.tokens: dict[str, KcToken] = {}
        self.faults: list[Fault] = []
        self.requests: list[RecordedCall] = []
        self.writes: list[WriteRecord] = []
        self.calls = 0  # admin API calls
        self.token_requests = 0
        self._ids = itertools.count(1)

    # -- clients and tokens -------------------------------------------------------------------

    def add_client(self, client_id: str, secret: str | None = None, *, realm: str | None = None,
                   roles: frozenset[str] | set[str] = ALL_ROLES) -> KcClient:
        with self.lock:
            client = KcClient(realm or self.realm, client_id, secret or secrets.token_urlsafe(24), frozenset(roles))
            self.clients[(client.realm, client_id)] = client
            return client

    def rotate_secret(self, client_id: str, realm: str | None = None) -> str:
        with self.lock:
            client = self.clients[(realm or self.realm, client_id)]
            client.secret = secrets.token_urlsafe(24)
            return client.secret

    def issue_token(self, realm: str, form: dict[str, str], basic: tuple[str, str] | None) -> dict[str, Any]:
        with self.lock:
            self.token_requests += 1
            grant = form.get("grant_type", "")
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
            if basic is not None:
                client_id, secret = client_id or basic[0], secret or basic[1]
            client = self.clients.get((realm, client_id))
            if client is None or not secret or not secrets.compare_digest(secret, client.secret):
                raise KcError(401, {"error": "unauthorized_client",
                                    "error_description": "Invalid client or Invalid client credentials"})
            if grant != "client_credentials":
                raise KcError(400, {"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"})
            if not client.service_accounts:
                raise KcError(401, {"error": "unauthorized_client",
                                    "error_description": "Client not enabled to retrieve service account"})
            # Shaped as Keycloak's: a JWT whose resource_access claim carries the service account's
            # realm-management roles (the default "roles" client scope); the signature is not real.
            claims = {"azp": client_id, "typ": "Bearer", "jti": secrets.token_urlsafe(8),
                      "resource_access": {"realm-management": {"roles": sorted(client.roles)}}}
            payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
            value = f"eyJhbGciOiJSUzI1NiJ9.{payload}.{secrets.token_urlsafe(40)}"
            self.tokens[value] = KcToken(realm, client_id, client.roles,
                                         self.clock.now() + timedelta(seconds=self.token_lifespan))
            return {"access_token": value, "expires_in": self.token_lifespan, "refresh_expires_in": 0,
                    "token_type": "Bearer", "not-before-policy": 0, "scope": "profile email"}

    def expire_tokens(self) -> None:
        with self.lock:
            oauth.expire_all(self.tokens.values(), self.clock.now())

    def check_token(self, authorization: str, realm: str) -> KcToken:
        scheme, _, value = authorization.partition(" ")
        with self.lock:
            token = self.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
            if token is None or self.clock.now() >= token.expires_at or token.realm not in (realm, "master"):
                raise KcError(401, {"error": "HTTP 401 Unauthorized"}, {
                    "WWW-Authenticate": f'Bearer realm="{realm}", error="invalid_token", '
                                        'error_description="Token verification failed"'})
            return token

    # -- users --------------------------------------------------------------------------------

    def _now_ms(self) -> int:
        return int(self.clock.now().timestamp() * 1000)

    def add_user(self, username: str, *, email: str | None = None, first_name: str = "", last_name: str = "",
                 enabled: bool = True, federation_link: str | None = None,
                 attributes: dict[str, list[str]] | None = None) -> KcUser:
        with self.lock:
            n = next(self._ids)
            user = KcUser(str(uuid.uuid5(uuid.NAMESPACE_URL, f"keycloak/{self.realm}/{n}")), username.lower(),
                          email.lower() if email else None, first_name, last_name, enabled, created=self._now_ms(),
                          federation_link=federation_link, attributes=dict(attributes or {}))
            self.users[user.id] = user
            return user

    def user(self, user_id: str) -> KcUser:
        with self.lock:
            return self.users[user_id]

    def add_credential(self, user_id: str, type_: str, label: str = "") -> KcCredential:
        with self.lock:
            cred = KcCredential(str(uuid.uuid4()), type_, label, self._now_ms())
            self.users[user_id].credentials.append(cred)
            return cred

    def link_identity(self, user_id: str, provider: str, provider_user_id: str, provider_username: str) -> None:
        with self.lock:
            self.users[user_id].identities.append(
                {"identityProvider": provider, "userId": provider_user_id, "userName": provider_username})

    def add_session(self, user_id: str, ip: str = "203.0.113.7") -> KcSession:
        with self.lock:
            now = self._now_ms()
            session = KcSession(str(uuid.uuid4()), ip, now, now, {str(uuid.uuid4()): "brand-portal"})
            self.users[user_id].sessions.append(session)
            return session

    def add_offline_token(self, user_id: str, client_id: str) -> None:
        """The user granted ``client_id`` an offline token (listed among the user's consents)."""
        with self.lock:
            now = self._now_ms()
            self.users[user_id].consents.append({
                "clientId": client_id, "grantedClientScopes": ["offline_access"], "createdDate": now,
                "lastUpdatedDate": now, "grantedRealmRoles": [],
                "additionalGrants": [{"client": client_id, "key": OFFLINE_TOKEN}]})

    def visible(self, name: str) -> bool:
        """Whether user reads show attribute ``name`` (the user profile, Keycloak 24+)."""
        return self.unmanaged_policy in SHOWS_UNMANAGED or name in self.declared

    def profile(self) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": [
            {"name": n, "displayName": "${" + n + "}", "multivalued": False,
             "permissions": {"view": ["admin", "user"], "edit": ["admin"]}} for n in self.declared],
            "groups": [{"name": "user-metadata", "displayHeader": "User metadata"}]}
        if self.unmanaged_policy is not None:
            out["unmanagedAttributePolicy"] = self.unmanaged_policy
        return out

    # -- faults and logs ----------------------------------------------------------------------

    def inject(self, kind: FaultKind, *, at_call: int | None = None, times: int = 1,
               retry_after: float | None = None, route: str | None = None) -> Fault:
        with self.lock:
            fault = Fault(kind, at_call if at_call is not None else self.calls + 1, times, retry_after, route)
            self.faults.append(fault)
            return fault

    def throttle(self, *, at_call: int | None = None, times: int = 1, retry_after: float | None = 2) -> Fault:
        return self.inject(FaultKind.throttle, at_call=at_call, times=times, retry_after=retry_after)

    def expire_token_at(self, call: int) -> Fault:
        return self.inject(FaultKind.expire_token, at_call=call)

    def take_fault(self, call: int, path: str, kinds: set[FaultKind]) -> Fault | None:
        with self.lock:
            return oauth.take_fault(self.faults, call, path, kinds)

    def begin_call(self, method: str, path: str, params: dict[str, str]) -> RecordedCall:
        with self.lock:
            self.calls += 1
            record = RecordedCall(self.calls, method, path, dict(params))
            self.requests.append(record)
            return record

    def calls_to(self, path_suffix: str, method: str = "GET") -> list[RecordedCall]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]
