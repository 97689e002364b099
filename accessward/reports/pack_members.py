"""What goes into an evidence pack: a registry, so other features add their part in one place.

Each member is a function that writes its files into the pack's folder (``ctx.folder``) for the
pack's period; the pack then hashes every file it finds there into the signed manifest. To add a
member (the access-review campaigns, for instance), register a function here::

    from accessward.reports.pack_members import PackContext, register

    @register("reviews")
    def reviews(ctx: PackContext) -> None:
        ctx.write_report("reviews", REVIEW_COLUMNS, review_rows(ctx.engine, ctx.filters))

and import its module from ``BUILTIN`` below (or add a ``ReportSpec`` to ``reports.catalog`` and
its name to ``PACK_REPORTS``: every report listed there goes into the pack as CSV, into the
workbook as a sheet and into the HTML/PDF page as a table).
"""

from __future__ import annotations

import json
import platform
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from accessward import __version__
from accessward.reports import export, xlsx
from accessward.reports.access import as_of_warning
from accessward.reports.audit_trail import chain_status
from accessward.reports.catalog import REPORTS, Query
from accessward.reports.filters import Filters
from accessward.reports.html import write_html, write_pdf
from accessward.reports.render import Section, page

#: Catalog reports that go into every pack (state at the period's end, and what happened in it).
PACK_REPORTS: list[str] = ["access", "access_changes", "findings", "actions", "offboardings", "people", "audit",
                           "unmatched"]


@dataclass
class PackContext:
    engine: Engine
    folder: Path
    label: str
    since: datetime
    until: datetime
    settings: Mapping[str, Any]
    warnings: list[str] = field(default_factory=list)

    @property
    def as_of(self) -> datetime:
        return self.until

    @property
    def filters(self) -> Filters:
        return Filters(since=self.since, until=self.until)

    @property
    def query(self) -> Query:
        return Query(self.until, self.filters)

    def write_report(self, name: str, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> int:
        return export.write_file(rows, columns, "csv", self.folder / "reports" / f"{name}.csv")

    def write_json(self, relative: str, value: Any) -> None:
        path = self.folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value, indent=2, sort_keys=True, default=export.json_default) + "\n")


Member = Callable[[PackContext], None]
MEMBERS: dict[str, Member] = {}


def register(name: str) -> Callable[[Member], Member]:
    def add(fn: Member) -> Member:
        if name in MEMBERS:
            raise ValueError(f"pack member {name!r} is registered twice")
        MEMBERS[name] = fn
        return fn
    return add


@register("reports")
def reports(ctx: PackContext) -> None:
    """Every catalog report for the period as CSV, all of them as one workbook, and the HTML/PDF page."""
    warning = as_of_warning(ctx.engine, ctx.as_of)
    if warning:
        ctx.warnings.append(warning)
    for name in PACK_REPORTS:
        spec = REPORTS[name]
        ctx.write_report(name, spec.columns, spec.rows(ctx.engine, ctx.query))
    xlsx.write_xlsx(ctx.folder / "reports" / "evidence.xlsx",
                    ((n, REPORTS[n].columns, REPORTS[n].rows(ctx.engine, ctx.query)) for n in PACK_REPORTS))
    title = f"Accessward evidence, {ctx.label}"
    shown = [n for n in PACK_REPORTS if n not in ("audit", "people")]

    def sections() -> list[Section]:
        return [Section(n, REPORTS[n].title, REPORTS[n].columns, REPORTS[n].rows(ctx.engine, ctx.query))
                for n in shown]

    write_html(ctx.folder / "reports" / "evidence.html",
               page(ctx.engine, sections(), ctx.query, title=title, period=ctx.label, warnings=ctx.warnings))
    write_pdf(ctx.folder / "reports" / "evidence.pdf",
              page(ctx.engine, sections(), ctx.query, title=title, period=ctx.label, warnings=ctx.warnings,
                   for_pdf=True))


@register("audit")
def audit_trail(ctx: PackContext) -> None:
    """The period's events in full (JSON lines, as stored), and the whole chain's head and verification."""
    status = chain_status(ctx.engine)
    events = 0
    first_prev: str | None = None
    path = ctx.folder / "audit" / "events.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for row in REPORTS["audit"].rows(ctx.engine, ctx.query):
            if first_prev is None:
                first_prev = str(row["prev_hash"])
            events += 1
            out.write(json.dumps({**row, "data": json.loads(str(row["data"]))}, sort_keys=True,
                                 default=export.json_default) + "\n")
    ctx.write_json("audit/chain.json", {
        "period_events": events, "period_first_prev_hash": first_prev, **status.as_dict(),
        "note": "head and verification cover the whole chain at the time the pack was made",
    })


_SECRET_KEYS = re.compile(r"(password|secret|token|key|credential)", re.I)
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]*)@", re.I)
REMOVED = "(secret removed)"


def redact(value: Any, key: str = "") -> Any:
    """The settings with every secret, and every reference to one, removed; URL passwords too."""
    if isinstance(value, dict):
        if set(value) <= {"env", "file"} and value:
            return REMOVED
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if isinstance(value, str):
        if _SECRET_KEYS.search(key) and value:
            return REMOVED
        return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{REMOVED}@", value)
    return value


@register("settings")
def settings_in_force(ctx: PackContext) -> None:
    ctx.write_json("settings.json", redact(dict(ctx.settings)))


@register("version")
def version(ctx: PackContext) -> None:
    ctx.write_json("version.json", {
        "software": "accessward", "version": __version__, "python": platform.python_version(),
        "period": {"label": ctx.label, "from": ctx.since, "to": ctx.until}, "warnings": ctx.warnings,
    })


BUILTIN: tuple[str, ...] = ()  # modules that register further members (e.g. "accessward.reviews.pack")


@register("reviews")
def review_campaigns(ctx: PackContext) -> None:
    """Every access-review campaign open during the period: items, reviewer, decision, justification,
    time and outcome (one CSV per campaign), and a summary of each (completion, who decided what)."""
    from sqlalchemy import select
    from sqlmodel import Session, col

    from accessward.reports.reviews import REPORT_COLUMNS, campaign_rows, campaign_summary
    from accessward.sync.review_models import ReviewCampaign

    with Session(ctx.engine) as session:
        campaigns = list(session.execute(
            select(col(ReviewCampaign.id)).where(col(ReviewCampaign.started_at) <= ctx.until)
            .where((col(ReviewCampaign.closed_at).is_(None)) | (col(ReviewCampaign.closed_at) >= ctx.since))
            .order_by(col(ReviewCampaign.id))).scalars())
    summaries = []
    for cid in campaigns:
        ctx.write_report(f"review-{cid}", REPORT_COLUMNS, campaign_rows(ctx.engine, cid))
        summaries.append(campaign_summary(ctx.engine, cid))
    ctx.write_json("reviews/campaigns.json", {"campaigns": summaries})
