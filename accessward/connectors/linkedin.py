"""LinkedIn organization access (Community Management API, ``/rest/organizationAcls``) and revocation.

Reads the organization's name (``GET /rest/organizations/{id}``), then every ACL row with the
``q=organization`` finder (``state=APPROVED``, ``start``/``count`` paging); revokes one role by
writing ``state: REVOKED`` to the ACL's compound key. Every call carries ``LinkedIn-Version`` and
``X-Restli-Protocol-Version: 2.0.0`` and goes through ``connectors.http.HttpClient`` with
``classify_linkedin_error`` (reference/social-apis.md, section 2).

Records: the organization is a ``ResourceRecord`` (kind ``linkedin_organization``, id its URN);
each member is an ``AccountRecord`` keyed by the person URN, with no email (LinkedIn gives none
here, so correlation cannot match them by email: the honest answer, not a gap to paper over) and
the member's name as ``display_name``, read through the documented decoration of ``roleAssignee``
(``projection=(elements*(*,roleAssignee~(localizedFirstName,localizedLastName)))``, "Organization
Access Control by Role"). Member ids are opaque, so the name is what ``report unmatched`` compares
to find the closest person. Where the token may not read a member's name, LinkedIn answers
``roleAssignee!`` (an error) in its place: that member has no name, nothing fails. A server that
refuses the projection itself (400 naming it, or 403) is asked again without it, once per
connector, and the names stay empty. Each APPROVED row is a ``GrantRecord`` with the role string
and its level.
REQUESTED rows are a member *asking* for a role and give no access; REJECTED and REVOKED rows
neither. They are skipped.

Role -> ladder (``ROLE_LEVELS``), by what the role lets a person do *as the brand*:

- ADMINISTRATOR -> admin (manages the page and its admins).
- CONTENT_ADMINISTRATOR, DIRECT_SPONSORED_CONTENT_POSTER -> full_publishing (posts as the brand,
  organic or sponsored, with nobody approving).
- RECRUITING_POSTER -> can_reply: publishes as the brand without approval, but only job posts.
- CURATOR -> needs_approval: suggests and curates content; does not post to the page itself.
- ANALYST, LEAD_GEN_FORMS_MANAGER, LEAD_CAPTURE_ADMINISTRATOR -> read_only: they read analytics
  or lead data (personal data, but no publishing). An unknown role is read_only too; the raw role
  string is kept on the grant so a report shows it.

Decisions, each chosen so that a failure can never look like "no access left":

- 401 (missing, invalid, expired or revoked token; service codes 65600-65602 are unverified, so
  any 401 counts) and 403 (not an admin, or a scope missing) -> ``AuthError``.
- 426, ``VERSION_MISSING``/``NONEXISTENT_VERSION``, or a 400 about the version or protocol header
  -> ``StopError``: configure a current ``LinkedIn-Version``.
- 429 and 5xx -> ``TransientError`` honouring ``Retry-After`` when sent (none is documented).
- 404 -> ``NotFoundError``; on the organization lookup it becomes ``StopError`` (wrong id or URL).
- 405, or a 400 saying the method/operation is not supported -> ``UnsupportedMethodError``.
- Paging follows ``paging.total`` when present (whether it always is, is unverified) and
  otherwise stops at a page shorter than the ``count`` the server says it used, so a server that
  caps ``count`` below what was asked never truncates the listing.

Revocation, all unverified in LinkedIn's docs and so built to accept every plausible answer:

- Which write LinkedIn accepts (a PUT of the entity, or ``POST`` + ``X-RestLi-Method:
  PARTIAL_UPDATE``) is unverified: the connector tries ``revoke_methods`` in order, drops one
  that is answered as unsupported, and remembers the one that worked (``preview_revoke`` shows it).
- The row is read first (not APPROVED -> ``already_gone``, nothing sent), since what a repeated
  REVOKED write answers is unverified. A 404 or a refusal is re-checked by reading again: gone ->
  ``already_gone``; still APPROVED -> ``RejectedError`` with LinkedIn's message (the last admin).
- After a 2xx the row is read again: a write that was answered "ok" but left the row APPROVED is
  a ``RejectedError``, never "done".

Reduce (an access review's "reduce", the ``Reducer`` protocol): LinkedIn has no "change role" call,
so a reduction adds the lower role (a PUT of the APPROVED entity to its compound key, how an admin
adds a role: "methods: PUT, roleAssignee FINDER, organization FINDER") and then revokes the old one
with ``revoke``; the new row is read back before the old one is touched, and if the old one cannot
be revoked (the last admin) the new one is revoked again, so a refused reduction leaves what was
there. The lower role per level: CONTENT_ADMINISTRATOR (full_publishing), RECRUITING_POSTER
(can_reply), CURATOR (needs_approval), ANALYST (read_only).

The token travels only in the ``Authorization`` header; it is scrubbed from any error leaving here.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
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
from accessward.connectors.revoke_confirm import TokenConnector, settle

log = logging.getLogger(__name__)

ORG_KIND = "linkedin_organization"
DEFAULT_BASE_URL = "https://api.linkedin.com/rest"
#: A monthly version; LinkedIn sunsets each about a year after release, so settings should override it.
DEFAULT_LINKEDIN_VERSION = "202603"
PROTOCOL_VERSION = "2.0.0"
ACL_PATH = "organizationAcls"
APPROVED = "APPROVED"
#: The documented decoration of roleAssignee: the member's localized names beside the URN.
NAME_PROJECTION = "(elements*(*,roleAssignee~(localizedFirstName,localizedLastName)))"
#: The role a reduction to each level sets (one per level; the highest role of that level that publishes least).
REDUCED_ROLES: dict[Level, str] = {
    Level.full_publishing: "CONTENT_ADMINISTRATOR",
    Level.can_reply: "RECRUITING_POSTER",
    Level.needs_approval: "CURATOR",
    Level.read_only: "ANALYST",
}

ROLE_LEVELS: dict[str, Level] = {
    "ADMINISTRATOR": Level.admin,
    "CONTENT_ADMINISTRATOR": Level.full_publishing,
    "DIRECT_SPONSORED_CONTENT_POSTER": Level.full_publishing,
    "RECRUITING_POSTER": Level.can_reply,
    "CURATOR": Level.needs_approval,
    "ANALYST": Level.read_only,
    "LEAD_GEN_FORMS_MANAGER": Level.read_only,
    "LEAD_CAPTURE_ADMINISTRATOR": Level.read_only,
}

_VERSION_CODES = frozenset({"VERSION_MISSING", "NONEXISTENT_VERSION", "VERSION_NOT_ACTIVE", "INVALID_VERSION"})
_UNSUPPORTED = re.compile(r"(method|operation).*(not (supported|allowed)|unsupported)"
                          r"|(not (supported|allowed)|unsupported).*(method|operation)", re.IGNORECASE)
_ORG_URN = re.compile(r"urn:li:organization:(\d+)")
_MEMBER_URN = re.compile(r"urn:li:(person|member):[A-Za-z0-9_-]+")
_ROLE = re.compile(r"[A-Z][A-Z_]*")


class RevokeMethod(StrEnum):
    put = "PUT"  # PUT /organizationAcls/(key) with the whole entity, "state": "REVOKED"
    partial_update = "PARTIAL_UPDATE"  # POST + X-RestLi-Method: PARTIAL_UPDATE, {"patch": {"$set": {...}}}


class LinkedInRejectedError(RejectedError):
    """A refusal (400, 409, 422...) whose message the revoker re-checks before recording it."""


class UnsupportedMethodError(RejectedError):
    """LinkedIn does not accept this HTTP / Rest.li method on the resource (405, or a 400 saying so)."""


# -- classification ------------------------------------------------------------------------------


def _error_fields(response: httpx.Response) -> tuple[str, int | None, str | None]:
    """(message, serviceErrorCode, code) of a LinkedIn error body; the raw text when it is not one."""
    try:
        body = response.json() if "json" in response.headers.get("content-type", "") else None
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        try:
            return response.text[:200], None, None
        except Exception:  # undecodable body: no message rather than a failed error path
            return "", None, None
    service = body.get("serviceErrorCode")
    code = body.get("code")
    return (str(body.get("message", "")), service if isinstance(service, int) else None,
            code if isinstance(code, str) else None)


def classify_linkedin_error(response: httpx.Response) -> ConnectorError | None:
    """Map a LinkedIn answer onto the error taxonomy by status (see the module docstring)."""
    status = response.status_code
    if status < 400:
        return None
    message, service, code = _error_fields(response)
    label = f"HTTP {status}" + (f", serviceErrorCode {service}" if service is not None else "") + (
        f", {code}" if code else "")
    kw: dict[str, Any] = {"detail": message, "status": status, "code": service if service is not None else code}
    lowered = message.lower()
    if status == 426 or code in _VERSION_CODES or (
            status == 400 and ("linkedin-version" in lowered or "x-restli-protocol-version" in lowered)):
        return StopError(f"LinkedIn refused the API version headers ({label}): {message}; configure a current "
                         "LinkedIn-Version (YYYYMM)", **kw)
    if status == 401:
        return AuthError(f"LinkedIn access token missing, invalid, expired or revoked ({label}): {message}. "
                         "The source is stopped; this is a credentials failure, not an empty listing", **kw)
    if status == 403:
        return AuthError(f"LinkedIn permission missing for this token ({label}): {message}. The member must be "
                         "an APPROVED ADMINISTRATOR and the token needs rw_organization_admin", **kw)
    if status == 429 or status >= 500:
        return TransientError(f"LinkedIn throttled or unavailable ({label}): {message}",
                              retry_after=parse_retry_after(response.headers.get("Retry-After")), **kw)
    if status == 404:
        return NotFoundError(f"LinkedIn: not found ({label}): {message}", **kw)
    if status == 405 or (status == 400 and _UNSUPPORTED.search(message)):
        return UnsupportedMethodError(f"LinkedIn does not support this method ({label}): {message}", **kw)
    return LinkedInRejectedError(f"LinkedIn refused ({label}): {message}", **kw)


# -- records -------------------------------------------------------------------------------------


def role_level(role: str) -> Level:
    """The ladder level of a LinkedIn organization role (unknown roles: read_only)."""
    return ROLE_LEVELS.get(role.upper(), Level.read_only)


@dataclass(frozen=True, slots=True)
class Acl:
    organization: str
    role: str
    role_assignee: str
    state: str
    name: str = ""  # from the roleAssignee decoration, when asked for and readable


def _localized(value: Any) -> str:
    """A localized name: a plain string, or ``{"localized": {"en_US": "..."}}``."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        localized = value.get("localized")
        if isinstance(localized, dict):
            return next((v.strip() for v in localized.values() if isinstance(v, str) and v.strip()), "")
    return ""


def decorated_name(element: JSONDict) -> str:
    """The member's name from ``roleAssignee~``; "" when absent or answered as ``roleAssignee!``."""
    decoration = element.get("roleAssignee~")
    if not isinstance(decoration, dict):
        return ""
    first = _localized(decoration.get("localizedFirstName") or decoration.get("firstName"))
    last = _localized(decoration.get("localizedLastName") or decoration.get("lastName"))
    return " ".join(part for part in (first, last) if part)


def parse_acl(element: JSONDict, system: str) -> Acl:
    """One ``organizationAcls`` element, every field a non-empty string, or MalformedResponseError."""
    values = {}
    for name in ("organization", "role", "roleAssignee", "state"):
        value = element.get(name)
        if not isinstance(value, str) or not value:
            # Keys only: an element names people.
            raise MalformedResponseError(f"organizationAcls element without {name!r}", system=system,
                                         detail=f"keys: {', '.join(sorted(map(str, element)))}")
        values[name] = value
    return Acl(values["organization"], values["role"], values["roleAssignee"], values["state"],
               decorated_name(element))


def organization_urn(organization_id: str | int) -> str:
    """``urn:li:organization:123`` from ``123``, ``"123"`` or the URN itself."""
    text = str(organization_id).strip()
    if text.isdigit():
        return f"urn:li:organization:{text}"
    if _ORG_URN.fullmatch(text):
        return text
    raise StopError(f"{organization_id!r} is not a LinkedIn organization id or URN")


def acl_key(organization: str, role: str, assignee: str) -> str:
    """The compound key path, URNs URL-encoded as Rest.li 2.0 requires."""
    org, member = quote(organization, safe=""), quote(assignee, safe="")
    return f"{ACL_PATH}/(organization:{org},role:{role},roleAssignee:{member})"


# -- the connector -------------------------------------------------------------------------------


class LinkedInOrganizationConnector(TokenConnector):
    """AccessSource and Revoker for one LinkedIn organization (company page)."""

    def __init__(
        self,
        name: str,
        base_url: str,
        organization_id: str | int,
        access_token: str,
        *,
        linkedin_version: str = DEFAULT_LINKEDIN_VERSION,
        page_size: int = 100,
        revoke_methods: Sequence[RevokeMethod] = (RevokeMethod.put, RevokeMethod.partial_update),
        max_pages: int = 10_000,
        decorate_names: bool = True,
        **http: Any,
    ) -> None:
        if not revoke_methods:
            raise ValueError("revoke_methods must name at least one method")
        self.name = name
        self.organization_urn = organization_urn(organization_id)
        self.organization_id = self.organization_urn.rsplit(":", 1)[1]
        self.linkedin_version = linkedin_version
        self._token = access_token
        self._page_size = page_size
        self._max_pages = max_pages
        self._methods = list(dict.fromkeys(RevokeMethod(m) for m in revoke_methods))
        self._decorate = decorate_names
        headers = {"LinkedIn-Version": linkedin_version, "X-Restli-Protocol-Version": PROTOCOL_VERSION}
        self._client = HttpClient(name, base_url, headers=headers, auth=self._auth_headers,
                                  classify=classify_linkedin_error, **http)

    def __repr__(self) -> str:
        return f"LinkedInOrganizationConnector(name={self.name!r}, organization={self.organization_urn!r})"

    @property
    def revoke_method(self) -> RevokeMethod:
        """The write the next revoke sends first (the one that last worked, once one has)."""
        return self._methods[0]

    # -- reading --------------------------------------------------------------------------------

    def _organization_name(self) -> str:
        try:
            body = self._client.get_json(f"organizations/{self.organization_id}")
        except NotFoundError as exc:
            raise StopError(f"LinkedIn organization {self.organization_urn} not found (or wrong base URL)",
                            system=self.name, detail=exc.detail, status=exc.status) from exc
        name = body.get("localizedName")
        if name is not None and not isinstance(name, str):
            raise MalformedResponseError("organization 'localizedName' is not a string", system=self.name)
        if "id" not in body and name is None:
            raise MalformedResponseError("organization answer has neither 'id' nor 'localizedName'",
                                         system=self.name, detail=f"keys: {', '.join(sorted(body))[:200]}")
        return name or ""

    def _named_acls(self, **filters: str) -> Iterator[Acl]:
        """``_acls`` with the members' names, unless the server refuses the projection (then without, once)."""
        if not self._decorate:
            yield from self._acls(**filters)
            return
        listed = 0
        try:
            for acl in self._acls(projection=NAME_PROJECTION, **filters):
                listed += 1
                yield acl
        except (LinkedInRejectedError, AuthError, UnsupportedMethodError) as exc:
            refused = exc.status == 403 or "projection" in exc.detail.lower() or "decorat" in exc.detail.lower()
            if listed or not refused:
                raise
            log.warning("%s: LinkedIn refused the roleAssignee decoration (%s); listing without member names",
                        self.name, exc.detail)
            self._decorate = False
            yield from self._acls(**filters)

    def _acls(self, **filters: str) -> Iterator[Acl]:
        """Every ACL row of the organization matching ``filters``, page by page, streaming."""
        start = 0
        for _ in range(self._max_pages):
            query = {"q": "organization", "organization": self.organization_urn, **filters,
                     "start": str(start), "count": str(self._page_size)}
            body = self._client.get_json(ACL_PATH, query)
            elements = require_list(body, "elements", self.name)
            total, used_count = self._paging(body)
            for element in elements:
                acl = parse_acl(element, self.name)
                if acl.organization != self.organization_urn:
                    raise MalformedResponseError(f"organizationAcls answered a row of {acl.organization}, "
                                                 f"not {self.organization_urn}", system=self.name)
                yield acl
            start += len(elements)
            if not elements:
                return
            if total is not None:
                if start >= total:
                    return
            elif len(elements) < used_count:
                return
        raise MalformedResponseError(f"more than {self._max_pages} pages of organizationAcls", system=self.name)

    def _paging(self, body: JSONDict) -> tuple[int | None, int]:
        """(``paging.total`` if given, the ``count`` the server says it used, else the one asked for)."""
        paging = body.get("paging")
        if paging is None:
            return None, self._page_size
        if not isinstance(paging, dict):
            raise MalformedResponseError("'paging' is not an object", system=self.name)
        total, count = paging.get("total"), paging.get("count")
        if total is not None and (not isinstance(total, int) or total < 0):
            raise MalformedResponseError("'paging.total' is not a count", system=self.name)
        used = count if isinstance(count, int) and 0 < count <= self._page_size else self._page_size
        return total, used

    # -- AccessSource ---------------------------------------------------------------------------

    def list_access(self) -> Iterator[AccessRecord]:
        """The organization, then each member (first time seen) followed by their APPROVED role."""
        try:
            yield from self._list_access()
        except ConnectorError as exc:
            self._scrub(exc)
            raise

    def _list_access(self) -> Iterator[AccessRecord]:
        yield ResourceRecord(external_id=self.organization_urn, kind=ORG_KIND, name=self._organization_name())
        seen: set[str] = set()
        for acl in self._named_acls(state=APPROVED):
            if acl.state != APPROVED:  # the filter is honoured by LinkedIn; this holds if it were not
                continue
            if acl.role_assignee not in seen:
                seen.add(acl.role_assignee)
                yield AccountRecord(external_id=acl.role_assignee, kind=AccountKind.human, display_name=acl.name)
            yield GrantRecord(account_id=acl.role_assignee, resource_id=self.organization_urn, role=acl.role,
                              level=role_level(acl.role))

    # -- Revoker --------------------------------------------------------------------------------

    def _check_target(self, grant: GrantRef) -> str:
        """The ACL key path of ``grant``, or why this connector cannot revoke it."""
        if grant.resource_kind not in ("", ORG_KIND):
            raise StopError(f"the LinkedIn revoker removes organization roles only, not {grant.resource_kind!r}",
                            system=self.name)
        if grant.resource_id != self.organization_urn:
            raise StopError(f"this LinkedIn revoker acts on {self.organization_urn}, not {grant.resource_id!r}",
                            system=self.name)
        if not _MEMBER_URN.fullmatch(grant.account_id):
            raise RejectedError(f"{grant.account_id!r} is not a LinkedIn person URN", system=self.name)
        if not _ROLE.fullmatch(grant.role):
            raise RejectedError(f"{grant.role!r} is not a LinkedIn organization role", system=self.name)
        return acl_key(self.organization_urn, grant.role, grant.account_id)

    def _request_for(self, method: RevokeMethod, grant: GrantRef) -> tuple[str, JSONDict, dict[str, str]]:
        """(HTTP method, JSON body, extra headers) of a REVOKED write."""
        if method is RevokeMethod.put:
            entity = {"organization": self.organization_urn, "role": grant.role,
                      "roleAssignee": grant.account_id, "state": "REVOKED"}
            return "PUT", entity, {}
        return "POST", {"patch": {"$set": {"state": "REVOKED"}}}, {"X-RestLi-Method": "PARTIAL_UPDATE"}

    def preview_revoke(self, grant: GrantRef) -> RequestPreview:
        """The exact request ``revoke`` sends first (the token travels in a header and is never shown)."""
        path = self._check_target(grant)
        http_method, body, extra = self._request_for(self.revoke_method, grant)
        headers = {"LinkedIn-Version": self.linkedin_version, "X-Restli-Protocol-Version": PROTOCOL_VERSION,
                   **extra}
        return RequestPreview(method=http_method, url=self._client.url(path), headers=headers,
                              body=json.dumps(body, separators=(",", ":")))

    def revoke(self, grant: GrantRef) -> RevokeResult:
        """Write REVOKED to the ACL, reading it before, after an ambiguous answer, and after success."""
        path = self._check_target(grant)
        try:
            if not self._is_approved(grant, "before revoking"):
                return RevokeResult(RevokeOutcome.already_gone,
                                    f"{grant.role} is not APPROVED (checked before revoking)")
            unsupported: list[UnsupportedMethodError] = []
            for method in list(self._methods):
                http_method, body, extra = self._request_for(method, grant)
                try:
                    response = self._client.request(http_method, path, json_body=body, headers=extra)
                except UnsupportedMethodError as exc:
                    unsupported.append(exc)
                    continue
                except (NotFoundError, LinkedInRejectedError) as exc:
                    return self._settle_ambiguous(grant, exc)
                self._prefer(method)
                self._check_write_answer(response)
                return self._confirm(grant, method)
            raise StopError(
                "LinkedIn accepted none of the revoke methods " + ", ".join(m.value for m in self._methods)
                + ": " + "; ".join(e.detail for e in unsupported), system=self.name,
                detail=unsupported[-1].detail if unsupported else "",
            )
        except ConnectorError as exc:
            self._scrub(exc)
            raise

    def _prefer(self, method: RevokeMethod) -> None:
        """Send ``method`` first from now on: the others were answered as unsupported."""
        self._methods = [method] + [m for m in self._methods if m is not method]

    def _check_write_answer(self, response: httpx.Response) -> None:
        """A 2xx write answers 204, or JSON; an HTML page with 200 is not LinkedIn's answer."""
        if response.status_code != 204 and response.content:
            expect_json_object(response, self.name)

    def _confirm(self, grant: GrantRef, method: RevokeMethod) -> RevokeResult:
        if self._is_approved(grant, "after LinkedIn accepted the write"):
            raise RejectedError(f"LinkedIn accepted the {method.value} write but {grant.account_id} still holds "
                                f"{grant.role} (APPROVED)", system=self.name)
        return RevokeResult(RevokeOutcome.done, f"{grant.role} set to REVOKED ({method.value})")

    def _settle_ambiguous(self, grant: GrantRef, exc: ConnectorError) -> RevokeResult:
        """404 or a refusal: already gone if the row is no longer APPROVED, else LinkedIn's refusal."""
        return settle(self._is_approved(grant, f"after LinkedIn answered: {exc.detail}"),
                      gone=f"{grant.role} is not APPROVED: {exc.detail}",
                      refused=f"LinkedIn refused to revoke {grant.role} of {grant.account_id}: {exc.detail}",
                      system=self.name, cause=exc)

    def _is_approved(self, grant: GrantRef, context: str) -> bool:
        """Whether the organization lists the ACL as APPROVED; an unreadable org is never "gone"."""
        try:
            return any(acl.role_assignee == grant.account_id and acl.role == grant.role and acl.state == APPROVED
                       for acl in self._acls(role=grant.role, state=APPROVED))
        except NotFoundError as exc:
            raise RejectedError(f"cannot confirm the ACL {context}: {self.organization_urn} is not readable",
                                system=self.name, detail=exc.detail, status=exc.status) from exc

    # -- Reducer --------------------------------------------------------------------------------

    def reduce_roles(self, grant: GrantRef) -> Mapping[Level, str]:
        """One lower role per level below the grant's (``REDUCED_ROLES``)."""
        current = role_level(grant.role)
        return {level: role for level, role in REDUCED_ROLES.items() if level < current and role != grant.role}

    def _grant_request(self, grant: GrantRef, role: str) -> tuple[str, JSONDict]:
        if role not in self.reduce_roles(grant).values():
            raise RejectedError(f"{role!r} is not a lower LinkedIn role than {grant.role} "
                                f"(lower: {', '.join(self.reduce_roles(grant).values()) or 'none'})", system=self.name)
        self._check_target(grant)
        lower = GrantRef(grant.account_id, grant.resource_id, role, grant.resource_kind, grant.account_kind)
        entity = {"organization": self.organization_urn, "role": role, "roleAssignee": grant.account_id,
                  "state": APPROVED}
        return self._check_target(lower), entity

    def preview_reduce(self, grant: GrantRef, role: str) -> Sequence[RequestPreview]:
        """The PUT that adds the lower role, then the write that revokes the old one."""
        path, entity = self._grant_request(grant, role)
        headers = {"LinkedIn-Version": self.linkedin_version, "X-Restli-Protocol-Version": PROTOCOL_VERSION}
        add = RequestPreview(method="PUT", url=self._client.url(path), headers=headers,
                             body=json.dumps(entity, separators=(",", ":")))
        return [add, self.preview_revoke(grant)]

    def reduce(self, grant: GrantRef, role: str) -> RevokeResult:
        """Add ``role``, read it back, revoke the old role; undo the addition if the revocation is refused."""
        path, entity = self._grant_request(grant, role)
        lower = GrantRef(grant.account_id, grant.resource_id, role, grant.resource_kind, grant.account_kind)
        try:
            if not self._is_approved(grant, "before reducing"):
                return RevokeResult(RevokeOutcome.already_gone, f"{grant.role} is not APPROVED (checked before "
                                                                "reducing)")
            added = False
            if not self._is_approved(lower, "before adding the lower role"):
                response = self._client.request("PUT", path, json_body=entity)
                self._check_write_answer(response)
                if not self._is_approved(lower, "after adding the lower role"):
                    raise RejectedError(f"LinkedIn accepted the PUT but {grant.account_id} does not hold {role}; "
                                        f"{grant.role} was left alone", system=self.name)
                added = True
            try:
                self.revoke(grant)
            except ConnectorError:
                if added:
                    self.revoke(lower)  # leave what was there: the reduction did not happen
                raise
            return RevokeResult(RevokeOutcome.done, f"{role} added, then {grant.role} revoked")
        except ConnectorError as exc:
            self._scrub(exc)
            raise


# -- accessward check: in linkedin_check (re-exported here, where the CLI and the tests import it) ---
from accessward.connectors.linkedin_check import check as check  # noqa: E402
