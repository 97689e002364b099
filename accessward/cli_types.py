"""What the CLI library checks for us: fixed sets of values, dates, and the metavars help shows.

A fixed set of values is a ``click.Choice``, so ``--log-level loud`` is a usage error naming the
choices (exit 2), never a traceback or a silently ignored value. Every date option goes through
``DATE``, which parses with the same function the reports use (``evidence.moment``), so a bad date
is refused before a command starts, with one message. Help shows metavars a person reads
(``--until DATE``, ``--format csv|json``, ``PLAN_ID``) instead of typer's ``<str>`` and ``{plan_id}``:
``MetavarGroup`` fills them in once, over the whole command tree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import typer
from typer.core import TyperArgument, TyperGroup

from accessward.reports.evidence import moment

DATE_HINT = "give a date (2026-12-31) or an ISO datetime (2026-12-31T17:00 or 2026-12-31T17:00+01:00)"
DATE_OPTIONS = {"until", "at", "as_of", "since", "from_", "due", "deadline"}

LogLevel = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["text", "json"]
ReportFormat = Literal["csv", "json", "xlsx", "html", "pdf"]
Severity = Literal["low", "medium", "high", "critical"]
FindingState = Literal["open", "accepted", "resolved", "revoked"]
ActionState = Literal["planned", "executing", "done", "already_gone", "failed", "cancelled"]
PersonState = Literal["active", "suspended", "terminated", "missing"]
TokenRole = Literal["hr", "service_desk", "auditor", "approver", "reviewer", "admin"]
DeviceStatus = Literal["lost", "stolen"]


def date_text(value: str) -> str:
    """An ISO date or datetime, checked by the reports' parser; the value stays the text given."""
    if value:
        try:
            moment(str(value), end_of_day=False)
        except ValueError:
            raise typer.BadParameter(f"{value!r} is not a date: {DATE_HINT}") from None
    return value


def _metavar(param: Any) -> str:
    if isinstance(param, TyperArgument):
        return (param.name or "value").upper()
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    desc = getattr(param, "type_descriptor", None)
    name = (param.name or "value").removesuffix("_")
    if desc is not None:
        if desc.is_choice and desc.choices:
            return "|".join(str(getattr(c, "value", c)) for c in desc.choices)
        if desc.parameter_info.parser is date_text:
            return "DATE"
        annotation = desc.annotation
        if isinstance(annotation, type) and issubclass(annotation, Path):
            return "FILE" if name in {"output", "out", "key", "pack"} else "PATH"
        if annotation is int:
            return "N"
        if annotation is float:
            return "NUMBER"
    if name in DATE_OPTIONS:
        return "DATE"
    return {"fmt": "FORMAT", "by": "NOTE", "j": "TEXT"}.get(name, name.upper())


def _plain_argument(param: TyperArgument) -> None:
    """Usage says ``PLAN_ID`` (required) or ``[FINDING]``, not ``{PLAN_ID}``; the type column stays empty."""
    name = str(param.metavar)
    shown = name if param.required else f"[{name}]"
    param._usage_display_name = lambda: shown + ("..." if param.nargs != 1 else "")  # type: ignore[method-assign]
    param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]


def _quiet_help(command: Any) -> None:
    """``--help`` is a flag: no ``<bool>`` beside it."""
    original = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = original(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option


def fill_metavars(command: Any) -> None:
    for param in command.params:
        if param.metavar is None:
            param.metavar = _metavar(param)
        if isinstance(param, TyperArgument):
            _plain_argument(param)
    _quiet_help(command)
    for sub in getattr(command, "commands", {}).values():
        fill_metavars(sub)


class MetavarGroup(TyperGroup):
    """The root group: once every command is built, give each parameter a metavar people can read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fill_metavars(self)

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)
        for param in params:  # typer adds --install-completion and --show-completion after construction
            if param.metavar is None:
                param.metavar = _metavar(param)
        return params
