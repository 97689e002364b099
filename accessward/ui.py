"""Terminal output: rich tables on stdout, progress on stderr (so stdout stays pipeable)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from accessward.reconcile.plan import PlanResult
from accessward.reconcile.run import ReconcileResult
from accessward.sync.runner import SyncOutcome

T = TypeVar("T")
out = Console()
err = Console(stderr=True)

STATUS_STYLE = {"succeeded": "green", "failed": "bold red", "quarantined": "bold yellow"}


def counting(items: Iterable[T], label: str) -> Iterator[T]:
    """Show a live count while a source streams (totals are unknown until the end)."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} records"),
                  TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task(label, total=None)
        for item in items:
            progress.advance(task)
            yield item


def sync_table(outcomes: list[SyncOutcome]) -> Table:
    table = Table(title="Sync runs")
    for col in ("run", "source", "status", "counts", "error"):
        table.add_column(col)
    for o in outcomes:
        counts = ", ".join(f"{k} {v:,}" for k, v in o.counts.items())
        style = STATUS_STYLE.get(o.status, "")
        table.add_row(str(o.run_id), o.source, f"[{style}]{o.status}[/]", counts, o.error or "")
    return table


def reconcile_tables(result: ReconcileResult) -> list[Table]:
    """What a reconcile found: how accounts were matched to people, and each rule's findings."""
    c = result.correlation
    links = Table(title=f"Correlation: {c.accounts:,} accounts")
    links.add_column("matched by")
    links.add_column("accounts", justify="right")
    for how, n in sorted(c.matched.items()):
        links.add_row(str(how).replace("_", " "), f"{n:,}")
    links.add_row("[yellow]disputed[/] (two people match)", f"{c.disputed:,}")
    links.add_row("[yellow]unmatched[/]", f"{c.unmatched:,}")
    rules = Table(title="Findings by rule")
    for col in ("rule", "open", "reopened", "resolved"):
        rules.add_column(col, justify="left" if col == "rule" else "right")
    for rule, counts in result.findings.items():
        rules.add_row(rule, f"{counts.current:,}", f"{counts.reopened:,}", f"{counts.resolved:,}")
    return [links, rules]


def plan_tables(plan: PlanResult) -> list[Table]:
    tables = []
    if plan.revocations:
        t = Table(title=f"Plan {plan.plan_id}: {plan.status} — {plan.reason}")
        for col in ("rule", "why", "system", "resource", "account", "role", "request"):
            t.add_column(col, overflow="fold")
        for i in plan.revocations:
            t.add_row(i.rule, i.reason, i.system, i.resource_name or i.resource, i.account_name or i.account,
                      i.role, i.request)
        tables.append(t)
    if plan.held:
        t = Table(title="Held back (not revoked)")
        for col in ("rule", "why found", "system", "resource", "account", "held because"):
            t.add_column(col, overflow="fold")
        for i in plan.held:
            t.add_row(i.rule, i.reason, i.system, i.resource_name or i.resource, i.account_name or i.account,
                      i.held_because)
        tables.append(t)
    return tables
