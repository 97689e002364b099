"""``accessward check`` for Meta Business: a read-only preflight of the business, the token and the Pages.

Split out of ``connectors.meta`` (which re-exports :func:`check`) so the connector module holds only
listing and revocation; the preflight reaches into the connector's own calls on purpose, to prove
the very requests a listing makes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accessward.connectors.errors import ConnectorError
from accessward.connectors.http import require_list
from accessward.connectors.meta_records import PAGE_FIELDS
from accessward.connectors.preflight import CheckItem, Use, probe

if TYPE_CHECKING:
    from accessward.connectors.meta import MetaBusinessConnector

#: Permission -> (what relies on it, the use). business_management: every business edge and removal;
#: pages_manage_metadata: the Page edges (assigned_users, agencies, roles) and their removals.
META_PERMISSIONS: tuple[tuple[str, Use], ...] = (("business_management", "read"), ("pages_manage_metadata", "revoke"),
                    ("pages_show_list", "read"))
META_PERMISSION_FIX = ("give the app the permission and issue a new system-user token with it (Business Settings > "
                       "System users > Generate new token, tick {perm})")


def check(connector: MetaBusinessConnector, *, max_pages: int = 20) -> list[CheckItem]:
    """Read-only preflight: the business is visible, the token's permissions (``GET /me/permissions``), and a
    Page token per Page (:meth:`MetaBusinessConnector.page_token`, the call every listing makes for Page edges)."""
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
    for page_id in pages:
        def obtain(page: str = page_id) -> str:
            connector.page_token(page)  # the same call a listing makes; the token is not kept here
            return "obtainable (not kept)"
        items.append(probe(f"Page token {page_id}", obtain,
                           fix="assign the system user to the Page with full control (MANAGE / "
                               "PROFILE_PLUS_FULL_CONTROL) and grant pages_manage_metadata"))
    return items
