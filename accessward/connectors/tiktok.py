"""TikTok API for Business, Business Center: who is a member or partner of the brand's BC, who holds the
brand's TikTok account, and removal or reduction of that access.

Reads (reference/social-apis.md, section 3; the official SDK's ``BCApi``; bububa ``model/bc/*.go``):

- ``GET /bc/get/`` (the BC and its name);
- ``GET /bc/member/get/`` (members and pending invitations, 20 a page), and with ``child_bc_id`` the
  members of each configured child Business Center (members of their own: access to the child's
  assets that the parent's member list never shows);
- ``GET /bc/partner/get/`` (partner BCs: agencies);
- ``GET /bc/asset/admin/get/`` with ``asset_type=TT_ACCOUNT`` (every TikTok account the BC holds: the
  brand's posting identity), then per account ``GET /bc/asset/member/get/`` and
  ``GET /bc/asset/partner/get/`` (who holds it). Holding the TikTok account is the access that matters
  most for posting, and the member list does not show it.

Writes: ``POST /bc/member/delete/`` ``{"bc_id", "user_id"}`` removes a member, ``{"bc_id",
"user_email"}`` cancels an invitation (``child_bc_id`` added for a child BC's member);
``POST /bc/partner/delete/`` ``{"bc_id", "partner_id"}`` removes a partner; ``POST
/bc/asset/unassign/`` ``{"bc_id", "user_id", "asset_type", "asset_id"}`` takes the TikTok account
from one member; ``POST /bc/member/update/`` ``{"bc_id", "user_id", "user_role": "STANDARD"}``
lowers an ADMIN in place (an access review's reduce). Removing a partner's share of one asset is not
sent (``/bc/partner/asset/delete/``'s body is unverified here): that revoke is refused with the manual
step to take.

TikTok answers HTTP 200 with ``{"code", "message", "request_id", "data"}`` even for errors, so
``classify_tiktok`` reads ``code`` on every answer, **by meaning, never by numeric range**:

- **40100** (QPS/QPM/QPD limit), **40132** (REQUEST_FREQUENCY_LIMITED, although it sits among the
  401xx auth codes), **61000** (too many requests), **60001** (service under maintenance), 50000 /
  50002 (internal errors), HTTP 429 and 5xx -> ``TransientError``, retried with the client's backoff.
- **40101, 40102, 40103, 40104, 40105, 40106, 40107, 40110** (app credentials, auth code, empty,
  invalid, expired or revoked access or refresh token) -> ``AuthError``; the source stops and the
  listing is never taken as "no access left".
- **40001** (no permission: not an admin of this BC, or not in it) and **40003** FORBIDDEN (no
  permission on that object) -> ``AuthError``: an authorisation problem, not one refused request.
- any other non-zero code -> ``TikTokRejectedError`` (a ``RejectedError`` keeping the code).
- an answer without an integer ``code``, without ``data``/``list``/``page_info``, or not JSON
  -> ``MalformedResponseError``; HTTP 404 (no such path: a wrong base URL) -> ``StopError``.

Records (ids are TikTok's own, prefixed where TikTok has none for the account):

- The BC (and each child BC) is a ``ResourceRecord`` of kind ``tiktok_business_center``; each TikTok
  account asset one of kind ``tiktok_account`` keyed ``tt_account:<asset_id>``.
- A BOUND member is an ``AccountRecord`` keyed by ``user_id`` with ``user_email`` as login and
  email, and one grant per BC whose role is ``user_role`` plus the asset and finance roles, e.g.
  ``STANDARD,advertiser:OPERATOR,catalog:AD_PROMOTE``.
- A PENDING invitation is access waiting to be taken: an account ``invite:<email>`` with a grant
  whose role ends ``relation:PENDING`` at the level it would give (an ADMIN invitation ranks
  full_publishing, not admin: an invitee cannot stand in for the last admin). REJECTED and
  **UNBOUND** (bound once, then cancelled) rows give nothing and are skipped; an unknown relation
  status fails the listing (a human must decide what it means).
- A partner BC is an agency account ``partner:<bc_id>`` with one grant, role ``PARTNER``.
- Holding the TikTok account is a grant on the ``tt_account:`` resource, role ``TT_ACCOUNT`` plus
  its ``tt_account_roles`` (``TT_ACCOUNT:POST+LIVE``), level full_publishing whatever the roles: it
  speaks as the brand, and an unknown role must never rank low.

Levels: ``user_role`` ADMIN -> admin. STANDARD -> from ``advertiser_role``: ADMIN or OPERATOR ->
full_publishing, ANALYST -> read_only; no advertiser role -> read_only. A partner -> full_publishing.

Wide revocations (``revocation_takes``, invariant 5): removing a member from the BC removes every
role and asset assignment they hold in it (the TikTok account too), so it declares
``account_on_system``; removing a partner ends every asset shared with it, likewise. Cancelling an
invitation, unassigning the TikTok account and a child BC's member removal take the named grant only.

Removal reads the members (or partners, or the asset's holders) first: absent -> ``already_gone``
with nothing sent. A non-zero code on the removal is ambiguous (TikTok's answer for someone
already gone is unverified), so the list is read again: gone -> ``already_gone``; still there ->
TikTok's refusal (``RejectedError`` with its message, e.g. the last admin; ``AuthError`` for
40001/40003). The token travels only in ``Access-Token``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from accessward.connectors.errors import (
    AuthError,
    ConnectorError,
    MalformedResponseError,
    RejectedError,
    StopError,
    TransientError,
)
from accessward.connectors.http import HttpClient, JSONDict, expect_json_object, parse_retry_after, require_list
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

BC_KIND = "tiktok_business_center"
TT_ACCOUNT_KIND = "tiktok_account"
TT_ACCOUNT = "TT_ACCOUNT"
TT_PREFIX = "tt_account:"
TT_LEVEL = Level.full_publishing
DEFAULT_BASE_URL = "https://business-api.tiktok.com/open_api/v1.3"
PARTNER_PREFIX = "partner:"
INVITE_PREFIX = "invite:"
PARTNER_ROLE = "PARTNER"
PARTNER_LEVEL = Level.full_publishing
#: An invitation is never ranked admin: nobody who has not accepted may count as a BC's remaining admin.
PENDING_MAX_LEVEL = Level.full_publishing
MEMBER_PAGE_SIZE = 20  # /bc/member/get/ allows at most 20
PAGE_SIZE = 50  # /bc/get/ and /bc/partner/get/ allow 1-50

THROTTLED = 40100
NO_PERMISSION = 40001
FORBIDDEN = 40003
#: Codes by meaning (the SDK's tiktok_code.py), never by numeric range: 40132 sits among the auth codes.
THROTTLE_CODES = frozenset({40100, 40132, 61000})
TRANSIENT_CODES = frozenset({50000, 50002, 60001})  # internal errors, service under maintenance
AUTH_CODES = frozenset({40101, 40102, 40103, 40104, 40105, 40106, 40107, 40110})
PERMISSION_CODES = frozenset({NO_PERMISSION, FORBIDDEN})
SKIPPED_RELATIONS = frozenset({"REJECTED", "UNBOUND"})

ADVERTISER_LEVELS: dict[str, Level] = {
    "ADMIN": Level.full_publishing,
    "OPERATOR": Level.full_publishing,
    "ANALYST": Level.read_only,
}

_DIGITS = re.compile(r"\d+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


class TikTokRejectedError(RejectedError):
    """A non-zero ``code`` TikTok gave for a request it understood and refused."""


# -- classification ------------------------------------------------------------------------------


def classify_tiktok(response: httpx.Response) -> ConnectorError | None:
    """Map a TikTok answer onto the error taxonomy by HTTP status, then by ``code`` (module docstring)."""
    status = response.status_code
    if status != 200:
        if status == 429 or status >= 500:
            return TransientError(f"TikTok HTTP {status}", status=status,
                                  retry_after=parse_retry_after(response.headers.get("Retry-After")))
        if status == 404:
            return StopError(f"TikTok HTTP 404 for {response.request.url.path}: no such API path; check the "
                             "base URL (…/open_api/v1.3)", status=status)
        if status in (401, 403):
            return AuthError(f"TikTok HTTP {status}: credentials refused", status=status)
        if status < 300:
            return MalformedResponseError(f"TikTok answered HTTP {status}; its API answers 200", status=status)
        return MalformedResponseError(f"TikTok HTTP {status}", status=status)
    if "json" not in response.headers.get("content-type", ""):
        return None  # expect_json_object reports the page as malformed
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    code = body.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        return MalformedResponseError("answer without an integer 'code': not TikTok's envelope", status=status,
                                      detail=f"keys: {', '.join(sorted(map(str, body)))[:200]}")
    if code == 0:
        return None
    message = str(body.get("message", ""))
    request_id = body.get("request_id")
    detail = f"{message} (request_id {request_id})" if request_id else message
    kw: dict[str, Any] = {"detail": detail, "status": status, "code": code}
    if code in THROTTLE_CODES:
        return TransientError(f"TikTok throttled (code {code}): {message}", **kw)
    if code in TRANSIENT_CODES:
        return TransientError(f"TikTok unavailable or under maintenance (code {code}): {message}", **kw)
    if code in AUTH_CODES:
        return AuthError(f"TikTok access token or app credentials refused (code {code}): {message}. The source "
                         "is stopped; this is a credentials failure, not an empty listing", **kw)
    if code in PERMISSION_CODES:
        return AuthError(f"TikTok permission missing for this token (code {code}): {message}. The token's user "
                         "must be an ADMIN of the Business Center", **kw)
    return TikTokRejectedError(f"TikTok refused (code {code}): {message}", **kw)


# -- records -------------------------------------------------------------------------------------


def _text(item: JSONDict, key: str, system: str, *, required: bool = False) -> str | None:
    value = item.get(key)
    if value is None or value == "":
        if required:
            raise MalformedResponseError(f"row without {key!r}", system=system,
                                         detail=f"keys: {', '.join(sorted(map(str, item)))}")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedResponseError(f"{key!r} is not a string", system=system)
    return str(value)


def member_role_and_level(row: JSONDict, system: str) -> tuple[str, Level]:
    """The grant's role string and ladder level for one member row (see the module docstring)."""
    user_role = _text(row, "user_role", system, required=True) or ""
    advertiser = _text(row, "advertiser_role", system)
    catalog = _text(row, "catalog_role", system)
    ext = row.get("ext_user_role")
    finance = _text(ext, "finance_role", system) if isinstance(ext, dict) else None
    parts = [user_role]
    parts += [f"{name}:{value}" for name, value in
              (("advertiser", advertiser), ("catalog", catalog), ("finance", finance)) if value]
    if row.get("relation_status") == "PENDING":
        parts.append("relation:PENDING")
    if user_role.upper() == "ADMIN":
        level = Level.admin
    else:
        level = ADVERTISER_LEVELS.get((advertiser or "").upper(), Level.read_only)
    if row.get("relation_status") == "PENDING":
        level = min(level, PENDING_MAX_LEVEL)
    return ",".join(parts), level


def member_records(row: JSONDict, bc_id: str, system: str) -> tuple[AccountRecord, GrantRecord] | None:
    """The account and grant of one member row; None for a declined invitation."""
    status = _text(row, "relation_status", system, required=True)
    email = _text(row, "user_email", system)
    name = _text(row, "user_name", system) or ""
    if status in SKIPPED_RELATIONS:
        return None
    if status == "BOUND":
        account_id = _text(row, "user_id", system, required=True) or ""
    elif status == "PENDING":
        if not email:
            raise MalformedResponseError("pending invitation without 'user_email'", system=system)
        account_id = INVITE_PREFIX + email
        name = name or email
    else:
        raise MalformedResponseError(f"unknown relation_status {status!r}", system=system)
    role, level = member_role_and_level(row, system)
    account = AccountRecord(external_id=account_id, kind=AccountKind.human, display_name=name, login=email,
                            email=email)
    return account, GrantRecord(account_id=account_id, resource_id=bc_id, role=role, level=level)


def partner_records(row: JSONDict, bc_id: str, system: str) -> tuple[AccountRecord, GrantRecord]:
    partner_id = PARTNER_PREFIX + (_text(row, "bc_id", system, required=True) or "")
    account = AccountRecord(external_id=partner_id, kind=AccountKind.agency,
                            display_name=_text(row, "bc_name", system) or "")
    return account, GrantRecord(account_id=partner_id, resource_id=bc_id, role=PARTNER_ROLE, level=PARTNER_LEVEL)


# -- the connector -------------------------------------------------------------------------------


def tt_account_records(row: JSONDict, system: str) -> ResourceRecord:
    asset_id = _text(row, "asset_id", system, required=True) or ""
    return ResourceRecord(external_id=TT_PREFIX + asset_id, kind=TT_ACCOUNT_KIND,
                          name=_text(row, "asset_name", system) or "")


def tt_account_role(row: JSONDict, system: str) -> str:
    """``TT_ACCOUNT`` plus the asset roles when the row names them (``TT_ACCOUNT:POST+LIVE``)."""
    roles = row.get("tt_account_roles")
    if roles is None:
        return TT_ACCOUNT
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise MalformedResponseError("'tt_account_roles' is not a list of strings", system=system)
    return TT_ACCOUNT + (":" + "+".join(sorted(roles)) if roles else "")


def standard_level(role: str) -> Level:
    """The level a member keeps as STANDARD: from the advertiser role in the grant's role string."""
    advertiser = next((part.split(":", 1)[1] for part in role.split(",") if part.startswith("advertiser:")), "")
    return ADVERTISER_LEVELS.get(advertiser.upper(), Level.read_only)


class TikTokBusinessCenterConnector(TokenConnector):
    """AccessSource, Revoker, WideRevoker and Reducer for one TikTok Business Center.

    ``child_bc_ids`` names child Business Centers whose own members are read with ``child_bc_id``.
    """

    def __init__(self, name: str, base_url: str, bc_id: str, access_token: str, *, max_pages: int = 10_000,
                 child_bc_ids: Sequence[str] = (), tiktok_accounts: bool = True, **http: Any) -> None:
        if not _DIGITS.fullmatch(str(bc_id)):
            raise StopError(f"{bc_id!r} is not a TikTok Business Center id")
        for child in child_bc_ids:
            if not _DIGITS.fullmatch(str(child)):
                raise StopError(f"{child!r} is not a TikTok Business Center id (child_bc_ids)")
        self.name = name
        self.bc_id = str(bc_id)
        self.child_bc_ids = tuple(str(c) for c in child_bc_ids)
        self.tiktok_accounts = tiktok_accounts
        self._token = access_token
        self._max_pages = max_pages
        self._client = HttpClient(name, base_url, auth=self._auth_headers, classify=classify_tiktok, **http)

    def __repr__(self) -> str:
        return f"TikTokBusinessCenterConnector(name={self.name!r}, bc_id={self.bc_id!r})"

    def _auth_headers(self) -> dict[str, str]:
        return {"Access-Token": self._token}

    # -- reading --------------------------------------------------------------------------------

    def _data(self, body: JSONDict) -> JSONDict:
        data = body.get("data")
        if not isinstance(data, dict):
            raise MalformedResponseError("answer with code 0 but no 'data' object", system=self.name,
                                         detail=f"keys: {', '.join(sorted(map(str, body)))[:200]}")
        return data

    def _pages(self, path: str, page_size: int, **extra: str) -> Iterator[JSONDict]:
        """Every row of a paged BC endpoint, ``page`` 1.. until ``page_info.total_page``, streaming."""
        page = 1
        for _ in range(self._max_pages):
            params: dict[str, Any] = {"bc_id": self.bc_id, **extra, "page": page, "page_size": page_size}
            data = self._data(self._client.get_json(path, params))
            rows = require_list(data, "list", self.name)
            info = data.get("page_info")
            total_page = info.get("total_page") if isinstance(info, dict) else None
            if not isinstance(total_page, int) or isinstance(total_page, bool) or total_page < 0:
                raise MalformedResponseError(f"{path} answered without 'page_info.total_page'", system=self.name)
            yield from rows
            if not rows or page >= total_page:
                return
            page += 1
        raise MalformedResponseError(f"more than {self._max_pages} pages of {path}", system=self.name)

    def _members(self, bc_id: str) -> Iterator[JSONDict]:
        extra = {"child_bc_id": bc_id} if bc_id != self.bc_id else {}
        return self._pages("bc/member/get/", MEMBER_PAGE_SIZE, **extra)

    def _business_center_names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        for row in self._pages("bc/get/", PAGE_SIZE):
            info = row.get("bc_info")
            if isinstance(info, dict) and info.get("bc_id") is not None:
                names[str(info["bc_id"])] = _text(info, "name", self.name) or ""
        if self.bc_id not in names:
            raise StopError(f"TikTok Business Center {self.bc_id} is not visible to this token (wrong id, or the "
                            "token's user is not a member)", system=self.name)
        return names

    # -- AccessSource ---------------------------------------------------------------------------

    def list_access(self) -> Iterator[AccessRecord]:
        """The BC, its members, invitations and partners, each child BC's members, then who holds the
        brand's TikTok account: every account and resource before its grants."""
        try:
            yield from self._list_access()
        except ConnectorError as exc:
            self._scrub(exc)
            raise

    def _list_access(self) -> Iterator[AccessRecord]:
        names = self._business_center_names()
        accounts: set[str] = set()
        grants: set[tuple[str, str]] = set()

        def emit(account: AccountRecord, grant: GrantRecord) -> Iterator[AccessRecord]:
            key = (account.external_id, grant.resource_id)
            if key in grants:  # offset paging shifted under a concurrent change: seen already
                return
            grants.add(key)
            if account.external_id not in accounts:
                accounts.add(account.external_id)
                yield account
            yield grant

        for bc_id in (self.bc_id, *self.child_bc_ids):
            yield ResourceRecord(external_id=bc_id, kind=BC_KIND, name=names.get(bc_id, ""))
            for row in self._members(bc_id):
                records = member_records(row, bc_id, self.name)
                if records is not None:
                    yield from emit(*records)
            if bc_id == self.bc_id:
                for row in self._pages("bc/partner/get/", PAGE_SIZE):
                    yield from emit(*partner_records(row, self.bc_id, self.name))
        if self.tiktok_accounts:
            yield from self._tiktok_account_holders(emit)

    def _tiktok_account_holders(self, emit: Callable[[AccountRecord, GrantRecord], Iterator[AccessRecord]]
                                ) -> Iterator[AccessRecord]:
        for row in self._pages("bc/asset/admin/get/", PAGE_SIZE, asset_type=TT_ACCOUNT):
            resource = tt_account_records(row, self.name)
            yield resource
            asset_id = resource.external_id[len(TT_PREFIX):]
            for member in self._pages("bc/asset/member/get/", PAGE_SIZE, asset_type=TT_ACCOUNT, asset_id=asset_id):
                user_id = _text(member, "user_id", self.name, required=True) or ""
                email = _text(member, "user_email", self.name)
                account = AccountRecord(external_id=user_id, kind=AccountKind.human, login=email, email=email,
                                        display_name=_text(member, "user_name", self.name) or "")
                grant = GrantRecord(account_id=user_id, resource_id=resource.external_id,
                                    role=tt_account_role(member, self.name), level=TT_LEVEL)
                yield from emit(account, grant)
            for partner in self._pages("bc/asset/partner/get/", PAGE_SIZE, asset_type=TT_ACCOUNT,
                                       asset_id=asset_id):
                account, _ = partner_records(partner, self.bc_id, self.name)
                grant = GrantRecord(account_id=account.external_id, resource_id=resource.external_id,
                                    role=PARTNER_ROLE + ":" + tt_account_role(partner, self.name), level=TT_LEVEL)
                yield from emit(account, grant)

    # -- Revoker --------------------------------------------------------------------------------

    def _bc_of(self, grant: GrantRef) -> str | None:
        """The BC a grant is on (this one or a configured child), None for a TikTok account grant."""
        if grant.resource_id.startswith(TT_PREFIX) and grant.resource_kind in ("", TT_ACCOUNT_KIND):
            return None
        if grant.resource_kind not in ("", BC_KIND):
            raise StopError(f"the TikTok revoker removes Business Center and TikTok account access only, not "
                            f"{grant.resource_kind!r}", system=self.name)
        if grant.resource_id != self.bc_id and grant.resource_id not in self.child_bc_ids:
            raise StopError(f"this TikTok revoker acts on Business Center {self.bc_id} (and its configured child "
                            f"BCs), not {grant.resource_id!r}", system=self.name)
        return grant.resource_id

    def _target(self, grant: GrantRef) -> tuple[str, dict[str, str]]:
        """(path, JSON body) of the removal of ``grant``, or why this connector cannot send one."""
        bc_id = self._bc_of(grant)
        account = grant.account_id
        if bc_id is None:
            asset_id = grant.resource_id[len(TT_PREFIX):]
            if not _DIGITS.fullmatch(asset_id):
                raise RejectedError(f"{grant.resource_id!r} is not a TikTok account asset id", system=self.name)
            if account.startswith(PARTNER_PREFIX):
                raise RejectedError(
                    f"a partner's share of the TikTok account {asset_id} is not removed through the API here: in "
                    "Business Center > Users > Partners, open the partner and remove the TikTok account from its "
                    "assets (or remove the whole partnership)", system=self.name)
            if not _DIGITS.fullmatch(account):
                raise RejectedError(f"{account!r} is not a TikTok user id", system=self.name)
            return "bc/asset/unassign/", {"bc_id": self.bc_id, "user_id": account, "asset_type": TT_ACCOUNT,
                                          "asset_id": asset_id}
        child = {"child_bc_id": bc_id} if bc_id != self.bc_id else {}
        if account.startswith(PARTNER_PREFIX) and _DIGITS.fullmatch(account[len(PARTNER_PREFIX):]) and not child:
            return "bc/partner/delete/", {"bc_id": self.bc_id, "partner_id": account[len(PARTNER_PREFIX):]}
        if account.startswith(INVITE_PREFIX) and _EMAIL.fullmatch(account[len(INVITE_PREFIX):]):
            return "bc/member/delete/", {"bc_id": self.bc_id, **child, "user_email": account[len(INVITE_PREFIX):]}
        if _DIGITS.fullmatch(account):
            return "bc/member/delete/", {"bc_id": self.bc_id, **child, "user_id": account}
        raise RejectedError(f"{account!r} is not a TikTok user id, invite:<email> or partner:<bc id>",
                            system=self.name)

    def preview_revoke(self, grant: GrantRef) -> RequestPreview:
        """The exact request ``revoke`` sends (the token travels in a header and is never shown)."""
        path, body = self._target(grant)
        return self._preview(path, body)

    def _preview(self, path: str, body: Mapping[str, str]) -> RequestPreview:
        return RequestPreview(method="POST", url=self._client.url(path), headers={"Content-Type": "application/json"},
                              body=json.dumps(body, separators=(",", ":")))

    def revocation_takes(self, grant: GrantRef) -> Takes:
        """Everything the revocation of ``grant`` removes (invariant 5; see the module docstring)."""
        path, body = self._target(grant)
        if path == "bc/member/delete/" and "user_id" in body and "child_bc_id" not in body:
            return Takes(RevocationScope.account_on_system,
                         note="removing a member from the Business Center removes every role and asset they hold "
                              "in it, the brand's TikTok account included")
        if path == "bc/partner/delete/":
            return Takes(RevocationScope.account_on_system,
                         note="removing a partner ends every asset shared with it, the brand's TikTok account "
                              "included")
        return Takes()

    def revoke(self, grant: GrantRef) -> RevokeResult:
        """Remove the member, invitation, partner or TikTok account holding; read before, and again after an
        ambiguous answer."""
        path, body = self._target(grant)
        what = ("TikTok account holder" if path == "bc/asset/unassign/" else "partner" if "partner_id" in body
                else "invitation" if "user_email" in body else "member")
        try:
            if not self._present(grant):
                return RevokeResult(RevokeOutcome.already_gone, f"no such {what} (checked before removal)")
            try:
                response = self._client.request("POST", path, json_body=body)
            except (TikTokRejectedError, AuthError) as exc:
                if isinstance(exc, AuthError) and exc.code not in PERMISSION_CODES:
                    raise
                return self._settle_ambiguous(grant, exc, what)
            expect_json_object(response, self.name)
            return RevokeResult(RevokeOutcome.done, "TikTok account unassigned" if what == "TikTok account holder"
                                else f"{what} removed from the Business Center")
        except ConnectorError as exc:
            self._scrub(exc)
            raise

    def _settle_ambiguous(self, grant: GrantRef, exc: ConnectorError, what: str) -> RevokeResult:
        """A non-zero code: gone if the BC no longer lists the account, else TikTok's refusal."""
        present = self._present(grant)
        if present and isinstance(exc, AuthError):
            raise exc
        return settle(present, gone=f"no such {what}: {exc.detail}",
                      refused=f"TikTok refused to remove {what} {grant.account_id}: {exc.detail}",
                      system=self.name, cause=exc)

    def _member_row(self, bc_id: str, user_id: str) -> JSONDict | None:
        return next((row for row in self._members(bc_id)
                     if row.get("relation_status") == "BOUND" and str(row.get("user_id", "")) == user_id), None)

    def _present(self, grant: GrantRef) -> bool:
        """Whether the BC still lists the member, invitation or partner, or the asset its holder."""
        account = grant.account_id
        bc_id = self._bc_of(grant)
        if bc_id is None:
            asset_id = grant.resource_id[len(TT_PREFIX):]
            return any(str(row.get("user_id", "")) == account for row in
                       self._pages("bc/asset/member/get/", PAGE_SIZE, asset_type=TT_ACCOUNT, asset_id=asset_id))
        if account.startswith(PARTNER_PREFIX):
            partner_id = account[len(PARTNER_PREFIX):]
            return any(str(row.get("bc_id", "")) == partner_id for row in self._pages("bc/partner/get/", PAGE_SIZE))
        if account.startswith(INVITE_PREFIX):
            email = account[len(INVITE_PREFIX):].lower()
            return any(row.get("relation_status") == "PENDING" and str(row.get("user_email", "")).lower() == email
                       for row in self._members(bc_id))
        return self._member_row(bc_id, account) is not None

    # -- Reducer --------------------------------------------------------------------------------

    def reduce_roles(self, grant: GrantRef) -> Mapping[Level, str]:
        """An ADMIN member can be set to STANDARD in place (``/bc/member/update/``); nothing else can.

        STANDARD keeps the member's asset roles, so the level it leaves is the one the advertiser role gives.
        """
        try:
            bc_id = self._bc_of(grant)
        except StopError:
            return {}
        if bc_id is None or not _DIGITS.fullmatch(grant.account_id):
            return {}
        parts = grant.role.split(",")
        if parts[0].upper() != "ADMIN" or "relation:PENDING" in parts:
            return {}
        return {standard_level(grant.role): "STANDARD"}

    def _reduce_request(self, grant: GrantRef, role: str) -> tuple[str, dict[str, str]]:
        if role not in self.reduce_roles(grant).values():
            raise RejectedError(f"TikTok cannot set {grant.account_id} to {role!r} in place on {grant.resource_id} "
                                f"(it can lower an ADMIN member to STANDARD only)", system=self.name)
        bc_id = grant.resource_id
        child = {"child_bc_id": bc_id} if bc_id != self.bc_id else {}
        return "bc/member/update/", {"bc_id": self.bc_id, **child, "user_id": grant.account_id, "user_role": role}

    def preview_reduce(self, grant: GrantRef, role: str) -> Sequence[RequestPreview]:
        path, body = self._reduce_request(grant, role)
        return [self._preview(path, body)]

    def reduce(self, grant: GrantRef, role: str) -> RevokeResult:
        """Set the member's ``user_role``; read before and after, so an answer is never taken on trust."""
        path, body = self._reduce_request(grant, role)
        bc_id = grant.resource_id
        try:
            row = self._member_row(bc_id, grant.account_id)
            if row is None:
                return RevokeResult(RevokeOutcome.already_gone, "no such member in the BC (checked before reducing)")
            if str(row.get("user_role", "")).upper() == role:
                return RevokeResult(RevokeOutcome.already_gone, f"the member already holds {role}")
            try:
                response = self._client.request("POST", path, json_body=body)
            except TikTokRejectedError as exc:
                after = self._member_row(bc_id, grant.account_id)
                if after is None or str(after.get("user_role", "")).upper() == role:
                    return RevokeResult(RevokeOutcome.already_gone, f"already reduced or gone: {exc.detail}")
                raise RejectedError(f"TikTok refused to set {grant.account_id} to {role}: {exc.detail}",
                                    system=self.name, detail=exc.detail, status=exc.status, code=exc.code) from exc
            expect_json_object(response, self.name)
            after = self._member_row(bc_id, grant.account_id)
            if after is not None and str(after.get("user_role", "")).upper() != role:
                raise RejectedError(f"TikTok accepted the update but {grant.account_id} still holds "
                                    f"{after.get('user_role')}", system=self.name)
            return RevokeResult(RevokeOutcome.done, f"member set to {role}")
        except ConnectorError as exc:
            self._scrub(exc)
            raise


# -- accessward check: in tiktok_check (re-exported here, where the CLI and the tests import it) ---
from accessward.connectors.tiktok_check import check as check  # noqa: E402
