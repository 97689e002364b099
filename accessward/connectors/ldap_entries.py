"""The entry half of :class:`~accessward.connectors.ldap.LdapSource`: one search entry to one person.

Kept apart from the listing (paging, binding, skip rounds) because this is where the directory's
meaning lives: the stable key, the addresses (``mail`` and AD's ``proxyAddresses``), the status from
AD's ``userAccountControl`` / ``accountExpires``, OpenLDAP's lockout and ``shadowExpire`` or a status
attribute, the kind, and the manager DN resolved to the manager's key (from the listing so far, a
batch ``entryDN`` search, or one lookup). A mixin: it reads the source's configuration and caches.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ldap3 import BASE, SUBTREE, Connection
from ldap3.core import exceptions as lx
from ldap3.utils.conv import escape_filter_chars

from accessward.connectors.errors import MalformedResponseError
from accessward.connectors.ldap_ad import ACCOUNTDISABLE, GroupGraph, filetime_to_datetime, system_account_reason
from accessward.connectors.ldap_map import AttributeMap
from accessward.connectors.ldap_raw import DIGEST, UNCHANGED, raw_attributes
from accessward.connectors.ldap_raw import all_values as _all
from accessward.connectors.ldap_raw import first_value as _first
from accessward.connectors.ldap_skip import SkipPlan, chunks, dn_digest
from accessward.connectors.records import PersonKind, PersonRecord, PersonStatus

if TYPE_CHECKING:
    from accessward.connectors.ldap import LdapSourceConfig

log = logging.getLogger("accessward.connectors.ldap")

LOCKED_PERMANENTLY = "000001010000Z"
_UNIX_EPOCH = date(1970, 1, 1)
_SEVERITY = {PersonStatus.active: 0, PersonStatus.suspended: 1, PersonStatus.terminated: 2}
#: DN -> stable key of people listed or looked up (about 265 bytes an entry, so at most ~70 MB):
#: enough for the 200,000-identity target to resolve every manager without a lookup.
_MANAGER_CACHE_SIZE = 262_144


def _worse(current: PersonStatus, other: PersonStatus) -> PersonStatus:
    return other if _SEVERITY[other] > _SEVERITY[current] else current


class LdapEntries:
    """Maps search entries to people (a mixin of :class:`~accessward.connectors.ldap.LdapSource`)."""

    if TYPE_CHECKING:
        config: LdapSourceConfig
        name: str
        _map: AttributeMap
        _names: AttributeMap
        _status_values: dict[str, Any]
        _kind_values: dict[str, Any]
        _manager_cache: OrderedDict[str, str | None]
        _groups: GroupGraph | None
        _plan: SkipPlan | None

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
        status, leave_date, turns = self._status(entry, dn, now)
        kind = PersonKind.employee
        kind_value = _first(entry, (names.kind,)) if names.kind else None
        if kind_value is not None:
            kind = self._kind_values.get(kind_value.lower(), PersonKind.employee)
        manager_key = None
        manager_dn = _first(entry, (names.manager,)) if names.manager else None
        if manager_dn and resolve_manager:
            manager_key = self._manager_key(conn, manager_dn)
        digest: str | None = None
        plan = self._plan
        if plan is not None and (raw := item.get(DIGEST)) is not None:
            dn_hash = dn_digest(item["raw_dn"])
            plan.decoded(source_key, dn_hash)
            # Only when these bytes alone give this person (ldap_skip): not with expanded groups, not
            # with a manager DN that resolves to nobody (an entry may appear there).
            if self._groups is None and not (manager_dn and resolve_manager and manager_key is None):
                digest = raw.hex() + dn_hash
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
            source_digest=digest,
            stable_until=turns if digest is not None else None,
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

    def _status(self, entry: Mapping[str, list[bytes]], dn: str,
                now: datetime) -> tuple[PersonStatus, datetime | None, datetime | None]:
        """(status, leave date, the earliest moment ``now`` passing changes the status: a future expiry)."""
        amap, names = self._map, self._names
        turns: datetime | None = None
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
                else:
                    turns = expires

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
                else:  # terminated from that day's midnight (UTC) on, as now.date() is compared
                    turns = leave_date if turns is None else min(turns, leave_date)

        if names.status_attribute:
            for value in _all(entry, names.status_attribute):
                mapped = self._status_values.get(value.lower())
                if mapped is not None:
                    status = _worse(status, mapped)
        return status, leave_date, turns

    def _remember(self, cache_key: str, key: str | None) -> None:
        cache = self._manager_cache
        cache[cache_key] = key
        cache.move_to_end(cache_key)
        if len(cache) > _MANAGER_CACHE_SIZE:
            cache.popitem(last=False)

    def _page_managers(self, conn: Connection, page: list[Mapping[str, Any]]) -> None:
        """Resolve a page's manager DNs not known yet in one search per 200, ``(|(entryDN=..)..)``
        under the base DN (OpenLDAP answers entryDN from its DN index), instead of one base-scope
        lookup each: an incremental round's changed people mostly have managers it does not list.
        Only what is found is remembered, under the DN as the server returns it; a DN written
        otherwise (case, spaces), outside the base DN or of nobody still gets its own lookup."""
        cache, name = self._manager_cache, self._names.manager
        assert name is not None
        wanted: dict[str, None] = {}
        for item in page:
            if item.get("type") != "searchResEntry" or UNCHANGED in item:
                continue
            manager_dn = _first(raw_attributes(item), (name,))
            if manager_dn and manager_dn.lower() not in cache:
                wanted[manager_dn] = None
        if not wanted:
            return
        key_attribute = self._map.key
        for dns in chunks(wanted, 200):
            try:
                conn.search(self.config.base_dn,
                            "(|" + "".join(f"(entryDN={escape_filter_chars(dn)})" for dn in dns) + ")",
                            search_scope=SUBTREE, attributes=[key_attribute])
            except (lx.LDAPOperationResult, lx.LDAPAttributeError) as exc:  # e.g. a server limit: look up one by one
                log.info("%s: batch manager lookup refused (%s); looking managers up one by one", self.name, exc)
                return
            for found in conn.response or []:
                if found.get("type") == "searchResEntry" and UNCHANGED not in found:
                    dn = str(found.get("dn", ""))
                    try:
                        self._remember(dn.lower(), self._key(raw_attributes(found), dn))
                    except MalformedResponseError:
                        continue  # no readable key: its own lookup says so, as before

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
