"""``accessward check``: what each configured source's credentials can read and revoke (read-only).

A command of its own module, registered from cli.py in two lines. It opens no store and writes nothing.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from accessward import ui
from accessward.check import CheckReport, run_check
from accessward.cli import CTX, settings

_MARK = {"ok": "[green]ok[/]", "missing": "[red]missing[/]", "unknown": "[yellow]unknown[/]"}


def tables(report: CheckReport) -> list[Table]:
    """One table per source; columns fold (no fixed widths) so a narrow or non-TTY terminal stays readable."""
    out = []
    for src in report.sources:
        table = Table(title=f"{src.source} ({src.type}, {src.role})", title_justify="left", expand=False,
                      show_lines=True)
        table.add_column("capability", overflow="fold", ratio=2)
        table.add_column("for", no_wrap=True)
        table.add_column("status", overflow="fold")
        table.add_column("detail / fix", overflow="fold", ratio=4)
        for item in src.items:
            status = _MARK[item.status] + ("" if item.relied_on or item.status == "ok" else " (not used)")
            text = item.detail + (f"\nfix: {item.fix}" if item.fix and item.status != "ok" else "")
            table.add_row(item.capability, item.use, status, text, end_section=False)
        out.append(table)
    return out


def check(
    format: Annotated[str, typer.Option("--format", "-f", help="table | json")] = "table",
    source: Annotated[list[str] | None, typer.Option("--source", help="Only this source (repeatable).")] = None,
) -> None:
    """Connect to every configured source and say what it can read and revoke; writes nothing.

    Exits 7 when something the settings or the policy rely on is missing (a revoking rule on a system
    whose revoke permission is missing; leave dates on but unreadable).
    """
    if format not in ("table", "json"):
        ui.err.print("[red]error[/]: --format is table or json")
        raise typer.Exit(2)
    cfg = settings()
    report = run_check(cfg, CTX.config.parent, set(source) if source else None)
    if format == "json":
        print(json.dumps(report.as_json(), indent=2))
    else:
        for table in tables(report):
            ui.out.print(table)
        failing = [f"{s.source}: {i.capability}" for s in report.sources for i in s.failing]
        if failing:
            ui.out.print(f"[red]{len(failing)} missing that the settings or policy rely on[/]: " + "; ".join(failing),
                         highlight=False)
        else:
            ui.out.print("[green]nothing the settings or policy rely on is missing[/]")
    raise typer.Exit(report.exit_code)
