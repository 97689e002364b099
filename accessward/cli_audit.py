"""``accessward audit redact``: remove secrets an older version let into the trail (see sync/audit_redact.py)."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from pydantic import BaseModel

from accessward import exitcodes, ui


def _secret_refs(node: Any) -> list[Any]:
    from accessward.settings import SecretRef

    if isinstance(node, SecretRef):
        return [node]
    if isinstance(node, BaseModel):
        return [r for name in type(node).model_fields for r in _secret_refs(getattr(node, name))]
    if isinstance(node, list):
        return [r for item in node for r in _secret_refs(item)]
    return []


def redact(
    env: Annotated[list[str] | None, typer.Option(
        "--env", help="An environment variable holding a secret to remove (repeatable; never the secret itself).",
    )] = None,
    from_settings: Annotated[bool, typer.Option(
        "--settings/--no-settings", help="Also remove every secret the settings refer to (those that resolve).",
    )] = True,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say which events would change.")] = False,
) -> None:
    """Remove secrets from stored audit events and errors; the redaction is itself audited."""
    from accessward import cli
    from accessward.settings import SettingsError
    from accessward.sync import audit
    from accessward.sync.audit_redact import redact as run

    cfg = cli.settings()
    secrets: list[str] = []
    for name in env or []:
        value = os.environ.get(name)
        if not value:
            ui.err.print(f"[red]error[/]: environment variable {name} is not set")
            raise typer.Exit(exitcodes.CONFIG)
        secrets.append(value)
    if from_settings:
        for ref in _secret_refs(cfg):
            try:
                secrets.append(ref.resolve())
            except SettingsError:
                continue  # a secret that is not available here cannot be looked for
    engine = cli.store(cfg)
    report = run(engine, secrets, actor=cli.actor(), dry_run=dry_run)
    verb = "would redact" if dry_run else "redacted"
    ids = ", ".join(map(str, report.events[:20])) + (" …" if len(report.events) > 20 else "")
    ui.out.print(f"{verb} {len(report.events)} audit event(s){f' ({ids})' if ids else ''} and "
                 f"{report.other_rows} stored error(s)")
    problems = audit.verify(engine)
    if problems:
        ui.err.print(f"[red]the audit chain does not verify[/]: {len(problems)} problem(s); "
                     "see accessward audit verify")
        raise typer.Exit(exitcodes.AUDIT_BROKEN)
