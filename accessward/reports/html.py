"""A self-contained HTML report page, and the PDF made from the same page.

Summary tiles, charts (pygal renders SVG on the server; the SVG is inlined, so nothing is fetched),
and one sortable, filterable table per report (a few lines of inline script). Tables show at most
``max_rows`` rows each — a browser does not want a million — and say so; the CSV and XLSX hold all.
The PDF is the same page without the script, rendered by WeasyPrint (which draws the inline SVG).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import pygal  # type: ignore[import-untyped]
from pygal.style import Style  # type: ignore[import-untyped]

from accessward import __version__
from accessward.reports.html_template import PAGE
from accessward.reports.safe import safe_cell
from accessward.reports.severity_order import SEVERITY_ORDER
from accessward.reports.summary import Summary
from accessward.sync.clock import utcnow

SEVERITY_COLOURS = {"critical": "#b91c1c", "high": "#ea580c", "medium": "#ca8a04", "low": "#65a30d"}
_STYLE = Style(background="white", plot_background="white", font_family="DejaVu Sans, Helvetica, sans-serif",
               colors=("#1d4ed8", "#0891b2", "#7c3aed", "#db2777", "#ea580c", "#65a30d"))


@dataclass
class Table:
    name: str
    title: str
    columns: Sequence[str]
    rows: list[dict[str, Any]]
    total: int

    @property
    def shown(self) -> int:
        return len(self.rows)


def take(name: str, title: str, columns: Sequence[str], rows: Iterable[Mapping[str, Any]], limit: int) -> Table:
    """The first ``limit`` rows, shaped as text; the rest only counted (streamed, never kept)."""
    kept: list[dict[str, Any]] = []
    total = 0
    for row in rows:
        total += 1
        if len(kept) < limit:
            kept.append({c: _text(row.get(c)) for c in columns})
    return Table(name, title, columns, kept, total)


def _text(value: Any) -> str:
    shown = safe_cell(value)
    return "" if shown is None else str(shown)


def _render(chart: Any) -> str:
    return str(chart.render(is_unicode=True))


def charts(summary: Summary) -> list[tuple[str, str]]:
    common: dict[str, Any] = {"js": [], "disable_xml_declaration": True, "style": _STYLE, "width": 640,
                              "height": 400, "legend_at_bottom": True, "print_values": False}
    out: list[tuple[str, str]] = []
    rules = list(summary.findings_by_rule)
    by_rule = pygal.StackedBar(title="Open findings by rule and severity", **{
        **common, "style": Style(**{**_STYLE.to_dict(), "colors": tuple(SEVERITY_COLOURS[s] for s in SEVERITY_ORDER)})})
    by_rule.x_labels = rules or ["(none)"]
    for sev in SEVERITY_ORDER:
        by_rule.add(sev, [summary.findings_by_rule[r].get(sev, 0) for r in rules] or [0])
    out.append(("findings_by_rule", _render(by_rule)))
    by_sev = pygal.Bar(title="Open findings by severity", **{
        **common, "style": Style(**{**_STYLE.to_dict(), "colors": tuple(SEVERITY_COLOURS[s] for s in SEVERITY_ORDER)})})
    for sev in SEVERITY_ORDER:
        by_sev.add(sev, [summary.findings_by_severity.get(sev, 0)])
    out.append(("findings_by_severity", _render(by_sev)))
    ttr = pygal.Bar(title="Time to revoke (from first seen)", show_legend=False, **common)
    ttr.x_labels = list(summary.time_to_revoke)
    ttr.add("revocations", list(summary.time_to_revoke.values()))
    out.append(("time_to_revoke", _render(ttr)))
    systems = list(summary.access_by_level)
    levels = ("read_only", "needs_approval", "can_reply", "full_publishing", "admin")
    access = pygal.StackedBar(title="Access by level per platform", **common)
    access.x_labels = systems or ["(none)"]
    for level in levels:
        access.add(level, [summary.access_by_level[s].get(level, 0) for s in systems] or [0])
    out.append(("access_by_level", _render(access)))
    return out


def render_page(*, title: str, summary: Summary, tables: Sequence[Table], filters: str = "none",
                period: str | None = None, warnings: Sequence[str] = (), for_pdf: bool = False) -> str:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(PAGE).render(
        title=title, as_of=summary.as_of.isoformat(sep=" ", timespec="seconds"), period=period, filters=filters,
        version=__version__, generated=utcnow().isoformat(sep=" ", timespec="seconds"), warnings=list(warnings),
        tiles=summary.tiles, chain_ok=summary.chain_ok, charts=charts(summary), tables=tables, for_pdf=for_pdf,
        severity_rank={s: i for i, s in enumerate(SEVERITY_ORDER)})


def write_html(path: Path, page: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")


def write_pdf(path: Path, page: str) -> None:
    """Render the (``for_pdf``) page with WeasyPrint; no URL is fetched (everything is inline)."""
    import weasyprint  # type: ignore[import-untyped]

    def no_fetch(url: str, timeout: int = 10, ssl_context: Any = None) -> dict[str, Any]:
        raise ValueError(f"report pages fetch nothing: {url}")

    path.parent.mkdir(parents=True, exist_ok=True)
    chatty = logging.getLogger("weasyprint")
    level = chatty.level
    chatty.setLevel(logging.ERROR)  # pygal repeats anchor ids across charts; harmless in print
    try:
        weasyprint.HTML(string=page, url_fetcher=no_fetch).write_pdf(str(path))
    finally:
        chatty.setLevel(level)


def stamp(moment: datetime | None) -> str:
    return (moment or utcnow()).isoformat(sep=" ", timespec="seconds")
