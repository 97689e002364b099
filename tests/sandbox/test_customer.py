"""The synthetic customer (sandbox.customer): its mix, its mixed-case addresses and its Meta share."""

from __future__ import annotations

from collections import Counter
from datetime import date

from accessward.connectors.meta import MetaBusinessConnector
from accessward.connectors.records import AccountRecord, GrantRecord
from accessward.sandbox.customer import (
    LEGACY,
    META_BUSINESS,
    REALISTIC,
    _member_email,
    mail_of,
    meta_share,
    meta_state,
    people,
)
from accessward.sandbox.meta import create_app
from accessward.sandbox.meta_state import GRAPH_VERSION, MetaState
from accessward.sandbox.server import start_app
from accessward.sandbox.slapd import generate_people
from accessward.sync.writer import normalize_email

TODAY = date(2026, 1, 15)


def test_realistic_mix_has_the_issue_17_shares() -> None:
    crowd = list(people(10_000, today=TODAY, mix=REALISTIC))
    status = Counter(p.status for p in crowd)
    kinds = Counter(p.employee_type for p in crowd)
    assert status["terminated"] == 200  # 2 % leavers
    assert status["suspended"] == 100
    assert sum(p.expires is not None and p.status == "active" for p in crowd) == 100  # leaving in 30 days
    assert kinds["contractor"] == 1_000 and kinds["agency"] == 500  # contractors and agencies, disjoint
    assert len({p.uid for p in crowd}) == len({p.common_name for p in crowd}) == 10_000  # RDNs stay unique
    names = Counter(p.display_name for p in crowd)
    assert sum(n for n in names.values() if n > 1) >= 600  # 3 % copy someone's name: pairs of 2
    mixed = [p.mail for p in crowd if p.mail != (p.mail or "").lower()]
    assert len(mixed) == 1_000  # 10 % mixed case
    assert mixed[0] == "U0000002@Example.COM"
    assert len({normalize_email(p.mail or "") for p in crowd}) == 10_000  # still one mailbox each


def test_generate_people_delegates_to_the_customer_and_keeps_its_contract() -> None:
    a = list(generate_people(300, start=50, today=TODAY))
    b = list(people(300, start=50, today=TODAY, mix=REALISTIC))
    assert a == b
    assert [p.uid for p in a[:2]] == ["u0000050", "u0000051"] and a[0].manager_uid == "u0000005"
    legacy = list(generate_people(100, today=TODAY, mix=LEGACY))
    assert Counter(p.status for p in legacy) == {"active": 92, "terminated": 5, "suspended": 3}
    assert all(p.mail == f"{p.uid}@example.com" for p in legacy)


def test_meta_share_lists_what_it_was_built_to_hold_in_the_other_case() -> None:
    share = meta_share(2_000)
    state = meta_state(share, "tok")
    assert isinstance(state, MetaState)
    members = [state.business_users[u] for u in state.business_users]
    from_directory = {share.member_number(i) for i in range(share.members)}
    assert len(from_directory) == share.members  # no directory person drawn twice
    assert any(mail_of(n, mix=REALISTIC) != mail_of(n, mix=REALISTIC).lower() for n in from_directory)
    for n in from_directory:
        directory, meta = mail_of(n, mix=REALISTIC), _member_email(n, REALISTIC)
        assert directory != meta and normalize_email(directory) == normalize_email(meta)
    assert {_member_email(n, REALISTIC) for n in from_directory} <= {u.email for u in members}
    with start_app(create_app(state)) as server:
        connector = MetaBusinessConnector("meta", f"{server.url}/{GRAPH_VERSION}", META_BUSINESS, "tok")
        records = list(connector.list_access())
        connector.close()
    grants = [r for r in records if isinstance(r, GrantRecord)]
    accounts = [r for r in records if isinstance(r, AccountRecord)]
    assert len(grants) == share.grants
    assert len({a.external_id for a in accounts}) == len(accounts)
    assert sum(g.resource_id == META_BUSINESS for g in grants) >= 2  # the admins, invitations, idle partners
