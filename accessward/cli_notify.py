"""``accessward notify``: send what is due now, list the outbox, send a test message to a channel."""

from __future__ import annotations

from typing import Annotated

import typer

from accessward import exitcodes, ui

notify_app = typer.Typer(help="Notifications (mail, Slack, Teams) about what people must act on.",
                         no_args_is_help=True)


@notify_app.command("run")
def notify_run() -> None:
    """Record notifications for new audit events and send what is due (what `serve` does every minute)."""
    from accessward import cli
    from accessward.notify import outbox

    cfg = cli.settings()
    engine = cli.store(cfg)
    written = outbox.scan(engine, cfg.notifications)
    report = outbox.deliver(engine, cfg.notifications)
    ui.out.print(f"{written} recorded, {report.sent} sent, {report.retrying} to retry, {report.dead} given up")
    for error in report.errors:
        ui.err.print(f"[yellow]warning[/]: {error}", highlight=False)
    if report.retrying or report.dead:
        raise typer.Exit(exitcodes.ACTION_FAILED)


@notify_app.command("list")
def notify_list(
    state: Annotated[str | None, typer.Option(help="pending | sending | sent | dead")] = None,
) -> None:
    """The notification outbox: event, channel, state, attempts, last error, link."""
    from rich.table import Table
    from sqlmodel import Session, col, select

    from accessward import cli
    from accessward.sync.principal_models import Notification

    engine = cli.store(cli.settings())
    table = Table(title="Notifications")
    for column in ("id", "created", "event", "channel", "state", "attempts", "title", "last error"):
        table.add_column(column)
    with Session(engine) as session:
        query = select(Notification).order_by(col(Notification.id))
        if state:
            query = query.where(col(Notification.state) == state)
        for n in session.execute(query).scalars():
            table.add_row(str(n.id), f"{n.created_at:%Y-%m-%d %H:%M}", n.event, n.channel, n.state, str(n.attempts),
                          n.title, n.last_error or "")
    ui.out.print(table)


@notify_app.command("test")
def notify_test(channel: Annotated[str, typer.Argument(help="A channel named in [notifications.channels].")]) -> None:
    """Send a test message to one channel now (not through the outbox); exit 5 if it fails."""
    from accessward import cli
    from accessward.notify.channels import Outgoing, SendError, sender_for

    cfg = cli.settings()
    found = cfg.notifications.channels.get(channel)
    if found is None:
        ui.err.print(f"[red]error[/]: no channel {channel!r} in [notifications.channels]")
        raise typer.Exit(exitcodes.CONFIG)
    note = Outgoing(0, f"test:{channel}", "test", "Accessward test message",
                    "This channel is set up: Accessward will tell you here when something needs a person.",
                    cfg.notifications.base_url, {"channel": channel}, ())
    try:
        cli.guarded(lambda: sender_for(found).send(note))
    except SendError as exc:
        ui.err.print(f"[red]error[/]: {exc}", highlight=False)
        raise typer.Exit(exitcodes.ACTION_FAILED) from None
    ui.out.print(f"test message sent to {channel}")
