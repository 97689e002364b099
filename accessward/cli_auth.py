"""Who is at the keyboard: the CLI side of accountable decisions.

``approve``, ``accept``, ``link`` (and ``review decide``) record a decision against a person, so they
take a personal API token (``ACCESSWARD_TOKEN`` or ``--token``) — the same principal as that
person's console login. A shell's ``$USER`` or a ``--by`` text proves nothing; ``--by`` is kept only
as a note. Also: ``accessward principal add|list``, the people who hold personal tokens.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer
from sqlalchemy import Engine

from accessward import exitcodes, ui
from accessward.sync import principals
from accessward.sync.principals import PrincipalRef

TOKEN_ENV = "ACCESSWARD_TOKEN"
TokenOpt = Annotated[str | None, typer.Option(
    "--token", envvar=TOKEN_ENV, show_envvar=True,
    help="Your personal API token (accessward token create --principal ID); the decision is recorded as yours.")]

principal_app = typer.Typer(help="People who approve, review and accept risks (personal tokens are bound to them).",
                            no_args_is_help=True)


def authenticate(engine: Engine, token: str | None, *roles: str) -> PrincipalRef:
    """The person behind ``token`` if it is live, personal and has one of ``roles`` (or admin); else ValueError."""
    from accessward import tokens

    if not token:
        raise ValueError(f"this decision is recorded against a person: give your personal token ({TOKEN_ENV} "
                         "or --token)")
    found, problem = tokens.lookup(engine, token.strip())
    if found is None:
        raise ValueError(problem)
    if found.principal_id is None:
        raise ValueError(f"token {found.name!r} is not a personal token (it is bound to no person); create one "
                         "with: accessward token create --principal ID")
    who = principals.get(engine, found.principal_id)
    if who is None or not who.is_person:
        raise ValueError(f"token {found.name!r}: its principal is disabled or not a person")
    if roles and found.role not in roles and found.role != "admin":
        raise ValueError(f"token {found.name!r} has role {found.role}; this needs {', '.join(roles)} or admin")
    return who


def current_principal(engine: Engine, token: str | None, *roles: str) -> PrincipalRef:
    """As :func:`authenticate`, printing the problem and exiting 2 (CONFIG) when there is one."""
    try:
        return authenticate(engine, token, *roles)
    except ValueError as exc:
        ui.err.print(f"[red]error[/]: {exc}", highlight=False)
        raise typer.Exit(exitcodes.CONFIG) from None


def optional_principal(engine: Engine) -> PrincipalRef | None:
    """The person whose token is in the environment, if any (who started a plan, for four-eyes)."""
    try:
        return authenticate(engine, os.environ.get(TOKEN_ENV))
    except ValueError:
        return None


@principal_app.command("add")
def principal_add(
    principal_id: Annotated[str, typer.Argument(help="A stable id (an employee id is a good choice).")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    email: Annotated[str | None, typer.Option(help="Their email (binds their first console login).")] = None,
    person_key: Annotated[str | None, typer.Option(help="Employee id / UPN in the directory (own access).")] = None,
) -> None:
    """Add (or update) a person principal. Principals in the settings ([[principals]]) are added on use."""
    from accessward import cli

    engine = cli.store(cli.settings())
    try:
        who = principals.ensure(engine, principal_id, display_name=name, email=email, person_key=person_key,
                                actor=cli.actor())
    except ValueError as exc:
        ui.err.print(f"[red]error[/]: {exc}")
        raise typer.Exit(exitcodes.CONFIG) from None
    ui.out.print(f"principal {who.key} ({who.display_name or who.email or 'no name'}) is recorded")


@principal_app.command("list")
def principal_list() -> None:
    """Every principal: id, kind, name, email, directory key, console login bound or not."""
    from rich.table import Table
    from sqlmodel import Session, col, select

    from accessward import cli
    from accessward.sync.principal_models import Principal

    cfg = cli.settings()
    engine = cli.store(cfg)
    principals.sync_from_settings(engine, cfg, actor=cli.actor())
    table = Table(title="Principals")
    for column in ("id", "kind", "name", "email", "person key", "login bound", "disabled"):
        table.add_column(column)
    with Session(engine) as session:
        for p in session.execute(select(Principal).order_by(col(Principal.key))).scalars():
            table.add_row(p.key, p.kind, p.display_name, p.email or "", p.person_key or "",
                          "yes" if p.subject else "", f"{p.disabled_at:%Y-%m-%d}" if p.disabled_at else "")
    ui.out.print(table)
