"""``accessward check`` for Keycloak: a read-only preflight of the service account's roles and the user profile.

Split out of ``connectors.keycloak`` (which re-exports :func:`check`) so the connector module holds
only listing, posture and the IdP actions.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING

from accessward.connectors.preflight import CheckItem, probe

if TYPE_CHECKING:
    from accessward.connectors.keycloak import KeycloakSource


def check(source: KeycloakSource) -> list[CheckItem]:
    """Read-only preflight: users readable (``/users/count``, role view-users) and every attribute this
    source reads declared in the realm's user profile (:meth:`KeycloakSource.check_profile`)."""

    def count() -> str:
        return f"{source._call('the user count', source._admin.users_count)} user(s)"

    def profile() -> str:
        source.check_profile()
        return "declared: " + (", ".join(source.configured_attributes()) or "none read")

    return [
        probe("users readable", count, fix=f"give the service account of client {source.client_id} the "
                                           "realm-management role view-users"),
        probe("user-profile attributes declared", profile,
              fix="declare the attribute in Realm settings > User profile (admin may view)"),
        _manage_users(source),
    ]


def _manage_users(source: KeycloakSource) -> CheckItem:
    """``manage-users`` from the access token's ``resource_access.realm-management.roles`` (a service
    account's client roles; the token is only read, it came from Keycloak's token endpoint)."""
    fix = f"give the service account of client {source.client_id} the realm-management role manage-users"
    what = "end sessions / disable users (manage-users)"
    token = (getattr(source._connection, "token", None) or {}).get("access_token")
    parts = token.split(".") if isinstance(token, str) else []
    claims: object = None
    if len(parts) == 3:
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except ValueError:
            claims = None
    access = claims.get("resource_access") if isinstance(claims, dict) else None
    if not isinstance(access, dict):
        return CheckItem(what, "unknown", "the access token carries no resource_access claim (an opaque token, or "
                         "the roles client scope is off)", fix, "revoke")
    roles = (access.get("realm-management") or {}).get("roles") or []
    if "manage-users" in roles:
        return CheckItem(what, "ok", "realm-management: manage-users", "", "revoke")
    return CheckItem(what, "missing", f"realm-management roles: {', '.join(sorted(map(str, roles))) or 'none'}",
                     fix, "revoke")
