"""In-memory state of the Meta Graph API simulator: one business, its people, assets, partners, tokens.

Tests seed a ``MetaState``, run the app from ``sandbox.meta`` on loopback, and inspect the
state afterwards (who is still assigned, which partner still has which asset, which revoke
calls arrived). The business owns Facebook Pages and Instagram accounts (each Instagram
account is an ``InstagramBusinessAsset`` node with its own id, and an ``IGUser`` node with the
Instagram user id); people, system users and outside users are assigned to assets with tasks;
partner businesses (agencies) are linked to the business and get tasks on shared assets.

The state also carries the switches that make the simulator misbehave the way the real API
does: an injectable clock and token expiry, throttling, 5xx, HTML login pages, redirects,
bodies without ``data`` and platform refusals. Behaviour the public docs leave open is marked
**(unverified)** and is switchable.
"""

from __future__ import annotations

import base64
import itertools
import math
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from accessward.sandbox.clock import Clock

GRAPH_VERSION = "v21.0"
#: Tasks that manage a Page (classic MANAGE, new Pages experience full control).
MANAGER_TASKS = frozenset({"MANAGE", "PROFILE_PLUS_FULL_CONTROL"})
DEFAULT_SCOPES = frozenset({"business_management", "pages_manage_metadata", "pages_show_list"})

#: Graph's throttling codes and their messages. Meta never answers 429: all of these are 400s.
THROTTLE_MESSAGES: dict[int, str] = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80001: "(#80001) There have been too many calls to this Page account. Wait a bit and try again.",
    80002: "(#80002) There have been too many calls to this Instagram account. Wait a bit and try again.",
    80004: "(#80004) There have been too many calls to this ad-account. Wait a bit and try again.",
}

#: Messages Graph gives for a dead token, by ``error_subcode`` (None: revoked or invalid).
TOKEN_MESSAGES: dict[int | None, str] = {
    None: "Error validating access token: The session is invalid because the user logged out "
          "or the token was revoked.",
    458: "Error validating access token: The user has not authorized the application.",
    460: "Error validating access token: The session has been invalidated because the user changed "
         "their password or Facebook has changed the session for security reasons.",
    467: "Error validating access token: The access token is invalid.",
}


class GraphError(Exception):
    """An error the simulator answers in Graph's ``{"error": {...}}`` wrapper (HTTP 400 by default)."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        status: int = 400,
        error_type: str = "OAuthException",
        user_title: str | None = None,
        user_msg: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.subcode = subcode
        self.status = status
        self.error_type = error_type
        self.user_title = user_title
        self.user_msg = user_msg


class RepeatDelete(StrEnum):
    """What a removal of something already removed answers (unverified in Meta).

    Applies to every removal: a user not assigned to a Page or Instagram account, a partner
    without access to an asset, a partner no longer linked to the business, and a business
    user already removed from the business (``error``: the deleted node is unknown, code
    100/33, as Graph answers for any id it cannot load).
    """

    success = "success"  # {"success": true}, as if the removal were idempotent
    error = "error"  # code 100, "not assigned" (100/33 for a deleted node)


class FaultKind(StrEnum):
    throttle = "throttle"  # HTTP 400, code 4/17/32/613/80001..., with usage headers
    server_error = "server_error"  # HTTP 500 with a Graph error body (code 2, transient)
    html = "html"  # HTTP 200 text/html login page, as a captive proxy or SSO wall serves
    redirect = "redirect"  # HTTP 302 to a login page
    no_data = "no_data"  # HTTP 200 JSON object without "data"
    expire_token = "expire_token"  # the presented token dies just before this call is checked
    refuse = "refuse"  # after auth and throttling, Graph refuses the call with ``code`` and ``message``


@dataclass
class Fault:
    """A fault active for calls ``first_call`` .. ``first_call + times - 1`` (1-based call numbers)."""

    kind: FaultKind
    first_call: int
    times: int = 1
    code: int = 0
    eta_minutes: int = 0
    message: str = ""

    def covers(self, call: int) -> bool:
        return self.first_call <= call < self.first_call + self.times


@dataclass
class TokenInfo:
    value: str
    expires_at: datetime | None = None
    revoked_subcode: int | None = None
    revoked: bool = False
    scopes: frozenset[str] = DEFAULT_SCOPES
    can_manage: bool = True  # an admin of the business / MANAGE on its pages: may remove people
    # A Page access token (``GET /{page-id}?fields=access_token``) is valid for that Page only.
    page_id: str | None = None
    # For a system-user token: the Pages it can get a Page token for (assigned with MANAGE or full
    # control). None: every Page of the business (the token's holder is not itself listed).
    pages: frozenset[str] | None = None


@dataclass
class BusinessUser:
    id: str
    name: str
    email: str
    role: str = "EMPLOYEE"
    two_fac_status: str = "enabled"  # values are (unverified); the simulator uses enabled/not_enabled
    title: str = ""
    tasks: list[str] | None = None  # business-level tasks (BusinessUser.Tasks); None: just the role

    def fields(self, business: dict[str, str]) -> dict[str, Any]:
        first, _, last = self.name.partition(" ")
        return {
            "id": self.id, "name": self.name, "email": self.email, "first_name": first, "last_name": last,
            "title": self.title, "role": self.role, "two_fac_status": self.two_fac_status,
            "tasks": list(self.tasks) if self.tasks is not None else [self.role],
            "pending_email": "", "marked_for_removal": False, "finance_permission": "",
            "ip_permission": "", "invited_user_type": [], "business": business,
        }


@dataclass
class SystemUser:
    id: str
    name: str
    role: str = "EMPLOYEE"
    created_time: str = "2023-03-01T09:00:00+0000"

    def fields(self, business: dict[str, str]) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "role": self.role, "created_time": self.created_time,
            "created_by": {"id": business["id"], "name": business["name"]}, "system_user_id": self.id,
            "finance_permission": "", "ip_permission": "",
        }


@dataclass
class OutsideUser:
    """Someone assigned to one of our pages who is not a person of our business (a partner's staff)."""

    id: str
    name: str
    user_type: str = "business_user"


@dataclass
class PendingUser:
    """An invitation to the business not accepted yet (a ``BusinessRoleRequest``)."""

    id: str
    email: str
    role: str = "EMPLOYEE"
    status: str = "PENDING"
    tasks: list[str] = field(default_factory=list)
    expiration_time: str = "2026-12-31T00:00:00+0000"

    def fields(self) -> dict[str, Any]:
        return {"id": self.id, "email": self.email, "role": self.role, "status": self.status,
                "tasks": list(self.tasks) or [self.role], "expiration_time": self.expiration_time,
                "created_time": "2026-01-05T09:00:00+0000",
                "invite_link": f"https://business.facebook.com/invitation/?token={self.id}secret"}


@dataclass
class Page:
    id: str
    name: str
    category: str = "Brand"
    assignments: dict[str, list[str]] = field(default_factory=dict)  # user id -> tasks, in order
    agencies: dict[str, list[str]] = field(default_factory=dict)  # partner business id -> tasks
    agency_status: dict[str, str] = field(default_factory=dict)  # partner id -> CONFIRMED | PENDING
    # People with a task on the Page who belong to no business (``/{page-id}/roles``): user id -> tasks.
    roles: dict[str, list[str]] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "category": self.category,
                "link": f"https://www.facebook.com/{self.id}"}


@dataclass
class InstagramAccount:
    """An Instagram account the business owns: two Graph nodes with two ids.

    ``id`` is the ``InstagramBusinessAsset`` node (what ``/{business}/owned_instagram_assets``
    lists, and where ``assigned_users`` and ``agencies`` live, per the official SDK);
    ``ig_user_id`` is the ``IGUser`` node (what ``/{business}/owned_instagram_accounts`` lists).
    """

    id: str
    ig_user_id: str
    username: str
    name: str = ""
    assignments: dict[str, list[str]] = field(default_factory=dict)  # user id -> tasks, in order
    agencies: dict[str, list[str]] = field(default_factory=dict)  # partner business id -> tasks

    def asset_fields(self) -> dict[str, Any]:
        return {"id": self.id, "ig_user_id": self.ig_user_id, "ig_username": self.username}

    def user_fields(self, business: dict[str, str]) -> dict[str, Any]:
        return {"id": self.ig_user_id, "username": self.username, "name": self.name or self.username,
                "owner_business": business}


Asset = Page | InstagramAccount


@dataclass
class Partner:
    """A partner business (an agency). ``linked``: still in ``/{business}/agencies``."""

    id: str
    name: str
    linked: bool = True


@dataclass
class RecordedCall:
    """One request as the simulator saw it; the access token is never recorded."""

    call: int
    method: str
    path: str
    params: dict[str, str]
    status: int = 0
    error_code: int | None = None


class Unassign(StrEnum):
    removed = "removed"
    not_assigned = "not_assigned"
    last_manager = "last_manager"


class Removal(StrEnum):
    """Outcome of removing a business user (or system user) from the business."""

    removed = "removed"
    already_removed = "already_removed"  # it was a member once: the repeat behaviour applies
    unknown = "unknown"  # never a member of this business
    last_admin = "last_admin"


def encode_cursor(item_id: str, position: int) -> str:
    """An opaque cursor (Graph's are base64 too); it carries the position as a fallback."""
    return base64.urlsafe_b64encode(f"{item_id}:{position}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        item_id, _, pos = base64.urlsafe_b64decode(cursor.encode()).decode().rpartition(":")
        return item_id, int(pos)
    except (ValueError, UnicodeDecodeError) as exc:
        raise GraphError(100, "(#100) The cursor passed in 'after' or 'before' is not valid") from exc


class MetaState:
    """Everything the Meta simulator knows, guarded by one lock (the server runs in its own thread).

    ``repeat_delete`` defaults to ``RepeatDelete.error``: a repeated removal answers code 100.
    It is the harder case for a client (code 100 is also "invalid parameter"), so the default
    demo exercises a connector's ambiguity handling; tests flip it to ``success`` too.

    ``ig_user_edges`` (default False) makes the ``IGUser`` node answer ``assigned_users`` (GET
    and DELETE) and ``DELETE agencies`` like an ``InstagramBusinessAsset`` does. The official
    SDK has those edges on the asset node only (the IGUser node has ``GET agencies``), so the
    default refuses them as nonexisting fields; the switch models the **unverified** alternative.
    """

    def __init__(
        self,
        business_id: str = "100000000000001",
        business_name: str = "Demo Business",
        *,
        clock: Clock | None = None,
        repeat_delete: RepeatDelete = RepeatDelete.error,
        ig_user_edges: bool = False,
    ) -> None:
        self.lock = threading.RLock()
        self.business_id = business_id
        self.business_name = business_name
        self.clock = clock or Clock()
        self.repeat_delete = repeat_delete
        self.ig_user_edges = ig_user_edges
        self.tokens: dict[str, TokenInfo] = {}
        self.business_users: dict[str, BusinessUser] = {}
        self.system_users: dict[str, SystemUser] = {}
        self.outside_users: dict[str, OutsideUser] = {}
        self.pending_users: dict[str, PendingUser] = {}
        self.pages: dict[str, Page] = {}
        self.instagram_accounts: dict[str, InstagramAccount] = {}  # by asset id
        self.partners: dict[str, Partner] = {}
        self.removed_users: set[str] = set()  # business or system users removed from the business
        self.requests: list[RecordedCall] = []
        self.faults: list[Fault] = []
        self.calls = 0
        self._ids = itertools.count(int(business_id) + 1 if business_id.isdigit() else 200000000000001)
        self._rate_limit: tuple[int, float, int] | None = None  # max calls, window s, code
        self._window: deque[datetime] = deque()

    # -- seeding ------------------------------------------------------------------------------

    def new_id(self) -> str:
        with self.lock:
            while True:
                candidate = str(next(self._ids))
                if self.node_type(candidate) is None:
                    return candidate

    def add_token(
        self, value: str, *, ttl_seconds: float | None = None, scopes: frozenset[str] = DEFAULT_SCOPES,
        can_manage: bool = True, pages: frozenset[str] | None = None,
    ) -> TokenInfo:
        expires = self.clock.now() + timedelta(seconds=ttl_seconds) if ttl_seconds is not None else None
        info = TokenInfo(value, expires_at=expires, scopes=scopes, can_manage=can_manage, pages=pages)
        with self.lock:
            self.tokens[value] = info
        return info

    def add_business_user(
        self, name: str, email: str, *, role: str = "EMPLOYEE", two_fac_status: str = "enabled",
        title: str = "", user_id: str | None = None, tasks: list[str] | None = None,
    ) -> BusinessUser:
        with self.lock:
            user = BusinessUser(user_id or self.new_id(), name, email, role, two_fac_status, title, tasks)
            self.business_users[user.id] = user
            return user

    def add_system_user(self, name: str, *, role: str = "EMPLOYEE", user_id: str | None = None) -> SystemUser:
        with self.lock:
            user = SystemUser(user_id or self.new_id(), name, role)
            self.system_users[user.id] = user
            return user

    def add_outside_user(self, name: str, *, user_type: str = "business_user") -> OutsideUser:
        with self.lock:
            user = OutsideUser(self.new_id(), name, user_type)
            self.outside_users[user.id] = user
            return user

    def add_pending_user(self, email: str, *, role: str = "EMPLOYEE", tasks: list[str] | None = None) -> PendingUser:
        with self.lock:
            invite = PendingUser(self.new_id(), email, role, tasks=list(tasks or []))
            self.pending_users[invite.id] = invite
            return invite

    def add_page(self, name: str, *, category: str = "Brand", page_id: str | None = None) -> Page:
        with self.lock:
            page = Page(page_id or self.new_id(), name, category)
            self.pages[page.id] = page
            return page

    def add_instagram_account(
        self, username: str, *, name: str = "", asset_id: str | None = None, ig_user_id: str | None = None,
    ) -> InstagramAccount:
        with self.lock:
            account = InstagramAccount(asset_id or self.new_id(), ig_user_id or self.new_id(), username, name)
            self.instagram_accounts[account.id] = account
            return account

    def add_partner(self, name: str, *, partner_id: str | None = None, linked: bool = True) -> Partner:
        """A partner business (agency) linked to ours, as ``/{business}/agencies`` lists it."""
        with self.lock:
            partner = Partner(partner_id or self.new_id(), name, linked)
            self.partners[partner.id] = partner
            return partner

    def assign(self, asset_id: str, user_id: str, tasks: list[str]) -> None:
        """Give ``user_id`` these tasks on a Page or Instagram account (replacing any), like POST assigned_users."""
        with self.lock:
            if self.user_type(user_id) is None:
                raise KeyError(f"unknown user {user_id}")
            self.asset(asset_id).assignments[user_id] = [t.upper() for t in tasks]

    def share(self, asset_id: str, partner_id: str, tasks: list[str], *, status: str = "CONFIRMED") -> None:
        """Give a linked partner business these tasks on an asset, like POST /{asset}/agencies.

        ``status="PENDING"`` (Pages only) is a request the Page has not approved: listed with
        ``access_status`` PENDING, and no access yet.
        """
        with self.lock:
            if partner_id not in self.partners or not self.partners[partner_id].linked:
                raise KeyError(f"{partner_id} is not a partner of the business")
            asset = self.asset(asset_id)
            asset.agencies[partner_id] = [t.upper() for t in tasks]
            if isinstance(asset, Page):
                asset.agency_status[partner_id] = status

    def add_page_role(self, page_id: str, name: str, tasks: list[str]) -> OutsideUser:
        """Someone outside any business given tasks straight on the Page (``/{page-id}/roles`` lists them)."""
        with self.lock:
            user = self.add_outside_user(name, user_type="user")
            self.pages[page_id].roles[user.id] = [t.upper() for t in tasks]
            return user

    def page_roles(self, page_id: str) -> dict[str, list[str]]:
        with self.lock:
            return {uid: list(t) for uid, t in self.pages[page_id].roles.items()}

    def page_token(self, token: str, page_id: str) -> str | None:
        """The Page access token the holder of ``token`` gets for ``page_id``, or None if it cannot.

        A Page token cannot mint another one; a system-user token gets one for the Pages it may
        manage (``TokenInfo.pages``). The same value is answered again while it lives.
        """
        with self.lock:
            info = self.tokens[token]
            if info.page_id is not None or page_id not in self.pages:
                return None
            if info.pages is not None and page_id not in info.pages:
                return None
            for value, other in self.tokens.items():
                if other.page_id == page_id and other.scopes == info.scopes and not other.revoked:
                    return value
            value = "EAAP" + secrets.token_urlsafe(24)
            self.tokens[value] = TokenInfo(value, scopes=info.scopes, can_manage=info.can_manage, page_id=page_id)
            return value

    def remove_pending_user(self, invite_id: str) -> bool:
        """Cancel an invitation (``DELETE /{business-role-request-id}``)."""
        with self.lock:
            return self.pending_users.pop(invite_id, None) is not None

    # -- lookups used by the routes and by tests ------------------------------------------------

    @property
    def business_ref(self) -> dict[str, str]:
        return {"id": self.business_id, "name": self.business_name}

    def node_type(self, node_id: str) -> str | None:
        """Graph's node type name for an id, or None when no such object exists."""
        if node_id == self.business_id or node_id in self.partners:
            return "Business"
        for kind, table in (("BusinessUser", self.business_users), ("SystemUser", self.system_users),
                            ("Page", self.pages), ("User", self.outside_users),
                            ("BusinessRoleRequest", self.pending_users),
                            ("InstagramBusinessAsset", self.instagram_accounts)):
            if node_id in table:
                return kind
        if self.instagram_by_user(node_id) is not None:
            return "IGUser"
        return None

    def instagram_by_user(self, ig_user_id: str) -> InstagramAccount | None:
        return next((a for a in self.instagram_accounts.values() if a.ig_user_id == ig_user_id), None)

    def asset(self, asset_id: str) -> Asset:
        """The Page or Instagram account with this id (asset id or Instagram user id); KeyError if none."""
        with self.lock:
            found: Asset | None = (self.pages.get(asset_id) or self.instagram_accounts.get(asset_id)
                                   or self.instagram_by_user(asset_id))
            if found is None:
                raise KeyError(asset_id)
            return found

    def user_type(self, user_id: str) -> str | None:
        """``business_user`` / ``system_user`` as AssignedUser.user_type reports it."""
        if user_id in self.business_users:
            return "business_user"
        if user_id in self.system_users:
            return "system_user"
        if user_id in self.outside_users:
            return self.outside_users[user_id].user_type
        return None

    def user_name(self, user_id: str) -> str:
        user: BusinessUser | SystemUser | OutsideUser | None = (
            self.business_users.get(user_id) or self.system_users.get(user_id)
            or self.outside_users.get(user_id)
        )
        return user.name if user is not None else ""

    def assigned_tasks(self, asset_id: str) -> dict[str, list[str]]:
        """A copy of a Page's or Instagram account's assignments, for assertions."""
        with self.lock:
            return {uid: list(tasks) for uid, tasks in self.asset(asset_id).assignments.items()}

    def is_assigned(self, asset_id: str, user_id: str) -> bool:
        with self.lock:
            return user_id in self.asset(asset_id).assignments

    def has_agency(self, asset_id: str, partner_id: str) -> bool:
        """Whether the partner business has access to the Page or Instagram account."""
        with self.lock:
            return partner_id in self.asset(asset_id).agencies

    def is_partner(self, partner_id: str) -> bool:
        """Whether the partner business is still linked to ours (listed in ``/{business}/agencies``)."""
        with self.lock:
            return partner_id in self.partners and self.partners[partner_id].linked

    def is_member(self, user_id: str) -> bool:
        """Whether a business user or system user still belongs to the business."""
        with self.lock:
            return user_id in self.business_users or user_id in self.system_users

    @property
    def revoke_calls(self) -> list[RecordedCall]:
        """Every DELETE that reached the simulator, whatever it answered."""
        with self.lock:
            return [r for r in self.requests if r.method == "DELETE"]

    # -- the writes the simulator supports -------------------------------------------------------

    def unassign(self, asset_id: str, user_id: str) -> Unassign:
        """Remove a user from a Page or Instagram account unless that leaves nobody with MANAGE (or full control).

        Only the asset's assignees count: business admins' implicit control is not modelled, so
        the rule is the one Meta's UI enforces for the page itself (unverified for the API).
        Instagram tasks in the SDK have no MANAGE, so the rule only bites there if seeded so.
        """
        with self.lock:
            assignments = self.asset(asset_id).assignments
            tasks = assignments.get(user_id)
            if tasks is None:
                return Unassign.not_assigned
            if MANAGER_TASKS & set(tasks):
                others = [u for u, t in assignments.items() if u != user_id and MANAGER_TASKS & set(t)]
                if not others:
                    return Unassign.last_manager
            del assignments[user_id]
            return Unassign.removed

    def remove_agency(self, asset_id: str, partner_id: str) -> Unassign:
        """Take a partner business off one asset (``DELETE /{asset}/agencies``)."""
        with self.lock:
            agencies = self.asset(asset_id).agencies
            if partner_id not in agencies:
                return Unassign.not_assigned
            del agencies[partner_id]
            asset = self.asset(asset_id)
            if isinstance(asset, Page):
                asset.agency_status.pop(partner_id, None)
            return Unassign.removed

    def remove_partner(self, partner_id: str) -> Unassign:
        """Unlink a partner business (``DELETE /{business}/agencies``) and take it off every asset.

        That the business-level removal also ends the partner's access to each shared asset is
        what Business Manager shows (unverified for the API).
        """
        with self.lock:
            partner = self.partners.get(partner_id)
            if partner is None or not partner.linked:
                return Unassign.not_assigned
            partner.linked = False
            for asset in self._assets():
                asset.agencies.pop(partner_id, None)
                if isinstance(asset, Page):
                    asset.agency_status.pop(partner_id, None)
            return Unassign.removed

    def remove_from_business(self, user_id: str) -> Removal:
        """Remove a business user (``DELETE /{business-user-id}``) or system user, and all their assignments.

        The last ADMIN business user is never removed (people only: system users do not count,
        as in Business Manager; unverified for the API). Page assignments go with the person,
        even the last MANAGE on a Page: business admins keep control of the business's Pages.
        """
        with self.lock:
            if user_id in self.removed_users:
                return Removal.already_removed
            user = self.business_users.get(user_id)
            if user is not None and user.role == "ADMIN":
                others = [u for u in self.business_users.values() if u.id != user_id and u.role == "ADMIN"]
                if not others:
                    return Removal.last_admin
            if user is None and user_id not in self.system_users:
                return Removal.unknown
            self.business_users.pop(user_id, None)
            self.system_users.pop(user_id, None)
            for asset in self._assets():
                asset.assignments.pop(user_id, None)
            self.removed_users.add(user_id)
            return Removal.removed

    def _assets(self) -> list[Asset]:
        return [*self.pages.values(), *self.instagram_accounts.values()]

    # -- tokens and the clock -----------------------------------------------------------------

    def expire_token(self, value: str | None = None) -> None:
        """Make one token (or every token) expired as of now: the next call gets 190/463."""
        with self.lock:
            for info in self._tokens_named(value):
                info.expires_at = self.clock.now() - timedelta(seconds=1)

    def revoke_token(self, value: str | None = None, *, subcode: int | None = None) -> None:
        """Invalidate a token the way a password change or an app removal does (190, subcode)."""
        with self.lock:
            for info in self._tokens_named(value):
                info.revoked, info.revoked_subcode = True, subcode

    def _tokens_named(self, value: str | None) -> list[TokenInfo]:
        return list(self.tokens.values()) if value is None else [self.tokens[value]]

    def check_token(self, value: str | None) -> None:
        """Raise the GraphError Meta would answer for this token, if any."""
        if not value:
            raise GraphError(104, "An access token is required to request this resource.")
        info = self.tokens.get(value)
        if info is None:
            raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
        if info.revoked:
            raise GraphError(190, TOKEN_MESSAGES.get(info.revoked_subcode, TOKEN_MESSAGES[None]),
                             subcode=info.revoked_subcode)
        now = self.clock.now()
        if info.expires_at is not None and info.expires_at <= now:
            fmt = "%A, %d-%b-%y %H:%M:%S UTC"
            raise GraphError(
                190, f"Error validating access token: Session has expired on {info.expires_at:{fmt}}. "
                     f"The current time is {now:{fmt}}.", subcode=463)

    # -- faults and rate limits ---------------------------------------------------------------

    def inject(self, kind: FaultKind, *, at_call: int | None = None, times: int = 1, code: int = 0,
               eta_minutes: int = 0) -> Fault:
        """Make calls ``at_call`` .. ``at_call + times - 1`` fail (default: the next ``times`` calls)."""
        with self.lock:
            fault = Fault(kind, at_call if at_call is not None else self.calls + 1, times, code, eta_minutes)
            self.faults.append(fault)
            return fault

    def throttle(self, code: int = 4, *, at_call: int | None = None, times: int = 1,
                 eta_minutes: int = 0) -> Fault:
        if code not in THROTTLE_MESSAGES:
            raise ValueError(f"not a Graph throttling code: {code}")
        return self.inject(FaultKind.throttle, at_call=at_call, times=times, code=code,
                           eta_minutes=eta_minutes)

    def fail_server(self, *, at_call: int | None = None, times: int = 1) -> Fault:
        return self.inject(FaultKind.server_error, at_call=at_call, times=times)

    def serve_html(self, *, at_call: int | None = None, times: int = 1) -> Fault:
        return self.inject(FaultKind.html, at_call=at_call, times=times)

    def redirect_to_login(self, *, at_call: int | None = None, times: int = 1) -> Fault:
        return self.inject(FaultKind.redirect, at_call=at_call, times=times)

    def drop_data(self, *, at_call: int | None = None, times: int = 1) -> Fault:
        return self.inject(FaultKind.no_data, at_call=at_call, times=times)

    def refuse(self, code: int = 368, message: str = "", *, at_call: int | None = None, times: int = 1) -> Fault:
        """Graph refuses calls ``at_call``.. with this error (368: blocked by policy), after auth passes."""
        fault = self.inject(FaultKind.refuse, at_call=at_call, times=times, code=code)
        fault.message = message or (f"(#{code}) The action attempted has been deemed abusive or is otherwise "
                                    "disallowed")
        return fault

    def expire_token_at(self, call: int) -> Fault:
        """The token presented on call number ``call`` expires just before that call is checked."""
        return self.inject(FaultKind.expire_token, at_call=call)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()
            self._rate_limit = None
            self._window.clear()

    def active_fault(self, call: int, kinds: set[FaultKind]) -> Fault | None:
        with self.lock:
            return next((f for f in self.faults if f.kind in kinds and f.covers(call)), None)

    def set_rate_limit(self, max_calls: int, *, window_seconds: float = 60.0, code: int = 80001) -> None:
        """Throttle once more than ``max_calls`` authenticated calls fall within the clock window."""
        if code not in THROTTLE_MESSAGES:
            raise ValueError(f"not a Graph throttling code: {code}")
        with self.lock:
            self._rate_limit = (max_calls, window_seconds, code)
            self._window.clear()

    def rate_limited(self) -> tuple[int, int] | None:
        """(code, eta minutes) if this call is over the budget, else count it and return None."""
        with self.lock:
            if self._rate_limit is None:
                return None
            max_calls, window, code = self._rate_limit
            now = self.clock.now()
            while self._window and (now - self._window[0]).total_seconds() >= window:
                self._window.popleft()
            if len(self._window) >= max_calls:
                wait = window - (now - self._window[0]).total_seconds()
                return code, max(1, math.ceil(wait / 60))
            self._window.append(now)
            return None

    def usage_percent(self) -> int:
        """call_count as X-App-Usage reports it: share of the rate budget used in this window."""
        with self.lock:
            if self._rate_limit is None:
                return min(99, self.calls // 10)
            return min(100, len(self._window) * 100 // max(1, self._rate_limit[0]))

    # -- request log --------------------------------------------------------------------------

    def begin_call(self, method: str, path: str, params: dict[str, str]) -> RecordedCall:
        with self.lock:
            self.calls += 1
            safe = {k: v for k, v in params.items() if k != "access_token"}
            record = RecordedCall(self.calls, method, path, safe)
            self.requests.append(record)
            return record

    def calls_to(self, path_suffix: str, method: str = "GET") -> list[RecordedCall]:
        """Requests whose path ends with ``path_suffix`` (e.g. ``"/assigned_users"``)."""
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]
