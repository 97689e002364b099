"""Meta Business (Graph API): who holds which tasks on the business's Facebook pages, and removal.

Reads ``/{business}/business_users``, ``/system_users``, ``/owned_pages`` and each page's
``/assigned_users``; removes a person or system user from a page with
``DELETE /{page}/assigned_users``. Everything goes through ``connectors.http.HttpClient`` with
``classify_graph_error``, because Graph reports almost every failure as an HTTP 400 whose meaning
lives in ``error.code`` (reference/social-apis.md, section 1).

Decisions, each chosen so that a failure can never look like "no access left":

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
- A revoke reads the page's assignees first (absent -> ``already_gone``, nothing sent), since a
  repeated removal's answer is undocumented and may be ``success: true``. A code-100 answer to
  the DELETE is ambiguous too, so the page is re-read: absent -> ``already_gone``; present ->
  ``RejectedError`` with Meta's message (e.g. the last admin). A page that cannot be read is
  never reported as gone.

The token is sent only in the ``Authorization`` header and stripped from ``paging.next`` links
(Graph puts it there), so it reaches no log line, exception or preview.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx

from connectors.errors import (
    AuthError,
    ConnectorError,
    MalformedResponseError,
    NotFoundError,
    RejectedError,
    StopError,
    TransientError,
)
from connectors.http import HttpClient, JSONDict, follow_next_links
from connectors.records import (
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
BUSINESS_USER_FIELDS = "id,name,email,role,two_fac_status"
SYSTEM_USER_FIELDS = "id,name,role"
PAGE_FIELDS = "id,name"
ASSIGNED_USER_FIELDS = "id,name,user_type,tasks"

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

#: ``two_fac_status`` values are undocumented (unverified): only clear words map to a boolean.
_TWO_FAC_ON = frozenset({"enabled", "on", "active", "two_fac_enabled"})
_TWO_FAC_OFF = frozenset({"not_enabled", "disabled", "off", "none", "two_fac_not_enabled"})

_AUTH_CODES = frozenset({102, 104, 190})
_THROTTLE_CODES = frozenset({4, 17, 32, 613})
_TRANSIENT_CODES = frozenset({1, 2})
_TOKEN_STATES = {463: "expired", 460: "invalidated (password changed)", 458: "not authorized for the app",
                 459: "blocked by a checkpoint", 464: "held by an unconfirmed user", 467: "invalid"}
_ID = re.compile(r"[0-9A-Za-z_.-]+")


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


def role_and_level(tasks: list[str]) -> tuple[str, Level]:
    """The grant's role (sorted tasks, comma-joined) and its ladder level (the highest task's)."""
    level = max((TASK_LEVELS.get(t.upper(), Level.read_only) for t in tasks), default=Level.read_only)
    return ",".join(sorted(set(tasks))), level


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


def assigned_user_records(item: JSONDict, page_id: str, system: str) -> tuple[AccountRecord, GrantRecord]:
    """The account (used only if not already listed) and the grant of one page assignee."""
    user_id = _text(item, "id", system, required=True) or ""
    tasks = item.get("tasks")
    if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
        raise MalformedResponseError(f"assigned user {user_id} on page {page_id} has no task list",
                                     system=system, detail=str(item)[:200])
    kind = AccountKind.system if item.get("user_type") == "system_user" else AccountKind.human
    account = AccountRecord(external_id=user_id, kind=kind, display_name=_text(item, "name", system) or "")
    role, level = role_and_level(tasks)
    return account, GrantRecord(account_id=user_id, resource_id=page_id, role=role, level=level)


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


class MetaBusinessConnector:
    """AccessSource and Revoker for one Meta business (its owned Facebook pages)."""

    def __init__(
        self, name: str, base_url: str, business_id: str, access_token: str, *, page_size: int = 100,
        **http: Any,
    ) -> None:
        self.name = name
        self.business_id = business_id
        self._token = access_token
        self._page_size = page_size
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

    def _business_edge(self, edge: str, fields: str) -> Iterator[JSONDict]:
        try:
            yield from self._edge(self.business_id, edge, fields)
        except NotFoundError as exc:
            raise StopError(f"Meta business {self.business_id} not found or not visible to this token",
                            system=self.name, detail=exc.detail, status=exc.status) from exc

    # -- AccessSource ---------------------------------------------------------------------------

    def list_access(self) -> Iterator[AccessRecord]:
        """People, system users, then each owned page followed by its grants (accounts first)."""
        try:
            yield from self._list_access()
        except ConnectorError as exc:
            self._scrub(exc)
            raise

    def _list_access(self) -> Iterator[AccessRecord]:
        known: set[str] = set()
        for item in self._business_edge("business_users", BUSINESS_USER_FIELDS):
            account = business_user_record(item, self.name)
            known.add(account.external_id)
            yield account
        for item in self._business_edge("system_users", SYSTEM_USER_FIELDS):
            account = system_user_record(item, self.name)
            known.add(account.external_id)
            yield account
        for item in self._business_edge("owned_pages", PAGE_FIELDS):
            page_id = _text(item, "id", self.name, required=True) or ""
            yield ResourceRecord(external_id=page_id, kind=PAGE_KIND, name=_text(item, "name", self.name) or "")
            for assigned in self._edge(page_id, "assigned_users", ASSIGNED_USER_FIELDS, business=self.business_id):
                account, grant = assigned_user_records(assigned, page_id, self.name)
                if account.external_id not in known:
                    known.add(account.external_id)
                    yield account
                yield grant

    # -- Revoker --------------------------------------------------------------------------------

    def _revoke_target(self, grant: GrantRef) -> tuple[str, dict[str, str]]:
        if grant.resource_kind not in ("", PAGE_KIND):
            raise StopError(f"the Meta revoker removes page assignments only, not {grant.resource_kind!r}",
                            system=self.name)
        for value in (grant.resource_id, grant.account_id):
            if not _ID.fullmatch(value):
                raise RejectedError(f"{value!r} is not a Meta object id", system=self.name)
        return f"{grant.resource_id}/assigned_users", {"user": grant.account_id, "business": self.business_id}

    def preview_revoke(self, grant: GrantRef) -> RequestPreview:
        """The exact request ``revoke`` sends (the token travels in a header, never shown)."""
        path, params = self._revoke_target(grant)
        return RequestPreview(method="DELETE", url=self._client.url(path), params=params)

    def revoke(self, grant: GrantRef) -> RevokeResult:
        """Take the account off the page, reading the page first and after an ambiguous answer.

        The read before is what makes a repeat distinguishable: Meta may answer a removal of
        someone no longer assigned with ``success: true`` (unverified), which would otherwise be
        recorded as "done" although nothing was removed.
        """
        path, params = self._revoke_target(grant)
        try:
            if not self._still_assigned(grant, "before removal"):
                return RevokeResult(RevokeOutcome.already_gone, "not assigned to the page (checked before removal)")
            try:
                body = self._client.send_json("DELETE", path, params=params)
            except (NotFoundError, GraphRejectedError) as exc:
                if isinstance(exc, GraphRejectedError) and exc.code != 100:
                    raise
                return self._settle_ambiguous(grant, exc)
            return self._success(body)
        except ConnectorError as exc:
            self._scrub(exc)
            raise

    def _success(self, body: JSONDict | None) -> RevokeResult:
        if body is None or not isinstance(body.get("success"), bool):
            raise MalformedResponseError("removal answered without 'success'", system=self.name,
                                         detail=str(body)[:200])
        if not body["success"]:
            raise RejectedError("Meta answered success=false to the removal", system=self.name,
                                detail=str(body)[:200])
        return RevokeResult(RevokeOutcome.done, "removed from the page")

    def _settle_ambiguous(self, grant: GrantRef, exc: ConnectorError) -> RevokeResult:
        """Code 100 on DELETE: gone if the page no longer lists the user, else Meta's refusal."""
        if not self._still_assigned(grant, f"after Meta answered: {exc.detail}"):
            return RevokeResult(RevokeOutcome.already_gone, f"not assigned to the page: {exc.detail}")
        raise RejectedError(f"Meta refused to remove {grant.account_id} from page {grant.resource_id}: "
                            f"{exc.detail}", system=self.name, detail=exc.detail, status=exc.status) from exc

    def _still_assigned(self, grant: GrantRef, context: str) -> bool:
        """Whether the page lists the account; a page we cannot read is never "already gone"."""
        try:
            return self._is_assigned(grant.resource_id, grant.account_id)
        except NotFoundError as exc:
            raise RejectedError(
                f"cannot confirm removal {context}: page {grant.resource_id} is not visible to this token "
                "(deleted, or access lost)", system=self.name, detail=exc.detail, status=exc.status,
            ) from exc

    def _is_assigned(self, page_id: str, user_id: str) -> bool:
        return any(item.get("id") == user_id
                   for item in self._edge(page_id, "assigned_users", "id", business=self.business_id))
