"""``accessward check`` for an LDAP identity source: read-only preflight (bind, read people; on AD nested
groups and the Deleted Objects container)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accessward.connectors.errors import StopError
from accessward.connectors.ldap_ad import GroupGraph, deleted_users, naming_context, usn_state
from accessward.connectors.preflight import CheckItem, first_record, probe

if TYPE_CHECKING:
    from accessward.connectors.ldap import LdapSource

__all__ = ["check"]

def check(source: LdapSource) -> list[CheckItem]:
    """Read-only preflight: bind and read people; on Active Directory also nested groups visible
    (``GroupGraph.load``) and the Deleted Objects container readable (``ldap_ad.deleted_users``, the check an
    incremental round runs, asked for nothing newer than the DC's highest USN)."""
    cfg = source.config
    items = [probe("bind and read people", lambda: first_record(source.list_people),
                   fix=f"check url, bind_dn and the bind password; the account must read {cfg.base_dn}")]
    if items[0].status != "ok" or cfg.schema != "active_directory":
        return items
    conn = source._connect()
    try:
        def groups() -> str:
            found = len(GroupGraph.load(conn, naming_context(conn, cfg.base_dn), page_size=cfg.page_size).parents)
            if not found:
                raise StopError("no group (or no memberOf) visible to the bind account", system=source.name)
            return f"{found} group(s) with memberOf readable"
        items.append(probe("nested groups visible", groups, relied_on=source._map.nested_groups,
                           fix="let the bind account read group objects and memberOf (Read permission on the "
                               "domain's groups)"))
        _, _, highest = usn_state(conn, cfg.url, source.name)
        if highest is None:
            items.append(CheckItem("Deleted Objects readable", "unknown", "no highestCommittedUSN: not an AD DC",
                                   "", "read", cfg.deleted_objects))
        else:
            items.append(probe("Deleted Objects readable",
                               lambda: first_record(lambda: deleted_users(conn, naming_context(conn, cfg.base_dn),
                                                                          cfg.base_dn, highest, system=source.name))
                               and "readable with the show-deleted control",
                               relied_on=cfg.deleted_objects,
                               fix='dsacls "CN=Deleted Objects,<domain>" /G <account>:LCRP (after dsacls '
                                   "/takeownership), or set deleted_objects = false"))
    finally:
        conn.unbind()
    return items
