"""Meta Business (Graph API): who can act on the business's Pages and Instagram accounts, and removal.

Reads, for one business (reference/social-apis.md, section 1):

- the business node itself, a resource of kind ``meta_business``;
- ``/business_users`` (people, with ``role`` and ``two_fac_status``) and ``/system_users``;
- ``/agencies``: partner businesses linked to ours;
- ``/owned_pages`` (kind ``facebook_page``) and ``/owned_instagram_assets`` (kind
  ``instagram_account``), and for each asset its ``/assigned_users`` (people and system users,
  with tasks) and its ``/agencies`` (partner businesses, with ``permitted_tasks``).

Accounts: a business user or an outside assignee is ``human`` with the Graph id; a system user
is ``system``; a partner business is ``agency`` with the id ``partner:<business id>``.

Grants and the ladder:

- On a Page or Instagram account: the tasks, sorted and comma-joined, ranked by the highest
  task (``TASK_LEVELS`` for Pages, ``INSTAGRAM_TASK_LEVELS`` for Instagram). A partner whose
  tasks the answer does not report is ranked ``admin`` with the role ``PARTNER``: never below
  what it may hold.
- On the business (``meta_business``): the business user's ``role``: ``ADMIN`` -> admin (full
  control of every asset), anything else (``EMPLOYEE``...) -> read_only, since asset access is
  granted per asset. ``business_membership`` chooses which of these grants are listed:
  ``"admins"`` (default: an admin of the business is visible and revocable as such, and an
  employee's access shows per asset), ``"all"`` (also every employee's membership, so that a
  leaver is removed from the business, not only from each asset) or ``"none"``. System users
  get the same grants by their ``role``.
- A partner linked to the business that holds no asset gets one grant on the business, role
  ``PARTNER``, read_only: the lingering partnership is visible and revocable. A partner with
  assets is judged per asset only, so that an engagement scoped to some assets never plans
  the removal of the whole partnership.

Instagram: the official SDK puts ``assigned_users`` and ``agencies`` (GET and DELETE) on the
``InstagramBusinessAsset`` node that ``/owned_instagram_assets`` lists, not on the ``IGUser``
that ``/owned_instagram_accounts`` lists, so ``instagram="assets"`` is the default.
``instagram="accounts"`` lists ``/owned_instagram_accounts`` and uses the same edges on the
Instagram user id, the Page-like shape (**unverified**: where Graph lacks them, the listing
fails with Meta's code 100 rather than reporting nobody). ``/instagram_accounts`` and
``/client_pages`` are not read: they are other brands' assets this business works on.

Revocation, by the grant's resource kind and account:

- Page / Instagram account, person or system user: ``DELETE /{asset}/assigned_users`` with
  ``user`` (and ``business``).
- Page / Instagram account, partner: ``DELETE /{asset}/agencies`` with ``business=<partner>``.
- Business, person: ``DELETE /{business-user-id}`` (removes the person from the business and
  so from every asset). A system user is never removed from the business unless the connector
  was built with ``remove_system_users=True`` (that the same call works for system users is
  unverified); otherwise the revoke is rejected before anything is sent.
- Business, partner: ``DELETE /{business}/agencies`` with ``business=<partner>``.

Error decisions, each chosen so that a failure can never look like "no access left":

- **190 / 102 / 104** (dead, missing or invalid token) -> ``AuthError`` saying the token is
  expired or revoked and the source stopped.
- **10 and 200-299** (permission missing) -> ``AuthError`` for listing *and* revoking: the token
  lacks a scope or task, a credentials problem an operator must fix. As a listing error it would
  otherwise hide part of the business; as a revoke error every further revoke would fail alike.
- **100 with subcode 33** (object does not exist *or* is not visible to this token) ->
  ``NotFoundError``; on a business edge it becomes ``StopError`` (wrong business id). Any other
  **100** -> ``GraphRejectedError`` (a ``RejectedError`` that keeps the code). **368** -> rejected.
- **4, 17, 32, 613, 80000-80099** (throttling; Meta never sends 429) and **1, 2** or 5xx ->
  ``TransientError``, waiting ``estimated_time_to_regain_access`` minutes from
  ``X-Business-Use-Case-Usage`` when present. **2500** (unknown path: bad base URL) -> ``StopError``.
- A revoke reads first whether the assignment, partner or member is still there (absent ->
  ``already_gone``, nothing sent), since a repeated removal's answer is undocumented and may be
  ``success: true``. A code-100 answer to the DELETE is ambiguous too (an already-deleted node
  answers 100/33), so it is read again: absent -> ``already_gone``; present -> ``RejectedError``
  with Meta's message (e.g. the last admin of a Page or of the business). An asset that cannot
  be read is never reported as gone; a business user whose node is gone is, once the business
  itself has been read.

The token is sent only in the ``Authorization`` header and stripped from ``paging.next`` links
(Graph puts it there), so it reaches no log line, exception or preview.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
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
from accessward.connectors.http import HttpClient, JSONDict, follow_next_links
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

PAGE_KIND = "facebook_page"
INSTAGRAM_KIND = "instagram_account"
BUSINESS_KIND = "meta_business"
PARTNER_PREFIX = "partner:"
PARTNER_ROLE = "PARTNER"

BUSINESS_FIELDS = "id,name"
BUSINESS_USER_FIELDS = "id,name,email,role,two_fac_status"
SYSTEM_USER_FIELDS = "id,name,role"
PAGE_FIELDS = "id,name"
INSTAGRAM_ASSET_FIELDS = "id,ig_user_id,ig_username"
INSTAGRAM_ACCOUNT_FIELDS = "id,username,name"
ASSIGNED_USER_FIELDS = "id,name,user_type,tasks"
PARTNER_FIELDS = "id,name"
#: The per-asset tasks of a partner: the name of the parameter that grants them (unverified on GET).
ASSET_PARTNER_FIELDS = "id,name,permitted_tasks"


class BusinessMembership(StrEnum):
    """Which business-level grants (``meta_business``) the listing yields for users."""

    admins = "admins"  # ADMIN business and system users only (default)
    all = "all"  # every business and system user, EMPLOYEE as read_only
    none = "none"


class InstagramListing(StrEnum):
    """Where the Instagram accounts and their people are read (see the module docstring)."""

    assets = "assets"  # /owned_instagram_assets, edges on the InstagramBusinessAsset node (SDK-verified)
    accounts = "accounts"  # /owned_instagram_accounts, edges on the IGUser node (unverified)
    none = "none"


#: Page task -> publishing ladder. ADVERTISE is full publishing because ads run as the brand;
#: MODERATE_COMMUNITY is moderation under its newer name. Unknown tasks rank read_only, and the
#: raw task string is kept in the grant's role.
TASK_LEVELS: dict[str, Level] = {
    "MANAGE": Level.admin,
    "CREATE_CONTENT": Level.full_publishing,
    "ADVERTISE": Level.full_publishing,
    "MODERATE": Level.can_reply,
    "MODERATE_COMMUNITY": Level.can_reply,
    "MESSAGING": Level.can_reply,
    "PAGES_MESSAGING": Level.can_reply,
    "ANALYZE": Level.read_only,
}

#: Instagram asset task -> ladder. The SDK's tasks are ADVERTISE, ANALYZE, COMMUNITY_ACTIVITY,
#: CONTENT and MESSAGES; MANAGE is kept in case full control shows as a task (unverified).
INSTAGRAM_TASK_LEVELS: dict[str, Level] = {
    "MANAGE": Level.admin,
    "CONTENT": Level.full_publishing,
    "ADVERTISE": Level.full_publishing,
    "COMMUNITY_ACTIVITY": Level.can_reply,
    "MESSAGES": Level.can_reply,
    "ANALYZE": Level.read_only,
}

#: Business role -> ladder. Admins have full control of every asset; anything else is read_only
#: at business level, since asset access is granted per asset.
BUSINESS_ROLE_LEVELS: dict[str, Level] = {"ADMIN": Level.admin}

#: ``two_fac_status`` values are undocumented (unverified): only clear words map to a boolean.
_TWO_FAC_ON = frozenset({"enabled", "on", "active", "two_fac_enabled"})
_TWO_FAC_OFF = frozenset({"not_enabled", "disabled", "off", "none", "two_fac_not_enabled"})

_AUTH_CODES = frozenset({102, 104, 190})
_THROTTLE_CODES = frozenset({4, 17, 32, 613})
_TRANSIENT_CODES = frozenset({1, 2})
_TOKEN_STATES = {463: "expired", 460: "invalidated (password changed)", 458: "not authorized for the app",
                 459: "blocked by a checkpoint", 464: "held by an unconfirmed user", 467: "invalid"}
_ID = re.compile(r"[0-9A-Za-z_-]+")  # no "." or "/": an id is one path segment, never ".."


class GraphRejectedError(RejectedError):
    """A refusal whose Graph ``code`` the revoker needs: 100 on a DELETE is ambiguous."""

    def __init__(self, message: str, *, code: int, subcode: int | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.code = code
        self.subcode = subcode


# -- classification ------------------------------------------------------------------------------


def _graph_error(response: httpx.Response) -> JSONDict | None:
    """The ``error`` object of a Graph error body, or None if the body is not one."""
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), int):
        return error
    return None


def regain_access_seconds(response: httpx.Response) -> float | None:
    """The longest ``estimated_time_to_regain_access`` (minutes) in X-Business-Use-Case-Usage, in seconds."""
    try:
        usage = json.loads(response.headers.get("x-business-use-case-usage", ""))
    except ValueError:
        return None
    etas = [
        float(entry["estimated_time_to_regain_access"])
        for entries in (usage.values() if isinstance(usage, dict) else ())
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict) and isinstance(entry.get("estimated_time_to_regain_access"), int | float)
    ]
    return max(etas) * 60.0 if etas else None


def _is_throttle(code: int) -> bool:
    return code in _THROTTLE_CODES or 80000 <= code <= 80099


def classify_graph_error(response: httpx.Response) -> ConnectorError | None:
    """Map a Graph answer onto the error taxonomy by ``error.code`` (see the module docstring)."""
    status = response.status_code
    if status < 400:
        return None
    error = _graph_error(response)
    if error is None:
        if status >= 500:
            return TransientError(f"HTTP {status} without a Graph error body", status=status,
                                  retry_after=regain_access_seconds(response))
        return MalformedResponseError(f"HTTP {status} without a Graph error body", status=status,
                                      detail=response.text[:120])
    code: int = error["code"]
    subcode = error.get("error_subcode") if isinstance(error.get("error_subcode"), int) else None
    message = str(error.get("message", ""))
    trace = error.get("fbtrace_id")
    detail = f"{message} (fbtrace_id {trace})" if trace else message
    label = f"code {code}" + (f"/{subcode}" if subcode is not None else "")
    kw: dict[str, Any] = {"detail": detail, "status": status}
    if code in _AUTH_CODES:
        what = "missing" if code == 104 else _TOKEN_STATES.get(subcode or 0, "expired or revoked")
        return AuthError(f"Meta access token {what} ({label}): {message}. The source is stopped; "
                         "this is a credentials failure, not an empty listing", **kw)
    if code == 10 or 200 <= code <= 299:
        return AuthError(f"Meta permission missing for this token ({label}): {message}", **kw)
    if _is_throttle(code) or code in _TRANSIENT_CODES or status >= 500:
        return TransientError(f"Meta throttled or unavailable ({label}): {message}",
                              retry_after=regain_access_seconds(response), **kw)
    if code == 100 and subcode == 33:
        return NotFoundError(f"Meta object not found or not visible ({label}): {message}", **kw)
    if code == 2500:
        return StopError(f"Meta path not understood ({label}): {message}; check the base URL", **kw)
    return GraphRejectedError(f"Meta refused ({label}): {message}", code=code, subcode=subcode, **kw)


# -- records -------------------------------------------------------------------------------------


def _text(item: JSONDict, key: str, system: str, *, required: bool = False) -> str | None:
    value = item.get(key)
    if value is None or value == "":
        if required:
            raise MalformedResponseError(f"item without {key!r}", system=system, detail=str(item)[:200])
        return None
    if not isinstance(value, str | int):
        raise MalformedResponseError(f"{key!r} is not a string", system=system, detail=str(item)[:200])
    return str(value)


def mfa_from_two_fac(status: object) -> bool | None:
    """True/False for clear ``two_fac_status`` words, None for anything else (unknown, not "off")."""
    if not isinstance(status, str):
        return None
    word = status.strip().lower().replace(" ", "_").replace("-", "_")
    return True if word in _TWO_FAC_ON else False if word in _TWO_FAC_OFF else None


def role_and_level(tasks: list[str], ladder: Mapping[str, Level] = TASK_LEVELS) -> tuple[str, Level]:
    """The grant's role (sorted tasks, comma-joined) and its ladder level (the highest task's)."""
    level = max((ladder.get(t.upper(), Level.read_only) for t in tasks), default=Level.read_only)
    return ",".join(sorted(set(tasks))), level


def membership_grant(item: JSONDict, account_id: str, business_id: str, mode: BusinessMembership,
                     system: str) -> GrantRecord | None:
    """The business-level grant of a business or system user, if ``mode`` lists it."""
    if mode is BusinessMembership.none:
        return None
    role = (_text(item, "role", system) or "").upper()
    if not role:
        raise MalformedResponseError(f"business member {account_id} has no role", system=system,
                                     detail=str(item)[:200])
    level = BUSINESS_ROLE_LEVELS.get(role, Level.read_only)
    if mode is BusinessMembership.admins and level < Level.admin:
        return None
    return GrantRecord(account_id=account_id, resource_id=business_id, role=role, level=level)


def business_user_record(item: JSONDict, system: str) -> AccountRecord:
    return AccountRecord(
        external_id=_text(item, "id", system, required=True) or "",
        kind=AccountKind.human,
        display_name=_text(item, "name", system) or "",
        email=_text(item, "email", system),
        mfa=mfa_from_two_fac(item.get("two_fac_status")),
    )


def system_user_record(item: JSONDict, system: str) -> AccountRecord:
    return AccountRecord(external_id=_text(item, "id", system, required=True) or "", kind=AccountKind.system,
                         display_name=_text(item, "name", system) or "")


def assigned_user_records(item: JSONDict, asset_id: str, system: str, ladder: Mapping[str, Level] = TASK_LEVELS,
                          ) -> tuple[AccountRecord, GrantRecord]:
    """The account (used only if not already listed) and the grant of one asset assignee."""
    user_id = _text(item, "id", system, required=True) or ""
    tasks = item.get("tasks")
    if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
        raise MalformedResponseError(f"assigned user {user_id} on asset {asset_id} has no task list",
                                     system=system, detail=str(item)[:200])
    kind = AccountKind.system if item.get("user_type") == "system_user" else AccountKind.human
    account = AccountRecord(external_id=user_id, kind=kind, display_name=_text(item, "name", system) or "")
    role, level = role_and_level(tasks, ladder)
    return account, GrantRecord(account_id=user_id, resource_id=asset_id, role=role, level=level)


def partner_record(item: JSONDict, system: str) -> AccountRecord:
    """A partner business as an agency account ``partner:<business id>``."""
    partner_id = _text(item, "id", system, required=True) or ""
    return AccountRecord(external_id=PARTNER_PREFIX + partner_id, kind=AccountKind.agency,
                         display_name=_text(item, "name", system) or "")


def partner_grant(item: JSONDict, asset_id: str, system: str, ladder: Mapping[str, Level] = TASK_LEVELS,
                  ) -> GrantRecord:
    """A partner's grant on one asset: its tasks, or ``PARTNER``/admin when no tasks are reported."""
    account = partner_record(item, system)
    tasks = item.get("permitted_tasks", item.get("tasks"))
    if tasks is None:
        return GrantRecord(account_id=account.external_id, resource_id=asset_id, role=PARTNER_ROLE,
                           level=Level.admin)
    if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
        raise MalformedResponseError(f"partner {account.external_id} on asset {asset_id} has a malformed task list",
                                     system=system, detail=str(item)[:200])
    role, level = role_and_level(tasks, ladder)
    return GrantRecord(account_id=account.external_id, resource_id=asset_id, role=role or PARTNER_ROLE, level=level)


def instagram_resource(item: JSONDict, listing: InstagramListing, system: str) -> ResourceRecord:
    """An Instagram account as a resource, named ``Instagram @username`` (a leading "@" is a CSV formula)."""
    asset_id = _text(item, "id", system, required=True) or ""
    username = _text(item, "ig_username" if listing is InstagramListing.assets else "username", system)
    name = f"Instagram @{username}" if username else (_text(item, "name", system)
                                                       or _text(item, "ig_user_id", system) or "")
    return ResourceRecord(external_id=asset_id, kind=INSTAGRAM_KIND, name=name)


def next_page_link(body: JSONDict, base_url: str, system: str) -> str | None:
    """``paging.next`` without its ``access_token``; refused if it leaves the API's origin.

    The token goes in a header, so it is dropped from the URL (URLs end up in logs). A next link
    to another host would carry our Authorization header there: that answer is malformed.
    """
    paging = body.get("paging")
    if paging is None:
        return None
    if not isinstance(paging, dict):
        raise MalformedResponseError("'paging' is not an object", system=system)
    link = paging.get("next")
    if link is None:
        return None
    if not isinstance(link, str) or not link:
        raise MalformedResponseError("'paging.next' is not a URL", system=system)
    url, base = httpx.URL(link), httpx.URL(base_url)
    if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
        raise MalformedResponseError(f"'paging.next' points to another origin ({url.host})", system=system)
    return str(url.copy_remove_param("access_token"))


# -- the connector -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Removal:
    """One revocation: the DELETE to send, and how to tell whether its subject is still there."""

    what: str  # assignment | asset_partner | member | business_partner
    path: str
    params: dict[str, str] = field(default_factory=dict)
    node: str = ""  # the asset, or the business, the removal is from
    subject: str = ""  # the user id, or the partner's business id
    where: str = ""  # "page 123", "Instagram account 5", "the business"


class MetaBusinessConnector:
    """AccessSource and Revoker for one Meta business: its people, partners, Pages and Instagram accounts."""

    def __init__(
        self, name: str, base_url: str, business_id: str, access_token: str, *, page_size: int = 100,
        business_membership: BusinessMembership | str = BusinessMembership.admins,
        instagram: InstagramListing | str = InstagramListing.assets,
        partners: bool = True,
        remove_system_users: bool = False,
        **http: Any,
    ) -> None:
        self.name = name
        self.business_id = business_id
        self._token = access_token
        self._page_size = page_size
        self._membership = BusinessMembership(business_membership)
        self._instagram = InstagramListing(instagram)
        self._partners = partners
        self._remove_system_users = remove_system_users
        self._client = HttpClient(name, base_url, auth=self._auth_headers, classify=classify_graph_error, **http)

    def __repr__(self) -> str:
        return f"MetaBusinessConnector(name={self.name!r}, business_id={self.business_id!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> MetaBusinessConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def _scrub(self, exc: ConnectorError) -> None:
        """Defence in depth: no token text in an exception leaving this connector."""
        if self._token:
            exc.args = tuple(a.replace(self._token, "***") if isinstance(a, str) else a for a in exc.args)
            exc.detail = exc.detail.replace(self._token, "***")

    def _edge(self, node: str, edge: str, fields: str, **params: str) -> Iterator[JSONDict]:
        """Every item of a Graph edge, page by page, streaming."""
        query = {"fields": fields, "limit": str(self._page_size), **params}
        base, system = self._client.base_url, self.name
        yield from follow_next_links(self._client, f"{node}/{edge}", query, items_key="data",
                                     next_link=lambda body: next_page_link(body, base, system))

    def _not_visible(self, exc: NotFoundError) -> StopError:
        return StopError(f"Meta business {self.business_id} not found or not visible to this token",
                         system=self.name, detail=exc.detail, status=exc.status)

    def _business_edge(self, edge: str, fields: str) -> Iterator[JSONDict]:
        try:
            yield from self._edge(self.business_id, edge, fields)
        except NotFoundError as exc:
            raise self._not_visible(exc) from exc

    def _business_name(self) -> str:
        """The business node's name; reading it also proves the business is visible to the token."""
        try:
            body = self._client.get_json(self.business_id, {"fields": BUSINESS_FIELDS})
        except NotFoundError as exc:
            raise self._not_visible(exc) from exc
        if _text(body, "id", self.name, required=True) != self.business_id:
            raise MalformedResponseError(f"the node read as business {self.business_id} has another id",
                                         system=self.name, detail=str(body.get("id"))[:40])
        return _text(body, "name", self.name) or ""

    # -- AccessSource ---------------------------------------------------------------------------

    def list_access(self) -> Iterator[AccessRecord]:
        """The business, its people and system users, partners, then each Page and Instagram
        account followed by its grants (every account before its first grant)."""
        try:
            yield from self._list_access()
        except ConnectorError as exc:
            self._scrub(exc)
            raise

    def _list_access(self) -> Iterator[AccessRecord]:
        yield ResourceRecord(external_id=self.business_id, kind=BUSINESS_KIND, name=self._business_name())
        known: set[str] = set()
        for edge, fields, to_record in (("business_users", BUSINESS_USER_FIELDS, business_user_record),
                                        ("system_users", SYSTEM_USER_FIELDS, system_user_record)):
            for item in self._business_edge(edge, fields):
                account = to_record(item, self.name)
                known.add(account.external_id)
                yield account
                grant = membership_grant(item, account.external_id, self.business_id, self._membership, self.name)
                if grant is not None:
                    yield grant
        idle_partners: dict[str, None] = {}  # linked to the business, no asset seen yet (ordered)
        if self._partners:
            for item in self._business_edge("agencies", PARTNER_FIELDS):
                account = partner_record(item, self.name)
                if account.external_id not in known:
                    known.add(account.external_id)
                    idle_partners[account.external_id] = None
                    yield account
        for item in self._business_edge("owned_pages", PAGE_FIELDS):
            page_id = _text(item, "id", self.name, required=True) or ""
            yield ResourceRecord(external_id=page_id, kind=PAGE_KIND, name=_text(item, "name", self.name) or "")
            yield from self._asset_grants(page_id, TASK_LEVELS, known, idle_partners)
        if self._instagram is not InstagramListing.none:
            edge, fields = (("owned_instagram_assets", INSTAGRAM_ASSET_FIELDS)
                            if self._instagram is InstagramListing.assets
                            else ("owned_instagram_accounts", INSTAGRAM_ACCOUNT_FIELDS))
            for item in self._business_edge(edge, fields):
                resource = instagram_resource(item, self._instagram, self.name)
                yield resource
                yield from self._asset_grants(resource.external_id, INSTAGRAM_TASK_LEVELS, known, idle_partners)
        for partner_id in idle_partners:
            yield GrantRecord(account_id=partner_id, resource_id=self.business_id, role=PARTNER_ROLE,
                              level=Level.read_only)

    def _asset_grants(self, asset_id: str, ladder: Mapping[str, Level], known: set[str],
                      idle_partners: dict[str, None]) -> Iterator[AccessRecord]:
        """The people and system users assigned to one asset, then the partners it is shared with."""
        for assigned in self._edge(asset_id, "assigned_users", ASSIGNED_USER_FIELDS, business=self.business_id):
            account, grant = assigned_user_records(assigned, asset_id, self.name, ladder)
            if account.external_id not in known:
                known.add(account.external_id)
                yield account
            yield grant
        if not self._partners:
            return
        for item in self._edge(asset_id, "agencies", ASSET_PARTNER_FIELDS):
            grant = partner_grant(item, asset_id, self.name, ladder)
            if grant.account_id not in known:
                known.add(grant.account_id)
                yield partner_record(item, self.name)
            idle_partners.pop(grant.account_id, None)
            yield grant

    # -- Revoker --------------------------------------------------------------------------------

    def _revoke_target(self, grant: GrantRef) -> _Removal:
        kind = grant.resource_kind or PAGE_KIND
        partner = grant.account_id.startswith(PARTNER_PREFIX)
        subject = grant.account_id[len(PARTNER_PREFIX):] if partner else grant.account_id
        if grant.account_kind is AccountKind.agency and not partner:
            raise RejectedError(f"{grant.account_id!r} is not a Meta partner id (partner:<business id>)",
                                system=self.name)
        for value in (grant.resource_id, subject):
            if not _ID.fullmatch(value):
                raise RejectedError(f"{value!r} is not a Meta object id", system=self.name)
        resource = grant.resource_id
        if kind in (PAGE_KIND, INSTAGRAM_KIND):
            where = f"page {resource}" if kind == PAGE_KIND else f"Instagram account {resource}"
            if partner:
                return _Removal("asset_partner", f"{resource}/agencies", {"business": subject}, resource, subject,
                                where)
            return _Removal("assignment", f"{resource}/assigned_users",
                            {"user": subject, "business": self.business_id}, resource, subject, where)
        if kind == BUSINESS_KIND:
            if resource != self.business_id:
                raise RejectedError(f"grant on Meta business {resource}, but this connector manages "
                                    f"{self.business_id}", system=self.name)
            if partner:
                return _Removal("business_partner", f"{resource}/agencies", {"business": subject}, resource, subject,
                                "the business")
            return _Removal("member", subject, {}, resource, subject, "the business")
        raise StopError(f"the Meta revoker handles {PAGE_KIND}, {INSTAGRAM_KIND} and {BUSINESS_KIND} grants, "
                        f"not {grant.resource_kind!r}", system=self.name)

    def preview_revoke(self, grant: GrantRef) -> RequestPreview:
        """The exact request ``revoke`` sends (the token travels in a header, never shown)."""
        target = self._revoke_target(grant)
        return RequestPreview(method="DELETE", url=self._client.url(target.path), params=dict(target.params))

    def revoke(self, grant: GrantRef) -> RevokeResult:
        """Remove the assignment, partner or member, reading first and again after an ambiguous answer.

        The read before is what makes a repeat distinguishable: Meta may answer a removal of
        something already removed with ``success: true`` (unverified), which would otherwise be
        recorded as "done" although nothing was removed.
        """
        target = self._revoke_target(grant)
        try:
            if target.what == "member" and grant.account_kind is AccountKind.system and not self._remove_system_users:
                raise RejectedError(
                    f"system user {target.subject} is not removed from the business automatically "
                    "(remove_system_users is off; removing system users this way is unverified)", system=self.name)
            if not self._present(target, "before removal"):
                return RevokeResult(RevokeOutcome.already_gone, f"{_absent(target)} (checked before removal)")
            try:
                body = self._client.send_json("DELETE", target.path, params=target.params)
            except (NotFoundError, GraphRejectedError) as exc:
                if isinstance(exc, GraphRejectedError) and exc.code != 100:
                    raise
                return self._settle_ambiguous(target, exc)
            return self._success(body, target)
        except ConnectorError as exc:
            self._scrub(exc)
            raise

    def _success(self, body: JSONDict | None, target: _Removal) -> RevokeResult:
        if body is None or not isinstance(body.get("success"), bool):
            raise MalformedResponseError("removal answered without 'success'", system=self.name,
                                         detail=str(body)[:200])
        if not body["success"]:
            raise RejectedError("Meta answered success=false to the removal", system=self.name,
                                detail=str(body)[:200])
        subject = f"partner {target.subject}" if target.what.endswith("partner") else target.subject
        return RevokeResult(RevokeOutcome.done, f"{subject} removed from {target.where}")

    def _settle_ambiguous(self, target: _Removal, exc: ConnectorError) -> RevokeResult:
        """Code 100 on DELETE: gone if no longer there, else Meta's refusal."""
        if not self._present(target, f"after Meta answered: {exc.detail}"):
            return RevokeResult(RevokeOutcome.already_gone, f"{_absent(target)}: {exc.detail}")
        raise RejectedError(f"Meta refused to remove {target.subject} from {target.where}: {exc.detail}",
                            system=self.name, detail=exc.detail, status=exc.status) from exc

    def _present(self, target: _Removal, context: str) -> bool:
        """Whether the subject is still there; what cannot be read is never "already gone"."""
        if target.what == "member":
            try:
                body = self._client.get_json(target.subject, {"fields": "id"})
            except NotFoundError:
                self._business_name()  # the node is gone, not our view of the business
                return False
            if _text(body, "id", self.name, required=True) != target.subject:
                raise MalformedResponseError(f"the node read as {target.subject} has another id", system=self.name,
                                             detail=str(body.get("id"))[:40])
            return True
        if target.what == "assignment":
            items = self._edge(target.node, "assigned_users", "id", business=self.business_id)
        else:
            items = self._edge(target.node, "agencies", "id")
        try:
            return any(str(item.get("id")) == target.subject for item in items)
        except NotFoundError as exc:
            raise RejectedError(
                f"cannot confirm removal {context}: {target.where} is not visible to this token "
                "(deleted, or access lost)", system=self.name, detail=exc.detail, status=exc.status,
            ) from exc


def _absent(target: _Removal) -> str:
    if target.what == "member":
        return "no longer a member of the business"
    if target.what == "business_partner":
        return "no longer a partner of the business"
    if target.what == "asset_partner":
        return f"partner has no access to {target.where}"
    return f"not assigned to {target.where}"


# -- accessward check -----------------------------------------------------------------------------
# (imported here, at the end, so this section merges apart from the connector above)
from collections.abc import Callable  # noqa: E402

from accessward.connectors.http import require_list  # noqa: E402
from accessward.connectors.preflight import CheckItem, Use, probe  # noqa: E402

#: Permission -> (what relies on it, the use). business_management: every business edge and removal;
#: pages_manage_metadata: the Page edges (assigned_users, agencies, roles) and their removals.
META_PERMISSIONS: tuple[tuple[str, Use], ...] = (("business_management", "read"), ("pages_manage_metadata", "revoke"),
                    ("pages_show_list", "read"))
META_PERMISSION_FIX = ("give the app the permission and issue a new system-user token with it (Business Settings > "
                       "System users > Generate new token, tick {perm})")


def check(connector: MetaBusinessConnector, *, max_pages: int = 20) -> list[CheckItem]:
    """Read-only preflight: the business is visible, the token's permissions (``GET /me/permissions``), and a
    Page token per Page (``GET /{page-id}?fields=access_token``) where this connector reads Page edges with one."""
    items = [probe("business visible", lambda: f"business {connector._business_name() or connector.business_id}",
                   fix=f"check business_id {connector.business_id} and that the system user belongs to it")]
    try:
        body = connector._client.get_json("me/permissions", None)
        granted = {str(p.get("permission")) for p in require_list(body, "data", connector.name)
                   if isinstance(p, dict) and p.get("status") == "granted"}
    except ConnectorError as exc:
        items.append(CheckItem("token permissions", "unknown" if exc.kind == "transient" else "missing",
                               f"GET /me/permissions: {exc}", "issue a new system-user token"))
        granted = None
    for perm, use in META_PERMISSIONS if granted is not None else ():
        assert granted is not None
        ok = perm in granted
        items.append(CheckItem(f"permission {perm}", "ok" if ok else "missing",
                               "granted" if ok else "not among the token's granted permissions",
                               "" if ok else META_PERMISSION_FIX.format(perm=perm), use))
    items.append(CheckItem(
        "remove people and partners", "unknown",
        "Graph has no read that says whether the system user may remove: it refuses a removal with code 200",
        "make the system user an Admin of the business (Business Settings > System users > Admin access)",
        "revoke"))
    pages: list[str] = []
    try:
        for page in connector._business_edge("owned_pages", PAGE_FIELDS):
            pages.append(str(page.get("id")))
            if len(pages) >= max_pages:
                break
    except ConnectorError as exc:
        items.append(CheckItem("Pages listed", "missing", str(exc), "grant business_management and pages_show_list"))
        return items
    items.append(CheckItem("Pages listed", "ok", f"{len(pages)} Page(s) (first {max_pages} checked)"))
    page_token: Callable[[str], str] | None = getattr(connector, "page_token", None)
    if page_token is None:
        items.append(CheckItem("Page tokens", "unknown", "this version reads Page edges with the system-user token",
                               "", "read", False))
        return items
    for page_id in pages:
        def obtain(page: str = page_id, get: Callable[[str], str] = page_token) -> str:
            get(page)
            return "obtainable (not kept)"
        items.append(probe(f"Page token {page_id}", obtain,
                           fix="assign the system user to the Page with full control (MANAGE / "
                               "PROFILE_PLUS_FULL_CONTROL) and grant pages_manage_metadata"))
    return items
