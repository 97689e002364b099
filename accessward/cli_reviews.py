"""``accessward review start|list|show|decide|delegate|close|report``: access reviews from the shell.

Decisions need the reviewer's personal API token (``--token`` or ``ACCESSWARD_TOKEN``): a decision is
recorded against the principal the token belongs to, never against a name typed on the command line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.table import Table

from accessward import exitcodes, jobs_reviews, ui
from accessward.reconcile import reviews
from accessward.reports.reviews import REPORT_COLUMNS, campaign_rows, campaign_summary
from accessward.review_principal import NoPrincipal, cli_principal

if TYPE_CHECKING:
    from accessward.runtime import Runtime

review_app = typer.Typer(help="Access reviews: campaigns, decisions (keep, revoke, reduce), closing.",
                         no_args_is_help=True)
TokenOpt = Annotated[str | None, typer.Option("--token", envvar="ACCESSWARD_TOKEN", show_envvar=True,
                                              help="Your personal API token.")]


def _rt() -> Runtime:
    from accessward import cli

    return cli._runtime(cli.settings())


def _fail(exc: Exception) -> typer.Exit:
    ui.err.print(f"[red]error[/]: {exc}", highlight=False)
    return typer.Exit(exitcodes.CONFIG)


def _campaign_id(rt: Runtime, ref: str) -> int:
    found = reviews.find(rt.engine, ref)
    assert found is not None and found.id is not None
    return found.id


@review_app.command("start")
def start(name: Annotated[str, typer.Argument(help="A [[reviews]] campaign of the settings.")]) -> None:
    """Start a campaign now (the scheduler starts scheduled ones on their own)."""
    from accessward import cli

    rt = _rt()
    try:
        found = jobs_reviews.start_by_hand(rt, name, actor=cli.actor())
    except reviews.ReviewError as exc:
        raise _fail(exc) from None
    finally:
        rt.close()
    assert found.id is not None
    summary = campaign_summary(rt.engine, found.id)
    ui.out.print(f"campaign {found.id} ({found.key}): {summary['items']} item(s), reviewers "
                 f"{', '.join(summary['reviewers'])}; deadline {found.deadline:%Y-%m-%d %H:%M} UTC")


@review_app.command("list")
def list_campaigns() -> None:
    """Every campaign: status, deadline, completion."""
    rt = _rt()
    table = Table(title="access reviews")
    for name in ("id", "campaign", "status", "deadline", "items", "decided", "completion"):
        table.add_column(name)
    for c in reviews.campaigns(rt.engine):
        assert c.id is not None
        s = campaign_summary(rt.engine, c.id)
        table.add_row(str(c.id), c.key, c.status, f"{c.deadline:%Y-%m-%d}", str(s["items"]), str(s["decided"]),
                      f"{s['completion']:.0%}")
    rt.close()
    ui.out.print(table)


@review_app.command("show")
def show(
    campaign: Annotated[str, typer.Argument(help="Campaign id, key or name (the newest).")],
    reviewer: Annotated[str | None, typer.Option(help="Only this reviewer's items.")] = None,
    pending: Annotated[bool, typer.Option(help="Only undecided items.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Items as JSON, with every fact.")] = False,
) -> None:
    """A campaign's items: person, role, level, recommendation, reviewer, decision, outcome."""
    from accessward import review_view
    from accessward.api.reviews import item_json

    rt = _rt()
    try:
        cid = _campaign_id(rt, campaign)
    except reviews.ReviewError as exc:
        raise _fail(exc) from None
    rows = reviews.items(rt.engine, cid, reviewer=reviewer, pending=True if pending else None)
    rt.close()
    if as_json:
        sys.stdout.write(json.dumps([item_json(i) for i in rows], indent=2, default=str) + "\n")
        return
    review_view.show(ui.out, cid, rows)  # a table on a wide terminal, one record per item elsewhere


@review_app.command("decide")
def decide(
    campaign: Annotated[str, typer.Argument(help="Campaign id, key or name.")],
    items: Annotated[list[int] | None, typer.Argument(help="Item ids (several: a bulk decision).")] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the access.")] = False,
    revoke: Annotated[bool, typer.Option("--revoke", help="Revoke the access.")] = False,
    reduce: Annotated[str | None, typer.Option("--reduce", help="Reduce to this level "
                                                               "(read_only ... full_publishing).")] = None,
    recommended: Annotated[bool, typer.Option("--recommended", help="Take each item's recommendation.")] = False,
    pending: Annotated[bool, typer.Option("--pending", help="Every undecided item assigned to you.")] = False,
    account: Annotated[str | None, typer.Option("--account", help="Only items whose account id or name "
                                                                  "contains this.")] = None,
    resource: Annotated[str | None, typer.Option("--resource", help="Only items whose resource id or name "
                                                                    "contains this.")] = None,
    justification: Annotated[str, typer.Option("--justification", "-j", help="Why (required by default).")] = "",
    token: TokenOpt = None,
) -> None:
    """Decide on items assigned to you: --keep, --revoke, --reduce LEVEL or --recommended, with a justification.

    Name the items by id, or select them: --pending (all your undecided ones), --account TEXT, --resource TEXT.
    """
    chosen = [d for d, on in (("keep", keep), ("revoke", revoke), ("reduce", reduce is not None),
                              ("recommended", recommended)) if on]
    if len(chosen) != 1:
        raise _fail(ValueError("give exactly one of --keep, --revoke, --reduce LEVEL or --recommended"))
    if not items and not pending and account is None and resource is None:
        raise _fail(ValueError("name item ids, or select with --pending, --account or --resource"))
    rt = _rt()
    try:
        me = cli_principal(rt.engine, token)
        cid = _campaign_id(rt, campaign)
        picked = [i for i in reviews.items(rt.engine, cid, pending=True if pending else None)
                  if (not items or i.id in items) and (items or i.reviewer in me.keys)
                  and (account is None or account.lower() in f"{i.account} {i.account_name}".lower())
                  and (resource is None or resource.lower() in f"{i.resource} {i.resource_name}".lower())]
        if not picked:
            raise reviews.NotFound("no item matches")
        groups: dict[str, list[int]] = {}
        for i in picked:
            groups.setdefault(i.recommendation if recommended else chosen[0], []).append(i.id or 0)
        done = []
        for decision, ids in groups.items():
            done += reviews.decide(rt.engine, cid, ids, decision, by=me.id, keys=me.keys,
                                   justification=justification, reduce_to=reduce,
                                   owns=me.owns(rt.engine) if rt.settings.policy.four_eyes else None)
    except (reviews.ReviewError, NoPrincipal) as exc:
        raise _fail(exc) from None
    finally:
        rt.close()
    for i in done:
        ui.out.print(f"item {i.id} ({i.system} {i.resource_name or i.resource}, {i.account_name or i.account}): "
                     f"{i.decision}" + (f" to {i.reduce_to}" if i.reduce_to else "") + f", by {me.id}")


@review_app.command("delegate")
def delegate(
    campaign: Annotated[str, typer.Argument(help="Campaign id, key or name.")],
    items: Annotated[list[int], typer.Argument(help="Item ids.")],
    to: Annotated[str, typer.Option("--to", help="The new reviewer (their email).")],
    justification: Annotated[str, typer.Option("--justification", "-j")] = "",
    token: TokenOpt = None,
) -> None:
    """Hand items assigned to you to another reviewer (an admin token may reassign any)."""
    rt = _rt()
    try:
        me = cli_principal(rt.engine, token)
        rows = reviews.delegate(rt.engine, _campaign_id(rt, campaign), items, to, by=me.id, keys=me.keys,
                                justification=justification, may_reassign=me.is_admin)
    except (reviews.ReviewError, NoPrincipal) as exc:
        raise _fail(exc) from None
    finally:
        rt.close()
    ui.out.print(f"{len(rows)} item(s) delegated to {to.strip().lower()}")


@review_app.command("close")
def close(campaign: Annotated[str, typer.Argument(help="Campaign id, key or name.")]) -> None:
    """Apply the non-response rule and carry out every revoke/reduce decision. Exit 3 if a plan waits for approval."""
    from accessward import cli

    rt = _rt()
    try:
        result = cli.guarded(lambda: jobs_reviews.close(rt, _campaign_id(rt, campaign), actor=cli.actor()))
    except reviews.ReviewError as exc:
        raise _fail(exc) from None
    finally:
        rt.close()
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items()))
    ui.out.print(f"campaign {result.campaign_id}: {result.status}; plan {result.plan_id}: {result.plan_status} "
                 f"({result.reason}); items: {outcomes}")
    if result.plan_status == "needs_approval":
        raise typer.Exit(exitcodes.NEEDS_APPROVAL)


@review_app.command("report")
def report(
    campaign: Annotated[str, typer.Argument(help="Campaign id, key or name.")],
    fmt: Annotated[Literal["table", "csv", "json", "xlsx"], typer.Option("--format", "-f",
                                                                          help="xlsx needs --output.")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
) -> None:
    """The campaign report: item, reviewer, decision, justification, time, outcome, and completion."""
    rt = _rt()
    try:
        cid = _campaign_id(rt, campaign)
    except reviews.ReviewError as exc:
        raise _fail(exc) from None
    rows, summary = campaign_rows(rt.engine, cid), campaign_summary(rt.engine, cid)
    rt.close()
    if fmt != "table":
        from accessward.reports import export, xlsx

        if fmt == "xlsx":
            if output is None:
                raise _fail(ValueError("--format xlsx writes a file: give --output"))
            xlsx.write_xlsx(output, [("review", REPORT_COLUMNS, rows)])
        elif output is not None:
            export.write_file(rows, REPORT_COLUMNS, fmt, output)
        else:
            export.write_rows(rows, REPORT_COLUMNS, fmt, sys.stdout)
        return
    table = Table(title=f"{summary['key']}: {summary['status']}, {summary['completion']:.0%} decided by reviewers")
    for name in ("item", "resource", "account", "reviewer", "decision", "justification", "by", "at", "outcome"):
        table.add_column(name)
    for r in rows:
        table.add_row(str(r["item"]), r["resource"], r["account"], r["reviewer"],
                      r["decision"] + (f" to {r['reduce_to']}" if r["reduce_to"] else ""), r["justification"],
                      r["decided_by"], r["decided_at"][:16], f"{r['outcome']} {r['outcome_detail']}".strip())
    ui.out.print(table)
