"""The auditors' commands: ``accessward report ...``, ``people``, ``whois``, ``keys create``.

Kept apart from ``cli.py`` (which registers them in two lines) so report work and the rest of
the CLI do not collide. Every report reads the store only; ``report evidence`` writes a signed
pack and ``report verify`` checks one without any settings or store at all.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from accessward import exitcodes, ui
from accessward.cli import CTX, _as_of, settings, store
from accessward.reports import evidence, keys, render
from accessward.reports.access import as_of_warning
from accessward.reports.catalog import REPORTS, Query
from accessward.reports.export import json_default
from accessward.reports.filters import Filters
from accessward.reports.people import person_report
from accessward.settings import SecretRef, Settings, SettingsError

report_app = typer.Typer(help="Exports for auditors, the evidence pack and its verification.", no_args_is_help=True)
keys_app = typer.Typer(help="Keys that sign evidence packs.", no_args_is_help=True)

FormatOpt = Annotated[str, typer.Option("--format", "-f", help=" | ".join(render.ALL_FORMATS)
                                        + " (xlsx, html and pdf need --output)")]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")]
SystemOpt = Annotated[str | None, typer.Option("--system", help="Only this system (an access or identity source).")]
ResourceOpt = Annotated[str | None, typer.Option("--resource", help="Only this resource (id or name).")]
PersonOpt = Annotated[str | None, typer.Option("--person", help="Only this person: employee id, username, "
                                               "email or name.")]
DeptOpt = Annotated[str | None, typer.Option("--department", help="Only people of this department.")]
RuleOpt = Annotated[str | None, typer.Option("--rule", help="Only this rule.")]
SeverityOpt = Annotated[str | None, typer.Option("--severity", help="low | medium | high | critical")]
StateOpt = Annotated[str | None, typer.Option("--state", help="Only this state (findings: open | accepted | "
                                              "resolved | revoked; actions: done | failed | ...).")]
FromOpt = Annotated[str | None, typer.Option("--from", help="Start of the date range (ISO date or datetime).")]
ToOpt = Annotated[str | None, typer.Option("--to", help="End of the date range (a date: that whole day).")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="ISO date/time: the state then (default now).")]


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
    app.add_typer(keys_app, name="keys")
    app.command("people")(people)
    app.command("whois")(whois)


def _fail(message: str, code: int = exitcodes.CONFIG) -> typer.Exit:
    ui.err.print(f"[red]error[/]: {message}", highlight=False)
    return typer.Exit(code)


def _range(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    try:
        start = evidence.moment(since, end_of_day=False) if since else None
        end = evidence.moment(until, end_of_day=True) if until else None
    except ValueError as exc:
        raise _fail(str(exc)) from None
    return start, end


def _filters(system: str | None = None, resource: str | None = None, person: str | None = None,
             department: str | None = None, rule: str | None = None, severity: str | None = None,
             state: str | None = None, since: str | None = None, until: str | None = None) -> Filters:
    start, end = _range(since, until)
    if severity and severity not in ("low", "medium", "high", "critical"):
        raise _fail("--severity is one of low, medium, high, critical")
    return Filters(system=system, resource=resource, person=person, department=department, rule=rule,
                   severity=severity, state=state, since=start, until=end)


def _emit(name: str, query: Query, fmt: str, output: Path | None, warnings: list[str] | None = None) -> None:
    if fmt not in render.ALL_FORMATS:
        raise _fail(f"unknown format {fmt!r}; choose {', '.join(render.ALL_FORMATS)}")
    engine = store(settings())
    for warning in warnings or []:
        ui.err.print(f"[yellow]warning[/]: {warning}", highlight=False)
    sections = render.sections_for(engine, [name], query)
    if output is None:
        if fmt not in ("csv", "json"):
            raise _fail(f"--format {fmt} writes a file: give --output")
        render.stream(sections, fmt, sys.stdout)
        return
    n = render.write(engine, sections, query, fmt, output, title=f"Accessward: {REPORTS[name].title}",
                     warnings=warnings or [])
    ui.err.print(f"wrote {output}" + (f" ({n} rows)" if fmt in ("csv", "json", "xlsx") else ""))


@report_app.command("access")
def report_access(fmt: FormatOpt = "csv", output: OutputOpt = None, as_of: AsOfOpt = None,
                  system: SystemOpt = None, resource: ResourceOpt = None, person: PersonOpt = None,
                  department: DeptOpt = None) -> None:
    """Who has (or had, --as-of) which role on which resource, matched to which person, with status."""
    at = _as_of(as_of)
    warning = as_of_warning(store(settings()), at) if as_of else None
    _emit("access", Query(at, _filters(system, resource, person, department)), fmt, output,
          [warning] if warning else [])


@report_app.command("access-changes")
def report_access_changes(fmt: FormatOpt = "csv", output: OutputOpt = None, since: FromOpt = None,
                          until: ToOpt = None, system: SystemOpt = None, resource: ResourceOpt = None,
                          person: PersonOpt = None, department: DeptOpt = None) -> None:
    """Access granted and removed in a date range."""
    f = _filters(system, resource, person, department, since=since, until=until)
    _emit("access_changes", Query(f.until or _as_of(None), f), fmt, output)


@report_app.command("findings")
def report_findings(fmt: FormatOpt = "csv", output: OutputOpt = None, system: SystemOpt = None,
                    resource: ResourceOpt = None, person: PersonOpt = None, department: DeptOpt = None,
                    rule: RuleOpt = None, severity: SeverityOpt = None, state: StateOpt = None,
                    since: FromOpt = None, until: ToOpt = None) -> None:
    """Every finding with its ids, severity, exception, plan and approver, revocation and time-to-revoke."""
    if state is not None and state not in ("open", "accepted", "resolved", "revoked"):
        raise _fail("--state is one of open, accepted, resolved, revoked")
    _emit("findings", Query(_as_of(None), _filters(system, resource, person, department, rule, severity, state,
                                                   since, until)), fmt, output)


@report_app.command("actions")
def report_actions(fmt: FormatOpt = "csv", output: OutputOpt = None, system: SystemOpt = None,
                   resource: ResourceOpt = None, person: PersonOpt = None, department: DeptOpt = None,
                   rule: RuleOpt = None, state: StateOpt = None, since: FromOpt = None, until: ToOpt = None) -> None:
    """Every revocation and manual step: trigger, plan, approver, request sent, outcome, attempts."""
    _emit("actions", Query(_as_of(None), _filters(system, resource, person, department, rule, None, state,
                                                  since, until)), fmt, output)


@report_app.command("offboardings")
def report_offboardings(fmt: FormatOpt = "csv", output: OutputOpt = None, system: SystemOpt = None,
                        person: PersonOpt = None, state: StateOpt = None, since: FromOpt = None,
                        until: ToOpt = None) -> None:
    """Every offboarding receipt line: who asked and when, each system, result, what is still pending."""
    _emit("offboardings", Query(_as_of(None), _filters(system, person=person, state=state, since=since,
                                                       until=until)), fmt, output)


@report_app.command("people")
def report_people(fmt: FormatOpt = "csv", output: OutputOpt = None, system: SystemOpt = None,
                  person: PersonOpt = None, department: DeptOpt = None,
                  state: Annotated[str | None, typer.Option("--state", help="active | suspended | terminated | "
                                                            "missing")] = None) -> None:
    """Every identity and its status per source, groups, SSO/MFA posture (also: accessward people)."""
    _emit("people", Query(_as_of(None), _filters(system, person=person, department=department, state=state)),
          fmt, output)


def people(fmt: FormatOpt = "csv", output: OutputOpt = None, system: SystemOpt = None,
           person: PersonOpt = None, department: DeptOpt = None,
           state: Annotated[str | None, typer.Option("--state", help="active | suspended | terminated | "
                                                     "missing")] = None) -> None:
    """List people: every identity and its status per source (the same as `report people`)."""
    report_people(fmt, output, system, person, department, state)


@report_app.command("audit")
def report_audit(fmt: FormatOpt = "csv", output: OutputOpt = None, since: FromOpt = None, until: ToOpt = None,
                 system: SystemOpt = None,
                 kind: Annotated[str | None, typer.Option("--kind", help="Only this event kind, e.g. "
                                                          "revocation.done")] = None) -> None:
    """The audit trail: each event with its hash, and whether the chain verifies at it."""
    _emit("audit", Query(_as_of(None), _filters(system, state=kind, since=since, until=until)), fmt, output)


@report_app.command("unmatched")
def report_unmatched(fmt: FormatOpt = "csv", output: OutputOpt = None) -> None:
    """Human accounts that match no person, with the closest candidates (link them: accessward link)."""
    _emit("unmatched", Query(_as_of(None), Filters()), fmt, output)


@report_app.command("person")
def report_person(person: Annotated[str, typer.Argument(help="Employee id, username, email or name.")],
                  fmt: FormatOpt = "json", output: OutputOpt = None, as_of: AsOfOpt = None) -> None:
    """One person's every grant on every system (now or --as-of), with the findings and actions about them."""
    engine = store(settings())
    at = _as_of(as_of)
    found = person_report(engine, person, at)
    if not found.records:
        raise _fail(f"no person matches {person!r}")
    warning = as_of_warning(engine, at) if as_of else None
    if warning:
        ui.err.print(f"[yellow]warning[/]: {warning}", highlight=False)
    sections = [render.Section(n, n.title(), cols, rows) for n, cols, rows in found.sections()]
    if fmt == "json":
        body = json.dumps({"person": person, "as_of": at, **{n: rows for n, _c, rows in found.sections()}},
                          indent=2, default=json_default) + "\n"
        if output is None:
            sys.stdout.write(body)
        else:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(body)
        return
    if fmt == "csv":  # one table: the grants
        grants = [s for s in sections if s.name == "grants"]
        if output is None:
            render.stream(grants, "csv", sys.stdout)
        else:
            render.write(engine, grants, Query(at, Filters(person=person)), "csv", output)
        return
    if output is None:
        raise _fail(f"--format {fmt} writes a file: give --output")
    render.write(engine, sections, Query(at, Filters(person=person)), fmt, output,
                 title=f"Accessward: {person}", warnings=[warning] if warning else [])
    ui.err.print(f"wrote {output}")


def whois(person: Annotated[str, typer.Argument(help="Employee id, username, email or name.")],
          as_of: AsOfOpt = None,
          as_json: Annotated[bool, typer.Option("--json", help="JSON instead of tables.")] = False) -> None:
    """What can this person do everywhere? Every grant on every system, with findings and actions."""
    if as_json:
        report_person(person, "json", None, as_of)
        return
    from rich.table import Table

    engine = store(settings())
    at = _as_of(as_of)
    found = person_report(engine, person, at)
    if not found.records:
        raise _fail(f"no person matches {person!r}")
    warning = as_of_warning(engine, at) if as_of else None
    if warning:
        ui.err.print(f"[yellow]warning[/]: {warning}", highlight=False)
    views: dict[str, tuple[str, ...]] = {
        "records": ("source", "display_name", "employee_id", "status", "leave_date", "department", "sso", "mfa"),
        "grants": ("system", "resource", "account", "role", "level", "findings"),
        "findings": ("id", "rule", "severity", "state", "reason", "system", "resource", "first_seen"),
        "actions": ("id", "trigger", "system", "resource", "state", "approved_by", "updated_at"),
    }
    ui.out.print(f"[bold]{person}[/] as of {at.isoformat(sep=' ', timespec='seconds')} UTC")
    for name, _columns, rows in found.sections():
        table = Table(title=f"{name} ({len(rows)})", title_justify="left")
        for c in views[name]:
            table.add_column(c, overflow="fold")
        for row in rows:
            table.add_row(*(_plain(row.get(c)) for c in views[name]))
        ui.out.print(table)


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    return str(value)


def signing_key(cfg: Settings) -> SecretRef:
    ref = cfg.reports.signing_key
    if ref is None:
        raise _fail("no signing key in the settings: run `accessward keys create` and add "
                    '[reports] signing_key = { file = "accessward.key" }')
    if ref.file is not None and not Path(ref.file).is_absolute():
        ref = SecretRef(file=str(CTX.config.parent / ref.file))
    return ref


@report_app.command("evidence")
def report_evidence(
    period: Annotated[str | None, typer.Option("--period", help="2026-Q3, 2026-07 or 2026")] = None,
    since: FromOpt = None, until: ToOpt = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="The zip to write "
                                                "(default: evidence-PERIOD.zip in the reports directory).")] = None,
) -> None:
    """Write the signed evidence pack for a period: every report, the audit trail, settings, version, manifest."""
    cfg = settings()
    try:
        when = evidence.period(period, since, until)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    try:
        key = keys.load_private(signing_key(cfg).resolve())
    except (SettingsError, keys.KeyProblem) as exc:
        raise _fail(str(exc)) from None
    engine = store(cfg)
    target = output or (CTX.config.parent / cfg.reports.directory / f"evidence-{when.label.replace(' ', '_')}.zip")
    built = evidence.build(engine, target, when, key, cfg.model_dump(mode="json"))
    for warning in built.warnings:
        ui.err.print(f"[yellow]warning[/]: {warning}", highlight=False)
    ui.out.print(f"wrote {built.path}: {built.files} files, signed by {built.fingerprint}")


@report_app.command("verify")
def report_verify(
    pack: Annotated[Path, typer.Argument(help="The evidence pack (.zip).")],
    key: Annotated[Path | None, typer.Option("--key", help="The signer's public key you hold (PEM).")] = None,
    fingerprint: Annotated[str | None, typer.Option("--fingerprint", help="The signer's key fingerprint you "
                                                    "pinned (sha256:...).")] = None,
) -> None:
    """Check an evidence pack: manifest signature (with YOUR key), every file's SHA-256, nothing added or missing."""
    public = None
    if key is not None:
        try:
            public = keys.load_public(key)
        except keys.KeyProblem as exc:
            raise _fail(str(exc)) from None
        if fingerprint and keys.fingerprint(public) != fingerprint.strip().lower():
            raise _fail(f"{key} has fingerprint {keys.fingerprint(public)}, not {fingerprint}")
    result = evidence.verify(pack, public_key=public, pinned=fingerprint)
    if not result.ok:
        for problem in result.problems:
            ui.out.print(f"[red]FAIL[/] {problem}", highlight=False)
        raise typer.Exit(exitcodes.AUDIT_BROKEN)
    period = result.manifest.get("period", {})
    ui.out.print(f"[green]pack verified[/]: {result.files} files, period {period.get('label')}, "
                 f"signed by {result.fingerprint}", highlight=False)


@keys_app.command("create")
def keys_create(
    out: Annotated[Path, typer.Option("--out", help="Path prefix: writes PREFIX.key and PREFIX.pub.")] = Path(
        "accessward"),
    force: Annotated[bool, typer.Option(help="Replace existing files.")] = False,
) -> None:
    """Create the Ed25519 key pair that signs evidence packs."""
    private, public = out.with_name(out.name + ".key"), out.with_name(out.name + ".pub")
    try:
        fp = keys.create(private, public, force=force)
    except keys.KeyProblem as exc:
        raise _fail(str(exc)) from None
    ui.out.print(f"wrote {private} (private, mode 0600) and {public} (give this one to auditors)")
    ui.out.print(f"fingerprint {fp}")
    ui.out.print(f'add to the settings: [reports] signing_key = {{ file = "{private}" }}', highlight=False,
                 markup=False)
