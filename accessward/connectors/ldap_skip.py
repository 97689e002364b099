"""Skipping unchanged LDAP entries in a full round: digest each entry's raw bytes, map only what changed.

A nightly full round over 200,000 people where 0.5 % changed spends nearly all its time decoding,
mapping and comparing people who did not change. :class:`RawEntryStrategy` digests each
searchResEntry's bytes (DN and every attribute, as the server sent them; keyed by
:func:`scope_key`, so another attribute map, value map or code version never matches) before
decoding it; an entry whose digest is stored for a present person is handed on undecoded and the
source yields an :class:`~connectors.records.UnchangedPerson`.

The mapped person depends on more than the entry's bytes, so a digest is only stored, and only
trusted, when the same bytes provably map to the same person:

* ``now``: a future expiry (``shadowExpire``, ``accountExpires``) turns the status to terminated
  when it passes; the source stores ``stable_until`` = that moment and a digest is used only
  before it (:meth:`SkipPlan.__init__` drops the rows whose moment has passed by the round's ``now``);
* nested groups (Active Directory's ``GroupGraph``): group membership changes on the group, not on
  the user; no digest is stored when groups are expanded;
* the manager: ``manager`` is a DN resolved to the manager's key. An unresolved manager DN stores
  no digest (an entry may appear there later). A resolved one is trusted only when the manager's
  own entry is, in this same round, unchanged (so still at the same DN) or re-read at the DN it
  had when the person was stored (:meth:`SkipPlan.confirmed`); otherwise the person is read again
  by key after the listing (:meth:`SkipPlan.unconfirmed`), and mapped afresh.

A person that is missing in the store is never in the plan: it is read and written again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from accessward.connectors.records import StoredDigests, UnchangedPerson

__all__ = ["MAPPING_VERSION", "SkipPlan", "dn_digest", "scope_key", "source_digest"]

#: Bump when the mapping of entries to people changes: stored digests then no longer match.
MAPPING_VERSION = "ldap-map-1"
_RAW_HEX = 32  # a source digest: 32 hex digits of the entry's bytes, then 16 of its DN


def scope_key(*parts: Any) -> bytes:
    """The blake2b key entry digests are made with: the mapping's version and configuration."""
    return hashlib.blake2b(repr((MAPPING_VERSION, *parts)).encode("utf-8"), digest_size=32).digest()


def dn_digest(raw_dn: bytes) -> str:
    """16 hex digits of a DN as sent (case and spacing included: any rename changes it)."""
    return hashlib.blake2b(raw_dn, digest_size=8).hexdigest()


def source_digest(raw: bytes, raw_dn: bytes) -> str:
    """What ``person.source_digest`` holds: the entry's digest, then its DN's."""
    return raw.hex() + dn_digest(raw_dn)


class SkipPlan:
    """One full round's view of the stored digests: which entries to skip, which to confirm later."""

    def __init__(self, stored: StoredDigests, key: bytes, now: datetime) -> None:
        self.key = key
        self.cursor = stored.cursor
        naive_now = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
        #: entry digest (16 bytes) -> (person id, source key, stored manager key)
        self.by_digest: dict[bytes, tuple[int, str, str | None]] = {}
        rows = stored.rows
        managers = {row[2] for row in rows if row[2] is not None}
        fromhex = bytes.fromhex
        for pid, source_key, manager_key, digest, until in rows:
            if until is not None and until <= naive_now:
                continue  # the same bytes may map to another status now
            try:
                self.by_digest[fromhex(digest[:_RAW_HEX])] = (pid, source_key, manager_key)
            except ValueError:
                continue
        #: source key -> DN digest when stored, for the people someone's stored manager key names
        self._stored_dn = {row[1]: row[3][_RAW_HEX:] for row in rows if row[1] in managers}
        self._unchanged: set[str] = set()
        self._read_dn: dict[str, str] = {}
        self._pending: list[tuple[int, str, str]] = []

    def skipped(self, hit: tuple[int, str, str | None]) -> UnchangedPerson | None:
        """An entry recognised unchanged: the person to yield now, or None (held until its manager is known)."""
        pid, source_key, manager_key = hit
        self._unchanged.add(source_key)
        if manager_key is None or self.confirmed(manager_key):
            return UnchangedPerson(pid, source_key)
        self._pending.append((pid, source_key, manager_key))
        return None

    def decoded(self, source_key: str, dn: str) -> None:
        """An entry read and mapped in this round, at a DN with digest ``dn``."""
        if source_key in self._stored_dn:
            self._read_dn[source_key] = dn

    def confirmed(self, manager_key: str) -> bool:
        """Whether the manager's DN still resolves to ``manager_key``: the manager's entry is unchanged
        in this round, or was read at the DN it had when the people it manages were stored."""
        if manager_key in self._unchanged:
            return True
        read = self._read_dn.get(manager_key)
        return read is not None and read == self._stored_dn.get(manager_key)

    def settle(self) -> tuple[list[UnchangedPerson], list[str]]:
        """After the listing: the held people now confirmed, and the keys of those to read again."""
        confirmed: list[UnchangedPerson] = []
        again: list[str] = []
        for pid, source_key, manager_key in self._pending:
            if self.confirmed(manager_key):
                confirmed.append(UnchangedPerson(pid, source_key))
            else:
                again.append(source_key)
        self._pending = []
        return confirmed, again


def chunks(items: Iterable[str], size: int) -> Iterable[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
