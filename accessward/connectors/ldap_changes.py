"""Incremental rounds of the LDAP identity source (:meth:`LdapSource.list_changes`) and their cursors.

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
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ldap3 import Connection
from ldap3.utils.conv import escape_filter_chars

from accessward.connectors.errors import MalformedResponseError, ResyncRequired
from accessward.connectors.ldap_ad import deleted_users, naming_context, usn_state
from accessward.connectors.ldap_raw import first_value as _first
from accessward.connectors.ldap_raw import raw_attributes
from accessward.connectors.records import PersonChange, PersonRecord, UnchangedPerson

if TYPE_CHECKING:
    from accessward.connectors.ldap import LdapSourceConfig
    from accessward.connectors.ldap_map import AttributeMap
    from accessward.connectors.ldap_skip import SkipPlan

__all__ = ["LdapChangeRun", "LdapChanges"]

log = logging.getLogger("accessward.connectors.ldap")

_Mode = Literal["timestamp", "usn"]
_T = TypeVar("_T")

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

    def __init__(self, source: LdapChanges, mode: _Mode, previous: _Cursor | None, now: datetime) -> None:
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



class LdapChanges:
    """The incremental half of :class:`~accessward.connectors.ldap.LdapSource` (a mixin: it reads the
    source's configuration and runs its paged search)."""

    if TYPE_CHECKING:
        config: LdapSourceConfig
        name: str
        _now: datetime | None
        _map: AttributeMap

        def _endpoint(self) -> tuple[str, int, bool]: ...

        def _skip_plan(self, attributes: list[str], now: datetime, full: bool) -> SkipPlan | None: ...

        def _person(self, conn: Connection, item: Mapping[str, Any], now: datetime) -> PersonRecord | None: ...

        def _search(self, search_filter: str, attributes: list[str],
                    convert: Callable[[Connection, Mapping[str, Any]], _T | None],
                    before: Callable[[Connection], None] | None = None,
                    after: Callable[[Connection], Iterator[_T]] | None = None,
                    plan: SkipPlan | None = None) -> Iterator[_T | UnchangedPerson]: ...

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

    def _earlier_high(self, cursor: str | None, mode: _Mode) -> tuple[datetime | None, int | None]:
        """The highest modifyTimestamp (``hi``) or USN an earlier round's cursor of this scope recorded."""
        if cursor is None:
            return None, None
        try:
            parsed = self._parse_cursor(cursor, mode)
            data = json.loads(cursor.removeprefix(_CURSOR_PREFIX))
        except (ResyncRequired, ValueError):
            return None, None
        high = data.get("hi")
        moment = _parse_cursor_time(high) if isinstance(high, str) and _CURSOR_TIME.fullmatch(high) else None
        return moment, parsed.usn if mode == "usn" else None

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

        plan = self._skip_plan(attributes, run.now, run.full)
        # Skipped entries are not decoded, so their watermark is not read: the highest one an earlier
        # round of this scope saw stands in for them (it is at most this round's start on the server's
        # clock, so the overlap below still re-reads whatever changes while this round runs).
        earlier_high, earlier_usn = self._earlier_high(plan.cursor if plan else None, run.mode)
        yield from self._search(search_filter, attributes, convert, before, after, plan=plan)
        if plan is not None and earlier_high is not None and (latest_seen[0] is None or earlier_high > latest_seen[0]):
            latest_seen[0] = earlier_high
        if plan is not None and earlier_usn is not None:
            highest_seen[0] = max(highest_seen[0], earlier_usn)

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
                cursor["hi"] = latest.strftime("%Y%m%d%H%M%SZ")
            cursor["ts"] = mark.strftime("%Y%m%d%H%M%SZ")
        run.finish(_CURSOR_PREFIX + json.dumps(cursor, sort_keys=True, separators=(",", ":")))
