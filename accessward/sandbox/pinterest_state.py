"""The Pinterest simulator's state (``sandbox.pinterest``): the business, its members, partners, tokens,
faults and the request log.

Split out of ``sandbox.pinterest`` (which re-exports every name here) so the routes and what they
act on read apart, as ``graph``/``graph_state`` do. What the routes answer is described in
``sandbox.pinterest``'s docstring.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from accessward.sandbox.clock import Clock

API_VERSION = "v5"
DEMO_TOKEN = "demo-pinterest-token"
DEMO_BUSINESS_ID = "549755885175"
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 250
MAX_BATCH = 50
READ_SCOPE, WRITE_SCOPE = "biz_access:read", "biz_access:write"
ALL_SCOPES = frozenset({READ_SCOPE, WRITE_SCOPE})
MEMBER_ROLES = ("EMPLOYEE", "BIZ_ADMIN")
PARTNER_TYPES = ("INTERNAL", "EXTERNAL")

# Sample error codes (unverified): Pinterest documents the {code, message} shape, not the values.
CODE_INVALID, CODE_AUTH, CODE_FORBIDDEN, CODE_NOT_FOUND, CODE_RATE, CODE_SERVER = 1, 2, 3, 4, 8, 9
CODE_METHOD = 405
LAST_ADMIN_MESSAGE = "A business must keep at least one admin. Make another member an admin first."


class PinterestError(Exception):
    """An error answered as ``{"code": …, "message": …}`` with an HTTP status."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class RepeatMemberDelete(StrEnum):
    """What DELETE members answers for someone not in the business (unverified)."""

    omit = "omit"  # 200, left out of deleted_members
    echo = "echo"  # 200, listed in deleted_members as if deleted
    not_found = "not_found"  # 404 for the whole request


class LastAdmin(StrEnum):
    """What DELETE members answers when it would leave no BIZ_ADMIN (unverified)."""

    error = "error"  # 400 with LAST_ADMIN_MESSAGE, nothing removed
    silent = "silent"  # 200, the admin left out of deleted_members


class BookmarkEnd(StrEnum):
    """How the last page says it is the last (the spec: null or absent)."""

    null = "null"
    absent = "absent"
    empty = "empty"


class FaultKind(StrEnum):
    throttle = "throttle"  # 429 {code, message}, Retry-After / X-RateLimit-Reset as configured
    server_error = "server_error"  # 503 {code, message}
    html = "html"  # 200 text/html login page
    redirect = "redirect"  # 302 to a login page
    no_items = "no_items"  # 200 JSON object without "items"
    expire_token = "expire_token"  # the presented token expires just before this call


@dataclass
class PinterestFault:
    kind: FaultKind
    first_call: int
    times: int = 1
    retry_after: float | None = None
    reset_seconds: int | None = None

    def covers(self, call: int) -> bool:
        return self.first_call <= call < self.first_call + self.times


@dataclass
class TokenInfo:
    value: str
    scopes: frozenset[str] = ALL_SCOPES
    is_admin: bool = True  # the token's user is a BIZ_ADMIN of the business: may remove people
    expires_at: datetime | None = None


@dataclass
class Member:
    """A person or system user of the business; ``assets`` maps asset id -> permissions."""

    id: str
    username: str
    email: str
    business_roles: list[str]
    system: bool = False
    assets: dict[str, list[str]] = field(default_factory=dict)
    created_time: int = 1_680_000_000_000


@dataclass
class Partner:
    """A partner business: INTERNAL (it reaches our assets) or EXTERNAL (we reach its assets)."""

    id: str
    username: str
    email: str
    partner_type: str
    assets: dict[str, list[str]] = field(default_factory=dict)
    created_time: int = 1_690_000_000_000


@dataclass
class PinterestCall:
    """One request as the simulator saw it; the token is never recorded."""

    call: int
    method: str
    path: str
    params: dict[str, str]
    body: Any = None
    status: int = 0


class PinterestState:
    """Everything the simulator knows, under one lock (the server runs in its own thread)."""

    def __init__(
        self,
        business_id: str = DEMO_BUSINESS_ID,
        business_name: str = "Demo Business",
        *,
        clock: Clock | None = None,
        repeat_member_delete: RepeatMemberDelete = RepeatMemberDelete.omit,
        last_admin: LastAdmin = LastAdmin.error,
        bookmark_end: BookmarkEnd = BookmarkEnd.null,
    ) -> None:
        self.lock = threading.RLock()
        self.business_id = business_id
        self.business_name = business_name
        self.clock = clock or Clock()
        self.repeat_member_delete = repeat_member_delete
        self.last_admin = last_admin
        self.bookmark_end = bookmark_end
        self.tokens: dict[str, TokenInfo] = {}
        self.members: dict[str, Member] = {}
        self.partners: dict[str, Partner] = {}
        self.asset_types: dict[str, str] = {}  # asset id -> "ad_accounts" | "profiles"
        self.requests: list[PinterestCall] = []
        self.faults: list[PinterestFault] = []
        self.calls = 0
        self._ids = itertools.count(int(business_id) + 1 if business_id.isdigit() else 900_000_000_001)

    # -- seeding ------------------------------------------------------------------------------

    def new_id(self) -> str:
        with self.lock:
            while True:
                candidate = str(next(self._ids))
                if candidate not in self.members and candidate not in self.partners:
                    return candidate

    def add_token(self, value: str, *, scopes: frozenset[str] = ALL_SCOPES, is_admin: bool = True,
                  ttl_seconds: float | None = None) -> TokenInfo:
        expires = self.clock.now() + timedelta(seconds=ttl_seconds) if ttl_seconds is not None else None
        with self.lock:
            info = self.tokens[value] = TokenInfo(value, scopes, is_admin, expires)
            return info

    def add_asset(self, kind: str, asset_id: str | None = None) -> str:
        """Register an asset (``ad_accounts`` or ``profiles``) and return its id."""
        if kind not in ("ad_accounts", "profiles"):
            raise ValueError(f"unknown asset kind {kind!r}")
        with self.lock:
            aid = asset_id or self.new_id()
            self.asset_types[aid] = kind
            return aid

    def add_member(self, username: str, email: str, *, role: str = "EMPLOYEE", system: bool = False,
                   assets: dict[str, list[str]] | None = None, member_id: str | None = None) -> Member:
        if role not in MEMBER_ROLES:
            raise ValueError(f"not a member role: {role}")
        with self.lock:
            member = Member(member_id or self.new_id(), username, email, [role], system, dict(assets or {}))
            self.members[member.id] = member
            return member

    def add_partner(self, username: str, email: str, *, partner_type: str = "INTERNAL",
                    assets: dict[str, list[str]] | None = None, partner_id: str | None = None) -> Partner:
        if partner_type not in PARTNER_TYPES:
            raise ValueError(f"not a partner type: {partner_type}")
        with self.lock:
            partner = Partner(partner_id or self.new_id(), username, email, partner_type, dict(assets or {}))
            self.partners[partner.id] = partner
            return partner

    # -- lookups for tests --------------------------------------------------------------------

    def is_member(self, member_id: str) -> bool:
        with self.lock:
            return member_id in self.members

    def is_partner(self, partner_id: str) -> bool:
        with self.lock:
            return partner_id in self.partners

    @property
    def writes(self) -> list[PinterestCall]:
        """Every non-GET request that reached the simulator, whatever it answered."""
        with self.lock:
            return [r for r in self.requests if r.method != "GET"]

    def calls_to(self, path_suffix: str, method: str = "GET") -> list[PinterestCall]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]

    # -- tokens -------------------------------------------------------------------------------

    def expire_token(self, value: str | None = None) -> None:
        with self.lock:
            for info in (self.tokens.values() if value is None else [self.tokens[value]]):
                info.expires_at = self.clock.now() - timedelta(seconds=1)

    def check_token(self, value: str) -> TokenInfo:
        info = self.tokens.get(value) if value else None
        if info is None or (info.expires_at is not None and info.expires_at <= self.clock.now()):
            raise PinterestError(401, CODE_AUTH, "Authentication failed.")
        return info

    # -- faults -------------------------------------------------------------------------------

    def inject(self, kind: FaultKind, *, at_call: int | None = None, times: int = 1,
               retry_after: float | None = None, reset_seconds: int | None = None) -> PinterestFault:
        """Make calls ``at_call`` .. ``at_call + times - 1`` fail (default: the next ``times`` calls)."""
        with self.lock:
            fault = PinterestFault(kind, at_call if at_call is not None else self.calls + 1, times,
                                   retry_after, reset_seconds)
            self.faults.append(fault)
            return fault

    def throttle(self, *, at_call: int | None = None, times: int = 1, retry_after: float | None = 0,
                 reset_seconds: int | None = None) -> PinterestFault:
        """429; ``retry_after`` None sends no Retry-After, ``reset_seconds`` adds X-RateLimit-Reset."""
        return self.inject(FaultKind.throttle, at_call=at_call, times=times, retry_after=retry_after,
                           reset_seconds=reset_seconds)

    def expire_token_at(self, call: int) -> PinterestFault:
        return self.inject(FaultKind.expire_token, at_call=call)

    def active_fault(self, call: int, kinds: set[FaultKind]) -> PinterestFault | None:
        with self.lock:
            return next((f for f in self.faults if f.kind in kinds and f.covers(call)), None)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    # -- writes -------------------------------------------------------------------------------

    def delete_members(self, entries: list[tuple[str, str]]) -> list[str]:
        """Apply a members DELETE (already validated); returns ``deleted_members``."""
        with self.lock:
            deleted: list[str] = []
            removing = {mid for mid, role in entries
                        if mid in self.members and not self.members[mid].system
                        and role in self.members[mid].business_roles}
            admins_left = [m for m in self.members.values()
                           if "BIZ_ADMIN" in m.business_roles and not m.system and m.id not in removing]
            protect: set[str] = set()
            if not admins_left and any("BIZ_ADMIN" in self.members[mid].business_roles for mid in removing):
                if self.last_admin is LastAdmin.error:
                    raise PinterestError(400, CODE_INVALID, LAST_ADMIN_MESSAGE)
                protect = {mid for mid in removing if "BIZ_ADMIN" in self.members[mid].business_roles}
            unknown = [mid for mid, _ in entries
                       if mid not in self.members or self.members[mid].system]
            if unknown and self.repeat_member_delete is RepeatMemberDelete.not_found:
                raise PinterestError(404, CODE_NOT_FOUND, f"Member {unknown[0]} not found in this business.")
            for mid, _ in entries:
                if mid in removing and mid not in protect:
                    self.members.pop(mid, None)
                    if mid not in deleted:
                        deleted.append(mid)
                elif mid in unknown and self.repeat_member_delete is RepeatMemberDelete.echo and mid not in deleted:
                    deleted.append(mid)
            return deleted

    def delete_partners(self, partner_ids: list[str], partner_type: str) -> list[str]:
        with self.lock:
            for pid in partner_ids:
                partner = self.partners.get(pid)
                if partner is None or partner.partner_type != partner_type:
                    raise PinterestError(404, CODE_NOT_FOUND,
                                         f"Partner {pid} not found for partner_type {partner_type}.")
            for pid in partner_ids:
                self.partners.pop(pid, None)
            return list(dict.fromkeys(partner_ids))

    def update_members(self, entries: list[tuple[str, str]]) -> list[dict[str, str]]:
        """Apply a members PATCH (already validated); returns the ``items`` changed."""
        with self.lock:
            known = [(mid, role) for mid, role in entries if mid in self.members and not self.members[mid].system]
            after = {m.id: list(m.business_roles) for m in self.members.values() if not m.system}
            for mid, role in known:
                after[mid] = [role]
            if not any("BIZ_ADMIN" in roles for roles in after.values()):
                if self.last_admin is LastAdmin.error:
                    raise PinterestError(400, CODE_INVALID, LAST_ADMIN_MESSAGE)
                known = [(mid, role) for mid, role in known if "BIZ_ADMIN" not in self.members[mid].business_roles]
            changed: list[dict[str, str]] = []
            for mid, role in known:
                self.members[mid].business_roles = [role]
                changed.append({"member_id": mid, "business_role": role})
            return changed

    def rename_system_user(self, user_id: str, body: Any) -> None:
        with self.lock:
            member = self.members.get(user_id)
            if member is None or not member.system:
                raise PinterestError(404, CODE_NOT_FOUND, f"System user {user_id} not found.")
            name = body.get("name") if isinstance(body, dict) else None
            if not isinstance(name, str) or not name:
                raise PinterestError(400, CODE_INVALID, "name is required.")
            member.username = name

    def begin_call(self, method: str, path: str, params: dict[str, str], body: Any) -> PinterestCall:
        with self.lock:
            self.calls += 1
            record = PinterestCall(self.calls, method, path, params, body)
            self.requests.append(record)
            return record
