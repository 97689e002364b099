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

Incremental rounds (``list_changes``, cursors) live in :mod:`accessward.connectors.ldap_changes`;
the attribute maps in :mod:`accessward.connectors.ldap_map`.

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

import logging
import os
import ssl
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ldap3 import ANONYMOUS, NONE, SIMPLE, SUBTREE, Connection, Server, Tls
from ldap3.core import exceptions as lx
from ldap3.strategy.sync import SyncStrategy
from ldap3.utils.conv import escape_filter_chars

from accessward.connectors.errors import (
    AuthError,
    ConnectorError,
    StopError,
    TransientError,
)
from accessward.connectors.ldap_ad import (
    GroupGraph,
    filetime_to_datetime,
    naming_context,
)
from accessward.connectors.ldap_changes import LdapChangeRun, LdapChanges
from accessward.connectors.ldap_entries import LdapEntries
from accessward.connectors.ldap_errors import check_page_result, translate
from accessward.connectors.ldap_map import (
    ACTIVE_DIRECTORY,
    DEFAULT_KIND_VALUES,
    OPENLDAP,
    PRESETS,
    AttributeMap,
    Schema,
)
from accessward.connectors.ldap_raw import UNCHANGED, RawEntryStrategy
from accessward.connectors.ldap_skip import SkipPlan, chunks, scope_key
from accessward.connectors.records import PersonRecord, StoredDigests, UnchangedPerson

__all__ = [
    "ACTIVE_DIRECTORY",
    "DEFAULT_KIND_VALUES",
    "OPENLDAP",
    "PRESETS",
    "AttributeMap",
    "LdapChangeRun",
    "LdapSource",
    "LdapSourceConfig",
    "escape_filter_chars",
    "filetime_to_datetime",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"


def _frozen(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {key.lower(): value for key, value in mapping.items()}


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


class LdapSource(LdapChanges, LdapEntries):
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
        self._expected: Callable[[], StoredDigests] | None = None  # from expect(), for the next round
        self._plan: SkipPlan | None = None  # the current round's, while it lists
        self._pages = 0
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
        for person in self._search(self.config.search_filter, attributes,
                                   lambda conn, item: self._person(conn, item, now)):
            if isinstance(person, PersonRecord):  # no plan: never an UnchangedPerson
                yield person

    def expect(self, stored: Callable[[], StoredDigests]) -> None:
        """What the store holds (``DigestingSource``): the next ``list_changes`` round skips the entries
        whose bytes did not change (see :mod:`accessward.connectors.ldap_skip`)."""
        self._expected = stored

    def _skip_plan(self, attributes: list[str], now: datetime, full: bool) -> SkipPlan | None:
        """The plan for a full round from what :meth:`expect` handed over (used once); None without one,
        for an incremental round, and with nested groups (membership changes on the group, not in the
        user's bytes)."""
        load, self._expected = self._expected, None
        if load is None or not full or self._map.nested_groups:
            return None
        stored = load()
        cfg = self.config
        key = scope_key(repr(self._map), cfg.resolve_manager, cfg.search_filter, cfg.base_dn.lower(),
                        sorted(name.lower() for name in attributes))
        return SkipPlan(stored, key, now)

    def _search(
        self,
        search_filter: str,
        attributes: list[str],
        convert: Callable[[Connection, Mapping[str, Any]], _T | None],
        before: Callable[[Connection], None] | None = None,
        after: Callable[[Connection], Iterator[_T]] | None = None,
        plan: SkipPlan | None = None,
    ) -> Iterator[_T | UnchangedPerson]:
        """Bind, run ``before`` (if any), then one paged search, yielding ``convert(conn, entry)`` (None:
        dropped), then whatever ``after`` yields on the same connection.

        With a ``plan``, entries whose bytes did not change yield an :class:`UnchangedPerson` instead
        (undecoded), and the people whose manager could not be confirmed are read again by key after
        the listing (see :mod:`accessward.connectors.ldap_skip`).

        Every failure, also one from ``before``, ``convert`` or ``after``, leaves as a ConnectorError.
        """
        cfg = self.config
        conn: Connection | None = None
        count = dropped = 0
        self._pages = 0
        log.info("%s: listing people under %s with %s", self.name, cfg.base_dn, search_filter)
        self._manager_cache.clear()  # DN -> key holds for one listing: entries are deleted and re-created
        try:
            conn = self._connect()
            if before is not None:
                before(conn)
            self._groups = None
            if self._map.nested_groups and self._map.groups:
                self._groups = GroupGraph.load(conn, naming_context(conn, cfg.base_dn), page_size=cfg.page_size)
            strategy = conn.strategy if isinstance(conn.strategy, RawEntryStrategy) else None
            if plan is not None and strategy is None:
                plan = None  # another strategy (a test's mock): entries are decoded as ldap3 does, never skipped
            self._plan = plan
            if plan is not None and strategy is not None:
                strategy.digest_key, strategy.skip = plan.key, plan.by_digest
            remember = cfg.resolve_manager
            batch_managers = (self._page_managers if remember and self._names.manager
                              and cfg.schema == "openldap" else None)
            for item in self._paged(conn, search_filter, attributes, on_page=batch_managers):
                hit = item.get(UNCHANGED)
                if hit is not None and plan is not None:
                    if remember and batch_managers is None:  # it still answers its DN's lookup as a manager
                        # (with batch_managers a page's unknown manager DNs are found in one search anyway)
                        self._remember(item["dn"].lower(), hit[1])
                    unchanged = plan.skipped(hit)
                    count += 1
                    if unchanged is not None:
                        yield unchanged
                    continue
                converted = convert(conn, item)
                if converted is None:
                    dropped += 1
                    continue
                yield converted
                count += 1
            if plan is not None and strategy is not None:
                confirmed, again = plan.settle()
                yield from confirmed
                strategy.skip = None  # read again: decode, map and digest every one
                if again:
                    log.info("%s: reading %d unchanged people again: their manager changed", self.name, len(again))
                for keys in chunks(again, 200):
                    for item in self._paged(conn, f"(&{search_filter}{self._key_filter(keys)})", attributes):
                        converted = convert(conn, item)
                        if converted is not None:
                            yield converted
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
            self._plan = None
            if conn is not None:
                if isinstance(conn.strategy, RawEntryStrategy):
                    conn.strategy.digest_key = conn.strategy.skip = None
                try:
                    conn.unbind()
                except lx.LDAPException:
                    log.debug("%s: unbind failed", self.name, exc_info=True)
        log.info("%s: listed %d people in %d pages", self.name, count, self._pages)
        if dropped:
            log.info("%s: left out %d built-in or service accounts (not staff)", self.name, dropped)

    def _paged(self, conn: Connection, search_filter: str, attributes: list[str],
               on_page: Callable[[Connection, list[Mapping[str, Any]]], None] | None = None,
               ) -> Iterator[Mapping[str, Any]]:
        """The searchResEntry items of one paged search (searchResRef, AD's referrals to other naming
        contexts, left out), every page's result code checked; ``on_page`` sees each page first."""
        cfg = self.config
        cookie: bytes | None = None
        seen = 0
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
            self._pages += 1
            result = conn.result
            page = conn.response or []  # ldap3 stores a fresh list per operation
            self._check_page_result(result, self._pages, seen)
            cookie = _paged_cookie(result)
            if on_page is not None:
                on_page(conn, page)
            for item in page:
                if item.get("type") == "searchResEntry":
                    seen += 1
                    yield item
            if not cookie:
                return

    def _key_filter(self, keys: list[str]) -> str:
        """``(|(key=k1)(key=k2)...)`` for stable keys as this source renders them."""
        amap = self._map
        if amap.key_format == "guid_le":
            parts = ("".join(f"\\{b:02x}" for b in uuid.UUID(key).bytes_le) for key in keys)
        else:
            parts = (escape_filter_chars(key) for key in keys)
        return "(|" + "".join(f"({amap.key}={part})" for part in parts) + ")"

    def _check_page_result(self, result: Mapping[str, Any], page: int, seen: int) -> None:
        check_page_result(self.config, result, page, seen)

    # -- mapping ---------------------------------------------------------------------------------

    # -- errors ----------------------------------------------------------------------------------

    def _translate(self, exc: lx.LDAPException) -> ConnectorError:
        return translate(self.config, exc)


def _paged_cookie(result: Mapping[str, Any]) -> bytes | None:
    try:
        cookie = result["controls"][PAGED_RESULTS_OID]["value"]["cookie"]
    except (KeyError, TypeError):
        return None
    return bytes(cookie) if cookie else None


# -- accessward check: in ldap_check (imported here, at the end: it reads LdapSource) ----------------
from accessward.connectors.ldap_check import check as check  # noqa: E402
