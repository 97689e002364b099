"""One report (or several, as sheets/tables) in any format: csv, json, xlsx, html, pdf.

CSV and JSON hold one report each and stream; XLSX takes one sheet per report and streams too;
HTML and PDF show summary tiles and charts above the tables (capped per table).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine

from accessward.reports import export, html, xlsx
from accessward.reports.catalog import REPORTS, Query
from accessward.reports.summary import summarise

ALL_FORMATS = ("csv", "json", "xlsx", "html", "pdf")
HTML_ROWS = 5000
PDF_ROWS = 500


@dataclass(frozen=True)
class Section:
    """A table of a report: a name (sheet / anchor), a title, its columns and its rows."""

    name: str
    title: str
    columns: Sequence[str]
    rows: Iterable[Mapping[str, Any]]


def sections_for(engine: Engine, names: Sequence[str], query: Query) -> list[Section]:
    out = []
    for name in names:
        spec = REPORTS[name]
        out.append(Section(name, spec.title, spec.columns, spec.rows(engine, query)))
    return out


def page(engine: Engine, sections: Sequence[Section], query: Query, *, title: str, for_pdf: bool = False,
         period: str | None = None, warnings: Sequence[str] = ()) -> str:
    limit = PDF_ROWS if for_pdf else HTML_ROWS
    tables = [html.take(s.name, s.title, s.columns, s.rows, limit) for s in sections]
    summary = summarise(engine, query.as_of, query.filters.since)
    return html.render_page(title=title, summary=summary, tables=tables, filters=query.filters.describe(),
                            period=period, warnings=warnings, for_pdf=for_pdf)


def write(engine: Engine, sections: Sequence[Section], query: Query, fmt: str, path: Path, *,
          title: str = "Accessward report", period: str | None = None, warnings: Sequence[str] = ()) -> int:
    """Write the sections to ``path`` in ``fmt``; returns the rows written (the first section's for csv/json)."""
    if fmt in ("csv", "json"):
        return export.write_file(sections[0].rows, sections[0].columns, fmt, path)
    if fmt == "xlsx":
        return sum(xlsx.write_xlsx(path, ((s.name, s.columns, s.rows) for s in sections)).values())
    if fmt == "html":
        html.write_html(path, page(engine, sections, query, title=title, period=period, warnings=warnings))
        return 0
    if fmt == "pdf":
        html.write_pdf(path, page(engine, sections, query, title=title, period=period, warnings=warnings,
                                  for_pdf=True))
        return 0
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(ALL_FORMATS)}")


def stream(sections: Sequence[Section], fmt: str, out: IO[str]) -> int:
    """csv/json to a text stream (stdout)."""
    return export.write_rows(sections[0].rows, sections[0].columns, fmt, out)
