"""The dedicated searchResEntry decoder gives exactly what ldap3's own decoder gives, or declines.

Messages are BER-encoded here by hand (independently of both decoders), including long-form lengths,
multi-valued, binary and non-ASCII values, then decoded by :func:`decode_search_entry` and by ldap3
(``decode_message_fast`` + its stock ``decode_response_fast``) and compared value by value.
"""

from __future__ import annotations

import uuid

import pytest
from ldap3 import NONE, Connection, Server
from ldap3.utils.asn1 import decode_message_fast

from accessward.connectors.ldap_raw import decode_search_entry


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _len(len(value)) + value


def entry_message(message_id: int, dn: bytes, attributes: list[tuple[bytes, list[bytes]]],
                  controls: bytes = b"") -> bytes:
    attrs = b"".join(tlv(0x30, tlv(0x04, name) + tlv(0x31, b"".join(tlv(0x04, v) for v in values)))
                     for name, values in attributes)
    op = tlv(0x64, tlv(0x04, dn) + tlv(0x30, attrs))
    mid = message_id.to_bytes((message_id.bit_length() + 8) // 8, "big")
    return tlv(0x30, tlv(0x02, mid) + op + controls)


ATTRIBUTES = [
    (b"objectClass", [b"top", b"inetOrgPerson", b"shadowAccount"]),
    (b"cn", ["Zoë Ångström-Łukasiewicz".encode()]),
    (b"mail", [b"Zoe@Example.com", b"zoe.alias@example.com", "zoë@exämple.com".encode()]),
    (b"objectGUID", [uuid.UUID("6f2a3b4c-0000-4000-8000-00ff00ff00ff").bytes_le]),
    (b"jpegPhoto", [bytes(range(256)) * 300]),  # 76,800 bytes: a three-byte long-form length
    (b"description", [b""]),
    (b"employeeNumber", [b"E0000042"]),
    (b"memberOf", [f"cn=group {i},ou=groups,dc=example,dc=com".encode() for i in range(40)]),
]


def ldap3_entry(message: bytes) -> tuple[int, dict]:
    decoded = decode_message_fast(message)
    conn = Connection(Server("ldap://127.0.0.1:9", get_info=NONE))  # never opened: ldap3's stock strategy
    return int(decoded["messageID"]), conn.strategy.decode_response_fast(decoded)


@pytest.mark.parametrize("message_id", [1, 127, 128, 300, 70_000])
def test_the_decoder_matches_ldap3_on_the_same_entry(message_id):
    dn = "uid=zoë,ou=people,dc=example,dc=com".encode()
    message = entry_message(message_id, dn, ATTRIBUTES)
    fast = decode_search_entry(message)
    assert fast is not None
    got_id, got = fast
    want_id, want = ldap3_entry(message)
    assert got_id == want_id == message_id
    assert got["type"] == want["type"] == "searchResEntry"
    assert got["dn"] == want["dn"] == "uid=zoë,ou=people,dc=example,dc=com"
    assert got["raw_dn"] == dn
    want_raw = {name.lower(): [bytes(v) for v in values] for name, values in want["raw_attributes"].items()}
    assert got["raw_attributes"] == want_raw
    assert got["raw_attributes"]["mail"] == [b"Zoe@Example.com", b"zoe.alias@example.com", "zoë@exämple.com".encode()]
    assert got["raw_attributes"]["jpegphoto"] == [bytes(range(256)) * 300]
    assert len(got["raw_attributes"]["memberof"]) == 40


def test_it_declines_what_it_does_not_read():
    dn = b"uid=a,dc=example,dc=com"
    plain = entry_message(2, dn, [(b"cn", [b"a"])])
    assert decode_search_entry(plain) is not None
    with_controls = entry_message(2, dn, [(b"cn", [b"a"])], controls=tlv(0xA0, tlv(0x30, tlv(0x04, b"1.2.3"))))
    assert decode_search_entry(with_controls) is None, "entries with controls go to ldap3"
    assert decode_search_entry(plain[:-1]) is None, "a truncated message"
    assert decode_search_entry(entry_message(2, b"uid=\xff,dc=x", [(b"cn", [b"a"])])) is None, "a DN not UTF-8"
    ranged = entry_message(2, dn, [(b"member;range=0-1499", [b"cn=x"])])
    assert decode_search_entry(ranged) is None, "AD range retrieval is ldap3's (auto_range)"
    done = tlv(0x30, tlv(0x02, b"\x02") + tlv(0x65, tlv(0x0A, b"\x00") + tlv(0x04, b"") + tlv(0x04, b"")))
    assert decode_search_entry(done) is None, "searchResDone is ldap3's"
    assert ldap3_entry(done)[1]["type"] == "searchResDone"


def test_on_a_real_slapd_the_entries_equal_ldap3_s_own(slapd_factory, monkeypatch):
    """The same paged search with ldap3's stock strategy and with RawEntryStrategy: the same entries."""
    from ldap3 import SUBTREE

    from accessward.connectors.ldap_raw import RawEntryStrategy, raw_attributes
    from accessward.sandbox.slapd import SeedPerson, people_ldif

    people = [
        SeedPerson("zoe", given_name="Zoë", sn="Ångström", display_name="Zoë Ångström", mail="Zoe@Example.com",
                   aliases=("zoë@exämple.com", "z.a@example.com"), employee_number="E1",
                   extra={"jpegPhoto": [bytes(range(256)) * 4], "description": ["ein Ü", "二"]}),
        *[SeedPerson(f"p{i:03d}", sn=f"Person {i}", mail=f"P{i}@Example.com") for i in range(120)],
    ]
    server = slapd_factory(people_ldif(people))

    def search(strategy):
        conn = Connection(Server(server.url, get_info=NONE), user=server.bind_dn, password=server.password,
                          auto_bind=True)
        if strategy is not None:
            conn.strategy.__class__ = strategy
        entries = conn.extend.standard.paged_search(server.people_dn, "(objectClass=inetOrgPerson)", SUBTREE,
                                                    attributes=["*", "+"], paged_size=50, generator=False)
        conn.unbind()
        return {e["dn"]: raw_attributes(e) for e in entries if e.get("type") == "searchResEntry"}

    from accessward.connectors import ldap_raw

    decoded: list[int] = []

    def counting(message):
        result = decode_search_entry(message)
        if result is not None:
            decoded.append(result[0])
        return result

    monkeypatch.setattr(ldap_raw, "decode_search_entry", counting)
    stock, fast = search(None), search(RawEntryStrategy)
    assert len(decoded) == 121, "every entry went through the dedicated decoder"
    assert len(stock) == 121
    assert fast == stock
    zoe = fast[f"uid=zoe,{server.people_dn}"]
    assert zoe["jpegphoto"] == [bytes(range(256)) * 4]
    assert sorted(zoe["description"]) == sorted(["ein Ü".encode(), "二".encode()])


def test_on_a_real_slapd_long_values_referrals_and_digests_match_ldap3(slapd_factory):
    """Values past 65,535 bytes, a referral object (searchResRef) among the entries, paging (the page
    control rides on searchResDone, which stays ldap3's), and the digesting mode of RawEntryStrategy:
    the same entries as ldap3's stock strategy, every decoded one with its digest, a skipped one as a
    marker carrying what the skip table held."""
    import hashlib

    from ldap3 import SUBTREE

    from accessward.connectors.ldap_raw import DIGEST, UNCHANGED, RawEntryStrategy, frame_entry, raw_attributes
    from accessward.sandbox.slapd import SeedPerson, people_ldif

    people = [SeedPerson("big", sn="Big", mail="big@example.com",
                         extra={"jpegPhoto": [bytes(range(256)) * 300], "description": ["ü" * 200]}),
              *[SeedPerson(f"q{i:03d}", sn=f"Q {i}", mail=f"q{i}@example.com") for i in range(30)]]
    referral = ("dn: ou=away,ou=people,dc=example,dc=com\nobjectClass: referral\nobjectClass: extensibleObject\n"
                "ou: away\nref: ldap://other.example.com/ou=away,dc=example,dc=com\n\n")
    server = slapd_factory(people_ldif(people) + "\n" + referral)
    key = b"k" * 32

    def search(strategy, digest_key=None, skip=None):
        conn = Connection(Server(server.url, get_info=NONE), user=server.bind_dn, password=server.password,
                          auto_bind=True, auto_referrals=False)
        if strategy is not None:
            conn.strategy.__class__ = strategy
            conn.strategy.digest_key, conn.strategy.skip = digest_key, skip
        responses = conn.extend.standard.paged_search(server.people_dn, "(objectClass=*)", SUBTREE,
                                                      attributes=["*", "+"], paged_size=7, generator=False)
        conn.unbind()
        return list(responses)

    stock = search(None)
    refs = [r for r in stock if r["type"] == "searchResRef"]
    assert refs and "ldap://other.example.com" in refs[0]["uri"][0]
    entries = {e["dn"]: raw_attributes(e) for e in stock if e["type"] == "searchResEntry"}
    assert len(entries) == 32  # ou=people and 31 people
    assert entries[f"uid=big,{server.people_dn}"]["jpegphoto"] == [bytes(range(256)) * 300]

    digested = search(RawEntryStrategy, key)
    assert [r for r in digested if r["type"] == "searchResRef"] == refs
    fast = [e for e in digested if e["type"] == "searchResEntry"]
    assert {e["dn"]: raw_attributes(e) for e in fast} == entries
    assert all(len(e[DIGEST]) == 16 for e in fast)
    assert len({e[DIGEST] for e in fast}) == 32

    # The digest is the searchResEntry operation's bytes under the key (framing checked on a built message).
    big = next(e for e in fast if e["dn"].startswith("uid=big,"))
    message = entry_message(9, b"uid=a,dc=x", [(b"cn", [b"a" * 70_000])])
    framed = frame_entry(message)
    assert framed is not None and message[framed[1]] == 0x64 and framed[2] == len(message)
    assert message[framed[3]:framed[4]] == b"uid=a,dc=x"
    assert len(hashlib.blake2b(message[framed[1]:framed[2]], digest_size=16, key=key).digest()) == 16

    skipped = search(RawEntryStrategy, key, {big[DIGEST]: ("held", 1)})
    markers = [e for e in skipped if e.get(UNCHANGED) is not None]
    assert len(markers) == 1 and markers[0][UNCHANGED] == ("held", 1)
    assert markers[0]["raw_dn"] == big["raw_dn"]
    others = {e["dn"]: raw_attributes(e) for e in skipped if e["type"] == "searchResEntry" and UNCHANGED not in e}
    assert others == {dn: attrs for dn, attrs in entries.items() if not dn.startswith("uid=big,")}


@pytest.mark.parametrize("message_id", [1, 127, 128, 300, 70_000])
@pytest.mark.parametrize("dn_size", [10, 200, 70_000])
def test_frame_entry_finds_the_operation_and_dn_the_decoder_reads(message_id, dn_size):
    from accessward.connectors.ldap_raw import frame_entry

    dn = ("uid=" + "ü" * (dn_size // 2) + ",dc=x").encode()
    message = entry_message(message_id, dn, ATTRIBUTES)
    framed = frame_entry(message)
    assert framed is not None
    got_id, op_start, op_end, dn_start, dn_end = framed
    assert got_id == message_id == ldap3_entry(message)[0]
    assert message[dn_start:dn_end] == dn == decode_search_entry(message)[1]["raw_dn"]
    assert message[op_start] == 0x64 and op_end == len(message)
    with_controls = entry_message(message_id, dn, ATTRIBUTES, controls=tlv(0xA0, tlv(0x30, tlv(0x04, b"1.2.3"))))
    framed = frame_entry(with_controls)
    assert framed is not None and framed[2] < len(with_controls), "the operation's end, not the message's"
    assert frame_entry(message[:-1]) is None
    assert frame_entry(b"\x31" + message[1:]) is None
    done = tlv(0x30, tlv(0x02, b"\x02") + tlv(0x65, tlv(0x0A, b"\x00") + tlv(0x04, b"") + tlv(0x04, b"")))
    assert frame_entry(done) is None
