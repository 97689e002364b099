"""Fast decoding of LDAP search entries for the LDAP identity source: ldap3's BER decoder, raw values kept.

For every searchResEntry ldap3 builds two case-insensitive dicts (``raw_attributes`` and
``attributes``, each value decoded and formatted); at 100,000 entries that conversion costs more than
the BER decoding itself. The identity source reads raw values only and decodes just the attributes it
maps, so :class:`RawEntryStrategy` hands it entries as plain dicts of raw bytes keyed by the
lower-cased attribute name (:func:`raw_attributes` reads either shape).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from ldap3.core.exceptions import LDAPExtensionError, LDAPSocketReceiveError
from ldap3.strategy.base import RESPONSE_COMPLETE, SESSION_TERMINATED_BY_SERVER, TRANSACTION_ERROR
from ldap3.strategy.sync import SyncStrategy
from ldap3.utils.asn1 import decode_message_fast

__all__ = ["DIGEST", "UNCHANGED", "RawEntryStrategy", "all_values", "decode_search_entry", "first_value",
           "frame_entry", "raw_attributes"]

_SEARCH_RES_ENTRY = 4  # protocolOp tag of searchResEntry in ldap3's decoded LDAPMessage
_LOWER_RAW = "accessward_raw_attributes"  # set by _raw_entry: raw values keyed by lower-cased name
DIGEST = "accessward_digest"  # an entry's digest (RawEntryStrategy.digest_key set): 16 bytes
UNCHANGED = "accessward_unchanged"  # an entry skipped undecoded: what RawEntryStrategy.skip held for its digest


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


class _Decline(Exception):
    """The message is not a plain searchResEntry this decoder reads: ldap3 decodes it."""


def _length(message: bytes, i: int) -> tuple[int, int]:
    """A BER definite length at ``i``: (length, offset of the value). LDAP forbids the indefinite form."""
    first = message[i]
    if first < 0x80:
        return first, i + 1
    count = first & 0x7F
    if count == 0 or count > 4:
        raise _Decline
    return int.from_bytes(message[i + 1:i + 1 + count], "big"), i + 1 + count


def _expect(message: bytes, i: int, tag: int) -> tuple[int, int]:
    """The value's (end, start) of the element at ``i``, which must carry ``tag``."""
    if message[i] != tag:
        raise _Decline
    length, start = _length(message, i + 1)
    return start + length, start


def frame_entry(message: bytes) -> tuple[int, int, int, int, int] | None:
    """(messageID, start and end of the searchResEntry operation, start and end of its DN) of one
    LDAPMessage, or None when it is not a searchResEntry framed as RFC 4511 says.

    Every header read inline (this runs for every entry of a skipping round, where it is most of
    the per-entry work): definite lengths only, at most four length bytes.
    """
    try:
        if message[0] != 0x30:
            return None
        size = message[1]
        if size < 0x80:
            i, end = 2, 2 + size
        else:
            count = size & 0x7F
            if not 0 < count <= 4:
                return None
            i = 2 + count
            end = i + int.from_bytes(message[2:i], "big")
        if end != len(message) or message[i] != 0x02:
            return None
        size = message[i + 1]
        if size >= 0x80:  # a messageID is at most four bytes: always the short form
            return None
        stop = i + 2 + size
        message_id = int.from_bytes(message[i + 2:stop], "big", signed=True)
        if message[stop] != 0x64:
            return None
        size = message[stop + 1]
        if size < 0x80:
            body, op_end = stop + 2, stop + 2 + size
        else:
            count = size & 0x7F
            if not 0 < count <= 4:
                return None
            body = stop + 2 + count
            op_end = body + int.from_bytes(message[stop + 2:body], "big")
        if message[body] != 0x04:
            return None
        size = message[body + 1]
        if size < 0x80:
            dn_start, dn_end = body + 2, body + 2 + size
        else:
            count = size & 0x7F
            if not 0 < count <= 4:
                return None
            dn_start = body + 2 + count
            dn_end = dn_start + int.from_bytes(message[body + 2:dn_start], "big")
        if op_end > end or dn_end > op_end:
            return None
    except IndexError:
        return None
    return message_id, stop, op_end, dn_start, dn_end


def decode_search_entry(message: bytes) -> tuple[int, dict[str, Any]] | None:
    """(messageID, entry) of one LDAPMessage that is a searchResEntry without controls, else None.

    RFC 4511 section 4.5.2: ``SEQUENCE { messageID INTEGER, [APPLICATION 4] SEQUENCE { objectName
    OCTET STRING, attributes SEQUENCE OF SEQUENCE { type OCTET STRING, vals SET OF OCTET STRING } } }``.
    Reads the tags and lengths by offset and slices the values (no per-element tuples, which is
    where ldap3's generic ``decode_sequence`` spends its time); the entry is the same dict
    :func:`_raw_entry` builds from ldap3's decoding. Anything else (another operation, controls, a
    length that does not add up, a DN that is not UTF-8, a range-tagged attribute) is None, and
    ldap3 decodes the message.
    """
    try:
        end, i = _expect(message, 0, 0x30)
        if end != len(message):
            raise _Decline
        stop, i = _expect(message, i, 0x02)
        message_id = int.from_bytes(message[i:stop], "big", signed=True)
        op_end, i = _expect(message, stop, 0x64)
        if op_end != end:  # controls (or anything) after the operation: ldap3's
            raise _Decline
        stop, i = _expect(message, i, 0x04)
        raw_dn = message[i:stop]
        attrs_end, i = _expect(message, stop, 0x30)
        if attrs_end != op_end:
            raise _Decline
        attributes: dict[str, list[bytes]] = {}
        known = _ATTRIBUTE_NAMES
        while i < attrs_end:  # the headers inlined for short-form lengths (the common case)
            if message[i] == 0x30 and message[i + 1] < 0x80:
                item_end = i + 2 + message[i + 1]
                i += 2
            else:
                item_end, i = _expect(message, i, 0x30)
            if message[i] == 0x04 and message[i + 1] < 0x80:
                stop = i + 2 + message[i + 1]
                i += 2
            else:
                stop, i = _expect(message, i, 0x04)
            description = message[i:stop]
            if message[stop] == 0x31 and message[stop + 1] < 0x80:
                values_end, i = stop + 2 + message[stop + 1], stop + 2
            else:
                values_end, i = _expect(message, stop, 0x31)
            if values_end != item_end:
                raise _Decline
            values: list[bytes] = []
            while i < values_end:  # inlined: short values (length < 128) are nearly all of them
                if message[i] != 0x04:
                    raise _Decline
                size = message[i + 1]
                if size < 0x80:
                    i += 2
                    stop = i + size
                else:
                    stop, i = _expect(message, i, 0x04)
                values.append(message[i:stop])
                i = stop
            if i != values_end:
                raise _Decline
            name = known.get(description) or _attribute_name(description)
            if name is None:
                raise _Decline
            attributes[name] = values
        if i != attrs_end:
            raise _Decline
        dn = raw_dn.decode("utf-8")
    except (_Decline, IndexError, UnicodeDecodeError):
        return None
    return message_id, {
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

    #: Set by the LDAP source for a full round that skips unchanged entries (connectors.ldap_skip):
    #: every searchResEntry is digested (its operation's bytes, keyed by ``digest_key``) before it is
    #: decoded; one whose digest is in ``skip`` is handed on undecoded as ``{UNCHANGED: skip[digest],
    #: "raw_dn": ...}``, the others carry their digest under ``DIGEST``.
    digest_key: bytes | None = None
    skip: Mapping[bytes, Any] | None = None

    def _get_response(self, message_id: int, timeout: Any) -> Any:
        """ldap3's ``SyncStrategy._get_response``, with search entries read by :func:`decode_search_entry`.

        The socket, framing, SASL signing and usage counters stay ldap3's (``receiving``); a message
        the decoder declines, or one for another message id, takes ldap3's decoding and ldap3's
        handling below (copied from ldap3 2.9: unsolicited notifications, stray extended responses).
        """
        conn = self.connection
        if not conn.fast_decoder:
            return super()._get_response(message_id, timeout)
        responses_out: list[Any] = []
        complete = False
        while not complete:
            responses = self.receiving()
            if not responses:
                return SESSION_TERMINATED_BY_SERVER
            for response in responses:
                if not response:
                    continue
                if conn.usage:
                    conn._usage.update_received_message(len(response))
                key = self.digest_key
                if key is not None:
                    framed = frame_entry(response)
                    if framed is not None and framed[0] == message_id:
                        digest = hashlib.blake2b(response[framed[1]:framed[2]], digest_size=16, key=key).digest()
                        skip = self.skip
                        hit = skip.get(digest) if skip is not None else None
                        if hit is not None:
                            raw_dn = response[framed[3]:framed[4]]
                            responses_out.append({"type": "searchResEntry", UNCHANGED: hit, "raw_dn": raw_dn,
                                                  "dn": raw_dn.decode("utf-8", errors="replace"),
                                                  "raw_attributes": {}, "attributes": {}})
                            continue
                        fast = decode_search_entry(response)
                        if fast is not None and fast[0] == message_id:
                            fast[1][DIGEST] = digest
                            responses_out.append(fast[1])
                            continue
                fast = decode_search_entry(response)
                if fast is not None and fast[0] == message_id:
                    responses_out.append(fast[1])
                    continue
                ldap_resp = decode_message_fast(response)
                dict_response = self.decode_response_fast(ldap_resp)
                received = int(ldap_resp["messageID"])
                if received == message_id:
                    responses_out.append(dict_response)
                    if dict_response["type"] not in ("searchResEntry", "searchResRef", "intermediateResponse"):
                        complete = True  # as ldap3: the rest of this batch is still read
                elif received == 0:  # unsolicited notification (RFC 4511 4.4)
                    if dict_response.get("responseName") == "1.3.6.1.4.1.1466.20036":
                        return SESSION_TERMINATED_BY_SERVER
                    if dict_response.get("responseName") == "2.16.840.1.113719.1.27.103.4":
                        return TRANSACTION_ERROR
                    conn.last_error = "unknown unsolicited notification from server"
                    raise LDAPSocketReceiveError(conn.last_error)
                elif dict_response["type"] == "extendedResp":
                    conn.last_error = "multiple extended responses to a single extended request"
                    raise LDAPExtensionError(conn.last_error)
                else:
                    conn.last_error = "invalid messageId received"
                    raise LDAPSocketReceiveError(conn.last_error)
        responses_out.append(RESPONSE_COMPLETE)
        return responses_out

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


def first_value(entry: Mapping[str, list[bytes]], names: Sequence[str]) -> str | None:
    """The first non-empty value of the first of ``names`` (lower-cased) that has one."""
    for name in names:
        for raw in entry.get(name, ()):
            text = raw.decode("utf-8", errors="replace").strip()
            if text:
                return text
    return None


def all_values(entry: Mapping[str, list[bytes]], name: str | None) -> list[str]:
    """Every non-empty value of attribute ``name`` (lower-cased)."""
    if not name:
        return []
    values = (raw.decode("utf-8", errors="replace").strip() for raw in entry.get(name, ()))
    return [value for value in values if value]
