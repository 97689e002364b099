"""Meta Graph answers mapped onto records: accounts, resources and grants (see ``connectors.meta``)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

import httpx

from accessward.connectors.errors import MalformedResponseError
from accessward.connectors.http import JSONDict
from accessward.connectors.meta_tasks import INSTAGRAM_TASK_LEVELS, TASK_LEVELS, business_role_and_level, role_and_level
from accessward.connectors.records import AccountKind, AccountRecord, GrantRecord, Level, ResourceRecord

__all__ = ["INSTAGRAM_TASK_LEVELS", "TASK_LEVELS"]

PAGE_KIND = "facebook_page"
INSTAGRAM_KIND = "instagram_account"
BUSINESS_KIND = "meta_business"
PARTNER_PREFIX = "partner:"
PARTNER_ROLE = "PARTNER"
PAGE_ROLE_PREFIX = "pagerole:"  # people with a task on a Page outside any business (/{page-id}/roles)
PAGE_ROLE = "PAGE_ROLE"
INVITE_PREFIX = "invite:"  # an open invitation to the business (/{business}/pending_users)
INVITED_ROLE = "INVITED"

BUSINESS_FIELDS = "id,name"
BUSINESS_USER_FIELDS = "id,name,email,role,tasks,two_fac_status"
SYSTEM_USER_FIELDS = "id,name,role"
PAGE_FIELDS = "id,name"
INSTAGRAM_ASSET_FIELDS = "id,ig_user_id,ig_username"
INSTAGRAM_ACCOUNT_FIELDS = "id,username,name"
ASSIGNED_USER_FIELDS = "id,name,user_type,tasks"
PARTNER_FIELDS = "id,name"
#: The per-asset tasks of a partner: the name of the parameter that grants them (unverified on GET).
ASSET_PARTNER_FIELDS = "id,name,permitted_tasks"
#: A Page's partner rows also say whether the access is CONFIRMED or a PENDING request.
PAGE_PARTNER_FIELDS = "id,name,permitted_tasks,access_status"
PAGE_ROLE_FIELDS = "id,name,tasks"  # (unverified: ``tasks`` on /roles; an old ``role`` is accepted too)
PENDING_USER_FIELDS = "id,email,role,status,tasks,expiration_time"  # never invite_link: it is a secret


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


#: ``two_fac_status`` values are undocumented (unverified): only clear words map to a boolean.
_TWO_FAC_ON = frozenset({"enabled", "on", "active", "two_fac_enabled"})
_TWO_FAC_OFF = frozenset({"not_enabled", "disabled", "off", "none", "two_fac_not_enabled"})

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


def membership_grant(item: JSONDict, account_id: str, business_id: str, mode: BusinessMembership,
                     system: str) -> GrantRecord | None:
    """The business-level grant of a business or system user, if ``mode`` lists it."""
    if mode is BusinessMembership.none:
        return None
    role = (_text(item, "role", system) or "").upper()
    if not role:
        raise MalformedResponseError(f"business member {account_id} has no role", system=system,
                                     detail=str(item)[:200])
    tasks = item.get("tasks") or []
    if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
        raise MalformedResponseError(f"business member {account_id} has a malformed task list", system=system,
                                     detail=str(item)[:200])
    role, level = business_role_and_level(role, tasks)
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



#: Old Page role names, in case ``/roles`` answers ``role`` instead of ``tasks`` (unverified).
_PAGE_ROLE_TASKS: dict[str, list[str]] = {
    "ADMIN": ["MANAGE"], "EDITOR": ["CREATE_CONTENT"], "MODERATOR": ["MODERATE"], "ADVERTISER": ["ADVERTISE"],
    "ANALYST": ["ANALYZE"],
}


def page_role_records(item: JSONDict, page_id: str, system: str) -> tuple[AccountRecord, GrantRecord]:
    """Someone with a task on the Page outside any business (``/{page-id}/roles``): account and grant.

    The account id is ``pagerole:<user id>``: a Page-scoped person, removed by hand (no API), so its
    grants never reach the ``assigned_users`` removal. Without ``tasks`` (or a known old ``role``)
    the grant ranks admin with the role ``PAGE_ROLE``: never below what it may hold.
    """
    user_id = _text(item, "id", system, required=True) or ""
    tasks = item.get("tasks")
    if tasks is None and isinstance(item.get("role"), str):
        tasks = _PAGE_ROLE_TASKS.get(str(item["role"]).upper(), [str(item["role"]).upper()])
    account = AccountRecord(external_id=PAGE_ROLE_PREFIX + user_id, kind=AccountKind.human,
                            display_name=_text(item, "name", system) or "")
    if tasks is None:
        return account, GrantRecord(account_id=account.external_id, resource_id=page_id, role=PAGE_ROLE,
                                    level=Level.admin)
    if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
        raise MalformedResponseError(f"Page role {user_id} on page {page_id} has a malformed task list",
                                     system=system, detail=str(item)[:200])
    role, level = role_and_level(tasks)
    return account, GrantRecord(account_id=account.external_id, resource_id=page_id, role=role or PAGE_ROLE,
                                level=level if role else Level.admin)


def invitation_records(item: JSONDict, business_id: str, system: str) -> tuple[AccountRecord, GrantRecord] | None:
    """An invitation still open (``/{business}/pending_users``): access waiting to happen.

    The account is ``invite:<request id>`` with the invited address, so correlation matches it to a
    leaver or finds nobody (an outside address); the grant on the business carries the role and
    tasks it would give, ``INVITED:ROLE[:TASKS]``. Rows whose ``status`` is not PENDING (expired,
    declined) are no access and are skipped. ``invite_link`` is never asked for (it is a secret).
    """
    invite_id = _text(item, "id", system, required=True) or ""
    status = (_text(item, "status", system) or "PENDING").upper()
    if status not in ("PENDING", "SENT", "INVITED"):
        return None
    email = _text(item, "email", system)
    role = (_text(item, "role", system) or "EMPLOYEE").upper()
    tasks = item.get("tasks") or []
    if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
        raise MalformedResponseError(f"invitation {invite_id} has a malformed task list", system=system,
                                     detail=str(item)[:200])
    role_text, level = business_role_and_level(role, tasks)
    account = AccountRecord(external_id=INVITE_PREFIX + invite_id, kind=AccountKind.human, email=email,
                            display_name=f"Invitation to {email}" if email else "Invitation")
    return account, GrantRecord(account_id=account.external_id, resource_id=business_id,
                                role=f"{INVITED_ROLE}:{role_text}", level=level)
