"""Outbound SCIM 2.0 (RFC 7643/7644): the users of a social-media-management suite or agency portal.

Reads ``GET {base}/Users`` with 1-based ``startIndex`` + ``count`` paging (and an optional
``filter``); revokes by deactivating (``PATCH active=false``) or deleting (``DELETE``) the user, as
configured (reference/social-apis.md, section 5). The bearer token travels only in the
``Authorization`` header and is scrubbed from any error.

Records: the suite workspace is one resource (``suite_workspace``, id and name from the
settings); every *active* user is an account (human) holding one grant on it. A user with
``active: false`` is not access and is not listed; a user without ``active`` counts as active
(the attribute is optional in RFC 7643). The account's email is the primary entry of ``emails``
(else a ``work`` one, else the first), or the ``userName`` when it looks like an address; the
employee number comes from the enterprise extension.

Roles: the values of ``role_attribute`` (``roles`` by default; ``groups.display``,
``entitlements``, ``userType``, or an extension attribute such as
``urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department``) are mapped by
``role_levels`` (case, spaces, ``_`` and ``-`` ignored) merged over ``DEFAULT_ROLE_LEVELS``; the
grant's level is the highest of its values. A value nobody mapped, or no value at all, gets
``default_level`` (``full_publishing``): an unknown role is assumed to be able to publish.

Paging follows ``totalResults``, never the length of a page: a server may return fewer than
``count`` (``filter.maxResults``) without it being the last page. A page that answers another
``startIndex`` than asked (a server ignoring paging), lacks ``totalResults`` or ``Resources``,
or is empty while ``totalResults`` says more remain is malformed and fails the source. A user
seen twice (a page boundary moved) is listed once.

Errors (the SCIM error schema; ``status`` is a string): 401/403 -> ``AuthError``; 404 ->
``NotFoundError``, which on a revoke means already gone *only* when the body is a SCIM error (a
404 page from a proxy or a wrong base URL proves nothing and is ``MalformedResponseError``);
429 (providers add it; RFC 7644 has none) and 5xx -> ``TransientError`` honouring
``Retry-After``; 501 -> ``StopError`` (e.g. PATCH not supported: use ``revoke_mode="delete"``);
400 ``invalidFilter`` -> ``StopError`` (the configured filter); other 4xx -> ``RejectedError`` with
the server's ``detail`` and ``scimType``.

Revoke, by ``revoke_mode``:

- ``deactivate``: read the user first (404 -> already gone; ``active: false`` -> already gone,
  nothing sent), then PATCH; 204, or 200 with the resource showing ``active`` false -> done; a 200
  still showing ``active: true`` -> ``RejectedError``; a 404 to the PATCH -> already gone.
- ``delete``: DELETE; 204 (or 200) -> done; a SCIM 404 -> already gone (RFC 7644: a repeated
  DELETE answers 404, it is not a silent no-op).

Either way the whole user goes, so :meth:`ScimConnector.revocation_takes` declares scope
``account_on_system`` (every grant the account holds in this suite).

Reduce (an access review's "reduce", :class:`~connectors.protocols.Reducer`): ``PATCH /Users/{id}`` with
one ``replace`` operation on ``role_attribute``: ``roles``/``entitlements`` get ``[{"value": role}]`` (the
whole multi-valued attribute is replaced, RFC 7644 section 3.5.2.3), ``userType`` or an extension
attribute (``urn:…:attr``) the role itself. The lower roles offered are those named in the settings'
``role_levels`` (the suite's own spelling; the built-in words are only for reading); an attribute that
is read-only on the user (``groups``) offers none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal
from urllib.parse import quote

import httpx

from accessward.connectors.errors import (
    AuthError,
    ConnectorError,
    MalformedResponseError,
    NotFoundError,
    RejectedError,
    StopError,
    TransientError,
)
from accessward.connectors.http import HttpClient, JSONDict, expect_json_object, parse_retry_after
from accessward.connectors.records import (
    AccessRecord,
    AccountKind,
    AccountRecord,
    GrantRecord,
    GrantRef,
    Level,
    RequestPreview,
    ResourceRecord,
    RevocationScope,
    RevokeOutcome,
    RevokeResult,
    Takes,
)
from accessward.connectors.revoke_confirm import TokenConnector

WORKSPACE_KIND = "suite_workspace"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SCIM_JSON = "application/scim+json"
DEACTIVATE_BODY: JSONDict = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": False}]}

RevokeMode = Literal["deactivate", "delete"]
NO_ROLE = "(no role)"  # the grant's role when the user has no value in role_attribute

#: Role words suites use (Sprout-style profile permissions, admin words), by normalized value.
#: ``role_levels`` from the settings is merged over these.
DEFAULT_ROLE_LEVELS: dict[str, Level] = {
    "no access": Level.read_only,
    "read only": Level.read_only,
    "viewer": Level.read_only,
    "analyst": Level.read_only,
    "needs approval": Level.needs_approval,
    "contributor": Level.needs_approval,
    "can reply": Level.can_reply,
    "responder": Level.can_reply,
    "publisher": Level.full_publishing,
    "can publish": Level.full_publishing,
    "editor": Level.full_publishing,
    "admin": Level.admin,
    "administrator": Level.admin,
    "owner": Level.admin,
    "account owner": Level.admin,
    "super admin": Level.admin,
}

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_SEPARATORS = re.compile(r"[\s_-]+")


def normalize_role(value: str) -> str:
    """``"Needs_Approval"`` / ``"needs-approval"`` / ``" Needs  Approval "`` -> ``"needs approval"``."""
    return _SEPARATORS.sub(" ", value).strip().casefold()


def ladder_level(value: Level | str, system: str = "scim") -> Level:
    """A ``Level`` from a Level or its ladder name (settings give names)."""
    if isinstance(value, Level):
        return value
    try:
        return Level[value.strip()]
    except KeyError:
        raise StopError(f"{value!r} is not a ladder level ({', '.join(Level.__members__)})", system=system) from None


# -- classification ------------------------------------------------------------------------------


class ScimNotFoundError(NotFoundError):
    """A 404; ``confirmed`` when the body is a SCIM error, i.e. the SCIM server itself said so."""

    def __init__(self, message: str, *, confirmed: bool, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.confirmed = confirmed


def scim_error_body(response: httpx.Response) -> JSONDict | None:
    """The SCIM error object of an answer (``schemas`` has the Error URN, or it has ``status``)."""
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    schemas = body.get("schemas")
    if (isinstance(schemas, list) and ERROR_SCHEMA in schemas) or str(body.get("status", "")) == str(
            response.status_code):
        return body
    return None


def classify_scim_error(response: httpx.Response) -> ConnectorError | None:
    """Map a SCIM answer onto the error taxonomy (see the module docstring)."""
    status = response.status_code
    if status < 400:
        return None
    error = scim_error_body(response)
    detail = str(error.get("detail") or "") if error else response.text[:120]
    scim_type = error.get("scimType") if error else None
    kw: dict[str, Any] = {"detail": detail, "status": status, "code": scim_type if isinstance(scim_type, str) else None}
    what = f"{detail} ({scim_type})" if scim_type else detail
    if status == 501:
        return StopError(f"SCIM server does not implement this (HTTP 501): {what}; with PATCH unsupported, "
                         "set revoke_mode = \"delete\"", **kw)
    if status == 429 or status >= 500:
        return TransientError(f"SCIM server throttled or unavailable (HTTP {status}): {what}",
                              retry_after=parse_retry_after(response.headers.get("retry-after")), **kw)
    if status == 401:
        return AuthError(f"SCIM bearer token refused (HTTP 401: expired, revoked or invalid): {what}. The source "
                         "is stopped; this is a credentials failure, not an empty listing", **kw)
    if status == 403:
        return AuthError(f"SCIM server refused this token (HTTP 403): {what}", **kw)
    if status == 404:
        return ScimNotFoundError(f"SCIM: not found (HTTP 404): {what}", confirmed=error is not None, **kw)
    if error is None:
        return MalformedResponseError(f"HTTP {status} without a SCIM error body", **kw)
    if status == 400 and scim_type == "invalidFilter":
        return StopError(f"SCIM server refused the configured filter: {what}", **kw)
    return RejectedError(f"SCIM server refused (HTTP {status}): {what}", **kw)


# -- records -------------------------------------------------------------------------------------


def _get(obj: Mapping[str, Any], name: str) -> Any:
    """An attribute by name, case-insensitively (RFC 7643 section 2.1)."""
    if name in obj:
        return obj[name]
    folded = name.casefold()
    return next((v for k, v in obj.items() if isinstance(k, str) and k.casefold() == folded), None)


def role_values(user: JSONDict, attribute: str) -> list[str]:
    """The values of ``attribute`` in a user: ``roles``, ``groups.display``, ``userType``, ``urn:…:attr``.

    Multi-valued attributes give each entry's sub-attribute (``value`` unless the path names one,
    falling back to ``display``); a plain string gives itself.
    """
    container: Any = user
    path = attribute
    if attribute.casefold().startswith("urn:"):
        schema, _, path = attribute.rpartition(":")
        container = _get(user, schema)
        if not isinstance(container, dict):
            return []
    name, _, sub = path.replace("[]", "").partition(".")
    value = _get(container, name)
    entries = value if isinstance(value, list) else [] if value is None else [value]
    found: list[str] = []
    for entry in entries:
        if isinstance(entry, dict):
            picked = _get(entry, sub) if sub else (_get(entry, "value") or _get(entry, "display"))
        else:
            picked = entry
        if isinstance(picked, str | int) and not isinstance(picked, bool) and str(picked).strip():
            found.append(str(picked).strip())
    return found


def is_active(user: JSONDict, system: str) -> bool:
    """``active`` as a boolean; absent counts as active, ``"false"``/``"False"`` strings are accepted."""
    value = _get(user, "active")
    if value is None or isinstance(value, bool):
        return value is not False
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise MalformedResponseError(f"user {user.get('id')!r} has 'active' = {value!r}", system=system)


def primary_email(user: JSONDict) -> str | None:
    """The primary email, else a work one, else the first; else ``userName`` if it looks like one."""
    emails = [e for e in (_get(user, "emails") or []) if isinstance(e, dict) and isinstance(_get(e, "value"), str)]
    for pick in (lambda e: _get(e, "primary") is True, lambda e: _get(e, "type") == "work", lambda e: True):
        chosen = next((e for e in emails if pick(e)), None)
        if chosen is not None:
            return str(_get(chosen, "value")).strip() or None
    user_name = _get(user, "userName")
    return user_name.strip() if isinstance(user_name, str) and _EMAIL.fullmatch(user_name.strip()) else None


def display_name(user: JSONDict) -> str:
    """``displayName``, else ``name.formatted``, else given + family name, else ``userName``."""
    candidate = _get(user, "displayName")
    if isinstance(candidate, str) and candidate.strip():
        return candidate.strip()
    name = _get(user, "name")
    if isinstance(name, dict):
        formatted = _get(name, "formatted")
        if isinstance(formatted, str) and formatted.strip():
            return formatted.strip()
        parts = [p for p in (_get(name, "givenName"), _get(name, "familyName")) if isinstance(p, str) and p]
        if parts:
            return " ".join(parts)
    user_name = _get(user, "userName")
    return user_name if isinstance(user_name, str) else ""


def user_account(user: JSONDict, system: str) -> AccountRecord:
    uid = _get(user, "id")
    if not isinstance(uid, str) or not uid:
        raise MalformedResponseError("user without an 'id'", system=system, detail=f"keys: {sorted(user)}")
    user_name = _get(user, "userName")
    enterprise = _get(user, ENTERPRISE_USER)
    number = _get(enterprise, "employeeNumber") if isinstance(enterprise, dict) else None
    return AccountRecord(
        external_id=uid, kind=AccountKind.human, display_name=display_name(user),
        login=user_name if isinstance(user_name, str) and user_name else None, email=primary_email(user),
        employee_id=str(number) if isinstance(number, str | int) and not isinstance(number, bool) and number else None,
    )


# -- the connector -------------------------------------------------------------------------------


class ScimConnector(TokenConnector):
    """AccessSource and Revoker for the users of one SCIM 2.0 service (a suite workspace)."""

    def __init__(
        self,
        name: str,
        base_url: str,
        token: str,
        *,
        workspace_id: str,
        workspace_name: str = "",
        revoke_mode: RevokeMode = "deactivate",
        user_filter: str | None = None,
        role_attribute: str = "roles",
        role_levels: Mapping[str, Level | str] | None = None,
        default_level: Level | str = Level.full_publishing,
        page_size: int = 100,
        **http: Any,
    ) -> None:
        if revoke_mode not in ("deactivate", "delete"):
            raise StopError(f"revoke_mode must be 'deactivate' or 'delete', not {revoke_mode!r}", system=name)
        if not workspace_id:
            raise StopError("workspace_id is required (it names the suite workspace resource)", system=name)
        if not 1 <= page_size <= 1000:
            raise StopError("page_size must be 1-1000", system=name)
        self.name = name
        self.workspace_id = workspace_id
        self.workspace_name = workspace_name or workspace_id
        self.revoke_mode: RevokeMode = revoke_mode
        self.user_filter = user_filter or None
        self.role_attribute = role_attribute
        self.default_level = ladder_level(default_level, name)
        self.role_levels = {**DEFAULT_ROLE_LEVELS,
                            **{normalize_role(k): ladder_level(v, name) for k, v in (role_levels or {}).items()}}
        # The suite's own role names by level, as the settings spell them: what a reduce may set.
        self._role_names: dict[Level, str] = {}
        for key, value in (role_levels or {}).items():
            self._role_names.setdefault(ladder_level(value, name), key)
        self._token = token
        self._page_size = page_size
        self._client = HttpClient(name, base_url, auth=self._auth_headers, classify=classify_scim_error,
                                  headers={"Accept": f"{SCIM_JSON}, application/json"}, **http)

    def __repr__(self) -> str:
        return f"ScimConnector(name={self.name!r}, workspace_id={self.workspace_id!r})"

    def role_and_level(self, user: JSONDict) -> tuple[str, Level]:
        """The grant's role (the attribute's values, comma-joined) and ladder level (the highest)."""
        values = sorted(set(role_values(user, self.role_attribute)))
        if not values:
            return NO_ROLE, self.default_level
        level = max(self.role_levels.get(normalize_role(v), self.default_level) for v in values)
        return ",".join(values), level

    # -- AccessSource ---------------------------------------------------------------------------

    def list_access(self) -> Iterator[AccessRecord]:
        """The workspace, then each active user and its grant on the workspace."""
        try:
            yield ResourceRecord(external_id=self.workspace_id, kind=WORKSPACE_KIND, name=self.workspace_name)
            seen: set[str] = set()
            for user in self._users():
                if not is_active(user, self.name):
                    continue
                account = user_account(user, self.name)
                if account.external_id in seen:
                    continue
                seen.add(account.external_id)
                role, level = self.role_and_level(user)
                yield account
                yield GrantRecord(account_id=account.external_id, resource_id=self.workspace_id, role=role,
                                  level=level)
        except ConnectorError as exc:
            self._scrub(exc)
            raise

    def users(self) -> Iterator[JSONDict]:
        """Every user as the server returns it (active or not), page by page; for roster sources."""
        try:
            yield from self._users()
        except ConnectorError as exc:
            self._scrub(exc)
            raise

    def _users(self, max_pages: int = 100_000) -> Iterator[JSONDict]:
        start = 1
        for _ in range(max_pages):
            params: dict[str, Any] = {"startIndex": start, "count": self._page_size}
            if self.user_filter:
                params["filter"] = self.user_filter
            total, page = self._list_page(self._client.get_json("Users", params), start)
            yield from page
            start += len(page)
            if start > total:
                return
            if not page:
                raise MalformedResponseError(
                    f"totalResults is {total} but the page at startIndex {start} is empty", system=self.name)
        raise MalformedResponseError(f"more than {max_pages} pages", system=self.name)

    def _list_page(self, body: JSONDict, start: int) -> tuple[int, list[JSONDict]]:
        """``totalResults`` and ``Resources`` of a ListResponse, validated (see the module docstring)."""
        schemas = body.get("schemas")
        # RFC 7644 requires "schemas"; tolerated when absent, refused when it names something else.
        if schemas is not None and (not isinstance(schemas, list) or LIST_RESPONSE not in schemas):
            raise MalformedResponseError("answer is not a SCIM ListResponse", system=self.name,
                                         detail=f"schemas: {schemas!r}"[:200])
        total = body.get("totalResults")
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            raise MalformedResponseError("ListResponse without a valid 'totalResults'", system=self.name,
                                         detail=f"keys: {sorted(body)}")
        answered = body.get("startIndex")
        if answered is not None and answered != start:
            raise MalformedResponseError(f"asked for startIndex {start}, the server answered {answered!r} "
                                         "(it ignores paging)", system=self.name)
        resources = body.get("Resources")
        if resources is None and total < start:
            return total, []
        if not isinstance(resources, list) or not all(isinstance(r, dict) for r in resources):
            raise MalformedResponseError("ListResponse without a 'Resources' list although totalResults is "
                                         f"{total}", system=self.name, detail=f"keys: {sorted(body)}")
        return total, resources

    # -- Revoker --------------------------------------------------------------------------------

    def _user_path(self, grant: GrantRef) -> str:
        if grant.resource_kind not in ("", WORKSPACE_KIND):
            raise StopError(f"the SCIM revoker removes workspace users only, not {grant.resource_kind!r}",
                            system=self.name)
        if grant.resource_id != self.workspace_id:
            raise StopError(f"grant is on workspace {grant.resource_id!r}, this connector manages "
                            f"{self.workspace_id!r}", system=self.name)
        if grant.account_id in ("", ".", "..") or any(ord(c) < 32 for c in grant.account_id):
            raise RejectedError(f"{grant.account_id!r} is not a SCIM user id", system=self.name)
        return f"Users/{quote(grant.account_id, safe='')}"

    def preview_revoke(self, grant: GrantRef) -> RequestPreview:
        """The request ``revoke`` sends: a PATCH (its JSON body under ``body``) or a DELETE."""
        url = self._client.url(self._user_path(grant))
        if self.revoke_mode == "delete":
            return RequestPreview(method="DELETE", url=url)
        return RequestPreview(method="PATCH", url=url, headers={"Content-Type": "application/scim+json"},
                              body=json.dumps(DEACTIVATE_BODY, separators=(",", ":")))

    def revoke(self, grant: GrantRef) -> RevokeResult:
        path = self._user_path(grant)
        try:
            if self.revoke_mode == "delete":
                return self._delete(path)
            return self._deactivate(path)
        except ConnectorError as exc:
            self._scrub(exc)
            raise

    def _confirmed_gone(self, exc: ScimNotFoundError, what: str) -> RevokeResult:
        if not exc.confirmed:
            raise MalformedResponseError(f"{what} answered 404 without a SCIM error body (a wrong base URL or a "
                                         "proxy page?); not taken as proof that the user is gone",
                                         system=self.name, detail=exc.detail, status=exc.status) from exc
        return RevokeResult(RevokeOutcome.already_gone, f"user not found: {exc.detail}")

    def _delete(self, path: str) -> RevokeResult:
        try:
            self._client.request("DELETE", path)
        except ScimNotFoundError as exc:
            return self._confirmed_gone(exc, "DELETE")
        return RevokeResult(RevokeOutcome.done, "user deleted")

    def _deactivate(self, path: str) -> RevokeResult:
        try:
            current = self._client.get_json(path)
        except ScimNotFoundError as exc:
            return self._confirmed_gone(exc, "GET")
        if not is_active(current, self.name):
            return RevokeResult(RevokeOutcome.already_gone, "user already deactivated (checked before the PATCH)")
        try:
            response = self._client.request("PATCH", path, json_body=DEACTIVATE_BODY,
                                            headers={"Content-Type": SCIM_JSON})
        except ScimNotFoundError as exc:
            return self._confirmed_gone(exc, "PATCH")
        if response.status_code == 204 or not response.content:
            return RevokeResult(RevokeOutcome.done, "user deactivated")
        body = expect_json_object(response, self.name)
        if _get(body, "active") is not None and is_active(body, self.name):
            raise RejectedError("the PATCH was answered with the user still active", system=self.name,
                                detail=f"HTTP {response.status_code}", status=response.status_code)
        return RevokeResult(RevokeOutcome.done, "user deactivated")

    # -- WideRevoker ----------------------------------------------------------------------------

    def revocation_takes(self, grant: GrantRef) -> Takes:
        """Deactivating or deleting the SCIM user takes every access the account has in this suite."""
        self._user_path(grant)
        verb = "deleting" if self.revoke_mode == "delete" else "deactivating"
        return Takes(RevocationScope.account_on_system,
                     note=f"{verb} SCIM user {grant.account_id} ends every access it has in {self.workspace_name}")

    # -- Reducer --------------------------------------------------------------------------------

    def _role_patch_value(self, role: str) -> Any:
        """The ``value`` of a replace on ``role_attribute``; None when the attribute cannot be written."""
        attribute = self.role_attribute
        if attribute.casefold().startswith("urn:"):
            return role
        name, _, sub = attribute.replace("[]", "").partition(".")
        if name.casefold() in ("roles", "entitlements") and sub.casefold() in ("", "value"):
            return [{"value": role}]
        if name.casefold() == "usertype" and not sub:
            return role
        return None  # groups (read-only on a User: membership changes through /Groups), sub-attributes

    def _role_patch(self, role: str) -> JSONDict:
        value = self._role_patch_value(role)
        if value is None:
            raise RejectedError(f"the SCIM role attribute {self.role_attribute!r} cannot be replaced on a user",
                                system=self.name)
        path = self.role_attribute.replace("[]", "").partition(".")[0] \
            if not self.role_attribute.casefold().startswith("urn:") else self.role_attribute
        return {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": path, "value": value}]}

    def _level_of(self, role: str) -> Level:
        values = [v for v in role.split(",") if v and v != NO_ROLE]
        if not values:
            return self.default_level
        return max(self.role_levels.get(normalize_role(v), self.default_level) for v in values)

    def reduce_roles(self, grant: GrantRef) -> dict[Level, str]:
        """The configured role for each level below the grant's (see the module docstring)."""
        self._user_path(grant)
        if self._role_patch_value("x") is None:
            return {}
        current = self._level_of(grant.role)
        return {level: name for level, name in sorted(self._role_names.items()) if level < current}

    def preview_reduce(self, grant: GrantRef, role: str) -> list[RequestPreview]:
        return [RequestPreview(method="PATCH", url=self._client.url(self._user_path(grant)),
                               headers={"Content-Type": SCIM_JSON},
                               body=json.dumps(self._role_patch(role), separators=(",", ":")))]

    def reduce(self, grant: GrantRef, role: str) -> RevokeResult:
        """Replace the user's role with ``role``; read first (gone or already that role: nothing sent)."""
        path = self._user_path(grant)
        body = self._role_patch(role)
        try:
            try:
                current = self._client.get_json(path)
            except ScimNotFoundError as exc:
                return self._confirmed_gone(exc, "GET")
            if not is_active(current, self.name):
                return RevokeResult(RevokeOutcome.already_gone, "user deactivated: no role left to reduce")
            if role_values(current, self.role_attribute) == [role]:
                return RevokeResult(RevokeOutcome.already_gone, f"already {role} (checked before the PATCH)")
            try:
                response = self._client.request("PATCH", path, json_body=body, headers={"Content-Type": SCIM_JSON})
            except ScimNotFoundError as exc:
                return self._confirmed_gone(exc, "PATCH")
            if response.status_code == 204 or not response.content:
                after = self._client.get_json(path)
            else:
                after = expect_json_object(response, self.name)
            values = role_values(after, self.role_attribute)
            if values != [role]:
                raise RejectedError(f"the role PATCH was answered with roles {', '.join(values) or '(none)'}, "
                                    f"not {role}", system=self.name, detail=f"HTTP {response.status_code}",
                                    status=response.status_code)
            return RevokeResult(RevokeOutcome.done, f"role set to {role}")
        except ConnectorError as exc:
            self._scrub(exc)
            raise


# -- accessward check: in scim_check (re-exported here, where the CLI and the tests import it) ---
from accessward.connectors.scim_check import check as check  # noqa: E402
