"""``accessward check`` for Entra ID: a read-only preflight from the app token's roles.

Split out of ``connectors.entra`` (which re-exports :func:`check`) so the connector module holds
only listing, delta and the IdP actions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accessward.connectors.entra_auth import LIFECYCLE_PERMISSION, LIFECYCLE_PERMISSIONS
from accessward.connectors.errors import ConnectorError, StopError
from accessward.connectors.preflight import CheckItem, Use, first_record, probe

if TYPE_CHECKING:
    from accessward.connectors.entra import EntraSource

#: capability -> (the application permissions any of which grants it, the use). Least-privileged first.
ENTRA_CAPABILITIES: tuple[tuple[str, tuple[str, ...], Use], ...] = (
    ("read users", ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"),
     "read"),
    ("read MFA methods (posture)", ("UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All"),
     "read"),
    ("end sign-in sessions", ("User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All"), "revoke"),
    ("disable accounts", ("User.EnableDisableAccount.All", "User.ReadWrite.All", "Directory.ReadWrite.All"),
     "revoke"),
    ("remove MFA methods (lost device)", ("UserAuthenticationMethod.ReadWrite.All",), "revoke"),
)
_ENTRA_FIX = ("App registrations > {app} > API permissions > Add a permission > Microsoft Graph > Application "
              "permissions > {perm}, then Grant admin consent")


def check(source: EntraSource, *, disable_accounts: bool = False, guests: str = "disable") -> list[CheckItem]:
    """Read-only preflight from the app token's ``roles`` claim: each capability this source uses, one
    ``GET /users?$top=1`` to prove Graph answers, and leave dates through
    :meth:`EntraSource.check_leave_date_permission` (the check every run starts with)."""
    try:
        roles = source.token_roles()
    except ConnectorError as exc:
        return [CheckItem("app token", "unknown" if exc.kind == "transient" else "missing", f"{exc.kind}: {exc}",
                          "check tenant_id, client_id and the client secret (Certificates & secrets)")]
    items = [CheckItem("app token", "ok", f"roles: {', '.join(sorted(roles)) or 'none'}")]
    # offboarding and lost devices end sessions on every IdP; a guest is disabled (or deleted) instead
    relied = {"read MFA methods (posture)": source._with_posture,
              "disable accounts": disable_accounts or guests == "disable"}
    capabilities = list(ENTRA_CAPABILITIES)
    if guests == "delete":
        capabilities.append(("delete guests", ("User.ReadWrite.All", "Directory.ReadWrite.All"), "revoke"))
    for capability, perms, use in capabilities:
        held = sorted(roles & set(perms))
        items.append(CheckItem(capability, "ok" if held else "missing", ", ".join(held) or f"no {perms[0]}",
                               "" if held else _ENTRA_FIX.format(app=source.client_id, perm=perms[0]), use,
                               relied.get(capability, True)))
    items.append(probe("Graph answers /users", lambda: first_record(
        lambda: source._pages("users", {"$select": "id", "$top": "1"}, source._next_link)),
        fix="check graph_url, and grant User.Read.All (admin consent)"))
    try:
        if source.leave_dates:
            source.check_leave_date_permission()
        elif not roles & LIFECYCLE_PERMISSIONS:
            raise StopError(f"no {LIFECYCLE_PERMISSION} (leave_dates is off, so nothing relies on it)",
                            system=source.name)
        items.append(CheckItem("leave dates readable", "ok", LIFECYCLE_PERMISSION, "", "read", source.leave_dates))
    except StopError as exc:
        items.append(CheckItem("leave dates readable", "missing", str(exc),
                               _ENTRA_FIX.format(app=source.client_id, perm=LIFECYCLE_PERMISSION)
                               + ", or set leave_dates = false", "read", source.leave_dates))
    return items
