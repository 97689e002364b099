"""TikTok API for Business, Business Center: who is a member or partner of the brand's BC, and removal.

Reads ``/bc/get/`` (the BC and its name), ``/bc/member/get/`` (members and pending invitations,
20 a page) and ``/bc/partner/get/`` (partner BCs: agencies); removes a member with
``POST /bc/member/delete/`` ``{"bc_id", "user_id"}``, cancels an invitation with ``{"bc_id",
"user_email"}`` and removes a partner with ``POST /bc/partner/delete/`` ``{"bc_id",
"partner_id"}`` (reference/social-apis.md, section 3). TikTok answers HTTP 200 with
``{"code", "message", "request_id", "data"}`` even for errors, so ``classify_tiktok`` reads
``code`` on every answer:

- **40100** (QPS/QPM/QPD limit) and **5xxxx** (internal errors), HTTP 429 and 5xx ->
  ``TransientError``, retried with the client's backoff (TikTok sends no wait hint).
- **40101-40199** (app credentials, auth code, empty/invalid/expired/revoked access token:
  the exact split of 40104/40105 is unverified, so any of them counts) -> ``AuthError``; the source
  stops and the listing is never taken as "no access left".
- **40001** (no permission: not an admin of this BC, or not in it) -> ``AuthError``.
- any other non-zero code -> ``TikTokRejectedError`` (a ``RejectedError`` keeping the code).
- an answer without an integer ``code``, without ``data``/``list``/``page_info``, or not JSON
  -> ``MalformedResponseError``; HTTP 404 (no such path: a wrong base URL) -> ``StopError``.

Records (ids are TikTok's own, prefixed where TikTok has none for the account):

- The BC is a ``ResourceRecord`` of kind ``tiktok_business_center``. Advertisers are not read:
  a member's ``advertiser_role`` on the member row sets the level instead (below).
- A BOUND member is an ``AccountRecord`` keyed by ``user_id`` with ``user_email`` as login and
  email, and one grant whose role is ``user_role`` plus the asset and finance roles, e.g.
  ``STANDARD,advertiser:OPERATOR,catalog:AD_PROMOTE``.
- A PENDING invitation is access waiting to be taken: whoever controls the address gets the role
  by accepting, with nobody approving again. It is an account ``invite:<email>`` with a grant
  whose role ends ``relation:PENDING`` at the level it would give, so an invitation sent to a
  leaver can be flagged and cancelled. An ADMIN invitation ranks full_publishing, not admin: the
  last-admin guard counts admin grants, and an invitee who has not accepted cannot stand in for
  the last admin. REJECTED invitations give nothing and are skipped; an unknown relation status
  fails the listing (a human must decide what it means).
- A partner BC is an agency account ``partner:<bc_id>`` with one grant, role ``PARTNER``.

Levels: ``user_role`` ADMIN -> admin. STANDARD -> from ``advertiser_role``: ADMIN or OPERATOR ->
full_publishing (they run ads that speak as the brand), ANALYST -> read_only; no advertiser role
-> read_only. Catalog and finance roles do not publish and only show in the role string. A
partner -> full_publishing: the partner-asset roles are not read, and full_publishing is the
highest an advertiser role can give, so a partner is never ranked below what it may hold.

Removal is all or nothing: it takes the member (every role they hold in the BC) or the partner
out of the BC; asset-level unassignment is not used. It reads the members (or partners) first:
absent -> ``already_gone`` with nothing sent.
A non-zero code on the removal is ambiguous (TikTok's answer for someone already gone is
unverified: 40002 or 40001 are both plausible), so the list is read again: gone ->
``already_gone``; still there -> TikTok's refusal (``RejectedError`` with its message, e.g. the
last admin; ``AuthError`` for 40001). The token travels only in ``Access-Token``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
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
    RevokeOutcome,
    RevokeResult,
)

BC_KIND = "tiktok_business_center"
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
    if code == THROTTLED:
        return TransientError(f"TikTok throttled (code {code}): {message}", **kw)
    if 40100 < code < 40200:
        return AuthError(f"TikTok access token or app credentials refused (code {code}): {message}. The source "
                         "is stopped; this is a credentials failure, not an empty listing", **kw)
    if code == NO_PERMISSION:
        return AuthError(f"TikTok permission missing for this token (code {code}): {message}", **kw)
    if 50000 <= code < 60000:
        return TransientError(f"TikTok internal error (code {code}): {message}", **kw)
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
    if status == "REJECTED":
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


class TikTokBusinessCenterConnector:
    """AccessSource and Revoker for one TikTok Business Center (members, invitations, partners)."""

    def __init__(self, name: str, base_url: str, bc_id: str, access_token: str, *, max_pages: int = 10_000,
                 **http: Any) -> None:
        if not _DIGITS.fullmatch(str(bc_id)):
            raise StopError(f"{bc_id!r} is not a TikTok Business Center id")
        self.name = name
        self.bc_id = str(bc_id)
        self._token = access_token
        self._max_pages = max_pages
        self._client = HttpClient(name, base_url, auth=self._auth_headers, classify=classify_tiktok, **http)

    def __repr__(self) -> str:
        return f"TikTokBusinessCenterConnector(name={self.name!r}, bc_id={self.bc_id!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> TikTokBusinessCenterConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _auth_headers(self) -> dict[str, str]:
        return {"Access-Token": self._token}

    def _scrub(self, exc: ConnectorError) -> None:
        """Defence in depth: no token text in an exception leaving this connector."""
        if self._token:
            exc.args = tuple(a.replace(self._token, "***") if isinstance(a, str) else a for a in exc.args)
            exc.detail = exc.detail.replace(self._token, "***")

    # -- reading --------------------------------------------------------------------------------

    def _data(self, body: JSONDict) -> JSONDict:
        data = body.get("data")
        if not isinstance(data, dict):
            raise MalformedResponseError("answer with code 0 but no 'data' object", system=self.name,
                                         detail=f"keys: {', '.join(sorted(map(str, body)))[:200]}")
        return data

    def _pages(self, path: str, page_size: int) -> Iterator[JSONDict]:
        """Every row of a paged BC endpoint, ``page`` 1.. until ``page_info.total_page``, streaming."""
        page = 1
        for _ in range(self._max_pages):
            data = self._data(self._client.get_json(path, {"bc_id": self.bc_id, "page": page,
                                                           "page_size": page_size}))
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

    def _business_center_name(self) -> str:
        for row in self._pages("bc/get/", PAGE_SIZE):
            info = row.get("bc_info")
            if isinstance(info, dict) and str(info.get("bc_id", "")) == self.bc_id:
                return _text(info, "name", self.name) or ""
        raise StopError(f"TikTok Business Center {self.bc_id} is not visible to this token (wrong id, or the "
                        "token's user is not a member)", system=self.name)

    # -- AccessSource ---------------------------------------------------------------------------

    def list_access(self) -> Iterator[AccessRecord]:
        """The BC, then each member or invitation, then each partner: every account before its grant."""
        try:
            yield from self._list_access()
        except ConnectorError as exc:
            self._scrub(exc)
            raise

    def _list_access(self) -> Iterator[AccessRecord]:
        yield ResourceRecord(external_id=self.bc_id, kind=BC_KIND, name=self._business_center_name())
        seen: set[str] = set()
        for row in self._pages("bc/member/get/", MEMBER_PAGE_SIZE):
            records = member_records(row, self.bc_id, self.name)
            if records is None:
                continue
            account, grant = records
            if account.external_id in seen:  # offset paging shifted under a concurrent change: seen already
                continue
            seen.add(account.external_id)
            yield account
            yield grant
        for row in self._pages("bc/partner/get/", PAGE_SIZE):
            account, grant = partner_records(row, self.bc_id, self.name)
            if account.external_id not in seen:
                seen.add(account.external_id)
                yield account
                yield grant

    # -- Revoker --------------------------------------------------------------------------------

    def _target(self, grant: GrantRef) -> tuple[str, dict[str, str]]:
        """(path, JSON body) of the removal of ``grant``, or why this connector cannot send one."""
        if grant.resource_kind not in ("", BC_KIND):
            raise StopError(f"the TikTok revoker removes Business Center access only, not {grant.resource_kind!r}",
                            system=self.name)
        if grant.resource_id != self.bc_id:
            raise StopError(f"this TikTok revoker acts on Business Center {self.bc_id}, not {grant.resource_id!r}",
                            system=self.name)
        account = grant.account_id
        if account.startswith(PARTNER_PREFIX) and _DIGITS.fullmatch(account[len(PARTNER_PREFIX):]):
            return "bc/partner/delete/", {"bc_id": self.bc_id, "partner_id": account[len(PARTNER_PREFIX):]}
        if account.startswith(INVITE_PREFIX) and _EMAIL.fullmatch(account[len(INVITE_PREFIX):]):
            return "bc/member/delete/", {"bc_id": self.bc_id, "user_email": account[len(INVITE_PREFIX):]}
        if _DIGITS.fullmatch(account):
            return "bc/member/delete/", {"bc_id": self.bc_id, "user_id": account}
        raise RejectedError(f"{account!r} is not a TikTok user id, invite:<email> or partner:<bc id>",
                            system=self.name)

    def preview_revoke(self, grant: GrantRef) -> RequestPreview:
        """The exact request ``revoke`` sends (the token travels in a header and is never shown)."""
        path, body = self._target(grant)
        return RequestPreview(method="POST", url=self._client.url(path), headers={"Content-Type": "application/json"},
                              body=json.dumps(body, separators=(",", ":")))

    def revoke(self, grant: GrantRef) -> RevokeResult:
        """Remove the member, invitation or partner; read before, and again after an ambiguous answer."""
        path, body = self._target(grant)
        what = "partner" if "partner_id" in body else "invitation" if "user_email" in body else "member"
        try:
            if not self._present(grant):
                return RevokeResult(RevokeOutcome.already_gone, f"no such {what} in the BC (checked before removal)")
            try:
                response = self._client.request("POST", path, json_body=body)
            except (TikTokRejectedError, AuthError) as exc:
                if isinstance(exc, AuthError) and exc.code != NO_PERMISSION:
                    raise
                return self._settle_ambiguous(grant, exc, what)
            expect_json_object(response, self.name)
            return RevokeResult(RevokeOutcome.done, f"{what} removed from the Business Center")
        except ConnectorError as exc:
            self._scrub(exc)
            raise

    def _settle_ambiguous(self, grant: GrantRef, exc: ConnectorError, what: str) -> RevokeResult:
        """A non-zero code: gone if the BC no longer lists the account, else TikTok's refusal."""
        if not self._present(grant):
            return RevokeResult(RevokeOutcome.already_gone, f"no such {what} in the BC: {exc.detail}")
        if isinstance(exc, AuthError):
            raise exc
        raise RejectedError(f"TikTok refused to remove {what} {grant.account_id}: {exc.detail}", system=self.name,
                            detail=exc.detail, status=exc.status, code=exc.code) from exc

    def _present(self, grant: GrantRef) -> bool:
        """Whether the BC still lists the member (BOUND), the invitation (PENDING) or the partner."""
        account = grant.account_id
        if account.startswith(PARTNER_PREFIX):
            partner_id = account[len(PARTNER_PREFIX):]
            return any(str(row.get("bc_id", "")) == partner_id for row in self._pages("bc/partner/get/", PAGE_SIZE))
        if account.startswith(INVITE_PREFIX):
            email = account[len(INVITE_PREFIX):].lower()
            return any(row.get("relation_status") == "PENDING" and str(row.get("user_email", "")).lower() == email
                       for row in self._pages("bc/member/get/", MEMBER_PAGE_SIZE))
        return any(row.get("relation_status") == "BOUND" and str(row.get("user_id", "")) == account
                   for row in self._pages("bc/member/get/", MEMBER_PAGE_SIZE))
