"""Pinterest API v5 business access: who holds a role in one Pinterest business, and removal.

Reads ``GET /businesses/{business_id}/members`` (people, then system users with
``fetch_system_users=true``) and ``GET …/partners?partner_type=INTERNAL``, each with
``assets_summary=true`` and bookmark paging; removes a person with ``DELETE …/members`` and a
partner with ``DELETE …/partners`` (one partner_type per call); lowers a BIZ_ADMIN to EMPLOYEE with
``PATCH …/members`` (an access review's "reduce"). **No call deletes a system user**: v5 has PATCH only
on ``…/system_users/{id}`` in every version of the spec, so removing one is a manual step in Business
Hub; its preview is a ``MANUAL`` request with the instructions, which the plan holds back as it holds a
manual inventory's grants (reference/social-apis.md, section 4).

Wide revocations (:meth:`PinterestBusinessConnector.revocation_takes`): removing a member or a
partner ends the membership/partnership, and with it every asset permission it holds in the business
(scope ``account_on_system``).

The business is one resource, kind ``pinterest_business``; each member, system user and INTERNAL
partner holds one grant on it. EXTERNAL partners are businesses whose assets *we* reach, not access
to our brand, so they are not listed (and an INTERNAL listing item marked ``is_shared_partner``
is skipped for the same reason).

Levels (see ``grant_role_and_level``):

- ``BIZ_ADMIN`` -> ``admin`` whatever its assets.
- ``EMPLOYEE``, system users and ``PARTNER`` -> the highest level among the permissions they hold
  on the business's assets (``ASSET_PERMISSION_LEVELS``): PROFILE_PUBLISHER, CAMPAIGN_MANAGER and
  CATALOGS_MANAGER put content or ads out as the brand (``full_publishing``), an asset ADMIN is
  ``admin``, analysts and finance roles are ``read_only``. An unknown permission counts as
  ``full_publishing`` (a new permission is assumed to be able to act). A summary with no assets
  means ``read_only`` (a member who reaches nothing). **No** ``assets_summary`` in the answer (not
  returned although asked for) means the rights are unknown: ``full_publishing``, the worst a
  non-admin can do, so nothing is under-reported.

Errors map by HTTP status (the numeric ``code`` values are not documented): 401 -> ``AuthError``
(expired, revoked or invalid token), 403 -> ``AuthError`` (scope ``biz_access:write`` missing or
not an admin), 404 -> ``NotFoundError`` (on a listing: ``StopError``, wrong business id), 429 and
5xx -> ``TransientError`` waiting ``Retry-After`` or, failing that, ``X-RateLimit-Reset``
(unverified header), other 4xx -> ``RejectedError`` with Pinterest's message. A body that is not
the documented JSON is ``MalformedResponseError``.

Revocation reads first and after an ambiguous answer, so "already gone" is only ever reported
when a listing shows it (a repeated removal's answer is **unverified**: the member may be left
out of ``deleted_members``, echoed in it, or refused with 404; all three are handled):

- not listed before the DELETE -> ``already_gone``, nothing sent;
- in ``deleted_members`` / ``deleted_partners`` (or a 2xx for a system user) -> ``done``;
- left out of it, or 404 -> re-list: gone -> ``already_gone``; still there -> ``RejectedError``
  (e.g. the last admin, when Pinterest refuses silently).

The token travels only in the ``Authorization`` header and is scrubbed from any error.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

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
from accessward.connectors.http import HttpClient, JSONDict, parse_retry_after, require_list
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
from accessward.connectors.revoke_confirm import TokenConnector, settle

BUSINESS_KIND = "pinterest_business"
DEFAULT_BASE_URL = "https://api.pinterest.com/v5"
MAX_PAGE_SIZE = 250
PARTNER_TYPE = "INTERNAL"
MEMBER_ROLES = ("EMPLOYEE", "BIZ_ADMIN")

#: Asset permission -> ladder. Unknown permissions rank ``UNKNOWN_PERMISSION_LEVEL``.
ASSET_PERMISSION_LEVELS: dict[str, Level] = {
    "ADMIN": Level.admin,
    "PROFILE_PUBLISHER": Level.full_publishing,
    "CAMPAIGN_MANAGER": Level.full_publishing,
    "CATALOGS_MANAGER": Level.full_publishing,
    "AUDIENCE_MANAGER": Level.read_only,
    "ANALYST": Level.read_only,
    "FINANCE_MANAGER": Level.read_only,
    "FINANCE_EDIT": Level.read_only,
    "FINANCE_VIEW": Level.read_only,
    "CATALOGS_VIEWER": Level.read_only,
    "CONSUMER_USER": Level.read_only,
}
UNKNOWN_PERMISSION_LEVEL = Level.full_publishing
#: A non-admin whose answer carried no assets_summary: rights unknown, assume they can publish.
NO_SUMMARY_LEVEL = Level.full_publishing

_ID = re.compile(r"[0-9A-Za-z_-]+")

#: Where a system user is removed by hand (no API call deletes one).
SYSTEM_USER_STEP = ("in Pinterest Business Hub > Business settings > System users: select the system user, "
                    "remove it (or revoke its assets and tokens); the v5 API can only rename a system user")
MANUAL_METHOD = "MANUAL"  # as the manual inventory's previews: the plan holds such a grant back


# -- classification ------------------------------------------------------------------------------


def _pinterest_error(response: httpx.Response) -> JSONDict | None:
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body
    return None


def rate_limit_wait(response: httpx.Response, now: float | None = None) -> float | None:
    """Seconds to wait: ``Retry-After``, else ``X-RateLimit-Reset`` (unverified: seconds or an epoch)."""
    wait = parse_retry_after(response.headers.get("retry-after"))
    if wait is not None:
        return wait
    raw = response.headers.get("x-ratelimit-reset", "").strip()
    try:
        reset = float(raw)
    except ValueError:
        return None
    if reset > 1_000_000_000:  # an epoch timestamp, not a delay
        return max(0.0, reset - (time.time() if now is None else now))
    return max(0.0, reset)


def classify_pinterest_error(response: httpx.Response) -> ConnectorError | None:
    """Map a Pinterest answer onto the error taxonomy by HTTP status (see the module docstring)."""
    status = response.status_code
    if status < 400:
        return None
    error = _pinterest_error(response)
    message = str(error["message"]) if error else ""
    code = error.get("code") if error else None
    kw: dict[str, Any] = {"detail": message or response.text[:120], "status": status,
                          "code": code if isinstance(code, int | str) else None}
    if status == 429 or status >= 500:
        return TransientError(f"Pinterest throttled or unavailable (HTTP {status}): {message}",
                              retry_after=rate_limit_wait(response), **kw)
    if status == 401:
        return AuthError(f"Pinterest access token refused (HTTP 401): expired, revoked or invalid: {message}. "
                         "The source is stopped; this is a credentials failure, not an empty listing", **kw)
    if status == 403:
        return AuthError(f"Pinterest refused this token (HTTP 403; a biz_access scope or the admin role "
                         f"is missing): {message}", **kw)
    if error is None:
        return MalformedResponseError(f"HTTP {status} without a Pinterest error body", **kw)
    if status == 404:
        return NotFoundError(f"Pinterest: not found (HTTP 404): {message}", **kw)
    return RejectedError(f"Pinterest refused (HTTP {status}): {message}", **kw)


# -- records -------------------------------------------------------------------------------------


def _text(item: JSONDict, key: str, system: str, *, required: bool = False) -> str | None:
    value = item.get(key)
    if value is None or value == "":
        if required:
            raise MalformedResponseError(f"item without {key!r}", system=system, detail=f"keys: {sorted(item)}")
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise MalformedResponseError(f"{key!r} is not a string", system=system, detail=f"keys: {sorted(item)}")
    return str(value)


def _roles(item: JSONDict, system: str) -> list[str]:
    roles = item.get("business_roles")
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        raise MalformedResponseError("binding without a business_roles list", system=system,
                                     detail=f"id {item.get('id')!r}")
    return [r.upper() for r in roles]


def asset_permissions(item: JSONDict, system: str) -> list[str] | None:
    """Every permission the binding holds on any asset; None when the answer has no summary."""
    summary = item.get("assets_summary")
    if summary is None:
        return None
    if not isinstance(summary, dict):
        raise MalformedResponseError("'assets_summary' is not an object", system=system)
    found: list[str] = []
    for kind, assets in summary.items():
        if assets is None:
            continue
        if not isinstance(assets, list):
            raise MalformedResponseError(f"'assets_summary.{kind}' is not a list", system=system)
        for asset in assets:
            perms = asset.get("permissions") if isinstance(asset, dict) else None
            if perms is None:
                continue
            if not isinstance(perms, list) or not all(isinstance(p, str) for p in perms):
                raise MalformedResponseError(f"'assets_summary.{kind}[].permissions' is not a list", system=system)
            found.extend(p.upper() for p in perms)
    return found


def grant_role_and_level(roles: list[str], permissions: list[str] | None) -> tuple[str, Level]:
    """The grant's role (business roles, then asset permissions in brackets) and its ladder level."""
    perms = sorted(set(permissions or ()))
    role = ",".join(sorted(set(roles))) + (f"[{','.join(perms)}]" if perms else "")
    if "BIZ_ADMIN" in roles:
        return role, Level.admin
    if permissions is None:
        return role, NO_SUMMARY_LEVEL
    level = max((ASSET_PERMISSION_LEVELS.get(p, UNKNOWN_PERMISSION_LEVEL) for p in perms), default=Level.read_only)
    return role, level


def _held_roles(role: str) -> list[str]:
    """The business roles named in a grant's role string (``"BIZ_ADMIN[ADMIN]"`` -> ``["BIZ_ADMIN"]``)."""
    return [r for r in MEMBER_ROLES if r in role.split("[")[0].split(",")] or ["EMPLOYEE"]


def _binding_id(item: JSONDict) -> str | None:
    user = item.get("user")
    value = item.get("id") or (user.get("id") if isinstance(user, dict) else None)
    return str(value) if value is not None else None


def binding_records(item: JSONDict, business_id: str, kind: AccountKind,
                    system: str) -> tuple[AccountRecord, GrantRecord]:
    """The account and the grant on the business of one UserBusinessRoleBinding."""
    user = item.get("user")
    if user is not None and not isinstance(user, dict):
        raise MalformedResponseError("'user' is not an object", system=system)
    user = user or {}
    # The binding id and user.id are the same in every example (unverified): prefer the binding's.
    oid = _text(item, "id", system) or _text(user, "id", system, required=True) or ""
    if not _ID.fullmatch(oid):
        raise MalformedResponseError(f"{oid!r} is not a Pinterest id", system=system)
    username = _text(user, "username", system)
    account = AccountRecord(external_id=oid, kind=kind, display_name=username or "", login=username,
                            email=_text(user, "email", system))
    role, level = grant_role_and_level(_roles(item, system), asset_permissions(item, system))
    return account, GrantRecord(account_id=oid, resource_id=business_id, role=role, level=level)


# -- the connector -------------------------------------------------------------------------------


class PinterestBusinessConnector(TokenConnector):
    """AccessSource and Revoker for one Pinterest business (its members, system users, partners)."""

    def __init__(
        self, name: str, base_url: str, business_id: str, access_token: str, *, business_name: str = "",
        page_size: int = 100, include_system_users: bool = True, include_partners: bool = True, **http: Any,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise StopError(f"page_size must be 1-{MAX_PAGE_SIZE} for Pinterest", system=name)
        if not _ID.fullmatch(business_id):
            raise StopError(f"{business_id!r} is not a Pinterest business id (the numeric id, not a name)",
                            system=name)
        self.name = name
        self.business_id = business_id
        self.business_name = business_name
        self._token = access_token
        self._page_size = page_size
        self._system_users = include_system_users
        self._partners = include_partners
        self._client = HttpClient(name, base_url or DEFAULT_BASE_URL, auth=self._auth_headers,
                                  classify=classify_pinterest_error, **http)

    def __repr__(self) -> str:
        return f"PinterestBusinessConnector(name={self.name!r}, business_id={self.business_id!r})"

    def _path(self, edge: str) -> str:
        return f"businesses/{self.business_id}/{edge}"

    def _pages(self, edge: str, params: dict[str, str], max_pages: int = 100_000) -> Iterator[JSONDict]:
        """Every item of a listing, following ``bookmark`` until it is null, absent or empty."""
        bookmark: str | None = None
        seen: set[str] = set()
        for _ in range(max_pages):
            query = {**params, "page_size": str(self._page_size)}
            if bookmark:
                query["bookmark"] = bookmark
            try:
                body = self._client.get_json(self._path(edge), query)
            except NotFoundError as exc:
                raise StopError(f"Pinterest business {self.business_id} not found or not visible to this token",
                                system=self.name, detail=exc.detail, status=exc.status) from exc
            yield from require_list(body, "items", self.name)
            nxt = body.get("bookmark")
            if nxt is None or nxt == "":
                return
            if not isinstance(nxt, str):
                raise MalformedResponseError("'bookmark' is not a string", system=self.name)
            if nxt in seen:
                raise MalformedResponseError("paging loops: a bookmark came back twice", system=self.name)
            seen.add(nxt)
            bookmark = nxt
        raise MalformedResponseError(f"more than {max_pages} pages", system=self.name)

    def _members(self, *, system_users: bool, member_ids: str | None = None) -> Iterator[JSONDict]:
        params = {"assets_summary": "true", "fetch_system_users": "true" if system_users else "false"}
        if member_ids:
            params["member_ids"] = member_ids
        return self._pages("members", params)

    def _partner_items(self, partner_ids: str | None = None) -> Iterator[JSONDict]:
        params = {"assets_summary": "true", "partner_type": PARTNER_TYPE}
        if partner_ids:
            params["partner_ids"] = partner_ids
        for item in self._pages("partners", params):
            if item.get("is_shared_partner") is True:
                continue  # we reach *their* assets: not access to our brand
            yield item

    # -- AccessSource ---------------------------------------------------------------------------

    def list_access(self) -> Iterator[AccessRecord]:
        """The business, then each member, system user and INTERNAL partner with its grant."""
        try:
            yield from self._list_access()
        except ConnectorError as exc:
            self._scrub(exc)
            raise

    def _list_access(self) -> Iterator[AccessRecord]:
        yield ResourceRecord(external_id=self.business_id, kind=BUSINESS_KIND,
                             name=self.business_name or f"Pinterest business {self.business_id}")
        seen: set[str] = set()
        listings: list[tuple[AccountKind, Iterator[JSONDict]]] = [
            (AccountKind.human, self._members(system_users=False)),
        ]
        if self._system_users:
            listings.append((AccountKind.system, self._members(system_users=True)))
        if self._partners:
            listings.append((AccountKind.agency, self._partner_items()))
        for kind, items in listings:
            for item in items:
                account, grant = binding_records(item, self.business_id, kind, self.name)
                if account.external_id in seen:
                    continue  # a page boundary moved under us: one account, one grant
                seen.add(account.external_id)
                yield account
                yield grant

    # -- Revoker --------------------------------------------------------------------------------

    def _check(self, grant: GrantRef) -> None:
        if grant.resource_kind not in ("", BUSINESS_KIND):
            raise StopError(f"the Pinterest revoker removes business access only, not {grant.resource_kind!r}",
                            system=self.name)
        if grant.resource_id != self.business_id:
            raise StopError(f"grant is on business {grant.resource_id!r}, this connector manages "
                            f"{self.business_id!r}", system=self.name)
        if not _ID.fullmatch(grant.account_id):
            raise RejectedError(f"{grant.account_id!r} is not a Pinterest id", system=self.name)

    def _request(self, grant: GrantRef, roles: list[str]) -> tuple[str, dict[str, Any]]:
        """The path and JSON body of the removal of ``grant`` (a member or a partner)."""
        if grant.account_kind is AccountKind.agency:
            return self._path("partners"), {"partner_ids": [grant.account_id], "partner_type": PARTNER_TYPE}
        return self._path("members"), {"members": [{"member_id": grant.account_id, "business_role": role}
                                                    for role in roles]}

    def _manual_step(self, grant: GrantRef) -> str:
        return (f"remove system user {grant.account_id} from Pinterest business {self.business_id} by hand: "
                f"{SYSTEM_USER_STEP}")

    def preview_revoke(self, grant: GrantRef) -> RequestPreview:
        """The request ``revoke`` sends; the JSON body is shown under ``body`` (the token never is).

        A system user has no removal call: the preview is the manual step (method ``MANUAL``).
        """
        self._check(grant)
        if grant.account_kind is AccountKind.system:
            return RequestPreview(method=MANUAL_METHOD,
                                  url=f"manual://pinterest/{self.business_id}/system_users/{grant.account_id}",
                                  body=self._manual_step(grant))
        path, body = self._request(grant, _held_roles(grant.role))
        return RequestPreview(method="DELETE", url=self._client.url(path), body=json.dumps(body, separators=(",", ":")))

    # -- WideRevoker ----------------------------------------------------------------------------

    def revocation_takes(self, grant: GrantRef) -> Takes:
        """What removing ``grant`` takes away: the whole membership or partnership in this business."""
        self._check(grant)
        if grant.account_kind is AccountKind.system:
            return Takes(RevocationScope.grant, note="a manual step: nothing is removed through the API")
        if grant.account_kind is AccountKind.agency:
            return Takes(RevocationScope.account_on_system,
                         note=f"removing partner {grant.account_id} ends the partnership: every asset of business "
                              f"{self.business_id} it holds (ad accounts, profiles) goes with it")
        return Takes(RevocationScope.account_on_system,
                     note=f"removing member {grant.account_id} ends the business membership: every asset "
                          f"permission it holds in business {self.business_id} goes with it")

    # -- Reducer --------------------------------------------------------------------------------

    def reduce_roles(self, grant: GrantRef) -> dict[Level, str]:
        """A BIZ_ADMIN can be lowered to EMPLOYEE (keeping asset permissions); nothing else has a call.

        The level after the change is what the member's asset permissions give (the brackets of the
        grant's role): an EMPLOYEE with asset ADMIN is still an admin, so no lower level is offered then.
        """
        self._check(grant)
        if grant.account_kind is not AccountKind.human or "BIZ_ADMIN" not in _held_roles(grant.role):
            return {}
        # No brackets: no permission was listed, or no summary came back; assume the worse (unknown).
        perms = grant.role.partition("[")[2].rstrip("]")
        _, level = grant_role_and_level(["EMPLOYEE"], [p for p in perms.split(",") if p] if perms else None)
        return {level: "EMPLOYEE"} if level < Level.admin else {}

    def _reduce_body(self, grant: GrantRef, role: str) -> list[dict[str, str]]:
        if role not in MEMBER_ROLES:
            raise RejectedError(f"{role!r} is not a Pinterest business role ({', '.join(MEMBER_ROLES)})",
                                system=self.name)
        return [{"member_id": grant.account_id, "business_role": role}]

    def preview_reduce(self, grant: GrantRef, role: str) -> list[RequestPreview]:
        self._check(grant)
        body = self._reduce_body(grant, role)
        return [RequestPreview(method="PATCH", url=self._client.url(self._path("members")),
                               body=json.dumps(body, separators=(",", ":")))]

    def reduce(self, grant: GrantRef, role: str) -> RevokeResult:
        """Set the member's business role to ``role``; read first, and again after an ambiguous answer."""
        self._check(grant)
        body = self._reduce_body(grant, role)
        if grant.account_kind is not AccountKind.human:
            raise RejectedError("only a member's business role can be changed through the API", system=self.name)
        try:
            current = self._find(grant)
            if current is None:
                return RevokeResult(RevokeOutcome.already_gone, "not in the business (checked before the change)")
            if _roles(current, self.name) == [role]:
                return RevokeResult(RevokeOutcome.already_gone, f"already {role} (checked before the change)")
            answer = self._client.send_json("PATCH", self._path("members"), json_body=body)
            items = answer.get("items") if isinstance(answer, dict) else None
            if not isinstance(items, list):
                raise MalformedResponseError("the role change answered without 'items'", system=self.name,
                                             detail=f"keys: {sorted(answer or {})}")
            if any(isinstance(i, dict) and str(i.get("member_id")) == grant.account_id
                   and i.get("business_role") == role for i in items):
                return RevokeResult(RevokeOutcome.done, f"business role set to {role}")
            after = self._find(grant)
            if after is None:
                return RevokeResult(RevokeOutcome.already_gone, "no longer in the business")
            if _roles(after, self.name) == [role]:
                return RevokeResult(RevokeOutcome.done, f"business role set to {role} (confirmed by a re-read)")
            raise RejectedError(f"Pinterest did not change {grant.account_id} to {role}; it still holds "
                                f"{','.join(_roles(after, self.name))}", system=self.name)
        except ConnectorError as exc:
            self._scrub(exc)
            raise

    def revoke(self, grant: GrantRef) -> RevokeResult:
        self._check(grant)
        try:
            return self._revoke(grant)
        except ConnectorError as exc:
            self._scrub(exc)
            raise

    def _find(self, grant: GrantRef) -> JSONDict | None:
        """The binding of the grant's account as a listing shows it now, or None."""
        if grant.account_kind is AccountKind.agency:
            items = self._partner_items(grant.account_id)
        else:
            items = self._members(system_users=grant.account_kind is AccountKind.system, member_ids=grant.account_id)
        return next((i for i in items if _binding_id(i) == grant.account_id), None)

    def _revoke(self, grant: GrantRef) -> RevokeResult:
        current = self._find(grant)
        if current is None:
            return RevokeResult(RevokeOutcome.already_gone, "not in the business (checked before removal)")
        if grant.account_kind is AccountKind.system:
            raise RejectedError(f"no API call removes a Pinterest system user; {self._manual_step(grant)}",
                                system=self.name)
        roles = [r for r in _roles(current, self.name) if r in MEMBER_ROLES]
        if grant.account_kind not in (AccountKind.agency, AccountKind.system) and not roles:
            raise RejectedError(f"member {grant.account_id} holds no removable business role "
                                f"({','.join(_roles(current, self.name))})", system=self.name)
        path, body = self._request(grant, roles)
        try:
            answer = self._client.send_json("DELETE", path, json_body=body)
        except NotFoundError as exc:
            return self._settle(grant, f"Pinterest answered 404: {exc.detail}", exc)
        key = "deleted_partners" if grant.account_kind is AccountKind.agency else "deleted_members"
        if answer is None or not isinstance(answer.get(key), list):
            raise MalformedResponseError(f"removal answered without {key!r}", system=self.name,
                                         detail=f"keys: {sorted(answer or {})}")
        if grant.account_id in [str(i) for i in answer[key]]:
            return RevokeResult(RevokeOutcome.done, f"removed from the business ({key})")
        return self._settle(grant, f"Pinterest left it out of {key}", None)

    def _settle(self, grant: GrantRef, what: str, cause: ConnectorError | None) -> RevokeResult:
        """An ambiguous answer: gone if a listing no longer shows the account, else a refusal."""
        current = self._find(grant)
        held = ",".join(_roles(current, self.name)) if current is not None else ""
        return settle(current is not None, gone=f"no longer in the business: {what}",
                      refused=f"Pinterest did not remove {grant.account_id} from business {self.business_id} "
                              f"({what}); it is still listed with {held}",
                      system=self.name, cause=cause, detail=what, keep_code=False)


# -- accessward check -----------------------------------------------------------------------------
# (imported here, at the end, so this section merges apart from the connector above)
from accessward.connectors.preflight import CheckItem, first_record, probe  # noqa: E402


def check(connector: PinterestBusinessConnector) -> list[CheckItem]:
    """Read-only preflight: the members list answers (``biz_access:read``). Pinterest documents no read that
    lists a token's scopes, so ``biz_access:write`` is ``unknown`` until a removal is attempted."""
    return [
        probe("members readable (biz_access:read)",
              lambda: first_record(lambda: connector._members(system_users=False)),
              fix=f"authorize the app with biz_access:read as an admin of business {connector.business_id}"),
        CheckItem("scope biz_access:write", "unknown",
                  "the API has no call that lists an access token's scopes (the scope is told at token issue)",
                  "authorize with biz_access:read,biz_access:write; a missing scope shows as a 403 on removal",
                  "revoke"),
    ]
