"""The service's commands: ``serve``, ``offboard``, ``receipt``, ``device lost`` and ``token ...``.

Kept apart from ``cli.py`` (which registers them in two lines, where they stood, so ``--help`` lists
them in the same order) so the service's commands and the rest of the CLI merge apart. Each opens
the store through ``cli``'s helpers, so settings and store errors read the same everywhere.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from accessward import exitcodes, ui
from accessward.cli import _as_of, _runtime, actor, guarded, settings, store
from accessward.cli_types import DeviceStatus, TokenRole, date_text
from accessward.sync.clock import utcnow

if TYPE_CHECKING:
    from accessward.runtime import Runtime

device_app = typer.Typer(help="Lost and stolen devices.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (roles: hr, service_desk, auditor, approver, reviewer, admin).",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(device_app, name="device")
    app.add_typer(token_app, name="token")
    app.command()(serve)
    app.command()(offboard)
    app.command()(receipt)


def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default: service.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: service.port).")] = None,
) -> None:
    """Run the HTTP API and the scheduled jobs (nightly run, syncs, due offboardings) until SIGTERM."""
    from accessward.serve import serve as run_service

    cfg = settings()
    level = logging.getLevelName(logging.getLogger().level).lower()
    raise typer.Exit(run_service(_runtime(cfg), host=host or cfg.service.host,
                                 port=cfg.service.port if port is None else port, log_level=level))


def offboard(
    person: Annotated[str, typer.Argument(help="Employee id, UPN or email.")],
    at: Annotated[str | None, typer.Option("--at", parser=date_text,
                                           help="ISO date/time it takes effect (default: now).")] = None,
    request_id: Annotated[str | None, typer.Option(help="Idempotency key (default: a new one).")] = None,
    reason: Annotated[str, typer.Option(help="Why (kept in the receipt).")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print the receipt as JSON.")] = False,
) -> None:
    """Remove everything a person holds on every system and end their IdP sessions; print the receipt."""
    import uuid

    from accessward.reconcile import offboarding
    from accessward.reconcile.subject import PersonNotFound

    cfg = settings()
    rt = _runtime(cfg)
    try:
        ob, _created = offboarding.request(rt.engine, request_id=request_id or f"cli-{uuid.uuid4().hex[:12]}",
                                           person_key=person, effective_at=_as_of(at, "--at"), requested_by=actor(),
                                           source="cli", reason=reason)
        if ob.status in ("scheduled", "partially_done", "in_progress") and ob.effective_at <= utcnow():
            assert ob.id is not None
            guarded(lambda: rt.run_offboarding(ob.id or 0, actor=actor()))
    except (PersonNotFound, offboarding.RequestConflict) as exc:
        ui.err.print(f"[red]error[/]: {exc}")
        raise typer.Exit(exitcodes.CONFIG) from None
    finally:
        rt.close()
    raise typer.Exit(_show_receipt(rt, ob.request_id, as_json))


def receipt(
    request_id: Annotated[str, typer.Argument(help="The offboarding's request id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the receipt as JSON.")] = False,
) -> None:
    """Show an offboarding's receipt. Exit 5 while something is still pending."""
    raise typer.Exit(_show_receipt(_runtime(settings()), request_id, as_json))


def _show_receipt(rt: Runtime, request_id: str, as_json: bool) -> int:
    import json

    from accessward.reconcile.receipt import build
    from accessward.service_view import receipt_table, will_remove, will_remove_table

    found = build(rt.engine, request_id, stale_after_hours=rt.settings.policy.stale_after_hours)
    if found is None:
        ui.err.print(f"[red]error[/]: no offboarding {request_id!r}")
        return exitcodes.CONFIG
    pending = will_remove(rt.engine, request_id) if found["status"] == "scheduled" else []
    if as_json:
        sys.stdout.write(json.dumps({**found, "will_remove": pending} if pending else found, indent=2) + "\n")
    else:
        ui.out.print(receipt_table(found))
        if pending:
            ui.out.print(will_remove_table(pending, str(found["effective_at"])))
            ui.out.print("[yellow]note[/]: their identity-provider sessions end then too; the list is recomputed "
                         "when it takes effect")
        for note in found["notes"]:
            ui.out.print(f"[yellow]note[/]: {note}")
    return exitcodes.ACTION_FAILED if found["status"] == "partially_done" else exitcodes.OK


@device_app.command("lost")
def device_lost(
    target: Annotated[str, typer.Argument(help="The device (with --owner), or the owner (employee id, UPN, email).")],
    owner: Annotated[str | None, typer.Option(help="The device's owner, when TARGET names the device.")] = None,
    status: Annotated[DeviceStatus, typer.Option(help="What happened to it.")] = "lost",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """End the owner's IdP sessions, remove the device's MFA method, flag access SSO cannot cut."""
    import json

    from accessward.api.devices import as_json as report_json
    from accessward.reconcile.subject import PersonNotFound
    from accessward.service_view import device_table

    if status not in ("lost", "stolen"):
        ui.err.print("[red]error[/]: --status is lost or stolen")
        raise typer.Exit(exitcodes.CONFIG)
    rt = _runtime(settings())
    person, device = (owner, target) if owner else (target, "")
    try:
        rep, _created = guarded(lambda: rt.report_device(person_key=person, device=device, status=status,
                                                         reported_by=actor()))
    except PersonNotFound as exc:
        ui.err.print(f"[red]error[/]: {exc}" + ("" if owner else "; to name a device, give its owner with --owner"))
        raise typer.Exit(exitcodes.CONFIG) from None
    finally:
        rt.close()
    body = report_json(rep)
    if as_json:
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
    else:
        ui.out.print(device_table(body))
        for note in body["notes"]:
            ui.out.print(f"[yellow]note[/]: {note}")
    raise typer.Exit(exitcodes.OK if rep.outcome == "done" else exitcodes.ACTION_FAILED)


@token_app.command("create")
def token_create(
    role: Annotated[TokenRole, typer.Option(help="What the token may do.")],
    name: Annotated[str, typer.Option(help="Who or what uses it (unique).")],
    principal: Annotated[str | None, typer.Option(help="A personal token of this person (principal id).")] = None,
    expires: Annotated[str | None, typer.Option(help="Expires after this long: 90d, 12h, 2w.")] = None,
) -> None:
    """Create an API token and print it once; only its hash is kept."""
    from accessward import tokens
    from accessward.sync import principals

    cfg = settings()
    engine = store(cfg)
    try:
        expires_at = utcnow() + tokens.parse_duration(expires) if expires else None
        principals.sync_from_settings(engine, cfg, actor=actor())
        who = principals.by_key(engine, principal) if principal else None
        if principal and (who is None or not who.is_person):
            raise ValueError(f"no person principal {principal!r} (add it: [[principals]] or accessward principal add)")
        value = tokens.create(engine, name=name, role=role, actor=actor(), principal_id=who.id if who else None,
                              expires_at=expires_at)
    except ValueError as exc:
        ui.err.print(f"[red]error[/]: {exc}")
        raise typer.Exit(exitcodes.CONFIG) from None
    ui.err.print(f"token {name!r} ({role}) created; it is shown once, store it now:")
    sys.stdout.write(value + "\n")


@token_app.command("list")
def token_list() -> None:
    """Every API token: name, role, created, last used, revoked (never the token)."""
    from rich.table import Table

    from accessward import tokens
    from accessward.sync import principals

    table = Table(title="API tokens")
    for col in ("name", "role", "principal", "created", "by", "expires", "last used", "revoked"):
        table.add_column(col)
    now = utcnow()
    engine = store(settings())
    for t in tokens.listing(engine):
        who = principals.get(engine, t.principal_id) if t.principal_id else None
        expiry = "" if t.expires_at is None else (
            f"{t.expires_at:%Y-%m-%d %H:%M}" + (" (expired)" if t.expires_at <= now else ""))
        table.add_row(t.name, t.role, who.key if who else "", f"{t.created_at:%Y-%m-%d %H:%M}", t.created_by, expiry,
                      f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "",
                      f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "")
    ui.out.print(table)


@token_app.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke an API token at once."""
    from accessward import tokens

    try:
        tokens.revoke(store(settings()), name, actor=actor())
    except ValueError as exc:
        ui.err.print(f"[red]error[/]: {exc}")
        raise typer.Exit(exitcodes.CONFIG) from None
    ui.out.print(f"token {name!r} revoked")
