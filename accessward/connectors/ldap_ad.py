"""Active Directory's own behaviours for the LDAP identity source, kept apart from the generic LDAP code
(as authentik keeps vendor quirks in their own modules): nested groups, built-in and service accounts,
deletions seen through the Deleted Objects container, the DC's USN state for incremental rounds
(``usn_state``: rootDSE ``highestCommittedUSN``, ``dnsHostName`` and the ``invocationId`` of the
``dsServiceName`` object) and FILETIME values (``filetime_to_datetime``).

**Nested groups.** ``memberOf`` lists direct groups only (and never the primary group). A rule that names
a group (role ceilings) must see a member of a nested group too, so :class:`GroupGraph` reads every
group's own ``memberOf`` once per listing (one paged search of ``(objectClass=group)`` under the
domain's ``defaultNamingContext``) and :meth:`GroupGraph.expand` adds every group a person is in
through other groups. It answers what the in-chain matching rule ``(member:1.2.840.113556.1.4.1941:=
<user DN>)`` answers per user, for all users at the cost of one search instead of one per user (or one
base read of the constructed ``tokenGroups`` per user, which also needs a SID -> DN map); the Samba
test checks the two agree. Limits: the primary group (``primaryGroupID``, usually Domain Users) is not
in ``memberOf`` and is not added; groups of another domain of the forest are not read.

**Built-in and service accounts are not staff.** ``krbtgt``, ``Guest``, ``Administrator`` (and
``DefaultAccount``, RIDs 500-504), any object with ``isCriticalSystemObject=TRUE`` and managed service
accounts (``msDS-ManagedServiceAccount``, ``msDS-GroupManagedServiceAccount``,
``msDS-DelegatedManagedServiceAccount``) are excluded by :data:`AD_DEFAULT_FILTER`; when a custom
``user_filter`` lets one through, :func:`system_account_reason` names why and the source drops it
(logged with its DN), so it is never listed as an active employee.

**Deletions.** Polling ``uSNChanged`` cannot see a deleted user: AD turns it into a tombstone in
``CN=Deleted Objects,<domain>`` (``isDeleted=TRUE``, most attributes stripped, ``objectGUID``,
``uSNChanged`` and ``lastKnownParent`` kept), visible only with the show-deleted control
1.2.840.113556.1.4.417. An incremental round therefore also searches that container for users
deleted since the cursor (``(&(isDeleted=TRUE)(objectClass=user)(!(objectClass=computer))
(uSNChanged>=<cursor+1>))``) whose ``lastKnownParent`` lies under the source's base DN, and yields
each as a :class:`~accessward.connectors.records.RemovedPerson` (``permanent`` when ``isRecycled``
says it can no longer be restored): a leaver deleted in the afternoon is a leaver in the evening run.
The container is read with a base search first (its own ``isDeleted`` must be readable: AD answers a
reader without rights with no entry, Samba with the entry and no attribute): a service account that
may not read it gets a :class:`StopError` naming the fix, never a silent "nobody was deleted". OpenLDAP has no such
container; it keeps the daily full round (``full_every``).

Sources: learn.microsoft.com/windows/win32/adsi/search-filter-syntax (LDAP_MATCHING_RULE_IN_CHAIN);
.../win32/ad/retrieving-deleted-objects (show-deleted control, Deleted Objects container);
.../adschema/a-iscriticalsystemobject; .../adschema/c-msds-managedserviceaccount;
.../win32/ad/polling-for-changes-using-usnchanged; reference/identity-apis.md, section 3.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ldap3 import BASE, SUBTREE, Connection
from ldap3.core import exceptions as lx

from accessward.connectors.errors import MalformedResponseError, StopError
from accessward.connectors.ldap_raw import raw_attributes
from accessward.connectors.records import RemovedPerson

__all__ = [
    "ACCOUNTDISABLE", "AD_DEFAULT_FILTER", "AD_NEVER", "IN_CHAIN", "SHOW_DELETED_OID", "SYSTEM_ACCOUNT_ATTRIBUTES",
    "GroupGraph", "deleted_users", "filetime_to_datetime", "naming_context", "system_account_reason", "usn_state",
]

log = logging.getLogger(__name__)

PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
ACCOUNTDISABLE = 0x2  # userAccountControl
AD_NEVER = 9223372036854775807  # accountExpires: never (so is 0)
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
SHOW_DELETED_OID = "1.2.840.113556.1.4.417"
IN_CHAIN = "1.2.840.113556.1.4.1941"
#: Administrator, Guest, krbtgt, DefaultAccount, WDAGUtilityAccount.
BUILT_IN_RIDS = frozenset({500, 501, 502, 503, 504})
SERVICE_CLASSES = frozenset({"msds-managedserviceaccount", "msds-groupmanagedserviceaccount",
                             "msds-delegatedmanagedserviceaccount"})
#: People, not computers, not built-in or critical system objects, not managed service accounts.
AD_DEFAULT_FILTER = ("(&(objectCategory=person)(objectClass=user)(!(isCriticalSystemObject=TRUE))"
                     "(!(objectClass=msDS-ManagedServiceAccount))(!(objectClass=msDS-GroupManagedServiceAccount))"
                     "(!(objectClass=msDS-DelegatedManagedServiceAccount)))")
#: Read with every AD entry so that a system account a custom filter lets through is still dropped.
SYSTEM_ACCOUNT_ATTRIBUTES = ("isCriticalSystemObject", "objectClass", "objectSid")


def filetime_to_datetime(value: int) -> datetime | None:
    """AD FILETIME (100 ns ticks since 1601-01-01 UTC) -> aware datetime; None for never (0/max)."""
    if value <= 0 or value >= AD_NEVER:
        return None
    try:
        return _FILETIME_EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:  # beyond year 9999: never, in practice
        return None


def _texts(entry: Mapping[str, list[bytes]], name: str) -> list[str]:
    return [raw.decode("utf-8", errors="replace").strip() for raw in entry.get(name, ()) if raw]


def _rid(raw_sid: bytes) -> int | None:
    """The last sub-authority of a binary SID (the relative id), None when it is not a SID."""
    if len(raw_sid) < 12 or raw_sid[0] != 1 or len(raw_sid) != 8 + 4 * raw_sid[1]:
        return None
    return int.from_bytes(raw_sid[-4:], "little")


def system_account_reason(entry: Mapping[str, list[bytes]]) -> str | None:
    """Why an entry (raw values, lower-cased names) is a built-in or service account; None for staff."""
    if any(v.upper() == "TRUE" for v in _texts(entry, "iscriticalsystemobject")):
        return "isCriticalSystemObject"
    classes = {v.lower() for v in _texts(entry, "objectclass")}
    if classes & SERVICE_CLASSES:
        return "managed service account"
    for raw in entry.get("objectsid", ()):
        if _rid(raw) in BUILT_IN_RIDS:
            return f"built-in account (RID {_rid(raw)})"
    return None


def _paged(conn: Connection, base: str, search_filter: str, attributes: Sequence[str], *, scope: Any = SUBTREE,
           controls: list[tuple[str, bool, Any]] | None = None, page_size: int = 500) -> Iterator[dict[str, Any]]:
    """Every searchResEntry of a paged search, each page's result code checked (no silent truncation)."""
    cookie: bytes | None = None
    while True:
        conn.search(base, search_filter, search_scope=scope, attributes=list(attributes), paged_size=page_size,
                    paged_criticality=True, paged_cookie=cookie, controls=controls)
        result = conn.result
        if result.get("result") not in (0, None):
            raise StopError(f"search of {base} failed: {result.get('description')} {result.get('message', '')}",
                            status=result.get("result"))
        for item in conn.response or []:
            if item.get("type") == "searchResEntry":
                yield item
        try:
            cookie = result["controls"][PAGED_RESULTS_OID]["value"]["cookie"] or None
        except (KeyError, TypeError):
            cookie = None
        if not cookie:
            return


def naming_context(conn: Connection, fallback: str) -> str:
    """The domain's ``defaultNamingContext`` from the rootDSE (``fallback`` when the server has none)."""
    conn.search("", "(objectClass=*)", search_scope=BASE, attributes=["defaultNamingContext"])
    for item in conn.response or []:
        if item.get("type") == "searchResEntry":
            found = _texts(raw_attributes(item), "defaultnamingcontext")
            if found:
                return found[0]
    return fallback


@dataclass
class GroupGraph:
    """Every group's direct parents (``memberOf`` of the group), keyed by lower-cased DN."""

    parents: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: Connection, base: str, page_size: int = 500) -> GroupGraph:
        graph = cls()
        for item in _paged(conn, base, "(objectClass=group)", ["memberOf"], page_size=page_size):
            dn = str(item.get("dn", ""))
            graph.parents[dn.lower()] = _texts(raw_attributes(item), "memberof")
        log.info("read %d groups under %s for nested membership", len(graph.parents), base)
        return graph

    def expand(self, direct: Sequence[str]) -> tuple[str, ...]:
        """``direct`` groups first, then every group reached through them (cycles are harmless)."""
        seen = {dn.lower() for dn in direct}
        out = list(direct)
        queue = list(direct)
        while queue:
            for parent in self.parents.get(queue.pop(0).lower(), ()):
                if parent.lower() not in seen:
                    seen.add(parent.lower())
                    out.append(parent)
                    queue.append(parent)
        return tuple(out)


def _under(dn: str, base: str) -> bool:
    dn, base = dn.lower().replace(" ", ""), base.lower().replace(" ", "")
    return dn == base or dn.endswith("," + base)


def deleted_users(conn: Connection, domain: str, base_dn: str, since_usn: int, *, system: str,
                  page_size: int = 500) -> Iterator[RemovedPerson]:
    """Users deleted (tombstoned) after ``since_usn`` whose last parent lies under ``base_dn``."""
    container = f"CN=Deleted Objects,{domain}"
    show_deleted = [(SHOW_DELETED_OID, True, None)]
    try:
        conn.search(container, "(objectClass=*)", search_scope=BASE, attributes=["isDeleted"], controls=show_deleted)
        # A reader without rights gets no entry (AD) or the entry with no attribute it may read (Samba).
        readable = any(item.get("type") == "searchResEntry"
                       and any(v.upper() == "TRUE" for v in _texts(raw_attributes(item), "isdeleted"))
                       for item in conn.response or [])
    except (lx.LDAPNoSuchObjectResult, lx.LDAPInsufficientAccessRightsResult, lx.LDAPOperationsErrorResult) as exc:
        readable, detail = False, str(exc)
    else:
        detail = str(conn.result.get("description", ""))
    if not readable:
        raise StopError(
            f"{system}: {container} is not readable with the show-deleted control, so an incremental round cannot "
            "see deleted users; let the service account list it (dsacls \"" + container + "\" /G "
            "<account>:LCRP, after dsacls /takeownership), or set deleted_objects = false and rely on the full "
            "round (full_every_hours)", system=system, detail=detail)
    search_filter = f"(&(isDeleted=TRUE)(objectClass=user)(!(objectClass=computer))(uSNChanged>={since_usn + 1}))"
    for item in _paged(conn, container, search_filter, ["objectGUID", "lastKnownParent", "isRecycled"],
                       controls=show_deleted, page_size=page_size):
        entry = raw_attributes(item)
        parents = _texts(entry, "lastknownparent")
        if parents and not _under(parents[0], base_dn):
            continue
        raw = (entry.get("objectguid") or [b""])[0]
        if len(raw) != 16:
            raise MalformedResponseError(f"{system}: tombstone {item.get('dn')} has no objectGUID", system=system)
        recycled = any(v.upper() == "TRUE" for v in _texts(entry, "isrecycled"))
        yield RemovedPerson(source_key=str(uuid.UUID(bytes_le=raw)), permanent=recycled)


def usn_state(conn: Connection, endpoint: str, system: str) -> tuple[str, str | None, int | None]:
    """This DC's name, invocationId (None if unreadable) and highestCommittedUSN (None if absent)."""
    conn.search("", "(objectClass=*)", search_scope=BASE,
                attributes=["highestCommittedUSN", "dnsHostName", "dsServiceName"])
    root: dict[str, list[bytes]] = {}
    for item in conn.response or []:
        if item.get("type") == "searchResEntry":
            root = raw_attributes(item)
    dc = (next(iter(_texts(root, "dnshostname")), None) or endpoint).lower()
    highest: int | None = None
    if (text := next(iter(_texts(root, "highestcommittedusn")), None)) is not None:
        try:
            highest = int(text)
        except ValueError as exc:
            raise MalformedResponseError(
                f"{system}: the rootDSE of {dc} has a non-numeric highestCommittedUSN: {text!r}",
                system=system,
            ) from exc
    invocation: str | None = None
    if service := next(iter(_texts(root, "dsservicename")), None):
        try:
            conn.search(service, "(objectClass=*)", search_scope=BASE, attributes=["invocationId"])
            for item in conn.response or []:
                if item.get("type") == "searchResEntry":
                    raw = (raw_attributes(item).get("invocationid") or [b""])[0]
                    if len(raw) == 16:
                        invocation = str(uuid.UUID(bytes_le=raw))
        except lx.LDAPOperationResult:
            log.info("%s: the invocationId of %s is not readable; the cursor keeps the DC name only", system, dc)
    return dc, invocation, highest
