"""The person an HR or service-desk request is about, and every grant they hold.

One human may be several ``Person`` rows: the directory's, the IdP's, a roster's. The key HR
gives (employee id, UPN or email) is resolved with :func:`reconcile.links.find_person`; where it
names one record in each of several sources, those are the same human (as correlation decides
too). The records of other sources are then added by employee id, then by email, one per source at
most: two matches in one source are two people, and neither is taken.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Boolean, Engine, or_, select, text
from sqlmodel import Session, col

from accessward.reconcile.links import find_person
from accessward.sync.models import Person, PersonEmail


@dataclass(frozen=True)
class Subject:
    key: str
    person_ids: tuple[int, ...]
    name: str
    employee_id: str | None
    # source name -> that source's key for the person (the IdP user id for an IdP source)
    source_keys: dict[str, str]


class PersonNotFound(ValueError):
    pass


def _matching(session: Session, key: str) -> list[Person]:
    """Every record the key names, with the criteria of ``find_person``."""
    needle = key.strip().lower()
    ids = set(session.execute(select(col(Person.id)).where(or_(
        col(Person.employee_id) == key.strip(), col(Person.username) == needle, col(Person.upn) == needle,
        col(Person.source_key) == key.strip()))).scalars())
    ids |= set(session.execute(select(col(PersonEmail.person_id)).where(col(PersonEmail.email) == needle)).scalars())
    return [p for p in (session.get(Person, i) for i in sorted(ids)) if p is not None]


def _one_per_source(people: Iterable[Person]) -> dict[str, Person] | None:
    by_source: dict[str, list[Person]] = defaultdict(list)
    for p in people:
        by_source[p.source].append(p)
    if any(len(v) > 1 for v in by_source.values()):
        return None
    return {s: v[0] for s, v in by_source.items()}


def _add_from_other_sources(session: Session, found: dict[str, Person]) -> None:
    employee_ids = {p.employee_id for p in found.values() if p.employee_id}
    emails = {e.lower() for p in found.values() for e in p.emails}
    tiers: list[Any] = []
    if employee_ids:
        tiers.append(select(Person).where(col(Person.employee_id).in_(sorted(employee_ids))))
    if emails:
        tiers.append(select(Person).join(PersonEmail, col(PersonEmail.person_id) == col(Person.id))
                     .where(col(PersonEmail.email).in_(sorted(emails))))
    for stmt in tiers:
        candidates: dict[str, set[int]] = defaultdict(set)
        rows: dict[int, Person] = {}
        for p in session.execute(stmt).scalars():
            if p.source not in found and p.id is not None:
                candidates[p.source].add(p.id)
                rows[p.id] = p
        for source, ids in candidates.items():
            if len(ids) == 1:
                found[source] = rows[next(iter(ids))]


def resolve(engine: Engine, key: str) -> Subject:
    """The records of the person ``key`` names; :class:`PersonNotFound` if none or ambiguous."""
    with Session(engine) as session:
        try:
            found = {(p := find_person(session, key)).source: p}
        except ValueError as exc:
            per_source = _one_per_source(_matching(session, key))
            if not per_source:
                raise PersonNotFound(str(exc)) from None
            found = per_source
        _add_from_other_sources(session, found)
        people = sorted(found.values(), key=lambda p: p.id or 0)
        primary = next((p for p in people if p.employee_id), people[0])
        return Subject(
            key=key, person_ids=tuple(p.id for p in people if p.id is not None), name=primary.display_name,
            employee_id=primary.employee_id, source_keys={p.source: p.source_key for p in people},
        )


GRANTS_SQL = """
SELECT g.id AS grant_id, g.system, g.role, g.level, g.verifiable, g.resource_id,
       a.id AS account_row, a.external_id AS account, a.display_name AS account_name, a.email,
       a.kind AS account_kind, a.sso, r.external_id AS resource, r.name AS resource_name, r.kind AS resource_kind,
       l.person_id, l.disputed, l.candidates
FROM link l
JOIN account a ON a.id = l.account_id
JOIN access_grant g ON g.account_id = a.id AND g.seen_to IS NULL
JOIN resource r ON r.id = g.resource_id
WHERE l.person_id IN ({ids}) OR l.disputed = :yes
ORDER BY g.system, r.external_id, a.external_id, g.id
"""


def open_grants(engine: Engine, person_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Open grants of every account linked to these records; ``disputed`` rows name them as candidates."""
    if not person_ids:
        return []
    wanted = set(person_ids)
    ids = ", ".join(str(int(i)) for i in sorted(wanted))
    with engine.connect() as conn:
        rows = conn.execute(text(GRANTS_SQL.format(ids=ids)).columns(
            candidates=JSON, disputed=Boolean, verifiable=Boolean, sso=Boolean), {"yes": True}).mappings().all()
    out = []
    for row in rows:
        if row["person_id"] in wanted or (row["disputed"] and wanted & set(row["candidates"] or [])):
            out.append(dict(row))
    return out
