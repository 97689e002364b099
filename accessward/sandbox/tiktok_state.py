"""In-memory state of the TikTok Business Center simulator: BCs, members, partners, assets, tokens.

Tests seed a ``TikTokState``, run the app from ``sandbox.tiktok`` on loopback and inspect the state
afterwards (who is still a member, who still holds the TikTok account, which writes arrived).
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from accessward.sandbox.clock import Clock

API_PREFIX = "/open_api/v1.3"
DEMO_TOKEN = "demo-tiktok-token"
DEMO_BC_ID = "7100000000000000001"
DEMO_TT_ACCOUNT_ID = "7400000000000000001"

OK = 0
NO_PERMISSION = 40001
BAD_PARAM = 40002
FORBIDDEN = 40003
THROTTLED = 40100
FREQUENCY_LIMITED = 40132
MAINTENANCE = 60001
TOO_MANY_REQUESTS = 61000
TOKEN_EMPTY = 40104
TOKEN_INVALID = 40105
INTERNAL = 50000
UNKNOWN_MEMBER_CODES = (BAD_PARAM, NO_PERMISSION)
EXPIRED_CODES = (TOKEN_INVALID, TOKEN_EMPTY)
THROTTLE_MESSAGE = "Too many requests. The request frequency exceeds the QPS/QPM limit; please retry later."
LAST_ADMIN_MESSAGE = "Cannot remove the only admin of this Business Center. Add another admin first."
MEMBER_PAGE_MAX = 20
PAGE_MAX = 50
TT_ACCOUNT = "TT_ACCOUNT"
ASSET_TYPES = ("ADVERTISER", "CATALOG", "PIXEL", "LEAD", TT_ACCOUNT, "TIKTOK_SHOP", "STOREFRONT")
TT_ACCOUNT_ROLES = ("POST", "LIVE", "DIRECT_MESSAGE")


class TikTokError(Exception):
    """An API error: HTTP 200 with a non-zero ``code``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FaultKind(StrEnum):
    throttle = "throttle"  # code 40100 (HTTP 200)
    gateway_error = "gateway_error"  # HTTP 503 text/html from the gateway
    internal_error = "internal_error"  # code 50000 (HTTP 200)
    html = "html"  # HTTP 200 text/html page
    no_data = "no_data"  # code 0 without "data"
    no_list = "no_list"  # code 0, "data" without "list"
    expire_token = "expire_token"  # the presented token expires just before this call is checked
    frequency_limited = "frequency_limited"  # code 40132 REQUEST_FREQUENCY_LIMITED (HTTP 200)
    too_many_requests = "too_many_requests"  # code 61000 (HTTP 200)
    maintenance = "maintenance"  # code 60001 service under maintenance (HTTP 200)
    forbidden = "forbidden"  # code 40003 FORBIDDEN (HTTP 200)


@dataclass
class Fault:
    kind: FaultKind
    first_call: int
    times: int = 1

    def covers(self, call: int) -> bool:
        return self.first_call <= call < self.first_call + self.times


@dataclass
class TokenInfo:
    value: str
    user_id: str  # the TikTok for Business user the token acts for
    expires_at: datetime | None = None
    revoked: bool = False


@dataclass
class Member:
    user_id: str | None  # None for a pending invite
    user_name: str
    user_email: str
    user_role: str = "STANDARD"  # ADMIN | STANDARD
    relation_status: str = "BOUND"  # BOUND | PENDING | REJECTED | UNBOUND
    advertiser_role: str | None = None  # ADMIN | OPERATOR | ANALYST
    catalog_role: str | None = None  # ADMIN | AD_PROMOTE
    finance_role: str | None = None  # MANAGER | ANALYST

    def row(self) -> dict[str, Any]:
        out: dict[str, Any] = {"user_name": self.user_name, "user_email": self.user_email,
                               "user_role": self.user_role, "relation_status": self.relation_status}
        if self.user_id is not None:
            out["user_id"] = self.user_id
        if self.advertiser_role:
            out["advertiser_role"] = self.advertiser_role
        if self.catalog_role:
            out["catalog_role"] = self.catalog_role
        if self.finance_role:
            out["ext_user_role"] = {"finance_role": self.finance_role}
        return out


@dataclass
class Partner:
    bc_id: str
    bc_name: str


@dataclass
class Asset:
    """An asset of a BC (here: the brand's TikTok account, ``TT_ACCOUNT``) and who holds it.

    ``members`` maps a member's ``user_id`` to the roles assigned on the asset, ``partners`` a
    partner BC's id to the roles shared with it.
    """

    asset_id: str
    asset_name: str
    asset_type: str = TT_ACCOUNT
    members: dict[str, list[str]] = field(default_factory=dict)
    partners: dict[str, list[str]] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {"asset_id": self.asset_id, "asset_name": self.asset_name, "asset_type": self.asset_type,
                "relation_type": "OWNER_BC"}


@dataclass
class BusinessCenter:
    bc_id: str
    name: str
    company: str = ""
    currency: str = "USD"
    registered_area: str = "US"
    status: str = "ENABLE"
    timezone: str = "Etc/GMT"
    type: str = "NORMAL"
    members: list[Member] = field(default_factory=list)
    partners: list[Partner] = field(default_factory=list)
    assets: list[Asset] = field(default_factory=list)
    parent_id: str | None = None  # a child BC's parent
    children: list[str] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        return {"bc_id": self.bc_id, "name": self.name, "company": self.company or self.name,
                "currency": self.currency, "registered_area": self.registered_area, "status": self.status,
                "timezone": self.timezone, "type": self.type}

    def member(self, user_id: str) -> Member | None:
        return next((m for m in self.members if m.user_id == user_id and m.relation_status == "BOUND"), None)

    def invite(self, email: str) -> Member | None:
        return next((m for m in self.members
                     if m.relation_status == "PENDING" and m.user_email.lower() == email.lower()), None)

    def asset(self, asset_type: str, asset_id: str) -> Asset | None:
        return next((a for a in self.assets if a.asset_type == asset_type and a.asset_id == asset_id), None)

    def last_admin(self, member: Member) -> bool:
        return member.user_role == "ADMIN" and not any(
            m is not member and m.user_role == "ADMIN" and m.relation_status == "BOUND" for m in self.members)


@dataclass
class RecordedCall:
    """One request as the simulator saw it; the access token is never recorded."""

    call: int
    method: str
    path: str  # without the /open_api/v1.3 prefix, e.g. "/bc/member/delete/"
    params: dict[str, str]
    body: Any = None
    http_status: int = 200
    code: int | None = None


class TikTokState:
    """Everything the TikTok simulator knows, guarded by one lock (the server runs in its own thread)."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        unknown_member_code: int = BAD_PARAM,
        expired_code: int = TOKEN_INVALID,
    ) -> None:
        if unknown_member_code not in UNKNOWN_MEMBER_CODES:
            raise ValueError(f"unknown_member_code must be one of {UNKNOWN_MEMBER_CODES}")
        if expired_code not in EXPIRED_CODES:
            raise ValueError(f"expired_code must be one of {EXPIRED_CODES}")
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self.unknown_member_code = unknown_member_code
        self.expired_code = expired_code
        self.business_centers: dict[str, BusinessCenter] = {}
        self.tokens: dict[str, TokenInfo] = {}
        self.requests: list[RecordedCall] = []
        self.faults: list[Fault] = []
        self.calls = 0
        self._ids = itertools.count(7_200_000_000_000_000_001)
        self._rate_limit: tuple[int, float] | None = None
        self._window: deque[datetime] = deque()

    # -- seeding --------------------------------------------------------------------------------

    def new_id(self) -> str:
        return str(next(self._ids))

    def add_business_center(self, name: str, *, bc_id: str | None = None, company: str = "",
                            currency: str = "USD", timezone: str = "Etc/GMT") -> BusinessCenter:
        with self.lock:
            bc = BusinessCenter(bc_id or self.new_id(), name, company=company, currency=currency, timezone=timezone)
            self.business_centers[bc.bc_id] = bc
            return bc

    def add_member(self, bc: BusinessCenter, name: str, email: str, *, role: str = "STANDARD",
                   user_id: str | None = None, advertiser_role: str | None = None, catalog_role: str | None = None,
                   finance_role: str | None = None) -> Member:
        """A BOUND member (the same person may be added to several BCs with one ``user_id``)."""
        if role not in ("ADMIN", "STANDARD"):
            raise ValueError(f"not a BC user_role: {role}")
        with self.lock:
            member = Member(user_id or self.new_id(), name, email, role, "BOUND", advertiser_role, catalog_role,
                            finance_role)
            bc.members.append(member)
            return member

    def add_invite(self, bc: BusinessCenter, email: str, *, role: str = "STANDARD", status: str = "PENDING") -> Member:
        """An invitation (PENDING, or REJECTED once declined): no ``user_id``."""
        with self.lock:
            member = Member(None, "", email, role, status)
            bc.members.append(member)
            return member

    def add_partner(self, bc: BusinessCenter, name: str, *, partner_id: str | None = None) -> Partner:
        with self.lock:
            partner = Partner(partner_id or self.new_id(), name)
            bc.partners.append(partner)
            return partner

    def add_unbound(self, bc: BusinessCenter, name: str, email: str, *, user_id: str | None = None) -> Member:
        """A member whose relation was bound once and then cancelled (UNBOUND): no access."""
        with self.lock:
            member = Member(user_id or self.new_id(), name, email, "STANDARD", "UNBOUND")
            bc.members.append(member)
            return member

    def add_tiktok_account(self, bc: BusinessCenter, name: str, *, asset_id: str | None = None) -> Asset:
        """The brand's TikTok account as an asset of ``bc`` (``TT_ACCOUNT``)."""
        with self.lock:
            asset = Asset(asset_id or self.new_id(), name)
            bc.assets.append(asset)
            return asset

    def assign(self, asset: Asset, member: Member, roles: tuple[str, ...] = ("POST",)) -> None:
        if member.user_id is None:
            raise ValueError("only a BOUND member can hold an asset")
        with self.lock:
            asset.members[member.user_id] = list(roles)

    def share(self, asset: Asset, partner: Partner, roles: tuple[str, ...] = ("POST",)) -> None:
        with self.lock:
            asset.partners[partner.bc_id] = list(roles)

    def add_child(self, parent: BusinessCenter, name: str, *, bc_id: str | None = None) -> BusinessCenter:
        """A child Business Center of ``parent``, with members of its own."""
        with self.lock:
            child = self.add_business_center(name, bc_id=bc_id)
            child.parent_id = parent.bc_id
            parent.children.append(child.bc_id)
            return child

    def holds(self, bc_id: str, asset_id: str, user_id: str) -> bool:
        with self.lock:
            asset = next((a for a in self.business_centers[bc_id].assets if a.asset_id == asset_id), None)
            return asset is not None and user_id in asset.members

    def role_of(self, bc_id: str, user_id: str) -> str | None:
        with self.lock:
            member = self.business_centers[bc_id].member(user_id)
            return member.user_role if member else None

    def add_token(self, value: str, user_id: str, *, ttl_seconds: float | None = None) -> TokenInfo:
        expires = self.clock.now() + timedelta(seconds=ttl_seconds) if ttl_seconds is not None else None
        with self.lock:
            info = TokenInfo(value, user_id, expires_at=expires)
            self.tokens[value] = info
            return info

    # -- lookups for routes and tests -----------------------------------------------------------

    def caller_member(self, bc: BusinessCenter, token: TokenInfo) -> Member | None:
        return bc.member(token.user_id)

    def is_member(self, bc_id: str, user_id: str) -> bool:
        with self.lock:
            return self.business_centers[bc_id].member(user_id) is not None

    def has_invite(self, bc_id: str, email: str) -> bool:
        with self.lock:
            return self.business_centers[bc_id].invite(email) is not None

    def is_partner(self, bc_id: str, partner_id: str) -> bool:
        with self.lock:
            return any(p.bc_id == partner_id for p in self.business_centers[bc_id].partners)

    @property
    def writes(self) -> list[RecordedCall]:
        """Every POST that reached the simulator, whatever it answered."""
        with self.lock:
            return [r for r in self.requests if r.method == "POST"]

    def calls_to(self, path: str, method: str = "GET") -> list[RecordedCall]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    # -- tokens ---------------------------------------------------------------------------------

    def expire_token(self, value: str | None = None) -> None:
        with self.lock:
            for info in (list(self.tokens.values()) if value is None else [self.tokens[value]]):
                info.expires_at = self.clock.now() - timedelta(seconds=1)

    def revoke_token(self, value: str | None = None) -> None:
        with self.lock:
            for info in (list(self.tokens.values()) if value is None else [self.tokens[value]]):
                info.revoked = True

    def check_token(self, value: str) -> TokenInfo:
        if not value:
            raise TikTokError(TOKEN_EMPTY, "Access token is empty. Please put it in the request header Access-Token.")
        info = self.tokens.get(value)
        if info is None or info.revoked:
            raise TikTokError(TOKEN_INVALID, "Access token is incorrect or has been revoked.")
        if info.expires_at is not None and info.expires_at <= self.clock.now():
            raise TikTokError(self.expired_code, "Access token has expired. Please refresh or re-authorize.")
        return info

    # -- faults and rate limits -----------------------------------------------------------------

    def inject(self, kind: FaultKind, *, at_call: int | None = None, times: int = 1) -> Fault:
        """Make calls ``at_call`` .. ``at_call + times - 1`` fail (default: the next ``times`` calls)."""
        with self.lock:
            fault = Fault(kind, at_call if at_call is not None else self.calls + 1, times)
            self.faults.append(fault)
            return fault

    def throttle(self, *, at_call: int | None = None, times: int = 1) -> Fault:
        return self.inject(FaultKind.throttle, at_call=at_call, times=times)

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

    def set_rate_limit(self, max_calls: int, *, window_seconds: float = 1.0) -> None:
        """Answer 40100 once more than ``max_calls`` calls fall within the clock window (a QPS limit)."""
        with self.lock:
            self._rate_limit = (max_calls, window_seconds)
            self._window.clear()

    def rate_limited(self) -> bool:
        with self.lock:
            if self._rate_limit is None:
                return False
            max_calls, window = self._rate_limit
            now = self.clock.now()
            while self._window and (now - self._window[0]).total_seconds() >= window:
                self._window.popleft()
            if len(self._window) >= max_calls:
                return True
            self._window.append(now)
            return False

    # -- request log ----------------------------------------------------------------------------

    def begin_call(self, method: str, path: str, params: dict[str, str], body: Any) -> RecordedCall:
        with self.lock:
            self.calls += 1
            record = RecordedCall(self.calls, method, path, dict(params), body)
            self.requests.append(record)
            return record
