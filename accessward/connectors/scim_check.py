"""``accessward check`` for a SCIM suite: users readable and PATCH supported where revocation needs it.

Split out of ``connectors.scim`` (which re-exports :func:`check`) so the connector module holds only
listing and revocation; the preflight uses the connector's own reads on purpose, to prove the very
requests a run makes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accessward.connectors.errors import RejectedError
from accessward.connectors.preflight import CheckItem, first_record, probe

if TYPE_CHECKING:
    from accessward.connectors.scim import ScimConnector


def check(connector: ScimConnector) -> list[CheckItem]:
    """Read-only preflight: ``/Users`` answers, and ``/ServiceProviderConfig`` (RFC 7644 §4) says PATCH is
    supported when revoke_mode is deactivate. SCIM has no read that tells whether the token may write."""
    items = [probe("users readable", lambda: first_record(connector._users),
                   fix="issue a SCIM token for an account that may read users (the suite's admin settings)")]
    if connector.revoke_mode == "deactivate":
        def patch() -> str:
            body = connector._client.get_json("ServiceProviderConfig")
            supported = isinstance(body.get("patch"), dict) and body["patch"].get("supported") is True
            if not supported:
                raise RejectedError("ServiceProviderConfig says patch.supported is not true", system=connector.name)
            return "ServiceProviderConfig: patch.supported"
        items.append(probe("PATCH active=false (deactivate)", patch, use="revoke",
                           fix="set revoke_mode = \"delete\" for this suite, or ask the vendor for PATCH support"))
    items.append(CheckItem(f"write with this token ({connector.revoke_mode})", "unknown",
                           "SCIM has no read-only call that tells whether a token may write",
                           "give the token's account user-management rights in the suite", "revoke"))
    return items
