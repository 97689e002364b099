"""LDAP identity source: OpenLDAP (inetOrgPerson) and Active Directory, over ldap3.

:class:`LdapSource` implements :class:`connectors.protocols.IdentitySource`: ``list_people()``
binds, runs one paged search (RFC 2696 / AD control 1.2.840.113556.1.4.319) over ``base_dn`` and
yields a :class:`~connectors.records.PersonRecord` per ``searchResEntry``, one page at a time, so
a directory of any size is streamed, never held in memory.

Safety (DESIGN.md, invariant 1): every failure raises a :mod:`connectors.errors` exception from
the iterator; nothing ever ends as a short or empty listing. In particular:

* server down, refused, reset or timed out -> :class:`TransientError`, also mid-listing;
* bad credentials, insufficient rights -> :class:`AuthError`; an empty password with a bind DN
  is refused before it can become an anonymous ("unauthenticated") bind;
* a base DN that does not exist, a bad filter, a server that does not honour the paging control
  (it is sent critical), or a server limit that cut the listing short (sizeLimitExceeded) ->
  :class:`StopError`. ldap3 2.9 does not raise on sizeLimitExceeded/timeLimitExceeded even with
  ``raise_exceptions=True`` (both are in its ``DO_NOT_RAISE_EXCEPTIONS``), and its
  ``paged_search`` generator then simply stops, so this module runs the paging loop itself and
  checks every page's result code;
* an entry without its stable key (entryUUID / objectGUID) -> :class:`MalformedResponseError`
  naming the DN: skipping it would make that person look like a leaver.

Incremental (:meth:`LdapSource.list_changes`, :class:`connectors.protocols.IncrementalIdentitySource`):
``list_changes(None)`` is a full round (``run.full``: everyone, like ``list_people``) that ends in a
cursor; ``list_changes(cursor)`` yields only the people changed since. The cursor is opaque text
(``ldap:`` + JSON) that also records a digest of the base DN, filter and attribute map: a cursor
written for another scope raises :class:`ResyncRequired`, as does one that is unreadable.

* OpenLDAP, by ``modifyTimestamp``: the next filter is
  ``(&<user filter>(modifyTimestamp>=<cursor>))``. The cursor is the highest modifyTimestamp
  listed *minus the round's duration plus a second*: an entry read early in a long round and
  changed before the round ended carries a timestamp below the highest one seen, and this
  overlap reads it again next time. So a round re-reads the last changes of the one before it
  (harmless: upserts). Timestamps come from the server's clock; with multi-provider replication
  an entry replicated late with an older timestamp can be missed until the next full round.
* Active Directory, by ``uSNChanged`` (Microsoft's "polling for changes using uSNChanged"): before
  the search the rootDSE's ``highestCommittedUSN``, ``dnsHostName`` and the ``invocationId`` of
  the ``dsServiceName`` object (when readable) are read; the next filter is
  ``(&<user filter>(uSNChanged>=<USN+1>))``. USNs are per domain controller: another DC, a
  changed invocationId (a restore) or a highestCommittedUSN below the cursor's raises
  :class:`ResyncRequired` (the runner then runs a full round). Point ``url`` at one DC, not at
  the domain name, or rounds land on different DCs and keep falling back to full ones. A server
  without ``highestCommittedUSN`` (a test slapd with the AD schema) gets the highest uSNChanged
  listed instead.

What polling cannot see, only a full round does: on OpenLDAP deleted entries; on either, entries that
left the filter's scope, and on AD a change of group membership (it changes the group's ``member``,
not the user's ``uSNChanged``). On AD an incremental round does see deletions: it also reads the
users tombstoned since the cursor in the Deleted Objects container (show-deleted control; see
:mod:`accessward.connectors.ldap_ad`) and yields each as a ``RemovedPerson``. The runner runs a
full round when there is no cursor and on ``accessward sync --full``; ``full_every`` makes the
source itself start a full round once the last one is older than that.

Attribute maps (:class:`AttributeMap`) come as two presets, :data:`OPENLDAP` and
:data:`ACTIVE_DIRECTORY`; adjust one with :meth:`AttributeMap.replace`. Active Directory's own
behaviours live in :mod:`accessward.connectors.ldap_ad`: its preset lists nested groups (a person's
``groups`` holds every group they are in, through other groups too) and drops built-in and service
accounts (krbtgt, Guest, Administrator, ``isCriticalSystemObject``, managed service accounts).

Status, most severe wins (terminated > suspended > active):

* Active Directory: ``userAccountControl`` bit 0x2 (ACCOUNTDISABLE) -> suspended;
  ``accountExpires`` (FILETIME; 0 and 9223372036854775807 mean never) in the past -> terminated,
  in the future -> ``leave_date``. LOCKOUT is not a suspension (it clears by itself and is not
  kept in the stored value anyway).
* OpenLDAP: ppolicy ``pwdAccountLockedTime`` = ``000001010000Z`` (locked by an administrator until
  cleared) -> suspended; a timestamp value is a failed-login lockout that clears by itself and
  counts only with ``lockout_is_suspension=True``. ``shadowExpire`` (days since 1970-01-01, -1 =
  never) today or earlier -> terminated, later -> ``leave_date``.
* Either: an optional *status attribute* with a value map, for sites that record employment
  status in the directory, e.g. ``status_attribute="employeeType"`` with
  ``status_values={"terminated": PersonStatus.terminated, "former": PersonStatus.terminated}``
  (values are compared case-insensitively; unknown values leave the status alone).

``manager`` is a DN; it is resolved to the manager's stable key so that
``PersonRecord.manager_key`` is an immutable id like ``source_key``: from the entries already
listed in this run when the manager is among them (a bounded DN -> key cache, filled as entries
are listed), otherwise with a base-scope lookup (cached too). A manager DN that does not exist
gives ``None``.

Speed: entries are decoded by ldap3's BER decoder, but kept as raw bytes (see
:class:`RawEntryStrategy`) and only the attributes mapped are decoded. At 100,000 entries ldap3's
BER decoding is then about half of the listing's time and the largest single cost of a sync.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import re
import ssl
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from ldap3 import ANONYMOUS, BASE, NONE, SIMPLE, SUBTREE, Connection, Server, Tls
from ldap3.core import exceptions as lx
from ldap3.strategy.sync import SyncStrategy
from ldap3.utils.conv import escape_filter_chars

from accessward.connectors.errors import (
    AuthError,
    ConnectorError,
    MalformedResponseError,
    ResyncRequired,
    StopError,
    TransientError,
)
from accessward.connectors.ldap_ad import (
    ACCOUNTDISABLE,
    AD_DEFAULT_FILTER,
    SYSTEM_ACCOUNT_ATTRIBUTES,
    GroupGraph,
    deleted_users,
    filetime_to_datetime,
    naming_context,
    system_account_reason,
    usn_state,
)
from accessward.connectors.ldap_raw import RawEntryStrategy, raw_attributes
from accessward.connectors.records import PersonChange, PersonKind, PersonRecord, PersonStatus

__all__ = [
    "ACTIVE_DIRECTORY",
    "OPENLDAP",
    "AttributeMap",
    "LdapChangeRun",
    "LdapSource",
    "LdapSourceConfig",
    "escape_filter_chars",
    "filetime_to_datetime",
]

log = logging.getLogger(__name__)

Schema = Literal["openldap", "active_directory"]
_Mode = Literal["timestamp", "usn"]
_T = TypeVar("_T")

PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
LOCKED_PERMANENTLY = "000001010000Z"
_UNIX_EPOCH = date(1970, 1, 1)
_SEVERITY = {PersonStatus.active: 0, PersonStatus.suspended: 1, PersonStatus.terminated: 2}
#: DN -> stable key of people listed or looked up (about 265 bytes an entry, so at most ~70 MB):
#: enough for the 200,000-identity target to resolve every manager without a lookup.
_MANAGER_CACHE_SIZE = 262_144

DEFAULT_KIND_VALUES: Mapping[str, PersonKind] = {
    "employee": PersonKind.employee,
    "staff": PersonKind.employee,
    "permanent": PersonKind.employee,
    "intern": PersonKind.employee,
    "contractor": PersonKind.contractor,
    "contract": PersonKind.contractor,
    "consultant": PersonKind.contractor,
    "freelancer": PersonKind.contractor,
    "temp": PersonKind.contractor,
    "agency": PersonKind.agency,
    "partner": PersonKind.agency,
    "vendor": PersonKind.agency,
}


def _frozen(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {key.lower(): value for key, value in mapping.items()}


@dataclass(frozen=True, slots=True)
class AttributeMap:
    """Which directory attribute feeds which PersonRecord field.

    Tuples are tried in order; the first non-empty value wins (emails take all of them).
    ``key_format`` is ``"string"`` (entryUUID) or ``"guid_le"`` (AD objectGUID: 16 bytes,
    little-endian, rendered with ``uuid.UUID(bytes_le=...)``).
    """

    key: str
    key_format: Literal["string", "guid_le"]
    default_filter: str
    username: tuple[str, ...] = ()
    upn: tuple[str, ...] = ()
    emails: tuple[str, ...] = ("mail",)
    proxy_addresses: str | None = None
    employee_id: tuple[str, ...] = ()
    display_name: tuple[str, ...] = ("displayName", "cn")
    department: tuple[str, ...] = ()
    manager: str | None = "manager"
    groups: str | None = None
    kind: str | None = "employeeType"
    kind_values: Mapping[str, PersonKind] = field(default_factory=lambda: dict(DEFAULT_KIND_VALUES))
    # Active Directory account state
    account_control: str | None = None
    account_expires: str | None = None
    # OpenLDAP account state
    locked_time: str | None = None
    lockout_is_suspension: bool = False
    shadow_expire: str | None = None
    # Site-specific employment status
    status_attribute: str | None = None
    status_values: Mapping[str, PersonStatus] = field(default_factory=dict)
    # Active Directory: every group a person is in through other groups; built-in and service accounts dropped
    nested_groups: bool = False
    drop_system_accounts: bool = False

    def replace(self, **changes: Any) -> AttributeMap:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def lowered(self) -> AttributeMap:
        """A copy with every attribute name lower-cased (how entries are keyed once read)."""

        def one(name: str | None) -> str | None:
            return name.lower() if name else name

        def many(names: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(name.lower() for name in names)

        return self.replace(
            key=self.key.lower(), username=many(self.username), upn=many(self.upn), emails=many(self.emails),
            proxy_addresses=one(self.proxy_addresses), employee_id=many(self.employee_id),
            display_name=many(self.display_name), department=many(self.department), manager=one(self.manager),
            groups=one(self.groups), kind=one(self.kind), account_control=one(self.account_control),
            account_expires=one(self.account_expires), locked_time=one(self.locked_time),
            shadow_expire=one(self.shadow_expire), status_attribute=one(self.status_attribute),
        )

    def requested_attributes(self) -> list[str]:
        """Every attribute to ask for, operational ones (entryUUID, pwdAccountLockedTime) by name."""
        names: list[str] = [self.key]
        names += [*self.username, *self.upn, *self.emails, *self.employee_id]
        names += [*self.display_name, *self.department]
        for single in (
            self.proxy_addresses,
            self.manager,
            self.groups,
            self.kind,
            self.account_control,
            self.account_expires,
            self.locked_time,
            self.shadow_expire,
            self.status_attribute,
        ):
            if single:
                names.append(single)
        if self.drop_system_accounts:
            names += SYSTEM_ACCOUNT_ATTRIBUTES
        seen: set[str] = set()
        unique = []
        for name in names:
            if name.lower() not in seen:
                seen.add(name.lower())
                unique.append(name)
        return unique


#: OpenLDAP ``inetOrgPerson`` (RFC 2798) with ppolicy and ``shadowAccount`` for account state.
OPENLDAP = AttributeMap(
    key="entryUUID",
    key_format="string",
    default_filter="(objectClass=inetOrgPerson)",
    username=("uid",),
    emails=("mail",),
    employee_id=("employeeNumber",),
    display_name=("displayName", "cn"),
    department=("departmentNumber", "ou"),
    manager="manager",
    groups="memberOf",
    kind="employeeType",
    locked_time="pwdAccountLockedTime",
    shadow_expire="shadowExpire",
)

#: Active Directory users (``objectGUID`` key, ``userAccountControl`` / ``accountExpires`` state).
ACTIVE_DIRECTORY = AttributeMap(
    key="objectGUID",
    key_format="guid_le",
    default_filter=AD_DEFAULT_FILTER,
    username=("sAMAccountName",),
    upn=("userPrincipalName",),
    emails=("mail",),
    proxy_addresses="proxyAddresses",
    employee_id=("employeeID", "employeeNumber"),
    display_name=("displayName", "cn", "name"),
    department=("department",),
    manager="manager",
    groups="memberOf",
    kind="employeeType",
    account_control="userAccountControl",
    account_expires="accountExpires",
    nested_groups=True,
    drop_system_accounts=True,
)

PRESETS: Mapping[Schema, AttributeMap] = {"openldap": OPENLDAP, "active_directory": ACTIVE_DIRECTORY}


@dataclass(frozen=True, slots=True)
class LdapSourceConfig:
    """Everything an LDAP identity source needs. ``password`` is already resolved (never logged).

    ``user_filter`` defaults to the attribute map's ``default_filter``
    (``(objectClass=inetOrgPerson)`` for OpenLDAP). Build any value you put in it with
    :func:`escape_filter_chars`. ``page_size`` defaults to 500; Active Directory returns at most
    its MaxPageSize (1000) per page whatever is asked (at 100,000 entries pages of 250 to 2,000
    list within 10% of each other: the decoding is the cost, not the round trips). ``ca_file`` is
    a PEM bundle to verify the server with (``ldaps://`` or ``start_tls``); without it the system
    trust store is used; certificates are always verified. Timeouts are whole seconds (ldap3 packs
    them into socket options as integers). ``full_every``: an incremental cursor whose last full
    round is older than this starts a full round instead (deletions are seen only by full rounds);
    ``None`` leaves full rounds to the caller (no cursor, or ``accessward sync --full``).
    ``deleted_objects`` (Active Directory): incremental rounds also read the users deleted since the
    cursor from the Deleted Objects container (the account must be allowed to list it; False relies
    on full rounds for deletions).
    """

    name: str
    url: str
    base_dn: str
    bind_dn: str = ""
    password: str = field(default="", repr=False)
    user_filter: str | None = None
    schema: Schema = "openldap"
    attribute_map: AttributeMap | None = None
    page_size: int = 500
    ca_file: str | None = None
    start_tls: bool = False
    connect_timeout: int = 10
    receive_timeout: int = 60
    resolve_manager: bool = True
    allow_anonymous: bool = False
    full_every: timedelta | None = None
    deleted_objects: bool = True  # AD incremental rounds read users deleted since the cursor

    @property
    def attributes(self) -> AttributeMap:
        return self.attribute_map or PRESETS[self.schema]

    @property
    def search_filter(self) -> str:
        return self.user_filter or self.attributes.default_filter


_CURSOR_PREFIX = "ldap:"
_CURSOR_TIME = re.compile(r"\d{14}Z")
_GENERALIZED_TIME = re.compile(r"(\d{10})(\d{2})?(\d{2})?(?:[.,]\d+)?(Z|[+-]\d{4})")
_TIME_ZERO = datetime(1970, 1, 1, tzinfo=UTC)


def _generalized_time(text: str) -> datetime | None:
    """An LDAP GeneralizedTime (``20240101120000Z``, ``20240101120000.0Z``, ``...+0100``) in UTC.

    Fractions are dropped (rounding down keeps a cursor on the safe side); None when malformed.
    """
    match = _GENERALIZED_TIME.fullmatch(text.strip())
    if not match:
        return None
    head, minutes, seconds, zone = match.groups()
    try:  # datetime() from the digits, not strptime (its parser cost ~8 % of a 100k-entry sync); same range checks
        moment = datetime(int(head[0:4]), int(head[4:6]), int(head[6:8]), int(head[8:10]),
                          int(minutes or 0), int(seconds or 0))
    except ValueError:
        return None
    if zone == "Z":
        return moment.replace(tzinfo=UTC)
    offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
    return (moment - offset if zone[0] == "+" else moment + offset).replace(tzinfo=UTC)


def _parse_cursor_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Cursor:
    """What an incremental cursor holds (JSON after ``ldap:``)."""

    mode: _Mode
    scope: str
    full_at: datetime
    timestamp: str | None = None
    usn: int | None = None
    dc: str | None = None
    invocation_id: str | None = None


class LdapChangeRun:
    """One incremental round of an :class:`LdapSource`: iterate it once, then read ``cursor``.

    ``full`` is True when the round lists everyone (no usable cursor): a person it does not yield
    is gone, as for a complete listing. An incremental round yields changed people, and on Active
    Directory a :class:`~connectors.records.RemovedPerson` for each user deleted since the cursor.
    """

    def __init__(self, source: LdapSource, mode: _Mode, previous: _Cursor | None, now: datetime) -> None:
        self.full = previous is None
        self.mode: _Mode = mode
        self.previous = previous
        self.now = now
        self._source = source
        self._cursor: str | None = None
        self._started = False

    @property
    def cursor(self) -> str:
        """The cursor for the next round; only once this round has been read to its end."""
        if self._cursor is None:
            raise RuntimeError("the LDAP change round has not been read to its end: no cursor yet")
        return self._cursor

    def __iter__(self) -> Iterator[PersonChange]:
        if self._started:
            raise RuntimeError("an LdapChangeRun can be iterated once")
        self._started = True
        return self._source._change_items(self)

    def finish(self, cursor: str) -> None:
        self._cursor = cursor


def _first(entry: Mapping[str, list[bytes]], names: Sequence[str]) -> str | None:
    """The first non-empty value of the first of ``names`` (lower-cased) that has one."""
    for name in names:
        for raw in entry.get(name, ()):
            text = raw.decode("utf-8", errors="replace").strip()
            if text:
                return text
    return None


def _all(entry: Mapping[str, list[bytes]], name: str | None) -> list[str]:
    """Every non-empty value of attribute ``name`` (lower-cased)."""
    if not name:
        return []
    values = (raw.decode("utf-8", errors="replace").strip() for raw in entry.get(name, ()))
    return [value for value in values if value]


def _worse(current: PersonStatus, other: PersonStatus) -> PersonStatus:
    return other if _SEVERITY[other] > _SEVERITY[current] else current


class LdapSource:
    """An :class:`~connectors.protocols.IdentitySource` over LDAP (OpenLDAP or Active Directory)."""

    def __init__(self, config: LdapSourceConfig, *, now: datetime | None = None) -> None:
        self.config = config
        self.name = config.name
        self._now = now  # fixed clock for tests; None = the real time at each listing
        self._map = config.attributes
        self._names = self._map.lowered()  # the names entries are keyed by
        self._status_values = _frozen(self._map.status_values)
        self._kind_values = _frozen(self._map.kind_values)
        self._manager_cache: OrderedDict[str, str | None] = OrderedDict()
        self._groups: GroupGraph | None = None  # nested groups, read once per listing (AD)
        self._validate()

    def __repr__(self) -> str:
        return f"LdapSource(name={self.name!r}, url={self.config.url!r}, base_dn={self.config.base_dn!r})"

    # -- configuration ---------------------------------------------------------------------------

    def _stop(self, message: str) -> StopError:
        return StopError(f"{self.name}: {message}", system=self.name)

    def _validate(self) -> None:
        cfg = self.config
        if not 1 <= cfg.page_size <= 100_000:
            raise self._stop(f"page_size must be between 1 and 100000, not {cfg.page_size}")
        if cfg.connect_timeout < 1 or cfg.receive_timeout < 1:
            raise self._stop("connect_timeout and receive_timeout must be at least 1 second")
        if not cfg.base_dn.strip():
            raise self._stop("base_dn is empty")
        if cfg.bind_dn and not cfg.password:
            # A simple bind with a DN and no password is an "unauthenticated bind": many servers
            # accept it as anonymous, which may see a fraction of the directory.
            raise self._stop("bind_dn is set but the password is empty")
        if not cfg.bind_dn and not cfg.allow_anonymous:
            raise self._stop("no bind_dn: anonymous reads need allow_anonymous=True")
        if cfg.ca_file and not os.path.isfile(cfg.ca_file):
            raise self._stop(f"ca_file not found: {cfg.ca_file}")
        self._endpoint()

    def _endpoint(self) -> tuple[str, int, bool]:
        parts = urlsplit(self.config.url.strip())
        scheme = parts.scheme.lower()
        if scheme not in ("ldap", "ldaps") or not parts.hostname:
            raise self._stop(f"url must be ldap://host[:port] or ldaps://host[:port]: {self.config.url!r}")
        use_ssl = scheme == "ldaps"
        if use_ssl and self.config.start_tls:
            raise self._stop("start_tls makes no sense with ldaps://")
        try:
            port = parts.port or (636 if use_ssl else 389)
        except ValueError as exc:
            raise self._stop(f"bad port in url {self.config.url!r}") from exc
        return parts.hostname, port, use_ssl

    # -- connection ------------------------------------------------------------------------------

    def _connect(self) -> Connection:
        cfg = self.config
        host, port, use_ssl = self._endpoint()
        tls = None
        if use_ssl or cfg.start_tls:
            tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=cfg.ca_file)
        elif cfg.bind_dn and host not in ("127.0.0.1", "::1", "localhost"):
            log.warning("%s: simple bind over unencrypted LDAP to %s; use ldaps:// or start_tls", self.name, host)
        # A fresh Server per listing: ldap3 remembers a refused address as unusable for a while.
        server = Server(
            host,
            port=port,
            use_ssl=use_ssl,
            tls=tls,
            get_info=NONE,
            connect_timeout=cfg.connect_timeout,
        )
        conn = Connection(
            server,
            user=cfg.bind_dn or None,
            password=cfg.password or None,
            authentication=SIMPLE if cfg.bind_dn else ANONYMOUS,
            raise_exceptions=True,
            read_only=True,
            auto_referrals=False,
            receive_timeout=cfg.receive_timeout,
            return_empty_attributes=False,  # absent attributes are simply absent; no empty lists per entry
        )
        if type(conn.strategy) is SyncStrategy:
            conn.strategy.__class__ = RawEntryStrategy  # raw entry values, see RawEntryStrategy
        conn.open()
        if cfg.start_tls:
            conn.start_tls()
        if not conn.bind():
            raise AuthError(
                f"{self.name}: bind as {cfg.bind_dn or '(anonymous)'} refused: {conn.result.get('description')}",
                system=self.name,
                detail=str(conn.result.get("message", "")),
            )
        return conn

    # -- listing ---------------------------------------------------------------------------------

    def list_people(self) -> Iterator[PersonRecord]:
        """Yield every person under ``base_dn`` matching the filter, page by page."""
        now = self._now or datetime.now(UTC)
        attributes = self._map.requested_attributes()
        return self._search(self.config.search_filter, attributes, lambda conn, item: self._person(conn, item, now))

    def _search(
        self,
        search_filter: str,
        attributes: list[str],
        convert: Callable[[Connection, Mapping[str, Any]], _T | None],
        before: Callable[[Connection], None] | None = None,
        after: Callable[[Connection], Iterator[_T]] | None = None,
    ) -> Iterator[_T]:
        """Bind, run ``before`` (if any), then one paged search, yielding ``convert(conn, entry)`` (None:
        dropped), then whatever ``after`` yields on the same connection.

        Every failure, also one from ``before``, ``convert`` or ``after``, leaves as a ConnectorError.
        """
        cfg = self.config
        conn: Connection | None = None
        count = pages = dropped = 0
        log.info("%s: listing people under %s with %s", self.name, cfg.base_dn, search_filter)
        self._manager_cache.clear()  # DN -> key holds for one listing: entries are deleted and re-created
        try:
            conn = self._connect()
            if before is not None:
                before(conn)
            self._groups = None
            if self._map.nested_groups and self._map.groups:
                self._groups = GroupGraph.load(conn, naming_context(conn, cfg.base_dn), page_size=cfg.page_size)
            cookie: bytes | None = None
            while True:
                conn.search(
                    cfg.base_dn,
                    search_filter,
                    search_scope=SUBTREE,
                    attributes=attributes,
                    paged_size=cfg.page_size,
                    paged_criticality=True,
                    paged_cookie=cookie,
                )
                pages += 1
                result = conn.result
                page = conn.response or []  # ldap3 stores a fresh list per operation
                self._check_page_result(result, pages, count)
                cookie = _paged_cookie(result)
                for item in page:
                    if item.get("type") != "searchResEntry":
                        continue  # searchResRef: AD's referrals to other naming contexts
                    converted = convert(conn, item)
                    if converted is None:
                        dropped += 1
                        continue
                    yield converted
                    count += 1
                if not cookie:
                    break
            if after is not None:
                yield from after(conn)
        except ConnectorError:
            raise
        except lx.LDAPException as exc:
            raise self._translate(exc) from exc
        except OSError as exc:  # a socket error ldap3 did not wrap
            raise TransientError(
                f"{self.name}: LDAP server {self.config.url} unreachable: {exc}", system=self.name, detail=str(exc)
            ) from exc
        finally:
            self._manager_cache.clear()
            self._groups = None
            if conn is not None:
                try:
                    conn.unbind()
                except lx.LDAPException:
                    log.debug("%s: unbind failed", self.name, exc_info=True)
        log.info("%s: listed %d people in %d pages", self.name, count, pages)
        if dropped:
            log.info("%s: left out %d built-in or service accounts (not staff)", self.name, dropped)

    # -- incremental -----------------------------------------------------------------------------

    def list_changes(self, cursor: str | None) -> LdapChangeRun:
        """One incremental round (see the module docstring, *Incremental*).

        Without a cursor (or when ``full_every`` has passed since the last full round) the round
        is full: everyone, like :meth:`list_people`, and ``run.full`` is True. With one, only the
        people changed since it. A cursor that cannot be used (unreadable, made for another base
        DN, filter, attribute map or directory kind, from another domain controller or an earlier
        life of it) raises :class:`ResyncRequired`: here for what the cursor says, from the
        iteration for what the server says.
        """
        mode: _Mode = "usn" if self.config.schema == "active_directory" else "timestamp"
        now = self._now or datetime.now(UTC)
        if cursor is None:
            return LdapChangeRun(self, mode, None, now)
        previous = self._parse_cursor(cursor, mode)
        every = self.config.full_every
        if every is not None and now - previous.full_at >= every:
            log.info("%s: last full round %s is older than full_every; running a full round", self.name,
                     previous.full_at.isoformat())
            return LdapChangeRun(self, mode, None, now)
        return LdapChangeRun(self, mode, previous, now)

    def _scope(self, mode: _Mode) -> str:
        """A digest of what a cursor is valid for: directory kind, base DN, filter, attributes."""
        cfg = self.config
        attributes = sorted(name.lower() for name in self._map.requested_attributes())
        what = [mode, cfg.base_dn.strip().lower(), cfg.search_filter, attributes]
        return hashlib.sha256(json.dumps(what).encode()).hexdigest()[:16]

    def _resync(self, why: str) -> ResyncRequired:
        return ResyncRequired(f"{self.name}: the incremental cursor cannot be used: {why}; run a full sync",
                              system=self.name)

    def _parse_cursor(self, cursor: str, mode: _Mode) -> _Cursor:
        try:
            data = json.loads(cursor.removeprefix(_CURSOR_PREFIX)) if cursor.startswith(_CURSOR_PREFIX) else None
            if not isinstance(data, dict):
                raise ValueError("not an LDAP cursor")
            parsed = _Cursor(
                mode=data["mode"], scope=str(data["scope"]), full_at=datetime.fromisoformat(str(data["full_at"])),
                timestamp=data.get("ts"), usn=data.get("usn"), dc=data.get("dc"), invocation_id=data.get("inv"),
            )
            if parsed.full_at.tzinfo is None:
                raise ValueError("full_at without a time zone")
            if parsed.mode == "timestamp" and (
                not isinstance(parsed.timestamp, str) or not _CURSOR_TIME.fullmatch(parsed.timestamp)
            ):
                raise ValueError("bad timestamp")
            if parsed.mode == "usn" and (
                type(parsed.usn) is not int or parsed.usn < 0 or not isinstance(parsed.dc, str)
                or not (parsed.invocation_id is None or isinstance(parsed.invocation_id, str))
            ):
                raise ValueError("bad USN state")
        except (ValueError, KeyError, TypeError) as exc:
            raise self._resync(f"it is not a cursor this source wrote ({exc})") from exc
        if parsed.mode != mode:
            raise self._resync(f"it was written for {parsed.mode} polling, this source uses {mode}")
        if parsed.scope != self._scope(mode):
            raise self._resync("the base DN, filter or attribute map changed since it was written")
        return parsed

    def _change_items(self, run: LdapChangeRun) -> Iterator[PersonChange]:
        cfg = self.config
        previous = run.previous
        started = time.monotonic()
        attributes = self._map.requested_attributes()
        watermark = "usnchanged" if run.mode == "usn" else "modifytimestamp"
        attributes.append("uSNChanged" if run.mode == "usn" else "modifyTimestamp")
        search_filter = cfg.search_filter
        if previous is not None:
            if run.mode == "usn":
                assert previous.usn is not None
                search_filter = f"(&{search_filter}(uSNChanged>={previous.usn + 1}))"
            else:
                assert previous.timestamp is not None
                search_filter = f"(&{search_filter}(modifyTimestamp>={escape_filter_chars(previous.timestamp)}))"
        state: dict[str, Any] = {}
        highest_seen: list[int] = [-1]
        latest_seen: list[datetime | None] = [None]

        def before(conn: Connection) -> None:
            if run.mode != "usn":
                return
            host, port, _ = self._endpoint()
            dc, invocation, highest = usn_state(conn, f"{host}:{port}", self.name)
            state.update(dc=dc, inv=invocation, highest=highest)
            if previous is None:
                return
            if previous.dc != dc:
                raise self._resync(f"it was read from domain controller {previous.dc}, this is {dc} (USNs are per DC)")
            if previous.invocation_id and invocation and previous.invocation_id != invocation:
                raise self._resync(f"the invocationId of {dc} changed (restored from a backup)")
            assert previous.usn is not None
            if highest is not None and highest < previous.usn:
                raise self._resync(f"{dc}'s highestCommittedUSN {highest} is below the cursor's {previous.usn}")

        def convert(conn: Connection, item: Mapping[str, Any]) -> PersonRecord | None:
            record = self._person(conn, item, run.now)
            if record is None:
                return None
            text = _first(raw_attributes(item), (watermark,))
            dn = item.get("dn", "")
            if text is None:
                if previous is not None:
                    raise MalformedResponseError(f"{self.name}: entry {dn} has no {watermark}", system=self.name)
                return record
            if run.mode == "usn":
                try:
                    highest_seen[0] = max(highest_seen[0], int(text))
                except ValueError as exc:
                    raise MalformedResponseError(
                        f"{self.name}: entry {dn} has a non-numeric uSNChanged: {text!r}", system=self.name
                    ) from exc
            else:
                moment = _generalized_time(text)
                if moment is None:
                    raise MalformedResponseError(
                        f"{self.name}: entry {dn} has a malformed modifyTimestamp: {text!r}", system=self.name
                    )
                if latest_seen[0] is None or moment > latest_seen[0]:
                    latest_seen[0] = moment
            return record

        def after(conn: Connection) -> Iterator[PersonChange]:
            if run.mode != "usn" or previous is None or not cfg.deleted_objects:
                return
            if state.get("highest") is None:  # not an Active Directory (a test slapd with the AD schema)
                log.info("%s: no highestCommittedUSN: not an AD, no Deleted Objects container to read", self.name)
                return
            assert previous.usn is not None
            domain = naming_context(conn, cfg.base_dn)
            yield from deleted_users(conn, domain, cfg.base_dn, previous.usn, system=self.name,
                                     page_size=cfg.page_size)

        yield from self._search(search_filter, attributes, convert, before, after)

        full_at = run.now if previous is None else previous.full_at
        cursor: dict[str, Any] = {"mode": run.mode, "scope": self._scope(run.mode), "full_at": full_at.isoformat()}
        if run.mode == "usn":
            highest = state.get("highest")
            if highest is None:  # not an Active Directory: the highest uSNChanged listed stands in
                log.warning("%s: no highestCommittedUSN in the rootDSE; the cursor is the highest uSNChanged listed",
                            self.name)
                highest = max(highest_seen[0], previous.usn if previous and previous.usn is not None else 0)
            cursor.update(usn=highest, dc=state["dc"], inv=state["inv"])
        else:
            floor = _parse_cursor_time(previous.timestamp) if previous and previous.timestamp else _TIME_ZERO
            mark = floor
            latest = latest_seen[0]
            if latest is not None:
                # Re-read what changed while this round ran: an entry read early and changed later
                # carries a timestamp below the highest one seen (see the module docstring).
                overlap = timedelta(seconds=math.ceil(time.monotonic() - started) + 1)
                mark = max(floor, latest - overlap)
            cursor["ts"] = mark.strftime("%Y%m%d%H%M%SZ")
        run.finish(_CURSOR_PREFIX + json.dumps(cursor, sort_keys=True, separators=(",", ":")))


    def _check_page_result(self, result: Mapping[str, Any], page: int, seen: int) -> None:
        code = result.get("result")
        if code == 0:
            return
        what = f"{result.get('description')} ({code}) {result.get('message', '')}".strip()
        where = f"on page {page} after {seen} entries"
        if code == 4:  # sizeLimitExceeded: the server cut the listing short
            raise StopError(
                f"{self.name}: the server's size limit cut the listing short {where}; "
                "raise the service account's limits for paged searches",
                system=self.name,
                detail=what,
                status=4,
            )
        if code == 3:  # timeLimitExceeded
            raise TransientError(f"{self.name}: server time limit hit {where}", system=self.name, detail=what, status=3)
        if code == 10:  # referral: the base DN lives on another server
            raise StopError(
                f"{self.name}: the server referred the search of {self.config.base_dn} elsewhere; "
                "point url at the server holding that naming context",
                system=self.name,
                detail=f"{what} {result.get('referrals')}",
                status=10,
            )
        raise ConnectorError(f"{self.name}: search failed {where}: {what}", system=self.name, status=code)

    # -- mapping ---------------------------------------------------------------------------------

    def _key(self, entry: Mapping[str, list[bytes]], dn: str) -> str:
        amap = self._map
        values = entry.get(self._names.key) or []
        if not values or not values[0]:
            raise MalformedResponseError(
                f"{self.name}: entry {dn} has no {amap.key}; refusing to list it without its stable key "
                "(check the service account may read it)",
                system=self.name,
            )
        raw = values[0]
        if amap.key_format == "guid_le":
            if len(raw) != 16:
                raise MalformedResponseError(
                    f"{self.name}: entry {dn} has a {amap.key} of {len(raw)} bytes, not 16", system=self.name
                )
            return str(uuid.UUID(bytes_le=raw))
        try:
            return raw.decode("utf-8").strip().lower()
        except UnicodeDecodeError as exc:
            raise MalformedResponseError(
                f"{self.name}: entry {dn} has an undecodable {amap.key}", system=self.name
            ) from exc

    def _person(self, conn: Connection, item: Mapping[str, Any], now: datetime) -> PersonRecord | None:
        """The person of one entry; None for a built-in or service account (AD: not staff)."""
        dn = str(item.get("dn", ""))
        entry = raw_attributes(item)
        names = self._names
        if self._map.drop_system_accounts and (reason := system_account_reason(entry)):
            log.info("%s: %s is a %s, not staff: left out", self.name, dn, reason)
            return None
        source_key = self._key(entry, dn)
        resolve_manager = self.config.resolve_manager
        if resolve_manager and dn:
            # A listed entry answers the lookup its DN would need as someone's manager.
            self._remember(dn.lower(), source_key)
        status, leave_date = self._status(entry, dn, now)
        kind = PersonKind.employee
        kind_value = _first(entry, (names.kind,)) if names.kind else None
        if kind_value is not None:
            kind = self._kind_values.get(kind_value.lower(), PersonKind.employee)
        manager_key = None
        manager_dn = _first(entry, (names.manager,)) if names.manager else None
        if manager_dn and resolve_manager:
            manager_key = self._manager_key(conn, manager_dn)
        return PersonRecord(
            source_key=source_key,
            display_name=_first(entry, names.display_name) or "",
            employee_id=_first(entry, names.employee_id),
            username=_first(entry, names.username),
            upn=_first(entry, names.upn),
            emails=self._emails(entry),
            kind=kind,
            status=status,
            leave_date=leave_date,
            manager_key=manager_key,
            department=_first(entry, names.department),
            groups=self._groups.expand(_all(entry, names.groups)) if self._groups else tuple(_all(entry, names.groups)),
        )

    def _emails(self, entry: Mapping[str, list[bytes]]) -> tuple[str, ...]:
        found: list[str] = []
        for name in self._names.emails:
            found += _all(entry, name)
        proxies = _all(entry, self._names.proxy_addresses)
        # SMTP: is the primary address, smtp: the others; X500:, SIP: ... are not email.
        found += [p[5:] for p in proxies if p.startswith("SMTP:")]
        found += [p[5:] for p in proxies if p[:5].lower() == "smtp:" and not p.startswith("SMTP:")]
        seen: set[str] = set()
        unique: list[str] = []
        for address in (a.strip() for a in found):
            if address and address.lower() not in seen:
                seen.add(address.lower())
                unique.append(address)
        return tuple(unique)

    def _status(self, entry: Mapping[str, list[bytes]], dn: str, now: datetime) -> tuple[PersonStatus, datetime | None]:
        amap, names = self._map, self._names
        status = PersonStatus.active
        leave_date: datetime | None = None

        if names.account_control and (uac_text := _first(entry, (names.account_control,))):
            try:
                uac = int(uac_text)
            except ValueError as exc:
                raise MalformedResponseError(
                    f"{self.name}: entry {dn} has a non-numeric {amap.account_control}: {uac_text!r}",
                    system=self.name,
                ) from exc
            if uac & ACCOUNTDISABLE:
                status = _worse(status, PersonStatus.suspended)

        if names.account_expires and (expires_text := _first(entry, (names.account_expires,))):
            try:
                expires = filetime_to_datetime(int(expires_text))
            except ValueError as exc:
                raise MalformedResponseError(
                    f"{self.name}: entry {dn} has a non-numeric {amap.account_expires}: {expires_text!r}",
                    system=self.name,
                ) from exc
            if expires is not None:
                leave_date = expires
                if expires <= now:
                    status = _worse(status, PersonStatus.terminated)

        if names.locked_time and (locked := _first(entry, (names.locked_time,))):
            if locked == LOCKED_PERMANENTLY or amap.lockout_is_suspension:
                status = _worse(status, PersonStatus.suspended)

        if names.shadow_expire and (shadow_text := _first(entry, (names.shadow_expire,))):
            try:
                days = int(shadow_text)
            except ValueError as exc:
                raise MalformedResponseError(
                    f"{self.name}: entry {dn} has a non-numeric {amap.shadow_expire}: {shadow_text!r}",
                    system=self.name,
                ) from exc
            if days >= 0:
                expiry_day = _UNIX_EPOCH + timedelta(days=days)
                leave_date = datetime(expiry_day.year, expiry_day.month, expiry_day.day, tzinfo=UTC)
                if expiry_day <= now.date():
                    status = _worse(status, PersonStatus.terminated)

        if names.status_attribute:
            for value in _all(entry, names.status_attribute):
                mapped = self._status_values.get(value.lower())
                if mapped is not None:
                    status = _worse(status, mapped)
        return status, leave_date

    def _remember(self, cache_key: str, key: str | None) -> None:
        cache = self._manager_cache
        cache[cache_key] = key
        cache.move_to_end(cache_key)
        if len(cache) > _MANAGER_CACHE_SIZE:
            cache.popitem(last=False)

    def _manager_key(self, conn: Connection, manager_dn: str) -> str | None:
        """The stable key of the entry at ``manager_dn``: from the listing so far, else a lookup."""
        cache_key = manager_dn.lower()
        cache = self._manager_cache
        if cache_key in cache:
            cache.move_to_end(cache_key)
            return cache[cache_key]
        key: str | None = None
        try:
            conn.search(manager_dn, "(objectClass=*)", search_scope=BASE, attributes=[self._map.key])
            for item in conn.response or []:
                if item.get("type") == "searchResEntry":
                    key = self._key(raw_attributes(item), manager_dn)
                    break
        except (lx.LDAPNoSuchObjectResult, lx.LDAPInvalidDNSyntaxResult):
            log.debug("%s: manager %s does not exist", self.name, manager_dn)
        except MalformedResponseError:
            log.warning("%s: manager %s has no %s; manager left empty", self.name, manager_dn, self._map.key)
        self._remember(cache_key, key)
        return key

    # -- errors ----------------------------------------------------------------------------------

    def _translate(self, exc: lx.LDAPException) -> ConnectorError:
        name = self.name
        detail = str(exc)
        status = getattr(exc, "result", None)
        status = status if isinstance(status, int) else None
        where = f"{self.config.url} ({self.config.base_dn})"
        if "certificate verify failed" in detail.lower() or isinstance(
            exc, lx.LDAPCertificateError | lx.LDAPSSLConfigurationError | lx.LDAPStartTLSError
        ):
            return StopError(f"{name}: TLS with {where} failed: {detail}", system=name, detail=detail)
        if isinstance(exc, lx.LDAPCommunicationError | lx.LDAPResponseTimeoutError):
            return TransientError(f"{name}: LDAP server {where} unreachable: {detail}", system=name, detail=detail)
        if isinstance(exc, lx.LDAPBusyResult | lx.LDAPUnavailableResult | lx.LDAPTimeLimitExceededResult):
            return TransientError(
                f"{name}: LDAP server {where} busy or unavailable", system=name, detail=detail, status=status
            )
        if isinstance(
            exc,
            lx.LDAPInvalidCredentialsResult
            | lx.LDAPBindError
            | lx.LDAPInappropriateAuthenticationResult
            | lx.LDAPInsufficientAccessRightsResult
            | lx.LDAPAuthMethodNotSupportedResult
            | lx.LDAPUserNameIsMandatoryError
            | lx.LDAPPasswordIsMandatoryError,
        ):
            return AuthError(
                f"{name}: bind as {self.config.bind_dn or '(anonymous)'} to {self.config.url} refused",
                system=name,
                detail=detail,
                status=status,
            )
        if isinstance(exc, lx.LDAPNoSuchObjectResult):
            return StopError(
                f"{name}: base DN {self.config.base_dn} does not exist on {self.config.url}",
                system=name,
                detail=detail,
                status=status,
            )
        if isinstance(exc, lx.LDAPStrongerAuthRequiredResult | lx.LDAPConfidentialityRequiredResult):
            return StopError(
                f"{name}: {self.config.url} requires a protected connection: use ldaps:// or start_tls",
                system=name,
                detail=detail,
                status=status,
            )
        if isinstance(exc, lx.LDAPUnavailableCriticalExtensionResult):
            return StopError(
                f"{name}: {self.config.url} does not support paged results; cannot list it completely",
                system=name,
                detail=detail,
                status=status,
            )
        if isinstance(
            exc,
            lx.LDAPInvalidDNSyntaxResult
            | lx.LDAPInvalidFilterError
            | lx.LDAPInvalidDnError
            | lx.LDAPUnwillingToPerformResult
            | lx.LDAPAdminLimitExceededResult
            | lx.LDAPSizeLimitExceededResult
            | lx.LDAPReferralResult
            | lx.LDAPConfigurationError
            | lx.LDAPInvalidPortError
            | lx.LDAPInvalidServerError,
        ):
            return StopError(
                f"{name}: LDAP search of {where} rejected: {detail}", system=name, detail=detail, status=status
            )
        return ConnectorError(f"{name}: LDAP error from {where}: {detail}", system=name, detail=detail, status=status)


def _paged_cookie(result: Mapping[str, Any]) -> bytes | None:
    try:
        cookie = result["controls"][PAGED_RESULTS_OID]["value"]["cookie"]
    except (KeyError, TypeError):
        return None
    return bytes(cookie) if cookie else None


# -- accessward check -----------------------------------------------------------------------------
# (imported here, at the end, so this section merges apart from the connector above)
from accessward.connectors.preflight import CheckItem, first_record, probe  # noqa: E402


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
