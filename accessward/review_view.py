"""How ``accessward review show`` prints a campaign's items: a table on a wide terminal, records elsewhere.

Ten columns, two of them sentences (the recommendation with its reason, the outcome with its
detail), folded in an 80-column terminal, or in cron's and CI's logs (rich assumes 80 columns
there), into slivers of a few characters per line: a reviewer could not read what they were asked.
As for plans (``plan_view``), the table is kept for a terminal wide enough to hold it; everything
else gets one record per item, each field on its own line, wrapped to the width.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from accessward.plan_view import _field
from accessward.sync.review_models import ReviewItem

#: the narrowest terminal that shows the ten-column table without folding the sentences into slivers
TABLE_MIN_WIDTH = 140
COLUMNS = ("item", "system", "resource", "account", "person", "level", "recommendation", "reviewer", "decision",
           "outcome")


def _cells(i: ReviewItem) -> tuple[str, ...]:
    """One item as the table's cells, in :data:`COLUMNS` order."""
    return (str(i.id), i.system, i.resource_name or i.resource, i.account_name or i.account, i.person_name,
            str(i.facts.get("level")), f"{i.recommendation}: {i.recommendation_reason}", i.reviewer,
            (i.decision or "") + (f" to {i.reduce_to}" if i.reduce_to else ""),
            (i.outcome + (f": {i.outcome_detail}" if i.outcome_detail else "")) if i.outcome else "")


def table(campaign_id: int, items: Sequence[ReviewItem]) -> Table:
    out = Table(title=f"campaign {campaign_id}")
    for name in COLUMNS:
        out.add_column(name)
    for i in items:
        out.add_row(*(escape(c) for c in _cells(i)))
    return out


def as_text(campaign_id: int, items: Sequence[ReviewItem], width: int = 80) -> str:
    """One record per item, every field on its own line and wrapped to ``width``."""
    out = [f"campaign {campaign_id}: {len(items)} item(s)", ""]
    for i in items:
        item, system, resource, account, person, level, recommendation, reviewer, decision, outcome = _cells(i)
        out += textwrap.wrap(f"item {item}: {account} on {resource} ({system})", width, break_long_words=True)
        for label, value in (("person", person), ("level", level), ("recommend", recommendation),
                             ("reviewer", reviewer), ("decision", decision or "(pending)"), ("outcome", outcome)):
            if value:
                out += _field(label, value, width)
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def show(console: Console, campaign_id: int, items: Sequence[ReviewItem]) -> None:
    """The table only on a terminal wide enough for it; records otherwise (a narrow terminal, a pipe, a log)."""
    if console.is_terminal and console.width >= TABLE_MIN_WIDTH:
        console.print(table(campaign_id, items))
        return
    console.file.write(as_text(campaign_id, items, min(console.width, 200)))
    console.file.flush()
