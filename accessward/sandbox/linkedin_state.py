"""In-memory state of the LinkedIn ``organizationAcls`` simulator: organizations, ACL rows, tokens.

Tests seed a ``LinkedInState``, run the app from ``sandbox.linkedin`` on loopback and inspect the
state afterwards (which ACLs are REVOKED, which writes arrived). The state also carries the
switches for what LinkedIn's public docs leave open (reference/social-apis.md, section 2), each
**unverified** and switchable so both answers can be tested:

- ``accepted_method``: whether a revoke is accepted as a PUT of the whole entity or as a Rest.li
  partial update (``POST`` + ``X-RestLi-Method: PARTIAL_UPDATE``); the other one answers as an
  unsupported method, per ``unsupported_answer`` (HTTP 405, or HTTP 400 naming the operation).
- ``repeat_revoke``: writing REVOKED to a row already REVOKED is a no-op (204) or a 404.
- ``include_total``: whether finder answers carry ``paging.total``.
- ``decorate_names``: whether the token may read the members' names through the documented
  decoration of ``roleAssignee`` (``projection=(elements*(*,roleAssignee~(localizedFirstName,
  localizedLastName)))``); when it may not, each element carries a ``roleAssignee!`` error instead
  of ``roleAssignee~`` (Rest.li's shape for a failed decoration; unverified for this resource).
- ``projection_supported``: False answers any projection 400 (a version that refuses it).

Member ids are opaque, as LinkedIn's are (``urn:li:person:Rm4Wc9LpQe``): a name is learnt through
the decoration only, never read off the URN. ``add_person`` makes one with a name.

Faults: throttling (429, optionally with ``Retry-After``), 5xx, an HTML login page, a redirect, a
body without ``elements``, an element without ``roleAssignee``, a token expiring mid-run and a
"lost write" (204 without effect). The clock is the Meta simulator's controllable ``Clock``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import math
import re
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from accessward.sandbox.clock import Clock

__all__ = [
    "ADMIN", "ROLES", "STATES", "Acl", "Clock", "Fault", "FaultKind", "LinkedInError", "LinkedInState",
    "Organization", "RecordedCall", "RepeatRevoke", "RevokeMethod", "TokenInfo", "UnsupportedAnswer",
    "WriteOutcome", "month_version",
]

ADMIN = "ADMINISTRATOR"
ROLES = (
    "ADMINISTRATOR", "DIRECT_SPONSORED_CONTENT_POSTER", "RECRUITING_POSTER", "LEAD_CAPTURE_ADMINISTRATOR",
    "LEAD_GEN_FORMS_MANAGER", "ANALYST", "CURATOR", "CONTENT_ADMINISTRATOR",
)
#: APPROVED/REJECTED/REQUESTED are documented; REVOKED appears in third-party schemas (unverified).
STATES = ("APPROVED", "REJECTED", "REQUESTED", "REVOKED")
RW_SCOPE = "rw_organization_admin"
R_SCOPE = "r_organization_admin"
DEFAULT_SCOPES = frozenset({RW_SCOPE})
#: How many months a version stays active. LinkedIn supports each monthly version for at least a year.
VERSION_MONTHS = 12
THROTTLE_MESSAGE = "Resource level throttle APPLICATION DAY limit for calls to this resource is reached."
_VERSION = re.compile(r"(\d{4})(\d{2})(?:\.\d{2})?")


class LinkedInError(Exception):
    """An error answered as ``{"status", "serviceErrorCode", "message"}`` (plus ``code`` when set)."""

    def __init__(self, status: int, message: str, *, service_code: int | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.service_code = service_code if service_code is not None else status
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "serviceErrorCode": self.service_code, "message": self.message}
        if self.code:
            out["code"] = self.code
        return out


class RevokeMethod(StrEnum):
    """How a revoke reaches the ACL's compound key (which one LinkedIn accepts is unverified)."""

    put = "PUT"  # PUT of the whole entity with "state": "REVOKED"
    partial_update = "PARTIAL_UPDATE"  # POST + X-RestLi-Method: PARTIAL_UPDATE, {"patch": {"$set": {...}}}


class UnsupportedAnswer(StrEnum):
    """What a method the resource does not support gets (unverified)."""

    method_not_allowed = "405"  # HTTP 405
    bad_request = "400"  # HTTP 400 "... operation is not supported ..."


class RepeatRevoke(StrEnum):
    """What writing REVOKED to a row that is already REVOKED answers (unverified)."""

    no_op = "no_op"  # 204, nothing changes
    not_found = "not_found"  # 404, as if a revoked row had no key any more


class FaultKind(StrEnum):
    throttle = "throttle"  # HTTP 429 with the JSON error body (Retry-After only when asked)
    server_error = "server_error"  # HTTP 500 with a JSON error body
    html = "html"  # HTTP 200 text/html login page
    redirect = "redirect"  # HTTP 302 to the LinkedIn login page
    no_elements = "no_elements"  # HTTP 200 JSON without "elements"
    broken_element = "broken_element"  # HTTP 200, one element without "roleAssignee"
    expire_token = "expire_token"  # the presented token expires just before this call is checked
    lost_write = "lost_write"  # a write answers 204 but changes nothing


@dataclass
class Fault:
    """A fault active for calls ``first_call`` .. ``first_call + times - 1`` (1-based call numbers)."""

    kind: FaultKind
    first_call: int
    times: int = 1
    retry_after: int | None = None

    def covers(self, call: int) -> bool:
        return self.first_call <= call < self.first_call + self.times


@dataclass
class TokenInfo:
    value: str
    member: str  # the person URN the token acts for
    expires_at: datetime | None = None
    revoked: bool = False
    scopes: frozenset[str] = DEFAULT_SCOPES


@dataclass
class Organization:
    id: int
    name: str
    vanity_name: str = ""

    @property
    def urn(self) -> str:
        return f"urn:li:organization:{self.id}"

    def fields(self) -> dict[str, Any]:
        return {"id": self.id, "localizedName": self.name, "vanityName": self.vanity_name,
                "name": {"localized": {"en_US": self.name}, "preferredLocale": {"country": "US", "language": "en"}}}


@dataclass
class Acl:
    organization: str
    role: str
    role_assignee: str
    state: str
    created: int  # epoch milliseconds
    last_modified: int
    actor: str

    @property
    def key(self) -> tuple[str, str, str]:
        return self.organization, self.role, self.role_assignee

    def element(self) -> dict[str, Any]:
        return {
            "organization": self.organization, "roleAssignee": self.role_assignee, "role": self.role,
            "state": self.state, "created": {"actor": self.actor, "time": self.created},
            "lastModified": {"actor": self.actor, "time": self.last_modified},
        }


@dataclass
class RecordedCall:
    """One request as the simulator saw it; the access token is never recorded."""

    call: int
    method: str
    path: str  # percent-decoded
    params: dict[str, str]
    headers: dict[str, str]  # LinkedIn-Version, X-Restli-Protocol-Version, X-RestLi-Method when sent
    body: Any = None
    status: int = 0
    service_code: int | None = None


class WriteOutcome(StrEnum):
    updated = "updated"
    not_found = "not_found"
    unchanged = "unchanged"  # already in that state
    last_admin = "last_admin"


def month_version(when: datetime, months_back: int = 0) -> str:
    """The ``YYYYMM`` version string ``months_back`` months before ``when``'s month."""
    index = when.year * 12 + (when.month - 1) - months_back
    return f"{index // 12:04d}{index % 12 + 1:02d}"


def _millis(when: datetime) -> int:
    return int(when.timestamp() * 1000)


class LinkedInState:
    """Everything the LinkedIn simulator knows, guarded by one lock (the server runs in its own thread)."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        accepted_method: RevokeMethod = RevokeMethod.put,
        unsupported_answer: UnsupportedAnswer = UnsupportedAnswer.method_not_allowed,
        repeat_revoke: RepeatRevoke = RepeatRevoke.no_op,
        include_total: bool = True,
        active_versions: set[str] | None = None,
        max_count: int = 100,
        decorate_names: bool = True,
        projection_supported: bool = True,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self.accepted_method = accepted_method
        self.unsupported_answer = unsupported_answer
        self.repeat_revoke = repeat_revoke
        self.include_total = include_total
        self.active_versions = active_versions  # None: the last VERSION_MONTHS months by the clock
        self.max_count = max_count
        self.decorate_names = decorate_names
        self.projection_supported = projection_supported  # False: any projection is answered 400
        self.people: dict[str, tuple[str, str]] = {}  # person URN -> (first name, last name)
        self._person_ids = itertools.count(1)
        self.organizations: dict[int, Organization] = {}
        self.tokens: dict[str, TokenInfo] = {}
        self.acls: dict[tuple[str, str, str], Acl] = {}  # insertion order is the listing order
        self.requests: list[RecordedCall] = []
        self.faults: list[Fault] = []
        self.calls = 0
        self._ids = itertools.count(10_000_001)
        self._rate_limit: tuple[int, float] | None = None
        self._window: deque[datetime] = deque()

    # -- seeding --------------------------------------------------------------------------------

    def add_organization(self, name: str, *, org_id: int | None = None, vanity_name: str = "") -> Organization:
        with self.lock:
            oid = org_id if org_id is not None else next(self._ids)
            org = Organization(oid, name, vanity_name or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"))
            self.organizations[oid] = org
            return org

    def add_token(self, value: str, member: str, *, ttl_seconds: float | None = None,
                  scopes: frozenset[str] = DEFAULT_SCOPES) -> TokenInfo:
        expires = self.clock.now() + timedelta(seconds=ttl_seconds) if ttl_seconds is not None else None
        with self.lock:
            info = TokenInfo(value, member, expires_at=expires, scopes=scopes)
            self.tokens[value] = info
            return info

    def add_person(self, first: str, last: str, *, urn: str | None = None) -> str:
        """A LinkedIn member with a name and an opaque id (like LinkedIn's, it says nothing of the name)."""
        with self.lock:
            if urn is None:
                digest = hashlib.sha256(f"{first} {last} {next(self._person_ids)}".encode()).digest()
                urn = "urn:li:person:" + base64.urlsafe_b64encode(digest)[:10].decode().replace("-", "x").replace(
                    "_", "z")
            self.people[urn] = (first, last)
            return urn

    def decoration(self, urn: str) -> dict[str, Any] | None:
        """What ``roleAssignee~(localizedFirstName,localizedLastName)`` answers for ``urn`` (None: unknown)."""
        name = self.people.get(urn)
        if name is None:
            return None
        return {"localizedFirstName": name[0], "localizedLastName": name[1]}

    def create_acl(self, key: tuple[str, str, str], actor: str) -> Acl:
        """A PUT to a key that has no row yet: a new APPROVED role (an admin adding someone)."""
        with self.lock:
            return self.add_acl(key[0], key[2], key[1], actor=actor)

    def add_acl(self, organization: Organization | str, assignee: str, role: str, state: str = "APPROVED",
                *, actor: str | None = None) -> Acl:
        """Give ``assignee`` (a person URN) ``role`` on the organization, in ``state``."""
        org_urn = organization.urn if isinstance(organization, Organization) else organization
        if role not in ROLES:
            raise ValueError(f"not a LinkedIn organization role: {role}")
        if state not in STATES:
            raise ValueError(f"not an ACL state: {state}")
        now = _millis(self.clock.now())
        with self.lock:
            acl = Acl(org_urn, role, assignee, state, now, now, actor or assignee)
            self.acls[acl.key] = acl
            return acl

    # -- lookups --------------------------------------------------------------------------------

    def organization_by_urn(self, urn: str) -> Organization | None:
        match = re.fullmatch(r"urn:li:organization:(\d+)", urn)
        return self.organizations.get(int(match.group(1))) if match else None

    def find(self, *, organization: str | None = None, assignee: str | None = None, role: str | None = None,
             state: str | None = None) -> list[Acl]:
        with self.lock:
            return [a for a in self.acls.values()
                    if (organization is None or a.organization == organization)
                    and (assignee is None or a.role_assignee == assignee)
                    and (role is None or a.role == role) and (state is None or a.state == state)]

    def acl_state(self, organization: Organization | str, role: str, assignee: str) -> str | None:
        """The state of one ACL row (None: no such key), for assertions."""
        org_urn = organization.urn if isinstance(organization, Organization) else organization
        with self.lock:
            acl = self.acls.get((org_urn, role, assignee))
            return acl.state if acl else None

    def is_admin(self, member: str, org_urn: str) -> bool:
        return bool(self.find(organization=org_urn, assignee=member, role=ADMIN, state="APPROVED"))

    @property
    def writes(self) -> list[RecordedCall]:
        """Every request to an ACL's compound key (PUT, POST, DELETE...), whatever it answered."""
        with self.lock:
            return [r for r in self.requests if r.path.startswith("/rest/organizationAcls/")]

    def calls_to(self, path: str, method: str = "GET") -> list[RecordedCall]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    # -- the write ------------------------------------------------------------------------------

    def set_state(self, key: tuple[str, str, str], state: str, actor: str) -> WriteOutcome:
        """Move one ACL to ``state``, unless it would leave the organization with no APPROVED admin."""
        with self.lock:
            acl = self.acls.get(key)
            if acl is None:
                return WriteOutcome.not_found
            if acl.state == state:
                return WriteOutcome.unchanged
            if acl.role == ADMIN and acl.state == "APPROVED":
                others = [a for a in self.find(organization=acl.organization, role=ADMIN, state="APPROVED")
                          if a.role_assignee != acl.role_assignee]
                if not others:
                    return WriteOutcome.last_admin
            acl.state = state
            acl.last_modified = _millis(self.clock.now())
            acl.actor = actor
            return WriteOutcome.updated

    # -- versions -------------------------------------------------------------------------------

    @property
    def latest_version(self) -> str:
        """The newest active ``LinkedIn-Version`` (what a client should send)."""
        if self.active_versions:
            return max(self.active_versions)
        return month_version(self.clock.now())

    def check_version(self, value: str | None) -> None:
        if not value:
            raise LinkedInError(400, "A version must be present. Please specify a version by adding the "
                                     "LinkedIn-Version header.", code="VERSION_MISSING")
        match = _VERSION.fullmatch(value.strip())
        month = f"{match.group(1)}{match.group(2)}" if match else None
        if self.active_versions is not None:
            active = month is not None and (value.strip() in self.active_versions or month in self.active_versions)
        else:
            now = self.clock.now()
            active = month is not None and month_version(now, VERSION_MONTHS) <= month <= month_version(now)
        if not active:
            raise LinkedInError(426, f"Requested version {value} is not active", code="NONEXISTENT_VERSION")

    # -- tokens ---------------------------------------------------------------------------------

    def expire_token(self, value: str | None = None) -> None:
        with self.lock:
            for info in self._tokens_named(value):
                info.expires_at = self.clock.now() - timedelta(seconds=1)

    def revoke_token(self, value: str | None = None) -> None:
        with self.lock:
            for info in self._tokens_named(value):
                info.revoked = True

    def _tokens_named(self, value: str | None) -> list[TokenInfo]:
        return list(self.tokens.values()) if value is None else [self.tokens[value]]

    def check_token(self, value: str | None) -> TokenInfo:
        """The token's info, or the 401 LinkedIn answers (service codes 65601/65602 are unverified)."""
        if not value:
            raise LinkedInError(401, "Empty oauth2_access_token", service_code=401)
        info = self.tokens.get(value)
        if info is None:
            raise LinkedInError(401, "Invalid access token", service_code=65600)
        if info.revoked:
            raise LinkedInError(401, "The token used in the request has been revoked by the user",
                                service_code=65602)
        if info.expires_at is not None and info.expires_at <= self.clock.now():
            raise LinkedInError(401, "The token used in the request has expired", service_code=65601)
        return info

    # -- faults and rate limits -----------------------------------------------------------------

    def inject(self, kind: FaultKind, *, at_call: int | None = None, times: int = 1,
               retry_after: int | None = None) -> Fault:
        """Make calls ``at_call`` .. ``at_call + times - 1`` fail (default: the next ``times`` calls)."""
        with self.lock:
            fault = Fault(kind, at_call if at_call is not None else self.calls + 1, times, retry_after)
            self.faults.append(fault)
            return fault

    def throttle(self, *, at_call: int | None = None, times: int = 1, retry_after: int | None = None) -> Fault:
        return self.inject(FaultKind.throttle, at_call=at_call, times=times, retry_after=retry_after)

    def fail_server(self, *, at_call: int | None = None, times: int = 1) -> Fault:
        return self.inject(FaultKind.server_error, at_call=at_call, times=times)

    def expire_token_at(self, call: int) -> Fault:
        return self.inject(FaultKind.expire_token, at_call=call)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()
            self._rate_limit = None
            self._window.clear()

    def active_fault(self, call: int, kinds: set[FaultKind]) -> Fault | None:
        with self.lock:
            return next((f for f in self.faults if f.kind in kinds and f.covers(call)), None)

    def set_rate_limit(self, max_calls: int, *, window_seconds: float = 60.0) -> None:
        """Answer 429 (with Retry-After) once more than ``max_calls`` calls fall within the clock window."""
        with self.lock:
            self._rate_limit = (max_calls, window_seconds)
            self._window.clear()

    def rate_limited(self) -> int | None:
        """Seconds until the window frees a slot if this call is over budget, else count it and None."""
        with self.lock:
            if self._rate_limit is None:
                return None
            max_calls, window = self._rate_limit
            now = self.clock.now()
            while self._window and (now - self._window[0]).total_seconds() >= window:
                self._window.popleft()
            if len(self._window) >= max_calls:
                return max(1, math.ceil(window - (now - self._window[0]).total_seconds()))
            self._window.append(now)
            return None

    # -- request log ----------------------------------------------------------------------------

    def begin_call(self, method: str, path: str, params: dict[str, str], headers: dict[str, str],
                   body: Any) -> RecordedCall:
        with self.lock:
            self.calls += 1
            record = RecordedCall(self.calls, method, path, dict(params), dict(headers), body)
            self.requests.append(record)
            return record

