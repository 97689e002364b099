"""The ``accessward`` command. Thin: parse, wire, call the layers, print, exit with a meaning."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from sqlalchemy import Engine

from accessward import exitcodes, logs, ui, wiring
from accessward.cli_audit import redact as audit_redact
from accessward.cli_auth import TokenOpt, current_principal, optional_principal, principal_app
from accessward.cli_notify import notify_app
from accessward.cli_types import LogFormat, LogLevel, MetavarGroup, date_text
from accessward.connectors.protocols import Revoker
from accessward.example import DirectoryKind
from accessward.plan_view import PlanFormat
from accessward.reconcile import executor, health, scim_unmatched
from accessward.reconcile.correlate import correlate
from accessward.reconcile.plan import PlanResult, build_plan
from accessward.reconcile.run import reconcile as run_reconcile
from accessward.settings import Settings, SettingsError, load_settings
from accessward.sync import audit
from accessward.sync.clock import utcnow
from accessward.sync.db import open_store
from accessward.sync.runner import SyncGuard, SyncOutcome, confirm_run, sync_access, sync_identity

app = typer.Typer(help="Who can still act as our brand on social media, and should they?", cls=MetavarGroup,
                  no_args_is_help=True, pretty_exceptions_enable=False)
sync_app = typer.Typer(help="Pull people and access from every configured source.", invoke_without_command=True)
audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)
app.add_typer(sync_app, name="sync")
app.add_typer(audit_app, name="audit")
app.add_typer(principal_app, name="principal")
app.add_typer(notify_app, name="notify")
audit_app.command("redact")(audit_redact)

if TYPE_CHECKING:
    from accessward.runtime import Runtime

T = TypeVar("T")


class Ctx:
    config: Path = Path("accessward.toml")
    database_url: str | None = None


CTX = Ctx()


def actor() -> str:
    return os.environ.get("ACCESSWARD_ACTOR") or f"cli:{os.environ.get('USER', 'unknown')}"


@app.callback()
def main(
    config: Annotated[Path, typer.Option("--config", "-c", envvar="ACCESSWARD_CONFIG",
                                         help="Settings file.")] = Path("accessward.toml"),
    log_format: Annotated[LogFormat, typer.Option(
                                            help="Lines for people, or one JSON object per line.")] = "text",
    log_level: Annotated[LogLevel, typer.Option(
                                           help="The least severe messages logged (on stderr).")] = "warning",
) -> None:
    logs.configure(log_format, log_level)
    CTX.config = config


def settings() -> Settings:
    try:
        return load_settings(CTX.config)
    except SettingsError as exc:
        for problem in exc.problems:
            ui.err.print(f"[red]error[/]: {problem}", highlight=False)
        raise typer.Exit(exitcodes.CONFIG) from None


def store(cfg: Settings) -> Engine:
    """The opened, migrated store; one clear line and exit 7 when it cannot be reached (no traceback)."""
    from rich.markup import escape
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from accessward.connectors.scrub import scrub
    from accessward.sync.db import StoreUrlFileError, resolve_url

    try:
        url = resolve_url(_beside_config(cfg.store.url))
    except StoreUrlFileError as exc:  # a settings problem: one line naming the file, exit 2
        ui.err.print(f"[red]error[/]: {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(exitcodes.CONFIG) from None
    try:
        return open_store(url)
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        try:
            shown = make_url(url).render_as_string(hide_password=True)
        except Exception:  # an unparsable URL: show its scheme only
            shown = url.split(":", 1)[0] + ":…"
        ui.err.print(f"[red]error[/]: cannot open the store {shown}: {scrub(reason)}", highlight=False,
                     soft_wrap=True)
        raise typer.Exit(exitcodes.STORE_UNAVAILABLE) from None


def _beside_config(url: str) -> str:
    """A relative SQLite path is relative to the settings file, not to wherever cron runs us."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        return f"sqlite:///{(CTX.config.parent / url.removeprefix('sqlite:///')).resolve()}"
    return url


def guarded(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except SettingsError as exc:
        for problem in exc.problems:
            ui.err.print(f"[red]error[/]: {problem}", highlight=False)
        raise typer.Exit(exitcodes.CONFIG) from None


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the example settings.")] = Path("accessward.toml"),
    directory: Annotated[DirectoryKind | None, typer.Option(
        help="Your staff directory (asked when omitted on a terminal).")] = None,
    every_kind: Annotated[bool, typer.Option("--every-kind", help="Also write one example per directory kind "
                                             "beside it (accessward.openldap.toml, ...).")] = False,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented example settings file for your directory (every rule flag-only)."""
    from accessward import example

    if directory is None:
        if sys.stdin.isatty():
            choices = list(example.DIRECTORY_NAMES)
            for n, kind in enumerate(choices, 1):
                ui.out.print(f"  {n}. {example.DIRECTORY_NAMES[kind]}", highlight=False)
            answer = typer.prompt("Which directory holds your staff? (1-3)", default="1")
            picked = choices[int(answer) - 1] if answer.isdigit() and 1 <= int(answer) <= len(choices) else answer
            if picked not in example.DIRECTORIES:
                ui.err.print(f"[red]error[/]: {answer!r}: answer 1, 2 or 3", highlight=False)
                raise typer.Exit(exitcodes.CONFIG)
            directory = picked  # type: ignore[assignment]
        else:
            directory = "openldap"
            ui.err.print("directory: OpenLDAP (stdin is not a terminal; choose with --directory "
                         "openldap|active_directory|entra)", highlight=False)
    assert directory is not None
    targets = {path: example.render(directory)}
    if every_kind:
        targets.update({path.with_name(f"{path.stem}.{kind}{path.suffix}"): example.render(kind)  # type: ignore[arg-type]
                        for kind in example.DIRECTORIES})
    existing = [str(p) for p in targets if p.exists()]
    if existing and not force:
        ui.err.print(f"[red]error[/]: {', '.join(existing)} exists; use --force to overwrite", highlight=False)
        raise typer.Exit(exitcodes.CONFIG)
    for target, text in targets.items():
        target.write_text(text)
        ui.out.print(f"wrote {target}", highlight=False)
    ui.out.print(f"identity source: {example.DIRECTORY_NAMES[directory]}; edit it, then check it with "
                 "`accessward plan`", highlight=False)


def run_syncs(cfg: Settings, only: set[str] | None = None, *, full: bool = False) -> list[SyncOutcome]:
    engine = store(cfg)
    guard = SyncGuard(max_drop=cfg.policy.max_drop)
    base = CTX.config.parent
    outcomes = []
    for ident in guarded(lambda: wiring.identity_sources(cfg, base, only)):
        outcomes.append(sync_identity(engine, ident, guard=guard, watch=ui.counting, full=full))
    for acc in guarded(lambda: wiring.access_sources(cfg, base, only)):
        outcomes.append(sync_access(engine, acc, guard=guard, watch=ui.counting))
    if any(o.ok for o in outcomes):
        # links are derived from the store; keep them current for reports
        correlate(engine, plus_addressing=cfg.policy.plus_addressing,
                  identity_sources=[s.name for s in cfg.identity_sources])
    if any(o.ok and o.source in {s.name for s in cfg.identity_sources} for o in outcomes):
        scim_unmatched.retry(engine, actor="cli")  # a SCIM deprovisioning now matched: serve's job carries it out
    return outcomes


@sync_app.callback(invoke_without_command=True)
def sync(
    ctx: typer.Context,
    source: Annotated[list[str] | None, typer.Option("--source", "-s", help="Only these sources.")] = None,
    full: Annotated[bool, typer.Option("--full", help="Complete listings, not incremental changes.")] = False,
) -> None:
    """Sync every configured source (or only --source ones). Exit 4 if any failed or was quarantined."""
    if ctx.invoked_subcommand:
        return
    cfg = settings()
    outcomes = run_syncs(cfg, set(source) if source else None, full=full)
    ui.out.print(ui.sync_table(outcomes))
    if any(not o.ok for o in outcomes):
        raise typer.Exit(exitcodes.SOURCE_FAILED)


@sync_app.command("confirm")
def sync_confirm(run: Annotated[int, typer.Argument(help="The quarantined sync run to accept.")]) -> None:
    """Accept a quarantined sync run (a sharp drop that is real) as the new baseline."""
    engine = store(settings())
    try:
        outcome = confirm_run(engine, run, actor=actor())
    except ValueError as exc:
        ui.err.print(f"[red]error[/]: {exc}")
        raise typer.Exit(exitcodes.CONFIG) from None
    ui.out.print(ui.sync_table([outcome]))


@app.command()
def reconcile() -> None:
    """Correlate accounts to people and evaluate the policy; findings are kept in the store."""
    cfg = settings()
    result = run_reconcile(store(cfg), cfg.policy, actor=actor(),
                           identity_sources=[s.name for s in cfg.identity_sources])
    for table in ui.reconcile_tables(result):
        ui.out.print(table)


def _plan(cfg: Settings, engine: Engine, *, preview: bool = False, fmt: PlanFormat = "table",
          output: Path | None = None) -> PlanResult:
    """Reconcile, then plan. ``preview``: revokers built without secrets (the plan only shows requests)."""
    from accessward import plan_view

    run_reconcile(engine, cfg.policy, actor=actor(), identity_sources=[s.name for s in cfg.identity_sources])
    starter = optional_principal(engine)  # four-eyes: whoever starts it cannot approve it
    revokers = guarded(lambda: wiring.revokers(cfg, CTX.config.parent, resolve=not preview))
    plan = build_plan(engine, cfg.policy, revokers, [s.name for s in cfg.identity_sources], utcnow(),
                      actor=starter.actor if starter else actor(), principal_id=starter.id if starter else None)
    if output is not None:
        output.write_text(plan_view.render(plan, fmt, width=100))
        ui.out.print(f"wrote {output}; " + plan_view.summary(plan), highlight=False)
    else:
        plan_view.show(ui.out, plan, fmt)
    return plan


@app.command()
def plan(
    fmt: Annotated[PlanFormat, typer.Option("--format", "-f", help="table: a table on a wide terminal, one record "
                                            "per revocation elsewhere.")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the plan to this file.")] = None,
) -> None:
    """Reconcile and show what would be revoked, with the exact requests, and what is held back.

    Needs no write token: the requests are built from the store, without resolving any secret.
    """
    cfg = settings()
    result = _plan(cfg, store(cfg), preview=True, fmt=fmt, output=output)
    if result.status == "needs_approval":
        (ui.err if fmt == "json" and output is None else ui.out).print(
            f"approve with: accessward approve {result.plan_id}")
        raise typer.Exit(exitcodes.NEEDS_APPROVAL)


@app.command()
def approve(
    plan_id: Annotated[int, typer.Argument(help="The plan to approve.")],
    token: TokenOpt = None,
    by: Annotated[str, typer.Option(help="A note kept with the approval (who you are comes from the token).")] = "",
) -> None:
    """Approve a plan that stopped at the revocation threshold (four-eyes: not the one who started it)."""
    cfg = settings()
    engine = store(cfg)
    who = current_principal(engine, token, "approver")
    try:
        executor.approve(engine, plan_id, who=who, four_eyes=cfg.policy.four_eyes, note=by)
    except ValueError as exc:
        ui.err.print(f"[red]error[/]: {exc}")
        raise typer.Exit(exitcodes.CONFIG) from None
    ui.out.print(f"plan {plan_id} approved by {who.display_name or who.key}; run: accessward apply --plan {plan_id}")


@app.command()
def apply(
    plan_id: Annotated[int | None, typer.Option("--plan", help="Apply this (approved) plan.")] = None,
) -> None:
    """Finish any interrupted plan, then reconcile, plan and revoke within the thresholds."""
    from accessward.jobs import APPLY_LOCK
    from accessward.sync.locks import wait_lock

    cfg = settings()
    engine = store(cfg)
    with wait_lock(engine, APPLY_LOCK, 600) as mine:
        if not mine:
            ui.err.print("[red]error[/]: another apply (the service's nightly run?) held the lock for 10 minutes")
            raise typer.Exit(exitcodes.ERROR)
        raise typer.Exit(_apply_locked(cfg, engine, plan_id))


def _apply_locked(cfg: Settings, engine: Engine, plan_id: int | None) -> int:
    revokers = guarded(lambda: wiring.revokers(cfg, CTX.config.parent))
    code = exitcodes.OK
    # Findings first, so an approved or interrupted plan meets today's facts (a person reinstated
    # since has no open finding, and their action is cancelled); then interrupted plans: their
    # actions are in the outbox, and a new plan made before they finish would plan them again.
    run_reconcile(engine, cfg.policy, actor=actor(), identity_sources=[s.name for s in cfg.identity_sources])
    blocked = health.execution_blocks(engine, revokers, [s.name for s in cfg.identity_sources], utcnow(),
                                      cfg.policy.stale_after_hours)
    for pid in executor.unfinished_plans(engine):
        code = max(code, _execute(engine, pid, revokers, blocked, cfg.policy.break_glass))
    if plan_id is not None:
        code = max(code, _execute(engine, plan_id, revokers, blocked, cfg.policy.break_glass))
    else:
        plan = _plan(cfg, engine)
        code = max(code, _held_by_sources(cfg, engine, plan, revokers))
        if plan.status == "needs_approval":
            ui.out.print(f"stopped before the first revocation; approve with: accessward approve {plan.plan_id}")
            code = max(code, exitcodes.NEEDS_APPROVAL)
        elif plan.plan_id is not None:
            code = max(code, _execute(engine, plan.plan_id, revokers, blocked, cfg.policy.break_glass))
    return code


def _held_by_sources(cfg: Settings, engine: Engine, plan: PlanResult, revokers: dict[str, Revoker]) -> int:
    """Exit 4 when revocations wait because a source failed, was quarantined or is stale (not 0)."""
    sources = [*revokers, *(s.name for s in cfg.identity_sources)]
    problems = list(health.problems(engine, sources, utcnow(), cfg.policy.stale_after_hours).values())
    if not cfg.identity_sources:
        problems = [*problems, "no identity source is configured"]
    held = [i for i in plan.held if any(p in i.held_because for p in problems)]
    if held:
        ui.err.print(f"{len(held)} revocation(s) held back because a source is not fit to act on; "
                     "fix or confirm the source and apply again")
        return exitcodes.SOURCE_FAILED
    return exitcodes.OK


def _execute(engine: Engine, plan_id: int, revokers: dict[str, Revoker], blocked: dict[str, str],
             break_glass: Sequence[str] = ()) -> int:
    try:
        report = executor.execute(engine, plan_id, revokers, actor=actor(), blocked=blocked, break_glass=break_glass)
    except executor.PlanNotApproved as exc:
        ui.err.print(f"[red]error[/]: {exc}")
        return exitcodes.NEEDS_APPROVAL
    ui.out.print(f"plan {plan_id}: " + ", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items())))
    for failure in report.failures:
        ui.out.print(f"  [red]failed[/]: {failure}")
    if report.failures:
        return exitcodes.ACTION_FAILED
    return exitcodes.SOURCE_FAILED if report.outcomes.get("skipped") else exitcodes.OK


@app.command("link")
def link_account(
    system: Annotated[str, typer.Argument(help="The access source the account is on.")],
    account: Annotated[str, typer.Argument(help="The account's id on that system.")],
    person: Annotated[str | None, typer.Option(help="Employee id, email, username or source key.")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Drop the manual link instead.")] = False,
    token: TokenOpt = None,
) -> None:
    """Link an account to a person by hand (for unidentifiable or disputed accounts); needs a personal token."""
    from accessward.reconcile import links

    engine = store(settings())
    who = current_principal(engine, token, "approver", "reviewer")
    try:
        if remove:
            links.unlink(engine, system, account, actor=who.actor)
            ui.out.print(f"manual link of {system}:{account} removed")
            return
        if not person:
            raise ValueError("give --person, or --remove")
        links.link(engine, system, account, person, actor=who.actor)
    except ValueError as exc:
        ui.err.print(f"[red]error[/]: {exc}")
        raise typer.Exit(exitcodes.CONFIG) from None
    ui.out.print(f"{system}:{account} linked to {person}; correlation will keep it")


@app.command()
def accept(
    finding: Annotated[int | None, typer.Argument(help="The finding to accept (or give a pattern).")] = None,
    owner: Annotated[str, typer.Option(help="Who owns the risk.")] = "",
    reason: Annotated[str, typer.Option(help="Why it is accepted.")] = "",
    until: Annotated[str, typer.Option(parser=date_text, help="When it expires (required): a date (that whole "
                                       "day) or an ISO date/time.")] = "",
    rule: Annotated[str | None, typer.Option(help="Pattern: this rule.")] = None,
    system: Annotated[str | None, typer.Option(help="Pattern: this system.")] = None,
    account: Annotated[str | None, typer.Option(help="Pattern: this account id or email.")] = None,
    resource: Annotated[str | None, typer.Option(help="Pattern: this resource id.")] = None,
    token: TokenOpt = None,
) -> None:
    """Accept a risk: the finding (or every finding of a pattern) is not revoked until it expires."""
    from accessward.reconcile import exceptions
    from accessward.reconcile.four_eyes import check_finding_not_own

    missing = [name for name, value in (("--owner", owner), ("--reason", reason), ("--until", until)) if not value]
    if missing:
        ui.err.print(f"[red]error[/]: accepting a risk needs --owner, --reason and --until; missing: "
                     f"{', '.join(missing)}", highlight=False)
        ui.err.print("e.g. accessward accept 5 --owner ciso@example.com --reason 'agency contract renewal' "
                     "--until 2026-12-31", highlight=False)
        raise typer.Exit(exitcodes.CONFIG)
    if finding is None and not any((rule, system, account, resource)):
        ui.err.print("[red]error[/]: give the FINDING to accept, or a pattern (--rule, --system, --account, "
                     "--resource)", highlight=False)
        raise typer.Exit(exitcodes.CONFIG)
    cfg = settings()
    engine = store(cfg)
    who = current_principal(engine, token, "approver")
    try:
        if finding is not None and cfg.policy.four_eyes:
            check_finding_not_own(engine, who, finding)
        expires = _as_of(until, "--until")
        if until and len(until.strip()) == 10:  # a date: the exception lasts until the end of that day
            expires += timedelta(days=1)
        exc_id = exceptions.create(engine, owner=owner, reason=reason, expires_at=expires, actor=who.actor,
                                   finding_id=finding, rule=rule, system=system, account=account, resource=resource)
    except ValueError as exc:
        ui.err.print(f"[red]error[/]: {exc}")
        raise typer.Exit(exitcodes.CONFIG) from None
    ui.out.print(f"exception {exc_id} recorded; it applies from the next reconcile")


@app.command()
def withdraw(exception: Annotated[int, typer.Argument(help="The exception to withdraw.")]) -> None:
    """Withdraw a risk acceptance: its findings open again at the next reconcile."""
    from accessward.reconcile import exceptions

    try:
        exceptions.withdraw(store(settings()), exception, actor=actor())
    except ValueError as exc:
        ui.err.print(f"[red]error[/]: {exc}")
        raise typer.Exit(exitcodes.CONFIG) from None
    ui.out.print(f"exception {exception} withdrawn")


def _as_of(value: str | None, option: str = "--as-of") -> datetime:
    """Every date the CLI takes goes through the reports' parser (``evidence.moment``), with one message."""
    from accessward.cli_types import DATE_HINT
    from accessward.reports.evidence import moment

    if not value:
        return utcnow()
    try:
        return moment(value, end_of_day=False)
    except ValueError:
        ui.err.print(f"[red]error[/]: {option} {value!r} is not a date: {DATE_HINT}", highlight=False)
        raise typer.Exit(exitcodes.CONFIG) from None


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the hash chain; exit 6 and name the events if any was edited or removed."""
    problems = audit.verify(store(settings()))
    if problems:
        for p in problems:
            ui.out.print(f"[red]event {p.event_id}[/]: {p.problem}")
        raise typer.Exit(exitcodes.AUDIT_BROKEN)
    ui.out.print("audit chain verified")


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where the demo keeps its store and reports.")] = Path(
        "demo-output"),
    serve: Annotated[bool, typer.Option("--serve", help="Then keep the world up and serve the console.")] = False,
    port: Annotated[int, typer.Option(help="The console's port with --serve.")] = 8080,
) -> None:
    """Run the whole job on the embedded default: simulators + a throwaway slapd + SQLite."""
    missing = [name for name in ("trustme", "scim2_server") if importlib.util.find_spec(name) is None]
    if missing:
        ui.err.print(f"[red]error[/]: the demo needs the simulators' extra packages ({', '.join(missing)} "
                     "missing): pip install 'accessward\\[demo]'", highlight=False)
        raise typer.Exit(exitcodes.CONFIG)
    from accessward.demo import run_demo

    raise typer.Exit(run_demo(directory, serve_port=port if serve else None))


def _runtime(cfg: Settings) -> Runtime:
    from accessward.runtime import Runtime

    return Runtime(cfg, CTX.config.parent, store(cfg))


# -- the service: serve, offboard, receipt, lost devices, API tokens (accessward/cli_service.py) ---
from accessward import cli_service  # noqa: E402  (it uses the helpers above)

cli_service.register(app)

# -- reports, the evidence pack and its keys, people and whois (accessward/cli_reports.py) ---------
from accessward import cli_reports  # noqa: E402  (it uses the helpers above)

cli_reports.register(app)

from accessward.cli_reviews import review_app  # noqa: E402  (access reviews: a sub-app of its own)

app.add_typer(review_app, name="review")

from accessward.cli_check import check as _check_command  # noqa: E402  (accessward check: read-only preflight)

app.command("check")(_check_command)
