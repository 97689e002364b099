"""Correlate accounts on target systems to people in the identity sources.

Tiers, strongest first: employee id, then username/UPN, then email (case-insensitive). The
first tier that finds anyone decides; if it finds two different people the link is *disputed*
and no rule acts on it automatically. Manual links are kept as they are. Accounts are few
(thousands), people many, so people are looked up by index in chunks, never loaded whole.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Table, select

from accessward.sync import driver_bulk
from accessward.sync.clock import utcnow
from accessward.sync.models import Account, Link, Person, PersonEmail

CHUNK = 500

_A: Table = Account.__table__  # type: ignore[attr-defined]
_P: Table = Person.__table__  # type: ignore[attr-defined]
_E: Table = PersonEmail.__table__  # type: ignore[attr-defined]
_L: Table = Link.__table__  # type: ignore[attr-defined]


@dataclass
class CorrelationStats:
    accounts: int = 0
    matched: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    disputed: int = 0
    unmatched: int = 0


@dataclass(frozen=True)
class _Acct:
    id: int
    login: str | None
    email: str | None
    employee_id: str | None


def _chunks(values: Sequence[str], size: int = CHUNK) -> Iterable[Sequence[str]]:
    for i in range(0, len(values), size):
        yield values[i:i + size]


def _lookup(conn: Any, column: Any, values: set[str], facts: dict[int, _Facts]) -> dict[str, set[int]]:
    """key -> the ids of the people found by that key (``column`` of person or person_email), in
    chunks of indexed lookups on the driver; each person's facts are read by the same query."""
    out: dict[str, set[int]] = defaultdict(set)
    ordered = sorted(values)
    if column.table.name == "person":
        select_sql = f"SELECT p.{column.name}, p.id, p.source, p.status, p.mfa FROM person p WHERE "
    else:
        select_sql = (f"SELECT e.{column.name}, p.id, p.source, p.status, p.mfa FROM person_email e "
                      "JOIN person p ON p.id = e.person_id WHERE ")
    prefix = "p" if column.table.name == "person" else "e"
    for chunk in _chunks(ordered):
        where, params = driver_bulk.any_of(conn, f"{prefix}.{column.name}", chunk)
        for key, pid, source, status, mfa in driver_bulk.rows(conn, select_sql + where, params):
            out[str(key)].add(int(pid))
            facts[int(pid)] = _Facts(source, status, mfa is not None)
    return out


def strip_plus(address: str) -> str:
    """``alex+social@example.com`` -> ``alex@example.com`` (sub-addressing, RFC 5233)."""
    local, at, domain = address.rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}" if at and "+" in local else address


def correlate(engine: Engine, *, plus_addressing: bool = False,
              identity_sources: Sequence[str] | None = None) -> CorrelationStats:
    """Link every non-system account to a person. ``identity_sources``, when given, are the
    configured sources: people left in the store by a source no longer configured are ignored."""
    stats = CorrelationStats()
    with engine.begin() as conn:
        manual = set(conn.execute(select(_L.c.account_id).where(_L.c.method == "manual")).scalars())
        accounts = [
            _Acct(r.id, r.login, r.email, r.employee_id)
            for r in conn.execute(select(_A.c.id, _A.c.login, _A.c.email, _A.c.employee_id).where(
                _A.c.kind != "system"))
            if r.id not in manual
        ]
        facts: dict[int, _Facts] = {}
        by_emp = _lookup(conn, _P.c.employee_id, {a.employee_id for a in accounts if a.employee_id}, facts)
        logins = {a.login for a in accounts if a.login}
        by_user = _lookup(conn, _P.c.username, logins, facts)
        for key, ids in _lookup(conn, _P.c.upn, logins, facts).items():
            by_user[key] |= ids
        emails = {a.email for a in accounts if a.email} | {a.login for a in accounts if a.login and "@" in a.login}
        if plus_addressing:
            emails |= {strip_plus(e) for e in emails}
        by_mail = _lookup(conn, _E.c.email, emails, facts)

        matches = [(acct, _tiers(acct, by_emp, by_user, by_mail, plus_addressing)) for acct in accounts]
        unread = {pid for _, tiers in matches for _, ids in tiers for pid in ids} - facts.keys()
        facts.update(_facts(conn, unread))  # none in practice: every lookup read its people's facts
        configured = set(identity_sources) if identity_sources is not None else None

        now = utcnow()
        rows = []
        for acct, tiers in matches:
            method, candidates, disputed = _decide(tiers, facts, configured)
            person = None
            if not disputed:
                person, disputed = _choose(candidates, facts)
            stats.accounts += 1
            if disputed:
                stats.disputed += 1
            elif person is None:
                stats.unmatched += 1
            else:
                stats.matched[method] += 1
            rows.append({"account_id": acct.id, "person_id": person, "method": method if person else (
                "disputed" if disputed else "none"), "disputed": disputed,
                "candidates": sorted(candidates), "updated_at": now})
        _write_links(conn, _changed_links(conn, rows))
    return stats


def _changed_links(conn: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The link rows that differ from the stored ones: an unchanged link is not rewritten
    (``updated_at`` is when the link last changed), so a correlation where nothing changed writes nothing.
    Candidates are compared as the JSON text stored (see :func:`_write_links`)."""
    stored: dict[int, tuple[Any, ...]] = {}
    for account_id, person_id, method, disputed, candidates in driver_bulk.rows(
            conn, "SELECT account_id, person_id, method, disputed, CAST(candidates AS TEXT) FROM link "
                  "WHERE method <> 'manual'"):
        stored[int(account_id)] = (person_id, method, bool(disputed), candidates)
    return [r for r in rows if stored.get(r["account_id"]) != (
        r["person_id"], r["method"], r["disputed"], json.dumps(r["candidates"]))]


def _write_links(conn: Any, rows: list[dict[str, Any]]) -> None:
    """Upsert links on ``account_id`` in one executemany of plain tuples (the columns the upsert wrote)."""
    if not rows:
        return
    m = driver_bulk.marks(conn, 6)
    when = driver_bulk.stamp(conn, rows[0]["updated_at"])
    driver_bulk.executemany(conn, (
        f"INSERT INTO link (account_id, person_id, method, disputed, candidates, updated_at) VALUES ({m}) "
        "ON CONFLICT (account_id) DO UPDATE SET person_id = excluded.person_id, method = excluded.method, "
        "disputed = excluded.disputed, candidates = excluded.candidates, updated_at = excluded.updated_at"),
        [(r["account_id"], r["person_id"], r["method"], r["disputed"], json.dumps(r["candidates"]), when)
         for r in rows])


@dataclass(frozen=True)
class _Facts:
    source: str
    status: str
    has_posture: bool
    missing: bool = False


_SEVERITY = {"terminated": 2, "suspended": 1}


def _facts(conn: Any, ids: set[int]) -> dict[int, _Facts]:
    out: dict[int, _Facts] = {}
    ordered = sorted(ids)
    for i in range(0, len(ordered), CHUNK):
        where, params = driver_bulk.any_of(conn, "id", ordered[i:i + CHUNK])
        for pid, source, status, mfa in driver_bulk.rows(
                conn, f"SELECT id, source, status, mfa FROM person WHERE {where}", params):
            out[int(pid)] = _Facts(source, status, mfa is not None)
    return out


def _choose(candidates: set[int], facts: dict[int, _Facts]) -> tuple[int | None, bool]:
    """The person an account links to, and whether the link is disputed.

    One candidate: that person. Several from *different* identity sources: the same human seen by
    the directory and the IdP (or a roster), so not a dispute; the link goes to the most severe
    status (if any source says the person left, they left), then to the record with sign-in
    posture (the IdP's, for the MFA rule), then the lowest id for stability. Two candidates from
    the *same* source are two people: disputed, never acted on automatically.
    """
    if not candidates:
        return None, False
    if len(candidates) == 1:
        return next(iter(candidates)), False
    known = [facts[c] for c in candidates if c in facts]
    if len(known) != len(candidates) or len({f.source for f in known}) != len(known):
        return None, True
    best = min(candidates, key=lambda c: (-_SEVERITY.get(facts[c].status, 0), not facts[c].has_posture, c))
    return best, False


def _tiers(acct: _Acct, by_emp: dict[str, set[int]], by_user: dict[str, set[int]],
           by_mail: dict[str, set[int]], plus_addressing: bool = False) -> list[tuple[str, set[int]]]:
    """Who each tier finds, strongest first (only the tiers that find someone)."""
    tiers = []
    if acct.employee_id and by_emp.get(acct.employee_id):
        tiers.append(("employee_id", set(by_emp[acct.employee_id])))
    if acct.login and by_user.get(acct.login):
        tiers.append(("username", set(by_user[acct.login])))
    found: set[int] = set()
    for address in (acct.email, acct.login):
        if not address:
            continue
        for form in {address, strip_plus(address)} if plus_addressing else {address}:
            found |= by_mail.get(form, set())
    if found:
        tiers.append(("email", found))
    return tiers


def _decide(tiers: list[tuple[str, set[int]]], facts: dict[int, _Facts],
            configured: set[str] | None) -> tuple[str, set[int], bool]:
    """The deciding tier and its candidates, or a dispute when the tiers disagree.

    The strongest tier decides, but when a weaker tier names a *different* person in the same
    source (a platform handle "asmith" that is one person's uid, an email that is another's), the
    account is disputed: a chosen handle must never outvote the address it is registered with.
    People from sources no longer configured are ignored, and so are records missing from their
    source when another candidate is still present.
    """
    usable = []
    for method, ids in tiers:
        kept = {i for i in ids if i in facts and (configured is None or facts[i].source in configured)}
        present = {i for i in kept if not facts[i].missing}
        kept = present or kept
        if kept:
            usable.append((method, kept))
    if not usable:
        return "none", set(), False
    method, primary = usable[0]
    chosen_sources = {facts[i].source for i in primary}
    for _, ids in usable[1:]:
        if any(facts[i].source in chosen_sources and i not in primary for i in ids):
            return method, primary | ids, True
    return method, primary, False
