"""Keycloak as an identity source and IdP, over the admin REST API with python-keycloak 7.x.

:class:`KeycloakSource` is an :class:`~connectors.protocols.IdentitySource` for one realm, plus the
IdP facts and actions the reconciler needs: whether a person signs in through SSO and has MFA
(:meth:`KeycloakSource.posture`), ending their sessions, disabling them, deleting a credential.

Authentication: a confidential client with a service account (``client_credentials``), given the
realm-management roles ``view-users`` and ``query-users`` (reading) and ``manage-users`` (actions).
python-keycloak fetches the token lazily, renews it after 90 % of ``expires_in`` and, on a 401,
fetches a new one and repeats the request once; a second 401 or a refused secret is an
:class:`AuthError`. ``token_realm`` is the realm the client lives in when it differs from the
realm read (python-keycloak's ``user_realm_name``).

Retries: Keycloak does not throttle, but the proxy in front of it may. The connection used here
(a :class:`keycloak.KeycloakOpenIDConnection` subclass, in ``keycloak_connection``) repeats a
request answered 429/502/503/504 after ``Retry-After`` (else exponential backoff), and one that
failed to connect, up to ``max_attempts``; ``sleep`` is injectable. What still fails maps onto the taxonomy:

- ``KeycloakAuthenticationError`` (any 401), or a token request refused as
  ``invalid_client``/``unauthorized_client`` -> ``AuthError``; 403 (a role missing) -> ``AuthError``;
- ``KeycloakConnectionError`` -> ``TransientError`` (a certificate that does not verify ->
  ``StopError``); 429/5xx -> ``TransientError``;
- 404 -> ``NotFoundError`` (Keycloak's ``{"error":"User not found"}``); other 4xx -> ``RejectedError``;
- an answer that is not the JSON documented (python-keycloak raises ``TypeError`` for it: an HTML
  login page, an object where a list belongs), an item without ``id`` -> ``MalformedResponseError``.

Listing (:meth:`list_people`): ``/users/count`` first, then ``/users?first=&max=`` page by page
(python-keycloak's own ``get_users()`` without paging parameters would hold every user in memory);
a page shorter than asked is the last; a user seen twice (the realm changed under the paging) is
yielded once. A listing that yields no one while the count said there were users has failed
(``MalformedResponseError``; DESIGN.md invariant 1). Mapping to ``PersonRecord``:
``source_key`` = Keycloak's user ``id``; ``username``; ``emails`` = (``email``,);
``display_name`` = first + last name, else the username; ``employee_id`` and ``department`` from
user attributes (``employee_id_attribute``, default ``employeeNumber``; ``department_attribute``,
default ``department``); ``enabled`` false -> suspended; ``kind`` from ``kind_attribute`` through
``kind_values`` when configured (Keycloak has no built-in notion of it), else employee.

User profile (Keycloak 24+): attributes a realm's user profile does not declare are left out of
every user read unless the unmanaged-attribute policy shows them (``ENABLED``, ``ADMIN_VIEW``,
``ADMIN_EDIT``; new realms have none). So every listing starts with :meth:`check_profile`
(``GET /users/profile``): a configured ``employee_id_attribute``/``department_attribute``/
``kind_attribute`` that is not declared is a :class:`StopError` naming it and the fix, never a run with
the attribute silently empty. A 404 there is a Keycloak without user profiles (< 22): all attributes show.

Posture (:meth:`posture`, :meth:`list_postures`), as the default browser flow decides:

- **sign-in**: ``identity_provider`` (a ``/federated-identity`` link), ``ldap_federation`` (a
  ``federationLink``: LDAP/AD user storage; the directory password is typed into Keycloak's own form),
  or ``local``. SSO is true for the first two.
- **MFA**: a credential of a type in ``mfa_credential_types`` (default ``otp`` and, from 26,
  ``recovery-authn-codes``). WebAuthn alone is *not* MFA: the default browser flow's 2FA step asks
  for OTP only (add ``webauthn`` when the realm's flow asks for it). A user whose only way in is an
  identity-provider link (no password credential, no local 2FA) has MFA **unknown** (None): it is
  done, or not, upstream. A pending ``CONFIGURE_TOTP`` required action is not MFA.

Actions (each with a ``preview_*``): :meth:`logout` (``POST /users/{id}/logout``; 204 whether or not
there was a session, so a repeat is ``done`` again; it ends online sessions and sets not-before,
offline records stay); :meth:`remove_offline_tokens` (``GET /users/{id}/consents``, then ``DELETE
/users/{id}/consents/{clientId}`` for each: consent and offline tokens go); :meth:`disable` (reads the
user: already disabled -> ``already_gone``, nothing sent; else ``PUT {"enabled": false}`` as
python-keycloak's ``disable_user`` does; a 400 - profile validation, an LDAP user without import - is a
``RejectedError`` with Keycloak's ``errorMessage``); :meth:`require_totp_setup` (adds ``CONFIGURE_TOTP``
to the user's required actions, sending the existing ones too: a PUT replaces the list);
:meth:`delete_credential` (``DELETE /users/{id}/credentials/{credId}``; a 404 is settled by reading
the user's credentials: unknown user -> ``NotFoundError``, credential not listed ->
``already_gone``, still listed -> ``RejectedError``). An unknown user on any action raises
``NotFoundError``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakConnectionError, KeycloakError

from accessward.connectors.errors import (
    AuthError,
    ConnectorError,
    MalformedResponseError,
    NotFoundError,
    RejectedError,
    StopError,
    TransientError,
)
from accessward.connectors.keycloak_connection import _RetryingConnection
from accessward.connectors.records import (
    PersonKind,
    PersonRecord,
    PersonStatus,
    RequestPreview,
    RevokeOutcome,
    RevokeResult,
)

__all__ = ["MFA_CREDENTIAL_TYPES", "IdpPosture", "KeycloakCredential", "KeycloakSession", "KeycloakSource"]

log = logging.getLogger("accessward.keycloak")

#: Credentials the default browser flow asks for as a second factor (Keycloak 26: OTP, recovery codes).
MFA_CREDENTIAL_TYPES = frozenset({"otp", "recovery-authn-codes"})
#: Credentials that are not the password: what a person may have registered (shown, removable).
FACTOR_CREDENTIAL_TYPES = frozenset({"otp", "webauthn", "webauthn-passwordless", "recovery-authn-codes"})
UNMANAGED_VISIBLE = frozenset({"ENABLED", "ADMIN_VIEW", "ADMIN_EDIT"})
CONFIGURE_TOTP = "CONFIGURE_TOTP"
_AUTH_TOKEN_ERRORS = (b"invalid_client", b"unauthorized_client", b"invalid_grant")
T = TypeVar("T")


# -- records -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeycloakCredential:
    id: str
    type: str  # password | otp | webauthn | webauthn-passwordless | ...
    label: str = ""
    created: datetime | None = None

    @property
    def is_mfa(self) -> bool:
        """A second factor under the default browser flow (see ``KeycloakSource.mfa_credential_types``)."""
        return self.type in MFA_CREDENTIAL_TYPES

    @property
    def is_factor(self) -> bool:
        """Any registered method besides the password (OTP, WebAuthn, recovery codes)."""
        return self.type in FACTOR_CREDENTIAL_TYPES


@dataclass(frozen=True, slots=True)
class KeycloakSession:
    id: str
    ip_address: str = ""
    started: datetime | None = None
    last_access: datetime | None = None
    clients: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IdpPosture:
    """How a person signs in, as the IdP knows it (``source_key`` as in their PersonRecord)."""

    source_key: str
    sso: bool  # through an identity provider or federated user storage (LDAP/AD)
    mfa: bool | None  # a second factor the browser flow asks for; None: unknown (done upstream)
    identity_providers: tuple[str, ...] = ()
    federation_link: str | None = None
    mfa_methods: tuple[str, ...] = ()  # registered non-password credential types, e.g. ("otp", "webauthn")
    sign_in: str = "local"  # identity_provider | ldap_federation | local


def _ms(value: object) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value / 1000, UTC)
    return None


# -- the connector -------------------------------------------------------------------------------


def _body_error(body: bytes | None) -> str:
    """Keycloak's own words from an error body: ``error``/``error_description``/``errorMessage``."""
    if not body:
        return ""
    try:
        decoded = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    if not isinstance(decoded, dict):
        return str(decoded)[:200]
    parts = [str(decoded[k]) for k in ("error", "error_description", "errorMessage") if decoded.get(k)]
    return ": ".join(parts)[:300]


class KeycloakSource:
    """IdentitySource, posture and IdP actions for one Keycloak realm (see the module docstring)."""

    def __init__(
        self,
        name: str,
        server_url: str,
        realm: str,
        client_id: str,
        client_secret: str,
        *,
        token_realm: str | None = None,
        verify: bool | str = True,
        timeout: int = 30,
        page_size: int = 100,
        employee_id_attribute: str | None = "employeeNumber",
        department_attribute: str | None = "department",
        kind_attribute: str | None = None,
        kind_values: Mapping[str, PersonKind] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 5,
        backoff: float = 0.5,
        max_wait: float = 120.0,
        posture: bool = False,
        mfa_credential_types: frozenset[str] | set[str] = MFA_CREDENTIAL_TYPES,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be positive")
        if not client_secret:
            raise ValueError("a client secret is required (client_credentials)")
        self.name = name
        self.realm = realm
        self.client_id = client_id
        self._server_url = server_url.rstrip("/") + "/"  # python-keycloak urljoins paths onto it
        self._page_size = page_size
        self._employee_id_attribute = employee_id_attribute
        self._department_attribute = department_attribute
        self._kind_attribute = kind_attribute
        self._kind_values = {k.lower(): v for k, v in (kind_values or {}).items()}
        self._connection = _RetryingConnection(
            server_url=self._server_url, realm_name=realm, user_realm_name=token_realm or realm,
            client_id=client_id, client_secret_key=client_secret, grant_type="client_credentials",
            verify=verify, timeout=timeout, sleep=sleep, max_attempts=max_attempts, backoff=backoff,
            max_wait=max_wait,
        )
        self._admin = KeycloakAdmin(connection=self._connection)
        self._with_posture = posture
        self.mfa_credential_types = frozenset(mfa_credential_types)

    def __repr__(self) -> str:
        return f"KeycloakSource(name={self.name!r}, realm={self.realm!r}, client_id={self.client_id!r})"

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> KeycloakSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- error mapping --------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        try:
            return fn(*args)
        except KeycloakError as exc:
            raise self._map(exc, what) from exc
        except TypeError as exc:  # python-keycloak: "Unexpected response type ..." (not the documented JSON)
            raise MalformedResponseError(f"Keycloak answered {what} with something that is not the documented "
                                         "JSON (an HTML page, an object instead of a list)", system=self.name,
                                         detail=str(exc).split(",")[0][:120]) from exc

    def _map(self, exc: KeycloakError, what: str) -> ConnectorError:
        status = exc.response_code
        detail = _body_error(exc.response_body)
        kw: dict[str, Any] = {"system": self.name, "detail": detail, "status": status}
        if isinstance(exc, KeycloakConnectionError):
            if isinstance(exc.__cause__, requests.exceptions.SSLError):
                return StopError(f"TLS verification of {self._server_url} failed; check the CA (verify=) setting",
                                 system=self.name, detail=str(exc.__cause__)[:300])
            return TransientError(f"cannot reach Keycloak ({what}): {exc.error_message!s}", **kw)
        body = exc.response_body or b""
        if isinstance(exc, KeycloakAuthenticationError) or status == 401 or \
                (status == 400 and any(e in body for e in _AUTH_TOKEN_ERRORS)):
            return AuthError(f"Keycloak refused the client's credentials or token ({what}): {detail}; "
                             "the source is stopped", **kw)
        if status is None or status == 429 or status >= 500:
            return TransientError(f"Keycloak unavailable ({what}): HTTP {status}", **kw,
                                  retry_after=self._connection.last_retry_after)
        if status == 403:
            return AuthError(f"the Keycloak client lacks a realm-management role for {what}: {detail}", **kw)
        if status == 404:
            return NotFoundError(f"Keycloak: not found ({what}): {detail}", **kw)
        return RejectedError(f"Keycloak refused {what}: HTTP {status} {detail}", **kw)

    # -- reading --------------------------------------------------------------------------------

    def _objects(self, value: object, what: str) -> list[dict[str, Any]]:
        if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
            raise MalformedResponseError(f"Keycloak answered {what} without a list of objects", system=self.name)
        return value

    def _user_id(self, item: dict[str, Any]) -> str:
        user_id = item.get("id")
        if not isinstance(user_id, str) or not user_id:
            # Skipping it would make this person look like a leaver: the page is malformed.
            raise MalformedResponseError("a Keycloak user without an 'id'", system=self.name,
                                         detail=f"keys: {', '.join(sorted(map(str, item)))[:200]}")
        return user_id

    def _attribute(self, item: dict[str, Any], name: str | None) -> str | None:
        if not name:
            return None
        attributes = item.get("attributes") or {}
        values = attributes.get(name) if isinstance(attributes, dict) else None
        if isinstance(values, list) and values and isinstance(values[0], str) and values[0].strip():
            return values[0].strip()
        return None

    def _text(self, item: dict[str, Any], key: str) -> str | None:
        value = item.get(key)
        return value if isinstance(value, str) and value else None

    def person(self, item: dict[str, Any]) -> PersonRecord:
        """A Keycloak UserRepresentation as a PersonRecord (see the module docstring)."""
        user_id = self._user_id(item)
        enabled = item.get("enabled")
        if not isinstance(enabled, bool):
            raise MalformedResponseError(f"Keycloak user {user_id} has no boolean 'enabled'", system=self.name)
        username = self._text(item, "username")
        name = " ".join(p for p in (self._text(item, "firstName"), self._text(item, "lastName")) if p)
        kind_value = (self._attribute(item, self._kind_attribute) or "").lower()
        email = self._text(item, "email")
        return PersonRecord(
            source_key=user_id,
            display_name=name or username or "",
            employee_id=self._attribute(item, self._employee_id_attribute),
            username=username,
            emails=(email,) if email else (),
            kind=self._kind_values.get(kind_value, PersonKind.employee),
            status=PersonStatus.active if enabled else PersonStatus.suspended,
            department=self._attribute(item, self._department_attribute),
        )

    def _user_pages(self) -> Iterator[dict[str, Any]]:
        expected = self._call("the user count", self._admin.users_count)
        if not isinstance(expected, int) or isinstance(expected, bool):
            raise MalformedResponseError("Keycloak's /users/count is not an integer", system=self.name)
        first, seen = 0, set()
        while True:
            page = self._objects(self._call("the user listing", self._admin.get_users,
                                            {"first": first, "max": self._page_size}), "the user listing")
            for item in page:
                user_id = self._user_id(item)
                if user_id not in seen:
                    seen.add(user_id)
                    yield item
            if len(page) < self._page_size:
                break
            first += len(page)
        if not seen and expected > 0:
            raise MalformedResponseError(f"Keycloak listed no users while /users/count says {expected}",
                                         system=self.name)

    def configured_attributes(self) -> dict[str, str]:
        """Attribute -> the setting that names it (employee_id_attribute, department_attribute, kind_attribute)."""
        named = (("employee_id_attribute", self._employee_id_attribute),
                 ("department_attribute", self._department_attribute), ("kind_attribute", self._kind_attribute))
        return {attr: setting for setting, attr in named if attr}

    def check_profile(self) -> None:
        """Fail loudly when the realm's user profile hides an attribute this source reads (Keycloak 24+)."""
        wanted = self.configured_attributes()
        if not wanted:
            return
        try:
            profile = self._call("the realm's user profile", self._admin.get_realm_users_profile)
        except NotFoundError:
            log.info("keycloak: no user profile endpoint (Keycloak < 22): every attribute is returned")
            return
        if not isinstance(profile, dict) or not isinstance(profile.get("attributes", []), list):
            raise MalformedResponseError("Keycloak's /users/profile is not a UPConfig", system=self.name)
        if profile.get("unmanagedAttributePolicy") in UNMANAGED_VISIBLE:
            return
        declared = {str(a.get("name")) for a in profile.get("attributes") or [] if isinstance(a, dict)}
        missing = [(attr, setting) for attr, setting in wanted.items() if attr not in declared]
        if missing:
            attr, setting = missing[0]
            raise StopError(
                f"Keycloak realm {self.realm!r} does not declare the attribute {attr!r} ({setting}) in its user "
                "profile, and its unmanaged-attribute policy is off: Keycloak 24+ leaves it out of every user "
                "read, so it would be silently empty for everyone. Declare it in Realm settings > User profile "
                "(admin may view), or set Unmanaged attributes to 'Admin can view', or clear " + setting,
                system=self.name, detail=", ".join(f"{a} ({s})" for a, s in missing))

    def list_people(self) -> Iterator[PersonRecord]:
        """Every user of the realm, streaming page by page (after :meth:`check_profile`).

        With ``posture=True`` each person also carries SSO and MFA as the realm knows them (two
        more requests per user: federated identities and credentials).
        """
        self.check_profile()
        for item in self._user_pages():
            person = self.person(item)
            if self._with_posture:
                facts = self._posture(item)
                person = dataclasses.replace(person, sso=facts.sso, mfa=facts.mfa, mfa_methods=facts.mfa_methods)
            yield person

    # -- posture --------------------------------------------------------------------------------

    def credentials(self, user_id: str) -> list[KeycloakCredential]:
        items = self._objects(self._call("the user's credentials", self._admin.get_credentials, user_id),
                              "the user's credentials")
        out = []
        for item in items:
            cred_id, cred_type = item.get("id"), item.get("type")
            if not isinstance(cred_id, str) or not isinstance(cred_type, str):
                raise MalformedResponseError("a credential without 'id' or 'type'", system=self.name)
            out.append(KeycloakCredential(cred_id, cred_type, str(item.get("userLabel") or ""),
                                          _ms(item.get("createdDate"))))
        return out

    def identity_providers(self, user_id: str) -> tuple[str, ...]:
        items = self._objects(self._call("the user's federated identities", self._admin.get_user_social_logins,
                                         user_id), "the user's federated identities")
        return tuple(str(i.get("identityProvider") or "") for i in items)

    def sessions(self, user_id: str) -> list[KeycloakSession]:
        items = self._objects(self._call("the user's sessions", self._admin.get_sessions, user_id),
                              "the user's sessions")
        return [KeycloakSession(str(i.get("id") or ""), str(i.get("ipAddress") or ""), _ms(i.get("start")),
                                _ms(i.get("lastAccess")),
                                tuple(str(c) for c in (i.get("clients") or {}).values()))
                for i in items]

    def _posture(self, item: dict[str, Any]) -> IdpPosture:
        user_id = self._user_id(item)
        link = self._text(item, "federationLink")
        providers = self.identity_providers(user_id)
        credentials = self.credentials(user_id)
        factors = sorted({c.type for c in credentials if c.is_factor})
        second = any(c.type in self.mfa_credential_types for c in credentials)
        has_password = any(c.type == "password" for c in credentials)
        sign_in = "identity_provider" if providers else "ldap_federation" if link is not None else "local"
        mfa: bool | None = second
        if providers and not has_password and link is None and not second:
            mfa = None  # the identity provider is the only way in: its MFA is not visible here
        return IdpPosture(user_id, sso=bool(providers) or link is not None, mfa=mfa, identity_providers=providers,
                          federation_link=link, mfa_methods=tuple(factors), sign_in=sign_in)

    def posture(self, user_id: str) -> IdpPosture:
        """SSO and MFA facts of one user (three requests); unknown user -> NotFoundError."""
        return self._posture(self._get_user(user_id))

    def list_postures(self) -> Iterator[IdpPosture]:
        """The posture of every user, streaming (two requests per user on top of the listing)."""
        self.check_profile()
        for item in self._user_pages():
            yield self._posture(item)

    # -- actions --------------------------------------------------------------------------------

    def _get_user(self, user_id: str) -> dict[str, Any]:
        item = self._call("the user", self._admin.get_user, self._checked(user_id))
        if not isinstance(item, dict):
            raise MalformedResponseError("Keycloak answered the user with something that is not an object",
                                         system=self.name)
        return item

    def _checked(self, user_id: str) -> str:
        if not user_id or "/" in user_id or "?" in user_id:
            raise RejectedError(f"{user_id!r} is not a Keycloak user id", system=self.name)
        return user_id

    def _url(self, user_id: str, *rest: str) -> str:
        parts = ["admin", "realms", self.realm, "users", self._checked(user_id), *rest]
        return self._server_url + "/".join(quote(p, safe="") for p in parts)

    def preview_logout(self, user_id: str) -> RequestPreview:
        return RequestPreview("POST", self._url(user_id, "logout"))

    def logout(self, user_id: str) -> RevokeResult:
        """End every session of the user (204 whether or not there was one)."""
        self._call("the logout", self._admin.user_logout, self._checked(user_id))
        return RevokeResult(RevokeOutcome.done, "sessions ended")

    def preview_disable(self, user_id: str) -> RequestPreview:
        return RequestPreview("PUT", self._url(user_id), headers={"Content-Type": "application/json"},
                              body=json.dumps({"enabled": False}))

    def consents(self, user_id: str) -> list[str]:
        """The clientIds holding a consent or an offline token of the user."""
        items = self._objects(self._call("the user's consents", self._admin.user_consents, self._checked(user_id)),
                              "the user's consents")
        return [str(i["clientId"]) for i in items if isinstance(i.get("clientId"), str) and i["clientId"]]

    def preview_remove_offline_tokens(self, user_id: str) -> RequestPreview:
        return RequestPreview("DELETE", self._url(user_id, "consents") + "/{clientId}",
                              body=f"for each clientId that GET {self._url(user_id, 'consents')} lists")

    def remove_offline_tokens(self, user_id: str) -> RevokeResult:
        """Revoke every consent and offline token (logout leaves offline records listed)."""
        clients = self.consents(user_id)
        removed = []
        for client in clients:
            try:
                self._call("revoking the consent", self._admin.revoke_consent, self._checked(user_id),
                           self._checked(client))
                removed.append(client)
            except NotFoundError:
                continue  # gone meanwhile (404 "Consent nor offline token not found")
        if not removed:
            return RevokeResult(RevokeOutcome.already_gone, "no consent or offline token")
        return RevokeResult(RevokeOutcome.done, f"offline tokens and consents removed: {', '.join(removed)}")

    def preview_require_totp_setup(self, user_id: str) -> RequestPreview:
        return RequestPreview("PUT", self._url(user_id), headers={"Content-Type": "application/json"},
                              body=json.dumps({"requiredActions": ["<the existing ones>", CONFIGURE_TOTP]}))

    def require_totp_setup(self, user_id: str) -> RevokeResult:
        """Add CONFIGURE_TOTP, keeping the existing required actions (a PUT replaces the whole list)."""
        actions = self._get_user(user_id).get("requiredActions") or []
        if not isinstance(actions, list):
            raise MalformedResponseError("'requiredActions' is not a list", system=self.name)
        if CONFIGURE_TOTP in actions:
            return RevokeResult(RevokeOutcome.already_gone, "CONFIGURE_TOTP already required")
        self._call("adding CONFIGURE_TOTP", self._admin.update_user, self._checked(user_id),
                   {"requiredActions": [*map(str, actions), CONFIGURE_TOTP]})
        return RevokeResult(RevokeOutcome.done, "OTP set-up required at the next sign-in (CONFIGURE_TOTP)")

    def disable(self, user_id: str) -> RevokeResult:
        """Disable the user; already disabled -> already_gone and nothing is sent."""
        if self._get_user(user_id).get("enabled") is False:
            return RevokeResult(RevokeOutcome.already_gone, "user already disabled")
        self._call("disabling the user", self._admin.disable_user, user_id)
        return RevokeResult(RevokeOutcome.done, "user disabled")

    def preview_delete_credential(self, user_id: str, credential_id: str) -> RequestPreview:
        return RequestPreview("DELETE", self._url(user_id, "credentials", self._checked(credential_id)))

    def delete_credential(self, user_id: str, credential_id: str) -> RevokeResult:
        """Delete one credential (an OTP device, a security key); see the module docstring for 404s."""
        try:
            self._call("deleting the credential", self._admin.delete_credential, self._checked(user_id),
                       self._checked(credential_id))
        except NotFoundError as exc:
            remaining = self.credentials(user_id)  # NotFoundError here: the user does not exist
            if any(c.id == credential_id for c in remaining):
                raise RejectedError(f"Keycloak answered 404 to deleting credential {credential_id}, yet still "
                                    "lists it", system=self.name, detail=exc.detail, status=exc.status) from exc
            return RevokeResult(RevokeOutcome.already_gone, f"credential already deleted ({exc.detail})")
        return RevokeResult(RevokeOutcome.done, "credential deleted")


# -- accessward check: in keycloak_check (re-exported here, where the CLI and the tests import it) ----
from accessward.connectors.keycloak_check import check  # noqa: E402

__all__ += ["check"]
