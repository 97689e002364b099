"""``accessward check`` for LinkedIn organization: the ACLs readable and the token's member an ADMINISTRATOR.

Split out of ``connectors.linkedin`` (which re-exports :func:`check`) so the connector module holds only
listing and revocation; the preflight uses the connector's own reads on purpose, to prove the very
requests a run makes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accessward.connectors.errors import RejectedError
from accessward.connectors.preflight import CheckItem, first_record, probe

if TYPE_CHECKING:
    from accessward.connectors.linkedin import LinkedInOrganizationConnector


def check(connector: LinkedInOrganizationConnector) -> list[CheckItem]:
    """Read-only preflight: the organization's ACLs are readable (``q=organization``, which LinkedIn answers
    only for an ADMINISTRATOR), and the token's member holds an APPROVED ADMINISTRATOR role there
    (``q=roleAssignee``), which a revocation needs. Whether the token carries ``rw_organization_admin`` or only
    ``r_organization_admin`` is told only by token introspection, which needs the app's client secret."""
    from accessward.connectors.linkedin import ACL_PATH, APPROVED  # here: linkedin imports this module at its end

    org = connector.organization_urn

    def admin() -> str:
        for acl in connector._client.get_json(ACL_PATH, {"q": "roleAssignee", "role": "ADMINISTRATOR",
                                                         "state": APPROVED}).get("elements") or []:
            if isinstance(acl, dict) and acl.get("organization") == org:
                return "the token's member is an APPROVED ADMINISTRATOR"
        raise RejectedError(f"the token's member is not an APPROVED ADMINISTRATOR of {org}", system=connector.name)

    return [
        probe("organization ACLs readable", lambda: first_record(lambda: connector._acls(state=APPROVED)),
              fix=f"authorize the app with r_organization_admin (or rw_organization_admin) as an ADMINISTRATOR of "
                  f"{org}, and keep linkedin_version current"),
        probe("ADMINISTRATOR of the organization", admin, use="revoke",
              fix=f"have a Super admin of {org} make the token's member an ADMINISTRATOR, then re-authorize"),
        CheckItem("scope rw_organization_admin", "unknown",
                  "only token introspection (POST /oauth/v2/introspectToken) lists the scopes, and it needs the "
                  "app's client id and secret, which Accessward does not hold",
                  "authorize with rw_organization_admin; a missing scope shows as a 403 on the first revocation",
                  "revoke"),
    ]
