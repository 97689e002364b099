"""How a plan is shown: a table on a wide terminal, records elsewhere, JSON and Markdown for tools and tickets.

A plan's request column holds whole HTTP requests (method, URL, headers, body). Folded into a
table column on a narrow terminal, or in cron's and CI's logs (rich assumes 80 columns there),
one LinkedIn revocation took some 45 lines of nine characters. So the table is kept for a
terminal wide enough to hold it, and everything else gets one record per revocation, each field
on its own line and wrapped to the width: readable in a log, a mail or a ticket.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import asdict
from typing import Any, Literal

from rich.console import Console

from accessward.connectors.records import Level
from accessward.reconcile.plan import Item, PlanResult

PlanFormat = Literal["table", "json", "markdown"]
#: the narrowest terminal that shows the seven-column table without folding requests into slivers
TABLE_MIN_WIDTH = 140


def summary(plan: PlanResult) -> str:
    return (f"plan: {plan.status} — {plan.reason}; {len(plan.revocations)} to revoke, "
            f"{len(plan.held)} held back, {plan.flagged} flag-only")


def _level(value: int) -> str:
    try:
        return Level(value).name
    except ValueError:
        return str(value)


def as_dict(plan: PlanResult) -> dict[str, Any]:
    def item(i: Item) -> dict[str, Any]:
        return {**asdict(i), "level": _level(i.level)}

    return {"plan_id": plan.plan_id, "status": plan.status, "reason": plan.reason,
            "revocations": [item(i) for i in plan.revocations], "held": [item(i) for i in plan.held],
            "flagged": plan.flagged}


def as_json(plan: PlanResult) -> str:
    return json.dumps(as_dict(plan), indent=2) + "\n"


def _field(label: str, value: str, width: int, indent: int = 2) -> list[str]:
    """``label  value``, every line of the value wrapped under the value's column."""
    head = " " * indent + f"{label:<10}"
    room = max(20, width - len(head))
    lines: list[str] = []
    for raw in (value or "").splitlines() or [""]:
        wrapped = textwrap.wrap(raw, room, break_long_words=True, break_on_hyphens=False,
                                replace_whitespace=False, drop_whitespace=False) or [""]
        lines.extend(wrapped)
    return [((head if n == 0 else " " * len(head)) + line).rstrip() for n, line in enumerate(lines)]


def _title(plan: PlanResult) -> str:
    return f"Plan {plan.plan_id}: {plan.status} — {plan.reason}" if plan.plan_id else f"Plan: {plan.reason}"


def as_text(plan: PlanResult, width: int = 80) -> str:
    """Vertical records: what a log, a narrow terminal or a file gets."""
    out: list[str] = []
    if plan.revocations:
        out += [*textwrap.wrap(_title(plan), width), ""]
        for n, i in enumerate(plan.revocations, 1):
            out += textwrap.wrap(f"{n}. {i.kind} {i.account_name or i.account} on {i.resource_name or i.resource} "
                                 f"({i.system})", width)
            out += _field("rule", f"{i.rule}: {i.reason}" if i.reason else i.rule, width)
            out += _field("role", i.role + (f" -> {i.target_role}" if i.target_role else ""), width)
            out += _field("request", i.request, width)
            out.append("")
    if plan.held:
        out += [f"Held back, not revoked ({len(plan.held)})", ""]
        for n, i in enumerate(plan.held, 1):
            out += textwrap.wrap(f"{n}. {i.account_name or i.account} on {i.resource_name or i.resource} "
                                 f"({i.system})", width)
            out += _field("rule", f"{i.rule}: {i.reason}" if i.reason else i.rule, width)
            out += _field("role", i.role, width)
            out += _field("held", i.held_because, width)
            out.append("")
    out += textwrap.wrap(summary(plan), width)
    return "\n".join(out) + "\n"


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def as_markdown(plan: PlanResult) -> str:
    out = [f"# {_title(plan)}", "", summary(plan).removeprefix("plan: "), ""]
    if plan.revocations:
        out += [f"## To revoke ({len(plan.revocations)})", "",
                "| # | rule | why | system | resource | account | role |", "|---|---|---|---|---|---|---|"]
        out += [f"| {n} | {_cell(i.rule)} | {_cell(i.reason)} | {_cell(i.system)} | "
                f"{_cell(i.resource_name or i.resource)} | {_cell(i.account_name or i.account)} | {_cell(i.role)} |"
                for n, i in enumerate(plan.revocations, 1)]
        out += ["", "### The requests", ""]
        for n, i in enumerate(plan.revocations, 1):
            out += [f"{n}. {_cell(i.account_name or i.account)} on {_cell(i.resource_name or i.resource)}", "",
                    "   ```http", *(f"   {line}" for line in i.request.splitlines()), "   ```", ""]
    if plan.held:
        out += [f"## Held back ({len(plan.held)})", "",
                "| rule | why found | system | resource | account | held because |", "|---|---|---|---|---|---|"]
        out += [f"| {_cell(i.rule)} | {_cell(i.reason)} | {_cell(i.system)} | {_cell(i.resource_name or i.resource)} "
                f"| {_cell(i.account_name or i.account)} | {_cell(i.held_because)} |" for i in plan.held]
        out.append("")
    return "\n".join(out) + "\n"


def render(plan: PlanResult, fmt: PlanFormat, width: int = 80) -> str:
    """The plan as text in a format (``table`` as text: the vertical records)."""
    if fmt == "json":
        return as_json(plan)
    if fmt == "markdown":
        return as_markdown(plan)
    return as_text(plan, width)


def show(console: Console, plan: PlanResult, fmt: PlanFormat = "table") -> None:
    """Print a plan: the table only on a terminal wide enough for it, records otherwise."""
    from accessward import ui

    if fmt == "table" and console.is_terminal and console.width >= TABLE_MIN_WIDTH:
        for table in ui.plan_tables(plan):
            console.print(table)
        console.print(summary(plan), highlight=False)
        return
    console.file.write(render(plan, fmt, min(console.width, 200)))
    console.file.flush()
