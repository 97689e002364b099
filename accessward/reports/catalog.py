"""Every report by name: its title, its columns and how to read its rows from the store.

The CLI (``accessward report NAME``), the HTTP API (``GET /v1/reports/NAME``), the evidence pack
and the HTML/XLSX writers all go through this one table, so a report means the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from accessward.reports.access import ACCESS_COLUMNS, CHANGE_COLUMNS, access_change_rows, access_rows
from accessward.reports.activity import ACTION_COLUMNS, OFFBOARDING_COLUMNS, action_rows, offboarding_rows
from accessward.reports.audit_trail import AUDIT_COLUMNS, audit_rows
from accessward.reports.filters import Filters
from accessward.reports.findings import FINDING_COLUMNS, finding_rows
from accessward.reports.people import PEOPLE_COLUMNS, people_rows
from accessward.reports.unmatched import UNMATCHED_COLUMNS, unmatched_rows
from accessward.sync.clock import utcnow

Rows = Iterable[Mapping[str, Any]]


@dataclass(frozen=True)
class Query:
    """What a report is asked for: the moment (``as_of``) and the filters (with their date range)."""

    as_of: datetime
    filters: Filters

    @classmethod
    def now(cls, filters: Filters | None = None) -> Query:
        return cls(utcnow(), filters or Filters())


@dataclass(frozen=True)
class ReportSpec:
    name: str
    title: str
    columns: tuple[str, ...]
    rows: Callable[[Engine, Query], Rows]
    filters: tuple[str, ...]


def _changes(engine: Engine, q: Query) -> Rows:
    since = q.filters.since or datetime(1970, 1, 1)
    return access_change_rows(engine, since, q.filters.until or q.as_of, q.filters)


REPORTS: dict[str, ReportSpec] = {spec.name: spec for spec in (
    ReportSpec("access", "Access (who can act as the brand)", ACCESS_COLUMNS,
               lambda e, q: access_rows(e, q.as_of, q.filters), ("system", "resource", "person", "department")),
    ReportSpec("access_changes", "Access granted and removed in the period", CHANGE_COLUMNS, _changes,
               ("system", "resource", "person", "department", "since", "until")),
    ReportSpec("findings", "Findings", FINDING_COLUMNS, lambda e, q: finding_rows(e, filters=q.filters),
               ("system", "resource", "person", "department", "rule", "severity", "state", "since", "until")),
    ReportSpec("actions", "Actions (revocations and manual steps)", ACTION_COLUMNS,
               lambda e, q: action_rows(e, q.filters),
               ("system", "resource", "person", "department", "rule", "state", "since", "until")),
    ReportSpec("offboardings", "Offboardings (receipts)", OFFBOARDING_COLUMNS,
               lambda e, q: offboarding_rows(e, q.filters), ("system", "person", "state", "since", "until")),
    ReportSpec("people", "People (every identity, per source)", PEOPLE_COLUMNS,
               lambda e, q: people_rows(e, q.filters), ("system", "person", "department", "state")),
    ReportSpec("audit", "Audit trail", AUDIT_COLUMNS, lambda e, q: audit_rows(e, q.filters),
               ("system", "state", "since", "until")),
    ReportSpec("unmatched", "Accounts that match nobody", UNMATCHED_COLUMNS, lambda e, q: unmatched_rows(e), ()),
)}
