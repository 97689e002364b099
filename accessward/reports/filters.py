"""The filters people expect on every report: system, resource, person, department, rule,
severity, state, and a date range.

A report applies the filters that mean something for it and ignores the rest (an audit trail
has no severity). A person is named the way people name one — employee id, username, UPN, an
email address or the display name — and stands for every record of that person in every source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.sql.elements import TextClause

PERSON_IDS_SQL = """
SELECT DISTINCT p.id FROM person p LEFT JOIN person_email e ON e.person_id = p.id
WHERE LOWER(COALESCE(p.employee_id, '')) = :key OR LOWER(COALESCE(p.username, '')) = :key
   OR LOWER(COALESCE(p.upn, '')) = :key OR e.email = :key OR LOWER(p.display_name) = :key
   OR LOWER(p.source_key) = :key
"""


@dataclass(frozen=True)
class Filters:
    system: str | None = None
    resource: str | None = None
    person: str | None = None
    department: str | None = None
    rule: str | None = None
    severity: str | None = None
    state: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in vars(self).items() if v is not None]
        return ", ".join(parts) or "none"


def person_ids(conn: Connection, key: str) -> list[int]:
    """Every person record the key names (one person has a record per identity source)."""
    found = conn.execute(text(PERSON_IDS_SQL), {"key": key.strip().lower()}).scalars().all()
    return sorted({int(i) for i in found})


class Where:
    """Collects SQL conditions and their parameters; ``person`` expands to the ids it names."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: dict[str, Any] = {}
        self.expanding: list[str] = []

    def add(self, clause: str, **params: Any) -> None:
        self.clauses.append(clause)
        self.params.update(params)

    def ids(self, clause: str, name: str, values: Sequence[int]) -> None:
        self.clauses.append(clause)
        self.params[name] = list(values) or [-1]  # an empty IN () is not SQL: match nobody
        self.expanding.append(name)

    def sql(self, prefix: str = "WHERE") -> str:
        return f"{prefix} " + " AND ".join(self.clauses) if self.clauses else ""

    def bind(self, stmt: TextClause) -> TextClause:
        for name in self.expanding:
            stmt = stmt.bindparams(bindparam(name, expanding=True))
        return stmt
