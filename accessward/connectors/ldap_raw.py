"""Fast decoding of LDAP search entries for the LDAP identity source: ldap3's BER decoder, raw values kept.

For every searchResEntry ldap3 builds two case-insensitive dicts (``raw_attributes`` and
``attributes``, each value decoded and formatted); at 100,000 entries that conversion costs more than
the BER decoding itself. The identity source reads raw values only and decodes just the attributes it
maps, so :class:`RawEntryStrategy` hands it entries as plain dicts of raw bytes keyed by the
lower-cased attribute name (:func:`raw_attributes` reads either shape).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ldap3.strategy.sync import SyncStrategy

__all__ = ["RawEntryStrategy", "raw_attributes"]

_SEARCH_RES_ENTRY = 4  # protocolOp tag of searchResEntry in ldap3's decoded LDAPMessage
_LOWER_RAW = "accessward_raw_attributes"  # set by _raw_entry: raw values keyed by lower-cased name


_ATTRIBUTE_NAMES: dict[bytes, str] = {}  # attribute description as sent -> lower-cased str


def _attribute_name(raw: bytes) -> str | None:
    """The lower-cased attribute description; None for a range-tagged one (member;range=0-1499)."""
    name = _ATTRIBUTE_NAMES.get(raw)
    if name is None:
        name = raw.decode("ascii").lower()
        if ";range=" in name:
            return None
        if len(_ATTRIBUTE_NAMES) < 4096:  # a directory has a few hundred attribute types at most
            _ATTRIBUTE_NAMES[raw] = name
    return name


def _raw_entry(payload: Any) -> dict[str, Any] | None:
    """A searchResEntry decoded by ldap3's BER decoder, as a response dict of raw values only.

    ``raw_attributes`` is a plain dict keyed by the lower-cased attribute description, values as
    the bytes ldap3's decoder sliced from the message; the formatted ``attributes`` ldap3 would
    build are left empty (this module never reads them). None when the entry needs ldap3's own
    conversion: a DN that is not UTF-8 (ldap3 then tries its other server encodings) or a
    range-tagged attribute (AD range retrieval, which ldap3's auto_range completes on its own
    dicts), or when the payload is not shaped as expected.
    """
    try:
        raw_dn = payload[0][3]
        if type(raw_dn) is not bytes:  # the decoder slices one bytes message: every value is bytes
            return None
        dn = raw_dn.decode("utf-8")
        attributes: dict[str, list[bytes]] = {}
        known = _ATTRIBUTE_NAMES
        for attribute in payload[1][3]:
            description, values = attribute[3]
            name = known.get(description[3]) or _attribute_name(description[3])
            if name is None:
                return None
            attributes[name] = [value[3] for value in values[3]]
    except (AttributeError, IndexError, KeyError, TypeError, ValueError, UnicodeDecodeError):
        return None
    return {
        "type": "searchResEntry", "raw_dn": raw_dn, "dn": dn, "raw_attributes": attributes, "attributes": {},
        _LOWER_RAW: attributes,
    }


class RawEntryStrategy(SyncStrategy):  # type: ignore[misc]  # ldap3 is untyped
    """ldap3's synchronous strategy, keeping the values of search entries raw.

    For every searchResEntry ldap3 builds two case-insensitive dicts, ``raw_attributes`` and
    ``attributes`` (each value decoded to str and run through its formatters); at 100,000 entries
    that conversion costs more than the BER decoding itself. This source reads raw values only
    and decodes just the ones it maps, so entries get :func:`_raw_entry`; every other message,
    and any entry it declines, goes through ldap3 unchanged. The BER decoding, the socket, binds,
    TLS, controls and result codes all stay ldap3's.
    """

    def decode_response_fast(self, ldap_message: Any) -> Any:
        if ldap_message["protocolOp"] == _SEARCH_RES_ENTRY and not ldap_message["controls"]:
            entry = _raw_entry(ldap_message["payload"])
            if entry is not None:
                return entry
        return super().decode_response_fast(ldap_message)


def raw_attributes(item: Mapping[str, Any]) -> dict[str, list[bytes]]:
    """An entry's raw values keyed by lower-cased attribute name, from either decoding path."""
    lowered: dict[str, list[bytes]] | None = item.get(_LOWER_RAW)
    if lowered is not None:
        return lowered
    raw = item.get("raw_attributes") or {}
    return {name.lower(): list(values or ()) for name, values in raw.items()}
