"""``accessward check`` for TikTok Business Centers: each visible, its members readable, the token's user an ADMIN.

Split out of ``connectors.tiktok`` (which re-exports :func:`check`) so the connector module holds only
listing and revocation; the preflight uses the connector's own reads on purpose, to prove the very
requests a run makes.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from accessward.connectors.errors import ConnectorError
from accessward.connectors.preflight import CheckItem, first_record, probe

if TYPE_CHECKING:
    from accessward.connectors.tiktok import TikTokBusinessCenterConnector


def check(connector: TikTokBusinessCenterConnector) -> list[CheckItem]:
    """Read-only preflight: the token's user role in each Business Center (``/bc/get/`` answers it per BC;
    removals need ADMIN) and the member list readable (``/bc/member/get/``)."""
    from accessward.connectors.tiktok import PAGE_SIZE  # here: tiktok imports this module at its end

    roles: dict[str, str] = {}
    try:
        for row in connector._pages("bc/get/", PAGE_SIZE):
            info = row.get("bc_info")
            if isinstance(info, dict) and info.get("bc_id") is not None:
                roles[str(info["bc_id"])] = str(row.get("user_role") or "")
    except ConnectorError as exc:
        return [CheckItem("Business Centers visible", "unknown" if exc.kind == "transient" else "missing",
                          f"{exc.kind}: {exc}", "issue a new access token for a member of the Business Center")]
    items: list[CheckItem] = []
    for bc in (connector.bc_id, *connector.child_bc_ids):
        if bc not in roles:
            items.append(CheckItem(f"BC {bc} visible", "missing", "not among the token user's Business Centers",
                                   f"check the BC id, or add the token's user to BC {bc}"))
            continue
        items.append(probe(f"BC {bc} members readable", partial(first_record, partial(connector._members, bc)),
                           fix=f"make the token's user a member (ADMIN to see every member) of BC {bc}"))
        admin = roles[bc] == "ADMIN"
        items.append(CheckItem(f"BC {bc} ADMIN", "ok" if admin else "missing", f"user_role {roles[bc] or 'none'}",
                               "" if admin else f"make the token's user an ADMIN of BC {bc} (Business Center > "
                                                "Members > Edit role)", "revoke"))
    return items
